"""Local stand-ins for Elasticsearch, Loki and Alibaba Cloud SLS, speaking their wire protocols.

No real server of these can run here, so each stand-in is a small aiohttp server on 127.0.0.1
that accepts exactly what the documented API accepts and refuses what it refuses:

- Elasticsearch ``POST /_bulk``: NDJSON content type, a newline after the last line, action
  and document pairs; answers per-item results (201 created, 200 updated, 409 for ``create``
  of an existing id) and can be told to fail items, throttle (429) or fail (503).
- Loki ``POST /loki/api/v1/push``: the JSON shape, label names, nanosecond timestamps as
  digit strings; 204, or 400 / 429 / 503; drops an identical line at the same timestamp in
  the same stream, as Loki does.
- SLS ``PostLogStoreLogs`` (PutLogs): Host per project, Date within 15 minutes, API version,
  Content-MD5 of the body, raw size, deflate, and the ``LOG <id>:<signature>`` HMAC-SHA1
  signature recomputed here from the documented rules (independently of rollsafe's code);
  the protobuf LogGroup is decoded with a generic wire-format reader.

Each can also "hang": accept the request and never answer, until ``release()``.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import hmac
import json
import re
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


class StandIn:
    """Base: runs an aiohttp app on 127.0.0.1; ``mode`` is ok, down, throttle or hang."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests = 0
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()
        self.arrived = asyncio.Event()  # set at every request, for tests that wait for one

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        raise NotImplementedError

    async def start(self, port: int = 0) -> StandIn:
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def release(self) -> None:
        """End every hanging request (they answer 503)."""
        self._release.set()

    async def gate(self) -> web.Response | None:
        """The mode's answer, or None to go on and serve the request."""
        self.requests += 1
        self.arrived.set()
        if self.mode == "hang":
            await self._release.wait()
            return web.Response(status=503, text="released")
        if self.mode == "down":
            return web.Response(status=503, text="service unavailable")
        if self.mode == "throttle":
            return web.Response(status=429, text="slow down", headers={"Retry-After": "0"})
        return None


# --------------------------------------------------------------------------- Elasticsearch


class Elasticsearch(StandIn):
    def __init__(self, *, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.versions: dict[tuple[str, str], int] = {}
        self.fail_items: dict[str, tuple[int, str]] = {}  # _id -> (status, error type)
        self.lose_answers = 0  # index the batch, then answer 502 as if the answer got lost
        self.batches: list[list[str]] = []  # the _ids of each accepted request

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/_bulk", self.bulk)
        return app

    async def bulk(self, request: web.Request) -> web.Response:
        if (answer := await self.gate()) is not None:
            return answer
        if self.api_key is not None and request.headers.get("Authorization") != (
            f"ApiKey {self.api_key}"
        ):
            return _es_error(401, "security_exception", "missing authentication credentials")
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith("application/x-ndjson"):
            return _es_error(
                406, "media_type_header_exception", f"Content-Type [{content_type}] not supported"
            )
        body = (await request.read()).decode("utf-8")
        if not body.endswith("\n"):
            return _es_error(
                400,
                "illegal_argument_exception",
                "The bulk request must be terminated by a newline [\\n]",
            )
        lines = body[:-1].split("\n")
        if len(lines) % 2:
            return _es_error(400, "illegal_argument_exception", "action without a document")
        items: list[dict[str, Any]] = []
        ids: list[str] = []
        for action_line, doc_line in zip(lines[::2], lines[1::2], strict=True):
            action = json.loads(action_line)
            ((op, meta),) = action.items()
            if op not in ("index", "create"):
                return _es_error(400, "illegal_argument_exception", f"unsupported action {op}")
            key = (meta["_index"], meta["_id"])
            ids.append(meta["_id"])
            doc = json.loads(doc_line)
            result: dict[str, Any] = {"_index": key[0], "_id": key[1]}
            failure = self.fail_items.get(key[1])
            if failure is not None:
                status, kind = failure
                result |= {"status": status, "error": {"type": kind, "reason": "refused here"}}
            elif op == "create" and key in self.docs:
                result |= {
                    "status": 409,
                    "error": {"type": "version_conflict_engine_exception", "reason": "exists"},
                }
            else:
                existed = key in self.docs
                self.docs[key] = doc
                self.versions[key] = self.versions.get(key, 0) + 1
                result |= {"status": 200 if existed else 201, "_version": self.versions[key]}
            items.append({op: result})
        self.batches.append(ids)
        if self.lose_answers:
            self.lose_answers -= 1
            return web.Response(status=502, text="bad gateway")
        errors = any(not 200 <= next(iter(i.values()))["status"] < 300 for i in items)
        return web.json_response({"took": 1, "errors": errors, "items": items})

    def seqs(self) -> list[int]:
        return sorted(int(doc["seq"]) for doc in self.docs.values())


def _es_error(status: int, kind: str, reason: str) -> web.Response:
    return web.json_response(
        {"error": {"type": kind, "reason": reason}, "status": status}, status=status
    )


# --------------------------------------------------------------------------- Loki

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Loki(StandIn):
    def __init__(self, *, tenant: str | None = None) -> None:
        super().__init__()
        self.tenant = tenant
        self.entries: dict[frozenset[tuple[str, str]], list[tuple[str, str]]] = {}
        self.pushes: list[list[int]] = []  # the seqs of each accepted push
        self.lose_answers = 0  # store the push, then answer 502 as if the answer got lost

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/loki/api/v1/push", self.push)
        return app

    async def push(self, request: web.Request) -> web.Response:
        if (answer := await self.gate()) is not None:
            return answer
        if self.tenant is not None and request.headers.get("X-Scope-OrgID") != self.tenant:
            return web.Response(status=401, text="no org id")
        if not request.headers.get("Content-Type", "").startswith("application/json"):
            return web.Response(status=400, text="unsupported content type")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="body is not JSON")
        problem = _loki_shape_problem(body)
        if problem:
            return web.Response(status=400, text=problem)
        seqs: list[int] = []
        for stream in body["streams"]:
            labels = frozenset(stream["stream"].items())
            stored = self.entries.setdefault(labels, [])
            for ts, line in stream["values"]:
                seqs.append(json.loads(line)["seq"])
                if (ts, line) not in stored:  # Loki drops an identical entry
                    stored.append((ts, line))
        self.pushes.append(seqs)
        if self.lose_answers:
            self.lose_answers -= 1
            return web.Response(status=502, text="bad gateway")
        return web.Response(status=204)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for entries in self.entries.values() for _, line in entries]

    def seqs(self) -> list[int]:
        return sorted(line["seq"] for line in self.lines())


def _loki_shape_problem(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("streams"), list):
        return "expected {streams: [...]}"
    for stream in body["streams"]:
        if not isinstance(stream, dict) or set(stream) != {"stream", "values"}:
            return "a stream needs exactly stream and values"
        labels = stream["stream"]
        if not isinstance(labels, dict) or not labels:
            return "error at least one label pair is required per stream"
        for name, value in labels.items():
            if not _LABEL.match(name) or not isinstance(value, str):
                return f"invalid label {name!r}"
        for entry in stream["values"]:
            if not (isinstance(entry, list) and len(entry) == 2):
                return "a value is [timestamp, line]"
            ts, line = entry
            if not isinstance(ts, str) or not ts.isdigit():
                return f"timestamp {ts!r} is not a string of nanoseconds"
            if len(ts) < 19:
                return f"timestamp {ts} is not in nanoseconds"
            if not isinstance(line, str):
                return "a line is a string"
    return ""


# --------------------------------------------------------------------------- SLS


@dataclass
class SlsLog:
    time: int
    time_ns: int | None
    contents: dict[str, str]


@dataclass
class SlsGroup:
    topic: str | None
    source: str | None
    logs: list[SlsLog] = field(default_factory=list)


class Sls(StandIn):
    """PutLogs for one project and logstore, with one AccessKey pair."""

    def __init__(self, *, project: str, logstore: str, key_id: str, key_secret: str) -> None:
        super().__init__()
        self.project = project
        self.logstore = logstore
        self.keys = {key_id: key_secret}
        self.groups: list[SlsGroup] = []
        self.quota_exceeded = False
        self.refusals: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/logstores/{logstore}/shards/lb", self.put_logs)
        return app

    async def put_logs(self, request: web.Request) -> web.Response:
        if (answer := await self.gate()) is not None:
            return answer
        body = await request.read()
        problem = self._refusal(request, body)
        if problem is not None:
            status, code, message = problem
            self.refusals.append(code)
            return web.json_response(
                {"errorCode": code, "errorMessage": message},
                status=status,
                headers={"x-log-requestid": "standin-1"},
            )
        if self.quota_exceeded:
            return web.json_response(
                {"errorCode": "WriteQuotaExceed", "errorMessage": "quota"}, status=403
            )
        raw = (
            zlib.decompress(body)
            if request.headers.get("x-log-compresstype") == "deflate"
            else body
        )
        self.groups.append(decode_log_group(raw))
        return web.Response(status=200, headers={"x-log-requestid": "standin-1"})

    def _refusal(self, request: web.Request, body: bytes) -> tuple[int, str, str] | None:
        headers = request.headers
        if request.match_info["logstore"] != self.logstore:
            return 404, "LogStoreNotExist", "logstore does not exist"
        if headers.get("Host") != f"{self.project}.127.0.0.1:{self.port}":
            return 404, "ProjectNotExist", f"project for host {headers.get('Host')}"
        for name in (
            "Date",
            "Content-Type",
            "Content-MD5",
            "x-log-apiversion",
            "x-log-bodyrawsize",
        ):
            if name not in headers:
                return 400, "MissingHeader", f"{name} does not exist in http header"
        if headers["x-log-apiversion"] != "0.6.0":
            return 400, "InvalidAPIVersion", "api version"
        if headers.get("x-log-signaturemethod") != "hmac-sha1":
            return 400, "InvalidSignatureMethod", "signature method"
        if headers["Content-Type"] != "application/x-protobuf":
            return 415, "InvalidContentType", "content type"
        sent = email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
        if abs(sent - time.time()) > 15 * 60:
            return 400, "RequestTimeExpired", "request time expired"
        if headers["Content-MD5"] != hashlib.md5(body).hexdigest().upper():  # noqa: S324
            return 400, "InvalidContentMD5", "content md5"
        compress = headers.get("x-log-compresstype")
        raw = body
        if compress == "deflate":
            raw = zlib.decompress(body)
        elif compress is not None:
            return 400, "InvalidCompressType", compress
        if int(headers["x-log-bodyrawsize"]) != len(raw):
            return 400, "InvalidBodyRawSize", "raw size"
        match = re.fullmatch(r"LOG ([^:]+):(.+)", headers.get("Authorization", ""))
        if match is None:
            return 401, "Unauthorized", "authorization"
        secret = self.keys.get(match.group(1))
        if secret is None:
            return 401, "Unauthorized", "AccessKeyId not found"
        if match.group(2) != _expected_signature(request, secret):
            return 401, "SignatureNotMatch", "signature not match"
        return None

    def seqs(self) -> list[int]:
        return sorted(int(log.contents["seq"]) for group in self.groups for log in group.logs)


def _expected_signature(request: web.Request, secret: str) -> str:
    """The documented algorithm, written out here on its own."""
    headers = request.headers
    log_headers = sorted(
        f"{name.lower()}:{value}"
        for name, value in headers.items()
        if name.lower().startswith(("x-log-", "x-acs-"))
    )
    resource = request.path
    if request.query:
        resource += "?" + "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
    message = "\n".join(
        [
            request.method,
            headers.get("Content-MD5", ""),
            headers.get("Content-Type", ""),
            headers["Date"],
            "\n".join(log_headers),
            resource,
        ]
    )
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def decode_log_group(data: bytes) -> SlsGroup:
    fields = _fields(data)
    group = SlsGroup(
        topic=_text(fields.get(3, [None])[-1]),
        source=_text(fields.get(4, [None])[-1]),
    )
    for raw_log in fields.get(1, []):
        log_fields = _fields(raw_log)
        contents: dict[str, str] = {}
        for raw_pair in log_fields.get(2, []):
            pair = _fields(raw_pair)
            contents[pair[1][0].decode()] = pair[2][0].decode()
        nanos = log_fields.get(4)
        group.logs.append(
            SlsLog(
                time=log_fields[1][0],
                time_ns=None if nanos is None else nanos[0],
                contents=contents,
            )
        )
    return group


def _text(value: Any) -> str | None:
    return None if value is None else bytes(value).decode()


def _fields(data: bytes) -> dict[int, list[Any]]:
    """A protobuf message as field number -> values (ints, or bytes for length-delimited)."""
    out: dict[int, list[Any]] = {}
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _read_varint(data, position)
        elif wire == 2:
            length, position = _read_varint(data, position)
            value = data[position : position + length]
            position += length
        elif wire == 5:
            (value,) = struct.unpack_from("<I", data, position)
            position += 4
        elif wire == 1:
            (value,) = struct.unpack_from("<Q", data, position)
            position += 8
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


# --------------------------------------------------------------------------- helpers


def refusing_port() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port but not listening: connections are refused.

    Close it and start a stand-in on ``getsockname()[1]`` to bring the "platform" up there.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock
