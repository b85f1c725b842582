"""Alibaba Cloud Simple Log Service (SLS) sink: audit events through the PutLogs API.

Role in the loop (audit, outward): a batch is one LogGroup in one signed request::

    POST /logstores/<logstore>/shards/lb          Host: <project>.<endpoint>
    Content-Type: application/x-protobuf          x-log-apiversion: 0.6.0
    x-log-bodyrawsize: <size before compression>  x-log-compresstype: deflate
    Content-MD5: <MD5 of the body, upper-case hex> Date: <RFC 1123, GMT>
    x-log-signaturemethod: hmac-sha1              Authorization: LOG <AccessKeyId>:<Signature>

The LogGroup is protobuf, encoded here by hand (no SDK is needed): ``Logs`` (field 1, each
``Time`` (1, uint32 seconds), ``Contents`` (2, Key/Value strings), ``Time_ns`` (4, fixed32,
the nanoseconds within the second)), ``Topic`` (3) and ``Source`` (4). Every event is one Log
whose contents are the exported event's fields plus ``chain``; ``details`` is JSON text.

The signature and the project's address come from ``reach.clouds.aliyun_sls``, shared with
the ``sls`` log probe.

SLS has no deduplication: a resend after a lost answer is stored twice, recognisable by
``seq`` and ``hash``. 5xx, 429 and quota errors are retried later; any other refusal
(signature, missing project or logstore, permissions) holds the sink at the batch.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import socket
import struct
import zlib
from collections.abc import Iterable

from rollsafe.config import models
from rollsafe.reach.clouds import aliyun_sls
from rollsafe.shipping import sink_posting, sinks

__all__ = [
    "API_VERSION",
    "SlsSink",
    "encode_log_group",
    "log_contents",
]

API_VERSION = "0.6.0"
CONTENT_TYPE = "application/x-protobuf"
# Errors SLS answers when a quota or rate limit is hit for a moment: worth retrying.
_TEMPORARY_CODES = frozenset(
    {
        "WriteQuotaExceed",
        "ShardWriteQuotaExceed",
        "ProjectQuotaExceed",
        "ExceedQPSLimit",
        "InternalServerError",
        "ServerBusy",
        "RequestTimeout",
    }
)

Content = tuple[str, str]


class SlsSink:
    """Implements ``sinks.Sink`` for one ``kind: sls`` entry."""

    def __init__(self, config: models.SlsSink) -> None:
        self.name = config.name
        self._config = config
        base, self._host = aliyun_sls.endpoint(config.endpoint, config.project)
        self._resource = f"/logstores/{config.logstore}/shards/lb"
        self._url = base + self._resource
        self._source = config.source or socket.gethostname()
        self._poster = sink_posting.Poster()

    async def send(self, records: list[sinks.Record]) -> None:
        if not records:
            return
        config = self._config
        key_id = sink_posting.secret(config.access_key_id_env)
        key_secret = sink_posting.secret(config.access_key_secret_env)
        raw = encode_log_group(
            [(*_split_time(r.time), log_contents(r)) for r in records],
            topic=config.topic,
            source=self._source,
        )
        body = zlib.compress(raw) if config.compress == "deflate" else raw
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Content-MD5": hashlib.md5(body).hexdigest().upper(),  # noqa: S324 - the API's checksum
            "Date": email.utils.formatdate(usegmt=True),
            "x-log-apiversion": API_VERSION,
            "x-log-signaturemethod": "hmac-sha1",
            "x-log-bodyrawsize": str(len(raw)),
        }
        if config.compress == "deflate":
            headers["x-log-compresstype"] = "deflate"
        if config.security_token_env is not None:
            headers["x-acs-security-token"] = sink_posting.secret(config.security_token_env)
        if self._host is not None:
            headers["Host"] = self._host
        sign = aliyun_sls.signature(
            key_secret, method="POST", resource=self._resource, headers=headers
        )
        headers["Authorization"] = f"LOG {key_id}:{sign}"
        answer = await self._poster.post(self._url, body=body, headers=headers)
        if answer.status == 200:
            return
        code, text = _error(answer)
        request_id = answer.headers.get("x-log-requestid", "")
        message = f"{sink_posting.shown(self._url)} answered {answer.status} {code}: {text}" + (
            f" (request {request_id})" if request_id else ""
        )
        if answer.status >= 500 or answer.status == 429 or code in _TEMPORARY_CODES:
            raise sinks.SinkUnavailable(message, retry_after=sink_posting.retry_after(answer))
        raise sinks.SinkRefused(message)

    async def close(self) -> None:
        await self._poster.close()


# --------------------------------------------------------------------------- signing


# --------------------------------------------------------------------------- LogGroup


def log_contents(record: sinks.Record) -> list[Content]:
    """The Key/Value pairs of one event's Log: every exported field that is set, as text."""
    document = record.document()
    document["details"] = sinks.to_json(document["details"])
    order = (
        *("seq", "hash", "prev_hash", "chain", "time", "actor", "action", "target"),
        *("run_id", "reason", "result", "details"),
    )
    return [
        (key, value if isinstance(value, str) else json.dumps(value))
        for key in order
        if (value := document.get(key)) is not None
    ]


def encode_log_group(
    logs: Iterable[tuple[int, int | None, list[Content]]],
    *,
    topic: str | None = None,
    source: str | None = None,
) -> bytes:
    """A protobuf LogGroup from ``(time seconds, nanoseconds or None, contents)`` per log."""
    out = bytearray()
    for seconds, nanos, contents in logs:
        out += _length_delimited(1, _encode_log(seconds, nanos, contents))
    if topic is not None:
        out += _length_delimited(3, topic.encode("utf-8"))
    if source is not None:
        out += _length_delimited(4, source.encode("utf-8"))
    return bytes(out)


def _encode_log(seconds: int, nanos: int | None, contents: list[Content]) -> bytes:
    out = bytearray(_tag(1, 0) + _varint(seconds & 0xFFFFFFFF))
    for key, value in contents:
        pair = _length_delimited(1, key.encode("utf-8")) + _length_delimited(
            2, value.encode("utf-8")
        )
        out += _length_delimited(2, pair)
    if nanos is not None:
        out += _tag(4, 5) + struct.pack("<I", nanos)
    return bytes(out)


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low = number & 0x7F
        number >>= 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited(field: int, data: bytes) -> bytes:
    return _tag(field, 2) + _varint(len(data)) + data


def _split_time(seconds: float) -> tuple[int, int]:
    """(whole seconds, nanoseconds within that second), via whole microseconds."""
    whole, micros = divmod(round(seconds * 1_000_000), 1_000_000)
    return whole, micros * 1000


# --------------------------------------------------------------------------- helpers


def _error(answer: sink_posting.Answer) -> tuple[str, str]:
    try:
        body = json.loads(answer.body)
    except ValueError:
        return "", answer.text()
    if not isinstance(body, dict):
        return "", answer.text()
    return str(body.get("errorCode", "")), str(body.get("errorMessage", ""))
