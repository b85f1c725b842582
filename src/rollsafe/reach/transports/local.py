"""The local transport: the host is the controller's own machine.

Role in the loop (reach): runs a recipe's shell text with ``sh -c`` in its own process
group, so a timed-out command is stopped whole (SIGTERM, then SIGKILL) and none of its
children outlive the step. Used for hosts the controller runs on and by tests and drills.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach.transports import outputs, transporting

_TERM_GRACE = 2.0  # seconds a timed-out command's group gets between SIGTERM and SIGKILL


class LocalTransport:
    kind = "local"

    def __init__(
        self, *, output_limit: int = 16384, base_env: Mapping[str, str] | None = None
    ) -> None:
        self._limit = output_limit
        self._base_env = dict(os.environ if base_env is None else base_env)

    async def run(
        self,
        target: models.Target,
        script: str,
        *,
        limit_s: float,
        env: Mapping[str, str] | None = None,
    ) -> transporting.CommandResult:
        extra = dict(env or {})
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                "sh",
                "-c",
                script,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**self._base_env, **extra},
                start_new_session=True,
            )
        except OSError as exc:
            raise errors.DriverError(f"{target.id}: could not start sh: {exc}") from exc
        try:
            async with asyncio.timeout(limit_s):
                out, err = await proc.communicate()
        except TimeoutError:
            _kill_group(proc.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_TERM_GRACE):
                    await proc.wait()
            _kill_group(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise errors.DriverError(
                f"{target.id}: command timed out after {limit_s:g}s; its process group was killed"
            ) from None
        except asyncio.CancelledError:
            _kill_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(5):
                    await asyncio.shield(proc.wait())
            raise
        secrets = list(extra.values())
        stdout, cut_out = outputs.keep(out, limit=self._limit, secrets=secrets)
        stderr, cut_err = outputs.keep(err, limit=self._limit, secrets=secrets)
        return transporting.CommandResult(
            exit_status=proc.returncode if proc.returncode is not None else -1,
            stdout=stdout,
            stderr=stderr,
            duration=time.monotonic() - started,
            truncated=cut_out or cut_err,
        )

    async def close(self) -> None:
        return None


_IMPLEMENTS: transporting.Transport = LocalTransport()


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a whole process group; one that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
