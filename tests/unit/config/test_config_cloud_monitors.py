"""The aliyun_cms and tencent_monitor kinds in configuration: presets, extras, templates."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rollsafe.config import extras, loading, models
from rollsafe.config.presets import catalog, expanding
from rollsafe.domain import errors

CLOUD_KINDS = ("aliyun_cms", "tencent_monitor")
HOST_SIGNALS = ("cpu", "memory", "saturation")


@pytest.mark.parametrize("kind", CLOUD_KINDS)
@pytest.mark.parametrize("name", ["web-service", "database-host", "batch-host"])
def test_host_signals_of_every_preset_accept_the_cloud_monitors(name: str, kind: str) -> None:
    preset = catalog.get(name)
    bound = {s: f"p-{s}" for s in HOST_SIGNALS if s in preset.signals}
    assert bound, f"{name} has no cpu, memory or saturation signal"
    for signal in bound:
        kinds = preset.signals[signal].kinds
        assert kinds is not None
        assert kind in kinds
    use = models.PresetUse(preset=name, signals={"health": "p-health", **bound})
    probes = {"p-health": "command", **dict.fromkeys(bound.values(), kind)}
    rules, found = expanding.expand(use, index=0, probes=probes, taken=set())
    assert found == []
    used = {probe for rule in rules for probe in _probes_of(rule)}
    assert set(bound.values()) <= used


def test_a_log_signal_still_refuses_a_metric_probe() -> None:
    use = models.PresetUse(
        preset="web-service", signals={"health": "p-health", "app_errors": "p-cpu"}
    )
    probes = {"p-health": "command", "p-cpu": "aliyun_cms"}
    _, found = expanding.expand(use, index=0, probes=probes, taken=set())
    assert [path for path, _ in found] == [("presets", 0, "signals", "app_errors")]


def test_each_kind_names_its_sdk_extra() -> None:
    config = models.RollsafeConfig.model_validate(
        {
            "probes": [
                {"kind": "aliyun_cms", "name": "a", "metric": "CPUUtilization", "region": "r"},
                {
                    "kind": "tencent_monitor",
                    "name": "t",
                    "metric": "CPUUsage",
                    "region": "r",
                    "dimensions": {"InstanceId": "ins-1"},
                },
            ]
        }
    )
    aliyun_probe, tencent_probe = config.probes
    assert extras.EXTRAS[type(aliyun_probe)].command == "pip install 'rollsafe[aliyun]'"
    assert extras.EXTRAS[type(aliyun_probe)].modules == ("alibabacloud_cms20190101",)
    assert extras.EXTRAS[type(tencent_probe)].command == "pip install 'rollsafe[tencent]'"
    assert extras.EXTRAS[type(tencent_probe)].modules == ("tencentcloud.monitor",)
    assert extras.missing(extras.EXTRAS[type(aliyun_probe)], is_installed=lambda _: False) == [
        "alibabacloud_cms20190101"
    ]


def test_defaults_are_the_ecs_and_cvm_namespaces() -> None:
    config = models.RollsafeConfig.model_validate(
        {
            "probes": [
                {
                    "kind": "aliyun_cms",
                    "name": "a",
                    "metric": "memory_usedutilization",
                    "region": "{region}",
                    "dimensions": {"instanceId": "{instance_id}"},
                },
                {
                    "kind": "tencent_monitor",
                    "name": "t",
                    "metric": "MemUsage",
                    "region": "{region}",
                    "dimensions": {"InstanceId": "{instance_id}"},
                },
            ]
        }
    )
    aliyun_probe, tencent_probe = config.probes
    assert isinstance(aliyun_probe, models.AliyunCmsProbe)
    assert isinstance(tencent_probe, models.TencentMonitorProbe)
    assert (aliyun_probe.namespace, aliyun_probe.statistic, aliyun_probe.period) == (
        "acs_ecs_dashboard",
        "Average",
        60.0,
    )
    assert (tencent_probe.namespace, tencent_probe.statistic, tencent_probe.period) == (
        "QCE/CVM",
        "default",
        60.0,
    )


def _probes_of(rule: object) -> set[str]:
    found: set[str] = set()
    probe = getattr(rule, "probe", None)
    if isinstance(probe, str):
        found.add(probe)
    for name in ("of", "conditions", "members", "rules"):
        for item in getattr(rule, name, None) or []:
            found |= _probes_of(item)
    return found


def test_the_integrations_example_loads(tmp_path: Path) -> None:
    guide = Path(__file__).resolve().parents[3] / "docs" / "integrations.md"
    section = guide.read_text(encoding="utf-8").split(
        "## Alibaba CloudMonitor and Tencent Cloud Monitor probes", 1
    )[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "rollsafe.yaml"
    path.write_text(example, encoding="utf-8")
    loaded = loading.load(path)
    kinds = {p.name: p.kind for p in loaded.config.probes}
    assert kinds == {"health": "http", "ecs-cpu": "aliyun_cms", "cvm-memory": "tencent_monitor"}
    bound = {rule.probe for rule in loaded.config.rules if hasattr(rule, "probe")}
    assert {"ecs-cpu", "cvm-memory"} <= bound


def test_unknown_template_variables_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            targets:
              - {id: web-1, labels: {region: cn-hangzhou}, vars: {instance_id: i-1}}
            probes:
              - {kind: aliyun_cms, name: a, metric: CPUUtilization, region: "{region}",
                 dimensions: {instanceId: "{instance}"}}
              - {kind: tencent_monitor, name: t, metric: CPUUsage, region: "{zone}",
                 dimensions: {InstanceId: "{instance_id}"}}
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(errors.ConfigError) as caught:
        loading.load(path)
    found = [p.removeprefix(f"{path}:") for p in caught.value.problems]
    assert found == [
        "5: probes[0].dimensions.instanceId: unknown template variable {instance} for target "
        "'web-1' (expected one of the variables of 'web-1': address, id, instance_id, region)",
        "6: probes[1].region: unknown template variable {zone} for target 'web-1' "
        "(expected one of the variables of 'web-1': address, id, instance_id, region)",
    ]
