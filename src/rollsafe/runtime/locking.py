"""The controller lock: at most one process drives rollback runs for a state directory.

Role in the loop (runtime): the daemon holds ``<state_dir>/controller.lock`` for its whole
life; a ``rollsafe rollback`` that finds the lock free takes it and drives its run itself,
and one that finds it held only opens the run for the holder to drive. Never both.

It is an ``fcntl.flock`` on an open file: the kernel releases it when the holder dies, even
by SIGKILL, so a crashed controller never leaves a stale lock behind. The holder writes
``<pid> <role>`` into the file so others can say who holds it ("daemon" or "cli").

Replicas (daemons electing a leader through the store's lease, ``runtime.leadership``) take
the lock *shared*: any number of them may run on one state directory, since the lease, not
the lock, says which one acts; a ``rollsafe rollback`` still finds the lock held and leaves
its run to the leader, and a lone controller (exclusive) cannot start next to them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from rollsafe.domain import errors

__all__ = ["LOCK_FILE", "ControllerLock", "Holder", "LockHeld"]

LOCK_FILE = "controller.lock"


class LockHeld(errors.RollsafeError):
    """Another process holds the controller lock."""


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    role: str


class ControllerLock:
    """``flock`` on ``<state_dir>/controller.lock``; reentrant use is a programming error."""

    def __init__(self, state_dir: Path, *, role: str = "daemon", shared: bool = False) -> None:
        self.path = Path(state_dir) / LOCK_FILE
        self.role = role
        self.shared = shared
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False when another process (or object) holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if self.shared:
            # Fellow holders may have written their line: replace it whole, never truncate.
            os.pwrite(fd, f"{os.getpid():>10} {self.role}\n".encode(), 0)
        else:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {self.role}\n".encode(), 0)
        return True

    def release(self) -> None:
        """Give the lock back (closing the file releases the flock)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if not self.shared:  # a shared holder's fellows may still hold it
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
        os.close(fd)

    def holder(self) -> Holder | None:
        """Who says they hold the lock: meaningful right after ``try_acquire`` returned False.

        Read from the file without locking (so asking never stops a daemon from starting); a
        holder killed by SIGKILL leaves its line behind, which the next holder overwrites.
        """
        if self._fd is not None:
            return Holder(os.getpid(), self.role)
        try:
            text = self.path.read_text().split()
        except OSError:
            return None
        if len(text) != 2 or not text[0].isdigit():
            return None
        return Holder(int(text[0]), text[1])

    def __enter__(self) -> ControllerLock:
        if not self.try_acquire():
            holder = self.holder()
            who = f" (pid {holder.pid}, {holder.role})" if holder else ""
            raise LockHeld(f"another rollsafe controller holds {self.path}{who}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
