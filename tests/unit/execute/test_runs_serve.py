"""``Executor.serve``: resumes open runs at start, picks up runs from other processes, stops."""

from __future__ import annotations

import asyncio

import pytest
from runs_helpers import (
    AuditWatch,
    Crash,
    StubVerifier,
    checkpoint,
    crash_at,
    make_config,
    make_executor,
)

from rollsafe.domain import runs


async def test_serve_resumes_open_runs_and_drives_new_ones(store, driver, clock):
    config = make_config("web-1", "web-2")
    for target in ("web-1", "web-2"):
        await checkpoint(config, store, driver, clock, target=target)
    # A controller died with web-1's run half done.
    dead = make_executor(config, store, driver, clock=clock, fault=crash_at("after:step:0"))
    interrupted = dead.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
    with pytest.raises(Crash):
        await dead.drive(interrupted.id)

    watch = AuditWatch()
    executor = make_executor(config, store, driver, clock=clock, on_audit=watch)
    stop = asyncio.Event()
    serving = asyncio.create_task(executor.serve(stop), name="serve")
    await watch.seen("run.succeeded")
    # Another process (the CLI) opens a run: found by polling the store.
    cli = make_executor(config, store, driver, clock=clock)
    other = cli.request("web-2", trigger="manual", actor="cli:alice", reason="now")
    await watch.seen("run.succeeded", count=2)
    stop.set()
    await asyncio.wait_for(serving, 10)

    assert store.get_run(interrupted.id).state is runs.RunState.SUCCEEDED
    assert store.get_run(other.id).state is runs.RunState.SUCCEEDED
    assert len(driver.effects_of("restore")) == 2


async def test_a_crashing_run_is_marked_failed_and_serving_goes_on(store, driver, clock):
    config = make_config("web-1", "web-2")
    for target in ("web-1", "web-2"):
        await checkpoint(config, store, driver, clock, target=target)
    verifier = StubVerifier()
    verifier.error = RuntimeError("probe bug")
    watch = AuditWatch()
    executor = make_executor(config, store, driver, clock=clock, verifier=verifier, on_audit=watch)
    stop = asyncio.Event()
    serving = asyncio.create_task(executor.serve(stop))

    broken = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
    await watch.seen("run.failed")
    verifier.error = None
    fine = executor.request("web-2", trigger="decision:down", actor="rollsafe", reason="d")
    await watch.seen("run.succeeded")
    stop.set()
    await asyncio.wait_for(serving, 10)

    assert store.get_run(broken.id).error == "internal error: RuntimeError: probe bug"
    assert store.get_run(fine.id).state is runs.RunState.SUCCEEDED


async def test_stop_leaves_an_acting_run_resumable_after_the_grace(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    hang = driver.hang("restart")
    executor = make_executor(config, store, driver, clock=clock, shutdown_grace=0.05)
    stop = asyncio.Event()
    serving = asyncio.create_task(executor.serve(stop))
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
    await hang.entered.wait()

    stop.set()
    await asyncio.wait_for(serving, 10)

    assert store.get_run(run.id).state is runs.RunState.EXECUTING
    hang.release()
    done = await make_executor(config, store, driver, clock=clock).drive(run.id)
    assert done.state is runs.RunState.SUCCEEDED
    assert len(driver.effects_of("restart")) == 1


async def test_stop_lets_an_acting_run_finish_within_the_grace(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    hang = driver.hang("restart")
    executor = make_executor(config, store, driver, clock=clock, shutdown_grace=30)
    stop = asyncio.Event()
    serving = asyncio.create_task(executor.serve(stop))
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
    await hang.entered.wait()

    stop.set()
    hang.release()
    await asyncio.wait_for(serving, 10)

    assert store.get_run(run.id).state is runs.RunState.SUCCEEDED
