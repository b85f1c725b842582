"""Log line timestamps for ``rollsafe record``: the shapes real logs use."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from rollsafe.backtest import timestamps

LATEST = dt.datetime(2024, 5, 2, tzinfo=dt.UTC).timestamp()


def _utc(*parts: int) -> float:
    return dt.datetime(*parts, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2024-05-01T10:00:00Z INFO up", _utc(2024, 5, 1, 10)),
        ("2024-05-01T10:00:00.250+02:00 x", _utc(2024, 5, 1, 8) + 0.25),
        ("2015-10-18 18:01:47,978 INFO [main] x", _utc(2015, 10, 18, 18, 1, 47) + 0.978),
        ("[2024-05-01 10:00:00] local.ERROR: x", _utc(2024, 5, 1, 10)),
        ("2024/05/01 10:00:00 [error] 12#12: x", _utc(2024, 5, 1, 10)),
        ("[Sun Dec 04 04:47:44 2005] [error] mod_jk", _utc(2005, 12, 4, 4, 47, 44)),
        (
            "[Wed Oct 11 14:32:52.123456 2023] [core:error] x",
            _utc(2023, 10, 11, 14, 32, 52) + 0.123456,
        ),
        ("Apr 30 23:59:59 host kernel: x", _utc(2024, 4, 30, 23, 59, 59)),
        ("<34>May  1 10:00:00 host app: x", _utc(2024, 5, 1, 10)),
        ('{"level":"error","time":"2024-05-01T10:00:00Z","msg":"x"}', _utc(2024, 5, 1, 10)),
        ('ts=2024-05-01T10:00:00Z level=error msg="x"', _utc(2024, 5, 1, 10)),
        ("    at org.example.Foo.bar(Foo.java:42)", None),
        ("2024-13-45 10:00:00 not a date", None),
        ("Foo 14 15:16:01 not a month", None),
    ],
)
def test_common_log_timestamps(line: str, expected: float | None) -> None:
    found = timestamps.parse(line, zone=dt.UTC, latest=LATEST)
    if expected is None:
        assert found is None
    else:
        assert found == pytest.approx(expected)


def test_times_without_a_zone_are_in_the_given_zone() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    found = timestamps.parse("2024-05-01 12:00:00 x", zone=berlin, latest=LATEST)
    assert found == _utc(2024, 5, 1, 10)
    explicit = timestamps.parse("2024-05-01T12:00:00Z x", zone=berlin, latest=LATEST)
    assert explicit == _utc(2024, 5, 1, 12)


def test_syslog_without_a_year_takes_the_year_that_is_not_in_the_future() -> None:
    new_year = dt.datetime(2024, 1, 1, 0, 30, tzinfo=dt.UTC).timestamp()
    december = timestamps.parse("Dec 31 23:50:00 host x", zone=dt.UTC, latest=new_year)
    january = timestamps.parse("Jan  1 00:10:00 host x", zone=dt.UTC, latest=new_year)
    assert december == _utc(2023, 12, 31, 23, 50)
    assert january == _utc(2024, 1, 1, 0, 10)
