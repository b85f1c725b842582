"""Shippers over a real SQLite store: cursor semantics, failures, isolation between sinks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollsafe.domain import audit_events
from rollsafe.shipping import shipping, sinks
from rollsafe.storage import sql

WAIT = 20.0  # generous upper bound for "eventually"; never a speed assertion


class FakeSink:
    """Records every batch; each call takes the next scripted outcome (then succeeds).

    An outcome is None (deliver), an exception instance (raise it), or "hang" (wait until
    ``unhang`` is set, as a platform that accepted the connection and never answers).
    """

    def __init__(self, name: str, *script: object) -> None:
        self.name = name
        self.script = list(script)
        self.batches: list[list[int]] = []
        self.delivered: list[int] = []
        self.chains: set[str] = set()
        self.unhang = asyncio.Event()
        self.closed = 0
        self.broken = False  # every call raises SinkUnavailable while True

    async def send(self, records: list[sinks.Record]) -> None:
        self.batches.append([r.seq for r in records])
        self.chains.update(r.chain for r in records)
        if self.broken:
            raise sinks.SinkUnavailable("down")
        outcome = self.script.pop(0) if self.script else None
        if outcome == "hang":
            await self.unhang.wait()
            outcome = None
        if isinstance(outcome, sinks.SinkUnavailable | sinks.SinkRefused):
            self.delivered.extend(r.seq for r in records[: outcome.acked])
            raise outcome
        if isinstance(outcome, BaseException):
            raise outcome
        self.delivered.extend(r.seq for r in records)

    async def close(self) -> None:
        self.closed += 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sql.SqlStore]:
    opened = sql.open_store(tmp_path / "state")
    yield opened
    opened.close()


def _append(store: sql.SqlStore, count: int) -> int:
    """Append ``count`` events; returns the last seq."""
    last = 0
    for n in range(count):
        event = store.append_audit(
            audit_events.AuditEntry(
                time=1_700_000_000.0 + n,
                actor="test",
                action="run.opened",
                target="web-1",
                reason=f"event {n}",
            )
        )
        last = event.seq
    return last


def _shipping(store: sql.SqlStore, *fakes: FakeSink, batch_size: int = 3, **kw: float):
    options = {"timeout": 5.0, "max_backoff": 0.05} | kw
    return shipping.AuditShipping(
        [
            shipping.Shipper(
                fake,
                store,
                batch_size=batch_size,
                timeout=options["timeout"],
                max_backoff=options["max_backoff"],
                first_backoff=0.01,
                poll_interval=options.get("poll_interval", 0.02),
            )
            for fake in fakes
        ]
    )


@contextlib.asynccontextmanager
async def _running(shipper_group: shipping.AuditShipping):
    task = asyncio.create_task(shipper_group.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _reached(group: shipping.AuditShipping, name: str, seq: int) -> None:
    async with asyncio.timeout(WAIT):
        await group.shipper(name).cursor.reached(seq)


async def test_ships_everything_in_order_in_batches_and_persists_the_cursor(store):
    last = _append(store, 7)
    fake = FakeSink("es")
    group = _shipping(store, fake, batch_size=3)
    async with _running(group):
        await _reached(group, "es", last)
    assert fake.batches == [[1, 2, 3], [4, 5, 6], [7]]
    assert store.get_cursor("es") == 7
    first = next(iter(store.list_audit_events()))
    assert fake.chains == {sinks.chain_id(first)}
    assert fake.closed == 1  # closed when the task ended


async def test_partial_acknowledgement_moves_the_cursor_over_what_was_taken_only(store):
    _append(store, 5)
    fake = FakeSink("es", sinks.SinkUnavailable("item 3 throttled", acked=2))
    group = _shipping(store, fake, batch_size=5)
    async with _running(group):
        await _reached(group, "es", 5)
    # The retry starts exactly at the first record that did not make it.
    assert fake.batches == [[1, 2, 3, 4, 5], [3, 4, 5]]
    assert fake.delivered == [1, 2, 3, 4, 5]


async def test_a_refusal_holds_the_sink_at_the_event_and_never_skips_it(store):
    _append(store, 2)
    refusal = sinks.SinkRefused("mapping conflict on event 1")
    fake = FakeSink("es", refusal, refusal, refusal)
    group = _shipping(store, fake)
    async with _running(group):
        await _reached(group, "es", 2)
    assert fake.batches == [[1, 2]] * 4
    assert group.shipper("es").failures == 0
    assert group.shipper("es").last_error is None


async def test_a_down_sink_waits_at_its_cursor_while_another_ships_then_catches_up(store):
    _append(store, 4)
    down, healthy = FakeSink("down"), FakeSink("loki")
    down.broken = True
    group = _shipping(store, down, healthy, batch_size=10)
    async with _running(group):
        await _reached(group, "loki", 4)
        assert store.get_cursor("down") == 0
        # Wait for a retry, so the next checks see a sink that keeps failing, not a fresh one.
        async with asyncio.timeout(WAIT):
            while group.shipper("down").failures < 2:
                await asyncio.sleep(0.01)
        assert group.shipper("down").last_error == "unavailable: down"
        last = _append(store, 2)
        await _reached(group, "loki", last)
        assert store.get_cursor("down") == 0
        down.broken = False
        await _reached(group, "down", last)
    # Every attempt of the down sink started at its cursor; recovery shipped it all at once.
    assert {batch[0] for batch in down.batches} == {1}
    assert down.delivered == [1, 2, 3, 4, 5, 6]
    assert healthy.delivered == [1, 2, 3, 4, 5, 6]


async def test_a_hanging_sink_times_out_and_never_delays_the_others(store):
    _append(store, 3)
    hanging, healthy = FakeSink("es", "hang"), FakeSink("loki")
    group = _shipping(store, hanging, healthy, timeout=0.2)
    async with _running(group):
        await _reached(group, "loki", 3)
        await _reached(group, "es", 3)  # the hung send was abandoned and retried
    assert hanging.batches == [[1, 2, 3], [1, 2, 3]]
    assert hanging.delivered == [1, 2, 3]


async def test_a_restart_resumes_exactly_after_the_cursor(store):
    _append(store, 5)
    before = FakeSink("es")
    group = _shipping(store, before, batch_size=10)
    async with _running(group):
        await _reached(group, "es", 5)
    last = _append(store, 3)
    after = FakeSink("es")
    restarted = _shipping(store, after, batch_size=10)
    async with _running(restarted):
        await _reached(restarted, "es", last)
    assert before.delivered == [1, 2, 3, 4, 5]
    assert after.batches == [[6, 7, 8]]


async def test_a_bug_in_a_sink_is_logged_and_retried_not_fatal(store, caplog):
    _append(store, 1)
    fake = FakeSink("es", RuntimeError("bug in the sink"))
    group = _shipping(store, fake)
    async with _running(group):
        await _reached(group, "es", 1)
    assert fake.batches == [[1], [1]]
    assert "the sink failed unexpectedly" in caplog.text


async def test_nothing_is_sent_before_anything_is_audited_and_wake_cuts_the_wait(store):
    fake = FakeSink("es")
    group = _shipping(store, fake, poll_interval=3600.0)
    async with _running(group):
        await asyncio.sleep(0)  # let the shipper start and find an empty log
        last = _append(store, 2)
        # The poll interval is an hour: only the wake-up can make this ship.
        async with asyncio.timeout(WAIT):
            while group.shipper("es").cursor.seq < last:
                group.wake()
                await asyncio.sleep(0.01)
    assert fake.delivered == [1, 2]


async def test_secrets_in_error_messages_are_masked_in_the_status(store):
    _append(store, 1)
    leak = sinks.SinkUnavailable("http://elastic:hunter2@127.0.0.1:1/_bulk unreachable")
    fake = FakeSink("es", leak, leak)
    group = _shipping(store, fake, max_backoff=30.0)
    async with _running(group):
        async with asyncio.timeout(WAIT):
            while group.shipper("es").failures < 1:
                await asyncio.sleep(0.01)
        assert "hunter2" not in (group.shipper("es").last_error or "")


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after():
    delays = [shipping.backoff(n, first=1.0, cap=10.0) for n in range(1, 7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert shipping.backoff(1, first=1.0, cap=10.0, retry_after=5.0) == 5.0
    assert shipping.backoff(1, first=1.0, cap=10.0, retry_after=60.0) == 10.0
    assert shipping.backoff(10_000, first=1.0, cap=300.0) == 300.0


async def test_no_sinks_means_run_returns_at_once(store):
    group = shipping.AuditShipping([])
    assert not group
    await group.run()
