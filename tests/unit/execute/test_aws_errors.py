"""botocore errors become rollsafe errors at the driver's boundary, each call audited.

Throttling and 5xx -> DriverTemporaryError (retried by the executor); permission and state
errors -> DriverError, or PrecheckFailed in a precheck; DryRunOperation in a DryRun is the
answer "permitted". A botocore exception never leaves the driver.
"""

from __future__ import annotations

import pytest
from aws_stubbing import (
    INSTANCE,
    SNAPSHOT,
    TARGET,
    Recorder,
    make_driver,
    point,
)

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.drivers import aws


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


def _error(stub, method: str, code: str, status: int, request_id: str = "req-err") -> None:
    stub.add_client_error(
        method,
        service_error_code=code,
        service_message=f"{code} happened",
        http_status_code=status,
        response_meta={"RequestId": request_id},
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("RequestLimitExceeded", 503),
        ("Throttling", 400),
        ("ThrottlingException", 400),
        ("InternalError", 500),
        ("Unavailable", 503),
        ("SomethingNew", 502),
    ],
)
async def test_throttling_and_5xx_are_temporary(tmp_path, recorder, code, status):
    driver, stub = make_driver(tmp_path, poll_interval=0.25, max_poll_interval=1)
    _error(stub, "describe_instances", code, status, request_id="req-throttled")

    with pytest.raises(errors.DriverTemporaryError) as caught:
        await driver.api.call("DescribeInstances", InstanceIds=[INSTANCE])

    assert caught.value.retry_after == 0.25
    assert "req-throttled" in str(caught.value)
    assert recorder.calls == [
        (
            "DescribeInstances",
            {"request_id": "req-throttled", "error": code, "instance_ids": [INSTANCE]},
        )
    ]


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("UnauthorizedOperation", "is not permitted"),
        ("AccessDenied", "is not permitted"),
        ("IncorrectInstanceState", "refused in this state"),
        ("IncorrectState", "refused in this state"),
        ("InvalidVolume.NotFound", "failed: InvalidVolume.NotFound"),
    ],
)
async def test_permission_and_state_errors_are_permanent(tmp_path, recorder, code, words):
    driver, stub = make_driver(tmp_path)
    _error(stub, "stop_instances", code, 403 if "Unauth" in code else 400, request_id="req-no")

    with pytest.raises(aws.Ec2Error) as caught:
        await driver.api.call("StopInstances", InstanceIds=[INSTANCE])

    assert not isinstance(caught.value, errors.TemporaryError)
    assert isinstance(caught.value, errors.DriverError)
    assert (caught.value.code, caught.value.request_id) == (code, "req-no")
    assert f"EC2 StopInstances {words}" in str(caught.value)
    assert recorder.calls[0][1]["error"] == code


async def test_dry_run_operation_means_permitted(tmp_path, recorder):
    driver, stub = make_driver(tmp_path)
    _error(stub, "create_replace_root_volume_task", "DryRunOperation", 412, request_id="req-dry")

    answer = await driver.api.call(
        "CreateReplaceRootVolumeTask", dry_run=True, InstanceId=INSTANCE, SnapshotId=SNAPSHOT
    )

    assert answer == {}
    assert recorder.calls == [
        (
            "CreateReplaceRootVolumeTask",
            {
                "request_id": "req-dry",
                "dry_run_result": "permitted",
                "instance_id": INSTANCE,
                "snapshot_id": SNAPSHOT,
                "dry_run": True,
            },
        )
    ]


async def test_a_dry_run_that_was_performed_is_an_error(tmp_path):
    driver, stub = make_driver(tmp_path)
    stub.add_response("stop_instances", {"StoppingInstances": []})

    with pytest.raises(errors.DriverError, match="performed instead of refused"):
        await driver.api.call("StopInstances", dry_run=True, InstanceIds=[INSTANCE])


async def test_dry_run_denied_fails_the_precheck(tmp_path):
    driver, stub = make_driver(tmp_path)
    _error(stub, "describe_snapshots", "UnauthorizedOperation", 403)

    with pytest.raises(errors.PrecheckFailed, match="DescribeSnapshots is not permitted"):
        await driver.precheck(TARGET, point())


async def test_unreachable_endpoint_is_temporary(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = models.AwsDriver(
        kind="aws",
        name="ec2",
        region="eu-west-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        api_attempts=1,
        api_timeout=2,
    )
    driver = aws.AwsDriver(config, tmp_path)
    try:
        with pytest.raises(errors.DriverTemporaryError, match="EC2 DescribeInstances"):
            await driver.api.call("DescribeInstances", InstanceIds=[INSTANCE])
    finally:
        await driver.close()


async def test_no_credentials_and_no_region_are_driver_errors(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)

    no_region = aws.AwsDriver(models.AwsDriver(kind="aws", name="ec2"), tmp_path)
    with pytest.raises(errors.DriverError, match="no region"):
        await no_region.api.call("DescribeInstances", InstanceIds=[INSTANCE])
    no_keys = aws.AwsDriver(
        models.AwsDriver(kind="aws", name="ec2", region="eu-west-1", api_attempts=1), tmp_path
    )
    try:
        with pytest.raises(errors.DriverError, match="no usable AWS credentials"):
            await no_keys.api.call("DescribeInstances", InstanceIds=[INSTANCE])
    finally:
        await no_keys.close()


async def test_a_missing_instance_id_is_refused_before_any_call(tmp_path):
    driver, stub = make_driver(tmp_path)
    bare = models.Target(id="web-1", driver="ec2")

    with pytest.raises(errors.DriverError, match=r"no valid `vars.instance_id`"):
        await driver.checkpoint(bare, point_id="rp-1")
    with pytest.raises(errors.PrecheckFailed, match=r"no valid `vars.instance_id`"):
        await driver.precheck(bare, point())
    status = await driver.status(bare)
    assert "vars.instance_id" in status["error"]
    stub.assert_no_pending_responses()
