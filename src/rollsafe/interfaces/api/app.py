"""The FastAPI application: webhook intake, health, and the OpenAPI spec at ``/openapi.json``.

Role in the loop (interfaces): ``create_app`` builds the HTTP face of a controller from its
configuration and its store. It reads every intake secret at once (``ConfigError`` before
anything listens if one is missing). ``rollsafe run`` serves it next to the daemon, in the
same event loop (``interfaces/api/hosting``); tests use it directly with a TestClient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import fastapi

from rollsafe import __version__
from rollsafe.config import models
from rollsafe.domain import clocks
from rollsafe.execute import runs as executing
from rollsafe.interfaces.api import (
    auth,
    fetching,
    health_routes,
    intake_routes,
    limits,
    people,
)
from rollsafe.runtime import metrics as collecting
from rollsafe.storage import repositories

__all__ = ["create_app"]


def create_app(
    config: models.RollsafeConfig,
    *,
    store: repositories.Store,
    clock: clocks.Clock | None = None,
    on_stored: Callable[[], None] | None = None,
    health: Callable[[], Mapping[str, object]] | None = None,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    fetch: fetching.Fetcher | None = None,
    executor: executing.Executor | None = None,
    metrics: collecting.Metrics | None = None,
) -> fastapi.FastAPI:
    """The API of one controller.

    ``on_stored`` is called after each newly stored webhook body (the daemon passes its inbox
    processor's ``wake``); ``health`` reports the daemon's own health for ``/healthz``;
    ``base_dir`` is where ``token_file``/``secret_file`` paths are relative to (the config
    file's directory); ``environ`` replaces ``os.environ`` for ``*_env`` secrets; ``fetch`` GETs
    SNS certificates and subscription URLs (default: ``fetching.fetch``). ``executor`` and
    ``metrics`` are the controller's, for the people's routes (``people.install``: dashboard,
    ``/api/v1``, links, Slack buttons, ``/metrics``). Raises ConfigError when an intake secret
    or an API token is missing.
    """
    replays = auth.ReplayCache(store=store)  # durable: a restart does not forget
    gates = {
        endpoint.name: auth.Gate(
            endpoint, base_dir=base_dir or Path.cwd(), environ=environ, replays=replays
        )
        for endpoint in config.intake
    }
    service = intake_routes.IntakeService(
        config,
        store=store,
        clock=clock or clocks.SystemClock(),
        on_stored=on_stored or (lambda: None),
        gates=gates,
        fetch=fetch or fetching.fetch,
        max_body_bytes=config.server.max_body_bytes,
    )
    app = fastapi.FastAPI(
        title="rollsafe",
        version=__version__,
        description="Webhook intake and health of a rollsafe controller.",
        docs_url=None,  # no UI pulling scripts from a CDN; the spec is at /openapi.json
        redoc_url=None,
    )
    # Every body, on every route (also those added later), is bounded while it streams in:
    # FastAPI would otherwise read a JSON body whole before checking the caller's token.
    app.add_middleware(limits.BodyCeiling, limit=config.server.max_body_bytes)
    app.include_router(intake_routes.router(service))
    app.include_router(health_routes.router(store, health))
    people.install(
        app,
        config,
        store=store,
        clock=clock or clocks.SystemClock(),
        base_dir=base_dir or Path.cwd(),
        environ=environ,
        executor=executor,
        collected=metrics,
    )
    return app
