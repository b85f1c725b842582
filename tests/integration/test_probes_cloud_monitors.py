"""The aliyun_cms and tencent_monitor probes, through the real SDKs, against local stand-ins.

The stand-ins (tests/support/cloud_monitors.py) recompute each request's signature (ACS3-HMAC-
SHA256 for CloudMonitor, TC3-HMAC-SHA256 for Cloud Monitor) and answer the documented shapes
from datapoints the test puts in, so these tests pin the request the official SDK sends for
the probe and what the probe makes of each answer: the newest datapoint in the window as the
value, and a blind observation, never a value, when there is no data or the cloud refuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rollsafe.config import models
from rollsafe.detect import probes
from rollsafe.detect.probes import datapoints
from rollsafe.testing import FakeClock
from support.cloud_monitors import CmsStandIn, MonitorStandIn

NOW = 1_700_000_040.0  # a whole minute
TARGET = models.Target(id="web-1", address="10.0.0.7", vars={"instance_id": "i-web1"})
OTHER = models.Target(id="web-2", address="10.0.0.8", vars={"instance_id": "i-web2"})


def _build(settings: dict[str, object]) -> datapoints.DatapointProbe:
    config = models.RollsafeConfig.model_validate(
        {"targets": [{"id": "web-1"}], "probes": [settings]}
    ).probes[0]
    probe = probes.build(config, FakeClock(start=NOW))
    assert isinstance(probe, datapoints.DatapointProbe)
    return probe


async def _observe(probe: datapoints.DatapointProbe, target: models.Target = TARGET) -> object:
    try:
        return await probe.observe(target)
    finally:
        await probe.close()


# --------------------------------------------------------------------------- aliyun_cms


@pytest.fixture
async def cms(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CmsStandIn]:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-cms-test")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "cms-secret")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    standin = CmsStandIn(access_key_id="LTAI-cms-test", secret="cms-secret")
    await standin.start()
    yield standin
    await standin.stop()


def _cms_probe(standin: CmsStandIn, **extra: object) -> datapoints.DatapointProbe:
    return _build(
        {
            "kind": "aliyun_cms",
            "name": "cpu",
            "metric": "CPUUtilization",
            "dimensions": {"instanceId": "{instance_id}"},
            "region": "cn-hangzhou",
            "endpoint": f"127.0.0.1:{standin.port}",
            "protocol": "http",
            "timeout": "2s",
            **extra,
        }
    )


async def test_cms_observes_the_newest_datapoint_of_the_target_in_the_window(
    cms: CmsStandIn,
) -> None:
    ecs = "acs_ecs_dashboard"
    cms.add(ecs, "CPUUtilization", {"instanceId": "i-web1"}, time=NOW - 240, Average=12.0)
    cms.add(
        ecs, "CPUUtilization", {"instanceId": "i-web1"}, time=NOW - 60, Average=97.5, Maximum=99.0
    )
    cms.add(ecs, "CPUUtilization", {"instanceId": "i-web2"}, time=NOW, Average=3.0)
    cms.add(ecs, "memory_usedutilization", {"instanceId": "i-web1"}, time=NOW, Average=40.0)
    seen = await _observe(_cms_probe(cms))
    assert seen.error is None, seen.error
    assert seen.value == 97.5
    assert seen.text == "Average at 2023-11-14T22:13:00Z (1m old)"
    (request,) = cms.seen
    assert request.method == "POST"
    assert request.headers["x-acs-action"] == "DescribeMetricLast"
    assert request.headers["x-acs-version"] == "2019-01-01"
    assert request.headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=LTAI-cms-test,")
    assert request.query == {
        "Namespace": "acs_ecs_dashboard",
        "MetricName": "CPUUtilization",
        "Period": "60",
        "StartTime": str(int((NOW - 300) * 1000)),
        "EndTime": str(int(NOW * 1000)),
        "Dimensions": '[{"instanceId":"i-web1"}]',
    }
    # Another statistic of the same datapoint, another metric of the same host.
    maximum = await _observe(_cms_probe(cms, statistic="Maximum"))
    assert (maximum.error, maximum.value) == (None, 99.0)
    memory = await _observe(_cms_probe(cms, metric="memory_usedutilization"))
    assert (memory.error, memory.value) == (None, 40.0)


async def test_cms_no_datapoint_in_the_window_is_no_data_not_zero(cms: CmsStandIn) -> None:
    # Only a datapoint older than the window, and one of another host.
    cms.add(
        "acs_ecs_dashboard", "CPUUtilization", {"instanceId": "i-web1"}, time=NOW - 600, Average=5
    )
    cms.add("acs_ecs_dashboard", "CPUUtilization", {"instanceId": "i-web2"}, time=NOW, Average=5)
    seen = await _observe(_cms_probe(cms))
    assert seen.value is None
    assert seen.error == (
        "no data: no datapoint for acs_ecs_dashboard CPUUtilization{instanceId=i-web1} "
        "in the last 5m"
    )
    cms.add("acs_ecs_dashboard", "CPUUtilization", {"instanceId": "i-web1"}, time=NOW, Average=5)
    missing = await _observe(_cms_probe(cms, statistic="p99"))
    assert missing.value is None
    assert (
        missing.error == "aliyun_cms: the datapoint has no 'p99' value (it has: Average, timestamp)"
    )


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            "throttle",
            "aliyun_cms: CloudMonitor is unavailable for now (throttled or failing): "
            "DescribeMetricLast failed: Throttling.User: ",
        ),
        (
            "deny",
            "aliyun_cms: DescribeMetricLast was refused: Forbidden.RAM: User not authorized to "
            "operate on the resource. (the RAM identity needs cms:DescribeMetricLast)",
        ),
        (
            "deny_in_body",
            "aliyun_cms: DescribeMetricLast was refused: 403: You are not authorized to operate "
            "the specified resource. (the RAM identity needs cms:DescribeMetricLast)",
        ),
    ],
)
async def test_cms_throttled_and_denied_are_blind_with_the_code(
    cms: CmsStandIn, fault: str, expected: str
) -> None:
    cms.add("acs_ecs_dashboard", "CPUUtilization", {"instanceId": "i-web1"}, time=NOW, Average=5)
    cms.fault = fault
    seen = await _observe(_cms_probe(cms))
    assert seen.value is None
    assert seen.error is not None
    assert seen.error.startswith(expected), seen.error


async def test_cms_wrong_secret_and_gateway_errors_are_blind(
    cms: CmsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    cms.add("acs_ecs_dashboard", "CPUUtilization", {"instanceId": "i-web1"}, time=NOW, Average=5)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret")
    wrong = await _observe(_cms_probe(cms))
    assert wrong.value is None
    assert wrong.error is not None
    assert "was refused: SignatureDoesNotMatch" in wrong.error
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "cms-secret")
    cms.mode = "down"  # a gateway's 503 page, not JSON: the SDK keeps no status for it
    down = await _observe(_cms_probe(cms))
    assert down.value is None
    assert down.error is not None
    assert down.error.startswith(
        "aliyun_cms: no answer from CloudMonitor (unreachable or not an API answer): "
        "DescribeMetricLast got no answer from 127.0.0.1:"
    )
    cms.mode = "ok"
    recovered = await _observe(_cms_probe(cms))
    assert (recovered.error, recovered.value) == (None, 5.0)


async def test_cms_timeout_is_blind_and_unreachable_says_so(cms: CmsStandIn) -> None:
    cms.mode = "hang"
    seen = await _observe(_cms_probe(cms, timeout="1s"))
    assert (seen.value, seen.error) == (None, "timeout after 1s")
    cms.release()
    closed = _cms_probe(cms, endpoint="127.0.0.1:9")  # discard port: refused at once
    refused = await _observe(closed)
    assert refused.value is None
    assert refused.error is not None
    assert refused.error.startswith(
        "aliyun_cms: no answer from CloudMonitor (unreachable or not an API answer): "
        "DescribeMetricLast got no answer from 127.0.0.1:9: "
    )


# --------------------------------------------------------------------------- tencent_monitor


@pytest.fixture
async def monitor(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MonitorStandIn]:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "AKID-monitor-test")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "monitor-secret")
    standin = MonitorStandIn(
        region="ap-guangzhou", secret_id="AKID-monitor-test", secret_key="monitor-secret"
    )
    await standin.start()
    yield standin
    await standin.stop()


def _monitor_probe(standin: MonitorStandIn, **extra: object) -> datapoints.DatapointProbe:
    return _build(
        {
            "kind": "tencent_monitor",
            "name": "cpu",
            "metric": "CPUUsage",
            "dimensions": {"InstanceId": "{instance_id}"},
            "region": "ap-guangzhou",
            "endpoint": f"127.0.0.1:{standin.port}",
            "protocol": "http",
            "timeout": "2s",
            **extra,
        }
    )


async def test_monitor_observes_the_newest_datapoint_of_the_target_in_the_window(
    monitor: MonitorStandIn,
) -> None:
    cvm = "QCE/CVM"
    monitor.add(cvm, "CPUUsage", {"InstanceId": "i-web1"}, time=NOW - 600, value=1.0)
    monitor.add(cvm, "CPUUsage", {"InstanceId": "i-web1"}, time=NOW - 120, value=10.0, max=30.0)
    monitor.add(cvm, "CPUUsage", {"InstanceId": "i-web1"}, time=NOW - 60, value=88.0, max=95.0)
    monitor.add(cvm, "CPUUsage", {"InstanceId": "i-web2"}, time=NOW, value=2.0)
    monitor.add(cvm, "MemUsage", {"InstanceId": "i-web1"}, time=NOW, value=61.0)
    seen = await _observe(_monitor_probe(monitor))
    assert seen.error is None, seen.error
    assert seen.value == 88.0
    assert seen.text == "value at 2023-11-14T22:13:00Z (1m old)"
    (request,) = monitor.seen
    assert request.headers["X-TC-Action"] == "GetMonitorData"
    assert request.headers["X-TC-Version"] == "2018-07-24"
    assert request.headers["X-TC-Region"] == "ap-guangzhou"
    assert request.headers["Authorization"].startswith(
        "TC3-HMAC-SHA256 Credential=AKID-monitor-test/"
    )
    assert request.body == {
        "Namespace": "QCE/CVM",
        "MetricName": "CPUUsage",
        "Period": 60,
        "StartTime": "2023-11-14T22:09:00+00:00",
        "EndTime": "2023-11-14T22:14:00+00:00",
        "Instances": [{"Dimensions": [{"Name": "InstanceId", "Value": "i-web1"}]}],
    }
    maximum = await _observe(_monitor_probe(monitor, statistic="max"))
    assert (maximum.error, maximum.value) == (None, 95.0)
    assert monitor.seen[-1].body["SpecifyStatistics"] == 2
    memory = await _observe(_monitor_probe(monitor, metric="MemUsage"))
    assert (memory.error, memory.value) == (None, 61.0)


async def test_monitor_no_datapoint_in_the_window_is_no_data_not_zero(
    monitor: MonitorStandIn,
) -> None:
    monitor.add("QCE/CVM", "CPUUsage", {"InstanceId": "i-web1"}, time=NOW - 900, value=4.0)
    seen = await _observe(_monitor_probe(monitor))
    assert seen.value is None
    assert seen.error == (
        "no data: no datapoint for QCE/CVM CPUUsage{InstanceId=i-web1} in the last 5m"
    )


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            "throttle",
            "tencent_monitor: Cloud Monitor is unavailable for now (throttled or failing): "
            "tencent_monitor GetMonitorData failed: RequestLimitExceeded: ",
        ),
        (
            "deny",
            "tencent_monitor GetMonitorData failed: UnauthorizedOperation: CAM denied "
            "monitor:GetMonitorData on the resource. (request ",
        ),
    ],
)
async def test_monitor_throttled_and_denied_are_blind_with_the_code(
    monitor: MonitorStandIn, fault: str, expected: str
) -> None:
    monitor.add("QCE/CVM", "CPUUsage", {"InstanceId": "i-web1"}, time=NOW, value=4.0)
    monitor.fault = fault
    seen = await _observe(_monitor_probe(monitor))
    assert seen.value is None
    assert seen.error is not None
    assert seen.error.startswith(expected), seen.error
    if fault == "deny":
        assert seen.error.endswith(
            "; the CAM identity needs monitor:GetMonitorData (check the SecretId and key)"
        )


async def test_monitor_wrong_secret_gateway_error_timeout_are_blind(
    monitor: MonitorStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monitor.add("QCE/CVM", "CPUUsage", {"InstanceId": "i-web1"}, time=NOW, value=4.0)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "not-the-key")
    wrong = await _observe(_monitor_probe(monitor))
    assert wrong.value is None
    assert wrong.error is not None
    assert "AuthFailure.SignatureFailure" in wrong.error
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "monitor-secret")
    monitor.mode = "down"
    down = await _observe(_monitor_probe(monitor))
    assert down.value is None
    assert down.error is not None
    assert "unavailable for now" in down.error
    monitor.mode = "hang"
    hung = await _observe(_monitor_probe(monitor, timeout="1s"))
    assert (hung.value, hung.error) == (None, "timeout after 1s")
    monitor.release()
    monitor.mode = "ok"
    recovered = await _observe(_monitor_probe(monitor))
    assert (recovered.error, recovered.value) == (None, 4.0)


def test_config_refuses_a_period_the_service_does_not_have() -> None:
    with pytest.raises(ValueError, match="period must be 10s, 1m, 5m, 1h or 1d"):
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": "web-1"}],
                "probes": [
                    {
                        "kind": "tencent_monitor",
                        "name": "cpu",
                        "metric": "CPUUsage",
                        "region": "ap-guangzhou",
                        "dimensions": {"InstanceId": "{instance_id}"},
                        "period": "2m",
                    }
                ],
            }
        )
    with pytest.raises(ValueError, match="whole number of seconds"):
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": "web-1"}],
                "probes": [
                    {
                        "kind": "aliyun_cms",
                        "name": "cpu",
                        "metric": "CPUUtilization",
                        "region": "cn-hangzhou",
                        "period": "1.5s",
                    }
                ],
            }
        )
    with pytest.raises(ValueError, match="dimensions"):
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": "web-1"}],
                "probes": [
                    {
                        "kind": "tencent_monitor",
                        "name": "cpu",
                        "metric": "CPUUsage",
                        "region": "ap-guangzhou",
                    }
                ],
            }
        )
