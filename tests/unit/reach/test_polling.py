"""The one poller of long cloud operations: a throttled look is a late look, not the end."""

from __future__ import annotations

import asyncio

import pytest

from rollsafe.domain import errors
from rollsafe.reach import polling


def looks(*answers):
    """A look answering ``answers`` in turn; an exception instance is raised instead."""
    seen: list[object] = []

    async def look():
        answer = answers[len(seen)]
        seen.append(answer)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return look, seen


async def test_a_throttled_look_in_the_middle_of_a_wait_is_retried():
    throttled = errors.DriverTemporaryError("RequestLimitExceeded", retry_after=0.01)
    look, seen = looks(
        (None, "pending"), throttled, throttled, (None, "pending 90%"), ("ok", "done")
    )

    result = await polling.until(look, what="snapshot", limit=30, interval=0.001, max_interval=0.01)

    assert result == "ok"
    assert len(seen) == 5


async def test_a_state_that_will_never_come_right_ends_the_wait_at_once():
    look, seen = looks((None, "pending"), errors.DriverError("snapshot failed"), ("ok", "done"))

    with pytest.raises(errors.DriverError, match="snapshot failed"):
        await polling.until(look, what="snapshot", limit=30, interval=0.001, max_interval=0.01)
    assert len(seen) == 2


async def test_the_wait_gives_up_after_its_limit_naming_what_it_saw_last():
    async def look():
        await asyncio.sleep(0)
        return None, "pending 42%"

    with pytest.raises(
        errors.DriverError,
        match=r"gave up waiting for snapshot after 0.05s \(last seen: pending 42%\); raise",
    ):
        await polling.until(
            look, what="snapshot", limit=0.05, interval=0.001, max_interval=0.01, hint="; raise"
        )


async def test_a_throttled_last_look_is_named_with_what_was_seen_before():
    async def look():
        raise errors.DriverTemporaryError("Throttling.User", retry_after=None)

    with pytest.raises(errors.DriverError, match=r"last seen: nothing yet; then Throttling.User"):
        await polling.until(look, what="disk", limit=0.02, interval=0.001, max_interval=0.01)
