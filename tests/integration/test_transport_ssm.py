"""The aws_ssm transport against moto's SSM and EC2, with the script run for real by the proxy."""

from __future__ import annotations

import typing

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import driving
from rollsafe.reach.transports import ssm
from support import ssm_standin


@pytest.fixture(scope="module")
def standin() -> typing.Iterator[ssm_standin.SsmStandIn]:
    with ssm_standin.running() as running:
        yield running


@pytest.fixture
def calls(
    monkeypatch: pytest.MonkeyPatch,
) -> typing.Iterator[list[tuple[str, dict[str, typing.Any]]]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    seen: list[tuple[str, dict[str, typing.Any]]] = []
    token = driving.recording_api_calls(lambda op, details: seen.append((op, dict(details))))
    yield seen
    driving.reset_api_calls(token)


def transport(standin: ssm_standin.SsmStandIn, *, limit: int = 16384) -> ssm.SsmTransport:
    config = models.SsmTransport(
        kind="aws_ssm",
        region=ssm_standin.REGION,
        endpoint_url=standin.endpoint,
        poll_interval=0.05,
    )
    return ssm.make(config, output_limit=limit)


def target(instance_id: str) -> models.Target:
    return models.Target(id="web-1", vars={"instance_id": instance_id})


async def test_a_command_runs_and_its_exit_code_and_output_come_back(
    standin: ssm_standin.SsmStandIn, calls: list[tuple[str, dict[str, typing.Any]]]
) -> None:
    iid = standin.launch()
    t = transport(standin)
    try:
        result = await t.run(target(iid), "echo hello; echo oops >&2; exit 0", limit_s=20)
    finally:
        await t.close()
    assert (result.exit_status, result.stdout, result.stderr) == (0, "hello\n", "oops\n")
    assert result.invocation_id
    assert not result.truncated
    operations = [op for op, _ in calls]
    assert operations[0] == "SendCommand"
    assert operations.count("GetCommandInvocation") >= 2  # the first answer is "not yet"
    assert all(d.get("request_id") for _, d in calls)
    assert all(d["command_id"] == result.invocation_id for _, d in calls)
    assert len(calls) == standin.count("SendCommand") + standin.count("GetCommandInvocation")


async def test_a_failing_command_is_a_result(
    standin: ssm_standin.SsmStandIn, calls: list[tuple[str, dict[str, typing.Any]]]
) -> None:
    t = transport(standin)
    try:
        result = await t.run(target(standin.launch()), "echo broken >&2; exit 7", limit_s=20)
    finally:
        await t.close()
    assert (result.exit_status, result.stderr, result.ok) == (7, "broken\n", False)


async def test_output_beyond_the_api_limit_is_marked_truncated(
    standin: ssm_standin.SsmStandIn, calls: list[tuple[str, dict[str, typing.Any]]]
) -> None:
    t = transport(standin, limit=1000)
    try:
        result = await t.run(
            target(standin.launch()), "head -c 30000 /dev/zero | tr '\\0' x", limit_s=20
        )
    finally:
        await t.close()
    assert result.truncated
    assert result.stdout.endswith("x" * 900)


async def test_a_command_past_its_limit_is_an_error(
    standin: ssm_standin.SsmStandIn, calls: list[tuple[str, dict[str, typing.Any]]]
) -> None:
    t = transport(standin)
    try:
        with pytest.raises(errors.DriverError, match="timed out"):
            await t.run(target(standin.launch()), "sleep 30", limit_s=1)
    finally:
        await t.close()


async def test_an_instance_ssm_does_not_manage_is_a_clear_error(
    standin: ssm_standin.SsmStandIn, calls: list[tuple[str, dict[str, typing.Any]]]
) -> None:
    offline = standin.launch()
    standin.offline.add(offline)
    t = transport(standin)
    try:
        for iid in ("i-0123456789abcdef0", offline):
            with pytest.raises(errors.DriverError, match="AmazonSSMManagedInstanceCore") as raised:
                await t.run(target(iid), "true", limit_s=5)
            assert not isinstance(raised.value, errors.DriverTemporaryError)
    finally:
        await t.close()
    assert [d["error"] for _, d in calls] == ["InvalidInstanceId", "InvalidInstanceId"]


async def test_throttling_is_temporary(
    standin: ssm_standin.SsmStandIn, calls: list[tuple[str, dict[str, typing.Any]]]
) -> None:
    iid = standin.launch()
    standin.fail("SendCommand", "ThrottlingException", times=2)
    t = transport(standin)
    try:
        with pytest.raises(errors.DriverTemporaryError, match="ThrottlingException"):
            await t.run(target(iid), "true", limit_s=5)
        standin.fail("GetCommandInvocation", "ThrottlingException", times=2)
        result = await t.run(target(iid), "echo late", limit_s=20)  # a throttled poll waits
    finally:
        await t.close()
    assert result.stdout == "late\n"


async def test_the_env_reaches_the_script_but_neither_the_output_nor_the_audit(
    standin: ssm_standin.SsmStandIn, calls: list[tuple[str, dict[str, typing.Any]]]
) -> None:
    secret = "s3cr3t-'value' with $dollar"
    t = transport(standin)
    try:
        result = await t.run(
            target(standin.launch()),
            'echo "token=$TOKEN"; test "$TOKEN" = "$EXPECTED"',
            limit_s=20,
            env={"TOKEN": secret, "EXPECTED": secret},
        )
    finally:
        await t.close()
    assert result.exit_status == 0  # the value arrived intact, quoting and all
    assert secret not in result.stdout
    assert secret not in repr(calls)
