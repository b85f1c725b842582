"""CLS probe: Tencent Cloud Log Service, SearchLog with ``| select count(*)``, then the line.

Role in the loop (detect): the ``log`` probe's question asked of a CLS log topic (see
``platforms`` for the observation's shape and the window). Two SearchLog calls (API
2020-10-16) per observation, through the official SDK (``tencentcloud-sdk-python-cls``, the
``tencent-logs`` extra, imported only when such a probe runs)::

    TopicId, From=<ms>, To=<ms>, QueryString="<query> | select count(*) as count",
    QuerySyntax=1 (CQL) or 0 (Lucene), UseNewAnalysis=true      -> AnalysisRecords ['{"count":N}']
    TopicId, From, To, QueryString="<query>", QuerySyntax, Sort=desc, Limit=1  (only if N > 0)
                                                                -> Results[0].LogJson

SearchLog reads ``[From, To)`` in milliseconds, so the window ``(start, end]`` is sent as
``From = start + 1 ms``, ``To = end + 1 ms``. The SDK signs with TC3-HMAC-SHA256 and has no
retries of its own; it is blocking, so each call runs in a worker thread, its HTTP timeout
set to the probe's (a call abandoned by the probe's timeout ends by itself soon after).
Credentials come from the environment at each query (``secret_id_env``, ``secret_key_env``,
``token_env`` for STS). Error codes: ``RequestLimitExceeded``, ``LimitExceeded.*``,
``InternalError`` and HTTP failures of the server are ``Unavailable``; ``AuthFailure.*`` and
``UnauthorizedOperation`` are ``Refused``; the rest (a topic that does not exist, a query
with a syntax error) are blind with the code and message.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import typing

from rollsafe.config import models
from rollsafe.detect.probes import outcomes, platforms
from rollsafe.domain import clocks, errors
from rollsafe.reach.clouds import tencent

WHAT = "cls"
DEFAULT_ENDPOINT = "cls.tencentcloudapi.com"
_MESSAGE_LIMIT = 300


class Querier:
    """Implements ``platforms.Querier`` for one ``kind: cls`` probe."""

    def __init__(self, config: models.ClsProbe) -> None:
        self._config = config

    async def count(self, target: models.Target, window: platforms.Window) -> int:
        search, common = self._common(target, window)
        counted = await self._search(
            {
                **common,
                "QueryString": f"{search} | select count(*) as count",
                "UseNewAnalysis": True,
            }
        )
        return _count(counted)

    async def newest(self, target: models.Target, window: platforms.Window) -> str | None:
        search, common = self._common(target, window)
        found = await self._search({**common, "QueryString": search, "Sort": "desc", "Limit": 1})
        return _last_line(found, self._config.message_field)

    def _common(
        self, target: models.Target, window: platforms.Window
    ) -> tuple[str, dict[str, typing.Any]]:
        config = self._config
        search = outcomes.render(config.query, target, what="query").strip() or "*"
        return search, {
            "TopicId": outcomes.render(config.topic_id, target, what="topic_id"),
            "From": round(window.start * 1000) + 1,
            "To": round(window.end * 1000) + 1,
            "QuerySyntax": 1 if config.syntax == "cql" else 0,
        }

    async def _search(self, params: dict[str, typing.Any]) -> dict[str, typing.Any]:
        credentials = (
            platforms.secret(self._config.secret_id_env, what="secret id"),
            platforms.secret(self._config.secret_key_env, what="secret key"),
            None
            if self._config.token_env is None
            else platforms.secret(self._config.token_env, what="security token"),
        )
        return await asyncio.to_thread(self._call, params, credentials)

    def _call(
        self, params: dict[str, typing.Any], credentials: tuple[str, str, str | None]
    ) -> dict[str, typing.Any]:
        config = self._config
        # The SDK session and its error shape live in the cloud layer (reach.clouds.tencent).
        client = tencent.Client(
            region=config.region,
            endpoints={"cls": config.endpoint or DEFAULT_ENDPOINT},
            protocol=config.protocol,
            api_timeout=config.timeout,
            credentials=credentials,
        )
        try:
            return client.call("cls", "SearchLog", params)
        except ImportError:
            raise outcomes.CannotObserve(
                "the cls probe needs tencentcloud-sdk-python-cls: "
                "pip install 'rollsafe[tencent-logs]'"
            ) from None
        except tencent.Failure as failure:
            raise _translate(failure.code, failure.message, failure.request_id) from None

    async def close(self) -> None:
        return None


def _translate(code: str, message: str, request_id: object) -> outcomes.CannotObserve:
    said = f"{code}: {message}" + (f" (request {request_id})" if request_id else "")
    if code == "ClientNetworkError":
        return outcomes.CannotObserve(f"cannot reach {WHAT}: {message}")
    if (
        code in ("RequestLimitExceeded", "InternalError", "ServerNetworkError")
        or code.startswith(("LimitExceeded", "RequestLimitExceeded"))
        or code == "FailedOperation.SearchTimeout"
    ):
        return platforms.Unavailable(f"{WHAT} is unavailable for now: {said}")
    if code.startswith(("AuthFailure", "UnauthorizedOperation")):
        return platforms.Refused(
            f"{WHAT} refused the credentials: {said}; check the secret id and key and the "
            "CAM policy (cls:SearchLog on the topic)"
        )
    return outcomes.CannotObserve(f"{WHAT} refused the query: {said}")


def _count(response: dict[str, typing.Any]) -> int:
    records = response.get("AnalysisRecords")
    if not isinstance(records, list) or len(records) != 1:
        raise outcomes.CannotObserve(f"{WHAT}: the count query did not answer one record")
    try:
        row = json.loads(records[0]) if isinstance(records[0], str) else records[0]
        return int(float(row["count"]))
    except (TypeError, ValueError, KeyError):
        raise outcomes.CannotObserve(f"{WHAT}: the count record has no count") from None


def _last_line(response: dict[str, typing.Any], field: str) -> str | None:
    results = response.get("Results")
    if not isinstance(results, list):
        raise outcomes.CannotObserve(f"{WHAT}: the search answer has no Results")
    if not results or not isinstance(results[0], dict):
        return None  # the log aged out between the two calls
    log = results[0]
    fields = log.get("LogJson")
    if isinstance(fields, str):
        try:
            parsed = json.loads(fields)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            value = platforms.field_value(parsed, field)
            if value is not None:
                return value
    raw = log.get("RawLog")
    return raw if isinstance(raw, str) else None


def create(config: models.Probe, clock: clocks.Clock) -> platforms.PlatformProbe:
    """Factory registered under ``cls``; ConfigError when the SDK is not installed."""
    if not isinstance(config, models.ClsProbe):
        raise errors.ConfigError(f"probe {config.name}: not a cls probe")
    if not _sdk_installed():
        raise errors.ConfigError(
            f"probe {config.name}: the cls probe needs tencentcloud-sdk-python-cls: "
            "pip install 'rollsafe[tencent-logs]'"
        )
    return platforms.PlatformProbe(config, clock, Querier(config))


def _sdk_installed() -> bool:
    try:
        return importlib.util.find_spec("tencentcloud.cls") is not None
    except (ImportError, ValueError):  # a parent package missing (or blocked)
        return False
