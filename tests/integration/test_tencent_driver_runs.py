"""Whole rollback runs on the tencent driver: the real Executor, SQLite store, HealthVerifier.

checkpoint -> upgrade (the stand-in's disk is overwritten, its workload turns unhealthy) ->
rollback run -> verification by an http probe of the stand-in's workload. Then the crash
cases (controller killed between restore and start, or between an effect and its record)
and the error cases (throttling retried, permission denied escalated, snapshot failed).
"""

from __future__ import annotations

import asyncio

import pytest

from rollsafe.config import models
from rollsafe.domain import clocks, errors, ids, runs
from rollsafe.execute import runs as executing
from rollsafe.execute.drivers import tencent
from rollsafe.storage import sql
from rollsafe.storage.auditing import verify_store
from rollsafe.verify import checkpoints, health
from support.tencent_standin import TencentStandin

SECRET_ID = "AKIDrollsafeStandin0002"
SECRET_KEY = "standin-secret-key-2"
INSTANCE = "ins-web00001"
DISK = "disk-web00001"


class Crash(BaseException):
    """The controller dying at a fault boundary (nothing in rollsafe catches it)."""


def crash_at(boundary):
    def hook(name):
        if name == boundary:
            raise Crash(name)

    return hook


@pytest.fixture
def standin(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    with TencentStandin(secret_id=SECRET_ID, secret_key=SECRET_KEY) as s:
        s.add_instance(INSTANCE, name="web-1")
        yield s


@pytest.fixture
def store(tmp_path):
    opened = sql.open_store(tmp_path / "state")
    yield opened
    opened.close()


def make_config(standin, strategy="auto-stop"):
    return models.RollsafeConfig(
        targets=[models.Target(id="web-1", driver="tc", vars={"instance_id": INSTANCE})],
        drivers=[
            models.TencentDriver(
                kind="tencent",
                name="tc",
                strategy=strategy,
                **standin.driver_settings(),
                poll_interval=0.01,
                max_poll_interval=0.03,
                snapshot_wait=10,
                restore_wait=10,
                instance_wait=10,
                throttle_retry_after=0.01,
            )
        ],
        probes=[
            models.HttpProbe(
                kind="http",
                name="workload",
                url=standin.health_url() + "/{instance_id}",
                interval=1,
                timeout=2,
            )
        ],
        policy=models.Policy(verify_timeout=10, step_timeout=20),
    )


def make_executor(config, store, driver, *, fault=executing.kill_at_boundary):
    return executing.Executor(
        config=config,
        store=store,
        drivers={driver.name: driver},
        verifier=health.HealthVerifier(config, clock=clocks.SystemClock(), poll_interval=0.05),
        clock=clocks.SystemClock(),
        fault=fault,
        poll_interval=0.01,
        retry_backoff=0.01,
    )


async def checkpoint_and_break(config, store, driver, standin):
    point = await checkpoints.take_checkpoint(
        config=config,
        target_id="web-1",
        store=store,
        driver=driver,
        clock=clocks.SystemClock(),
        actor="test",
    )
    standin.write_disk(DISK, "release-2-broken")  # the upgrade that failed
    assert standin.health(INSTANCE) == 503
    return point


def audit(store, action):
    return [e.entry for e in store.list_audit_events() if e.entry.action == action]


@pytest.mark.parametrize("strategy", ["auto-stop", "explicit"])
async def test_a_failed_upgrade_is_rolled_back_and_verified(standin, store, tmp_path, strategy):
    config = make_config(standin, strategy)
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    point = await checkpoint_and_break(config, store, driver, standin)
    executor = make_executor(config, store, driver)

    run = executor.request("web-1", trigger="manual", actor="test", reason="bad release")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done
    assert standin.disk(DISK).content == "release-1"
    assert standin.health(INSTANCE) == 200
    assert standin.applied == [(DISK, point.data["snapshot_id"])]
    steps = store.list_steps(run.id)
    assert [s.name for s in steps] == list(driver.rollback_steps(config.targets[0], point))
    # Every cloud call is in the audit with the request id the stand-in gave it.
    calls = audit(store, "driver.api_call")
    answered = {c.request_id: c.action for c in standin.calls}
    assert calls
    assert all(answered[c.details["request_id"]] == c.details["operation"] for c in calls)
    in_run = [c.details["operation"] for c in calls if c.run_id == run.id]
    assert "ApplySnapshot" in in_run
    assert [c.details["operation"] for c in calls if c.run_id is None][:2] == [
        "DescribeInstances",
        "DescribeDisks",
    ]
    assert verify_store(store).ok


@pytest.mark.parametrize(
    ("strategy", "boundary"),
    [("explicit", "after:step:1"), ("auto-stop", "after:step:0"), ("explicit", "before:step:2")],
)
async def test_a_controller_killed_between_restore_and_start_resumes_without_a_second_restore(
    standin, store, tmp_path, strategy, boundary
):
    config = make_config(standin, strategy)
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    await checkpoint_and_break(config, store, driver, standin)
    dying = make_executor(config, store, driver, fault=crash_at(boundary))
    run = dying.request("web-1", trigger="manual", actor="test", reason="bad release")
    with pytest.raises(Crash):
        await dying.drive(run.id)
    assert len(standin.applied) == 1
    assert store.get_run(run.id).state is runs.RunState.EXECUTING

    # A new controller, with a new driver object over the same state directory.
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    done = await make_executor(config, store, driver).drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done
    assert len(standin.applied) == 1
    assert standin.count("ApplySnapshot") == 1
    assert standin.health(INSTANCE) == 200


class DiesAfterTheEffect:
    """The real driver, but the controller dies right after the apply step's effect, before
    the executor can record the step done; optionally in the middle of the rollback."""

    def __init__(self, inner, standin, *, midway=False):
        self.inner = inner
        self.standin = standin
        self.midway = midway
        self.name = inner.name
        self.kind = inner.kind

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def rollback(self, target, point, *, step, key):
        if step != "apply-snapshot":
            return await self.inner.rollback(target, point, step=step, key=key)
        if not self.midway:
            await self.inner.rollback(target, point, step=step, key=key)
            raise Crash("after the effect")
        task = asyncio.create_task(self.inner.rollback(target, point, step=step, key=key))
        while self.standin.disk(DISK).state != "ROLLBACKING":
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        raise Crash("in the middle of the rollback")


@pytest.mark.parametrize("midway", [False, True])
async def test_a_step_repeated_after_a_crash_does_not_restore_twice(
    standin, store, tmp_path, midway
):
    standin.timings.rollback = 0.4
    config = make_config(standin, "explicit")
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    await checkpoint_and_break(config, store, driver, standin)
    dying = make_executor(config, store, DiesAfterTheEffect(driver, standin, midway=midway))
    run = dying.request("web-1", trigger="manual", actor="test", reason="bad release")
    with pytest.raises(Crash):
        await dying.drive(run.id)
    step = store.list_steps(run.id)[1]
    assert (step.name, step.state) == ("apply-snapshot", runs.StepState.STARTED)

    done = await make_executor(config, store, driver).drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done
    assert standin.count("ApplySnapshot") == 1
    assert len(standin.applied) == 1
    assert standin.disk(DISK).content == "release-1"


async def test_throttling_is_retried_by_the_executor(standin, store, tmp_path):
    config = make_config(standin)
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    await checkpoint_and_break(config, store, driver, standin)
    standin.throttle("ApplySnapshot", times=2)
    executor = make_executor(config, store, driver)

    run = executor.request("web-1", trigger="manual", actor="test", reason="bad release")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done
    retries = audit(store, "run.step.retry")
    assert len(retries) == 2
    assert all("RequestLimitExceeded" in r.details["error"] for r in retries)
    assert len(standin.applied) == 1


async def test_a_permission_denied_fails_the_run_and_quarantines_the_target(
    standin, store, tmp_path
):
    config = make_config(standin)
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    await checkpoint_and_break(config, store, driver, standin)
    standin.deny("ApplySnapshot")
    executor = make_executor(config, store, driver)

    run = executor.request("web-1", trigger="manual", actor="test", reason="bad release")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert "AuthFailure.UnauthorizedOperation" in (done.error or "")
    assert any(t.id == "web-1" and t.quarantined for t in store.list_targets())
    assert standin.applied == []
    assert not audit(store, "run.step.retry")


async def test_a_precheck_on_a_vanished_snapshot_fails_before_any_effect(standin, store, tmp_path):
    config = make_config(standin, "explicit")
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    point = await checkpoint_and_break(config, store, driver, standin)
    del standin.snapshots[point.data["snapshot_id"]]
    executor = make_executor(config, store, driver)

    run = executor.request("web-1", trigger="manual", actor="test", reason="bad release")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert "precheck failed" in (done.error or "")
    assert standin.count("StopInstances") == 0
    assert standin.count("ApplySnapshot") == 0


async def test_a_failed_snapshot_stores_no_restore_point(standin, store, tmp_path):
    config = make_config(standin)
    driver = tencent.make_driver(config.drivers[0], tmp_path / "state")
    standin.vanish_snapshots = True

    with pytest.raises(errors.DriverError, match="disappeared"):
        await checkpoints.take_checkpoint(
            config=config,
            target_id="web-1",
            store=store,
            driver=driver,
            clock=clocks.SystemClock(),
            actor="test",
        )

    assert store.list_restore_points(ids.TargetId("web-1")) == []
    assert [c.details["operation"] for c in audit(store, "driver.api_call")][-1] == (
        "DescribeSnapshots"
    )
