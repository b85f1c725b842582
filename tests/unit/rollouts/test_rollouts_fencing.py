"""A deposed leader's rollout stops at once: its next write is refused, no upgrade starts.

Real store (SQLite and PostgreSQL, the ``store_url`` fixture), real executor and rollout
driver, the fake fleet. The old leader (token 1) stores the canary ``upgrading`` and, before
it calls the driver, another replica takes the lease (token 2). Its next write (the
upgrade-started mark) is refused, the driver's upgrade is never called, and its serve loop
halts by itself; the new leader then upgrades the canary exactly once and ends the rollout.
"""

from __future__ import annotations

import asyncio

import pytest
from rollouts_helpers import Controller

from rollsafe.domain import errors, rollouts
from rollsafe.execute import upgrading
from rollsafe.storage import fencing, repositories

LEADER = repositories.LEADER_LEASE


async def _serve(controller: Controller, *, fence: int, halt: asyncio.Event | None = None):
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(controller.executor.serve(stop, fence=fence, halt=halt)),
        asyncio.create_task(controller.rollouts.serve(stop, fence=fence, halt=halt)),
    ]
    return stop, tasks


@pytest.fixture
def controller(tmp_path, store_url):
    built = Controller(tmp_path, hosts=2, url=store_url)
    yield built
    built.store.close()


async def test_a_deposed_leader_writes_no_rollout_row_and_starts_no_upgrade(controller):
    deposed = asyncio.Event()
    store = controller.store
    now = controller.clock.now()
    assert store.acquire_lease(LEADER, holder="old", ttl=10, now=now) == 1

    def take_over(boundary: str) -> None:
        if boundary == "before:rollout.upgrade:web-1":  # stored upgrading; driver not called
            assert store.acquire_lease(LEADER, holder="new", ttl=10, now=now + 60) == 2
            deposed.set()

    controller.restart(fault=take_over)
    rollout = controller.open()
    stop, tasks = await _serve(controller, fence=1)
    async with asyncio.timeout(20):
        await deposed.wait()
        await tasks[1]  # the refused write halts the rollout loop by itself
    stop.set()
    await asyncio.gather(*tasks)

    assert controller.driver.upgrades() == []  # the deposed leader called no upgrade
    rows = controller.targets(rollout.id)
    assert rows["web-1"].state is rollouts.TargetState.UPGRADING  # as the old leader left it
    marks = store.list_observations(source=upgrading.STARTED)
    assert marks == []  # the refused write wrote nothing
    assert "upgrade.finished" not in controller.actions()

    # A direct rollout write with the old token is refused too, and changes nothing.
    before = controller.get(rollout.id)
    bound = fencing.bind(1)
    try:
        with pytest.raises(errors.FencedOut):
            store.save_rollout(before.moved(rollouts.RolloutState.HALTED, at=now, reason="x"))
    finally:
        fencing.unbind(bound)
    assert controller.get(rollout.id).state is before.state

    # The new leader resumes the rollout: the canary is upgraded once, the rollout completes.
    controller.restart()
    stop, tasks = await _serve(controller, fence=2)
    async with asyncio.timeout(20):
        while controller.get(rollout.id).open:
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*tasks)
    assert controller.get(rollout.id).state is rollouts.RolloutState.COMPLETED
    assert sorted(controller.driver.upgrades()) == ["web-1", "web-2"]
    assert controller.audit_ok()


async def test_a_lost_lease_cancels_an_upgrade_under_way_without_grace(tmp_path):
    controller = Controller(tmp_path, hosts=1)
    started = asyncio.Event()
    never = asyncio.Event()
    upgrade = controller.driver.upgrade

    async def slow_upgrade(target, *, key):
        started.set()
        await never.wait()  # an upgrade that takes longer than the test
        return await upgrade(target, key=key)

    controller.driver.upgrade = slow_upgrade  # type: ignore[method-assign]
    rollout = controller.open()
    halt = asyncio.Event()
    stop, tasks = await _serve(controller, fence=None, halt=halt)  # shutdown grace: 30 s
    async with asyncio.timeout(20):
        await started.wait()
    halt.set()  # the lease is lost
    async with asyncio.timeout(5):  # far below the 30 s grace a stop would give
        await asyncio.gather(*tasks)
    stop.set()
    assert controller.driver.upgrades() == []
    assert controller.targets(rollout.id)["web-1"].state is rollouts.TargetState.UPGRADING
