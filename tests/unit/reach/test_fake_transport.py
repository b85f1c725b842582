"""The shipped fake transports: ``FakeTransport`` really runs scripts here, counts, fails and
cuts them; ``ScriptedTransport`` answers from rules and refuses what it was not told about."""

from __future__ import annotations

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach.transports import batching, transporting
from rollsafe.testing import FakeTransport, ScriptedTransport

WEB = models.Target(id="web-1")
DB = models.Target(id="db-1")
SSM = models.SsmTransport(kind="aws_ssm", region="eu-west-1")


async def test_scripts_really_run_here_and_are_counted_per_target() -> None:
    transport = FakeTransport()
    first = await transport.run(WEB, "echo out; echo err >&2; exit 4", limit_s=5)
    second = await transport.run(WEB, 'printf %s "$GREETING"', limit_s=5, env={"GREETING": "hi"})
    await transport.run(DB, "true", limit_s=5)
    assert (first.exit_status, first.stdout, first.stderr) == (4, "out\n", "err\n")
    assert second.ok
    assert second.stdout == "hi"
    assert transport.calls == {"web-1": 2, "db-1": 1}
    assert transport.scripts == [
        "echo out; echo err >&2; exit 4",
        'printf %s "$GREETING"',
        "true",
    ]
    assert transport.kind == "local"
    assert transport.config is None


async def test_a_set_failure_is_raised_instead_of_running_and_the_call_still_counts() -> None:
    transport = FakeTransport(fail=errors.DriverTemporaryError("throttled"))
    with pytest.raises(errors.DriverTemporaryError, match="throttled"):
        await transport.run(WEB, "echo never", limit_s=5)
    assert transport.calls["web-1"] == 1
    assert transport.scripts == ["echo never"]
    transport.fail = None  # healed: commands run again
    assert (await transport.run(WEB, "echo back", limit_s=5)).stdout == "back\n"
    transport.fail = errors.DriverError("agent offline")
    with pytest.raises(errors.DriverError, match="agent offline"):
        await transport.run(WEB, "echo again", limit_s=5)
    assert transport.calls["web-1"] == 3


async def test_the_cap_cuts_stdout_like_a_cloud_and_says_so() -> None:
    transport = FakeTransport(kind="aws_ssm", config=SSM, cap=5)
    cut = await transport.run(WEB, "echo 0123456789; echo kept >&2", limit_s=5)
    assert (cut.stdout, cut.stderr, cut.truncated) == ("01234", "kept\n", True)
    whole = await transport.run(WEB, "printf 01234", limit_s=5)
    assert (whole.stdout, whole.truncated) == ("01234", False)  # exactly the cap is whole
    transport.cap = None
    assert (await transport.run(WEB, "echo 0123456789", limit_s=5)).stdout == "0123456789\n"


async def test_a_cloud_kind_and_config_make_the_scheduler_batch_it() -> None:
    transport = FakeTransport(kind="aws_ssm", config=SSM)
    assert batching.batched(transport.config)
    round_ = batching.Round(config=SSM, target_id="web-1", members=1)
    with batching.opened(round_):
        assert batching.joining(transport, WEB) is round_
        assert batching.joining(FakeTransport(), WEB) is None  # a local one is never batched


async def test_close_is_recorded_and_idempotent() -> None:
    transport = FakeTransport()
    await transport.close()
    await transport.close()
    assert transport.closed


def test_bad_settings_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="cap must be"):
        FakeTransport(cap=-1)
    with pytest.raises(ValueError, match="does not match the config's kind 'aws_ssm'"):
        FakeTransport(kind="local", config=SSM)


def _result(stdout: str, status: int = 0) -> transporting.CommandResult:
    return transporting.CommandResult(exit_status=status, stdout=stdout, stderr="", duration=0.0)


async def test_a_scripted_transport_answers_newest_rule_first_in_turn_repeating_the_last() -> None:
    host = ScriptedTransport().on("lvs", _result("old"))
    host.on("lvs -o", _result("first"), _result("second"))
    host.on("reboot", ConnectionResetError("gone"))
    assert (await host.run(WEB, "lvs -o name", limit_s=5)).stdout == "first"
    assert (await host.run(WEB, "lvs -o name", limit_s=7)).stdout == "second"
    assert (await host.run(WEB, "lvs -o name", limit_s=5)).stdout == "second"  # last repeats
    assert (await host.run(WEB, "lvs", limit_s=5)).stdout == "old"  # the older, wider rule
    with pytest.raises(ConnectionResetError):
        await host.run(WEB, "systemctl reboot", limit_s=5)
    assert host.sent("lvs -o") == ["lvs -o name"] * 3
    assert host.limits[:2] == [5, 7]


async def test_a_scripted_transport_refuses_what_it_was_not_told_about() -> None:
    host = ScriptedTransport().on("echo", _result("hi"))
    with pytest.raises(AssertionError, match="unscripted command: 'rm -rf /srv'"):
        await host.run(WEB, "rm -rf /srv", limit_s=5)
    assert host.commands == ["rm -rf /srv"]  # recorded all the same
    with pytest.raises(ValueError, match="needs at least one answer"):
        host.on("lvs")
