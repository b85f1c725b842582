"""The controller lock: one holder at a time, released by the kernel when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from rollsafe.runtime import locking

HOLD = """
import sys
from pathlib import Path
from rollsafe.runtime import locking
lock = locking.ControllerLock(Path(sys.argv[1]), role=sys.argv[2])
assert lock.try_acquire()
print("locked", flush=True)
sys.stdin.read()
"""


def test_one_holder_at_a_time(tmp_path):
    first = locking.ControllerLock(tmp_path / "state")
    second = locking.ControllerLock(tmp_path / "state", role="cli")

    assert first.try_acquire()
    assert first.try_acquire()  # already held by this object: still True
    assert not second.try_acquire()
    assert second.holder() == locking.Holder(os.getpid(), "daemon")
    with pytest.raises(locking.LockHeld, match=r"pid \d+, daemon"):
        second.__enter__()

    first.release()
    with second:
        assert second.held
        assert not first.try_acquire()
    assert not second.held
    assert first.try_acquire()
    first.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "cli"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        lock = locking.ControllerLock(tmp_path)
        assert not lock.try_acquire()
        assert lock.holder() == locking.Holder(holder.pid, "cli")

        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=10)

        assert lock.try_acquire()
        assert lock.holder() == locking.Holder(os.getpid(), "daemon")
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate(timeout=10)
