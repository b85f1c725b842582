"""The step journal: what a driver did for each step key, on disk, one worker per key at a time.

Role in the loop (execute): a step is idempotent by its key. A driver records a step's progress
and its end here (``write``: atomic, fsynced, so a reader sees nothing or the whole record,
also after a power loss), and a step called again with the same key reads it back first and
does not act twice. ``lease`` holds an exclusive ``flock`` on the key across tasks, threads
and processes; a second worker gets ``DriverTemporaryError`` (the executor retries later).

An SDK call in flight when its step is cancelled cannot be stopped (the worker thread runs on):
calls made through ``Lease.call`` keep the lease until they return, so a retry of the step can
never race with a call of the attempt it replaces.

Files, under the driver's own directory: ``<slug><suffix>`` the record (``.done`` or ``.json``),
``<slug>.lock`` the lock; ``slug`` is the key made file-name safe plus a hash (no collisions).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from rollsafe.domain import errors

__all__ = ["Lease", "StepJournal", "slug"]

_T = TypeVar("_T")
_READABLE = 64  # characters of the key kept readable in file names


def slug(key: str) -> str:
    """The file-name-safe, collision-free form of a step key."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:_READABLE]
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class StepJournal:
    """Per-key records of one driver's steps under ``root``."""

    def __init__(self, root: Path, *, suffix: str = ".json") -> None:
        self.root = root
        self._suffix = suffix

    def path(self, key: str) -> Path:
        return self.root / f"{slug(key)}{self._suffix}"

    def read(self, key: str, *, step: str | None = None) -> dict[str, Any] | None:
        """The record of ``key``, or None; DriverError when it was written for another step."""
        path = self.path(key)
        try:
            record: dict[str, Any] = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise errors.DriverError(f"the step journal {path} cannot be read: {exc}") from exc
        if record.get("key", key) != key:
            raise errors.DriverError(f"journal file {path} does not belong to step key {key!r}")
        if step is not None and record.get("step", step) != step:
            raise errors.DriverError(
                f"step key {key!r} was already used for step {record.get('step')!r}, not {step!r}"
            )
        return record

    def write(self, key: str, record: Mapping[str, Any]) -> None:
        """Replace the record of ``key`` atomically (``key`` is added to it)."""
        path = self.path(key)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as f:
                f.write(json.dumps({**record, "key": key}, sort_keys=True).encode())
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(path)
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)  # the rename itself survives a power loss
            finally:
                os.close(fd)
        except OSError as exc:
            raise errors.DriverError(f"the step journal {path} cannot be written: {exc}") from exc

    def clear(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise errors.DriverError(f"the step journal cannot be updated: {exc}") from exc

    async def once(
        self,
        key: str,
        act: Callable[[], Awaitable[str]],
        *,
        step: str,
        record: Mapping[str, Any] | None = None,
        retry_after: float = 5.0,
    ) -> str:
        """``act()`` once per key: under the key's lease, unless the key is journaled done.

        Returns ``act``'s output, or the output journaled by the call that did it. ``record``
        adds fields (target, point ...) to what is journaled.
        """
        with self.lease(key, retry_after=retry_after):
            done = self.read(key, step=step)
            if done is not None and done.get("phase", "done") == "done":
                return str(done.get("output", ""))
            output = await act()
            self.write(
                key,
                {
                    **(record or {}),
                    "step": step,
                    "phase": "done",
                    "output": output,
                    "finished_at": time.time(),
                },
            )
            return output

    def lease(self, key: str, *, retry_after: float = 5.0) -> Lease:
        """The key's lease (use it in ``with``), or DriverTemporaryError while another holds it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / f"{slug(key)}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise errors.DriverError(f"the step journal {self.root} cannot be used: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise errors.DriverTemporaryError(
                f"step key {key!r} is being run right now by another worker "
                "(or a call of an abandoned attempt has not returned yet)",
                retry_after=retry_after,
            ) from exc
        return Lease(fd)


class Lease:
    """Exclusive use of one step key (a held ``flock``) until released and no call is in flight."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._mutex = threading.Lock()
        self._in_flight = 0
        self._releasing = False
        self._closed = False

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    async def call(self, fn: Callable[[], _T]) -> _T:
        """``fn()`` in a worker thread; a cancelled call keeps the lease until it returns."""
        claimed = {"taken": False}

        def run() -> _T:
            with self._mutex:
                if claimed["taken"]:
                    raise asyncio.CancelledError  # abandoned before it started: do nothing
                claimed["taken"] = True
            try:
                return fn()
            finally:
                self._done_one()

        with self._mutex:
            self._in_flight += 1
        try:
            return await asyncio.to_thread(run)
        except asyncio.CancelledError:
            with self._mutex:
                never_ran = not claimed["taken"]
                claimed["taken"] = True
            if never_ran:
                self._done_one()
            raise

    def release(self) -> None:
        with self._mutex:
            self._releasing = True
            if self._in_flight == 0:
                self._close()

    def _done_one(self) -> None:
        with self._mutex:
            self._in_flight -= 1
            if self._releasing and self._in_flight == 0:
                self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)  # closing the descriptor releases the flock
