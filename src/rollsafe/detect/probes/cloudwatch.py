"""CloudWatch probe: the latest datapoint of one metric, through GetMetricData.

Each observation asks for ``statistic`` of one metric (``namespace``, ``metric``, the
rendered ``dimensions``) at ``period`` resolution over the last ``periods`` periods, newest
first, and observes the newest datapoint: its value in ``value``, its age in ``text``
(CloudWatch lags; a rule should tolerate a datapoint a period or two old).

boto3 is an optional dependency (``pip install 'rollsafe[aws]'``): it is imported only when a
cloudwatch probe is built, so a controller without AWS probes never loads it. Credentials and
the default region come from the SDK's usual chain (environment, profile, instance role).
boto3 calls block, so each runs in a worker thread, bounded by the probe's ``timeout`` (also
given to botocore as its connect and read timeouts, so the thread does not outlive it by much).
One client per (region, endpoint), created on first use and shared across targets: clients
are thread-safe, their creation is not, hence the lock.

No datapoint in the window is an error "no data", never a made-up 0: a metric that stopped
arriving is the detector going blind (or a dimension typo), not a healthy zero. AWS errors are
translated here, at the boundary, into error observations that carry the AWS error code
(``AccessDenied``, ``Throttling``, ...); no botocore exception leaves the probe.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib.util
import threading
import typing

from rollsafe.config import durations, models
from rollsafe.detect.probes import outcomes
from rollsafe.domain import clocks, errors, ids, observations

QUERY_ID = "m0"
"""Id of the one query in each GetMetricData request (ids must start with a lower-case letter)."""


class CloudwatchProbe:
    """Fetches one CloudWatch metric per target and observes its newest datapoint."""

    def __init__(self, config: models.CloudwatchProbe, clock: clocks.Clock) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        self._clients: dict[tuple[str | None, str | None], typing.Any] = {}
        self._lock = threading.Lock()

    async def observe(self, target: models.Target) -> observations.Observation:
        loop = asyncio.get_running_loop()
        started = loop.time()
        now = self._clock.now()
        try:
            dimensions = [
                {"Name": name, "Value": outcomes.render(value, target, what=f"dimension {name}")}
                for name, value in self._config.dimensions.items()
            ]
            region = self._optional(self._config.region, target, what="region")
            endpoint = self._optional(self._config.endpoint_url, target, what="endpoint_url")
            try:
                async with asyncio.timeout(self._config.timeout):
                    when, value = await asyncio.to_thread(
                        self._latest, dimensions, region=region, endpoint=endpoint, now=now
                    )
            except TimeoutError:
                raise outcomes.CannotObserve(
                    outcomes.timeout_reason(self._config.timeout)
                ) from None
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        age = max(0.0, now - when.timestamp())
        stamp = when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=value,
            latency_s=loop.time() - started,
            text=f"{self._config.statistic} at {stamp} ({durations.format_duration(age)} old)",
        )

    @staticmethod
    def _optional(template: str | None, target: models.Target, *, what: str) -> str | None:
        return None if template is None else outcomes.render(template, target, what=what)

    def _latest(
        self,
        dimensions: list[dict[str, str]],
        *,
        region: str | None,
        endpoint: str | None,
        now: float,
    ) -> tuple[datetime.datetime, float]:
        """Newest (time, value) of the metric; runs in a worker thread."""
        from botocore import exceptions as aws_errors

        config = self._config
        period = int(config.period)
        query = {
            "Id": QUERY_ID,
            "MetricStat": {
                "Metric": {
                    "Namespace": config.namespace,
                    "MetricName": config.metric,
                    "Dimensions": dimensions,
                },
                "Period": period,
                "Stat": config.statistic,
            },
            "ReturnData": True,
        }
        end = datetime.datetime.fromtimestamp(now, datetime.UTC)
        start = end - datetime.timedelta(seconds=period * config.periods)
        try:
            client = self._client(region, endpoint)
            answer = client.get_metric_data(
                MetricDataQueries=[query],
                StartTime=start,
                EndTime=end,
                ScanBy="TimestampDescending",
            )
        except aws_errors.ClientError as exc:
            raise outcomes.CannotObserve(_client_error(exc.response, exc)) from exc
        except aws_errors.NoRegionError as exc:
            raise outcomes.CannotObserve(
                "cloudwatch: no region: set `region` on the probe or AWS_DEFAULT_REGION"
            ) from exc
        except aws_errors.NoCredentialsError as exc:
            raise outcomes.CannotObserve("cloudwatch: no AWS credentials found") from exc
        except aws_errors.BotoCoreError as exc:
            raise outcomes.CannotObserve(f"cloudwatch: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # an endpoint_url botocore refuses to parse
            raise outcomes.CannotObserve(f"cloudwatch: {exc}") from exc
        return _newest(answer, what=self._describe(dimensions))

    def _client(self, region: str | None, endpoint: str | None) -> typing.Any:
        key = (region, endpoint)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                import boto3
                from botocore import config as aws_config

                timeout = self._config.timeout
                settings = aws_config.Config(
                    connect_timeout=timeout,
                    read_timeout=timeout,
                    # The next interval is the retry; one more attempt covers a throttle blip.
                    retries={"mode": "standard", "total_max_attempts": 2},
                )
                session = boto3.session.Session()
                client = session.client(
                    "cloudwatch", region_name=region, endpoint_url=endpoint, config=settings
                )
                self._clients[key] = client
            return client

    def _describe(self, dimensions: list[dict[str, str]]) -> str:
        config = self._config
        shown = ",".join(f"{d['Name']}={d['Value']}" for d in dimensions)
        window = durations.format_duration(config.period * config.periods)
        return f"{config.namespace} {config.metric}{{{shown}}} in the last {window}"

    async def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            close = getattr(client, "close", None)
            if close is not None:
                close()


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


def _client_error(response: typing.Mapping[str, typing.Any], exc: Exception) -> str:
    """``cloudwatch: <AWS error code>: <message>`` from a botocore ClientError response."""
    error = response.get("Error", {})
    code = str(error.get("Code") or "")
    message = " ".join(str(error.get("Message") or exc).split())
    if not code or code.isdigit():
        # botocore could not read an AWS error from the body (a proxy's page, an unexpected
        # encoding): it puts the HTTP status there instead; the body then holds the details.
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or code or "?"
        return f"cloudwatch: HTTP {status}: {message}"
    return f"cloudwatch: {code}: {message}"


def create(config: models.Probe, clock: clocks.Clock) -> CloudwatchProbe:
    """Factory registered under ``cloudwatch``; ConfigError when boto3 is not installed."""
    if not isinstance(config, models.CloudwatchProbe):
        raise errors.ConfigError(f"probe {config.name}: not a cloudwatch probe")
    if importlib.util.find_spec("boto3") is None:
        raise errors.ConfigError(
            f"probe {config.name}: the cloudwatch probe needs boto3: pip install 'rollsafe[aws]'"
        )
    return CloudwatchProbe(config, clock)
