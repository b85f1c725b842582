"""Helpers of the tests that SIGKILL a controller mid-command and resume its step.

Every wait here is on a kernel event (a FIFO turning readable, a pidfd at exit), bounded by a
generous timeout that only a broken test reaches: nothing depends on a slow machine's timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path


async def read_line(fifo: Path, *, timeout: float = 30) -> str:
    """The first line written to ``fifo``, awaited on the event loop (never a stuck thread)."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    loop.add_reader(fd, readable.set)
    data = b""
    try:
        async with asyncio.timeout(timeout):
            while not data.endswith(b"\n"):
                await readable.wait()
                readable.clear()
                with contextlib.suppress(BlockingIOError):
                    data += os.read(fd, 4096)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return data.decode().strip()


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[1])


async def process_gone(pid: int) -> None:
    """Wait (on the kernel's pidfd event, not a timer) until ``pid`` has terminated."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    exited = asyncio.Event()
    loop.add_reader(fd, exited.set)
    try:
        await asyncio.wait_for(exited.wait(), timeout=30)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def controller(script: str, *args: str) -> subprocess.Popen[bytes]:
    """A controller process running ``script`` (Python) with ``args``, in its own session so
    that killing its group kills it and nothing of the test."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
