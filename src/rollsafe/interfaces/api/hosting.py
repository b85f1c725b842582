"""A controller with its API: the daemon, and, once it holds the lock, the HTTP server.

Role in the loop (interfaces): what ``rollsafe run`` runs. The API is built before anything
starts (a missing intake secret is a ConfigError and nothing runs), served only after the
daemon holds the controller lock (a second controller never takes the port), and stopped with
the daemon. If the API cannot listen (the port is taken, the TLS files are unusable) or stops,
the controller stops and ``ApiFailed`` is raised, so ``rollsafe run`` exits non-zero saying why:
without its API it would be deaf to the alerts it was told to act on, and the people's manual
channel (dashboard, ``/api/v1`` rollbacks, upgrade marks) and ``/healthz`` would be gone, with
a process that looks alive. ``server.enabled: false`` is how to run without an API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from rollsafe.domain import errors
from rollsafe.interfaces.api import app as api_app
from rollsafe.interfaces.api import serving
from rollsafe.runtime import daemon

__all__ = ["ApiFailed", "run_controller"]

log = logging.getLogger("rollsafe.api")


class ApiFailed(errors.RollsafeError):
    """The API could not serve (or stopped); the controller stopped with it."""


async def run_controller(
    controller: daemon.Daemon,
    stop: asyncio.Event,
    *,
    listening: Callable[[str, int], None] | None = None,
) -> None:
    """Run ``controller`` (and its API when ``server.enabled``) until ``stop`` is set.

    Raises ``daemon.ControllerBusy`` like ``Daemon.run``, ConfigError before starting when an
    intake secret is missing, and ApiFailed (after the daemon stopped) as described above.
    """
    config = controller.config
    app = None
    if config.server.enabled:
        app = api_app.create_app(
            config,
            store=controller.store,
            clock=controller.clock,
            on_stored=controller.inbox.wake,
            health=controller.health,
            base_dir=controller.loaded.path.parent,
            executor=controller.executor,
            metrics=controller.metrics,
        )
    runner = asyncio.create_task(controller.run(stop), name="daemon")
    if app is None:
        await runner
        return
    ready = asyncio.create_task(controller.ready.wait(), name="daemon-ready")
    await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        await runner  # ended before it was ready: ControllerBusy or a start-up error
        return
    failure: list[str] = []

    def ended(task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        failure.append(str(task.exception()))
        log.error("the API stopped: %s", task.exception())
        stop.set()  # deaf to alerts and people alike: stop rather than pretend

    api = asyncio.create_task(
        serving.serve(
            app,
            config.server,
            stop,
            base_dir=controller.loaded.path.parent,
            listening=listening,
        ),
        name="api",
    )
    api.add_done_callback(ended)
    try:
        await runner
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await api
    if failure:
        raise ApiFailed(f"the API could not serve: {failure[0]}")
