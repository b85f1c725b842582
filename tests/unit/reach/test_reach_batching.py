"""Batching of remote probe commands: the batch script run by a real ``sh``, the round's rules.

The cloud transports are stood in for by ``rollsafe.testing.FakeTransport`` with an ``aws_ssm``
configuration (so rounds take it): it runs the script on this machine, counting calls.
"""

from __future__ import annotations

import asyncio

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach.transports import batching, transporting
from rollsafe.testing import FakeTransport

TARGET = models.Target(id="web-1", vars={"instance_id": "i-0123"})
SSM = models.SsmTransport(kind="aws_ssm", region="eu-west-1")


def _cloud(*, fail: Exception | None = None, cap: int | None = None) -> FakeTransport:
    return FakeTransport(kind="aws_ssm", config=SSM, fail=fail, cap=cap)


async def _batch(parts: list[batching.Part], cloud: FakeTransport | None = None) -> list[object]:
    cloud = cloud or _cloud()
    mark = batching.new_mark()
    result = await cloud.run(TARGET, batching.script(parts, mark=mark), limit_s=30)
    return list(batching.split(result.stdout, mark=mark, parts=parts, duration=result.duration))


async def test_each_part_comes_back_with_its_own_status_output_and_stderr() -> None:
    parts = [
        batching.Part("echo hello; echo careful >&2", limit_s=5, budget=1000),
        batching.Part("printf 'no newline'; exit 3", limit_s=5, budget=1000),
        batching.Part("printf 'a\\n\\nb\\n\\n'", limit_s=5, budget=1000),
        batching.Part("printf '%s\\n' \"$1\" 'it''s' \"quotes ' and \\\" survive\"", 5, 1000),
    ]
    first, second, third, fourth = await _batch(parts)
    assert isinstance(first, transporting.CommandResult)
    assert (first.exit_status, first.stdout, first.stderr) == (0, "hello\n", "careful\n")
    assert isinstance(second, transporting.CommandResult)
    assert (second.exit_status, second.stdout, second.stderr) == (3, "no newline", "")
    assert isinstance(third, transporting.CommandResult)
    assert third.stdout == "a\n\nb\n\n"  # blank lines and trailing newlines are kept
    assert isinstance(fourth, transporting.CommandResult)
    assert fourth.stdout == "\nits\nquotes ' and \" survive\n"


async def test_a_part_printing_more_than_its_budget_is_cut_and_says_so() -> None:
    parts = [
        batching.Part("head -c 5000 /dev/zero | tr '\\0' x", limit_s=5, budget=600),
        batching.Part("echo small", limit_s=5, budget=600),
    ]
    big, small = await _batch(parts)
    assert isinstance(big, transporting.CommandResult)
    assert big.stdout == "x" * 600
    assert big.truncated
    assert isinstance(small, transporting.CommandResult)
    assert small.stdout == "small\n"
    assert not small.truncated


async def test_a_hanging_part_is_stopped_at_its_limit_and_the_others_answer() -> None:
    parts = [
        batching.Part("sleep 30", limit_s=1, budget=600),
        batching.Part("echo quick", limit_s=1, budget=600),
    ]
    hung, quick = await _batch(parts)
    assert isinstance(hung, transporting.CommandResult)
    assert hung.exit_status == 124  # `timeout`'s own exit status
    assert isinstance(quick, transporting.CommandResult)
    assert quick.stdout == "quick\n"


async def test_parts_the_cloud_cut_off_are_missing_not_made_up() -> None:
    parts = [batching.Part("head -c 3000 /dev/zero | tr '\\0' y", 5, 3000)] + [
        batching.Part(f"echo part{i}", 5, 600) for i in range(3)
    ]
    outcomes = await _batch(parts, _cloud(cap=2000))
    assert isinstance(outcomes[0], batching.PartMissing)
    assert all(isinstance(o, batching.PartMissing) for o in outcomes[1:])
    # Cut after the first part: it is there whole, the last one is missing.
    outcomes = await _batch(parts, _cloud(cap=3250))
    assert isinstance(outcomes[0], transporting.CommandResult)
    assert outcomes[0].stdout == "y" * 3000
    assert isinstance(outcomes[-1], batching.PartMissing)
    # Whole: every part.
    outcomes = await _batch(parts, _cloud(cap=5000))
    assert [o.stdout for o in outcomes[1:]] == ["part0\n", "part1\n", "part2\n"]  # type: ignore[union-attr]


def test_the_budget_of_a_part_shrinks_with_the_parts_of_the_round_and_fits_the_cap() -> None:
    one, seven = batching.part_budget("aws_ssm", 1), batching.part_budget("aws_ssm", 7)
    assert one > seven >= 512
    assert 7 * (seven + batching.ERR_BUDGET + 160) + 160 <= batching.OUTPUT_CAPS["aws_ssm"]
    assert batching.batched(SSM)
    assert not batching.batched(models.LocalTransport(kind="local"))
    assert not batching.batched(None)


async def _member(
    round_: batching.Round, cloud: FakeTransport, command: str | None
) -> transporting.CommandResult | None:
    try:
        if command is None:
            await asyncio.sleep(0)
            return None
        return await round_.submit(cloud, TARGET, command, limit_s=5)
    finally:
        round_.leave()


async def test_a_round_sends_once_when_every_member_has_handed_in_or_left() -> None:
    cloud = _cloud()
    round_ = batching.Round(config=SSM, target_id="web-1", members=4)
    with batching.opened(round_):
        assert batching.joining(cloud, TARGET) is round_
        assert batching.joining(cloud, models.Target(id="db-1")) is None
        results = await asyncio.gather(
            _member(round_, cloud, "echo same"),
            _member(round_, cloud, "echo same"),
            _member(round_, cloud, "echo other"),
            _member(round_, cloud, None),  # finished without a command (e.g. a render error)
        )
    assert cloud.calls == {"web-1": 1}
    assert round_.calls == 1
    # Identical commands are sent once, and each member gets the answer.
    assert cloud.scripts[0].count("echo same") == 1
    assert [r.stdout if r else None for r in results] == ["same\n", "same\n", "other\n", None]
    # Spent: a later command runs on its own.
    assert batching.joining(cloud, TARGET) is None


@pytest.mark.parametrize(
    "failure",
    [errors.DriverTemporaryError("ThrottlingException"), errors.DriverError("agent offline")],
)
async def test_a_failed_call_is_every_members_error(failure: Exception) -> None:
    cloud = _cloud(fail=failure)
    round_ = batching.Round(config=SSM, target_id="web-1", members=2)
    outcomes = await asyncio.gather(
        _member(round_, cloud, "echo a"), _member(round_, cloud, "echo b"), return_exceptions=True
    )
    assert cloud.calls == {"web-1": 1}
    assert outcomes == [failure, failure]


def test_a_round_too_long_for_the_clouds_script_cap_goes_as_few_commands_as_fit() -> None:
    big = batching.Part("echo " + "z" * 4000, limit_s=5, budget=600)
    small = batching.Part("echo small", limit_s=5, budget=600)
    assert batching.packed([big, small], kind="aws_ssm") == [[big, small]]  # no cap known
    batches = batching.packed([big, big, small, big, small], kind="aliyun_assistant")
    assert [len(b) for b in batches] == [3, 2]
    for one in batches:
        encoded = len(batching.script(one, mark=batching.new_mark()).encode()) * 4 / 3
        assert encoded <= 16 * 1024


async def test_a_round_in_several_commands_still_answers_every_member() -> None:
    aliyun = models.AliyunAssistantTransport(kind="aliyun_assistant", region="cn-hangzhou")
    cloud = FakeTransport(kind="aliyun_assistant", config=aliyun)
    round_ = batching.Round(config=aliyun, target_id="web-1", members=4)
    commands = [f"echo {i}; : {'w' * 5000}" for i in range(4)]
    results = await asyncio.gather(*(_member(round_, cloud, c) for c in commands))
    assert [r.stdout if r else None for r in results] == ["0\n", "1\n", "2\n", "3\n"]
    assert cloud.calls["web-1"] == round_.calls == 2
