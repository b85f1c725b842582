"""The ECS stand-in itself, called with the bare SDK: the preconditions and error codes it
enforces are the documented ones, so a driver that passes against it is held to ECS's rules.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.models import Config as CredentialConfig
from alibabacloud_ecs20140526 import client as ecs_client
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi import exceptions as sdk_errors
from alibabacloud_tea_openapi import models as openapi_models
from darabonba.runtime import RuntimeOptions

from support import aliyun_standin as standins

REGION = standins.REGION


@pytest.fixture
async def ecs(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    standin = standins.EcsStandIn()
    standin.web = standin.add_instance("web-1", tags={"app": "web"})
    async with standin.serve() as endpoint:
        standin.endpoint = endpoint
        yield standin


def client(ecs, *, secret: str = standins.ACCESS_KEY_SECRET, key_id=standins.ACCESS_KEY_ID):
    credential = CredentialClient(
        CredentialConfig(type="access_key", access_key_id=key_id, access_key_secret=secret)
    )
    config = openapi_models.Config(
        credential=credential, region_id=REGION, endpoint=ecs.endpoint, protocol="http"
    )
    return ecs_client.Client(config)


async def call(ecs, action: str, fields: dict, **who):
    """One SDK call in a thread (the stand-in shares this loop); the answer body as a dict."""
    sdk = client(ecs, **who)
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in action).lstrip("_")
    request = getattr(ecs_models, f"{action}Request")().from_map(fields)
    method = getattr(sdk, f"{snake}_with_options")
    response = await asyncio.to_thread(method, request, RuntimeOptions())
    return response.body.to_map()


async def refused(ecs, action: str, fields: dict, **who) -> tuple[str, int]:
    with pytest.raises(sdk_errors.AlibabaCloudException) as raised:
        await call(ecs, action, fields, **who)
    return raised.value.code, raised.value.status_code


async def snapshot_of(ecs, disk_id: str) -> str:
    ecs.slow["snapshot"] = 0  # accomplished at the first look
    created = await call(ecs, "CreateSnapshot", {"DiskId": disk_id})
    listed = await call(ecs, "DescribeSnapshots", {"RegionId": REGION})
    assert {s["Status"] for s in listed["Snapshots"]["Snapshot"]} == {"accomplished"}
    return created["SnapshotId"]


async def test_the_action_travels_in_x_acs_action_and_answers_carry_a_request_id(ecs):
    body = await call(ecs, "DescribeInstanceStatus", {"RegionId": REGION})

    (seen,) = ecs.calls
    assert seen.action == "DescribeInstanceStatus"
    assert body["RequestId"] == seen.request_id
    assert body["InstanceStatuses"]["InstanceStatus"] == [
        {"InstanceId": ecs.web.instance_id, "Status": "Running"}
    ]


async def test_signatures_are_verified(ecs):
    assert await refused(ecs, "DescribeInstances", {"RegionId": REGION}, secret="wrong") == (
        "SignatureDoesNotMatch",
        400,
    )
    assert await refused(ecs, "DescribeInstances", {"RegionId": REGION}, key_id="LTAI-nobody") == (
        "InvalidAccessKeyId.NotFound",
        404,
    )


async def test_reset_disk_needs_a_stopped_instance(ecs):
    disk = ecs.web.system_disk_id
    snapshot = await snapshot_of(ecs, disk)
    fields = {"DiskId": disk, "SnapshotId": snapshot}

    assert await refused(ecs, "ResetDisk", fields) == ("IncorrectInstanceStatus", 403)
    ecs.web.status = "Stopped"
    assert await refused(ecs, "ResetDisk", {**fields, "DryRun": True}) == ("DryRunOperation", 400)
    assert ecs.effects_of("ResetDisk") == []
    await call(ecs, "ResetDisk", fields)
    assert ecs.effects_of("ResetDisk") == [{"disk": disk, "snapshot": snapshot}]


async def test_reset_disk_refuses_a_snapshot_of_another_disk_or_none(ecs):
    ecs.web.status = "Stopped"
    data_disk = next(d.disk_id for d in ecs.disks.values() if d.type == "data")
    foreign = await snapshot_of(ecs, data_disk)
    system = ecs.web.system_disk_id

    assert await refused(ecs, "ResetDisk", {"DiskId": system, "SnapshotId": foreign}) == (
        "InvalidParameter.Mismatch",
        403,
    )
    assert await refused(ecs, "ResetDisk", {"DiskId": system, "SnapshotId": "s-nope"}) == (
        "InvalidSnapshotId.NotFound",
        404,
    )
    assert await refused(ecs, "ResetDisk", {"DiskId": "d-nope", "SnapshotId": foreign}) == (
        "InvalidDiskId.NotFound",
        404,
    )
    assert await refused(ecs, "ResetDisk", {"DiskId": system}) == ("MissingParameter", 400)


async def test_stop_and_start_only_from_the_right_state(ecs):
    iid = ecs.web.instance_id
    assert await refused(ecs, "StartInstance", {"InstanceId": iid}) == (
        "IncorrectInstanceStatus",
        403,
    )
    await call(ecs, "StopInstance", {"InstanceId": iid, "StoppedMode": "KeepCharging"})
    assert ecs.web.status == "Stopping"
    assert await refused(ecs, "StopInstance", {"InstanceId": iid}) == (
        "IncorrectInstanceStatus",
        403,
    )
    await call(ecs, "DescribeInstanceStatus", {"RegionId": REGION, "InstanceId": [iid]})
    await call(ecs, "DescribeInstanceStatus", {"RegionId": REGION, "InstanceId": [iid]})
    assert ecs.web.status == "Stopped"
    assert await refused(ecs, "StopInstance", {"InstanceId": "i-nope"}) == (
        "InvalidInstanceId.NotFound",
        404,
    )


async def test_a_client_token_returns_the_first_answer_and_refuses_other_parameters(ecs):
    disk = ecs.web.system_disk_id
    first = await call(ecs, "CreateSnapshot", {"DiskId": disk, "ClientToken": "t-1"})
    again = await call(ecs, "CreateSnapshot", {"DiskId": disk, "ClientToken": "t-1"})

    assert first["SnapshotId"] == again["SnapshotId"]
    assert len(ecs.effects_of("CreateSnapshot")) == 1
    assert await refused(
        ecs, "CreateSnapshot", {"DiskId": disk, "ClientToken": "t-1", "SnapshotName": "other"}
    ) == ("IdempotentParameterMismatch", 400)


async def test_ram_refusals_and_the_quiet_lists(ecs):
    ecs.deny("ResetDisk", "DescribeSnapshots")
    ecs.web.status = "Stopped"

    assert await refused(ecs, "ResetDisk", {"DiskId": "d-1", "SnapshotId": "s-1"}) == (
        "Forbidden.RAM",
        403,
    )
    listed = await call(ecs, "DescribeSnapshots", {"RegionId": REGION})
    assert listed["Snapshots"]["Snapshot"] == []
    assert await refused(ecs, "DescribeSnapshots", {"RegionId": REGION, "DryRun": True}) == (
        "Forbidden.RAM",
        403,
    )


async def test_list_filters_take_json_arrays_and_tags(ecs):
    ecs.add_instance("db-1", tags={"app": "db"})
    by_id = await call(
        ecs,
        "DescribeInstances",
        {"RegionId": REGION, "InstanceIds": json.dumps([ecs.web.instance_id])},
    )
    by_tag = await call(
        ecs, "DescribeInstances", {"RegionId": REGION, "Tag": [{"Key": "app", "Value": "db"}]}
    )
    system = await call(
        ecs,
        "DescribeDisks",
        {"RegionId": REGION, "InstanceId": ecs.web.instance_id, "DiskType": "system"},
    )

    assert [i["InstanceName"] for i in by_id["Instances"]["Instance"]] == ["web-1"]
    assert [i["InstanceName"] for i in by_tag["Instances"]["Instance"]] == ["db-1"]
    assert [d["DiskId"] for d in system["Disks"]["Disk"]] == [ecs.web.system_disk_id]


async def test_throttling_is_the_documented_answer(ecs):
    ecs.throttle("DescribeInstances", retry_after_ms=1200)

    with pytest.raises(sdk_errors.ThrottlingException) as raised:
        await call(ecs, "DescribeInstances", {"RegionId": REGION})

    assert raised.value.code == "Throttling.User"
    assert raised.value.retry_after == 1200
