"""``rollsafe record`` from the cloud monitors: a range's datapoints read once, replayed per step.

CloudMonitor (``DescribeMetricList``, paged by ``NextToken``) and Cloud Monitor
(``GetMonitorData`` in spans of at most 1,440 points) through their official SDKs against the
stand-ins of ``tests/support/cloud_monitors.py`` (signatures recomputed there), served from a
thread (``record`` runs its own event loop, as the command line does); CloudWatch
(``GetMetricData`` paged by ``NextToken``) through boto3 against moto. Each step must be the
observation the live probe would have made at that time, and the recording must replay
through the judge.
"""

from __future__ import annotations

import datetime
import json
import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from rollsafe.backtest import capturing, recordings
from rollsafe.config import models
from rollsafe.detect.probes import aliyun_cms
from rollsafe.interfaces.cli import main
from support.cloud_monitors import CmsStandIn, MonitorStandIn

START = 1_714_557_600.0  # 2024-05-01T10:00:00Z, a whole hour
ECS = "acs_ecs_dashboard"
TARGETS = [
    {"id": "web-1", "vars": {"instance_id": "i-web1"}},
    {"id": "web-2", "vars": {"instance_id": "i-web2"}},
]


def _config(probe: dict[str, object]) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate({"targets": TARGETS, "probes": [probe]})


async def _no_wait(_: float) -> None:
    return None


@pytest.fixture
def cms(monkeypatch: pytest.MonkeyPatch) -> Iterator[CmsStandIn]:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-cms-record")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "cms-record-secret")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    standin = CmsStandIn(access_key_id="LTAI-cms-record", secret="cms-record-secret")
    with standin.in_thread():
        yield standin


def _cms_probe(standin: CmsStandIn, **extra: object) -> dict[str, object]:
    return {
        "kind": "aliyun_cms",
        "name": "cpu",
        "metric": "CPUUtilization",
        "dimensions": {"instanceId": "{instance_id}"},
        "region": "cn-hangzhou",
        "endpoint": f"127.0.0.1:{standin.port}",
        "protocol": "http",
        "period": "1m",
        "periods": 3,
        "interval": "1m",
        **extra,
    }


def test_cms_history_is_read_page_by_page_and_replayed_per_step(
    cms: CmsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aliyun_cms, "PAGE", 50)  # two hours of minutes: three pages
    for minute in range(-5, 121):
        if 30 <= minute < 40:
            continue  # ten minutes without data: the agent was down
        cms.add(
            ECS,
            "CPUUtilization",
            {"instanceId": "i-web1"},
            time=START + 60 * minute,
            Average=float(minute),
            Maximum=100.0,
        )
    cms.add(ECS, "CPUUtilization", {"instanceId": "i-web2"}, time=START + 600, Average=-1.0)
    config = _config(_cms_probe(cms))
    done = capturing.record(config, start=START, end=START + 7200, targets=["web-1"])
    assert done.monitor_steps == 120
    steps = {round(o.time - START): o for o in done.observations}
    assert steps[60].value == 1.0
    assert steps[60].text == "Average at 2024-05-01T10:01:00Z (0ms old)"
    assert steps[7200].value == 120.0
    # Within three periods of the last datapoint the live probe still saw it; then no data.
    assert steps[60 * 31].value == 29.0
    assert steps[60 * 32].value == 29.0
    assert steps[60 * 33].error == "no data: no datapoint in the last 3m"
    assert steps[60 * 39].error == "no data: no datapoint in the last 3m"
    assert steps[60 * 40].value == 40.0
    assert all(o.target == "web-1" and o.source == "cpu" for o in done.observations)
    pages = [r for r in cms.seen if r.headers["x-acs-action"] == "DescribeMetricList"]
    assert len(pages) == 3
    first, *later = (dict(r.query) for r in pages)
    assert json.loads(first["Dimensions"]) == [{"instanceId": "i-web1"}]
    assert (first["Period"], first["Length"]) == ("60", "50")
    # The window before the first step is read too: the step at START + 60 looks 3m back.
    assert int(first["StartTime"]) == (START + 60 - 180) * 1000
    assert int(first["EndTime"]) == (START + 7200) * 1000
    assert "NextToken" not in first
    assert [page["NextToken"] for page in later] == ["32", "64"]


def test_cms_history_refused_or_throttled_fails_the_recording(cms: CmsStandIn) -> None:
    probe = _config(_cms_probe(cms)).probes[0]
    assert isinstance(probe, models.AliyunCmsProbe)
    target = models.Target(id="web-1", vars={"instance_id": "i-web1"})
    cms.fault = "throttle"
    with pytest.raises(capturing.RecordError, match=r"Throttling\.User"):
        capturing.monitor_observations(probe, target, start=START, end=START + 600, sleep=_no_wait)
    throttled = [r for r in cms.seen if r.headers["x-acs-action"] == "DescribeMetricList"]
    assert len(throttled) == capturing.PLATFORM_RETRIES + 1  # asked again, then given up
    cms.fault = "deny"
    with pytest.raises(capturing.RecordError, match=r"Forbidden\.RAM"):
        capturing.monitor_observations(probe, target, start=START, end=START + 600, sleep=_no_wait)


@pytest.fixture
def monitor(monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitorStandIn]:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "AKIDrecordMonitor01")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "record-monitor-key")
    standin = MonitorStandIn(
        region="ap-guangzhou", secret_id="AKIDrecordMonitor01", secret_key="record-monitor-key"
    )
    with standin.in_thread():
        yield standin


def test_tencent_history_is_asked_in_spans_of_at_most_1440_points(
    monitor: MonitorStandIn,
) -> None:
    dims = {"InstanceId": "ins-web00001"}
    for minute in range(-10, 2 * 1440 + 1):  # two days of minutes
        monitor.add(
            "QCE/CVM",
            "CPUUsage",
            dims,
            time=START + 60 * minute,
            value=float(minute % 100),
            max=float(minute),
        )
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1", "vars": {"instance_id": "ins-web00001"}}],
            "probes": [
                {
                    "kind": "tencent_monitor",
                    "name": "cpu",
                    "metric": "CPUUsage",
                    "dimensions": {"InstanceId": "{instance_id}"},
                    "statistic": "max",
                    "region": "ap-guangzhou",
                    "endpoint": f"127.0.0.1:{monitor.port}",
                    "protocol": "http",
                    "period": "1m",
                    "interval": "5m",
                }
            ],
        }
    )
    done = capturing.record(config, start=START, end=START + 2 * 86_400)
    assert done.monitor_steps == 2 * 288
    values = [(round(o.time - START), o.value) for o in done.observations]
    # Every step sees the datapoint of its own minute: the max statistic, the minute number.
    assert values == [(300 * k, float(5 * k)) for k in range(1, 2 * 288 + 1)]
    assert all(o.text is not None and o.text.startswith("max at ") for o in done.observations)
    asked = [r.body for r in monitor.seen]
    assert len(asked) == 3  # the stand-in refuses a span of more than 1,440 points
    assert all(a["SpecifyStatistics"] == 2 and a["Period"] == 60 for a in asked)
    spans = [(a["StartTime"], a["EndTime"]) for a in asked]
    assert [end for _, end in spans[:-1]] == [start for start, _ in spans[1:]]  # contiguous


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[typing.Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="eu-west-1")


def test_cloudwatch_history_replays_through_the_judge(aws: typing.Any, tmp_path: Path) -> None:
    # Recent history (CloudWatch keeps 1-minute data for 15 days): the last hour, whole minutes.
    now = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
    start = now - datetime.timedelta(hours=1)
    for minute in range(61):
        aws.put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": "i-web1"}],
                    "Timestamp": start + datetime.timedelta(minutes=minute),
                    "Value": 99.0 if minute >= 40 else 10.0,
                }
            ],
        )
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            targets: [{id: web-1, vars: {instance_id: i-web1}}]
            probes:
              - kind: cloudwatch
                name: cpu
                namespace: AWS/EC2
                metric: CPUUtilization
                dimensions: {InstanceId: "{instance_id}"}
                statistic: Maximum
                region: eu-west-1
                period: 1m
                periods: 2
                interval: 1m
            rules:
              - {id: hot, kind: threshold, probe: cpu, op: ">", value: 90, severity: critical}
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "recorded.jsonl"
    iso = "%Y-%m-%dT%H:%M:%SZ"
    result = CliRunner().invoke(
        main.app,
        [
            "record",
            "-c",
            str(config),
            "--start",
            start.strftime(iso),
            "--end",
            (start + datetime.timedelta(hours=1)).strftime(iso),
            "-o",
            str(out),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "recorded 60 observations (0 without data) from 0 Prometheus queries and 60 cloud " in (
        result.output
    )
    recorded = recordings.read(out)
    assert [o.value for o in recorded.observations] == [10.0] * 39 + [99.0] * 21
    replayed = CliRunner().invoke(
        main.app, ["backtest", "-c", str(config), "--data", str(out), "--json"]
    )
    assert replayed.exit_code == 0, replayed.output
    decisions = json.loads(replayed.output)["decisions"]
    assert [(d["rule"], d["severity"], d["offset"]) for d in decisions][:1] == [
        ("hot", "critical", 40 * 60.0)
    ]
