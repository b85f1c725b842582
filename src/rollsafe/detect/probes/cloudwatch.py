"""CloudWatch probe: the latest datapoint of one metric, through GetMetricData.

Each observation asks for ``statistic`` of one metric (``namespace``, ``metric``, the
rendered ``dimensions``) at ``period`` resolution over the last ``periods`` periods, newest
first, and observes the newest datapoint: its value in ``value``, its age in ``text``
(CloudWatch lags; a rule should tolerate a datapoint a period or two old). The timing, the
timeout and the observation are ``datapoints``', shared with ``aliyun_cms`` and
``tencent_monitor``.

The session, the worker-thread calls and the reading of AWS errors are ``reach/clouds/aws.py``'s,
shared with the EC2 driver and the SSM transport; boto3 is an optional dependency
(``pip install 'rollsafe[aws]'``) loaded only when a probe first calls. Credentials and the
default region come from the SDK's usual chain (environment, profile, instance role).
boto3 calls block, so each runs in a worker thread, bounded by the probe's ``timeout`` (also
given to botocore as its connect and read timeouts, so the thread does not outlive it by much).
One client per (region, endpoint), created on first use and shared across targets: clients
are thread-safe, their creation is not, hence the lock.

No datapoint in the window is an error "no data", never a made-up 0: a metric that stopped
arriving is the detector going blind (or a dimension typo), not a healthy zero. AWS errors are
translated here, at the boundary, into error observations that carry the AWS error code
(``AccessDenied``, ``Throttling``, ...); no botocore exception leaves the probe.

History (``series``, for ``rollsafe record``): the same query over the whole range,
``ScanBy=TimestampAscending``, following ``NextToken`` page by page.
"""

from __future__ import annotations

import datetime
import threading
import typing

from rollsafe.config import models
from rollsafe.detect.probes import datapoints, outcomes
from rollsafe.domain import clocks, errors
from rollsafe.reach.clouds import aws

QUERY_ID = "m0"
"""Id of the one query in each GetMetricData request (ids must start with a lower-case letter)."""


class CloudwatchProbe(datapoints.DatapointProbe):
    """Fetches one CloudWatch metric per target and observes its newest datapoint.

    The timing, the timeout and the observation are ``datapoints.DatapointProbe``'s, shared
    with the other clouds' monitoring probes; this class only asks CloudWatch.
    """

    def __init__(self, config: models.CloudwatchProbe, clock: clocks.Clock) -> None:
        self._cloudwatch = _Asker(config)
        super().__init__(
            name=config.name,
            period=config.period,
            periods=config.periods,
            timeout=config.timeout,
            asker=self._cloudwatch,
            clock=clock,
        )

    def _client(self, region: str | None, endpoint: str | None) -> aws.Client:
        """The client of (region, endpoint), for a test's ``Stubber``."""
        return self._cloudwatch.client(region, endpoint)


class _Asker:
    """Implements ``datapoints.Asker`` for one ``kind: cloudwatch`` probe."""

    def __init__(self, config: models.CloudwatchProbe) -> None:
        self._config = config
        self._clients: dict[tuple[str | None, str | None], aws.Client] = {}
        self._lock = threading.Lock()

    def prepare(
        self, target: models.Target
    ) -> typing.Callable[[datapoints.Window], datapoints.Datapoint]:
        dimensions = [
            {"Name": name, "Value": outcomes.render(value, target, what=f"dimension {name}")}
            for name, value in self._config.dimensions.items()
        ]
        region = self._optional(self._config.region, target, what="region")
        endpoint = self._optional(self._config.endpoint_url, target, what="endpoint_url")
        return lambda window: self._latest(
            dimensions, region=region, endpoint=endpoint, window=window
        )

    @staticmethod
    def _optional(template: str | None, target: models.Target, *, what: str) -> str | None:
        return None if template is None else outcomes.render(template, target, what=what)

    def _query(
        self, dimensions: list[dict[str, str]], window: datapoints.Window
    ) -> dict[str, typing.Any]:
        config = self._config
        return {
            "Id": QUERY_ID,
            "MetricStat": {
                "Metric": {
                    "Namespace": config.namespace,
                    "MetricName": config.metric,
                    "Dimensions": dimensions,
                },
                "Period": window.period,
                "Stat": config.statistic,
            },
            "ReturnData": True,
        }

    def _latest(
        self,
        dimensions: list[dict[str, str]],
        *,
        region: str | None,
        endpoint: str | None,
        window: datapoints.Window,
    ) -> datapoints.Datapoint:
        """Newest datapoint of the metric; runs in a worker thread."""
        config = self._config
        query = self._query(dimensions, window)
        answer = self.client(region, endpoint).invoke(
            "GetMetricData",
            {
                "MetricDataQueries": [query],
                "StartTime": datetime.datetime.fromtimestamp(window.start, datetime.UTC),
                "EndTime": datetime.datetime.fromtimestamp(window.end, datetime.UTC),
                "ScanBy": "TimestampDescending",
            },
        )
        if isinstance(answer, aws.Failure):
            raise outcomes.CannotObserve(_failed(answer))
        shown = {d["Name"]: d["Value"] for d in dimensions}
        when, value = _newest(
            answer, what=datapoints.describe(config.namespace, config.metric, shown, window)
        )
        return datapoints.Datapoint(time=when.timestamp(), value=value, statistic=config.statistic)

    def series(
        self, target: models.Target, window: datapoints.Window
    ) -> list[datapoints.Datapoint]:
        """Every datapoint in ``window``: GetMetricData, oldest first, page by ``NextToken``."""
        config = self._config
        dimensions = [
            {"Name": name, "Value": outcomes.render(value, target, what=f"dimension {name}")}
            for name, value in config.dimensions.items()
        ]
        region = self._optional(config.region, target, what="region")
        endpoint = self._optional(config.endpoint_url, target, what="endpoint_url")
        params: dict[str, typing.Any] = {
            "MetricDataQueries": [self._query(dimensions, window)],
            "StartTime": datetime.datetime.fromtimestamp(window.start, datetime.UTC),
            "EndTime": datetime.datetime.fromtimestamp(window.end, datetime.UTC),
            "ScanBy": "TimestampAscending",
        }
        points: list[datapoints.Datapoint] = []
        while True:
            answer = self.client(region, endpoint).invoke("GetMetricData", params)
            if isinstance(answer, aws.Failure):
                kind = datapoints.Unavailable if answer.temporary else outcomes.CannotObserve
                raise kind(_failed(answer))
            for result in answer.get("MetricDataResults", []):
                if result.get("Id") != QUERY_ID:
                    continue
                if result.get("StatusCode") in ("InternalError", "Forbidden"):
                    notes = "; ".join(m.get("Value", "") for m in result.get("Messages", []))
                    raise outcomes.CannotObserve(
                        f"cloudwatch: {result['StatusCode']}: {notes or 'no message'}"
                    )
                points.extend(
                    datapoints.Datapoint(
                        time=when.timestamp(), value=float(value), statistic=config.statistic
                    )
                    for when, value in zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=False
                    )
                )
            token = answer.get("NextToken")
            if not token:
                return points
            params["NextToken"] = token

    def client(self, region: str | None, endpoint: str | None) -> aws.Client:
        key = (region, endpoint)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                # The next interval is the retry; one more attempt covers a throttle blip.
                client = aws.Client(
                    "cloudwatch",
                    label="cloudwatch",
                    region=region,
                    endpoint_url=endpoint,
                    timeout=self._config.timeout,
                    attempts=2,
                )
                self._clients[key] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def _newest(
    answer: typing.Mapping[str, typing.Any], *, what: str
) -> tuple[datetime.datetime, float]:
    for result in answer.get("MetricDataResults", []):
        if result.get("Id") != QUERY_ID:
            continue
        pairs = list(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
        if pairs:
            return max(pairs, key=lambda pair: pair[0])
        status = result.get("StatusCode")
        if status in ("InternalError", "Forbidden"):
            notes = "; ".join(m.get("Value", "") for m in result.get("Messages", []))
            raise outcomes.CannotObserve(f"cloudwatch: {status}: {notes or 'no message'}")
        raise outcomes.CannotObserve(f"no data: no datapoint for {what}")
    raise outcomes.CannotObserve(f"cloudwatch: the answer has no result for {what}")


def _failed(failure: aws.Failure) -> str:
    """``cloudwatch: <AWS error code>: <message>`` (the request id is in no observation)."""
    if failure.code == "NoRegion":
        return "cloudwatch: no region: set `region` on the probe or AWS_DEFAULT_REGION"
    if failure.code == "NoCredentials":
        return "cloudwatch: no AWS credentials found"
    return failure.describe("cloudwatch", request=False)


def create(config: models.Probe, clock: clocks.Clock) -> CloudwatchProbe:
    """Factory registered under ``cloudwatch``; ConfigError when boto3 is not installed."""
    if not isinstance(config, models.CloudwatchProbe):
        raise errors.ConfigError(f"probe {config.name}: not a cloudwatch probe")
    if not aws.available():
        raise errors.ConfigError(
            f"probe {config.name}: the cloudwatch probe needs boto3: pip install 'rollsafe[aws]'"
        )
    return CloudwatchProbe(config, clock)
