"""Group commit for webhook bodies: many concurrent requests, one transaction, one fsync.

Role in the loop (detect, at the intake): a webhook is answered 202 only once its body is
committed, and a commit costs an fsync. Committing each body on its own serializes every
sender behind the disk; under a burst (Alertmanager re-sending a fleet's alerts) the queue,
not the work, makes the latency. Here one writer commits everything that arrived while the
previous commit was running, so a burst of N bodies costs a few commits, and every caller
still gets its own receipt only after its body is durable.

A failed batch fails every caller in it with the store's error (each answers 503 and the
sender retries); nothing is acknowledged that was not committed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from rollsafe.storage import repositories

MAX_BATCH = 256
"""Bodies per transaction at most, so one commit stays short."""


@dataclass(slots=True)
class _Waiting:
    entry: repositories.InboxEntry
    dedupe_since: float | None
    done: asyncio.Future[repositories.InboxReceipt] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class InboxWriter:
    """``await add(entry, dedupe_since=...)``: a receipt once the body is committed."""

    def __init__(self, store: repositories.Store) -> None:
        self._store = store
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(
        self, entry: repositories.InboxEntry, *, dedupe_since: float | None = None
    ) -> repositories.InboxReceipt:
        waiting = _Waiting(entry, dedupe_since)
        # A caller that hung up never reads its outcome; read it here so asyncio does not
        # report a failed batch as "exception never retrieved".
        waiting.done.add_done_callback(_retrieved)
        self._queue.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="inbox-group-commit")
        # Shielded: a sender that hangs up must not cancel the commit others wait on.
        return await asyncio.shield(waiting.done)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                receipts = await asyncio.to_thread(
                    self._store.add_inbox_many, [(w.entry, w.dedupe_since) for w in batch]
                )
            except Exception as exc:  # noqa: BLE001 - handed to every caller, who re-raises it
                for waiting in batch:
                    if not waiting.done.done():
                        waiting.done.set_exception(exc)
                continue
            for waiting, receipt in zip(batch, receipts, strict=True):
                if not waiting.done.done():
                    waiting.done.set_result(receipt)


def _retrieved(future: asyncio.Future[repositories.InboxReceipt]) -> None:
    if not future.cancelled():
        future.exception()
