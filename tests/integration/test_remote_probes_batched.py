"""Remote probes over the cloud run-command transports: one cloud command per target per round.

Against the local stand-ins with the real SDKs (boto3 for SSM through moto, the Alibaba
Cloud SDK for Cloud Assistant, the Tencent Cloud SDK for TAT); each stand-in runs the script
it was sent for real with ``sh -c`` on this machine, so the batch script, its parallel parts,
their frames and the log following are the real ones. The scheduler's ``observe_once`` forms
the round, as a scheduled tick does.
"""

from __future__ import annotations

import contextlib
import typing
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.detect import scheduling
from rollsafe.domain import observations
from rollsafe.testing import FakeClock
from support import aliyun_standin, journals, ssm_standin
from support.tencent_standin import TencentStandin

TAT_ID = "AKIDrollsafeBatchStandin1"
TAT_KEY = "standin-batch-secret-key"


class Cloud(typing.Protocol):
    transport: dict[str, typing.Any]
    instance_id: str

    def sends(self) -> int: ...

    def throttle_sends(self) -> None: ...

    def unthrottle(self) -> None: ...


class _Ssm:
    def __init__(self, standin: ssm_standin.SsmStandIn) -> None:
        self._s = standin
        self.transport = {
            "kind": "aws_ssm",
            "region": ssm_standin.REGION,
            "endpoint_url": standin.endpoint,
            "poll_interval": 0.05,
        }
        self.instance_id = standin.launch()

    def sends(self) -> int:
        return self._s.count("SendCommand")

    def throttle_sends(self) -> None:
        # More than the SDK's own retries: the call fails.
        self._s.fail("SendCommand", "ThrottlingException", times=5)

    def unthrottle(self) -> None:
        self._s.faults.clear()


class _Aliyun:
    def __init__(self, standin: aliyun_standin.EcsStandIn, endpoint: str) -> None:
        self._s = standin
        self.transport = {
            "kind": "aliyun_assistant",
            "region": aliyun_standin.REGION,
            "endpoint": f"http://{endpoint}",
            "poll_interval": 0.05,
        }
        self.instance_id = standin.add_instance("web-1").instance_id

    def sends(self) -> int:
        return len(self._s.calls_of("RunCommand"))

    def throttle_sends(self) -> None:
        self._s.throttle("RunCommand", times=5)

    def unthrottle(self) -> None:
        self._s.faults.clear()


class _Tat:
    def __init__(self, standin: TencentStandin) -> None:
        self._s = standin
        self.transport = {
            "kind": "tencent_tat",
            "region": standin.region,
            "endpoint": f"http://{standin.endpoint('tat')}",
            "poll_interval": 0.05,
        }
        self.instance_id = "ins-batch001"
        standin.add_instance(self.instance_id)

    def sends(self) -> int:
        return self._s.count("RunCommand")

    def throttle_sends(self) -> None:
        self._s.throttle("RunCommand", times=5)

    def unthrottle(self) -> None:
        self._s._faults.clear()


@pytest.fixture(params=["aws_ssm", "aliyun_assistant", "tencent_tat"])
async def cloud(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> typing.AsyncIterator[Cloud]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "aws_ssm":
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        with ssm_standin.running() as standin:
            yield _Ssm(standin)
    elif request.param == "aliyun_assistant":
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", aliyun_standin.ACCESS_KEY_ID)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", aliyun_standin.ACCESS_KEY_SECRET)
        monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
        ecs = aliyun_standin.EcsStandIn()
        ecs.real_shell = True
        async with ecs.serve() as endpoint:
            yield _Aliyun(ecs, endpoint)
    else:
        monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", TAT_ID)
        monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", TAT_KEY)
        with TencentStandin(secret_id=TAT_ID, secret_key=TAT_KEY) as tat:
            yield _Tat(tat)


def _config(cloud: Cloud, tmp_path: Path) -> models.RollsafeConfig:
    log = str(tmp_path / "app.log")
    common = {"transport": "fleet", "timeout": 20}
    return models.RollsafeConfig.model_validate(
        {
            "transports": {"fleet": cloud.transport},
            "targets": [{"id": "web-1", "vars": {"instance_id": cloud.instance_id}}],
            "probes": [
                {"kind": "host", "name": "cpu", "metric": "cpu", **common},
                {"kind": "host", "name": "memory", "metric": "memory", **common},
                {"kind": "host", "name": "load", "metric": "load", **common},
                {"kind": "log", "name": "errors", "path": log, "patterns": ["ERROR"], **common},
                {
                    "kind": "log",
                    "name": "gone",
                    "path": str(tmp_path / "missing.log"),
                    "patterns": ["ERROR"],
                    **common,
                },
                {
                    "kind": "command",
                    "name": "depth",
                    "command": ["sh", "-c", "echo depth=42"],
                    "parse": r"depth=(\d+)",
                    **common,
                },
                {
                    "kind": "command",
                    "name": "broken",
                    "command": ["sh", "-c", "echo nope >&2; exit 3"],
                    **common,
                },
            ],
        }
    )


@contextlib.asynccontextmanager
async def _scheduler(
    config: models.RollsafeConfig,
) -> typing.AsyncIterator[scheduling.Scheduler]:
    made = scheduling.Scheduler(config, clock=FakeClock(start=100.0), sink=lambda _: None)
    try:
        yield made
    finally:
        await made.close()


def _by_name(seen: list[observations.Observation]) -> dict[str, observations.Observation]:
    return {o.source: o for o in seen}


async def test_one_cloud_command_per_round_carries_every_probe(cloud: Cloud, tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_text("old ERROR before the first look\n")
    async with _scheduler(_config(cloud, tmp_path)) as scheduler:
        before = cloud.sends()
        first = _by_name(await scheduler.observe_once("web-1"))
        assert cloud.sends() - before == 1  # seven probes, ONE command
        assert len(first) == 7
        assert 0.0 < first["memory"].value <= 100.0, first["memory"].error
        assert first["load"].ok, first["load"].error
        assert first["cpu"].error == "warming up: first sample"
        assert first["errors"].ok
        assert first["errors"].value == 0.0
        assert first["depth"].value == 42.0
        # One part failing is that probe's own outcome; the others are observed.
        assert (first["broken"].status, first["broken"].value) == (3, 0.0)
        assert first["broken"].text == "nope"
        assert first["gone"].error is not None
        assert "file not found" in first["gone"].error

        with log.open("a") as out:
            out.write("ERROR one\nfine\nERROR two\n")
        sum(i * i for i in range(200_000))  # let the CPU counters move
        second = _by_name(await scheduler.observe_once("web-1"))
        assert cloud.sends() - before == 2
        assert second["errors"].value == 2.0, second["errors"].error
        assert second["errors"].text is not None
        assert "ERROR two" in second["errors"].text
        assert second["cpu"].ok or second["cpu"].error == (
            "no CPU time elapsed since the previous sample"
        )
        assert second["depth"].value == 42.0


async def test_a_throttled_call_blinds_every_probe_of_the_round(cloud: Cloud, tmp_path: Path):
    (tmp_path / "app.log").write_text("")
    async with _scheduler(_config(cloud, tmp_path)) as scheduler:
        await scheduler.observe_once("web-1")  # the log's first look, the host's first sample
        cloud.throttle_sends()
        throttled = _by_name(await scheduler.observe_once("web-1"))
        assert len(throttled) == 7
        for seen in throttled.values():
            # Blind (an error), never a failure value.
            assert seen.value is None, seen
            assert seen.status is None, seen
            assert "cannot reach web-1" in (seen.error or ""), seen.error
        cloud.unthrottle()
        with (tmp_path / "app.log").open("a") as out:
            out.write("ERROR after the throttle\n")
        again = _by_name(await scheduler.observe_once("web-1"))
        assert again["errors"].value == 1.0, again["errors"].error
        assert again["depth"].value == 42.0


async def test_a_backlog_is_read_within_the_rounds_output_budget(cloud: Cloud, tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_text("")
    async with _scheduler(_config(cloud, tmp_path)) as scheduler:
        await scheduler.observe_once("web-1")
        # Far more than one round's output may carry: read over several rounds, none lost.
        lines = [f"ERROR number {i:05d} " + "x" * 80 for i in range(300)]
        log.write_text("\n".join(lines) + "\n")
        counted = 0
        rounds = 0
        while counted < 300 and rounds < 60:
            seen = _by_name(await scheduler.observe_once("web-1"))
            assert seen["errors"].ok, seen["errors"].error
            assert seen["depth"].value == 42.0  # the others still fit
            counted += int(seen["errors"].value or 0)
            rounds += 1
        assert counted == 300
        assert rounds > 1


@pytest.mark.requires("journalctl", "systemd-journal-remote")
async def test_a_journal_backlog_is_read_within_the_rounds_budget(cloud: Cloud, tmp_path: Path):
    journal = tmp_path / "system.journal"
    journals.append(journal, [("app", "INFO started")])
    config = models.RollsafeConfig.model_validate(
        {
            "transports": {"fleet": cloud.transport},
            "targets": [{"id": "web-1", "vars": {"instance_id": cloud.instance_id}}],
            "probes": [
                {
                    "kind": "log",
                    "name": "journal",
                    "journal": {"file": str(journal)},
                    "patterns": ["ERROR"],
                    "transport": "fleet",
                    "timeout": 20,
                },
                {"kind": "host", "name": "load", "metric": "load", "transport": "fleet"}
                | {"timeout": 20},
            ],
        }
    )
    async with _scheduler(config) as scheduler:
        first = _by_name(await scheduler.observe_once("web-1"))
        assert first["journal"].value == 0.0, first["journal"].error  # starts at the end
        # About 40 KB of new entries: more than one round's output may carry.
        journals.append(journal, [("app", f"ERROR {i:04d} " + "y" * 100) for i in range(300)])
        counted, rounds = 0, 0
        while counted < 300 and rounds < 30:
            seen = _by_name(await scheduler.observe_once("web-1"))
            assert seen["journal"].ok, seen["journal"].error
            assert seen["load"].ok, seen["load"].error
            counted += int(seen["journal"].value or 0)
            rounds += 1
        assert counted == 300  # every entry once: fewer per round, none lost
        assert rounds > 1
