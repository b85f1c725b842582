"""Checkpoints of the aws driver: the root volume's snapshot, waited until completed."""

from __future__ import annotations

import asyncio

import pytest
from aws_stubbing import (
    DEVICE,
    INSTANCE,
    ROOT,
    SNAPSHOT,
    TARGET,
    Recorder,
    instance,
    make_driver,
    meta,
    snapshot,
)

from rollsafe.domain import errors
from rollsafe.execute.drivers import aws


def _up_to_create(stub) -> None:
    stub.add_response("describe_instances", instance(), {"InstanceIds": [INSTANCE]})
    stub.add_response(
        "describe_volumes",
        {"Volumes": [{"VolumeId": ROOT, "VolumeType": "gp3", "Size": 8, "Iops": 3000}]},
        {"VolumeIds": [ROOT]},
    )
    stub.add_response("describe_snapshots", {"Snapshots": []})
    stub.add_response(
        "create_snapshot",
        {"SnapshotId": SNAPSHOT, "VolumeId": ROOT, "State": "pending", **meta("req-create")},
        {
            "VolumeId": ROOT,
            "Description": f"rollsafe restore point rp-1 of web-1 ({INSTANCE} {DEVICE})",
            "TagSpecifications": [
                {
                    "ResourceType": "snapshot",
                    "Tags": [
                        {"Key": "Name", "Value": "rollsafe web-1 rp-1"},
                        {"Key": aws.TAG_TARGET, "Value": "web-1"},
                        {"Key": aws.TAG_POINT, "Value": "rp-1"},
                        {"Key": aws.TAG_INSTANCE, "Value": INSTANCE},
                        {"Key": aws.TAG_DRIVER, "Value": "ec2"},
                        {"Key": aws.TAG_DEVICE, "Value": DEVICE},
                        {"Key": aws.TAG_ROLLOUT, "Value": "ro-7"},
                        {"Key": aws.TAG_LABEL, "Value": "before rollout ro-7"},
                    ],
                }
            ],
        },
    )


async def test_the_snapshot_is_waited_for_until_completed(tmp_path):
    driver, stub = make_driver(tmp_path)
    recorder = Recorder()
    _up_to_create(stub)
    for state in ("pending", "pending", "completed"):
        stub.add_response("describe_snapshots", snapshot(state), {"SnapshotIds": [SNAPSHOT]})
    try:
        point = await driver.checkpoint(TARGET, point_id="rp-1", label="before rollout ro-7")
    finally:
        recorder.close()

    stub.assert_no_pending_responses()
    assert point.data["snapshot_id"] == SNAPSHOT
    assert point.data["volume_id"] == ROOT
    assert point.data["root_device"] == DEVICE
    assert point.data["volume_type"] == "gp3"
    assert point.data["snapshot_started"] == "2026-01-01T00:00:00+00:00"
    assert point.label == "before rollout ro-7"
    assert ("CreateSnapshot", "req-create") in [(op, d["request_id"]) for op, d in recorder.calls]
    created = dict(recorder.calls)["CreateSnapshot"]
    assert created["created_snapshot_id"] == SNAPSHOT


async def test_a_snapshot_in_error_fails_the_checkpoint_and_is_deleted(tmp_path):
    driver, stub = make_driver(tmp_path)
    _up_to_create(stub)
    stub.add_response("describe_snapshots", snapshot("pending"))
    stub.add_response("describe_snapshots", snapshot("error", StateMessage="volume busy"))
    stub.add_response("delete_snapshot", {}, {"SnapshotId": SNAPSHOT})

    with pytest.raises(errors.DriverError, match=f"snapshot {SNAPSHOT} failed: volume busy"):
        await driver.checkpoint(TARGET, point_id="rp-1", label="before rollout ro-7")
    stub.assert_no_pending_responses()


async def test_a_snapshot_still_pending_at_the_deadline_is_given_up_and_deleted(tmp_path):
    driver, stub = make_driver(tmp_path, snapshot_wait=0.05)
    _up_to_create(stub)
    for _ in range(300):
        stub.add_response("describe_snapshots", snapshot("pending"))

    with pytest.raises(errors.DriverError, match=r"gave up waiting for snapshot .*pending 42%"):
        await driver.checkpoint(TARGET, point_id="rp-1", label="before rollout ro-7")


async def test_a_retried_checkpoint_reuses_its_snapshot(tmp_path):
    driver, stub = make_driver(tmp_path)
    stub.add_response("describe_instances", instance())
    stub.add_response("describe_volumes", {"Volumes": [{"VolumeId": ROOT, "VolumeType": "gp2"}]})
    stub.add_response(
        "describe_snapshots",
        {"Snapshots": [{"SnapshotId": SNAPSHOT, "State": "pending"}]},
        {
            "OwnerIds": ["self"],
            "Filters": [
                {"Name": f"tag:{aws.TAG_POINT}", "Values": ["rp-1"]},
                {"Name": f"tag:{aws.TAG_DRIVER}", "Values": ["ec2"]},
            ],
        },
    )
    stub.add_response("describe_snapshots", snapshot("completed"), {"SnapshotIds": [SNAPSHOT]})

    point = await driver.checkpoint(TARGET, point_id="rp-1")

    stub.assert_no_pending_responses()  # no second CreateSnapshot
    assert point.data["snapshot_id"] == SNAPSHOT


async def test_an_instance_store_root_cannot_be_checkpointed(tmp_path):
    driver, stub = make_driver(tmp_path)
    answer = instance()
    answer["Reservations"][0]["Instances"][0]["RootDeviceType"] = "instance-store"
    stub.add_response("describe_instances", answer)

    with pytest.raises(errors.DriverError, match="instance-store root"):
        await driver.checkpoint(TARGET, point_id="rp-1")


async def test_an_instance_without_root_volume_cannot_be_checkpointed(tmp_path):
    driver, stub = make_driver(tmp_path)
    stub.add_response("describe_instances", instance(root=None))

    with pytest.raises(errors.DriverError, match=f"no volume attached at its root device {DEVICE}"):
        await driver.checkpoint(TARGET, point_id="rp-1")


async def test_a_cancelled_checkpoint_deletes_its_snapshot(tmp_path):
    driver, stub = make_driver(tmp_path, poll_interval=30, max_poll_interval=30)
    _up_to_create(stub)
    stub.add_response("describe_snapshots", snapshot("pending"))
    stub.add_response("delete_snapshot", {}, {"SnapshotId": SNAPSHOT})
    polled = asyncio.Event()
    recorder = Recorder(on_call=lambda op, d: polled.set() if "snapshot_ids" in d else None)
    try:
        taking = asyncio.create_task(
            driver.checkpoint(TARGET, point_id="rp-1", label="before rollout ro-7")
        )
        waiting = asyncio.create_task(polled.wait())
        # until the snapshot exists and is pending (the driver then waits 30s), or a failure
        await asyncio.wait([taking, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        assert not taking.done(), taking
        taking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await taking
    finally:
        recorder.close()

    stub.assert_no_pending_responses()
    assert recorder.operations()[-1] == "DeleteSnapshot"


async def test_a_throttled_poll_in_the_middle_of_the_wait_is_retried(tmp_path):
    driver, stub = make_driver(tmp_path)
    _up_to_create(stub)
    stub.add_response("describe_snapshots", snapshot("pending"), {"SnapshotIds": [SNAPSHOT]})
    for _ in range(2):
        stub.add_client_error(
            "describe_snapshots",
            service_error_code="RequestLimitExceeded",
            service_message="Request limit exceeded.",
            http_status_code=503,
        )
    stub.add_response("describe_snapshots", snapshot("completed"), {"SnapshotIds": [SNAPSHOT]})

    point = await driver.checkpoint(TARGET, point_id="rp-1", label="before rollout ro-7")

    stub.assert_no_pending_responses()  # every poll was made, the throttled ones included
    assert point.data["snapshot_id"] == SNAPSHOT
