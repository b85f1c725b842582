"""The aws driver against a local EC2: moto's server behind the replace-root-volume stand-in.

Real boto3 calls over HTTP to 127.0.0.1 (see aws_ec2_standin): snapshots, both rollback
strategies, the precheck, and full runs through the real Executor, SQLite store and
HealthVerifier (a tcp probe on a local port).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import audit_events, clocks, errors, runs
from rollsafe.execute import driving, registry
from rollsafe.execute import runs as executing
from rollsafe.execute.drivers import aws
from rollsafe.storage import sql
from rollsafe.verify import checkpoints, health
from support import aws_ec2_standin
from support.aws_ec2_standin import REGION, driver_config

TARGET = "web-1"


@pytest.fixture(scope="module")
def standin():
    with aws_ec2_standin.running() as server:
        yield server


@pytest.fixture
def ec2(standin, monkeypatch):
    return aws_ec2_standin.prepared(standin, monkeypatch)


class Crash(BaseException):
    """The controller dying: nothing in rollsafe catches a BaseException."""


@pytest.fixture
async def service():
    """A TCP service on a local port: what the health probe of the target looks at."""
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _target(instance_id: str) -> models.Target:
    return models.Target(id=TARGET, driver="ec2", vars={"instance_id": instance_id})


class Rig:
    """Config, store, driver, executor for one target on the stand-in."""

    def __init__(self, tmp_path: Path, standin, instance_id: str, port: int, **driver) -> None:
        self.driver_config = driver_config(standin, **driver)
        self.config = models.RollsafeConfig(
            targets=[_target(instance_id)],
            drivers=[self.driver_config],
            probes=[
                models.TcpProbe(kind="tcp", name="port", host="127.0.0.1", port=port, timeout=2)
            ],
            policy=models.Policy(step_timeout=30, verify_timeout=10),
        )
        self.state = tmp_path / "state"
        self.store = sql.open_store(self.state)
        self.clock = clocks.SystemClock()
        self.driver = registry.build(self.driver_config, self.state)
        self.audit: list[audit_events.AuditEntry] = []

    def executor(self, *, on_audit=None) -> executing.Executor:
        verifier = health.HealthVerifier(self.config, clock=self.clock, poll_interval=0.05)
        return executing.Executor(
            config=self.config,
            store=self.store,
            drivers={"ec2": self.driver},
            verifier=verifier,
            clock=self.clock,
            on_audit=on_audit,
            poll_interval=0.01,
            retry_backoff=0.01,
        )

    async def checkpoint(self):
        return await checkpoints.take_checkpoint(
            config=self.config,
            target_id=TARGET,
            store=self.store,
            driver=self.driver,
            clock=self.clock,
            label="before rollout ro-1",
            actor="test",
        )

    def api_calls(self, run_id=None) -> list[audit_events.AuditEntry]:
        return [
            e.entry
            for e in self.store.list_audit_events()
            if e.entry.action == "driver.api_call" and (run_id is None or e.entry.run_id == run_id)
        ]

    def actions(self, run_id) -> list[str]:
        return [e.entry.action for e in self.store.list_audit_events() if e.entry.run_id == run_id]

    async def close(self) -> None:
        await self.driver.close()
        self.store.close()


@pytest.fixture
async def rig_for(tmp_path, ec2, service):
    made: list[Rig] = []

    def make(instance_id: str, **driver) -> Rig:
        rig = Rig(tmp_path / f"rig{len(made)}", ec2, instance_id, service, **driver)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await rig.close()


# --------------------------------------------------------------------------- checkpoint


async def test_checkpoint_snapshots_the_root_volume_tagged_with_target_and_rollout(ec2, rig_for):
    instance = ec2.launch(TARGET)
    root = ec2.root_volume(instance["InstanceId"])
    rig = rig_for(instance["InstanceId"])

    point = await rig.checkpoint()

    data = point.data
    assert (data["instance_id"], data["volume_id"], data["root_device"]) == (
        instance["InstanceId"],
        root,
        instance["RootDeviceName"],
    )
    assert data["availability_zone"] == f"{REGION}b"
    snapshot = ec2.client().describe_snapshots(SnapshotIds=[data["snapshot_id"]])["Snapshots"][0]
    assert snapshot["State"] == "completed"
    assert snapshot["VolumeId"] == root
    tags = {t["Key"]: t["Value"] for t in snapshot["Tags"]}
    assert tags[aws.TAG_TARGET] == TARGET
    assert tags[aws.TAG_POINT] == point.id
    assert tags[aws.TAG_ROLLOUT] == "ro-1"
    assert tags[aws.TAG_INSTANCE] == instance["InstanceId"]
    # every call is in the audit, with the request id EC2 gave it
    calls = rig.api_calls()
    assert [c.details["operation"] for c in calls][:4] == [
        "DescribeInstances",
        "DescribeVolumes",
        "DescribeSnapshots",
        "CreateSnapshot",
    ]
    assert {c.details["request_id"] for c in calls} <= ec2.request_ids()
    assert all(c.target == TARGET for c in calls)


async def test_checkpoint_waits_for_a_pending_snapshot(ec2, rig_for):
    instance = ec2.launch(TARGET)
    rig = rig_for(instance["InstanceId"])
    ec2.snapshot_states.extend(["pending", "pending", "pending"])

    point = await rig.checkpoint()

    assert point.data["snapshot_id"].startswith("snap-")
    assert not ec2.snapshot_states  # every pending answer was seen before completed
    assert ec2.count("DescribeSnapshots") >= 5  # the lookup, three pending polls, completed


async def test_a_failed_snapshot_fails_the_checkpoint_and_is_deleted(ec2, rig_for):
    instance = ec2.launch(TARGET)
    rig = rig_for(instance["InstanceId"])
    ec2.snapshot_states.extend(["pending", "error"])

    with pytest.raises(errors.DriverError, match=r"snapshot snap-\w+ failed"):
        await rig.checkpoint()

    assert ec2.count("DeleteSnapshot") == 1
    left = ec2.client().describe_snapshots(
        Filters=[{"Name": f"tag:{aws.TAG_TARGET}", "Values": [TARGET]}]
    )["Snapshots"]
    assert left == []
    assert rig.store.list_restore_points(TARGET) == []


# --------------------------------------------------------------------------- full runs


async def test_full_run_replace_root_volume(ec2, rig_for, tmp_path):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    original_root = ec2.root_volume(iid)
    marker = tmp_path / "upgraded"
    rig = rig_for(
        iid,
        upgrade=[sys.executable, "-c", f"open({str(marker)!r}, 'a').write('{{id}}\\n')"],
    )

    point = await rig.checkpoint()
    await rig.driver.upgrade(_target(iid), key="ro-1/web-1/upgrade")
    await rig.driver.upgrade(_target(iid), key="ro-1/web-1/upgrade")  # resumed: no second run
    assert marker.read_text() == "web-1\n"
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="upgrade broke it")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    steps = rig.store.list_steps(done.id)
    assert [(s.name, s.state) for s in steps] == [
        (aws.STEP_REPLACE_ROOT, runs.StepState.DONE),
        (aws.STEP_WAIT_OK, runs.StepState.DONE),
    ]
    assert ec2.count("CreateReplaceRootVolumeTask") == 2  # the precheck's DryRun, the real one
    (task,) = ec2.tasks.values()
    assert task.token == aws.client_token(steps[0].key)
    assert task.tags[aws.TAG_STEP_KEY] == steps[0].key
    new_root = ec2.root_volume(iid)
    assert new_root != original_root
    assert ec2.volume(new_root)["SnapshotId"] == point.data["snapshot_id"]
    assert ec2.volume(original_root)["State"] == "available"  # kept: the rollback can be undone
    assert ec2.instance(iid)["State"]["Name"] == "running"
    operations = [c.details["operation"] for c in rig.api_calls(done.id)]
    assert "CreateReplaceRootVolumeTask" in operations
    assert "DescribeInstanceStatus" in operations
    assert {c.details["request_id"] for c in rig.api_calls(done.id)} <= ec2.request_ids()


async def test_full_run_swap_volume(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    original_root = ec2.root_volume(iid)
    rig = rig_for(iid, strategy="swap-volume")

    point = await rig.checkpoint()
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="upgrade broke it")
    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    assert [s.name for s in rig.store.list_steps(done.id)] == [
        aws.STEP_STOP,
        aws.STEP_SWAP,
        aws.STEP_START,
    ]
    new_root = ec2.root_volume(iid)
    assert new_root != original_root
    restored = ec2.volume(new_root)
    assert restored["SnapshotId"] == point.data["snapshot_id"]
    assert restored["AvailabilityZone"] == f"{REGION}b"
    old = ec2.volume(original_root)
    assert old["State"] == "available"
    assert {t["Key"]: t["Value"] for t in old["Tags"]}[aws.TAG_REPLACED_BY].startswith(done.id)
    instance = ec2.instance(iid)
    assert instance["State"]["Name"] == "running"
    (mapping,) = instance["BlockDeviceMappings"]
    assert mapping["Ebs"]["DeleteOnTermination"] is True  # as the original root volume was
    real = [(a, n) for a, n in _real_calls(rig, done.id)]
    for action in ("StopInstances", "CreateVolume", "DetachVolume", "AttachVolume"):
        assert real.count((action, False)) == 1, action
    assert real.count(("StartInstances", False)) == 1


def _real_calls(rig: Rig, run_id) -> list[tuple[str, bool]]:
    return [(c.details["operation"], bool(c.details.get("dry_run"))) for c in rig.api_calls(run_id)]


# --------------------------------------------------------------------------- resume


def _crash_after(operation: str):
    """An audit listener that kills the controller right after ``operation`` took effect."""

    def listen(entry: audit_events.AuditEntry) -> None:
        details = entry.details
        if (
            entry.action == "driver.api_call"
            and details.get("operation") == operation
            and not details.get("dry_run")
            and not details.get("error")
        ):
            raise Crash(operation)

    return listen


async def test_resume_after_the_replacement_was_made_but_not_recorded(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid)
    await rig.checkpoint()
    dying = rig.executor(on_audit=_crash_after("CreateReplaceRootVolumeTask"))
    run = dying.request(TARGET, trigger="manual", actor="test", reason="broken")
    with pytest.raises(Crash):
        await dying.drive(run.id)
    assert [s.state for s in rig.store.list_steps(run.id)] == [runs.StepState.STARTED]
    ec2.page_size = 1  # the task is found again across pages

    done = await rig.executor().drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    assert len(ec2.tasks) == 1  # the resumed step followed the task it had created
    assert [e for _, e in ec2.effects if e.startswith("replaced")] == [ec2.effects[0][1]]
    (step, _) = rig.store.list_steps(run.id)
    assert step.attempt == 2


async def test_resume_between_restore_and_start_restores_once(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid, strategy="swap-volume")
    await rig.checkpoint()
    boundary = "after:step:1"  # the swap is recorded done; the start has not begun
    crashing = executing.Executor(
        config=rig.config,
        store=rig.store,
        drivers={"ec2": rig.driver},
        verifier=health.HealthVerifier(rig.config, clock=rig.clock),
        clock=rig.clock,
        fault=lambda name: _raise_at(name, boundary),
        poll_interval=0.01,
    )
    run = crashing.request(TARGET, trigger="manual", actor="test", reason="broken")
    with pytest.raises(Crash):
        await crashing.drive(run.id)
    assert ec2.instance(iid)["State"]["Name"] == "stopped"
    creates = ec2.count("CreateVolume")

    done = await rig.executor().drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    assert ec2.count("CreateVolume") == creates  # no second restore
    assert _real_calls(rig, run.id).count(("AttachVolume", False)) == 1
    assert ec2.instance(iid)["State"]["Name"] == "running"


async def test_resume_after_the_new_volume_was_attached_but_not_recorded(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid, strategy="swap-volume")
    await rig.checkpoint()
    dying = rig.executor(on_audit=_crash_after("AttachVolume"))
    run = dying.request(TARGET, trigger="manual", actor="test", reason="broken")
    with pytest.raises(Crash):
        await dying.drive(run.id)
    attached = ec2.root_volume(iid)

    done = await rig.executor().drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    assert ec2.root_volume(iid) == attached
    real = _real_calls(rig, run.id)
    assert real.count(("CreateVolume", False)) == 1
    assert real.count(("AttachVolume", False)) == 1
    assert real.count(("DetachVolume", False)) == 1


def _raise_at(name: str, boundary: str) -> None:
    if name == boundary:
        raise Crash(name)


# --------------------------------------------------------------------------- errors in runs


async def test_throttling_is_retried_by_the_executor(ec2, rig_for):
    instance = ec2.launch(TARGET)
    rig = rig_for(instance["InstanceId"])
    await rig.checkpoint()
    ec2.fail("CreateReplaceRootVolumeTask", "RequestLimitExceeded", times=2, only_real=True)
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="broken")

    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    assert rig.actions(run.id).count("run.step.retry") == 2
    assert len(ec2.tasks) == 1
    throttled = [c for c in rig.api_calls(run.id) if c.details.get("error")]
    assert all(not c.details.get("dry_run") for c in throttled)
    assert [c.details["error"] for c in throttled] == ["RequestLimitExceeded"] * 2
    assert all(c.details["request_id"] in ec2.request_ids() for c in throttled)


async def test_throttled_polls_only_slow_the_wait_down(ec2, rig_for):
    instance = ec2.launch(TARGET)
    rig = rig_for(instance["InstanceId"])
    point = await rig.checkpoint()
    target = _target(instance["InstanceId"])
    await rig.driver.precheck(target, point)
    # the look-up before the create passes; the two polls after it are throttled
    ec2.fail("DescribeReplaceRootVolumeTasks", "RequestLimitExceeded", times=2, skip=1)

    output = await rig.driver.rollback(target, point, step=aws.STEP_REPLACE_ROOT, key="r/0/x")

    assert "replaced from" in output
    assert len(ec2.tasks) == 1


async def test_permission_denied_in_precheck_fails_the_run_before_any_effect(ec2, rig_for):
    instance = ec2.launch(TARGET)
    rig = rig_for(instance["InstanceId"])
    await rig.checkpoint()
    ec2.fail(
        "CreateReplaceRootVolumeTask", "UnauthorizedOperation", message="You are not authorized"
    )
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="broken")

    done = await executor.drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert "precheck failed" in done.error
    assert "not permitted: UnauthorizedOperation" in done.error
    assert ec2.tasks == {}
    assert rig.store.list_steps(run.id) == []


async def test_permission_denied_mid_rollback_escalates_without_retry(ec2, rig_for):
    instance = ec2.launch(TARGET)
    rig = rig_for(instance["InstanceId"], strategy="swap-volume")
    await rig.checkpoint()
    ec2.fail("StopInstances", "UnauthorizedOperation", only_real=True, times=5)
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="broken")

    done = await executor.drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert "not permitted: UnauthorizedOperation" in done.error
    assert "run.step.retry" not in rig.actions(run.id)
    assert _real_calls(rig, run.id).count(("StopInstances", False)) == 1
    assert ec2.instance(instance["InstanceId"])["State"]["Name"] == "running"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (["pending", "in-progress", "failing", "failed"], "is still attached"),
        (["pending", "failing-detached", "failed-detached"], "WITHOUT a root volume"),
    ],
)
async def test_a_failed_replacement_fails_the_run_with_what_to_do(ec2, rig_for, script, expected):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid)
    await rig.checkpoint()
    ec2.task_script = script
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="broken")

    done = await executor.drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert expected in done.error
    assert "run.step.retry" not in rig.actions(run.id)
    assert any(t.id == TARGET and t.quarantined for t in rig.store.list_targets())
    if script[-1] == "failed-detached":
        assert ec2.root_volume(iid) is None  # the stand-in left it as AWS would


async def test_an_unknown_task_state_is_tolerated(ec2, rig_for):
    instance = ec2.launch(TARGET)
    rig = rig_for(instance["InstanceId"])
    await rig.checkpoint()
    ec2.task_script = ["pending", "optimizing", "in-progress", "succeeded"]
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="broken")

    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error


# --------------------------------------------------------------------------- precheck


async def test_precheck_refuses_a_snapshot_outside_the_root_volume_lineage(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid, strategy="swap-volume")
    point = await rig.checkpoint()
    # Someone put an unrelated volume in as the root since.
    client = ec2.client()
    stranger = client.create_volume(AvailabilityZone=f"{REGION}b", Size=8)["VolumeId"]
    client.stop_instances(InstanceIds=[iid])
    device = instance["RootDeviceName"]
    client.detach_volume(VolumeId=ec2.root_volume(iid), InstanceId=iid, Device=device)
    client.attach_volume(VolumeId=stranger, InstanceId=iid, Device=device)

    with pytest.raises(errors.PrecheckFailed, match="not in the lineage"):
        await rig.driver.precheck(_target(iid), point)


async def test_precheck_accepts_a_point_taken_before_an_earlier_rollback(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid)
    first = await rig.checkpoint()
    target = _target(iid)
    await rig.driver.rollback(target, first, step=aws.STEP_REPLACE_ROOT, key="r1/0/replace")

    await rig.driver.precheck(target, first)  # the new root descends from the snapshot


async def test_precheck_refuses_a_deleted_snapshot_and_a_stopped_instance(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid)
    point = await rig.checkpoint()
    client = ec2.client()
    client.stop_instances(InstanceIds=[iid])

    with pytest.raises(errors.PrecheckFailed, match="needs it running"):
        await rig.driver.precheck(_target(iid), point)
    client.delete_snapshot(SnapshotId=point.data["snapshot_id"])
    with pytest.raises(errors.PrecheckFailed, match="is gone"):
        await rig.driver.precheck(_target(iid), point)


async def test_precheck_refuses_a_point_of_another_instance(ec2, rig_for):
    first = ec2.launch(TARGET)["InstanceId"]
    second = ec2.launch("web-2")["InstanceId"]
    rig = rig_for(first)
    point = await rig.checkpoint()

    with pytest.raises(errors.PrecheckFailed, match=f"is of {first}"):
        await rig.driver.precheck(_target(second), point)


# --------------------------------------------------------------------------- status, upgrade


async def test_status_reports_the_instance_and_its_snapshots(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid)
    point = await rig.checkpoint()

    status = await rig.driver.status(_target(iid))

    assert status["state"] == "running"
    assert status["root_volume"] == ec2.root_volume(iid)
    assert [s["point"] for s in status["snapshots"]] == [point.id]
    missing = await rig.driver.status(_target("i-0000000000000000f"))
    assert "was not found" in missing["error"] or "InvalidInstanceID" in missing["error"]


async def test_a_failing_upgrade_command_is_a_driver_error(ec2, rig_for):
    instance = ec2.launch(TARGET)
    rig = rig_for(
        instance["InstanceId"],
        upgrade=[sys.executable, "-c", "import sys; sys.stderr.write('no space'); sys.exit(3)"],
    )

    with pytest.raises(errors.DriverError, match=r"(?s)exit code 3.*no space"):
        await rig.driver.upgrade(_target(instance["InstanceId"]), key="u/1")


async def test_api_calls_outside_a_run_are_not_recorded_anywhere(ec2, rig_for):
    instance = ec2.launch(TARGET)
    rig = rig_for(instance["InstanceId"])
    seen: list[str] = []
    token = driving.recording_api_calls(lambda op, details: seen.append(op))
    driving.reset_api_calls(token)

    await rig.driver.status(_target(instance["InstanceId"]))

    assert seen == []


# --------------------------------------------------------------------------- replace-instance

_DETACHED = ["pending", "failing-detached", "failed-detached"]


def _replacements(ec2, key: str) -> list[dict]:
    found = ec2.client().describe_instances(
        Filters=[{"Name": f"tag:{aws.TAG_STEP_KEY}", "Values": [key]}]
    )
    return [i for r in found["Reservations"] for i in r["Instances"]]


async def test_replace_instance_launches_from_the_snapshot_image_and_keeps_the_old_one(
    ec2, rig_for
):
    instance = ec2.launch(TARGET, team="web")
    iid = instance["InstanceId"]
    rig = rig_for(iid, replace_instance=True)
    point = await rig.checkpoint()
    assert point.data["launch"]["tags"] == {"Name": TARGET, "team": "web"}
    ec2.task_script = _DETACHED
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="broken")

    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    steps = rig.store.list_steps(done.id)
    assert [(s.name, s.state) for s in steps] == [
        (aws.STEP_REPLACE_ROOT, runs.StepState.DONE),
        (aws.STEP_WAIT_OK, runs.StepState.DONE),
        (aws.STEP_REPLACE_INSTANCE, runs.StepState.DONE),
    ]
    assert "failed-detached" in steps[0].output
    assert "no root volume" in steps[1].output
    (new,) = _replacements(ec2, steps[2].key)
    new_id = new["InstanceId"]
    assert new_id != iid
    assert new_id in steps[2].output
    assert "vars.instance_id" in steps[2].output
    assert new["State"]["Name"] == "running"
    image = ec2.client().describe_images(ImageIds=[new["ImageId"]])["Images"][0]
    assert image["Name"] == aws._image_name("ec2", point.id)
    tags = {t["Key"]: t["Value"] for t in new["Tags"]}
    assert tags[aws.TAG_TARGET] == TARGET
    assert tags[aws.TAG_ROLLOUT] == "ro-1"
    assert tags[aws.TAG_REPLACES] == iid
    assert (tags["Name"], tags["team"]) == (TARGET, "web")
    old = ec2.instance(iid)
    assert old["State"]["Name"] == "stopped"  # kept for forensics, never terminated
    assert {t["Key"]: t["Value"] for t in old["Tags"]}[aws.TAG_REPLACEMENT] == new_id
    launches = [c for c in rig.api_calls(done.id) if c.details["operation"] == "RunInstances"]
    assert [c.details["created_instance_ids"] for c in launches] == [[new_id]]
    assert launches[0].details["request_id"] in ec2.request_ids()
    assert ec2.count("TerminateInstances") == 0


async def test_without_replace_instance_a_detached_root_escalates_and_launches_nothing(
    ec2, rig_for
):
    instance = ec2.launch(TARGET)
    rig = rig_for(instance["InstanceId"])
    await rig.checkpoint()
    ec2.task_script = _DETACHED
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="broken")

    done = await executor.drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert "WITHOUT a root volume" in done.error
    assert any(t.id == TARGET and t.quarantined for t in rig.store.list_targets())
    assert ec2.count("RegisterImage") == ec2.count("RunInstances") == 0


async def test_replace_instance_is_not_used_when_the_restore_succeeds(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid, replace_instance=True)
    await rig.checkpoint()
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="broken")

    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    last = rig.store.list_steps(done.id)[-1]
    assert (last.name, last.output.split(":")[0]) == (aws.STEP_REPLACE_INSTANCE, "not needed")
    assert ec2.count("RegisterImage") == ec2.count("RunInstances") == 0
    assert ec2.instance(iid)["State"]["Name"] == "running"


async def test_resume_after_run_instances_launches_no_second_instance(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid, replace_instance=True)
    await rig.checkpoint()
    ec2.task_script = _DETACHED
    dying = rig.executor(on_audit=_crash_after("RunInstances"))
    run = dying.request(TARGET, trigger="manual", actor="test", reason="broken")
    with pytest.raises(Crash):
        await dying.drive(run.id)
    step = rig.store.list_steps(run.id)[-1]
    assert (step.name, step.state) == (aws.STEP_REPLACE_INSTANCE, runs.StepState.STARTED)

    done = await rig.executor().drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    assert ec2.count("RunInstances") == 1
    assert ec2.count("RegisterImage") == 1
    (new,) = _replacements(ec2, step.key)
    assert new["State"]["Name"] == "running"


async def test_swap_that_cannot_attach_falls_back_to_a_replacement(ec2, rig_for):
    instance = ec2.launch(TARGET)
    iid = instance["InstanceId"]
    rig = rig_for(iid, strategy="swap-volume", replace_instance=True)
    await rig.checkpoint()
    ec2.fail("AttachVolume", "IncorrectState", only_real=True, message="volume in wrong state")
    executor = rig.executor()
    run = executor.request(TARGET, trigger="manual", actor="test", reason="broken")

    done = await executor.drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED, done.error
    steps = rig.store.list_steps(done.id)
    assert [s.name for s in steps] == [
        aws.STEP_STOP,
        aws.STEP_SWAP,
        aws.STEP_START,
        aws.STEP_REPLACE_INSTANCE,
    ]
    assert "could not be attached" in steps[1].output
    assert "REPLACED" in steps[3].output
    assert ec2.root_volume(iid) is None
    assert ec2.instance(iid)["State"]["Name"] == "stopped"
    (new,) = _replacements(ec2, steps[3].key)
    assert new["State"]["Name"] == "running"
