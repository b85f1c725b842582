"""Whole rollback runs with the aliyun driver: the real Executor, SQLite store and verifier.

checkpoint -> upgrade (Cloud Assistant writes a broken release onto the system disk, the
instance's health endpoint answers 500) -> rollback run -> the HealthVerifier sees 200 again.
The stand-in plays ECS; the SDK signs every call. Crashes are simulated in-process: a hook
raises a BaseException at an executor boundary (or right after an API answer), which leaves
the store exactly as a killed controller would, and a fresh executor resumes.
"""

from __future__ import annotations

import aiohttp
import pytest

from rollsafe import testing
from rollsafe.config import models
from rollsafe.domain import errors, ids, runs
from rollsafe.execute import registry
from rollsafe.execute import runs as executing
from rollsafe.storage import sql
from rollsafe.storage.auditing import verify_store
from rollsafe.verify import checkpoints, health
from support import aliyun_standin as standins


class Crash(BaseException):
    """The controller dies here (nothing in rollsafe catches a BaseException)."""


def crash_at(boundary: str):
    def hook(name: str) -> None:
        if name == boundary:
            raise Crash(name)

    return hook


def no_fault(name: str) -> None:
    return None


@pytest.fixture
async def ecs(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", standins.ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", standins.ACCESS_KEY_SECRET)
    standin = standins.EcsStandIn()
    standin.web = standin.add_instance("web-1", tags={"app": "web"})
    async with standin.serve() as endpoint:
        standin.endpoint = endpoint
        yield standin


@pytest.fixture
def clock():
    return testing.FakeClock()


@pytest.fixture
def store(tmp_path):
    opened = sql.open_store(tmp_path / "state")
    yield opened
    opened.close()


def make_config(ecs, **driver) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "policy": {"verify_timeout": "20s", "max_rollbacks_per_target": 20},
            "targets": [
                {
                    "id": "web-1",
                    "driver": "ecs",
                    "vars": {"instance_id": ecs.web.instance_id, "port": ecs.port},
                }
            ],
            "probes": [
                {
                    "name": "health",
                    "kind": "http",
                    "url": "http://127.0.0.1:{port}/instances/{instance_id}/health",
                    "timeout": "2s",
                }
            ],
            "drivers": [
                {
                    "kind": "aliyun",
                    "name": "ecs",
                    "region_id": standins.REGION,
                    "endpoint": ecs.endpoint,
                    "protocol": "http",
                    "poll_interval": 0.01,
                    "max_poll_interval": 0.03,
                    "upgrade": "echo 'release 2.1 BROKEN' > /srv/app/release",
                    **driver,
                }
            ],
        }
    )


def build_driver(config, tmp_path):
    return registry.build(config.driver("ecs"), tmp_path / "state")


def make_executor(config, store, driver, clock, **options) -> executing.Executor:
    options.setdefault("fault", no_fault)
    return executing.Executor(
        config=config,
        store=store,
        drivers={"ecs": driver},
        verifier=health.HealthVerifier(config, clock=clock, poll_interval=0.02, consecutive=2),
        clock=clock,
        poll_interval=0.01,
        retry_backoff=0.001,
        **options,
    )


async def health_of(ecs) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(ecs.health_url(ecs.web.instance_id)) as response,
    ):
        return response.status


async def checkpoint_and_break(config, store, driver, clock, ecs):
    point = await checkpoints.take_checkpoint(
        config=config, target_id="web-1", store=store, driver=driver, clock=clock, actor="test"
    )
    target = config.target("web-1")
    await driver.upgrade(target, key="rollout-1/web-1/upgrade")
    assert await health_of(ecs) == 500
    return point


def api_calls(store, run_id=None):
    return [
        e.entry
        for e in store.list_audit_events()
        if e.entry.action == "driver.api_call" and (run_id is None or e.entry.run_id == run_id)
    ]


async def test_a_broken_upgrade_is_rolled_back_and_proven_healthy(ecs, store, clock, tmp_path):
    config = make_config(ecs)
    driver = build_driver(config, tmp_path)
    point = await checkpoint_and_break(config, store, driver, clock, ecs)
    healthy_disk = ecs.snapshots[point.data["snapshot_id"]].content

    executor = make_executor(config, store, driver, clock)
    run = executor.request("web-1", trigger="manual", actor="cli:alice", reason="2.1 is broken")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    assert done.restore_point == point.id
    assert ecs.system_disk(ecs.web.instance_id).content == healthy_disk
    assert await health_of(ecs) == 200
    steps = store.list_steps(done.id)
    assert [(s.name, s.state) for s in steps] == [
        ("stop-instance", runs.StepState.DONE),
        ("reset-system-disk", runs.StepState.DONE),
        ("start-instance", runs.StepState.DONE),
    ]
    # Every ECS call of the run is audited under the run with the request id ECS gave it.
    audited = {(c.details["operation"], c.details["request_id"]) for c in api_calls(store, run.id)}
    for action in ("StopInstance", "ResetDisk", "StartInstance"):
        (call,) = [c for c in ecs.calls_of(action) if "DryRun" not in c.params]
        assert (action, call.request_id) in audited
    checkpoint_calls = [c for c in api_calls(store) if c.run_id is None]
    assert {c.details["operation"] for c in checkpoint_calls} >= {"CreateSnapshot"}
    assert verify_store(store).ok


async def test_a_controller_killed_between_restore_and_start_resumes_without_a_second_restore(
    ecs, store, clock, tmp_path
):
    config = make_config(ecs)
    driver = build_driver(config, tmp_path)
    await checkpoint_and_break(config, store, driver, clock, ecs)
    dying = make_executor(config, store, driver, clock, fault=crash_at("after:step:1"))
    run = dying.request("web-1", trigger="manual", actor="cli:alice", reason="broken")
    with pytest.raises(Crash):
        await dying.drive(run.id)
    assert ecs.web.status == "Stopped"

    fresh = build_driver(config, tmp_path)  # a new process: nothing in memory
    done = await make_executor(config, store, fresh, clock).drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    assert len(ecs.effects_of("StopInstance")) == 1
    assert len(ecs.effects_of("ResetDisk")) == 1
    assert len(ecs.effects_of("StartInstance")) == 1
    assert await health_of(ecs) == 200


async def test_killed_right_after_reset_disk_answered_the_step_is_not_redone(
    ecs, store, clock, tmp_path
):
    config = make_config(ecs)
    driver = build_driver(config, tmp_path)
    await checkpoint_and_break(config, store, driver, clock, ecs)

    def die_after_reset(entry):
        # The audit of ResetDisk's answer is written, then the process dies: the executor
        # never hears that the step finished.
        if (
            entry.action == "driver.api_call"
            and entry.details.get("operation") == "ResetDisk"
            and entry.details.get("code") is None
        ):
            raise Crash("killed after ResetDisk")

    dying = make_executor(config, store, driver, clock, on_audit=die_after_reset)
    run = dying.request("web-1", trigger="manual", actor="cli:alice", reason="broken")
    with pytest.raises(Crash):
        await dying.drive(run.id)
    assert [s.state for s in store.list_steps(run.id)] == [
        runs.StepState.DONE,
        runs.StepState.STARTED,
    ]

    done = await make_executor(config, store, build_driver(config, tmp_path), clock).drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    assert len(ecs.effects_of("ResetDisk")) == 1
    assert store.list_steps(run.id)[1].attempt == 2


async def test_a_throttled_step_is_retried_by_the_executor(ecs, store, clock, tmp_path):
    config = make_config(ecs)
    driver = build_driver(config, tmp_path)
    await checkpoint_and_break(config, store, driver, clock, ecs)
    ecs.throttle("ResetDisk", times=2, retry_after_ms=10, real_only=True)
    executor = make_executor(config, store, driver, clock)

    run = executor.request("web-1", trigger="manual", actor="cli:alice", reason="broken")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    retries = [e.entry for e in store.list_audit_events() if e.entry.action == "run.step.retry"]
    assert [r.details["step"] for r in retries] == ["reset-system-disk"] * 2
    assert [r.details["delay_s"] for r in retries] == [0.01, 0.01]
    assert len(ecs.effects_of("ResetDisk")) == 1


async def test_a_missing_permission_fails_the_run_before_any_effect(ecs, store, clock, tmp_path):
    config = make_config(ecs)
    driver = build_driver(config, tmp_path)
    await checkpoint_and_break(config, store, driver, clock, ecs)
    ecs.deny("ResetDisk")
    executor = make_executor(config, store, driver, clock)

    run = executor.request("web-1", trigger="manual", actor="cli:alice", reason="broken")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert "precheck failed" in done.error
    assert "ecs:ResetDisk" in done.error
    assert not ecs.effects_of("StopInstance")
    assert not store.list_steps(run.id)
    assert any(t.id == "web-1" and t.quarantined for t in store.list_targets())


async def test_a_deleted_snapshot_fails_the_run_before_any_effect(ecs, store, clock, tmp_path):
    config = make_config(ecs)
    driver = build_driver(config, tmp_path)
    point = await checkpoint_and_break(config, store, driver, clock, ecs)
    del ecs.snapshots[point.data["snapshot_id"]]
    executor = make_executor(config, store, driver, clock)

    run = executor.request("web-1", trigger="manual", actor="cli:alice", reason="broken")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert f"snapshot {point.data['snapshot_id']}" in done.error
    assert "no longer exists" in done.error
    assert ecs.web.status == "Running"
    assert not ecs.effects_of("StopInstance")


async def test_a_failed_snapshot_stores_no_restore_point(ecs, store, clock, tmp_path):
    config = make_config(ecs)
    driver = build_driver(config, tmp_path)
    ecs.fail_next_snapshot = True

    with pytest.raises(errors.DriverError, match="failed; no restore point was taken"):
        await checkpoints.take_checkpoint(
            config=config, target_id="web-1", store=store, driver=driver, clock=clock, actor="t"
        )

    assert store.list_restore_points(ids.TargetId("web-1")) == []
    # The attempt is still in the audit, call by call.
    assert "CreateSnapshot" in {c.details["operation"] for c in api_calls(store)}
