"""The executor writes with its leader's fencing token: a deposed leader stops mid-run.

Real SQLite store and the FakeDriver. The old leader (token 1) is deposed between two steps
(another replica takes the lease, token 2); its next write is refused, it calls the driver no
more, and the new leader finishes the run without repeating the step that was done.
"""

from __future__ import annotations

import asyncio

from runs_helpers import (
    AuditWatch,
    StubVerifier,
    checkpoint,
    make_config,
    make_executor,
    rollback_calls,
)

from rollsafe.domain import runs
from rollsafe.storage import repositories

LEADER = repositories.LEADER_LEASE


async def test_a_deposed_leader_stops_and_the_new_one_finishes_once(store, driver, clock):
    config = make_config("web-1")
    await checkpoint(config, store, driver, clock)
    now = clock.now()
    assert store.acquire_lease(LEADER, holder="old", ttl=10, now=now) == 1

    def deposed_after_first_step(boundary: str) -> None:
        if boundary == "after:step:0":  # the old leader froze; another replica took over
            assert store.acquire_lease(LEADER, holder="new", ttl=10, now=now + 60) == 2

    old = make_executor(config, store, driver, clock=clock, fault=deposed_after_first_step)
    run = old.request("web-1", trigger="manual", actor="cli:alice", reason="r")
    stop = asyncio.Event()
    serving = asyncio.create_task(old.serve(stop, fence=1))
    async with asyncio.timeout(10):
        while not store.list_steps(run.id) or store.list_steps(run.id)[0].state is not (
            runs.StepState.DONE
        ):
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(serving, 10)  # the fenced-out run did not crash the loop

    steps_before = len(rollback_calls(driver))
    assert [s.state for s in store.list_steps(run.id)] == [runs.StepState.DONE]
    stored = store.get_run(run.id)
    assert stored.state is runs.RunState.EXECUTING  # not failed, not quarantined
    assert not any(t.quarantined for t in store.list_targets())

    watch = AuditWatch()
    new = make_executor(config, store, driver, clock=clock, on_audit=watch, verifier=StubVerifier())
    stop = asyncio.Event()
    serving = asyncio.create_task(new.serve(stop, fence=2))
    await watch.seen("run.succeeded")
    stop.set()
    await asyncio.wait_for(serving, 10)
    calls = rollback_calls(driver)
    first = store.list_steps(run.id)[0].name
    assert [c.step for c in calls].count(first) == 1  # never repeated
    assert len(calls) == steps_before + len(store.list_steps(run.id)) - 1
    assert store.get_run(run.id).state is runs.RunState.SUCCEEDED
