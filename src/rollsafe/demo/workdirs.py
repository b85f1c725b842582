"""The demo's work directory: where the daemon's log goes, and how the demo tidies up after
(the work directory, and the in-process daemon)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

DAEMON_LOG = "daemon.log"
"""File in the work directory that receives the in-process daemon's log lines."""

DAEMON_STOP_S = 10.0
"""How long the in-process daemon gets to stop before it is cancelled."""


def remove(workdir: Path, *, whole: bool) -> None:
    """Delete what the demo made: the whole directory if it created it, else its contents."""
    if whole:
        shutil.rmtree(workdir, ignore_errors=True)
        return
    for child in workdir.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


@contextlib.contextmanager
def daemon_log(path: Path) -> Iterator[None]:
    """The daemon's log lines go to a file in the work directory, not over the timeline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("rollsafe")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # nothing over the timeline, even with a root handler set up
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        handler.close()


async def stop_daemon(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    """Ask the in-process daemon to stop; cancel it if it has not within ``DAEMON_STOP_S``."""
    stop.set()
    if task.done():
        return
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=DAEMON_STOP_S)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    except Exception:  # noqa: BLE001, S110 - its failure is reported from the result; stop anyway
        pass


def task_error(task: asyncio.Task[None]) -> str:
    """Why the daemon's task is not running, in words."""
    if not task.done():
        return "still running"
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return f"{type(exc).__name__}: {exc}" if exc is not None else "exited"
