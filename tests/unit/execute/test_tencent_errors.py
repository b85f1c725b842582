"""How the tencent driver classifies what the cloud answers: retry, escalate, or fail."""

from __future__ import annotations

import socket

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.drivers import tencent
from rollsafe.reach.clouds import tencent as tencent_cloud


def failure(code, request_id="req-1"):
    return tencent_cloud.Failure(code=code, message="said the cloud", request_id=request_id)


@pytest.mark.parametrize(
    "code",
    [
        "RequestLimitExceeded",
        "RequestLimitExceeded.UinLimitExceeded",
        "InternalError",
        "InternalError.ComponentError",
        "ServerNetworkError",
        "ClientNetworkError",
        "InvalidDisk.Busy",
        "ResourceBusy",
        "OperationDenied.InstanceOperationInProgress",
    ],
)
def test_throttling_busy_and_5xx_are_temporary(code):
    error = tencent._translate(failure(code), action="ApplySnapshot", about={"disk": "disk-1"})

    assert isinstance(error, errors.DriverTemporaryError)
    assert code in str(error)


@pytest.mark.parametrize(
    "code",
    [
        "AuthFailure.SignatureFailure",
        "AuthFailure.UnauthorizedOperation",
        "AuthFailure.SecretIdNotFound",
        "UnauthorizedOperation",
        "UnauthorizedOperation.MFAExpired",
    ],
)
def test_permission_errors_are_permanent_and_point_at_cam(code):
    error = tencent._translate(failure(code), action="ApplySnapshot", about={"disk": "disk-1"})

    assert type(error) is errors.DriverError
    assert "CAM policy" in str(error)


@pytest.mark.parametrize(
    "code",
    [
        "ResourceInUse.DiskRollbacking",
        "UnsupportedOperation.InstanceNotStopped",
        "InvalidParameterValue",
        "ResourceUnavailable.SnapshotCreating",
        "InsufficientSnapshotQuota",
    ],
)
def test_state_errors_are_permanent_with_code_and_request_id(code):
    error = tencent._translate(failure(code), action="ApplySnapshot", about={"disk": "disk-1"})

    assert type(error) is errors.DriverError
    assert str(error) == (
        f"ApplySnapshot (disk disk-1) failed: {code}: said the cloud (request req-1)"
    )


def test_only_throttling_carries_the_configured_retry_after(tmp_path):
    config = models.TencentDriver(
        kind="tencent", name="tc", region="ap-guangzhou", throttle_retry_after=3
    )
    driver = tencent.TencentDriver(config, tmp_path)

    assert driver._retry_after(failure("RequestLimitExceeded")) == 3
    assert driver._retry_after(failure("InternalError")) is None


def test_an_unreachable_endpoint_is_a_network_failure(monkeypatch):
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "AKIDunit")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "unit-key")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nobody listens
    config = models.TencentDriver(
        kind="tencent",
        name="tc",
        region="ap-guangzhou",
        protocol="http",
        endpoints={"cvm": f"127.0.0.1:{port}", "cbs": f"127.0.0.1:{port}"},
        api_timeout=2,
    )

    with pytest.raises(tencent_cloud.Failure) as caught:
        tencent.client_for(config).call("cvm", "DescribeInstances", {})

    assert caught.value.code == "ClientNetworkError"
    assert caught.value.temporary
    assert caught.value.request_id is None
