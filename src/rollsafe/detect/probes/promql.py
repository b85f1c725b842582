"""PromQL probe: one instant query against the Prometheus HTTP API, read as one number.

Each observation POSTs ``query`` to ``<url>/api/v1/query`` without ``time``, so Prometheus
evaluates it now (POST rather than GET: long queries do not hit URL length limits, and every
Prometheus-compatible API, Thanos, Mimir, VictoriaMetrics, accepts it). The query is rendered
per target with ``$name`` / ``${name}`` placeholders, because PromQL uses braces for label
matchers; the base URL and headers are ``{name}`` templates like every other URL.

How a result becomes the observed value:

- a scalar, or a vector with one sample: its value;
- a vector with several samples: ``reduce`` over them (``max`` by default, ``min``, ``sum``,
  or ``count`` = how many), with the labels of the chosen sample in ``text``;
- an empty vector: an error "no data". Prometheus answers an empty vector both for "all is
  well" (``errors > 0`` with no errors) and for "this series does not exist" (a typo, a
  target that stopped being scraped), so it is never read as 0. Write
  ``... or vector(0)`` in the query when absence really means zero.
- NaN samples (``0/0`` when there is no traffic) are no data too and are left out of the
  reduction; a vector of only NaN is an error. Infinities are kept: they are values.
- a range vector (matrix) or a string: an error naming the mistake.

What stops the probe from looking is an error, never a value: Prometheus unreachable, a
timeout, an HTTP error, ``status: error`` (a bad query, an evaluation timeout), a body that is
not the API's JSON. The detector is blind then; the target is not known to be broken.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import typing
from collections.abc import Mapping, Sequence

import aiohttp
import yarl

from rollsafe.config import models
from rollsafe.detect.probes import outcomes
from rollsafe.domain import clocks, errors, ids, observations

QUERY_PATH = "/api/v1/query"
BODY_LIMIT = 8 * 1024 * 1024
"""Largest answer read: a query that returns a vector bigger than this is a mistake."""


class PromqlProbe:
    """Runs one instant PromQL query per target and observes the resulting number."""

    def __init__(
        self,
        config: models.PromqlProbe,
        clock: clocks.Clock,
        *,
        pool_size: int = 64,
    ) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # One pool per probe, reused across targets and runs; the configured timeout is
            # applied around each request, so aiohttp's own 5-minute default is switched off.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def observe(self, target: models.Target) -> observations.Observation:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            endpoint, query, headers = self._request(target)
            status, payload = await self._post(endpoint, query, headers)
            value, text = read_answer(status, payload, reduce=self._config.reduce)
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=value,
            status=status,
            latency_s=loop.time() - started,
            text=outcomes.clip(text) if text else None,
        )

    def _request(self, target: models.Target) -> tuple[str, str, dict[str, str]]:
        base = outcomes.render(self._config.url, target, what="url")
        try:
            parsed = yarl.URL(base)
        except (ValueError, TypeError) as exc:
            raise outcomes.CannotObserve(f"invalid url {base!r}: {exc}") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise outcomes.CannotObserve(
                f"invalid url {base!r}: expected the Prometheus base URL, http(s)://host:9090"
            )
        try:
            query = models.render_dollar(self._config.query, target)
        except KeyError as exc:
            raise outcomes.CannotObserve(
                f"query: unknown template variable ${exc.args[0]} for target {target.id}"
            ) from exc
        except ValueError as exc:
            raise outcomes.CannotObserve(f"query: bad template: {exc}") from exc
        headers = {
            key: outcomes.render(value, target, what=f"header {key}")
            for key, value in self._config.headers.items()
        }
        if self._config.bearer_token_env is not None:
            # Read on every request, so a rotated token is picked up without a restart.
            token = os.environ.get(self._config.bearer_token_env)
            if not token:
                raise outcomes.CannotObserve(
                    f"bearer token: environment variable {self._config.bearer_token_env} is not set"
                )
            headers["Authorization"] = f"Bearer {token}"
        return str(parsed).rstrip("/") + QUERY_PATH, query, headers

    async def _post(
        self, endpoint: str, query: str, headers: dict[str, str]
    ) -> tuple[int, typing.Any]:
        timeout = self._config.timeout
        # Prometheus stops evaluating after its own `timeout` too, instead of finishing a
        # query nobody waits for any more.
        form = {"query": query, "timeout": f"{timeout:g}"}
        try:
            async with asyncio.timeout(timeout):
                async with self._client().post(
                    endpoint, data=form, headers=headers, allow_redirects=False
                ) as response:
                    body = await response.content.read(BODY_LIMIT + 1)
                    status = response.status
        except TimeoutError:
            raise outcomes.CannotObserve(outcomes.timeout_reason(timeout)) from None
        except aiohttp.ClientConnectorError as exc:
            raise outcomes.CannotObserve(_connect_reason(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise outcomes.CannotObserve(
                f"cannot query prometheus: {type(exc).__name__}: {exc}"
            ) from exc
        if len(body) > BODY_LIMIT:
            raise outcomes.CannotObserve(
                f"answer larger than {BODY_LIMIT // (1024 * 1024)} MiB: aggregate in the query"
            )
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise outcomes.CannotObserve(
                f"HTTP {status} from prometheus without the API's JSON: {_snippet(body)}"
            )
        return status, payload

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def read_answer(
    status: int, payload: Mapping[str, typing.Any], *, reduce: models.PromqlReduce
) -> tuple[float, str | None]:
    """The value and evidence text in a ``/api/v1/query`` answer; CannotObserve otherwise."""
    if payload.get("status") != "success":
        kind = payload.get("errorType") or "error"
        message = payload.get("error") or "no error message"
        raise outcomes.CannotObserve(f"prometheus: {kind}: {message} (HTTP {status})")
    if status != 200:
        raise outcomes.CannotObserve(f"prometheus answered HTTP {status}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise outcomes.CannotObserve("prometheus answer has no `data`")
    result_type = data.get("resultType")
    result = data.get("result")
    if result_type == "scalar":
        value = _sample_value(result)
        if value is None or math.isnan(value):
            raise outcomes.CannotObserve("no data: the query returned NaN")
        return value, None
    if result_type == "vector" and isinstance(result, list):
        return _reduce(result, reduce)
    if result_type == "matrix":
        raise outcomes.CannotObserve(
            "the query returned a range vector: an instant query needs an instant vector "
            "(e.g. rate(x[5m]), not x[5m])"
        )
    if result_type == "string":
        raise outcomes.CannotObserve("the query returned a string, not a number")
    raise outcomes.CannotObserve(f"unexpected result type {result_type!r}")


def _reduce(samples: Sequence[typing.Any], reduce: models.PromqlReduce) -> tuple[float, str | None]:
    if not samples:
        raise outcomes.CannotObserve("no data: the query returned an empty vector")
    numbered: list[tuple[float, Mapping[str, str]]] = []
    for sample in samples:
        if not isinstance(sample, dict):
            continue
        # A native histogram sample has "histogram" instead of "value": not one number.
        value = _sample_value(sample.get("value"))
        if value is None or math.isnan(value):
            continue
        labels = sample.get("metric")
        numbered.append((value, labels if isinstance(labels, dict) else {}))
    if not numbered:
        raise outcomes.CannotObserve(
            f"no data: none of the {len(samples)} samples is a number (NaN or a histogram)"
        )
    total = len(numbered)
    if total == 1:
        value, labels = numbered[0]
        return (1.0 if reduce == "count" else value), format_labels(labels)
    if reduce == "count":
        return float(total), f"{total} series"
    if reduce == "sum":
        return math.fsum(v for v, _ in numbered), f"sum of {total} series"
    pick = max if reduce == "max" else min
    value, labels = pick(numbered, key=lambda pair: pair[0])
    return value, f"{reduce} of {total} series: {format_labels(labels)}"


def _sample_value(pair: typing.Any) -> float | None:
    # Samples are [unix time, "value"]; the value is a string so that NaN and ±Inf survive JSON.
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
        return None
    try:
        return float(pair[1])
    except ValueError:
        return None


def format_labels(labels: Mapping[str, str]) -> str:
    """``name{a="1",b="2"}`` as PromQL prints a series; ``{}`` for none."""
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}"


def _connect_reason(exc: aiohttp.ClientConnectorError) -> str:
    if isinstance(exc.os_error, socket.gaierror):
        return f"cannot resolve {exc.host}: {exc.os_error.strerror}"
    if isinstance(exc.os_error, ConnectionRefusedError):
        return f"cannot reach prometheus at {exc.host}:{exc.port}: connection refused"
    return f"cannot reach prometheus at {exc.host}:{exc.port}: {exc.os_error.strerror or exc}"


def _snippet(body: bytes) -> str:
    text = body[:200].decode("utf-8", errors="replace").strip()
    return repr(text) if text else "(empty body)"


def create(config: models.Probe, clock: clocks.Clock) -> PromqlProbe:
    """Factory registered under ``promql``."""
    if not isinstance(config, models.PromqlProbe):
        raise errors.ConfigError(f"probe {config.name}: not a promql probe")
    return PromqlProbe(config, clock)
