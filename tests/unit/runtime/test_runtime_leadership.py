"""``Leadership``: replicas elect one leader through the store's lease, and hand over.

Real SQLite store shared by several ``Leadership`` objects (the lease logic is plain SQL, the
same on PostgreSQL). Short ttl and renew keep the tests fast; they wait on the events, never
on time.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from rollsafe.domain import clocks, errors
from rollsafe.runtime import leadership
from rollsafe.storage import repositories, sql

TTL = 0.6
RENEW = 0.1


@pytest.fixture
def store(tmp_path):
    s = sql.open_store(tmp_path / "state")
    yield s
    s.close()


def replica(store: sql.SqlStore, name: str) -> leadership.Leadership:
    return leadership.Leadership(
        store, ttl=TTL, renew=RENEW, clock=clocks.SystemClock(), holder=name
    )


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_one_leads_the_other_follows_then_takes_over_on_release(store):
    a, b = replica(store, "a"), replica(store, "b")
    running_a = asyncio.create_task(a.run())
    await asyncio.wait_for(a.elected.wait(), 10)
    running_b = asyncio.create_task(b.run())
    await asyncio.wait_for(b.lost.wait(), 10)
    assert (a.is_leader, a.token, b.is_leader) == (True, 1, False)
    assert b.status() == {
        "role": "follower",
        "me": "b",
        "token": None,
        "holder": "a",
        "lease_token": 1,
        "expires_at": b.seen.expires_at,
    }
    await stopped(running_a)  # gives the lease back: b need not wait for the ttl
    await asyncio.wait_for(b.elected.wait(), 10)
    assert b.token == 2
    assert b.status()["role"] == "leader"
    await stopped(running_b)


async def test_a_leader_whose_lease_was_taken_steps_down(store):
    a = replica(store, "a")
    running = asyncio.create_task(a.run())
    await asyncio.wait_for(a.elected.wait(), 10)
    # Another replica saw the lease expired (a's clock and the store disagreed, a paused ...).
    store.acquire_lease(repositories.LEADER_LEASE, holder="b", ttl=60, now=9e12)
    await asyncio.wait_for(a.lost.wait(), 10)
    assert not a.is_leader
    assert a.token is None
    await stopped(running)


async def test_a_leader_that_cannot_reach_the_store_steps_down_within_the_ttl(store):
    a = replica(store, "a")
    running = asyncio.create_task(a.run())
    await asyncio.wait_for(a.elected.wait(), 10)
    store.close()  # every renewal now fails ... (the engine reconnects: break it for real)
    broken = sql.SqlStore("sqlite:////nonexistent-dir/never.db")
    a.store = broken
    await asyncio.wait_for(a.lost.wait(), 10)
    assert not a.is_leader
    await stopped(running)
    broken.close()


def test_renew_must_be_shorter_than_the_ttl(store):
    with pytest.raises(errors.ConfigError):
        leadership.Leadership(store, ttl=3, renew=3, clock=clocks.SystemClock())
