"""Loki probe: LogQL ``count_over_time`` over the window, and the newest matching line.

Role in the loop (detect): the ``log`` probe's question asked of Grafana Loki (see
``platforms`` for the observation's shape and the window). Two requests per observation::

    GET <url>/loki/api/v1/query?query=sum(count_over_time(<selector> <pipeline> [<window>]))
        &time=<end, ns>
    GET <url>/loki/api/v1/query_range?query=<selector> <pipeline>&start=<start, ns>
        &end=<end, ns>&direction=backward&limit=1              (only when the count is not 0)

``sum`` adds up the streams the selector matches (one host often has several). An empty
vector is a count of 0 here: ``count_over_time`` over a range without matching lines has no
series, which is Loki's way of saying none (unlike a Prometheus gauge, absence is the answer).
The window goes to LogQL in milliseconds, so any ``window`` is exact.

Headers: ``X-Scope-OrgID: <tenant>`` when a tenant is set (multi-tenant Loki, Grafana Cloud);
``Authorization`` from ``token_env`` (bearer) or ``username`` + ``password_env`` (basic), read
at each query. Loki answers errors as plain text with 400 (a LogQL parse error), 401 / 403,
429 (limits) or 5xx; each is a blind observation with the reason.
"""

from __future__ import annotations

import math
import typing

from rollsafe.config import models
from rollsafe.detect.probes import outcomes, platforms
from rollsafe.domain import clocks, errors

WHAT = "loki"
QUERY_PATH = "/loki/api/v1/query"
QUERY_RANGE_PATH = "/loki/api/v1/query_range"


class Querier:
    """Implements ``platforms.Querier`` for one ``kind: loki`` probe."""

    def __init__(self, config: models.LokiProbe) -> None:
        self._config = config
        self._http = platforms.Http(what=WHAT, ca_file=config.ca_file, verify=config.verify)

    async def count(self, target: models.Target, window: platforms.Window) -> int:
        base = platforms.base_url(self._config.url, target)
        counted = await self._get(
            base + QUERY_PATH,
            {
                "query": count_query(log_query(self._config, target), window),
                "time": str(_nanos(window.end)),
            },
            self._headers(target),
        )
        return _vector_count(counted)

    async def newest(self, target: models.Target, window: platforms.Window) -> str | None:
        base = platforms.base_url(self._config.url, target)
        lines = await self._get(
            base + QUERY_RANGE_PATH,
            {
                "query": log_query(self._config, target),
                # The window is (start, end]; the range API reads [start, end): one nanosecond
                # later at both ends gives the same lines as the count.
                "start": str(_nanos(window.start) + 1),
                "end": str(_nanos(window.end) + 1),
                "direction": "backward",
                "limit": "1",
            },
            self._headers(target),
        )
        return _newest_line(lines)

    def _headers(self, target: models.Target) -> dict[str, str]:
        config = self._config
        headers = {"Accept": "application/json"}
        if config.tenant is not None:
            headers["X-Scope-OrgID"] = outcomes.render(config.tenant, target, what="tenant")
        if config.token_env is not None:
            token = platforms.secret(config.token_env, what="bearer token")
            headers["Authorization"] = f"Bearer {token}"
        elif config.username is not None and config.password_env is not None:
            headers["Authorization"] = platforms.basic_auth(config.username, config.password_env)
        return headers

    async def _get(
        self, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> dict[str, typing.Any]:
        answer = await self._http.request("GET", url, headers=headers, params=params)
        payload = answer.json()
        platforms.check_status(
            answer,
            what=WHAT,
            detail=_error_text(payload, answer.body),
            auth_hint=_auth_hint(self._config),
        )
        if not isinstance(payload, dict) or payload.get("status") != "success":
            raise outcomes.CannotObserve(
                f"{WHAT} answered without the API's JSON: {platforms.snippet(answer.body)}"
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise outcomes.CannotObserve(f"{WHAT}: the answer has no data")
        return data

    async def close(self) -> None:
        await self._http.close()


def log_query(config: models.LokiProbe, target: models.Target) -> str:
    """The log query (selector and pipeline) rendered for ``target``."""
    selector = platforms.render_dollar(config.selector, target, what="selector")
    pipeline = platforms.render_dollar(config.pipeline, target, what="pipeline")
    return f"{selector.strip()} {pipeline.strip()}".strip()


def count_query(logs: str, window: platforms.Window) -> str:
    """``sum(count_over_time(<logs> [<window>ms]))``."""
    span = max(1, math.ceil((window.end - window.start) * 1000 - 1e-6))
    return f"sum(count_over_time({logs} [{span}ms]))"


def _nanos(seconds: float) -> int:
    return round(seconds * 1000) * 1_000_000


def _vector_count(data: dict[str, typing.Any]) -> int:
    if data.get("resultType") != "vector":
        raise outcomes.CannotObserve(
            f"{WHAT}: expected a vector from the count query, got {data.get('resultType')!r}"
        )
    result = data.get("result")
    if not isinstance(result, list):
        raise outcomes.CannotObserve(f"{WHAT}: the count answer has no result")
    total = 0.0
    for sample in result:
        pair = sample.get("value") if isinstance(sample, dict) else None
        try:
            total += float(pair[1])  # type: ignore[index]
        except (TypeError, ValueError, IndexError):
            raise outcomes.CannotObserve(f"{WHAT}: a sample of the count is not a number") from None
    return int(total)


def _newest_line(data: dict[str, typing.Any]) -> str | None:
    if data.get("resultType") != "streams":
        raise outcomes.CannotObserve(
            f"{WHAT}: expected streams from the line query, got {data.get('resultType')!r}"
        )
    newest: tuple[int, str] | None = None
    # With several streams each brings its own newest line: keep the newest of all.
    for stream in data.get("result") or []:
        values = stream.get("values") if isinstance(stream, dict) else None
        for pair in values or []:
            if isinstance(pair, list) and len(pair) >= 2 and isinstance(pair[1], str):
                try:
                    stamp = int(pair[0])
                except (TypeError, ValueError):
                    continue
                if newest is None or stamp > newest[0]:
                    newest = (stamp, pair[1])
    return None if newest is None else newest[1]


def _error_text(payload: typing.Any, body: bytes) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return str(payload["error"])
    # Loki writes its errors as one line of plain text: show it as it is.
    text = body[:300].decode("utf-8", errors="replace").strip()
    return text or "(empty body)"


def _auth_hint(config: models.LokiProbe) -> str:
    if config.token_env is not None:
        return f"the bearer token in {config.token_env}"
    if config.password_env is not None:
        return f"user {config.username} and the password in {config.password_env}"
    return "tenant, token_env or username/password_env"


def create(config: models.Probe, clock: clocks.Clock) -> platforms.PlatformProbe:
    """Factory registered under ``loki``."""
    if not isinstance(config, models.LokiProbe):
        raise errors.ConfigError(f"probe {config.name}: not a loki probe")
    return platforms.PlatformProbe(config, clock, Querier(config))
