"""A driver that waits inside one rollback step gets a step limit that covers the wait.

``policy.step_timeout`` is the default limit of one step; a driver whose own settings wait
longer (a cloud restore, a reboot, a rollout) gets its longest wait plus a grace, so a slow but
normal restore is never cut off by the default, and configurations with every default load.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rollsafe.config import loading, models, step_limits

TARGET = """\
targets:
  - id: web-1
    driver: d
    vars: {instance_id: i-1, deployment: web}
"""

AWS = "    kind: aws\n"
TENCENT = "    kind: tencent\n    region: ap-guangzhou\n"
ALIYUN = "    kind: aliyun\n    region_id: cn-hangzhou\n"
KUBE = "    kind: kubernetes\n"
LOCAL = '    kind: local\n    rollback: "true"\n'
BTRFS = "    kind: host\n    recipe: {kind: btrfs, subvolume: /srv/app, snapshots: /srv/snap}\n"
LVM = (
    "    kind: host\n"
    "    recipe: {kind: lvm, volume_group: vg, logical_volume: root, reboot_timeout: 20m}\n"
)


def limit(tmp_path: Path, driver: str, policy: str = "") -> float:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(TARGET + "drivers:\n  - name: d\n" + driver + policy, encoding="utf-8")
    config = loading.load(path).config
    return step_limits.for_driver(config.policy, config.driver("d"))


@pytest.mark.parametrize("driver", [AWS, TENCENT, ALIYUN, KUBE, LOCAL, BTRFS, LVM])
def test_every_driver_with_its_defaults_loads_with_the_default_policy(tmp_path, driver):
    assert limit(tmp_path, driver) >= models.Policy().step_timeout


def test_a_cloud_restore_wait_longer_than_the_policy_sets_the_limit(tmp_path):
    # AWS waits up to 30 minutes for a root volume replacement by default.
    assert limit(tmp_path, AWS) == 30 * 60 + step_limits.GRACE_S
    assert limit(tmp_path, AWS + "    restore_wait: 40m\n") == 40 * 60 + step_limits.GRACE_S


def test_the_longest_wait_counts(tmp_path):
    driver = AWS + "    restore_wait: 2m\n    instance_wait: 25m\n"
    assert limit(tmp_path, driver) == 25 * 60 + step_limits.GRACE_S


def test_short_waits_keep_the_policy_limit(tmp_path):
    # Tencent's defaults (4 minutes) plus the grace fit the default 5 minutes.
    assert limit(tmp_path, TENCENT) == 300.0
    assert limit(tmp_path, LOCAL + "    step_timeout: 1m\n") == 300.0


def test_a_longer_policy_limit_wins(tmp_path):
    assert limit(tmp_path, AWS, "policy: {step_timeout: 2h}\n") == 7200.0


def test_a_host_recipe_that_reboots_gets_room_for_the_reboot(tmp_path):
    assert limit(tmp_path, LVM) == 20 * 60 + step_limits.GRACE_S
    undo = "    kind: host\n    recipe: {kind: snapper, mode: undochange, reboot_timeout: 1h}\n"
    # undochange reverts files in place: no reboot, only the driver's own command limit.
    assert limit(tmp_path, undo) == 300 + step_limits.GRACE_S
    rollback = "    kind: host\n    recipe: {kind: snapper, mode: rollback, reboot_timeout: 1h}\n"
    assert limit(tmp_path, rollback) == 3600 + step_limits.GRACE_S


def test_kubernetes_rollout_timeout(tmp_path):
    assert limit(tmp_path, KUBE + "    rollout_timeout: 15m\n") == 15 * 60 + step_limits.GRACE_S


def test_a_driver_outside_the_config_gets_the_policy_limit():
    assert step_limits.for_driver(models.Policy(step_timeout=42), None) == 42
