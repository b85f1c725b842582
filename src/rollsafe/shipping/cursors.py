"""Cursors: how far each sink has shipped, persisted in the store.

Role in the loop (audit, outward): a sink's cursor is the last audit ``seq`` it acknowledged.
It moves only after the platform said yes, so a crash, a restart or an outage resumes exactly
after it: nothing acknowledged is sent twice by design, nothing unacknowledged is skipped.
Store calls run in a worker thread; the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio

from rollsafe.storage import repositories

__all__ = ["Cursor"]


class Cursor:
    """One sink's position in the audit log. ``load`` once, then ``advance``."""

    def __init__(self, store: repositories.Store, name: str) -> None:
        self.name = name
        self.seq = 0
        self._store = store
        self._moved = asyncio.Condition()

    async def load(self) -> int:
        """Read the stored position (0 when this sink never shipped anything)."""
        self.seq = await asyncio.to_thread(self._store.get_cursor, self.name)
        await self._announce()
        return self.seq

    async def advance(self, seq: int) -> None:
        """Persist that everything up to ``seq`` was acknowledged."""
        if seq <= self.seq:
            return
        await asyncio.to_thread(self._store.set_cursor, self.name, seq)
        self.seq = seq
        await self._announce()

    async def reached(self, seq: int) -> None:
        """Wait until everything up to ``seq`` was acknowledged (for tests and shutdown)."""
        async with self._moved:
            await self._moved.wait_for(lambda: self.seq >= seq)

    async def _announce(self) -> None:
        async with self._moved:
            self._moved.notify_all()
