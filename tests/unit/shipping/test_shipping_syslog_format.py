"""RFC 5424 messages and RFC 6587 framing, checked against the RFCs' grammar."""

from __future__ import annotations

import json
import re

import pytest

from rollsafe.domain import audit_events
from rollsafe.shipping import sinks, syslog

# RFC 5424 section 6: HEADER SP STRUCTURED-DATA [SP MSG], one SD-ELEMENT here.
SYSLOG = re.compile(
    r"^<(?P<pri>\d{1,3})>1 "
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) "
    r"(?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) "
    r"(?P<msgid>[!-~]{1,32}) "
    r"\[(?P<sdid>[^ =\]\"]+)(?P<params>(?: [^ =\]\"]+=\"(?:[^\"\\\]]|\\[\"\\\]])*\")*)\] "
    r"(?P<msg>.*)$",
    re.DOTALL,
)
PARAM = re.compile(r' ([^ =\]"]+)="((?:[^"\\\]]|\\["\\\]])*)"')


def _record(action="run.opened", *, seq=7, time=1_700_000_000.25, **entry) -> sinks.Record:
    fields = {"actor": "rollsafe", "target": "web-1", "run_id": "run-1"} | entry
    return sinks.Record(
        event=audit_events.AuditEvent(
            seq=seq,
            entry=audit_events.AuditEntry(time=time, action=action, **fields),
            prev_hash="a" * 64,
            hash="b" * 64,
        ),
        chain="c" * 16,
    )


def _format(record: sinks.Record, *, max_bytes: int = 8192) -> str:
    message = syslog.format_message(
        record,
        facility=syslog.FACILITIES["local0"],
        app_name="rollsafe",
        hostname="ctl-1",
        procid="4242",
        max_bytes=max_bytes,
    )
    return message.decode("utf-8")


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def test_a_message_follows_the_rfc_5424_grammar():
    parsed = SYSLOG.match(_format(_record()))
    assert parsed is not None
    assert int(parsed["pri"]) == 16 * 8 + 5  # local0, notice (a run transition)
    assert parsed["ts"] == "2023-11-14T22:13:20.250000Z"
    assert (parsed["host"], parsed["app"], parsed["procid"]) == ("ctl-1", "rollsafe", "4242")
    assert parsed["msgid"] == "run.opened"
    assert parsed["sdid"] == "rollsafe@32473"
    params = {k: _unescape(v) for k, v in PARAM.findall(parsed["params"])}
    assert params == {
        "seq": "7",
        "hash": "b" * 64,
        "chain": "c" * 16,
        "actor": "rollsafe",
        "target": "web-1",
        "run": "run-1",
    }
    document = json.loads(parsed["msg"])
    assert document["seq"] == 7
    assert document["hash"] == "b" * 64
    assert document["chain"] == "c" * 16
    assert document["action"] == "run.opened"


def test_absent_target_and_run_are_left_out_of_the_structured_data():
    parsed = SYSLOG.match(_format(_record("daemon.started", target=None, run_id=None)))
    assert parsed is not None
    names = [k for k, _ in PARAM.findall(parsed["params"])]
    assert names == ["seq", "hash", "chain", "actor"]


def test_param_values_escape_quote_backslash_and_bracket():
    actor = 'cli:al"ice\\]x'
    parsed = SYSLOG.match(_format(_record(actor=actor)))
    assert parsed is not None
    params = {k: _unescape(v) for k, v in PARAM.findall(parsed["params"])}
    assert params["actor"] == actor


def test_header_fields_are_printable_ascii_without_spaces():
    message = syslog.format_message(
        _record("run step started"),
        facility=1,
        app_name="roll safe",
        hostname="höst",
        procid="1",
        max_bytes=8192,
    ).decode()
    parsed = SYSLOG.match(message)
    assert parsed is not None
    assert (parsed["host"], parsed["app"], parsed["msgid"]) == (
        "h_st",
        "roll_safe",
        "run_step_started",
    )


@pytest.mark.parametrize(
    ("action", "severity"),
    [
        ("decision.critical", 2),
        ("run.failed", 3),
        ("run.step.failed", 3),
        ("decision.warning", 4),
        ("target.quarantined", 4),
        ("run.opened", 5),
        ("decision.ok", 6),
        ("daemon.started", 6),
    ],
)
def test_severity_follows_the_action(action, severity):
    assert syslog.severity(action) == severity


def test_an_oversized_event_is_sent_without_details_but_keeps_its_identity():
    big = _record(details={"evidence": "x" * 10_000})
    message = _format(big, max_bytes=2048)
    assert len(message.encode()) <= 2048
    parsed = SYSLOG.match(message)
    assert parsed is not None
    document = json.loads(parsed["msg"])
    assert document["truncated"] is True
    assert document["details"] == {}
    assert (document["seq"], document["hash"]) == (7, "b" * 64)


def test_an_event_with_huge_text_fields_still_fits():
    huge = _record(reason="r" * 5000, result="s" * 5000, actor="a" * 5000)
    message = _format(huge, max_bytes=2048)
    assert len(message.encode()) <= 2048
    parsed = SYSLOG.match(message)
    assert parsed is not None
    assert json.loads(parsed["msg"])["truncated"] is True


def test_octet_counting_frames_the_byte_length():
    message = "<134>1 - - - - - - é".encode()
    assert syslog.frame(message) == str(len(message)).encode() + b" " + message
