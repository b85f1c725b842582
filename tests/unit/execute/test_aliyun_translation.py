"""The aliyun driver's error boundary: real SDK exceptions in, rollsafe errors out."""

from __future__ import annotations

import pytest
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_tea_openapi import exceptions as sdk_errors
from darabonba.exceptions import RetryError, UnretryableException
from darabonba.policy.retry import RetryPolicyContext

from rollsafe.domain import errors
from rollsafe.reach.clouds import aliyun as aliyun_cloud

ENDPOINT = "127.0.0.1:1"


def answered(code: str, status: int, *, message: str = "m", kind=sdk_errors.ClientException):
    """What the SDK raises for an error answer (the shape tea-openapi builds)."""
    data = {"RequestId": "REQ-1", "Code": code, "Message": message, "statusCode": status}
    return kind(
        status_code=status,
        code=code,
        message=f"code: {status}, {message} request id: REQ-1",
        data=data,
        request_id="REQ-1",
    )


def unanswered(inner: Exception) -> UnretryableException:
    return UnretryableException(RetryPolicyContext(retries_attempted=1, exception=inner))


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling.User", 400),
        ("Throttling", 400),
        ("Throttling.Api", 400),
        ("ServiceUnavailable", 503),
        ("InternalError", 500),
        ("UnknownError", 500),
        ("SomethingNew", 502),
    ],
)
def test_throttling_and_server_errors_are_temporary(code, status):
    result = aliyun_cloud.classify("ResetDisk", answered(code, status))

    error = aliyun_cloud.translate(result, endpoint=ENDPOINT)

    assert isinstance(error, errors.DriverTemporaryError)
    assert code in str(error)
    assert "REQ-1" in str(error)


def test_the_throttling_wait_the_service_asks_for_is_kept_in_seconds():
    exc = answered("Throttling.User", 400, kind=sdk_errors.ThrottlingException)
    exc.retry_after = 2500  # x-acs-retry-after is in milliseconds

    error = aliyun_cloud.translate(aliyun_cloud.classify("StopInstance", exc), endpoint=ENDPOINT)

    assert isinstance(error, errors.DriverTemporaryError)
    assert error.retry_after == 2.5


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Forbidden.RAM", 403),
        ("Forbidden", 403),
        ("NoPermission", 403),
        ("InvalidAccessKeyId.NotFound", 404),
        ("SignatureDoesNotMatch", 400),
    ],
)
def test_refusals_are_permanent_and_name_the_ram_action(code, status):
    error = aliyun_cloud.translate(
        aliyun_cloud.classify("ResetDisk", answered(code, status)), endpoint=ENDPOINT
    )

    assert type(error) is errors.DriverError
    assert code in str(error)
    assert "ecs:ResetDisk" in str(error)
    assert "REQ-1" in str(error)


@pytest.mark.parametrize(
    "code",
    [
        "IncorrectInstanceStatus",
        "InvalidParameter.Mismatch",
        "InvalidSnapshotId.NotFound",
        "IncorrectDiskStatus",
    ],
)
def test_state_errors_are_permanent_with_their_code(code):
    exc = answered(code, 403, message="The current status does not support this operation.")

    error = aliyun_cloud.translate(aliyun_cloud.classify("ResetDisk", exc), endpoint=ENDPOINT)

    assert type(error) is errors.DriverError
    assert f"ResetDisk failed: {code}: The current status" in str(error)


def test_a_call_with_no_answer_is_temporary_and_says_so():
    result = aliyun_cloud.classify("ResetDisk", unanswered(RetryError("Connection refused")))

    error = aliyun_cloud.translate(result, endpoint=ENDPOINT)

    assert not result.answered
    assert isinstance(error, errors.DriverTemporaryError)
    assert "got no answer from 127.0.0.1:1" in str(error)
    assert "Connection refused" in str(error)


def test_a_lost_connection_never_quotes_the_request_parameters():
    inner = RetryError(
        "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: "
        "/?CommandContent=export%20TOKEN%3Dsecret&InstanceId.1=i-1 (Caused by NewConnectionError)"
    )

    error = aliyun_cloud.translate(
        aliyun_cloud.classify("RunCommand", unanswered(inner)), endpoint=ENDPOINT
    )

    assert "TOKEN" not in str(error)
    assert "Max retries exceeded with url: /?…" in str(error)


def test_missing_credentials_are_permanent_and_point_at_the_chain():
    inner = CredentialException("unable to load credentials from any of the providers")

    result = aliyun_cloud.classify("DescribeInstances", unanswered(inner))
    error = aliyun_cloud.translate(result, endpoint=ENDPOINT)

    assert result.credentials
    assert type(error) is errors.DriverError
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in str(error)


def test_a_refusal_by_the_sdk_itself_is_permanent():
    # Raised before anything is sent (tea-openapi's own checks): a code, no HTTP status.
    exc = sdk_errors.ClientException(code="ParameterMissing", message="'config' can not be unset")

    result = aliyun_cloud.classify("ResetDisk", exc)

    assert result.answered
    assert result.status is None
    assert type(aliyun_cloud.translate(result, endpoint=ENDPOINT)) is errors.DriverError


def test_a_successful_result_is_ok_and_failures_are_not():
    assert aliyun_cloud.ApiResult(action="StopInstance", request_id="R").ok
    assert not aliyun_cloud.ApiResult(action="StopInstance", code="IncorrectInstanceStatus").ok
    assert not aliyun_cloud.ApiResult(action="StopInstance", answered=False).ok
