"""``rollsafe record`` internals: range queries become the probe's observations, logs lines.

Prometheus itself is exercised in tests/e2e/test_record_prometheus.py; here the answers are
handed in through ``fetch`` to pin how each step is read (no data, NaN, reduce, chunks).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest

from rollsafe.backtest import capturing, recordings
from rollsafe.config import models
from rollsafe.domain import ids, observations


def _config(**probe: Any) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [
                {"id": "web-1", "labels": {"role": "web"}},
                {"id": "db-1", "labels": {"role": "db"}},
            ],
            "probes": [
                {
                    "kind": "promql",
                    "name": "cpu",
                    "url": "http://prom.example:9090/",
                    "query": 'cpu{instance="$id"}',
                    "interval": "10s",
                    "targets": {"labels": {"role": "web"}},
                    **probe,
                },
                {
                    "kind": "log",
                    "name": "app-log",
                    "path": "/nonexistent/{id}.log",
                    "presets": ["app_error"],
                },
            ],
        }
    )


class FakePrometheus:
    """Answers query_range from a table of series: {labels: {time: "value"}}."""

    def __init__(self, series: dict[str, dict[float, str]]) -> None:
        self.series = series
        self.requests: list[dict[str, str]] = []

    def __call__(self, url: str, form: Any, headers: Any, timeout: float) -> Any:
        assert url == "http://prom.example:9090/api/v1/query_range"
        self.requests.append(dict(form))
        start, end, step = (float(form[k]) for k in ("start", "end", "step"))
        result = []
        for name, points in self.series.items():
            values = [
                [t, v]
                for t, v in sorted(points.items())
                if start <= t <= end and math.isclose((t - start) / step, round((t - start) / step))
            ]
            if values:
                result.append({"metric": {"__name__": "cpu", "pod": name}, "values": values})
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_each_step_is_what_the_live_probe_would_have_observed() -> None:
    fake = FakePrometheus(
        {
            "a": {100.0: "10", 110.0: "20", 130.0: "NaN"},
            "b": {100.0: "15", 140.0: "+Inf"},
        }
    )
    found, queries = capturing.prometheus_observations(
        _config().probes[0], _config().targets[0], start=100.0, end=140.0, fetch=fake
    )
    assert queries == 1
    assert fake.requests == [
        {"query": 'cpu{instance="web-1"}', "start": "100", "end": "140", "step": "10"}
    ]
    assert [(o.time, o.value, o.error) for o in found] == [
        (100.0, 15.0, None),  # max of the two series, as the probe's reduce
        (110.0, 20.0, None),
        (120.0, None, "no data: the query returned an empty vector"),
        (130.0, None, "no data: none of the 1 samples is a number (NaN or a histogram)"),
        (140.0, math.inf, None),
    ]
    assert found[0].text == 'max of 2 series: cpu{pod="b"}'
    assert {o.source for o in found} == {"cpu"}


def test_long_ranges_are_fetched_in_chunks_of_at_most_max_steps() -> None:
    fake = FakePrometheus(
        {"a": {float(t): "1" for t in range(0, 10 * (capturing.MAX_STEPS + 5), 10)}}
    )
    end = 10.0 * (capturing.MAX_STEPS + 4)
    found, queries = capturing.prometheus_observations(
        _config().probes[0], _config().targets[0], start=0.0, end=end, fetch=fake
    )
    assert queries == 2
    assert [(r["start"], r["end"]) for r in fake.requests] == [
        ("0", str(10 * (capturing.MAX_STEPS - 1))),
        (str(10 * capturing.MAX_STEPS), str(int(end))),
    ]
    assert len(found) == capturing.MAX_STEPS + 5
    assert all(o.value == 1.0 for o in found)


def test_record_covers_selected_targets_and_refuses_what_cannot_be_recorded(tmp_path: Path) -> None:
    fake = FakePrometheus({"a": {0.0: "1", 10.0: "2"}})
    gathered = capturing.record(_config(), start=0.0, end=10.0, fetch=fake)
    assert {o.target for o in gathered.observations} == {"web-1"}  # the probe selects web only
    assert gathered.queries == 1
    assert len(gathered.notes) == 2  # no log file for either target
    with pytest.raises(capturing.RecordError, match="unknown probe 'nope'"):
        capturing.record(_config(), start=0.0, end=10.0, probes=["nope"], fetch=fake)
    with pytest.raises(capturing.RecordError, match="unknown target 'web-9'"):
        capturing.record(_config(), start=0.0, end=10.0, targets=["web-9"], fetch=fake)
    with pytest.raises(capturing.RecordError, match="after its start"):
        capturing.record(_config(), start=10.0, end=10.0, fetch=fake)
    refused = {"status": "error", "errorType": "bad_data", "error": "parse error"}
    with pytest.raises(capturing.RecordError, match="parse error"):
        capturing.record(_config(), start=0.0, end=10.0, fetch=lambda *a: refused)
    with pytest.raises(capturing.RecordError, match="BEARER is not set"):
        capturing.record(_config(bearer_token_env="BEARER"), start=0.0, end=10.0, fetch=fake)


LOG = """\
2024-05-01 09:59:59,000 ERROR [main] app: before the range
2024-05-01 10:00:01,000 INFO [main] app: started
2024-05-01 10:00:02,000 ERROR [main] app: boom
Traceback (most recent call last):
  File "app.py", line 1, in <module>
2024-05-01 10:00:03,000 WARN [main] app: payments status: ERROR budget low
level=error msg="disk full" ts=2024-05-01T10:00:04Z
2024-05-01 10:00:09,000 ERROR [main] app: after the range
"""


def test_log_files_keep_matching_lines_of_the_range_with_their_time(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(LOG, encoding="utf-8")
    probe = _config().probes[1]
    assert isinstance(probe, models.LogProbe)
    start, end = 1714557600.0, 1714557605.0  # 10:00:00 .. 10:00:05 UTC
    lines = capturing.log_lines(path, probe, target="web-1", start=start, end=end)
    assert [(line.time - start, line.line) for line in lines] == [
        (2.0, "2024-05-01 10:00:02,000 ERROR [main] app: boom"),
        (4.0, 'level=error msg="disk full" ts=2024-05-01T10:00:04Z'),
    ]
    every = capturing.log_lines(path, probe, target="web-1", start=start, end=end, all_lines=True)
    assert [line.time - start for line in every] == [1.0, 2.0, 2.0, 2.0, 3.0, 4.0]
    assert every[2].line == "Traceback (most recent call last):"

    gathered = capturing.record(
        _config(),
        start=start,
        end=end,
        probes=["app-log"],
        log_files=[capturing.LogFile("app-log", "web-1", path)],
    )
    assert gathered.followed_logs == [("web-1", "app-log")]
    out = io.StringIO()
    written = capturing.write(
        gathered,
        out,
        name="incident",
        marks=[observations.Mark(start + 1, ids.TargetId("web-1"), "upgrade")],
        faults=[recordings.Fault(ids.TargetId("web-1"), start + 2, "crash")],
    )
    assert written == 3
    back = recordings.parse(out.getvalue().splitlines())
    assert back.name == "incident"
    assert back.header.logs == (("web-1", "app-log"),)
    assert back.header.faults == (recordings.Fault(ids.TargetId("web-1"), start + 2, "crash"),)
    assert [line.line for line in back.log_lines] == [line.line for line in lines]
    assert back.marks[0].time == start + 1
