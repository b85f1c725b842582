"""The aliyun_assistant transport: the real SDK against the ECS stand-in, scripts run for real."""

from __future__ import annotations

import typing

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import driving
from rollsafe.reach.transports import aliyun_assistant
from support import aliyun_standin as standins

Calls = list[tuple[str, dict[str, typing.Any]]]


@pytest.fixture
async def ecs(monkeypatch: pytest.MonkeyPatch) -> typing.AsyncIterator[standins.EcsStandIn]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", standins.ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", standins.ACCESS_KEY_SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    standin = standins.EcsStandIn()
    standin.real_shell = True
    async with standin.serve() as endpoint:
        standin.endpoint = endpoint  # type: ignore[attr-defined]
        yield standin


@pytest.fixture
def calls() -> typing.Iterator[Calls]:
    seen: Calls = []
    token = driving.recording_api_calls(lambda op, details: seen.append((op, dict(details))))
    yield seen
    driving.reset_api_calls(token)


@pytest.fixture
async def transport(
    ecs: standins.EcsStandIn,
) -> typing.AsyncIterator[aliyun_assistant.AssistantTransport]:
    config = models.AliyunAssistantTransport(
        kind="aliyun_assistant",
        region=standins.REGION,
        endpoint=f"http://{ecs.endpoint}",  # type: ignore[attr-defined]
        poll_interval=0.05,
    )
    made = aliyun_assistant.make(config, output_limit=16384)
    yield made
    await made.close()


def target(ecs: standins.EcsStandIn, instance_id: str | None = None) -> models.Target:
    iid = instance_id or ecs.add_instance("web-1").instance_id
    return models.Target(id="web-1", vars={"instance_id": iid})


async def test_a_command_runs_and_its_exit_code_and_output_come_back(
    ecs: standins.EcsStandIn, transport: aliyun_assistant.AssistantTransport, calls: Calls
) -> None:
    result = await transport.run(
        target(ecs), "pwd >/dev/null; echo hello; echo oops >&2", limit_s=20
    )
    assert (result.exit_status, result.stdout, result.stderr) == (0, "hello\noops\n", "")
    assert result.invocation_id
    assert not result.truncated
    sent = ecs.calls_of("RunCommand")[0].params
    assert sent["ContentEncoding"] == "Base64"
    assert "echo hello" not in sent["CommandContent"]
    operations = [op for op, _ in calls]
    assert operations[0] == "RunCommand"
    assert set(operations[1:]) == {"DescribeInvocationResults"}
    assert len(calls) == len(ecs.calls)
    assert [d["request_id"] for _, d in calls] == [c.request_id for c in ecs.calls]
    assert all(d["invoke_id"] == result.invocation_id for _, d in calls)


async def test_a_failing_command_is_a_result(
    ecs: standins.EcsStandIn, transport: aliyun_assistant.AssistantTransport, calls: Calls
) -> None:
    result = await transport.run(target(ecs), "echo broken; exit 3", limit_s=20)
    assert (result.exit_status, result.stdout, result.ok) == (3, "broken\n", False)


async def test_a_command_past_its_limit_is_stopped_and_an_error(
    ecs: standins.EcsStandIn, transport: aliyun_assistant.AssistantTransport, calls: Calls
) -> None:
    with pytest.raises(errors.DriverError, match="timed out"):
        await transport.run(target(ecs), "sleep 30", limit_s=1)
    assert [op for op, _ in calls][-1] == "StopInvocation"
    assert all(i.status == "Stopped" for i in ecs.invocations.values())


async def test_an_unknown_instance_or_an_offline_agent_is_a_clear_error(
    ecs: standins.EcsStandIn, transport: aliyun_assistant.AssistantTransport, calls: Calls
) -> None:
    with pytest.raises(errors.DriverError, match="does not exist") as raised:
        await transport.run(target(ecs, "i-bp1nothere"), "true", limit_s=20)
    assert not isinstance(raised.value, errors.DriverTemporaryError)
    assert calls[0][1]["code"] == "InvalidInstance.NotFound"
    offline = ecs.add_instance("web-2").instance_id
    ecs.agent_offline.add(offline)
    with pytest.raises(errors.DriverError, match="ClientNotRunning"):
        await transport.run(target(ecs, offline), "true", limit_s=20)


async def test_throttling_is_temporary_and_a_throttled_poll_only_late(
    ecs: standins.EcsStandIn, transport: aliyun_assistant.AssistantTransport, calls: Calls
) -> None:
    t = target(ecs)
    ecs.throttle("RunCommand")
    with pytest.raises(errors.DriverTemporaryError, match="Throttling"):
        await transport.run(t, "true", limit_s=20)
    ecs.throttle("DescribeInvocationResults", times=2)
    result = await transport.run(t, "echo late", limit_s=20)
    assert result.stdout == "late\n"
    assert [d.get("code") for _, d in calls].count("Throttling.User") == 3


async def test_the_env_reaches_the_script_but_neither_the_output_nor_the_audit(
    ecs: standins.EcsStandIn, transport: aliyun_assistant.AssistantTransport, calls: Calls
) -> None:
    secret = "s3cr3t-'value' with $dollar"
    result = await transport.run(
        target(ecs),
        'echo "token=$TOKEN"; test "$TOKEN" = "$EXPECTED"',
        limit_s=20,
        env={"TOKEN": secret, "EXPECTED": secret},
    )
    assert result.exit_status == 0
    assert secret not in result.stdout
    assert secret not in repr(calls)
