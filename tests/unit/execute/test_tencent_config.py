"""The ``kind: tencent`` driver entry: its schema, its registration, its lazy SDK import."""

from __future__ import annotations

import subprocess
import sys

import pydantic
import pytest

from rollsafe.config import models
from rollsafe.execute import registry
from rollsafe.execute.drivers import tencent

_DRIVERS = pydantic.TypeAdapter(models.Driver)


def test_a_minimal_entry_gets_safe_defaults():
    config = _DRIVERS.validate_python({"kind": "tencent", "name": "tc", "region": "ap-guangzhou"})

    assert isinstance(config, models.TencentDriver)
    assert config.strategy == "auto-stop"
    assert config.protocol == "https"
    assert config.endpoints.cvm is None
    assert config.endpoints.cbs is None
    assert config.replace_instance is False
    # The default waits fit inside the default policy.step_timeout (300 s).
    assert max(config.restore_wait, config.instance_wait) < models.Policy().step_timeout


def test_durations_and_endpoints_parse():
    config = _DRIVERS.validate_python(
        {
            "kind": "tencent",
            "name": "tc",
            "region": "ap-shanghai",
            "strategy": "explicit",
            "endpoints": {"cvm": "127.0.0.1:9001", "cbs": "127.0.0.1:9002"},
            "protocol": "http",
            "poll_interval": "500ms",
            "restore_wait": "10m",
            "snapshot_expiry": "7d",
        }
    )

    assert config.poll_interval == 0.5
    assert config.restore_wait == 600
    assert config.snapshot_expiry == 7 * 86400
    assert config.endpoints.cbs == "127.0.0.1:9002"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"snapshot_expiry": "2h"}, "at least 1 day"),
        ({"poll_interval": "10s", "max_poll_interval": "1s"}, "max_poll_interval"),
        ({"restore_wait": 0}, "restore_wait must be greater than 0"),
        ({"region": "Guangzhou"}, "pattern"),
        ({"strategy": "reboot"}, "auto-stop"),
        ({"secret_key": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_refused(extra, message):
    entry = {"kind": "tencent", "name": "tc", "region": "ap-guangzhou", **extra}
    with pytest.raises(pydantic.ValidationError, match=message):
        _DRIVERS.validate_python(entry)


def test_the_last_resort_is_off_by_default_and_adds_a_last_step(tmp_path):
    entry = {"kind": "tencent", "name": "tc", "region": "ap-guangzhou"}
    off = registry.build(_DRIVERS.validate_python(entry), tmp_path)
    on = registry.build(_DRIVERS.validate_python({**entry, "replace_instance": True}), tmp_path)
    target = models.Target(id="web-1", driver="tc", vars={"instance_id": "ins-web00001"})

    assert off.rollback_steps(target, None) == ["apply-snapshot", "start-instance"]
    assert on.rollback_steps(target, None)[-1] == "replace-instance"


def test_the_registry_builds_it_and_finds_its_discovery(tmp_path):
    config = models.TencentDriver(kind="tencent", name="tc", region="ap-guangzhou")

    driver = registry.build(config, tmp_path)

    assert isinstance(driver, tencent.TencentDriver)
    assert (driver.name, driver.kind) == ("tc", "tencent")
    assert registry.discoverer("tencent") is tencent.discover


def test_the_module_imports_without_loading_the_sdk():
    code = (
        "import sys; from rollsafe.execute import registry; "
        "from rollsafe.execute.drivers import tencent; "
        "assert not [m for m in sys.modules if m.startswith('tencentcloud')], 'SDK loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
