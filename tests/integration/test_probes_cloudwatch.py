"""The CloudWatch probe against moto's CloudWatch: real boto3 calls, datapoints put first.

moto intercepts botocore in-process (in every thread, so the probe's worker thread too);
nothing leaves the machine. Each test gets its own empty CloudWatch.
"""

from __future__ import annotations

import datetime
import socket
import typing
from collections.abc import Iterator

import boto3
import pytest
from botocore import stub
from moto import mock_aws
from moto.core import enable_iam_authentication

from rollsafe.config import models
from rollsafe.detect import probes
from rollsafe.detect.probes import cloudwatch
from rollsafe.domain import clocks

REGION = "eu-west-1"
HOST_A = models.Target(id="web-a", labels={"region": REGION}, vars={"instance": "i-0aaa"})
HOST_B = models.Target(id="web-b", labels={"region": REGION}, vars={"instance": "i-0bbb"})


@pytest.fixture(autouse=True)
def _fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never the developer's real credentials or config, whatever the environment holds.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)


@pytest.fixture
def aws() -> Iterator[typing.Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def _put(client: typing.Any, instance: str, points: list[tuple[float, float]]) -> None:
    """``points`` as (seconds ago, value) of AWS/EC2 CPUUtilization for ``instance``."""
    now = datetime.datetime.now(datetime.UTC)
    client.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": instance}],
                "Timestamp": now - datetime.timedelta(seconds=ago),
                "Value": value,
            }
            for ago, value in points
        ],
    )


def _probe(**extra: typing.Any) -> cloudwatch.CloudwatchProbe:
    settings: dict[str, typing.Any] = {
        "kind": "cloudwatch",
        "name": "cpu",
        "namespace": "AWS/EC2",
        "metric": "CPUUtilization",
        "dimensions": {"InstanceId": "{instance}"},
        "statistic": "Maximum",
        "period": "1m",
        "periods": 5,
        "region": "{region}",
        # boto3's first client (imports, a session) can take seconds on a loaded machine: the
        # tests that are not about timeouts must not hit one. The timeout test sets its own.
        "timeout": "60s",
    }
    settings.update(extra)
    probe = probes.build(models.CloudwatchProbe(**settings), clocks.SystemClock())
    assert isinstance(probe, cloudwatch.CloudwatchProbe)
    return probe


async def test_latest_datapoint_is_the_value(aws):
    _put(aws, "i-0aaa", [(200, 10.0), (130, 35.0), (10, 97.5)])
    probe = _probe()
    try:
        seen = await probe.observe(HOST_A)
    finally:
        await probe.close()
    assert seen.error is None
    assert seen.value == 97.5
    assert seen.source == "cpu"
    assert seen.target == "web-a"
    assert seen.text is not None
    assert seen.text.startswith("Maximum at ")
    assert seen.latency_s is not None


async def test_dimensions_are_rendered_per_target(aws):
    _put(aws, "i-0aaa", [(10, 20.0)])
    _put(aws, "i-0bbb", [(10, 80.0)])
    probe = _probe(statistic="Average")
    try:
        a, b = await probe.observe(HOST_A), await probe.observe(HOST_B)
    finally:
        await probe.close()
    assert (a.value, b.value) == (20.0, 80.0)


async def test_no_datapoint_in_the_window_is_no_data_never_zero(aws):
    _put(aws, "i-0aaa", [(3600, 50.0)])  # an hour ago: outside the 5-minute window
    probe = _probe()
    try:
        seen = await probe.observe(HOST_A)
    finally:
        await probe.close()
    assert seen.value is None
    assert seen.error == (
        "no data: no datapoint for AWS/EC2 CPUUtilization{InstanceId=i-0aaa} in the last 5m"
    )


async def test_an_aws_error_is_an_error_observation_with_the_aws_code():
    # moto with IAM authentication on: the fake access key is unknown, so AWS refuses.
    with mock_aws(), enable_iam_authentication():
        probe = _probe()
        try:
            seen = await probe.observe(HOST_A)
        finally:
            await probe.close()
    assert seen.value is None
    assert seen.error is not None
    assert seen.error.startswith("cloudwatch: ")
    assert "InvalidClientTokenId" in seen.error


async def test_a_throttled_call_is_an_error_observation_with_the_aws_code(aws):
    # moto does not throttle; botocore's own Stubber answers the next call with AWS's error.
    probe = _probe()
    client = probe._client(REGION, None).sdk()
    with stub.Stubber(client) as stubber:
        stubber.add_client_error(
            "get_metric_data",
            service_error_code="Throttling",
            service_message="Rate exceeded",
            http_status_code=400,
        )
        try:
            seen = await probe.observe(HOST_A)
        finally:
            await probe.close()
    assert seen.value is None
    assert seen.error == "cloudwatch: Throttling: Rate exceeded"


async def test_unreachable_endpoint_is_an_error_observation():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: refused
        port = sock.getsockname()[1]
        probe = _probe(endpoint_url=f"http://127.0.0.1:{port}", timeout="2s")
        try:
            seen = await probe.observe(HOST_A)
        finally:
            await probe.close()
    assert seen.value is None
    assert seen.error is not None
    assert seen.error.startswith("cloudwatch: EndpointConnectionError: ")


async def test_no_region_anywhere_is_an_error_observation(aws):
    probe = _probe(region=None)
    try:
        seen = await probe.observe(HOST_A)
    finally:
        await probe.close()
    assert seen.error == "cloudwatch: no region: set `region` on the probe or AWS_DEFAULT_REGION"


async def test_unknown_dimension_variable_is_an_error_observation(aws):
    probe = _probe(dimensions={"InstanceId": "{no_such_var}"})
    try:
        seen = await probe.observe(HOST_A)
    finally:
        await probe.close()
    assert seen.error is not None
    assert "unknown template variable 'no_such_var'" in seen.error
