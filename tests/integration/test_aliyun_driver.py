"""The aliyun driver through the real Alibaba Cloud SDK against the local ECS stand-in.

Every call is signed by the SDK (ACS3-HMAC-SHA256) and verified by the stand-in, which keeps
instances, disks and snapshots and refuses what ECS documents refusing. Checkpoint, precheck,
the three rollback steps, idempotency by key, the last resort, upgrade, status and discovery.
"""

from __future__ import annotations

import asyncio

import pytest

from rollsafe.config import models
from rollsafe.domain import errors, restore_points
from rollsafe.execute import driving, registry
from rollsafe.execute.drivers import aliyun
from rollsafe.reach.clouds import aliyun as aliyun_cloud
from support import aliyun_standin as standins

STEPS = aliyun.STEPS


@pytest.fixture
def credentials(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", standins.ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", standins.ACCESS_KEY_SECRET)


@pytest.fixture
async def ecs(credentials):
    standin = standins.EcsStandIn()
    standin.web = standin.add_instance("web-1", tags={"app": "web", "tier": "front"})
    async with standin.serve() as endpoint:
        standin.endpoint = endpoint
        yield standin


@pytest.fixture
def target(ecs):
    return models.Target(id="web-1", driver="ecs", vars={"instance_id": ecs.web.instance_id})


@pytest.fixture
def calls():
    """Every API call the driver reports, as (operation, details)."""
    seen: list[tuple[str, dict]] = []
    token = driving.recording_api_calls(lambda op, details: seen.append((op, dict(details))))
    yield seen
    driving.reset_api_calls(token)


def make_driver(ecs, tmp_path, **overrides) -> aliyun.AliyunDriver:
    settings = {
        "kind": "aliyun",
        "name": "ecs",
        "region_id": standins.REGION,
        "endpoint": ecs.endpoint,
        "protocol": "http",
        "poll_interval": 0.01,
        "max_poll_interval": 0.03,
        "snapshot_wait": 10,
        "restore_wait": 10,
        "instance_wait": 10,
        **overrides,
    }
    built = registry.build(models.AliyunDriver(**settings), tmp_path / "state")
    assert isinstance(built, aliyun.AliyunDriver)
    return built


async def roll_back(driver, target, point, *, run="run-1") -> list[str]:
    return [
        await driver.rollback(target, point, step=step, key=f"{run}/{i}/{step}")
        for i, step in enumerate(STEPS)
    ]


# --------------------------------------------------------------------------- checkpoint


async def test_checkpoint_snapshots_the_system_disk_and_waits_for_it(ecs, target, tmp_path, calls):
    driver = make_driver(ecs, tmp_path)
    disk = ecs.system_disk(ecs.web.instance_id)

    point = await driver.checkpoint(target, point_id="rp-1", label="before 2.1")

    snapshot = ecs.snapshots[point.data["snapshot_id"]]
    assert snapshot.disk_id == disk.disk_id
    assert snapshot.disk_type == "system"
    assert snapshot.status == "accomplished"
    assert snapshot.content == disk.content
    assert snapshot.name == "rollsafe-web-1-rp-1"
    assert "before 2.1" in snapshot.description
    assert point.data == {
        "region_id": standins.REGION,
        "instance_id": ecs.web.instance_id,
        "disk_id": disk.disk_id,
        "snapshot_id": snapshot.snapshot_id,
        "image_id": "m-base-image",
        "disk_size_gib": 40,
    }
    assert (point.id, point.target, point.driver) == ("rp-1", "web-1", "ecs")
    # Every call the stand-in answered is in the audit with its request id, in order.
    assert [(op, d["request_id"]) for op, d in calls] == [
        (c.action, c.request_id) for c in ecs.calls
    ]
    assert [op for op, _ in calls][:3] == ["DescribeInstances", "DescribeDisks", "CreateSnapshot"]


async def test_a_failed_snapshot_fails_the_checkpoint(ecs, target, tmp_path):
    ecs.fail_next_snapshot = True

    with pytest.raises(errors.DriverError, match="failed; no restore point was taken"):
        await make_driver(ecs, tmp_path).checkpoint(target, point_id="rp-1")


async def test_a_snapshot_that_never_completes_times_out(ecs, target, tmp_path):
    ecs.slow["snapshot"] = None  # progressing until released

    with pytest.raises(
        errors.DriverError,
        match=r"gave up waiting for snapshot .* after 0.2s \(last seen: progressing",
    ):
        await make_driver(ecs, tmp_path, snapshot_wait=0.2).checkpoint(target, point_id="rp-1")


async def test_a_throttled_or_unanswered_create_is_repeated_with_its_client_token(
    ecs, target, tmp_path
):
    ecs.throttle("CreateSnapshot")
    ecs.drop_answer("CreateSnapshot")  # the second attempt takes effect, its answer is lost

    point = await make_driver(ecs, tmp_path).checkpoint(target, point_id="rp-1")

    creates = ecs.calls_of("CreateSnapshot")
    assert [c.code for c in creates] == ["Throttling.User", None, None]
    assert len({c.params["ClientToken"] for c in creates}) == 1
    assert len(ecs.effects_of("CreateSnapshot")) == 1  # one snapshot, however many requests
    assert point.data["snapshot_id"] == ecs.effects_of("CreateSnapshot")[0]["snapshot"]


async def test_checkpoint_of_an_unknown_instance_says_which(ecs, tmp_path):
    ghost = models.Target(id="ghost", driver="ecs", vars={"instance_id": "i-bp0000000ghost"})

    with pytest.raises(errors.DriverError, match="i-bp0000000ghost does not exist in region"):
        await make_driver(ecs, tmp_path).checkpoint(ghost, point_id="rp-1")


# --------------------------------------------------------------------------- precheck


async def test_precheck_passes_for_a_fresh_point_and_acts_on_nothing(ecs, target, tmp_path, calls):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    effects = list(ecs.effects)

    await driver.precheck(target, point)

    assert ecs.effects == effects
    dry = [(op, d.get("code")) for op, d in calls if d.get("dry_run")]
    assert dry == [
        ("StopInstance", "DryRunOperation"),
        # Running: ResetDisk and StartInstance can only have their permission checked now.
        ("ResetDisk", "IncorrectInstanceStatus"),
        ("StartInstance", "IncorrectInstanceStatus"),
    ]


async def test_precheck_of_a_stopped_instance_dry_runs_reset_and_start_in_full(
    ecs, target, tmp_path, calls
):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    ecs.web.status = "Stopped"

    await driver.precheck(target, point)

    dry = [(op, d.get("code")) for op, d in calls if d.get("dry_run")]
    assert dry == [
        ("StopInstance", "IncorrectInstanceStatus"),
        ("ResetDisk", "DryRunOperation"),
        ("StartInstance", "DryRunOperation"),
    ]


async def test_precheck_fails_when_the_snapshot_is_gone(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    del ecs.snapshots[point.data["snapshot_id"]]

    with pytest.raises(errors.PrecheckFailed, match="no longer exists"):
        await driver.precheck(target, point)


async def test_precheck_fails_for_a_snapshot_of_another_disk(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    data_disk = next(d for d in ecs.disks.values() if d.type == "data")
    other = ecs.snapshots[point.data["snapshot_id"]]
    other.disk_id = data_disk.disk_id  # as if the point named a data disk's snapshot

    with pytest.raises(errors.PrecheckFailed, match=f"was taken of disk {data_disk.disk_id}"):
        await driver.precheck(target, point)


async def test_precheck_fails_when_the_system_disk_was_replaced_since(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    old = ecs.disks.pop(ecs.web.system_disk_id)
    old.disk_id = "d-bp000000000new"
    ecs.disks[old.disk_id] = old
    ecs.web.system_disk_id = old.disk_id

    with pytest.raises(errors.PrecheckFailed, match="system disk was replaced since"):
        await driver.precheck(target, point)


async def test_precheck_fails_while_the_snapshot_is_still_progressing(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    ecs.snapshots[point.data["snapshot_id"]].status = "progressing"
    ecs.snapshots[point.data["snapshot_id"]].polls_left = None

    with pytest.raises(errors.PrecheckFailed, match=r"is progressing .* not accomplished"):
        await driver.precheck(target, point)


async def test_precheck_fails_for_an_instance_locked_for_security(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    ecs.web.locked = True

    with pytest.raises(errors.PrecheckFailed, match="locked for security reasons"):
        await driver.precheck(target, point)


@pytest.mark.parametrize("action", ["StopInstance", "ResetDisk", "StartInstance"])
async def test_precheck_finds_a_missing_permission_before_any_effect(ecs, target, tmp_path, action):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    ecs.deny(action)

    with pytest.raises(errors.PrecheckFailed, match=f"Forbidden.RAM.*ecs:{action}"):
        await driver.precheck(target, point)
    assert not ecs.effects_of(action)


@pytest.mark.parametrize("quiet", [True, False])
async def test_precheck_tells_a_hidden_snapshot_from_a_deleted_one(ecs, target, tmp_path, quiet):
    # ECS lists nothing, instead of refusing, to a RAM user who may not list snapshots.
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    ecs.quiet_denials = quiet
    ecs.deny("DescribeSnapshots")

    with pytest.raises(errors.PrecheckFailed, match=r"Forbidden\.RAM.*ecs:DescribeSnapshots"):
        await driver.precheck(target, point)


# --------------------------------------------------------------------------- rollback


async def test_the_three_steps_restore_the_system_disk(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    before = list(ecs.system_disk(ecs.web.instance_id).content)
    ecs.system_disk(ecs.web.instance_id).content.append("upgraded to 2.1 BROKEN")

    outputs = await roll_back(driver, target, point)

    assert ecs.system_disk(ecs.web.instance_id).content == before
    assert ecs.web.status == "Running"
    assert outputs[0] == f"stopped instance {ecs.web.instance_id} (StoppedMode KeepCharging)"
    assert point.data["snapshot_id"] in outputs[1]
    assert outputs[2] == f"started instance {ecs.web.instance_id}: Running"
    assert ecs.effects_of("StopInstance") == [
        {"instance": ecs.web.instance_id, "mode": "KeepCharging"}
    ]
    assert ecs.effects_of("ResetDisk") == [
        {"disk": point.data["disk_id"], "snapshot": point.data["snapshot_id"]}
    ]
    assert len(ecs.effects_of("StartInstance")) == 1


async def test_every_step_again_with_its_key_acts_no_more(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    first = await roll_back(driver, target, point)
    effects = list(ecs.effects)

    again = await roll_back(make_driver(ecs, tmp_path), target, point)  # a new process

    assert ecs.effects == effects
    assert again == first
    # A new key looks at the instance instead: running, so the start has nothing to do.
    start = await driver.rollback(target, point, step="start-instance", key="run-2/2/start")
    assert start == f"instance {ecs.web.instance_id} was already running"


async def test_stop_and_start_look_before_they_ask(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    ecs.web.status = "Stopped"

    stopped = await driver.rollback(target, point, step="stop-instance", key="r/0/stop-instance")

    assert stopped == f"instance {ecs.web.instance_id} was already stopped"
    assert not ecs.effects_of("StopInstance")


async def test_slow_transitions_are_waited_for(ecs, target, tmp_path):
    ecs.slow.update(stop=4, start=4, reset=3)
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")

    await roll_back(driver, target, point)

    assert ecs.web.status == "Running"
    assert ecs.system_disk(ecs.web.instance_id).status == "In_use"
    statuses = ecs.calls_of("DescribeInstanceStatus")
    assert len(statuses) >= 8


async def test_an_instance_that_never_stops_fails_the_step(ecs, target, tmp_path):
    ecs.slow["stop"] = None
    driver = make_driver(ecs, tmp_path, instance_wait=0.2)
    point = await driver.checkpoint(target, point_id="rp-1")

    with pytest.raises(
        errors.DriverError,
        match=r"gave up waiting for instance .* to stop after 0.2s \(last seen: Stopping",
    ):
        await driver.rollback(target, point, step="stop-instance", key="r/0/stop-instance")


async def test_the_reset_refuses_a_running_instance(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")

    with pytest.raises(errors.DriverError, match="is Running, not Stopped"):
        await driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")
    assert not ecs.effects_of("ResetDisk")


async def test_a_throttled_reset_is_temporary_and_then_done_once(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.rollback(target, point, step="stop-instance", key="r/0/stop-instance")
    ecs.throttle("ResetDisk", retry_after_ms=1500)

    with pytest.raises(errors.DriverTemporaryError, match=r"Throttling\.User") as raised:
        await driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")
    assert raised.value.retry_after == 1.5
    await driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")

    assert len(ecs.effects_of("ResetDisk")) == 1


async def test_an_unanswered_reset_is_repeated_only_on_the_untouched_stopped_instance(
    ecs, target, tmp_path
):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.rollback(target, point, step="stop-instance", key="r/0/stop-instance")
    ecs.drop_answer("ResetDisk")

    with pytest.raises(errors.DriverTemporaryError, match="ResetDisk got no answer"):
        await driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")
    output = await driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")

    # Same snapshot onto a disk nothing wrote to since: the same end state as one reset.
    assert output.endswith("(repeated after an unanswered attempt)")
    assert len(ecs.effects_of("ResetDisk")) == 2


async def test_an_unanswered_reset_after_which_the_instance_ran_needs_a_person(
    ecs, target, tmp_path
):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.rollback(target, point, step="stop-instance", key="r/0/stop-instance")
    ecs.drop_answer("ResetDisk")
    with pytest.raises(errors.DriverTemporaryError):
        await driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")
    # Someone starts the instance (it writes to its disk) and stops it again.
    await driver.rollback(target, point, step="start-instance", key="x/2/start")
    await driver.rollback(target, point, step="stop-instance", key="x/0/stop")

    with pytest.raises(errors.DriverError, match="has been started since"):
        await driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")
    assert len(ecs.effects_of("ResetDisk")) == 1


async def test_a_cancelled_reset_is_finished_before_the_retry_sees_the_key(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.rollback(target, point, step="stop-instance", key="r/0/stop-instance")
    ecs.slow["reset"] = None  # the disk stays ReIniting: the step waits

    step = asyncio.create_task(
        driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")
    )
    while not ecs.effects_of("ResetDisk"):
        ecs.changed.clear()
        await ecs.changed.wait()
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step
    ecs.release("reset")
    output = await driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")

    assert point.data["snapshot_id"] in output
    assert len(ecs.effects_of("ResetDisk")) == 1  # the journal said "sent": no second reset


async def test_the_last_resort_replaces_the_system_disk_from_the_image(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path, replace_system_disk=True)
    point = await driver.checkpoint(target, point_id="rp-1")
    ecs.system_disk(ecs.web.instance_id).content.append("BROKEN")
    del ecs.snapshots[point.data["snapshot_id"]]

    await driver.precheck(target, point)
    outputs = await roll_back(driver, target, point)

    assert outputs[1].startswith("LAST RESORT: snapshot")
    assert "replaced the system disk" in outputs[1]
    assert ecs.web.system_disk_id != point.data["disk_id"]
    assert ecs.system_disk(ecs.web.instance_id).content == ["image:m-base-image"]
    assert ecs.web.status == "Running"
    assert len(ecs.effects_of("ReplaceSystemDisk")) == 1
    assert not ecs.effects_of("ResetDisk")
    await roll_back(driver, target, point)
    assert len(ecs.effects_of("ReplaceSystemDisk")) == 1


async def test_without_the_last_resort_a_gone_snapshot_stops_the_step(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.rollback(target, point, step="stop-instance", key="r/0/stop-instance")
    del ecs.snapshots[point.data["snapshot_id"]]

    with pytest.raises(errors.DriverError, match="no longer exists"):
        await driver.rollback(target, point, step="reset-system-disk", key="r/1/reset")
    assert not ecs.effects_of("ReplaceSystemDisk")


async def test_the_last_resort_needs_a_usable_image(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path, replace_system_disk=True)
    point = await driver.checkpoint(target, point_id="rp-1")
    del ecs.snapshots[point.data["snapshot_id"]]
    del ecs.images["m-base-image"]

    with pytest.raises(errors.PrecheckFailed, match="image m-base-image is not found"):
        await driver.precheck(target, point)


# --------------------------------------------------------------------------- upgrade, status


async def test_upgrade_runs_the_command_on_the_instance_once_per_key(ecs, target, tmp_path):
    driver = make_driver(ecs, tmp_path, upgrade="apt-get install -y app=2.1 # on {id}")

    output = await driver.upgrade(target, key="rollout-1/web-1/upgrade")
    again = await driver.upgrade(target, key="rollout-1/web-1/upgrade")

    assert output == again == f"ran on {ecs.web.instance_id}"
    assert ecs.effects_of("RunCommand") == [
        {"instance": ecs.web.instance_id, "script": "apt-get install -y app=2.1 # on web-1"}
    ]
    assert ecs.system_disk(ecs.web.instance_id).content[-1].startswith("apt-get install")


async def test_a_failed_upgrade_command_is_a_driver_error(ecs, target, tmp_path):
    ecs.command_outcome = ("Failed", 100, "E: Unable to locate package app\n")
    driver = make_driver(ecs, tmp_path, upgrade="apt-get install -y app")

    with pytest.raises(
        errors.DriverError, match=r"(?s)ended Failed \(exit code 100.*Unable to locate"
    ):
        await driver.upgrade(target, key="k")


async def test_status_reports_the_instance(ecs, target, tmp_path):
    status = await make_driver(ecs, tmp_path).status(target)

    assert status == {
        "region_id": standins.REGION,
        "instance_id": ecs.web.instance_id,
        "status": "Running",
        "image_id": "m-base-image",
        "name": "web-1",
    }


async def test_wrong_credentials_are_refused_and_never_echoed(ecs, target, tmp_path, monkeypatch):
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret-0123")

    with pytest.raises(errors.DriverError, match="SignatureDoesNotMatch") as raised:
        await make_driver(ecs, tmp_path).checkpoint(target, point_id="rp-1")
    assert "not-the-secret-0123" not in str(raised.value)


# --------------------------------------------------------------------------- discovery


async def test_discover_lists_tagged_instances_as_targets_across_pages(ecs, tmp_path):
    ecs.max_page_size = 2
    ecs.add_instance("web-2", tags={"app": "web", "acs:autoscaling": "x"})
    ecs.add_instance("web 3 (临时)", tags={"app": "web"})
    ecs.add_instance("db-1", tags={"app": "db"})
    config = make_driver(ecs, tmp_path).config

    found = await aliyun.discover(config, tags={"app": "web"})

    by_id = {t.id: t for t in found}
    assert len(found) == 3
    assert by_id["web-1"].labels == {"app": "web", "tier": "front"}
    assert by_id["web-1"].vars == {"instance_id": ecs.web.instance_id}
    assert by_id["web-1"].address == ecs.web.private_ip
    assert by_id["web-1"].driver == "ecs"
    assert by_id["web-2"].labels == {"app": "web"}  # acs: system tags left out
    odd = next(i for i in ecs.instances.values() if i.name.startswith("web 3"))
    assert odd.instance_id in by_id  # a name that is no target id: the instance id instead


async def test_discover_without_tags_lists_the_region(ecs, tmp_path):
    found = await aliyun.discover(make_driver(ecs, tmp_path).config, tags={})

    assert [t.id for t in found] == ["web-1"]


def test_restore_point_data_is_json(ecs):
    point = restore_points.RestorePoint(
        id="rp-1", target="web-1", driver="ecs", created_at=0, data={"snapshot_id": "s-1"}
    )
    assert point.to_json()["data"] == {"snapshot_id": "s-1"}


class ThrottledMidWait(aliyun_cloud.Client):
    """The real SDK boundary; once the first snapshot poll has seen it progressing, the
    stand-in throttles the next poll (no retry inside the call: ``api_retries: 0``)."""

    def __init__(self, ecs, **settings):
        super().__init__(**settings)
        self.ecs = ecs
        self.polls: list[str] = []

    def invoke(self, action, params):
        result = super().invoke(action, params)
        if action == "DescribeSnapshots" and any(
            a == "CreateSnapshot" for a, _ in self.ecs.effects
        ):
            self.polls.append(result.code or "ok")
            if len(self.polls) == 1:
                self.ecs.throttle("DescribeSnapshots")
        return result


async def test_a_throttled_poll_in_the_middle_of_the_wait_is_retried(ecs, target, tmp_path):
    ecs.slow["snapshot"] = 3  # progressing for three looks
    config = make_driver(ecs, tmp_path, api_retries=0).config
    client = ThrottledMidWait(ecs, **aliyun.client_settings(config))
    driver = aliyun.AliyunDriver(config, tmp_path / "state", client=client)

    point = await driver.checkpoint(target, point_id="rp-1")

    assert client.polls[:2] == ["ok", "Throttling.User"]
    assert client.polls[-1] == "ok"
    assert point.data["snapshot_id"]
