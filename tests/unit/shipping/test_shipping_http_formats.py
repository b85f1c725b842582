"""The bodies and signatures the HTTP sinks send: bulk NDJSON, Loki push JSON, SLS protobuf."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct

from rollsafe.domain import audit_events
from rollsafe.reach.clouds import aliyun_sls
from rollsafe.shipping import elasticsearch, loki, sink_posting, sinks, sls


def _record(seq: int, *, time: float = 1_700_000_000.123456, **details: object) -> sinks.Record:
    return sinks.Record(
        event=audit_events.AuditEvent(
            seq=seq,
            entry=audit_events.AuditEntry(
                time=time,
                actor="judge",
                action="decision.critical",
                target="web-1",
                reason="5xx ratio 0.4",
                details=details,
                result="critical",
            ),
            prev_hash="0" * 64,
            hash=f"{seq:064x}",
        ),
        chain="feedfacefeedface",
    )


# --------------------------------------------------------------------------- Elasticsearch


def test_bulk_body_is_action_and_document_lines_ending_with_a_newline():
    body = elasticsearch.bulk_body(
        [_record(1, rule="r", value=0.4), _record(2)], index="audit-{date}", op_type="index"
    ).decode()
    assert body.endswith("\n")
    lines = body[:-1].split("\n")
    assert len(lines) == 4
    action, document = json.loads(lines[0]), json.loads(lines[1])
    assert action == {"index": {"_index": "audit-2023.11.14", "_id": "feedfacefeedface-1"}}
    assert document["seq"] == 1
    assert document["hash"] == f"{1:064x}"
    assert document["chain"] == "feedfacefeedface"
    assert document["@timestamp"] == "2023-11-14T22:13:20.123456Z"
    # Details travel as text: varying shapes can never clash in the index mapping.
    assert json.loads(document["details"]) == {"rule": "r", "value": 0.4}
    assert json.loads(lines[2]) == {
        "index": {"_index": "audit-2023.11.14", "_id": "feedfacefeedface-2"}
    }


def test_create_op_type_is_used_for_data_streams():
    body = elasticsearch.bulk_body([_record(3)], index="logs-rollsafe-audit", op_type="create")
    action = json.loads(body.decode().split("\n")[0])
    assert action == {"create": {"_index": "logs-rollsafe-audit", "_id": "feedfacefeedface-3"}}


# --------------------------------------------------------------------------- Loki


def test_push_body_has_one_stream_and_nanosecond_timestamp_strings():
    body = json.loads(loki.push_body([_record(1), _record(2)], labels={"job": "rollsafe"}))
    (stream,) = body["streams"]
    assert stream["stream"] == {"job": "rollsafe"}
    (ts1, line1), (ts2, _) = stream["values"]
    assert ts1 == ts2 == "1700000000123456000"
    assert json.loads(line1)["seq"] == 1


def test_the_same_event_always_gives_the_same_timestamp_and_line():
    # Loki deduplicates identical (timestamp, line) pairs: a resend must be byte-identical.
    assert loki.push_body([_record(5)], labels={"a": "b"}) == loki.push_body(
        [_record(5)], labels={"a": "b"}
    )
    assert loki.nanoseconds(0.1 + 0.2) == 300_000_000


# --------------------------------------------------------------------------- SLS


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


def _fields(data: bytes) -> list[tuple[int, int, object]]:
    out: list[tuple[int, int, object]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: object
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value = data[position : position + length]
            position += length
        elif wire == 5:
            (value,) = struct.unpack_from("<I", data, position)
            position += 4
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((number, wire, value))
    return out


def test_log_group_is_the_documented_protobuf():
    group = sls.encode_log_group(
        [(1_700_000_000, 123_456_000, [("seq", "1"), ("action", "run.opened")])],
        topic="rollsafe-audit",
        source="ctl-1",
    )
    fields = _fields(group)
    assert [(n, w) for n, w, _ in fields] == [(1, 2), (3, 2), (4, 2)]
    assert fields[1][2] == b"rollsafe-audit"
    assert fields[2][2] == b"ctl-1"
    log = _fields(fields[0][2])  # type: ignore[arg-type]
    assert log[0] == (1, 0, 1_700_000_000)
    contents = [_fields(value) for number, _, value in log if number == 2]  # type: ignore[arg-type]
    assert [(c[0][2], c[1][2]) for c in contents] == [(b"seq", b"1"), (b"action", b"run.opened")]
    assert log[-1] == (4, 5, 123_456_000)


def test_varints_of_large_lengths_and_times_round_trip():
    value = "é" * 300  # 600 bytes: a two-byte length prefix
    group = sls.encode_log_group([(2**32 - 1, None, [("k", value)])])
    ((_, _, raw_log),) = _fields(group)
    log = _fields(raw_log)  # type: ignore[arg-type]
    assert log[0][2] == 2**32 - 1
    pair = _fields(log[1][2])  # type: ignore[arg-type]
    assert pair[1][2] == value.encode()


def test_log_contents_are_the_exported_fields_as_text():
    contents = dict(sls.log_contents(_record(9, rule="r")))
    assert contents["seq"] == "9"
    assert contents["chain"] == "feedfacefeedface"
    assert contents["time"] == "1700000000.123456"
    assert json.loads(contents["details"]) == {"rule": "r"}
    assert "run_id" not in contents  # unset fields are left out


def test_string_to_sign_follows_the_documented_layout():
    headers = {
        "Content-MD5": "ABC",
        "Content-Type": "application/x-protobuf",
        "Date": "Mon, 03 Jan 2010 08:33:47 GMT",
        "x-log-signaturemethod": "hmac-sha1",
        "x-log-apiversion": "0.6.0",
        "X-Log-Bodyrawsize": "10",
        "x-acs-security-token": "sts",
        "Host": "not-signed",
    }
    text = aliyun_sls.string_to_sign(
        method="POST", resource="/logstores/audit/shards/lb", headers=headers
    )
    assert text == (
        "POST\nABC\napplication/x-protobuf\nMon, 03 Jan 2010 08:33:47 GMT\n"
        "x-acs-security-token:sts\nx-log-apiversion:0.6.0\nx-log-bodyrawsize:10\n"
        "x-log-signaturemethod:hmac-sha1\n/logstores/audit/shards/lb"
    )
    with_params = aliyun_sls.string_to_sign(
        method="GET", resource="/logstores", headers=headers, params={"size": "1", "offset": "0"}
    )
    assert with_params.endswith("\n/logstores?offset=0&size=1")
    expected = base64.b64encode(hmac.new(b"secret", text.encode(), hashlib.sha1).digest()).decode()
    assert (
        aliyun_sls.signature(
            "secret", method="POST", resource="/logstores/audit/shards/lb", headers=headers
        )
        == expected
    )


def test_posting_shows_urls_without_credentials():
    assert (
        sink_posting.shown("https://elastic:hunter2@es:9200/_bulk?x=1") == "https://es:9200/_bulk"
    )
    assert (
        sink_posting.shown("http://[::1]:3100/loki/api/v1/push")
        == "http://[::1]:3100/loki/api/v1/push"
    )
