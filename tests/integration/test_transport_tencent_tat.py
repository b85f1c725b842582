"""The tencent_tat transport: the real SDK against the TC3 stand-in's TAT, scripts run for real."""

from __future__ import annotations

import typing

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import driving
from rollsafe.reach.transports import tencent_tat
from support.tencent_standin import TencentStandin

SECRET_ID = "AKIDrollsafeTatStandin01"
SECRET_KEY = "standin-tat-secret-key"
Calls = list[tuple[str, dict[str, typing.Any]]]


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> typing.Iterator[TencentStandin]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    with TencentStandin(secret_id=SECRET_ID, secret_key=SECRET_KEY) as s:
        s.add_instance("ins-web00001")
        yield s


@pytest.fixture
def calls() -> typing.Iterator[Calls]:
    seen: Calls = []
    token = driving.recording_api_calls(lambda op, details: seen.append((op, dict(details))))
    yield seen
    driving.reset_api_calls(token)


@pytest.fixture
async def transport(standin: TencentStandin) -> typing.AsyncIterator[tencent_tat.TatTransport]:
    config = models.TencentTatTransport(
        kind="tencent_tat",
        region=standin.region,
        endpoint=f"http://{standin.endpoint('tat')}",
        poll_interval=0.05,
    )
    made = tencent_tat.make(config, output_limit=16384)
    yield made
    await made.close()


def target(instance_id: str = "ins-web00001") -> models.Target:
    return models.Target(id="web-1", vars={"instance_id": instance_id})


async def test_a_command_runs_and_its_exit_code_and_output_come_back(
    standin: TencentStandin, transport: tencent_tat.TatTransport, calls: Calls
) -> None:
    result = await transport.run(target(), "echo hello; echo oops >&2", limit_s=20)
    assert (result.exit_status, result.stdout, result.stderr) == (0, "hello\noops\n", "")
    assert result.invocation_id.startswith("inv-")
    assert not result.truncated
    sent = next(c for c in standin.calls if c.action == "RunCommand").params
    assert sent["CommandType"] == "SHELL"
    assert "echo hello" not in sent["Content"]
    operations = [op for op, _ in calls]
    assert operations[0] == "RunCommand"
    assert set(operations[1:]) == {"DescribeInvocationTasks"}
    assert [d["request_id"] for _, d in calls] == [c.request_id for c in standin.calls]
    assert all(d["invocation_id"] == result.invocation_id for _, d in calls)


async def test_a_failing_command_is_a_result_and_a_long_output_truncated(
    standin: TencentStandin, transport: tencent_tat.TatTransport, calls: Calls
) -> None:
    result = await transport.run(target(), "echo broken; exit 4", limit_s=20)
    assert (result.exit_status, result.stdout, result.ok) == (4, "broken\n", False)
    long = await transport.run(target(), "head -c 30000 /dev/zero | tr '\\0' x", limit_s=20)
    assert long.truncated
    assert long.exit_status == 0


async def test_a_command_past_its_limit_is_an_error(
    standin: TencentStandin, transport: tencent_tat.TatTransport, calls: Calls
) -> None:
    with pytest.raises(errors.DriverError, match="timed out"):
        await transport.run(target(), "sleep 30", limit_s=1)
    assert all(t.run.result is not None for t in standin.tat_tasks.values())  # killed


async def test_an_unknown_instance_or_an_offline_agent_is_a_clear_error(
    standin: TencentStandin, transport: tencent_tat.TatTransport, calls: Calls
) -> None:
    with pytest.raises(errors.DriverError, match="does not exist") as raised:
        await transport.run(target("ins-nothere1"), "true", limit_s=20)
    assert not isinstance(raised.value, errors.DriverTemporaryError)
    standin.add_instance("ins-web00002")
    standin.agent_offline.add("ins-web00002")
    with pytest.raises(errors.DriverError, match="agent must be installed and online"):
        await transport.run(target("ins-web00002"), "true", limit_s=20)
    assert [d["error"] for _, d in calls] == [
        "ResourceNotFound.InstanceNotFound",
        "ResourceUnavailable.AgentStatusNotOnline",
    ]


async def test_throttling_is_temporary_and_a_throttled_poll_only_late(
    standin: TencentStandin, transport: tencent_tat.TatTransport, calls: Calls
) -> None:
    standin.throttle("RunCommand")
    with pytest.raises(errors.DriverTemporaryError, match="RequestLimitExceeded"):
        await transport.run(target(), "true", limit_s=20)
    standin.throttle("DescribeInvocationTasks", times=2)
    result = await transport.run(target(), "echo late", limit_s=20)
    assert result.stdout == "late\n"
    assert [d.get("error") for _, d in calls].count("RequestLimitExceeded") == 3


async def test_the_env_reaches_the_script_but_neither_the_output_nor_the_audit(
    standin: TencentStandin, transport: tencent_tat.TatTransport, calls: Calls
) -> None:
    secret = "s3cr3t-'value' with $dollar"
    result = await transport.run(
        target(),
        'echo "token=$TOKEN"; test "$TOKEN" = "$EXPECTED"',
        limit_s=20,
        env={"TOKEN": secret, "EXPECTED": secret},
    )
    assert result.exit_status == 0
    assert secret not in result.stdout
    assert secret not in repr(calls)
