"""Operator commands run by cloud drivers on the controller (e.g. a rollout's ``upgrade``).

One command runs in its own process group with its output in files, not pipes, so a daemon it
leaves behind cannot hold the step open; on timeout the whole group is stopped (SIGTERM, then
SIGKILL), on cancellation it is killed and reaped. Failures are ``DriverError`` with the last
lines of stderr and never the environment (it may hold secrets).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from rollsafe.domain import errors

TERM_GRACE = 2.0
"""Seconds a timed-out command's group gets between SIGTERM and SIGKILL."""

_TAIL_LINES = 20
_TAIL_BYTES = 64 * 1024


async def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    stdout_path: Path,
    stderr_path: Path,
    limit_s: float,
    what: str,
) -> str:
    """Run ``argv`` to completion; returns the last lines of its stdout."""
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=dict(env),
                start_new_session=True,  # its own process group, stopped whole
            )
        except OSError as exc:
            raise errors.DriverError(
                f"the {what} command {argv[0]!r} could not start: {exc.strerror or exc}"
            ) from exc
    try:
        async with asyncio.timeout(limit_s):
            returncode = await proc.wait()
    except TimeoutError:
        kill_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TERM_GRACE):
                await proc.wait()
        kill_group(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise errors.DriverError(
            f"the {what} command {argv[0]!r} timed out after {limit_s:g}s; "
            "its process group was killed"
        ) from None
    except asyncio.CancelledError:
        kill_group(proc.pid, signal.SIGKILL)
        # Reap it: a cancelled step must leave neither a zombie nor an open transport.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(5):
                await asyncio.shield(proc.wait())
        raise
    if returncode != 0:
        stderr = tail(stderr_path)
        raise errors.DriverError(
            f"the {what} command {argv[0]!r} failed with exit code {returncode}: "
            f"{stderr or 'no stderr'}"
        )
    return tail(stdout_path)


def tail(path: Path) -> str:
    """The last lines of a (possibly large) output file."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - _TAIL_BYTES))
        text = f.read().decode(errors="replace")
    return "\n".join(text.strip().splitlines()[-_TAIL_LINES:])


def kill_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a whole process group; one that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
