"""The kind -> factory registry builds the right probe for every configurable kind."""

from __future__ import annotations

import typing

import pytest

from rollsafe.config import models
from rollsafe.detect import probes
from rollsafe.detect.probes import (
    cloudwatch,
    command,
    data,
    datapoints,
    host,
    http,
    logs,
    platforms,
    promql,
    tcp,
)
from rollsafe.domain import errors
from rollsafe.testing import FakeClock

CONFIGS: dict[str, dict[str, object]] = {
    "http": {"url": "http://{address}/health"},
    "tcp": {"port": 22},
    "host": {"metric": "memory"},
    "log": {"path": "/var/log/{id}.log", "presets": ["oom"]},
    "data": {"file": "/etc/{id}.conf"},
    "command": {"command": "true"},
    "promql": {"url": "http://127.0.0.1:9090", "query": 'up{instance="$address"}'},
    "cloudwatch": {"namespace": "AWS/EC2", "metric": "CPUUtilization"},
    "elasticsearch": {"url": "http://127.0.0.1:9200", "index": "logs-*", "query": '"oom"'},
    "loki": {"url": "http://127.0.0.1:3100", "selector": '{host="$id"}'},
    "sls": {"endpoint": "127.0.0.1:1", "project": "ops", "logstore": "syslog", "query": "oom"},
    "cls": {"region": "ap-guangzhou", "topic_id": "t-1", "query": "oom"},
    "aliyun_cms": {"metric": "CPUUtilization", "region": "cn-hangzhou"},
    "tencent_monitor": {
        "metric": "CPUUsage",
        "region": "ap-guangzhou",
        "dimensions": {"InstanceId": "{instance_id}"},
    },
}
CLASSES = {
    "http": http.HttpProbe,
    "tcp": tcp.TcpProbe,
    "host": host.HostProbe,
    "log": logs.LogProbe,
    "data": data.DataProbe,
    "command": command.CommandProbe,
    "promql": promql.PromqlProbe,
    "cloudwatch": cloudwatch.CloudwatchProbe,
    "elasticsearch": platforms.PlatformProbe,
    "loki": platforms.PlatformProbe,
    "sls": platforms.PlatformProbe,
    "cls": platforms.PlatformProbe,
    "aliyun_cms": datapoints.DatapointProbe,
    "tencent_monitor": datapoints.DatapointProbe,
}


def _config(kind: str) -> models.Probe:
    adapter: typing.Any = models.RollsafeConfig.model_validate(
        {"probes": [{"kind": kind, "name": f"my-{kind}", **CONFIGS[kind]}]}
    )
    return adapter.probes[0]


def test_every_configurable_kind_has_a_factory() -> None:
    kinds = {
        typing.get_args(model.model_fields["kind"].annotation)[0]
        for model in typing.get_args(typing.get_args(models.Probe)[0])
    }
    assert kinds == set(probes.FACTORIES) == set(CONFIGS)


@pytest.mark.parametrize("kind", sorted(CONFIGS))
async def test_build_returns_the_probe_of_that_kind(kind: str) -> None:
    probe = probes.build(_config(kind), FakeClock())
    assert isinstance(probe, CLASSES[kind])
    assert probe.name == f"my-{kind}"
    await probe.close()


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_a_factory_refuses_another_kind(kind: str) -> None:
    other = "tcp" if kind != "tcp" else "http"
    with pytest.raises(errors.ConfigError, match=f"not an? {kind} probe"):
        probes.FACTORIES[kind](_config(other), FakeClock())


def test_unknown_kind_is_a_config_error() -> None:
    config = models.TcpProbe.model_construct(kind="snmp", name="walk", port=161)
    with pytest.raises(errors.ConfigError, match="unknown kind 'snmp'"):
        probes.build(config, FakeClock())  # type: ignore[arg-type]
