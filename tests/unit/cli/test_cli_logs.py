"""The daemon's log formats: one event per line whatever the message, JSON with UTC times."""

from __future__ import annotations

import io
import json
import logging

import pytest

from rollsafe.interfaces.cli import logs


@pytest.fixture
def restore_root():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _emit(fmt: str, **kwargs) -> str:
    stream = io.StringIO()  # not a terminal, as under systemd, Docker, Kubernetes
    logs.configure(fmt=fmt, level="info", stream=stream)
    log = logging.getLogger("rollsafe.test")
    log.info("%s done", "x" * 300, extra={"target": "web-1", "run_id": "run-1"})
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        log.exception("step failed")
    log.debug("not shown at info")
    return stream.getvalue()


def test_auto_is_plain_when_not_a_terminal_and_never_wraps(restore_root):
    out = _emit("auto")
    lines = out.splitlines()
    assert len(lines) == 2  # two events, two lines: 300 characters and a traceback included
    assert lines[0].endswith("x done run_id='run-1' target='web-1'")
    assert " INFO rollsafe.test: " + "x" * 300 in lines[0]
    assert lines[0][:24].endswith("Z")
    assert "ERROR rollsafe.test: step failed\\nTraceback" in lines[1]
    assert "boom\\nsecond line" in lines[1]


def test_json_is_one_object_per_line(restore_root):
    events = [json.loads(line) for line in _emit("json").splitlines()]
    assert [e["level"] for e in events] == ["info", "error"]
    first = events[0]
    assert first["logger"] == "rollsafe.test"
    assert first["message"].endswith("x done")
    assert (first["target"], first["run_id"]) == ("web-1", "run-1")
    assert first["time"].endswith("Z")
    assert "T" in first["time"]
    assert "ValueError: boom" in events[1]["exception"]


def test_unknown_format_or_level_is_refused(restore_root):
    with pytest.raises(ValueError, match="log format"):
        logs.configure(fmt="xml")
    with pytest.raises(ValueError, match="log level"):
        logs.configure(level="loud")
