"""Alibaba Cloud CloudMonitor probe: the newest datapoint of one metric, via DescribeMetricLast.

Role in the loop (detect): each observation asks CloudMonitor (API 2019-01-01) for one metric
of one target, e.g. ``acs_ecs_dashboard`` ``CPUUtilization`` or ``memory_usedutilization``
with ``Dimensions=[{"instanceId": "i-..."}]``, over the last ``periods`` periods::

    Namespace, MetricName, Period=<seconds>, StartTime=<ms>, EndTime=<ms>,
    Dimensions='[{"instanceId": "i-..."}]'          -> Datapoints '[{"timestamp": <ms>,
                                                        "instanceId": ..., "Average": ...}]'

and observes the newest datapoint's ``statistic`` field (see ``datapoints`` for the shape).
DescribeMetricLast answers the latest datapoint of each dimension set inside the window, so
one call per observation, however long the window.

The session, the credentials chain (environment AccessKey, else the SDK's default chain), the
signature, the worker thread and the table of error codes are ``reach/clouds/aliyun.py``'s
(``product="cms"``), shared with the ECS driver; the SDK (``alibabacloud-cms20190101``, extra
``aliyun``) is imported there, on first use. ``Throttling*``, 5xx and 429 are "unavailable for
now"; ``Forbidden*``, ``InvalidAccessKeyId*``, ``SignatureDoesNotMatch`` and an in-body 401/403
are refusals naming the RAM action (``cms:DescribeMetricLast``); both are error observations.

History (``series``, for ``rollsafe record``): ``DescribeMetricList`` with the same parameters
and ``Length``, following ``NextToken`` page by page, in spans of at most 31 days (the API's
limit); RAM action ``cms:DescribeMetricList``.
"""

from __future__ import annotations

import json
import threading
import typing

from rollsafe.config import models
from rollsafe.detect.probes import datapoints, outcomes
from rollsafe.domain import clocks, errors
from rollsafe.reach.clouds import aliyun

WHAT = "aliyun_cms"
ACTION = "DescribeMetricLast"
HISTORY_ACTION = "DescribeMetricList"
PAGE = 1000
"""Datapoints asked per DescribeMetricList page (``Length``; the API's default)."""
SPAN_S = 31 * 86_400
"""Longest span one DescribeMetricList request may cover (the API's 31 days)."""


class Asker:
    """Implements ``datapoints.Asker`` for one ``kind: aliyun_cms`` probe."""

    def __init__(self, config: models.AliyunCmsProbe) -> None:
        self._config = config
        self._clients: dict[tuple[str, str | None], aliyun.Client] = {}
        self._lock = threading.Lock()

    def prepare(
        self, target: models.Target
    ) -> typing.Callable[[datapoints.Window], datapoints.Datapoint]:
        region, endpoint, dimensions = self._rendered(target)
        return lambda window: self._latest(region, endpoint, dimensions, window)

    def _latest(
        self,
        region: str,
        endpoint: str | None,
        dimensions: dict[str, str],
        window: datapoints.Window,
    ) -> datapoints.Datapoint:
        config = self._config
        params: dict[str, typing.Any] = {
            "Namespace": config.namespace,
            "MetricName": config.metric,
            "Period": str(window.period),
            "StartTime": str(int(window.start * 1000)),
            "EndTime": str(int(window.end * 1000)),
        }
        if dimensions:
            # One object per monitored resource; its keys together name the resource.
            params["Dimensions"] = json.dumps([dimensions], separators=(",", ":"))
        client = self._client(region, endpoint)
        result = aliyun.refused_in_body(client.invoke(ACTION, params))
        if not result.ok:
            raise outcomes.CannotObserve(_failed(result, client.where))
        return _newest(
            result.body,
            statistic=config.statistic,
            window=window,
            what=datapoints.describe(config.namespace, config.metric, dimensions, window),
        )

    def _client(self, region: str, endpoint: str | None) -> aliyun.Client:
        key = (region, endpoint)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = aliyun.Client(
                    region_id=region,
                    endpoint=endpoint,
                    protocol=self._config.protocol,
                    # A little past the probe's own timeout, so that the probe's clock decides
                    # and says "timeout", and the worker thread does not outlive it by much.
                    api_timeout=self._config.timeout + 1.0,
                    product="cms",
                )
                self._clients[key] = client
            return client

    def series(
        self, target: models.Target, window: datapoints.Window
    ) -> list[datapoints.Datapoint]:
        """Every datapoint in ``window``: DescribeMetricList, by 31-day spans and pages."""
        config = self._config
        region, endpoint, dimensions = self._rendered(target)
        client = self._client(region, endpoint)
        points: list[datapoints.Datapoint] = []
        start = window.start
        while start < window.end:
            end = min(window.end, start + SPAN_S)
            token: str | None = None
            while True:
                params: dict[str, typing.Any] = {
                    "Namespace": config.namespace,
                    "MetricName": config.metric,
                    "Period": str(window.period),
                    # (StartTime, EndTime]: the API's own left-open span.
                    "StartTime": str(int(start * 1000)),
                    "EndTime": str(int(end * 1000)),
                    "Length": str(PAGE),
                }
                if dimensions:
                    params["Dimensions"] = json.dumps([dimensions], separators=(",", ":"))
                if token:
                    params["NextToken"] = token
                result = aliyun.refused_in_body(client.invoke(HISTORY_ACTION, params))
                if not result.ok:
                    reason = _failed(result, client.where).replace(ACTION, HISTORY_ACTION)
                    error = aliyun.translate(result, endpoint=client.where, product="cms")
                    if isinstance(error, errors.DriverTemporaryError):
                        raise datapoints.Unavailable(reason)
                    raise outcomes.CannotObserve(reason)
                points.extend(_points(result.body, statistic=config.statistic))
                token = str(result.body.get("NextToken") or "") or None
                if token is None:
                    break
            start = end
        return points

    def _rendered(self, target: models.Target) -> tuple[str, str | None, dict[str, str]]:
        config = self._config
        region = outcomes.render(config.region, target, what="region")
        endpoint = (
            None
            if config.endpoint is None
            else outcomes.render(config.endpoint, target, what="endpoint")
        )
        dimensions = {
            key: outcomes.render(value, target, what=f"dimension {key}")
            for key, value in config.dimensions.items()
        }
        return region, endpoint, dimensions

    def close(self) -> None:
        with self._lock:
            self._clients = {}


def _points(body: typing.Mapping[str, typing.Any], *, statistic: str) -> list[datapoints.Datapoint]:
    raw = body.get("Datapoints")
    if raw in (None, "", "[]"):
        return []
    try:
        points = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise outcomes.CannotObserve(f"{WHAT}: Datapoints is not JSON") from None
    if not isinstance(points, list):
        raise outcomes.CannotObserve(f"{WHAT}: Datapoints is not a list")
    found = []
    for point in points:
        if not isinstance(point, dict):
            continue
        stamp = datapoints.number(point.get("timestamp"))
        value = datapoints.number(point.get(statistic))
        if stamp is not None and value is not None:
            found.append(datapoints.Datapoint(time=stamp / 1000, value=value, statistic=statistic))
    return found


def _failed(result: aliyun.ApiResult, where: str) -> str:
    """The reason of the error observation, by what a person should do about it."""
    error = aliyun.translate(result, endpoint=where, product="cms")
    if result.credentials:
        return f"{WHAT}: {error}"
    if not result.answered:
        # Unreachable, or an answer that is not the API's (a gateway's HTML 503 page): the SDK
        # keeps no status for the latter, so both read as "no answer".
        return f"{WHAT}: no answer from CloudMonitor (unreachable or not an API answer): {error}"
    if isinstance(error, errors.DriverTemporaryError):
        return f"{WHAT}: CloudMonitor is unavailable for now (throttled or failing): {error}"
    return f"{WHAT}: {error}"


def _newest(
    body: typing.Mapping[str, typing.Any],
    *,
    statistic: str,
    window: datapoints.Window,
    what: str,
) -> datapoints.Datapoint:
    raw = body.get("Datapoints")
    if raw in (None, "", "[]"):
        raise outcomes.CannotObserve(f"no data: no datapoint for {what}")
    try:
        points = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise outcomes.CannotObserve(f"{WHAT}: Datapoints is not JSON") from None
    if not isinstance(points, list):
        raise outcomes.CannotObserve(f"{WHAT}: Datapoints is not a list")
    found: list[tuple[float, typing.Mapping[str, typing.Any]]] = []
    for point in points:
        if not isinstance(point, dict):
            continue
        stamp = datapoints.number(point.get("timestamp"))
        # Only the window asked for counts: an older "last" value is a metric that stopped.
        if stamp is not None and window.start <= stamp / 1000 <= window.end + window.period:
            found.append((stamp / 1000, point))
    if not found:
        raise outcomes.CannotObserve(f"no data: no datapoint for {what}")
    when, point = max(found, key=lambda pair: pair[0])
    value = datapoints.number(point.get(statistic))
    if value is None:
        has = ", ".join(sorted(k for k in point if datapoints.number(point[k]) is not None))
        raise outcomes.CannotObserve(
            f"{WHAT}: the datapoint has no {statistic!r} value (it has: {has or 'none'})"
        )
    return datapoints.Datapoint(time=when, value=value, statistic=statistic)


def create(config: models.Probe, clock: clocks.Clock) -> datapoints.DatapointProbe:
    """Factory registered under ``aliyun_cms``; ConfigError when the SDK is not installed."""
    if not isinstance(config, models.AliyunCmsProbe):
        raise errors.ConfigError(f"probe {config.name}: not an aliyun_cms probe")
    if not aliyun.available("cms"):
        raise errors.ConfigError(
            f"probe {config.name}: the aliyun_cms probe needs alibabacloud-cms20190101: "
            "pip install 'rollsafe[aliyun]'"
        )
    return datapoints.DatapointProbe(
        name=config.name,
        period=config.period,
        periods=config.periods,
        timeout=config.timeout,
        asker=Asker(config),
        clock=clock,
    )
