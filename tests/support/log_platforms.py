"""Local stand-ins for the query APIs of log platforms: Elasticsearch, Loki, SLS and CLS.

No real server of these runs here, so each stand-in is a small aiohttp server on 127.0.0.1
that answers the documented query API from documents the test puts in, and refuses what the
real one refuses (with its error shape):

- Elasticsearch ``POST /<index>/_count`` and ``/_search``: index names, patterns and comma
  lists (a missing concrete index is a 404 ``index_not_found_exception``); a ``bool`` query of
  ``query_string`` (``"phrase"`` terms joined by ``OR``; anything else a 400
  ``parse_exception``: the stand-in does not pretend to know Lucene), ``range`` with
  ``epoch_millis`` ``gt``/``lte`` and ``term``; ``sort`` on the time field, ``size``,
  ``_source`` filtering; ``ApiKey`` / ``Basic`` authentication (401 ``security_exception``).
- Loki ``GET /loki/api/v1/query`` (only ``sum(count_over_time(<sel> <filters> [<n>ms]))``)
  and ``/loki/api/v1/query_range`` (a log query, ``direction``, ``limit``); selectors of
  ``label="value"`` matchers, ``|=`` and ``!=`` line filters; ``X-Scope-OrgID`` required when
  a tenant is set, bearer authentication; errors as plain text, as Loki writes them.
- SLS and CLS: see ``SlsStandIn`` and ``ClsStandIn``.

Each records every request (method, path, query, headers, JSON body) for shape checks and has
the ``mode`` of ``tests/integration/shipping_standins.py``: ok, down (503), throttle (429),
hang (never answers until ``release``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import email.utils
import fnmatch
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class StandIn:
    """Base: an aiohttp app on 127.0.0.1, in the test's loop or in a thread of its own."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.seen: list[Seen] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> StandIn:
        app = web.Application()
        self.routes(app)
        self._release = asyncio.Event()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
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
        if self._release is not None:
            self._release.set()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[StandIn]:
        """Serve from a thread with its own loop, for code under test that blocks."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        started.wait(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    async def note(self, request: web.Request) -> web.Response | None:
        """Record the request; the mode's answer, or None to serve it."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.seen.append(
            Seen(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=body,
            )
        )
        if self.mode == "hang" and self._release is not None:
            await self._release.wait()
            return web.Response(status=503, text="released")
        if self.mode == "down":
            return web.Response(status=503, text="service unavailable")
        if self.mode == "throttle":
            return web.Response(status=429, text="too many requests", headers={"Retry-After": "2"})
        return None


def iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- Elasticsearch


class ElasticsearchStandIn(StandIn):
    def __init__(self, *, api_key: str | None = None, basic: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.basic = basic
        self.indices: dict[str, list[dict[str, Any]]] = {}
        self.failing_search = False  # _search answers 503, _count still works

    def add(self, index: str, *, time: float, message: str, **fields: Any) -> None:
        self.indices.setdefault(index, []).append(
            {"@timestamp": iso(time), "message": message, **fields}
        )

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{index}/_count", self._count)
        app.router.add_post("/{index}/_search", self._search)

    async def _count(self, request: web.Request) -> web.Response:
        return await self._serve(request, search=False)

    async def _search(self, request: web.Request) -> web.Response:
        if self.failing_search:
            await self.note(request)
            return _es_error(503, "search_phase_execution_exception", "all shards failed")
        return await self._serve(request, search=True)

    async def _serve(self, request: web.Request, *, search: bool) -> web.Response:
        early = await self.note(request)
        if early is not None:
            return early
        refusal = self._auth(request.headers.get("Authorization"))
        if refusal is not None:
            return refusal
        body = self.seen[-1].body
        media = request.headers.get("Content-Type", "").split(";")[0].strip()
        # Elasticsearch 8+ also takes its versioned type (what its own clients send).
        if media not in ("application/json", "application/vnd.elasticsearch+json"):
            return _es_error(406, "media_type_header_exception", "expected application/json")
        if not isinstance(body, dict):
            return _es_error(400, "parse_exception", "request body is required")
        docs: list[dict[str, Any]] = []
        for name in request.match_info["index"].split(","):
            if "*" in name:
                for index, found in self.indices.items():
                    if fnmatch.fnmatchcase(index, name):
                        docs.extend(found)
            elif name in self.indices:
                docs.extend(self.indices[name])
            else:
                return _es_error(404, "index_not_found_exception", f"no such index [{name}]")
        allowed = {"query", "size", "sort", "_source", "track_total_hits"} if search else {"query"}
        unknown = set(body) - allowed
        if unknown:
            return _es_error(400, "parsing_exception", f"unknown key [{sorted(unknown)[0]}]")
        try:
            matching = [d for d in docs if _es_matches(d, body.get("query", {}))]
        except ValueError as exc:
            return _es_error(400, "parse_exception", str(exc))
        if not search:
            return web.json_response({"count": len(matching), "_shards": {"total": 1}})
        (sort,) = body["sort"]
        ((sort_field, order),) = sort.items()
        matching.sort(key=lambda d: _es_time(d[sort_field]), reverse=order["order"] == "desc")
        hits = []
        for doc in matching[: body.get("size", 10)]:
            source: dict[str, Any] = {}
            for name in body.get("_source", list(doc)):
                if name in doc:
                    source[name] = doc[name]
                elif _dotted(doc, name) is not None:
                    # ES filters the source by path and keeps its nesting.
                    *parents, leaf = name.split(".")
                    place = source
                    for part in parents:
                        place = place.setdefault(part, {})
                    place[leaf] = _dotted(doc, name)
            hits.append({"_index": "x", "_id": str(id(doc)), "_source": source})
        return web.json_response({"hits": {"hits": hits}})

    def _auth(self, header: str | None) -> web.Response | None:
        if self.api_key is None and self.basic is None:
            return None
        wanted = []
        if self.api_key is not None:
            wanted.append(f"ApiKey {self.api_key}")
        if self.basic is not None:
            wanted.append("Basic " + base64.b64encode(":".join(self.basic).encode()).decode())
        if header not in wanted:
            return _es_error(401, "security_exception", "unable to authenticate user")
        return None


def _es_error(status: int, kind: str, reason: str) -> web.Response:
    error = {"type": kind, "reason": reason}
    return web.json_response(
        {"error": {"root_cause": [error], **error}, "status": status}, status=status
    )


def _dotted(doc: dict[str, Any], name: str) -> Any:
    if name in doc:
        return doc[name]
    current: Any = doc
    for part in name.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _es_time(value: Any) -> float:
    if isinstance(value, int | float):
        return value / 1000
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


_PHRASES = re.compile(r'^\s*"([^"]+)"(?:\s+OR\s+"([^"]+)")*\s*$')


def _es_matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    (kind, spec) = next(iter(query.items()))
    if kind == "bool":
        return all(_es_matches(doc, q) for q in spec.get("must", [])) and all(
            _es_matches(doc, q) for q in spec.get("filter", [])
        )
    if kind == "query_string":
        text = spec["query"]
        if _PHRASES.match(text) is None:
            raise ValueError(f"Cannot parse '{text}' (the stand-in knows quoted phrases and OR)")
        phrases = re.findall(r'"([^"]+)"', text)
        value = str(_dotted(doc, spec.get("default_field", "message")) or "").lower()
        return any(p.lower() in value for p in phrases)
    if kind == "range":
        ((name, bounds),) = spec.items()
        if bounds.get("format") != "epoch_millis":
            raise ValueError("expected epoch_millis bounds")
        at = _es_time(doc[name]) * 1000
        return bounds["gt"] < at <= bounds["lte"]
    if kind == "term":
        ((name, value),) = spec.items()
        return doc.get(name) == value
    raise ValueError(f"unknown query [{kind}]")


# --------------------------------------------------------------------------- Loki


@dataclass
class Stream:
    labels: dict[str, str]
    lines: list[tuple[int, str]] = field(default_factory=list)  # (ns, line)


_COUNT = re.compile(r"^sum\(count_over_time\((?P<logs>.+) \[(?P<ms>\d+)ms\]\)\)$")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"\s*')
_FILTER = re.compile(r'\s*(\|=|!=)\s*"([^"]*)"')


class LokiStandIn(StandIn):
    def __init__(self, *, tenant: str | None = None, token: str | None = None) -> None:
        super().__init__()
        self.tenant = tenant
        self.token = token
        self.streams: list[Stream] = []

    def add(self, labels: dict[str, str], *, time: float, line: str) -> None:
        for stream in self.streams:
            if stream.labels == labels:
                break
        else:
            stream = Stream(labels)
            self.streams.append(stream)
        stream.lines.append((round(time * 1e9), line))

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/loki/api/v1/query", self._query)
        app.router.add_get("/loki/api/v1/query_range", self._query_range)

    async def _gate(self, request: web.Request) -> web.Response | None:
        early = await self.note(request)
        if early is not None:
            return early
        if self.token is not None and request.headers.get("Authorization") != (
            f"Bearer {self.token}"
        ):
            return web.Response(status=401, text="authentication failed\n")
        if self.tenant is not None:
            org = request.headers.get("X-Scope-OrgID")
            if org is None:
                return web.Response(status=401, text="no org id\n")
            if org != self.tenant:
                return web.json_response(
                    {"status": "success", "data": {"resultType": "vector", "result": []}}
                )
        return None

    async def _query(self, request: web.Request) -> web.Response:
        early = await self._gate(request)
        if early is not None:
            return early
        match = _COUNT.match(request.query.get("query", ""))
        if match is None:
            return web.Response(status=400, text="parse error : unexpected query\n")
        try:
            streams = self._select(match["logs"])
        except ValueError as exc:
            return web.Response(status=400, text=f"parse error : {exc}\n")
        at = int(request.query["time"])
        start = at - int(match["ms"]) * 1_000_000
        result = []
        for stream, lines in streams:
            count = sum(1 for ns, _ in lines if start < ns <= at)
            if count:
                result.append({"metric": stream.labels, "value": [at / 1e9, str(count)]})
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    async def _query_range(self, request: web.Request) -> web.Response:
        early = await self._gate(request)
        if early is not None:
            return early
        try:
            streams = self._select(request.query["query"])
        except ValueError as exc:
            return web.Response(status=400, text=f"parse error : {exc}\n")
        start, end = int(request.query["start"]), int(request.query["end"])
        limit = int(request.query.get("limit", "100"))
        backward = request.query.get("direction", "backward") == "backward"
        picked = sorted(
            (
                (ns, line, s.labels)
                for s, lines in streams
                for ns, line in lines
                if start <= ns < end
            ),
            key=lambda item: item[0],
            reverse=backward,
        )[:limit]
        result: dict[str, dict[str, Any]] = {}
        for ns, line, labels in picked:
            key = json.dumps(labels, sort_keys=True)
            result.setdefault(key, {"stream": labels, "values": []})["values"].append(
                [str(ns), line]
            )
        return web.json_response(
            {
                "status": "success",
                "data": {"resultType": "streams", "result": list(result.values())},
            }
        )

    def _select(self, logs: str) -> list[tuple[Stream, list[tuple[int, str]]]]:
        if not logs.startswith("{") or "}" not in logs:
            raise ValueError("expected a stream selector")
        selector, rest = logs[1:].split("}", 1)
        wanted = {}
        for part in selector.split(","):
            match = _MATCHER.fullmatch(part)
            if match is None:
                raise ValueError(f"bad matcher {part!r}")
            wanted[match[1]] = match[2]
        filters = _FILTER.findall(rest)
        if _FILTER.sub("", rest).strip():
            raise ValueError(f"unsupported pipeline {rest!r}")
        out = []
        for stream in self.streams:
            if all(stream.labels.get(k) == v for k, v in wanted.items()):
                lines = [
                    (ns, line)
                    for ns, line in stream.lines
                    if all((text in line) == (op == "|=") for op, text in filters)
                ]
                out.append((stream, lines))
        return out


# --------------------------------------------------------------------------- SLS


_SLS_SEARCH = re.compile(r'^\s*(\*|"[^"]+"(?:\s+or\s+"[^"]+")*|[A-Za-z0-9_.:-]+)\s*$')


class SlsStandIn(StandIn):
    """Alibaba Cloud SLS GetLogs (API 0.6.0, ``GET /logstores/<logstore>?type=log``).

    Checks what the service checks: the Host (``<project>.<endpoint>``), Date within 15
    minutes, ``x-log-apiversion``, ``x-log-signaturemethod``, and the ``LOG <id>:<signature>``
    HMAC-SHA1 signature recomputed here from the documented rules. Search statements: ``*``,
    one word, or quoted phrases joined by ``or`` (substring matches on ``content``); a
    ``| select count(*) as count`` after it answers one row with the count as text, as SQL
    results are. Anything else is a 400 ``ParameterInvalid``. Modes beyond the base ones:
    ``quota`` (403 ``ReadQuotaExceed``), ``deny`` (403 ``Unauthorized``), ``incomplete``
    (``x-log-progress: Incomplete``).
    """

    def __init__(self, *, project: str, logstore: str, keys: dict[str, str]) -> None:
        super().__init__()
        self.project = project
        self.logstore = logstore
        self.keys = keys
        self.logs: list[dict[str, Any]] = []

    def add(self, *, time: int, content: str, topic: str = "", **fields: str) -> None:
        self.logs.append({"__time__": time, "__topic__": topic, "content": content, **fields})

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/logstores/{logstore}", self._get_logs)

    async def _get_logs(self, request: web.Request) -> web.Response:
        early = await self.note(request)
        if early is not None:
            return early
        refusal = self._refusal(request)
        if refusal is not None:
            status, code, message = refusal
            return web.json_response(
                {"errorCode": code, "errorMessage": message},
                status=status,
                headers={"x-log-requestid": "standin-req"},
            )
        q = request.query
        search, _, sql = q.get("query", "").partition("|")
        if _SLS_SEARCH.match(search) is None or sql.strip() not in ("", "select count(*) as count"):
            return web.json_response(
                {"errorCode": "ParameterInvalid", "errorMessage": f"query {q.get('query')!r}"},
                status=400,
            )
        phrases = re.findall(r'"([^"]+)"', search) or [search.strip()]
        start, end = int(q["from"]), int(q["to"])
        found = [
            log
            for log in self.logs
            if start <= log["__time__"] < end
            and ("topic" not in q or log["__topic__"] == q["topic"])
            and (search.strip() == "*" or any(p.lower() in log["content"].lower() for p in phrases))
        ]
        headers = {"x-log-progress": "Incomplete" if self.mode == "incomplete" else "Complete"}
        if sql.strip():
            body: list[dict[str, Any]] = [{"count": str(len(found))}]
        else:
            found.sort(key=lambda log: log["__time__"], reverse=q.get("reverse") == "true")
            offset, line = int(q.get("offset", "0")), int(q.get("line", "100"))
            body = [{**log, "__time__": str(log["__time__"])} for log in found[offset:][:line]]
        headers["x-log-count"] = str(len(body))
        return web.json_response(body, headers=headers)

    def _refusal(self, request: web.Request) -> tuple[int, str, str] | None:
        headers = request.headers
        if request.match_info["logstore"] != self.logstore:
            return (
                404,
                "LogStoreNotExist",
                f"logstore {request.match_info['logstore']} does not exist",
            )
        # SLS routes by the project in front of the endpoint; a port may follow (the SDK
        # leaves it out, aiohttp writes it).
        if headers.get("Host", "").removesuffix(f":{self.port}") != f"{self.project}.127.0.0.1":
            return 404, "ProjectNotExist", f"project for host {headers.get('Host')}"
        if request.query.get("type") != "log":
            return 400, "ParameterInvalid", "type"
        if headers.get("x-log-apiversion") != "0.6.0":
            return 400, "InvalidAPIVersion", "api version"
        if headers.get("x-log-signaturemethod") != "hmac-sha1":
            return 400, "InvalidSignatureMethod", "signature method"
        try:
            sent = email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return 400, "MissingHeader", "Date"
        if abs(sent - dt.datetime.now(dt.UTC).timestamp()) > 15 * 60:
            return 400, "RequestTimeExpired", "request time expired"
        match = re.fullmatch(r"LOG ([^:]+):(.+)", headers.get("Authorization", ""))
        if match is None:
            return 401, "Unauthorized", "no authorization"
        secret = self.keys.get(match.group(1))
        if secret is None:
            return 401, "InvalidAccessKeyId", "AccessKeyId not found"
        if not hmac.compare_digest(match.group(2), _sls_signature(request, secret)):
            return 401, "SignatureNotMatch", "signature not match"
        if self.mode == "quota":
            return 403, "ReadQuotaExceed", "read quota exceed"
        if self.mode == "deny":
            return 403, "Unauthorized", "denied by sts or ram, action: log:GetLogStoreLogs"
        return None


def _sls_signature(request: web.Request, secret: str) -> str:
    """The documented algorithm, written out here on its own (not rollsafe's code)."""
    headers = request.headers
    # x-log-meta-* is never signed; x-log-date is the official SDK's copy of Date, added
    # after signing for proxies that drop Date, so the service leaves it out too.
    signed = sorted(
        f"{name.lower()}:{value}"
        for name, value in headers.items()
        if name.lower().startswith(("x-log-", "x-acs-"))
        and not name.lower().startswith("x-log-meta-")
        and name.lower() != "x-log-date"
    )
    resource = request.path
    if request.query:
        resource += "?" + "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
    text = "\n".join(
        [
            request.method,
            headers.get("Content-MD5", ""),
            headers.get("Content-Type", ""),
            headers["Date"],
            *signed,
            resource,
        ]
    )
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# --------------------------------------------------------------------------- CLS


_TC3 = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)"
    r"/tc3_request, SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


class ClsStandIn(StandIn):
    """Tencent Cloud CLS SearchLog (API 3.0: ``POST /``, action in ``X-TC-Action``, 2020-10-16).

    Verifies the TC3-HMAC-SHA256 signature as documented (canonical request, credential scope
    ``<date>/cls/tc3_request``, key derived from ``TC3<secret>``, date, service), here on its
    own. Answers ``{"Response": {...}}`` with HTTP 200, errors as ``Response.Error``, as the
    API does. Search statements: ``*`` or quoted phrases joined by ``OR`` over ``__CONTENT__``;
    ``| select count(*) as count`` answers ``AnalysisRecords`` (``UseNewAnalysis``).
    ``fault``: ``throttle`` (``RequestLimitExceeded``), ``deny`` (``UnauthorizedOperation``);
    the base modes ``down`` (HTTP 503 from the gateway) and ``hang`` work as for the others.
    """

    def __init__(self, *, region: str, secret_id: str, secret_key: str) -> None:
        super().__init__()
        self.region = region
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.fault: str | None = None
        self.topics: dict[str, list[dict[str, Any]]] = {}

    def add(self, topic: str, *, time_ms: int, content: str) -> None:
        self.topics.setdefault(topic, []).append({"time": time_ms, "content": content})

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._call)

    async def _call(self, request: web.Request) -> web.Response:
        early = await self.note(request)  # down: 503 from the gateway; hang
        if early is not None:
            return early
        body = await request.read()
        try:
            self._authenticate(request, body)
        except _TcError as exc:
            return _tc_error(exc.code, exc.message)
        if self.fault == "throttle":
            return _tc_error("RequestLimitExceeded", "request limit exceeded")
        if self.fault == "deny":
            return _tc_error("UnauthorizedOperation", "CAM denied cls:SearchLog")
        params = json.loads(body)
        topic = params.get("TopicId")
        if topic not in self.topics:
            return _tc_error("ResourceNotFound.TopicNotExist", f"topic {topic} does not exist")
        search, _, sql = str(params.get("QueryString", "")).partition("|")
        search = search.strip()
        if not (search == "*" or re.fullmatch(r'"[^"]+"(?:\s+OR\s+"[^"]+")*', search)):
            return _tc_error("FailedOperation.SyntaxError", f"syntax error in {search!r}")
        phrases = re.findall(r'"([^"]+)"', search)
        found = [
            log
            for log in self.topics[topic]
            if params["From"] <= log["time"] < params["To"]
            and (search == "*" or any(p in log["content"] for p in phrases))
        ]
        answer: dict[str, Any] = {"RequestId": "standin-req", "ListOver": True}
        if sql.strip():
            if (
                sql.strip() != "select count(*) as count"
                or params.get("UseNewAnalysis") is not True
            ):
                return _tc_error("InvalidParameter", f"unsupported analysis {sql!r}")
            answer.update(
                Analysis=True,
                AnalysisRecords=[json.dumps({"count": len(found)})],
                Columns=[{"Name": "count", "Type": "bigint"}],
                Results=[],
            )
        else:
            found.sort(key=lambda log: log["time"], reverse=params.get("Sort", "desc") == "desc")
            answer.update(
                Analysis=False,
                Results=[
                    {
                        "Time": log["time"],
                        "TopicId": topic,
                        "LogJson": json.dumps({"__CONTENT__": log["content"]}),
                        "Source": "10.0.0.7",
                    }
                    for log in found[: params.get("Limit", 100)]
                ],
            )
        return web.json_response({"Response": answer})

    def _authenticate(self, request: web.Request, body: bytes) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if headers.get("x-tc-action") != "SearchLog":
            raise _TcError("InvalidAction", f"{headers.get('x-tc-action')} is not served here")
        if headers.get("x-tc-version") != "2020-10-16":
            raise _TcError("NoSuchVersion", f"no version {headers.get('x-tc-version')}")
        if headers.get("x-tc-region") != self.region:
            raise _TcError("UnsupportedRegion", f"this stand-in serves {self.region} only")
        auth = _TC3.match(headers.get("authorization", ""))
        if auth is None:
            raise _TcError("AuthFailure.InvalidAuthorization", "not TC3-HMAC-SHA256")
        if auth["id"] != self.secret_id:
            raise _TcError("AuthFailure.SecretIdNotFound", "the SecretId is not found")
        timestamp = int(headers.get("x-tc-timestamp", "0"))
        if abs(dt.datetime.now(dt.UTC).timestamp() - timestamp) > 300:
            raise _TcError("AuthFailure.SignatureExpire", "the signature has expired")
        date = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
        signed = auth["headers"].split(";")
        if (
            auth["date"] != date
            or auth["service"] != "cls"
            or not {"content-type", "host"} <= set(signed)
        ):
            raise _TcError("AuthFailure.SignatureFailure", "the credential scope is wrong")
        canonical_headers = "".join(f"{n}:{headers[n].strip().lower()}\n" for n in signed)
        canonical = "\n".join(
            [
                request.method,
                "/",
                "",
                canonical_headers,
                auth["headers"],
                hashlib.sha256(body).hexdigest(),
            ]
        )
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                str(timestamp),
                f"{date}/cls/tc3_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = f"TC3{self.secret_key}".encode()
        for part in (date, "cls", "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, auth["sig"]):
            raise _TcError("AuthFailure.SignatureFailure", "the signature does not match")


class _TcError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def _tc_error(code: str, message: str) -> web.Response:
    return web.json_response(
        {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "standin-req"}}
    )
