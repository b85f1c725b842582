"""Retention deletes cloud snapshots: EC2 through moto's server, Aliyun and Tencent stand-ins."""

from __future__ import annotations

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import driving, registry
from support import aws_ec2_standin
from support.aws_ec2_standin import driver_config

TARGET = "web-1"


@pytest.fixture(scope="module")
def standin():
    with aws_ec2_standin.running() as server:
        yield server


@pytest.fixture
def ec2(standin, monkeypatch):
    return aws_ec2_standin.prepared(standin, monkeypatch)


def _snapshot_ids(ec2) -> set[str]:
    return {
        s["SnapshotId"] for s in ec2.client().describe_snapshots(OwnerIds=["self"])["Snapshots"]
    }


async def test_ec2_snapshot_deleted_and_a_repeat_is_already_gone(ec2, tmp_path):
    instance = ec2.launch(TARGET)
    target = models.Target(id=TARGET, driver="ec2", vars={"instance_id": instance["InstanceId"]})
    driver = registry.build(driver_config(ec2), tmp_path / "state")
    calls: list[str] = []
    token = driving.recording_api_calls(lambda op, details: calls.append(op))
    try:
        old = await driver.checkpoint(target, point_id="rp-old")
        new = await driver.checkpoint(target, point_id="rp-new")
        assert {old.data["snapshot_id"], new.data["snapshot_id"]} <= _snapshot_ids(ec2)

        deleting = driving.deleter(driver)
        assert deleting is not None
        assert await deleting.delete(target, old) == f"deleted snapshot {old.data['snapshot_id']}"
        assert old.data["snapshot_id"] not in _snapshot_ids(ec2)
        assert new.data["snapshot_id"] in _snapshot_ids(ec2)
        assert "already gone" in await deleting.delete(target, old)
        assert calls.count("DeleteSnapshot") == 2  # each call audited through the recorder

        other = models.Target(id="web-2", driver="ec2", vars={"instance_id": "i-0"})
        with pytest.raises(errors.DriverError, match="belongs to target web-1"):
            await deleting.delete(other, new)
    finally:
        driving.reset_api_calls(token)
        await driver.close()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- Alibaba Cloud


@pytest.fixture
async def ecs(monkeypatch):
    from support import aliyun_standin

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", aliyun_standin.ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", aliyun_standin.ACCESS_KEY_SECRET)
    standin = aliyun_standin.EcsStandIn()
    standin.web = standin.add_instance("web-1")
    async with standin.serve() as endpoint:
        standin.endpoint = endpoint
        yield standin


async def test_aliyun_snapshot_deleted_refusals_kept(ecs, tmp_path):
    from support import aliyun_standin

    config = models.AliyunDriver(
        kind="aliyun",
        name="ecs",
        region_id=aliyun_standin.REGION,
        endpoint=ecs.endpoint,
        protocol="http",
        poll_interval=0.01,
        max_poll_interval=0.03,
        snapshot_wait=10,
    )
    driver = registry.build(config, tmp_path / "state")
    target = models.Target(id="web-1", driver="ecs", vars={"instance_id": ecs.web.instance_id})
    old = await driver.checkpoint(target, point_id="rp-old")
    imaged = await driver.checkpoint(target, point_id="rp-imaged")
    deleting = driving.deleter(driver)
    assert deleting is not None

    assert await deleting.delete(target, old) == f"deleted snapshot {old.data['snapshot_id']}"
    assert old.data["snapshot_id"] not in ecs.snapshots
    assert ecs.effects_of("DeleteSnapshot") == [{"snapshot": old.data["snapshot_id"]}]
    assert "already gone" in await deleting.delete(target, old)

    ecs.snapshots[imaged.data["snapshot_id"]].made_image = True
    with pytest.raises(errors.DriverError, match="SnapshotCreatedImage"):
        await deleting.delete(target, imaged)
    assert imaged.data["snapshot_id"] in ecs.snapshots


# --------------------------------------------------------------------------- Tencent Cloud

TC_SECRET_ID = "AKIDrollsafeStandin0001"
TC_SECRET_KEY = "standin-secret-key"


@pytest.fixture
def cbs(monkeypatch):
    from support.tencent_standin import TencentStandin

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", TC_SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", TC_SECRET_KEY)
    with TencentStandin(secret_id=TC_SECRET_ID, secret_key=TC_SECRET_KEY) as s:
        s.add_instance("ins-web00001", name="web-1")
        yield s


async def test_tencent_snapshot_deleted_and_a_repeat_is_already_gone(cbs, tmp_path):
    config = models.TencentDriver(
        kind="tencent",
        name="tc",
        **cbs.driver_settings(),
        poll_interval=0.01,
        max_poll_interval=0.03,
        snapshot_wait=10,
        throttle_retry_after=0.01,
    )
    driver = registry.build(config, tmp_path / "state")
    target = models.Target(id="web-1", driver="tc", vars={"instance_id": "ins-web00001"})
    old = await driver.checkpoint(target, point_id="rp-old")
    new = await driver.checkpoint(target, point_id="rp-new")
    deleting = driving.deleter(driver)
    assert deleting is not None

    assert await deleting.delete(target, old) == f"deleted snapshot {old.data['snapshot_id']}"
    assert old.data["snapshot_id"] not in cbs.snapshots
    assert new.data["snapshot_id"] in cbs.snapshots
    assert "already gone" in await deleting.delete(target, old)
    deletes = [c for c in cbs.calls if c.action == "DeleteSnapshots"]
    assert len(deletes) == 1  # the repeat looked first and did not call again

    cbs.snapshots[new.data["snapshot_id"]].state = "ROLLBACKING"
    with pytest.raises(errors.DriverError, match=r"InvalidSnapshot\.NotSupported"):
        await deleting.delete(target, new)
    assert new.data["snapshot_id"] in cbs.snapshots
