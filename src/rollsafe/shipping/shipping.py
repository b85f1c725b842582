"""Shipping: one shipper per sink reads audit events after its cursor and sends them, forever.

Role in the loop (audit, outward): the daemon runs ``AuditShipping.run()`` as one guarded,
non-critical task. Inside it every sink has its own shipper, so a sink that is down, slow or
hanging only ever delays itself:

- read up to ``batch_size`` events after the cursor (in a worker thread), send them, and move
  the cursor over what the platform acknowledged, only then (at least once);
- on a failure wait with exponential backoff up to ``max_backoff`` (or the platform's
  ``Retry-After``), then resend from the cursor: nothing is dropped, nothing is skipped;
- a send that takes longer than ``timeout`` is abandoned and counts as a failure;
- nothing here ever raises into the daemon: errors are logged (without credentials) and
  retried.

The events were redacted when they were appended; shipping adds nothing secret to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from rollsafe.audit import redacting
from rollsafe.config import models
from rollsafe.domain import audit_events, errors
from rollsafe.shipping import cursors, elasticsearch, loki, sinks, sls, syslog
from rollsafe.storage import repositories

__all__ = ["FACTORIES", "AuditShipping", "Shipper", "backoff", "build"]

log = logging.getLogger("rollsafe.shipping")

POLL_INTERVAL = 1.0  # how often an idle shipper looks for new events
FIRST_BACKOFF = 1.0  # the first wait after a failure; doubles up to the sink's max_backoff

FACTORIES: dict[str, Callable[[Any], sinks.Sink]] = {
    "syslog": syslog.SyslogSink,
    "elasticsearch": elasticsearch.ElasticsearchSink,
    "loki": loki.LokiSink,
    "sls": sls.SlsSink,
}
"""``kind -> factory`` for the configured sinks."""


def build(config: models.AuditSink) -> sinks.Sink:
    """The sink for one configured entry (the union is discriminated on ``kind``)."""
    return FACTORIES[config.kind](config)


def backoff(failures: int, *, first: float, cap: float, retry_after: float | None = None) -> float:
    """The wait after the ``failures``-th failure in a row: doubling from ``first`` up to
    ``cap``; a platform's ``retry_after`` lengthens it (never beyond ``cap``)."""
    delay = min(cap, first * float(2 ** min(max(failures, 1) - 1, 30)))
    if retry_after is not None:
        delay = min(cap, max(delay, retry_after))
    return delay


class _Chain:
    """The chain id every record carries, read once from the oldest stored event."""

    def __init__(self, store: repositories.Store) -> None:
        self._store = store
        self._lock = asyncio.Lock()
        self.id: str | None = None

    async def get(self) -> str | None:
        if self.id is None:
            async with self._lock:
                if self.id is None:
                    first = await asyncio.to_thread(_first_event, self._store)
                    self.id = None if first is None else sinks.chain_id(first)
        return self.id


class Shipper:
    """Ships the audit log to one sink. ``await run()`` until cancelled."""

    def __init__(
        self,
        sink: sinks.Sink,
        store: repositories.Store,
        *,
        batch_size: int = 500,
        timeout: float = 10.0,
        max_backoff: float = 300.0,
        first_backoff: float = FIRST_BACKOFF,
        poll_interval: float = POLL_INTERVAL,
        chain: _Chain | None = None,
    ) -> None:
        self.sink = sink
        self.cursor = cursors.Cursor(store, sink.name)
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.first_backoff = first_backoff
        self.poll_interval = poll_interval
        self.shipped = 0
        self.failures = 0  # consecutive failed attempts; 0 while the sink is healthy
        self.last_error: str | None = None
        self._store = store
        self._chain = chain or _Chain(store)
        self._wake = asyncio.Event()
        self._loaded = False

    @property
    def name(self) -> str:
        return self.sink.name

    def wake(self) -> None:
        """New events were appended: look now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Ship forever; never raises (but for cancellation). Closes the sink when it ends."""
        try:
            while True:
                delay = await self._step()
                if delay is None:
                    continue
                await self._idle(delay)
        finally:
            with contextlib.suppress(Exception):
                await self.sink.close()

    async def _step(self) -> float | None:
        """One round: returns how long to wait before the next one (None: go on at once)."""
        try:
            if not self._loaded:
                await self.cursor.load()
                self._loaded = True
            chain = await self._chain.get()
            if chain is None:
                return self.poll_interval  # nothing was ever audited
            events = await asyncio.to_thread(self._read, self.cursor.seq)
        except errors.StoreError as exc:
            return self._failed(f"cannot read the audit log: {exc}", retry_after=None)
        except Exception as exc:  # the loop must survive anything, bugs included
            log.exception("audit shipping to %s: unexpected error", self.name)
            return self._failed(f"unexpected error: {exc!r}", retry_after=None)
        if not events:
            return self.poll_interval
        records = [sinks.Record(event=event, chain=chain) for event in events]
        return await self._ship(records)

    async def _ship(self, records: list[sinks.Record]) -> float | None:
        acked = 0
        problem: str | None = None
        retry_after: float | None = None
        try:
            async with asyncio.timeout(self.timeout):
                await self.sink.send(records)
            acked = len(records)
        except TimeoutError:
            problem = f"no answer within {self.timeout:g}s"
        except sinks.SinkUnavailable as exc:
            acked, problem, retry_after = exc.acked, f"unavailable: {exc}", exc.retry_after
        except sinks.SinkRefused as exc:
            acked, problem = exc.acked, f"refused: {exc}"
        except errors.RollsafeError as exc:
            problem = str(exc)
        except Exception as exc:  # a broken sink must not stop the others
            log.exception("audit shipping to %s: the sink failed unexpectedly", self.name)
            problem = f"unexpected error: {exc!r}"
        acked = max(0, min(acked, len(records)))
        if acked:
            try:
                await self.cursor.advance(records[acked - 1].seq)
            except errors.StoreError as exc:
                # Delivered but not recorded: the next round sends these again (at least once).
                return self._failed(f"cannot save the cursor: {exc}", retry_after=None)
            self.shipped += acked
        if problem is None:
            if self.failures:
                log.info(
                    "audit shipping to %s resumed after %d failed attempts",
                    self.name,
                    self.failures,
                )
            self.failures = 0
            self.last_error = None
            return None
        return self._failed(problem, retry_after=retry_after, at_seq=records[acked].seq)

    def _failed(
        self, problem: str, *, retry_after: float | None, at_seq: int | None = None
    ) -> float:
        self.failures += 1
        # Whatever a library put into its message (a URL with a password...) stays out.
        self.last_error = redacting.redact_text(problem)
        delay = backoff(
            self.failures,
            first=self.first_backoff,
            cap=self.max_backoff,
            retry_after=retry_after,
        )
        where = "" if at_seq is None else f" at event {at_seq}"
        log.warning(
            "audit shipping to %s failed%s (attempt %d, next in %.1fs): %s",
            self.name,
            where,
            self.failures,
            delay,
            self.last_error,
        )
        return delay

    async def _idle(self, delay: float) -> None:
        """Wait ``delay``; a wake-up cuts an idle wait short, never a backoff."""
        if self.failures:
            await asyncio.sleep(delay)
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    def _read(self, after: int) -> list[audit_events.AuditEvent]:
        events = self._store.list_audit_events(since_seq=after)
        try:
            return list(itertools.islice(events, self.batch_size))
        finally:
            close = getattr(events, "close", None)
            if callable(close):
                close()


class AuditShipping:
    """Every configured sink's shipper, run side by side. Empty when nothing is configured."""

    def __init__(self, shippers: Sequence[Shipper]) -> None:
        self.shippers = list(shippers)

    @classmethod
    def from_config(
        cls,
        configs: Sequence[models.AuditSink],
        store: repositories.Store,
        *,
        first_backoff: float = FIRST_BACKOFF,
        poll_interval: float = POLL_INTERVAL,
    ) -> AuditShipping:
        chain = _Chain(store)
        return cls(
            [
                Shipper(
                    build(config),
                    store,
                    batch_size=config.batch_size,
                    timeout=config.timeout,
                    max_backoff=config.max_backoff,
                    first_backoff=first_backoff,
                    poll_interval=poll_interval,
                    chain=chain,
                )
                for config in configs
            ]
        )

    def __bool__(self) -> bool:
        return bool(self.shippers)

    def shipper(self, name: str) -> Shipper:
        for shipper in self.shippers:
            if shipper.name == name:
                return shipper
        raise KeyError(name)

    def wake(self) -> None:
        """New events were appended: every idle shipper looks now."""
        for shipper in self.shippers:
            shipper.wake()

    async def run(self) -> None:
        """Run every shipper until cancelled; each one on its own, none waits for another."""
        if not self.shippers:
            return
        running = [
            asyncio.create_task(shipper.run(), name=f"ship-audit:{shipper.name}")
            for shipper in self.shippers
        ]
        try:
            await asyncio.gather(*running)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)


def _first_event(store: repositories.Store) -> audit_events.AuditEvent | None:
    events = store.list_audit_events(since_seq=0)
    try:
        return next(iter(events), None)
    finally:
        close = getattr(events, "close", None)
        if callable(close):
            close()
