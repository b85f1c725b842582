"""A driver's wait inside one rollback step must fit the executor's ``policy.step_timeout``."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollsafe.config import loading
from rollsafe.domain import errors

TARGET = """\
targets:
  - id: web-1
    driver: d
    vars: {instance_id: i-1, deployment: web}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(errors.ConfigError) as caught:
        loading.load(path)
    return [p.removeprefix(f"{path}:") for p in caught.value.problems]


def loads(tmp_path: Path, text: str) -> None:
    loading.load(write(tmp_path, text))


def config(driver: str, policy: str = "") -> str:
    return TARGET + "drivers:\n  - name: d\n" + driver + policy


AWS = "    kind: aws\n"
TENCENT = "    kind: tencent\n    region: ap-guangzhou\n"
ALIYUN = "    kind: aliyun\n    region_id: cn-hangzhou\n"


def test_aws_default_restore_wait_needs_a_longer_policy_step_timeout(tmp_path):
    (problem,) = [p for p in problems(tmp_path, config(AWS)) if "restore_wait" in p]

    assert problem.startswith("6: drivers[0].restore_wait: ")
    assert "waits up to 30m inside one rollback step" in problem
    assert "policy.step_timeout is 5m" in problem
    assert "expected policy.step_timeout of at least 30m, or restore_wait of at most 5m" in problem


def test_aws_instance_wait_is_checked_too(tmp_path):
    found = problems(tmp_path, config(AWS + "    restore_wait: 4m\n"))

    assert len(found) == 1
    assert found[0].startswith("6: drivers[0].instance_wait: waits up to 15m")


def test_aws_fits_when_the_policy_allows_the_waits(tmp_path):
    loads(tmp_path, config(AWS, "policy:\n  step_timeout: 30m\n"))


def test_a_wait_equal_to_the_step_limit_is_accepted(tmp_path):
    waits = "    restore_wait: 10m\n    instance_wait: 10m\n"
    loads(tmp_path, config(AWS + waits, "policy:\n  step_timeout: 10m\n"))


def test_the_line_is_the_drivers_own_field_when_written(tmp_path):
    found = problems(tmp_path, config(AWS + "    restore_wait: 20m\n    instance_wait: 1m\n"))

    assert found == [
        "8: drivers[0].restore_wait: waits up to 20m inside one rollback step, but "
        "policy.step_timeout is 5m: the executor cancels the step first (expected "
        "policy.step_timeout of at least 20m, or restore_wait of at most 5m)"
    ]


@pytest.mark.parametrize("driver", [TENCENT, ALIYUN])
def test_tencent_and_aliyun_defaults_fit_the_default_policy(tmp_path, driver):
    loads(tmp_path, config(driver))


@pytest.mark.parametrize("driver", [TENCENT, ALIYUN])
@pytest.mark.parametrize("field", ["restore_wait", "instance_wait"])
def test_tencent_and_aliyun_waits_are_checked(tmp_path, driver, field):
    found = problems(tmp_path, config(driver + f"    {field}: 6m\n"))

    assert len(found) == 1
    assert f"drivers[0].{field}: waits up to 6m" in found[0]
    assert "policy.step_timeout is 5m" in found[0]


def test_a_lower_policy_step_timeout_rejects_the_default_cloud_waits(tmp_path):
    found = problems(tmp_path, config(TENCENT, "policy:\n  step_timeout: 1m\n"))

    assert sorted(p.split(":")[1].strip() for p in found) == [
        "drivers[0].instance_wait",
        "drivers[0].restore_wait",
    ]


def test_kubernetes_rollout_timeout(tmp_path):
    loads(tmp_path, config("    kind: kubernetes\n"))
    found = problems(tmp_path, config("    kind: kubernetes\n    rollout_timeout: 10m\n"))

    assert len(found) == 1
    assert found[0].startswith("8: drivers[0].rollout_timeout: waits up to 10m")


@pytest.mark.parametrize(
    "recipe",
    [
        "{kind: snapper, mode: rollback}",
        "{kind: lvm, volume_group: vg, logical_volume: lv}",
        "{kind: rpm-ostree}",
        "{kind: bootc}",
    ],
)
def test_host_recipes_that_reboot_need_room_for_reboot_timeout(tmp_path, recipe):
    driver = f"    kind: host\n    recipe: {recipe}\n"

    found = problems(tmp_path, config(driver))

    assert len(found) == 1
    assert found[0].startswith("8: drivers[0].recipe.reboot_timeout: waits up to 10m")
    assert "or recipe.reboot_timeout of at most 5m" in found[0]
    loads(tmp_path, config(driver, "policy:\n  step_timeout: 10m\n"))


def test_snapper_undochange_does_not_reboot(tmp_path):
    loads(tmp_path, config("    kind: host\n    recipe: {kind: snapper, mode: undochange}\n"))


def test_host_driver_step_timeout(tmp_path):
    driver = "    kind: host\n    recipe: {kind: directory, path: /srv}\n    step_timeout: 8m\n"

    found = problems(tmp_path, config(driver))

    assert len(found) == 1
    assert found[0].startswith("9: drivers[0].step_timeout: waits up to 8m")
    loads(tmp_path, config(driver, "policy:\n  step_timeout: 8m\n"))


def test_local_driver_step_timeout(tmp_path):
    driver = "    kind: local\n    directory: /srv/{id}\n    step_timeout: 10m\n"

    found = problems(tmp_path, config(driver))

    assert len(found) == 1
    assert found[0].startswith("9: drivers[0].step_timeout: waits up to 10m")


def test_a_wrong_policy_is_reported_once_and_not_cross_checked(tmp_path):
    found = problems(tmp_path, config(AWS, "policy:\n  step_timeout: soon\n"))

    assert len(found) == 1
    assert "policy.step_timeout" in found[0]
    assert "is not a duration" in found[0]
