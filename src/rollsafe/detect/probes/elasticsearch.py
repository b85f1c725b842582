"""Elasticsearch / OpenSearch probe: matching documents in the window, and the newest one.

Role in the loop (detect): the ``log`` probe's question asked of an index (see ``platforms``
for the observation's shape and the window). Two requests per observation, both with the
same bool query::

    POST <url>/<index>/_count
    {"query": {"bool": {
        "must":   [{"query_string": {"query": <query>, "default_field": <message_field>}}],
        "filter": [{"range": {<time_field>: {"gt": <start ms>, "lte": <end ms>,
                                             "format": "epoch_millis"}}},
                   {"term": {<host_field>: <host_value>}}]}}}       (the term: if host_field)

    POST <url>/<index>/_search      (only when the count is not zero)
    {"size": 1, "query": <the same>, "sort": [{<time_field>: {"order": "desc"}}],
     "_source": [<message_field>], "track_total_hits": false}

OpenSearch speaks the same query DSL and paths, so one kind serves both. Plain HTTP over
aiohttp rather than the official clients: the ``elasticsearch`` client refuses to talk to a
server that does not identify as Elasticsearch (so it cannot serve OpenSearch), and
``opensearch-py`` pulls ``requests``, ``grpcio`` and ``protobuf`` (9 MB of wheels) and is
blocking by default; two small JSON requests need neither (measured in docs/integrations.md).

Authentication: ``api_key_env`` (``Authorization: ApiKey <encoded>``) or
``username`` + ``password_env`` (basic), read from the environment at each query. A missing
index (404 ``index_not_found_exception``) and a query the server cannot parse (400) are blind
observations naming the reason; an index pattern that matches nothing counts 0, as the
server answers.
"""

from __future__ import annotations

import json
import typing
import urllib.parse

from rollsafe.config import models
from rollsafe.detect.probes import outcomes, platforms
from rollsafe.domain import clocks, errors

WHAT = "elasticsearch"


class Querier:
    """Implements ``platforms.Querier`` for one ``kind: elasticsearch`` probe."""

    def __init__(self, config: models.ElasticsearchProbe) -> None:
        self._config = config
        self._http = platforms.Http(what=WHAT, ca_file=config.ca_file, verify=config.verify)

    async def count(self, target: models.Target, window: platforms.Window) -> int:
        where, query = self._request(target, window)
        counted = await self._post(f"{where}/_count", {"query": query})
        count = counted.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise outcomes.CannotObserve(f"{WHAT}: the _count answer has no count")
        return count

    async def newest(self, target: models.Target, window: platforms.Window) -> str | None:
        config = self._config
        where, query = self._request(target, window)
        search = {
            "size": 1,
            "query": query,
            "sort": [{config.time_field: {"order": "desc"}}],
            "_source": [config.message_field],
            "track_total_hits": False,
        }
        found = await self._post(f"{where}/_search", search)
        return _last_message(found, config.message_field)

    def _request(
        self, target: models.Target, window: platforms.Window
    ) -> tuple[str, dict[str, typing.Any]]:
        config = self._config
        base = platforms.base_url(config.url, target)
        index = outcomes.render(config.index, target, what="index")
        if not index or "/" in index or index.startswith("_"):
            raise outcomes.CannotObserve(f"index {index!r} is not an index name or pattern")
        where = f"{base}/{urllib.parse.quote(index, safe='*,-_.:')}"
        return where, bool_query(config, target, window)

    def _headers(self) -> dict[str, str]:
        config = self._config
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if config.api_key_env is not None:
            key = platforms.secret(config.api_key_env, what="api key")
            headers["Authorization"] = f"ApiKey {key}"
        elif config.username is not None and config.password_env is not None:
            headers["Authorization"] = platforms.basic_auth(config.username, config.password_env)
        return headers

    async def _post(self, url: str, body: dict[str, typing.Any]) -> dict[str, typing.Any]:
        answer = await self._http.request(
            "POST", url, headers=self._headers(), body=json.dumps(body).encode()
        )
        payload = answer.json()
        platforms.check_status(
            answer,
            what=WHAT,
            detail=_error_reason(payload) or platforms.snippet(answer.body),
            auth_hint=_auth_hint(self._config),
        )
        if not isinstance(payload, dict):
            raise outcomes.CannotObserve(
                f"{WHAT} answered without JSON: {platforms.snippet(answer.body)}"
            )
        return payload

    async def close(self) -> None:
        await self._http.close()


def bool_query(
    config: models.ElasticsearchProbe, target: models.Target, window: platforms.Window
) -> dict[str, typing.Any]:
    """The bool query both requests send (see the module notes)."""
    text = outcomes.render(config.query, target, what="query")
    filters: list[dict[str, typing.Any]] = [
        {
            "range": {
                config.time_field: {
                    "gt": _millis(window.start),
                    "lte": _millis(window.end),
                    "format": "epoch_millis",
                }
            }
        }
    ]
    if config.host_field is not None:
        host = outcomes.render(config.host_value, target, what="host_value")
        filters.append({"term": {config.host_field: host}})
    return {
        "bool": {
            "must": [{"query_string": {"query": text, "default_field": config.message_field}}],
            "filter": filters,
        }
    }


def _millis(seconds: float) -> int:
    return round(seconds * 1000)


def _last_message(payload: dict[str, typing.Any], field: str) -> str | None:
    hits = payload.get("hits")
    items = hits.get("hits") if isinstance(hits, dict) else None
    if not isinstance(items, list):
        raise outcomes.CannotObserve(f"{WHAT}: the _search answer has no hits")
    if not items or not isinstance(items[0], dict):
        return None  # the document went away between the two requests
    source = items[0].get("_source")
    if not isinstance(source, dict):
        return None
    return platforms.field_value(source, field)


def _error_reason(payload: typing.Any) -> str:
    """``type: reason`` of an Elasticsearch error answer (the root cause when given)."""
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error")
    if isinstance(error, str):
        return error
    if not isinstance(error, dict):
        return ""
    causes = error.get("root_cause")
    if isinstance(causes, list) and causes and isinstance(causes[0], dict):
        error = causes[0]
    kind, reason = error.get("type", "error"), error.get("reason", "")
    return f"{kind}: {reason}" if reason else str(kind)


def _auth_hint(config: models.ElasticsearchProbe) -> str:
    if config.api_key_env is not None:
        return f"the API key in {config.api_key_env} and its index privileges"
    if config.password_env is not None:
        return f"user {config.username} and the password in {config.password_env}"
    return "api_key_env or username/password_env (none is set)"


def create(config: models.Probe, clock: clocks.Clock) -> platforms.PlatformProbe:
    """Factory registered under ``elasticsearch``."""
    if not isinstance(config, models.ElasticsearchProbe):
        raise errors.ConfigError(f"probe {config.name}: not an elasticsearch probe")
    return platforms.PlatformProbe(config, clock, Querier(config))
