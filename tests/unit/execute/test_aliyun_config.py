"""The aliyun driver's configuration, registration, SDK surface and local bookkeeping."""

from __future__ import annotations

import pydantic
import pytest
from alibabacloud_ecs20140526 import client as ecs_client
from alibabacloud_ecs20140526 import models as ecs_models

from rollsafe.config import models
from rollsafe.domain import errors, ids, restore_points
from rollsafe.execute import registry
from rollsafe.execute.drivers import aliyun

DRIVERS: pydantic.TypeAdapter[models.Driver] = pydantic.TypeAdapter(models.Driver)


def config(**fields) -> models.AliyunDriver:
    base = {"kind": "aliyun", "name": "ecs", "region_id": "cn-hangzhou"}
    return models.AliyunDriver.model_validate({**base, **fields})


def target(**vars_) -> models.Target:
    return models.Target(id="web-1", driver="ecs", vars=vars_)


def test_the_driver_union_accepts_an_aliyun_entry_with_safe_defaults():
    parsed = DRIVERS.validate_python({"kind": "aliyun", "name": "ecs", "region_id": "cn-beijing"})

    assert isinstance(parsed, models.AliyunDriver)
    assert parsed.protocol == "https"
    assert parsed.endpoint is None
    assert parsed.stopped_mode == "KeepCharging"
    assert parsed.replace_system_disk is False
    # The rollback's longest wait must fit in the default policy.step_timeout (300 s).
    assert parsed.instance_wait < models.Policy().step_timeout
    assert parsed.restore_wait < models.Policy().step_timeout


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"region_id": "Hangzhou"}, "region_id"),
        ({"endpoint": "http://127.0.0.1:8080"}, "endpoint"),
        ({"protocol": "ftp"}, "protocol"),
        ({"stopped_mode": "Hibernate"}, "stopped_mode"),
        ({"poll_interval": 0}, "poll_interval must be greater than 0"),
        ({"poll_interval": 10, "max_poll_interval": 5}, "max_poll_interval"),
        ({"upgrade_timeout": 5}, "upgrade_timeout"),
        ({"access_key_secret": "x"}, "access_key_secret"),  # credentials never go in the file
    ],
)
def test_mistakes_are_refused(fields, problem):
    with pytest.raises(pydantic.ValidationError, match=problem):
        config(**fields)


def test_the_registry_builds_it_and_finds_its_discover(tmp_path):
    driver = registry.build(config(), tmp_path)

    assert isinstance(driver, aliyun.AliyunDriver)
    assert (driver.name, driver.kind) == ("ecs", "aliyun")
    assert registry.discoverer("aliyun") is aliyun.discover


def test_the_factory_refuses_another_kind(tmp_path):
    other = models.LocalDriver(kind="local", name="files", rollback="true")

    with pytest.raises(errors.ConfigError, match="not a `kind: aliyun` driver"):
        aliyun.make_driver(other, tmp_path)


def test_every_action_the_driver_calls_exists_in_this_sdk():
    actions = {a for used in aliyun.RAM_ACTIONS.values() for a in used}
    for action in actions:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in action).lstrip("_")
        assert hasattr(ecs_client.Client, f"{snake}_with_options"), action
        assert hasattr(ecs_models, f"{action}Request"), action
    assert {"StopInstance", "ResetDisk", "StartInstance", "CreateSnapshot"} <= actions


def test_the_instance_comes_from_the_target_vars():
    assert aliyun.instance_id_of(target(instance_id="i-bp1abc")) == "i-bp1abc"
    with pytest.raises(errors.DriverError, match=r"vars: \{instance_id: i-\.\.\.\}"):
        aliyun.instance_id_of(target())


def test_the_upgrade_command_becomes_one_script():
    t = models.Target(id="web-1", labels={"release": "2.1"}, vars={"instance_id": "i-1"})

    assert aliyun.upgrade_script("apt-get install -y app={release}", t) == (
        "apt-get install -y app=2.1"
    )
    assert aliyun.upgrade_script(["sh", "-c", "echo {id} > /tmp/x"], t) == (
        "sh -c 'echo web-1 > /tmp/x'"
    )
    assert aliyun.upgrade_script("f() {{ true; }}; f", t) == "f() { true; }; f"
    with pytest.raises(errors.DriverError, match="unknown or invalid template variable"):
        aliyun.upgrade_script("echo {nope}", t)


def test_steps_are_fixed_for_every_point(tmp_path):
    driver = aliyun.AliyunDriver(config(), tmp_path)
    point = restore_points.RestorePoint(
        id=ids.RestorePointId("rp-1"), target=ids.TargetId("web-1"), driver="ecs", created_at=0
    )

    assert driver.rollback_steps(target(), point) == (
        "stop-instance",
        "reset-system-disk",
        "start-instance",
    )


def point_for(**data) -> restore_points.RestorePoint:
    full = {
        "region_id": "cn-hangzhou",
        "instance_id": "i-1",
        "disk_id": "d-1",
        "snapshot_id": "s-1",
        **data,
    }
    return restore_points.RestorePoint(
        id=ids.RestorePointId("rp-1"),
        target=ids.TargetId(full.pop("target", "web-1")),
        driver=full.pop("driver", "ecs"),
        created_at=0,
        data=full,
    )


@pytest.mark.parametrize(
    ("point", "problem"),
    [
        (point_for(target="db-1"), "belongs to target db-1"),
        (point_for(driver="other"), "taken by driver other"),
        (point_for(snapshot_id=""), "records no snapshot_id"),
        (point_for(instance_id="i-2"), "is of instance i-2, but target web-1 is now instance i-1"),
        (point_for(region_id="cn-beijing"), "is in region cn-beijing"),
    ],
)
async def test_a_foreign_or_incomplete_point_fails_precheck_before_any_call(
    tmp_path, point, problem
):
    # Port 1 refuses connections: reaching the network would fail differently.
    driver = aliyun.AliyunDriver(config(endpoint="127.0.0.1:1", protocol="http"), tmp_path)

    with pytest.raises(errors.PrecheckFailed, match=problem):
        await driver.precheck(target(instance_id="i-1"), point)
    with pytest.raises(errors.DriverError, match=problem):
        await driver.rollback(target(instance_id="i-1"), point, step="stop-instance", key="k")


async def test_an_unknown_step_is_refused(tmp_path):
    driver = aliyun.AliyunDriver(config(endpoint="127.0.0.1:1", protocol="http"), tmp_path)

    with pytest.raises(errors.DriverError, match="no rollback step 'reboot'"):
        await driver.rollback(target(instance_id="i-1"), point_for(), step="reboot", key="k")


async def test_a_driver_without_upgrade_says_so(tmp_path):
    driver = aliyun.AliyunDriver(config(), tmp_path)

    with pytest.raises(errors.DriverError, match="no `upgrade` command"):
        await driver.upgrade(target(instance_id="i-1"), key="k")


async def test_status_without_an_instance_reports_instead_of_raising(tmp_path):
    driver = aliyun.AliyunDriver(config(), tmp_path)

    status = await driver.status(target())

    assert status["region_id"] == "cn-hangzhou"
    assert "instance_id" in status["error"]
