"""The recording format: what the reader accepts, what it refuses (with the line), round trips."""

from __future__ import annotations

import gzip
import io
import json
import math

import pytest

from rollsafe.backtest import recordings
from rollsafe.domain import alerts, ids, observations


def _parse(*lines: object) -> recordings.Recording:
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return recordings.parse(text, file="r.jsonl", name="r")


def _problems(*lines: object) -> list[str]:
    with pytest.raises(recordings.RecordingError) as caught:
        _parse(*lines)
    return caught.value.problems


HEADER = {"type": "header", "format": "rollsafe-recording", "version": 1, "start": 1000}


def test_every_record_kind_is_read_with_times_from_the_header_start() -> None:
    recording = _parse(
        {
            **HEADER,
            "name": "demo",
            "description": "a crash",
            "labels": {"faults": [{"target": "web-1", "t": 60, "kind": "crash"}]},
            "logs": [{"target": "web-1", "source": "app-log"}],
        },
        {"t": 0, "target": "web-1", "source": "health", "value": 1, "status": 200, "latency": 0.02},
        {"time": 1030.5, "target": "web-1", "source": "health", "error": "timeout after 5s"},
        {"type": "mark", "t": 30, "target": "web-1", "name": "upgrade"},
        {"type": "log", "t": 45, "target": "web-1", "source": "app-log", "line": "ERROR boom"},
        {
            "type": "series",
            "t": 10,
            "every": 60,
            "target": "web-1",
            "source": "cpu",
            "values": [20.5, None, "+Inf"],
            "error": "no data",
        },
    )
    assert recording.name == "demo"
    assert recording.header.labelled
    assert recording.header.faults == (recordings.Fault(ids.TargetId("web-1"), 1060.0, "crash"),)
    assert recording.header.logs == (("web-1", "app-log"),)
    first, second, *series = recording.observations
    assert first == observations.Observation(
        time=1000.0,
        target=ids.TargetId("web-1"),
        source="health",
        value=1.0,
        status=200,
        latency_s=0.02,
    )
    assert second.error == "timeout after 5s"
    assert second.time == 1030.5
    assert [(o.time, o.value, o.error) for o in series] == [
        (1010.0, 20.5, None),
        (1070.0, None, "no data"),
        (1130.0, math.inf, None),
    ]
    assert recording.marks == (observations.Mark(1030.0, ids.TargetId("web-1"), "upgrade"),)
    assert recording.log_lines[0].line == "ERROR boom"
    assert recording.start == 1000.0
    assert recording.end == 1130.0
    assert recording.targets() == ["web-1"]


def test_without_a_header_times_are_absolute_and_iso_times_need_a_zone() -> None:
    recording = _parse(
        {"time": "2024-05-01T10:00:00Z", "target": "a", "source": "s", "value": 2},
        {"time": "2024-05-01T12:00:00+02:00", "target": "a", "source": "s", "value": 3},
    )
    assert [o.time for o in recording.observations] == [1714557600.0, 1714557600.0]
    assert not recording.header.labelled
    assert recording.name == "r"
    problems = _problems({"time": "2024-05-01T10:00:00", "target": "a", "source": "s", "value": 1})
    assert problems == [
        "r.jsonl:1: time: '2024-05-01T10:00:00' has no zone (expected e.g. 2024-05-01T10:00:00Z)"
    ]


def test_alert_records_carry_state_value_and_details_like_the_intake() -> None:
    recording = _parse(
        {"t": 1, "target": "a", "source": "alertmanager", "alert": "firing"},
        {
            "t": 2,
            "target": "a",
            "source": "alertmanager",
            "alert": {
                "state": "resolved",
                "id": "x1",
                "name": "Down",
                "severity": "critical",
                "labels": {"instance": "a:9100"},
            },
        },
    )
    firing, resolved = recording.observations
    assert (firing.alert_state, firing.value) == (observations.AlertState.FIRING, 1.0)
    assert (resolved.alert_state, resolved.value) == (observations.AlertState.RESOLVED, 0.0)
    details = alerts.AlertDetails.from_text(resolved.text)
    assert details is not None
    assert (details.identity, details.name, details.severity) == ("x1", "Down", "critical")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ({"t": 1, "target": "a", "source": "s"}, "an observation needs one of value"),
        ({"t": 1, "target": "a", "source": "s", "valeu": 1}, "unknown key 'valeu'"),
        ({"t": 1, "target": "a", "source": "s", "value": 1, "error": "x"}, "has no other result"),
        ({"target": "a", "source": "s", "value": 1}, "give exactly one of t (offset) and time"),
        ({"t": 1, "time": 2, "target": "a", "source": "s", "value": 1}, "exactly one of t"),
        ({"t": 1, "target": "", "source": "s", "value": 1}, "target: expected a non-empty string"),
        ({"t": 1, "target": "a", "source": "s", "value": "high"}, "value: expected a number"),
        ({"t": 1, "target": "a", "source": "s", "value": True}, "value: expected a number"),
        ({"t": 1, "target": "a", "source": "s", "status": 2.5}, "status: expected an integer"),
        ({"t": 1, "target": "a", "source": "s", "latency": -1}, "latency: expected seconds"),
        ({"t": 1, "target": "a", "source": "s", "alert": "on"}, "state 'on'"),
        ({"type": "marker", "t": 1}, "unknown type 'marker'"),
        ({"type": "log", "t": 1, "target": "a", "source": "l"}, "line: expected the log line"),
        (
            {"type": "series", "t": 1, "target": "a", "source": "s", "every": 0, "values": []},
            "every: expected the seconds between values",
        ),
        ({**HEADER, "version": 2}, "format version 2"),
        ({**HEADER, "format": "other"}, "format 'other'"),
        ({**HEADER, "labels": {"faults": [{"target": "a"}]}}, "labels.faults[0]: give exactly"),
    ],
)
def test_mistakes_are_reported_with_file_and_line(line: object, problem: str) -> None:
    is_header = isinstance(line, dict) and line.get("type") == "header"
    problems = _problems(line) if is_header else _problems(HEADER, line)
    assert len(problems) == 1
    assert problems[0].startswith(f"r.jsonl:{1 if is_header else 2}: ")
    assert problem in problems[0]


def test_every_problem_is_reported_up_to_a_limit_and_a_late_header_is_one() -> None:
    good = {"t": 1, "target": "a", "source": "s", "value": 1}
    problems = _problems(good, HEADER, {"t": 1}, good, "nope")
    assert [p.split(":")[1] for p in problems] == ["2", "3", "5"]
    assert "a header must be the first line" in problems[0]
    many = _problems(*(["{"] * 50))
    assert len(many) == recordings.MAX_PROBLEMS


def test_writer_output_reads_back_to_the_same_records(tmp_path) -> None:
    obs = [
        observations.Observation(
            1000.5, ids.TargetId("a"), "http", value=1.0, status=200, latency_s=0.0123
        ),
        observations.Observation(1001.0, ids.TargetId("a"), "http", error="refused"),
        observations.Observation(1002.0, ids.TargetId("a"), "prom", value=math.inf, text="x{}"),
        observations.Observation(
            1003.0, ids.TargetId("a"), "am", value=1.0, alert_state=observations.AlertState.FIRING
        ),
    ]
    mark = observations.Mark(1000.0, ids.TargetId("a"), "upgrade")
    line = recordings.LogLine(1004.0, ids.TargetId("a"), "app-log", "ERROR é")
    buffer = io.StringIO()
    writer = recordings.Writer(buffer)
    writer.header(start=1000.0, end=1010.0, name="n", faults=[], logs=[("a", "app-log")])
    writer.mark(mark)
    for item in obs:
        writer.observation(item)
    writer.log(line)
    writer.series(
        target="a", source="cpu", start=1005.0, every=1.0, values=[1.0, None], error="no data"
    )
    assert writer.records == 7
    text = buffer.getvalue()
    assert '"t":0.5' in text  # offsets from the header's start
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(gzip.compress(text.encode()))
    again = recordings.read(path)
    assert again.name == "n"
    assert again.file == str(path)
    assert again.header.labelled
    assert again.header.faults == ()
    assert list(again.observations[:4]) == obs
    assert again.observations[4:] == (
        observations.Observation(1005.0, ids.TargetId("a"), "cpu", value=1.0),
        observations.Observation(1006.0, ids.TargetId("a"), "cpu", error="no data"),
    )
    assert again.marks == (mark,)
    assert again.log_lines == (line,)
    # The same records always give the same bytes.
    second = io.StringIO()
    rewriter = recordings.Writer(second)
    rewriter.header(start=1000.0, end=1010.0, name="n", faults=[], logs=[("a", "app-log")])
    rewriter.mark(mark)
    for item in obs:
        rewriter.observation(item)
    rewriter.log(line)
    rewriter.series(
        target="a", source="cpu", start=1005.0, every=1.0, values=[1.0, None], error="no data"
    )
    assert second.getvalue() == text


def test_unreadable_files_are_recording_errors(tmp_path) -> None:
    with pytest.raises(recordings.RecordingError, match="cannot read"):
        recordings.read(tmp_path / "missing.jsonl")
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(recordings.RecordingError, match="not UTF-8"):
        recordings.read(binary)


def test_writer_refuses_a_header_after_records() -> None:
    writer = recordings.Writer(io.StringIO())
    writer.mark(observations.Mark(1.0, ids.TargetId("a"), "upgrade"))
    with pytest.raises(ValueError, match="header must be written first"):
        writer.header(start=0.0)
