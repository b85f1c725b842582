"""Tencent Cloud Monitor probe: the newest datapoint of one metric, via GetMonitorData.

Role in the loop (detect): each observation asks Cloud Monitor (API 2018-07-24) for one
metric of one target, e.g. namespace ``QCE/CVM``, ``CPUUsage`` or ``MemUsage`` with the
dimension ``InstanceId``, over the last ``periods`` periods::

    Namespace, MetricName, Period=<seconds>, StartTime, EndTime (ISO 8601, UTC),
    Instances=[{"Dimensions": [{"Name": "InstanceId", "Value": "ins-..."}]}],
    SpecifyStatistics=1|2|4 (avg|max|min, only when asked)
        -> DataPoints [{"Dimensions": [...], "Timestamps": [s...], "Values": [...],
                        "AvgValues"|"MaxValues"|"MinValues": [...]}]

and observes the newest (timestamp, value) pair (see ``datapoints`` for the shape).

The session, the credentials (the SDK's default chain: ``TENCENTCLOUD_SECRET_ID`` / ``_KEY``,
the profile file, the CVM role, the TKE OIDC role), the TC3-HMAC-SHA256 signature, and the
table of error codes are ``reach/clouds/tencent.py``'s, shared with the tencent driver; the SDK
(``tencentcloud-sdk-python-monitor``, extra ``tencent``) is imported there, on first use.
``RequestLimitExceeded*``, ``InternalError*`` and network failures are "unavailable for now";
``AuthFailure*`` / ``UnauthorizedOperation*`` are refusals naming the CAM action
(``monitor:GetMonitorData``); both are error observations.

History (``series``, for ``rollsafe record``): the same GetMonitorData over spans of at most
``MAX_POINTS`` periods (the API returns at most 1,440 datapoints per request).
"""

from __future__ import annotations

import datetime
import importlib.util
import math
import threading
import typing

from rollsafe.config import models
from rollsafe.detect.probes import datapoints, outcomes
from rollsafe.domain import clocks, errors
from rollsafe.reach.clouds import tencent

WHAT = "tencent_monitor"
ACTION = "GetMonitorData"
DEFAULT_ENDPOINT = "monitor.tencentcloudapi.com"
MAX_POINTS = 1440
"""Datapoints one GetMonitorData request may return (the API's limit): history is asked in
spans of at most this many periods."""
# SpecifyStatistics bits and the answer's list of each (absent: the metric's own, ``Values``).
_STATISTICS = {"avg": (1, "AvgValues"), "max": (2, "MaxValues"), "min": (4, "MinValues")}


class Asker:
    """Implements ``datapoints.Asker`` for one ``kind: tencent_monitor`` probe."""

    def __init__(self, config: models.TencentMonitorProbe) -> None:
        self._config = config
        self._clients: dict[tuple[str, str], tencent.Client] = {}
        self._lock = threading.Lock()

    def prepare(
        self, target: models.Target
    ) -> typing.Callable[[datapoints.Window], datapoints.Datapoint]:
        region, endpoint, dimensions = self._rendered(target)
        return lambda window: self._latest(region, endpoint, dimensions, window)

    def _rendered(self, target: models.Target) -> tuple[str, str, dict[str, str]]:
        config = self._config
        region = outcomes.render(config.region, target, what="region")
        endpoint = (
            DEFAULT_ENDPOINT
            if config.endpoint is None
            else outcomes.render(config.endpoint, target, what="endpoint")
        )
        dimensions = {
            name: outcomes.render(value, target, what=f"dimension {name}")
            for name, value in config.dimensions.items()
        }
        return region, endpoint, dimensions

    def series(
        self, target: models.Target, window: datapoints.Window
    ) -> list[datapoints.Datapoint]:
        """Every datapoint in ``window``: GetMonitorData over spans of ``MAX_POINTS`` periods."""
        region, endpoint, dimensions = self._rendered(target)
        label = "value" if self._config.statistic == "default" else self._config.statistic
        points: list[datapoints.Datapoint] = []
        span = window.period * (MAX_POINTS - 1)  # both ends count: at most MAX_POINTS stamps
        start = window.start
        while start < window.end:
            end = min(window.end, start + span)
            part = datapoints.Window(start=start, end=end, period=window.period)
            answer = self._ask(region, endpoint, dimensions, part, temporary=datapoints.Unavailable)
            points.extend(
                datapoints.Datapoint(time=when, value=value, statistic=label)
                for when, value in _pairs(answer, field=self._field(), window=part)
                # The next span starts where this one ended: its first stamp is that one.
                if when < end or end == window.end
            )
            start = end
        return points

    def _field(self) -> str:
        return (
            _STATISTICS[self._config.statistic][1]
            if self._config.statistic in _STATISTICS
            else "Values"
        )

    def _ask(
        self,
        region: str,
        endpoint: str,
        dimensions: dict[str, str],
        window: datapoints.Window,
        *,
        temporary: type[outcomes.CannotObserve] = outcomes.CannotObserve,
    ) -> typing.Mapping[str, typing.Any]:
        config = self._config
        params: dict[str, typing.Any] = {
            "Namespace": config.namespace,
            "MetricName": config.metric,
            "Period": window.period,
            "StartTime": _iso(window.start),
            "EndTime": _iso(window.end),
            "Instances": [
                {
                    "Dimensions": [
                        {"Name": name, "Value": value} for name, value in dimensions.items()
                    ]
                }
            ],
        }
        if config.statistic in _STATISTICS:
            params["SpecifyStatistics"] = _STATISTICS[config.statistic][0]
        try:
            return self._client(region, endpoint).call("monitor", ACTION, params)
        except ImportError:
            raise outcomes.CannotObserve(
                f"{WHAT} needs tencentcloud-sdk-python-monitor: pip install 'rollsafe[tencent]'"
            ) from None
        except tencent.Failure as failure:
            passing = failure.code == "ClientNetworkError" or isinstance(
                tencent.translate(failure, where=WHAT), errors.DriverTemporaryError
            )
            raise (temporary if passing else outcomes.CannotObserve)(
                _failed(failure, endpoint)
            ) from None

    def _latest(
        self, region: str, endpoint: str, dimensions: dict[str, str], window: datapoints.Window
    ) -> datapoints.Datapoint:
        config = self._config
        answer = self._ask(region, endpoint, dimensions, window)
        return _newest(
            answer,
            field=self._field(),
            statistic=config.statistic,
            window=window,
            what=datapoints.describe(config.namespace, config.metric, dimensions, window),
        )

    def _client(self, region: str, endpoint: str) -> tencent.Client:
        key = (region, endpoint)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = tencent.Client(
                    region=region,
                    endpoints={"monitor": endpoint},
                    protocol=self._config.protocol,
                    # Past the probe's own timeout: the probe's clock decides, and says so.
                    api_timeout=math.ceil(self._config.timeout) + 1.0,
                )
                self._clients[key] = client
            return client

    def close(self) -> None:
        with self._lock:
            self._clients = {}


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(int(seconds), datetime.UTC).isoformat()


def _failed(failure: tencent.Failure, endpoint: str) -> str:
    """The reason of the error observation, by what a person should do about it."""
    if failure.code == "ClientNetworkError":
        return f"{WHAT}: cannot reach {endpoint}: {failure.message}"
    error = tencent.translate(
        failure,
        where=f"{WHAT} {ACTION}",
        denied_hint="the CAM identity needs monitor:GetMonitorData (check the SecretId and key)",
    )
    if isinstance(error, errors.DriverTemporaryError):
        return f"{WHAT}: Cloud Monitor is unavailable for now (throttled or failing): {error}"
    return str(error)


def _newest(
    answer: typing.Mapping[str, typing.Any],
    *,
    field: str,
    statistic: str,
    window: datapoints.Window,
    what: str,
) -> datapoints.Datapoint:
    found = _pairs(answer, field=field, window=window)
    if not found:
        raise outcomes.CannotObserve(f"no data: no datapoint for {what}")
    when, value = max(found, key=lambda pair: pair[0])
    label = "value" if statistic == "default" else statistic
    return datapoints.Datapoint(time=when, value=value, statistic=label)


def _pairs(
    answer: typing.Mapping[str, typing.Any], *, field: str, window: datapoints.Window
) -> list[tuple[float, float]]:
    """(timestamp, value) of every datapoint of the answer inside ``window``."""
    series = answer.get("DataPoints")
    if not isinstance(series, list):
        raise outcomes.CannotObserve(f"{WHAT}: the answer has no DataPoints")
    found: list[tuple[float, float]] = []
    for one in series:
        if not isinstance(one, dict):
            continue
        stamps = one.get("Timestamps") or []
        values = one.get(field) or []
        for stamp, value in zip(stamps, values, strict=False):
            when, number = datapoints.number(stamp), datapoints.number(value)
            # A null value is a period without data; a point outside the window is not asked for.
            if when is not None and number is not None and window.start <= when <= window.end:
                found.append((when, number))
    return found


def create(config: models.Probe, clock: clocks.Clock) -> datapoints.DatapointProbe:
    """Factory registered under ``tencent_monitor``; ConfigError when the SDK is missing."""
    if not isinstance(config, models.TencentMonitorProbe):
        raise errors.ConfigError(f"probe {config.name}: not a tencent_monitor probe")
    if not _sdk_installed():
        raise errors.ConfigError(
            f"probe {config.name}: the tencent_monitor probe needs "
            "tencentcloud-sdk-python-monitor: pip install 'rollsafe[tencent]'"
        )
    return datapoints.DatapointProbe(
        name=config.name,
        period=config.period,
        periods=config.periods,
        timeout=config.timeout,
        asker=Asker(config),
        clock=clock,
    )


def _sdk_installed() -> bool:
    try:
        return importlib.util.find_spec("tencentcloud.monitor") is not None
    except (ImportError, ValueError):  # a parent package missing (or blocked)
        return False
