"""The part shared by the log platform probes, on a fake platform and virtual time.

Window arithmetic (interval, window, delay), the log probe's observation shape, the count
surviving a failed or late line query, and every failure of the count being an error.
"""

from __future__ import annotations

import asyncio

import pytest

from rollsafe.config import models
from rollsafe.detect.probes import platforms
from rollsafe.testing import FakeClock, FakeLogPlatform

NOW = 1_000_000.0
TARGET = models.Target(id="web-1")


def _config(**extra: object) -> models.LokiProbe:
    return models.LokiProbe.model_validate(
        {"kind": "loki", "name": "p", "url": "http://l:3100", "selector": '{a="b"}', **extra}
    )


def _probe(platform: FakeLogPlatform, **extra: object) -> platforms.PlatformProbe:
    return platforms.PlatformProbe(_config(**extra), FakeClock(start=NOW), platform)


@pytest.mark.parametrize(
    ("extra", "start", "end"),
    [
        ({}, NOW - 15, NOW),
        ({"interval": "1m"}, NOW - 60, NOW),
        ({"interval": "1m", "window": "5m"}, NOW - 300, NOW),
        ({"interval": "1m", "delay": "30s"}, NOW - 90, NOW - 30),
    ],
)
def test_the_window(extra: dict[str, object], start: float, end: float) -> None:
    assert platforms.window_at(_config(**extra), NOW) == platforms.Window(start, end)


async def test_counts_the_window_and_shows_the_newest_line() -> None:
    platform = FakeLogPlatform()
    platform.add("web-1", NOW - 15, "at the open end: out")
    platform.add("web-1", NOW - 10, "first")
    platform.add("web-1", NOW, "last\r\n")
    platform.add("web-2", NOW - 1, "another host")
    seen = await _probe(platform).observe(TARGET)
    assert (seen.error, seen.value, seen.text, seen.source) == (None, 2.0, "last", "p")


async def test_nothing_is_zero_and_the_line_is_not_asked() -> None:
    platform = FakeLogPlatform()
    seen = await _probe(platform).observe(TARGET)
    assert (seen.error, seen.value, seen.text) == (None, 0.0, None)
    assert [call[0] for call in platform.calls] == ["count"]


async def test_a_long_line_is_cut() -> None:
    platform = FakeLogPlatform()
    platform.add("web-1", NOW, "x" * 2000)
    seen = await _probe(platform).observe(TARGET)
    assert seen.text is not None
    assert len(seen.text) == 500
    assert seen.text.endswith("…")


@pytest.mark.parametrize(
    "failure",
    [
        platforms.Unavailable("loki is unavailable for now (HTTP 503)", retry_after=2.0),
        platforms.Refused("loki refused the credentials (HTTP 401)"),
    ],
)
async def test_a_failed_count_is_blind_never_a_value(failure: platforms.Unavailable) -> None:
    platform = FakeLogPlatform(fail_count=[failure])
    platform.add("web-1", NOW, "line")
    seen = await _probe(platform).observe(TARGET)
    assert (seen.value, seen.text, seen.error) == (None, None, str(failure))


async def test_a_failed_line_query_keeps_the_count() -> None:
    platform = FakeLogPlatform(fail_newest=[platforms.Unavailable("busy")])
    platform.add("web-1", NOW, "line")
    seen = await _probe(platform).observe(TARGET)
    assert (seen.error, seen.value, seen.text) == (None, 1.0, None)


async def test_a_line_query_past_the_timeout_keeps_the_count() -> None:
    platform = FakeLogPlatform(hang_newest=True)
    platform.add("web-1", NOW, "line")
    probe = _probe(platform, timeout="0.05s")
    seen = await probe.observe(TARGET)
    assert (seen.error, seen.value, seen.text) == (None, 1.0, None)
    platform.release()


async def test_a_count_past_the_timeout_is_blind() -> None:
    release = asyncio.Event()

    class Slow(FakeLogPlatform):
        async def count(self, target: models.Target, window: platforms.Window) -> int:
            await release.wait()
            return 0

    seen = await _probe(Slow(), timeout="0.05s").observe(TARGET)
    release.set()
    assert (seen.value, seen.error) == (None, "timeout after 50ms")


async def test_close_closes_the_querier() -> None:
    platform = FakeLogPlatform()
    await _probe(platform).close()
    assert platform.closed
