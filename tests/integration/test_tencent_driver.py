"""The tencent driver through the real Tencent Cloud SDK against the local TC3 stand-in.

Every call here is signed by the SDK and verified by the stand-in; what the stand-in refuses,
the real API documents refusing. Checkpoint, precheck, both rollback strategies, idempotency
by key (repeated calls, a cancelled step, a crash between request and journal), error
translation and discovery by tag.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors, restore_points
from rollsafe.execute import driving, journals, registry
from rollsafe.execute.drivers import tencent
from rollsafe.reach.clouds import tencent as tencent_cloud
from support.tencent_standin import TencentStandin

SECRET_ID = "AKIDrollsafeStandin0001"
SECRET_KEY = "standin-secret-key"
INSTANCE = "ins-web00001"
DISK = "disk-web00001"


@pytest.fixture
def standin(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    with TencentStandin(secret_id=SECRET_ID, secret_key=SECRET_KEY) as s:
        s.add_instance(INSTANCE, name="web-1", tags={"app": "web", "tier": "front"})
        yield s


@pytest.fixture
def target():
    return models.Target(id="web-1", driver="tc", vars={"instance_id": INSTANCE})


def make_driver(standin, tmp_path, **overrides) -> tencent.TencentDriver:
    settings = {
        "kind": "tencent",
        "name": "tc",
        **standin.driver_settings(),
        "poll_interval": 0.01,
        "max_poll_interval": 0.03,
        "snapshot_wait": 10,
        "restore_wait": 10,
        "instance_wait": 10,
        "throttle_retry_after": 0.01,
        **overrides,
    }
    built = registry.build(models.TencentDriver(**settings), tmp_path / "state")
    assert isinstance(built, tencent.TencentDriver)
    return built


@pytest.fixture
def driver(standin, tmp_path):
    return make_driver(standin, tmp_path)


async def roll_back(driver, target, point, *, run="run-1"):
    outputs = []
    for index, step in enumerate(driver.rollback_steps(target, point)):
        outputs.append(await driver.rollback(target, point, step=step, key=f"{run}/{index}/{step}"))
    return outputs


# --------------------------------------------------------------------------- checkpoint


async def test_checkpoint_snapshots_the_system_disk_and_waits_for_normal(standin, driver, target):
    point = await driver.checkpoint(target, point_id="rp-1", label="before 2.0")

    snapshot = standin.snapshots[point.data["snapshot_id"]]
    assert snapshot.state == "NORMAL"
    assert snapshot.name == "rollsafe-rp-1"
    assert snapshot.disk_id == DISK
    assert snapshot.content == "release-1"
    assert point.data == {
        "region": "ap-guangzhou",
        "instance_id": INSTANCE,
        "disk_id": DISK,
        "snapshot_id": snapshot.id,
        "snapshot_name": "rollsafe-rp-1",
        "disk_size": 50,
        "image_id": "img-base0001",
        "zone": "ap-guangzhou-3",
        # What a replacement launch needs (replace_instance): key pair ids, never a password.
        "launch": {
            "image_id": "img-base0001",
            "instance_type": "S5.MEDIUM2",
            "instance_name": point.data["launch"]["instance_name"],
            "zone": "ap-guangzhou-3",
            "project_id": 0,
            "vpc_id": "vpc-standin1",
            "subnet_id": "subnet-standin1",
            "security_group_ids": ["sg-standin1"],
            "key_ids": ["skey-standin1"],
            "tags": point.data["launch"]["tags"],
        },
    }
    assert (point.id, point.target, point.driver, point.label) == (
        "rp-1",
        "web-1",
        "tc",
        "before 2.0",
    )
    described = next(c for c in standin.calls if c.action == "DescribeDisks")
    assert {"Name": "disk-usage", "Values": ["SYSTEM_DISK"]} in described.params["Filters"]


async def test_a_retried_checkpoint_adopts_its_snapshot(standin, driver, target):
    first = await driver.checkpoint(target, point_id="rp-1")
    again = await driver.checkpoint(target, point_id="rp-1")

    assert again.data["snapshot_id"] == first.data["snapshot_id"]
    assert standin.count("CreateSnapshot") == 1


async def test_checkpoint_ignores_the_data_disk(standin, tmp_path, target):
    standin.add_instance("ins-data0001", data_disk=True)
    driver = make_driver(standin, tmp_path)
    other = models.Target(id="db-1", vars={"instance_id": "ins-data0001"})

    point = await driver.checkpoint(other, point_id="rp-1")

    assert point.data["disk_id"] == "disk-data0001"
    assert standin.snapshots[point.data["snapshot_id"]].usage == "SYSTEM_DISK"


async def test_checkpoint_expiry_becomes_the_snapshot_deadline(standin, tmp_path, target):
    driver = make_driver(standin, tmp_path, snapshot_expiry="7d")

    point = await driver.checkpoint(target, point_id="rp-1")

    assert standin.snapshots[point.data["snapshot_id"]].deadline is not None


async def test_a_snapshot_that_vanishes_while_created_fails_the_checkpoint(standin, driver, target):
    standin.vanish_snapshots = True

    with pytest.raises(errors.DriverError, match="disappeared while it was created"):
        await driver.checkpoint(target, point_id="rp-1")


async def test_a_refused_snapshot_is_a_driver_error_with_the_code(standin, driver, target):
    standin.fail("CreateSnapshot", "InsufficientSnapshotQuota", "snapshot quota exhausted")

    with pytest.raises(errors.DriverError, match="InsufficientSnapshotQuota") as caught:
        await driver.checkpoint(target, point_id="rp-1")
    assert not isinstance(caught.value, errors.TemporaryError)


async def test_a_slow_snapshot_times_out_with_what_was_last_seen(standin, tmp_path, target):
    standin.timings.snapshot = 30
    driver = make_driver(standin, tmp_path, snapshot_wait=0.1)

    with pytest.raises(errors.DriverError, match=r"to be NORMAL after 0.1s \(last seen: CREATING"):
        await driver.checkpoint(target, point_id="rp-1")


async def test_a_target_without_instance_id_is_refused(driver):
    with pytest.raises(errors.DriverError, match=r"vars\.instance_id"):
        await driver.checkpoint(models.Target(id="web-9"), point_id="rp-1")


# --------------------------------------------------------------------------- precheck


async def test_precheck_accepts_a_fresh_point(driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.precheck(target, point)


async def test_precheck_refuses_a_snapshot_of_another_disk(standin, driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.add_instance("ins-othr0001")
    other = models.Target(id="web-2", vars={"instance_id": "ins-othr0001"})
    foreign = await driver.checkpoint(other, point_id="rp-2")
    mixed = restore_points.RestorePoint(
        id=point.id,
        target=point.target,
        driver=point.driver,
        created_at=point.created_at,
        data={**point.data, "snapshot_id": foreign.data["snapshot_id"]},
    )

    with pytest.raises(errors.PrecheckFailed, match="was taken of disk-othr0001"):
        await driver.precheck(target, mixed)


async def test_precheck_refuses_another_targets_point_and_a_replaced_instance(driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")

    with pytest.raises(errors.PrecheckFailed, match="belongs to target web-1"):
        await driver.precheck(models.Target(id="web-2", vars={"instance_id": INSTANCE}), point)
    moved = models.Target(id="web-1", vars={"instance_id": "ins-new00001"})
    with pytest.raises(errors.PrecheckFailed, match="is now instance ins-new00001"):
        await driver.precheck(moved, point)


async def test_precheck_refuses_a_deleted_snapshot_and_a_new_system_disk(standin, driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    del standin.snapshots[point.data["snapshot_id"]]
    with pytest.raises(errors.PrecheckFailed, match="no longer exists"):
        await driver.precheck(target, point)

    point = await driver.checkpoint(target, point_id="rp-2")
    standin.disks["disk-new00001"] = standin.disks.pop(DISK)
    standin.disks["disk-new00001"].id = "disk-new00001"
    standin.instances[INSTANCE].system_disk = "disk-new00001"
    with pytest.raises(errors.PrecheckFailed, match="system disk of ins-web00001 is now"):
        await driver.precheck(target, point)


async def test_precheck_without_permission_is_precheck_failed(standin, driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.deny("DescribeSnapshots")

    with pytest.raises(errors.PrecheckFailed, match=r"AuthFailure\.UnauthorizedOperation.*CAM"):
        await driver.precheck(target, point)


async def test_precheck_rides_out_throttling_of_reads(standin, driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.throttle("DescribeDisks", times=2)

    await driver.precheck(target, point)

    assert standin.count("DescribeDisks", ok=False) >= 2


# --------------------------------------------------------------------------- rollback


@pytest.mark.parametrize("strategy", ["auto-stop", "explicit"])
async def test_rollback_restores_the_system_disk_and_runs_the_instance(
    standin, tmp_path, target, strategy
):
    driver = make_driver(standin, tmp_path, strategy=strategy)
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.write_disk(DISK, "release-2-broken")
    assert standin.health(INSTANCE) == 503

    outputs = await roll_back(driver, target, point)

    assert standin.disk(DISK).content == "release-1"
    assert standin.state_of(INSTANCE) == "RUNNING"
    assert standin.health(INSTANCE) == 200
    assert standin.applied == [(DISK, point.data["snapshot_id"])]
    apply = [c for c in standin.calls if c.action == "ApplySnapshot" and c.error is None]
    if strategy == "auto-stop":
        assert driver.rollback_steps(target, point) == ["apply-snapshot", "start-instance"]
        assert apply[0].params["AutoStopInstance"] is True
        assert apply[0].params["AutoStartInstance"] is True
        assert standin.count("StopInstances") == 0
    else:
        assert driver.rollback_steps(target, point) == [
            "stop-instance",
            "apply-snapshot",
            "start-instance",
        ]
        assert "AutoStopInstance" not in apply[0].params
        assert standin.count("StopInstances") == standin.count("StartInstances") == 1
        assert outputs[0].startswith("stopped instance ins-web00001")
    assert f"ApplySnapshot request {apply[0].request_id}" in outputs[-2]


async def test_rollback_when_the_disk_is_marked_only_after_the_auto_stop(standin, driver, target):
    standin.disk_waits_for_stop = True
    standin.timings.stop = 0.2
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.write_disk(DISK, "broken")

    await roll_back(driver, target, point)

    assert standin.disk(DISK).content == "release-1"
    assert standin.state_of(INSTANCE) == "RUNNING"


async def test_each_step_happens_once_per_key(standin, driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.write_disk(DISK, "broken")
    first = await roll_back(driver, target, point)
    standin.write_disk(DISK, "changed after the rollback")

    again = await roll_back(driver, target, point)

    assert again == first
    assert len(standin.applied) == 1
    assert standin.disk(DISK).content == "changed after the rollback"


async def test_a_cancelled_apply_resumes_without_a_second_restore(standin, driver, target):
    standin.timings.rollback = 0.5
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.write_disk(DISK, "broken")
    key = "run-1/0/apply-snapshot"
    step = asyncio.create_task(driver.rollback(target, point, step="apply-snapshot", key=key))
    while standin.disk(DISK).state != "ROLLBACKING":
        await asyncio.sleep(0.01)
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step

    # The abandoned attempt's in-flight call keeps the key's lease until it returns: until
    # then a retry is told to come back later, as the executor would be.
    busy: list[str] = []
    async with asyncio.timeout(10):
        while True:
            try:
                output = await driver.rollback(target, point, step="apply-snapshot", key=key)
                break
            except errors.DriverTemporaryError as exc:
                busy.append(str(exc))
                await asyncio.sleep(0.02)

    assert all("being run right now" in b for b in busy)
    assert len(standin.applied) == 1
    assert standin.count("ApplySnapshot") == 1
    assert "rolled disk disk-web00001" in output
    assert standin.disk(DISK).content == "release-1"


async def test_a_request_whose_answer_was_lost_is_followed_not_repeated(standin, driver, target):
    # The controller died between ApplySnapshot being accepted and the journal's "accepted".
    standin.timings.rollback = 0.3
    point = await driver.checkpoint(target, point_id="rp-1")
    key = "run-1/0/apply-snapshot"
    journal = driver.state_dir / "tencent-journal"
    journal.mkdir(parents=True)
    (journal / f"{journals.slug(key)}.json").write_text(
        json.dumps({"key": key, "step": "apply-snapshot", "phase": "requested"})
    )
    standin.write_disk(DISK, "broken")
    _apply_directly(standin, point)

    await driver.rollback(target, point, step="apply-snapshot", key=key)

    assert len(standin.applied) == 1
    assert standin.disk(DISK).content == "release-1"


def _apply_directly(standin, point):
    standin.act(
        "ApplySnapshot",
        {
            "SnapshotId": point.data["snapshot_id"],
            "DiskId": DISK,
            "AutoStopInstance": True,
            "AutoStartInstance": True,
        },
    )


async def test_a_step_already_running_elsewhere_is_temporary(driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    key = "run-1/0/apply-snapshot"
    lease = driver._journal.lease(key, retry_after=1.0)
    try:
        with pytest.raises(errors.DriverTemporaryError, match="being run right now"):
            await driver.rollback(target, point, step="apply-snapshot", key=key)
    finally:
        lease.release()


async def test_an_unknown_step_is_refused(driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    with pytest.raises(errors.DriverError, match="no rollback step 'reboot'"):
        await driver.rollback(target, point, step="reboot", key="k")


# --------------------------------------------------------------------------- errors


async def test_a_throttled_apply_is_temporary_with_retry_after_then_succeeds(
    standin, driver, target
):
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.throttle("ApplySnapshot")
    key = "run-1/0/apply-snapshot"

    with pytest.raises(errors.DriverTemporaryError, match="RequestLimitExceeded") as caught:
        await driver.rollback(target, point, step="apply-snapshot", key=key)
    assert caught.value.retry_after == 0.01
    await driver.rollback(target, point, step="apply-snapshot", key=key)

    assert len(standin.applied) == 1


async def test_a_5xx_answer_is_temporary(standin, driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.http_error("ApplySnapshot", status=502)

    with pytest.raises(errors.DriverTemporaryError, match="ServerNetworkError"):
        await driver.rollback(target, point, step="apply-snapshot", key="run-1/0/apply-snapshot")
    assert standin.applied == []


async def test_a_permission_denied_is_a_driver_error_naming_the_code(standin, driver, target):
    point = await driver.checkpoint(target, point_id="rp-1")
    standin.deny("ApplySnapshot")

    with pytest.raises(errors.DriverError, match=r"AuthFailure\.UnauthorizedOperation") as caught:
        await driver.rollback(target, point, step="apply-snapshot", key="run-1/0/apply-snapshot")
    assert not isinstance(caught.value, errors.TemporaryError)


async def test_the_documented_state_error_surfaces_with_its_code(standin, tmp_path, target):
    # Explicit strategy, but someone started the instance again between stop and apply.
    driver = make_driver(standin, tmp_path, strategy="explicit")
    point = await driver.checkpoint(target, point_id="rp-1")

    with pytest.raises(errors.DriverError, match=r"UnsupportedOperation\.InstanceNotStopped"):
        await driver.rollback(target, point, step="apply-snapshot", key="run-1/1/apply-snapshot")
    assert standin.applied == []


async def test_a_wrong_secret_key_fails_the_signature(standin, driver, target, monkeypatch):
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "not-the-key")

    with pytest.raises(errors.DriverError, match=r"AuthFailure\.SignatureFailure"):
        await driver.checkpoint(target, point_id="rp-1")


async def test_every_call_is_recorded_with_its_request_id(standin, driver, target):
    seen = []
    token = driving.recording_api_calls(lambda op, details: seen.append((op, dict(details))))
    try:
        standin.throttle("DescribeInstances")
        await driver.checkpoint(target, point_id="rp-1")
    finally:
        driving.reset_api_calls(token)

    answered = [(c.action, c.request_id, c.error) for c in standin.calls]
    recorded = [(op, d["request_id"], d.get("error")) for op, d in seen]
    assert recorded == answered
    assert recorded[0][2] == "RequestLimitExceeded"
    assert all(d["region"] == "ap-guangzhou" and d["service"] in ("cvm", "cbs") for _, d in seen)
    assert not any(SECRET_KEY in json.dumps(d) or SECRET_ID in json.dumps(d) for _, d in seen)


async def test_status_reports_the_instance(driver, target):
    status = await driver.status(target)

    assert status["state"] == "RUNNING"
    assert status["system_disk"] == DISK
    gone = await driver.status(models.Target(id="x", vars={"instance_id": "ins-gone0001"}))
    assert "not found" in gone["error"]


# --------------------------------------------------------------------------- discovery


async def test_discover_finds_tagged_instances(standin, tmp_path):
    standin.add_instance("ins-web00002", name="web-2", tags={"app": "web", "tier": "back"})
    standin.add_instance("ins-db000001", name="db 1", tags={"app": "db"})
    config = models.TencentDriver(kind="tencent", name="tc", **standin.driver_settings())

    found = await registry.discoverer("tencent")(config, tags={"app": "web"})

    assert [(t.id, t.vars["instance_id"], t.driver) for t in found] == [
        ("web-1", INSTANCE, "tc"),
        ("web-2", "ins-web00002", "tc"),
    ]
    assert found[0].labels == {"app": "web", "tier": "front"}
    assert found[0].address == "10.0.0.10"
    calls = [c for c in standin.calls if c.action == "DescribeInstances"]
    assert calls[-1].params["Filters"] == [{"Name": "tag:app", "Values": ["web"]}]
    everything = await tencent.discover(config, tags={})
    # "db 1" is no valid target id: the instance id stands in for it.
    assert [t.id for t in everything] == ["ins-db000001", "web-1", "web-2"]


# --------------------------------------------------------------------------- upgrade


async def test_upgrade_runs_the_command_once_per_key(standin, tmp_path, target):
    log = tmp_path / "upgrades.log"
    driver = make_driver(
        standin,
        tmp_path,
        upgrade=[
            "sh",
            "-c",
            f'echo "$ROLLSAFE_TARGET $ROLLSAFE_INSTANCE_ID $ROLLSAFE_REGION {{id}}" >> {log}',
        ],
    )

    first = await driver.upgrade(target, key="rollout-1/web-1")
    again = await driver.upgrade(target, key="rollout-1/web-1")

    assert first == again
    assert log.read_text().splitlines() == [f"web-1 {INSTANCE} ap-guangzhou web-1"]


async def test_a_failing_upgrade_reports_its_stderr(standin, tmp_path, target):
    driver = make_driver(standin, tmp_path, upgrade=["sh", "-c", "echo no space left >&2; exit 3"])

    with pytest.raises(errors.DriverError, match="exit code 3; last lines of stderr:\nno space"):
        await driver.upgrade(target, key="rollout-1/web-1")


async def test_discover_a_key_alone_matches_any_value(standin):
    standin.add_instance("ins-untag001", name="bare")
    config = models.TencentDriver(kind="tencent", name="tc", **standin.driver_settings())

    found = await tencent.discover(config, tags={"tier": ""})

    assert [t.id for t in found] == ["web-1"]


def test_the_discover_command_prints_target_entries(standin, tmp_path):
    standin.add_instance("ins-web00002", name="web-2", tags={"app": "web"}, private_ip="10.0.0.11")
    settings = standin.driver_settings()
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        f"""\
version: 1
state_dir: state
targets:
  - id: web-1
    driver: tc
    vars: {{instance_id: {INSTANCE}}}
drivers:
  - kind: tencent
    name: tc
    region: {settings["region"]}
    protocol: http
    endpoints: {{cvm: "{settings["endpoints"]["cvm"]}", cbs: "{settings["endpoints"]["cbs"]}"}}
"""
    )
    rollsafe = str(Path(sys.executable).with_name("rollsafe"))

    done = subprocess.run(
        [rollsafe, "target", "discover", "-c", str(config), "--driver", "tc", "--tag", "app=web"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),  # the fixture's credentials, and no proxy
    )

    assert done.returncode == 0, done.stderr
    assert "# already configured as target web-1" in done.stdout
    assert "- id: web-2\n  address: 10.0.0.11\n  driver: tc\n" in done.stdout
    assert "instance_id: ins-web00002" in done.stdout
    assert "2 target(s) with app=web" in done.stderr


class ThrottledMidWait(tencent_cloud.Client):
    """The real SDK boundary; after the first snapshot poll, the stand-in throttles the next
    polls more times than one read is retried, and the first poll is made to see CREATING
    (so the throttling comes in the middle of the wait, however slow the machine)."""

    def __init__(self, standin, **settings):
        super().__init__(**settings)
        self.standin = standin
        self.polls = 0

    def call(self, service, action, params):
        answer = super().call(service, action, params)
        if action == "DescribeSnapshots" and self.standin.count("CreateSnapshot") == 1:
            self.polls += 1
            if self.polls == 1:
                for snapshot in answer.get("SnapshotSet") or []:
                    snapshot["SnapshotState"] = "CREATING"
                self.standin.throttle("DescribeSnapshots", times=tencent._READ_ATTEMPTS)
        return answer


async def test_a_throttled_poll_in_the_middle_of_the_wait_is_retried(standin, tmp_path, target):
    config = make_driver(standin, tmp_path).config
    cloud = ThrottledMidWait(standin, **tencent.client_settings(config))
    driver = tencent.TencentDriver(config, tmp_path / "state", cloud=cloud)

    point = await driver.checkpoint(target, point_id="rp-1")

    # Each throttled read was retried until it gave up; the wait went on past it.
    assert standin.count("DescribeSnapshots", ok=False) == tencent._READ_ATTEMPTS
    assert cloud.polls >= 2  # a poll answered after the throttled ones
    assert point.data["snapshot_id"]
