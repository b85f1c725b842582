"""Capturing real history: ``rollsafe record`` builds a recording from Prometheus and log files.

So that a policy can be backtested on a team's own incidents, not only on the shipped corpus:

* **Prometheus**: for every ``promql`` probe of the configuration and every target it selects,
  the probe's query (rendered for the target, as live) is run once over the whole range with
  ``/api/v1/query_range``, at a step of the probe's ``interval``. Prometheus evaluates a range
  query at each step exactly as an instant query at that time, so each step becomes the
  observation the probe would have made then: the samples present at the step are read by the
  probe's own code (``detect.probes.promql.read_answer``, same ``reduce``, same NaN and
  no-data rules), and a step without any sample is the probe's "no data" error. Long ranges are
  fetched in chunks of at most 10,000 steps (Prometheus refuses more than 11,000 points).
  ``status`` and ``latency`` are not recorded: live they describe the query, not the target.
* **Log files**: for every ``log`` probe and target, the file its ``path`` renders to (or one
  given on the command line) is read; each line's time is parsed from its text
  (``timestamps``), lines without one (stack traces) take the time of the line before, and
  lines inside the range are recorded raw (by default only those the probe's patterns match;
  replaying re-counts them per interval). The header lists the log as followed, so intervals
  without matching lines replay as zero counts.
* **Remote journals**: a ``log`` probe with ``journal`` and ``transport`` asks the target's
  ``journalctl --since @START --until @END`` (its ``-k``/``-u``) through the transport, once;
  the entries are recorded like log file lines. A remote ``log`` FILE is not recorded (its
  rotated history may be compressed, moved or gone: give ``--log`` with a copy), and a remote
  ``host`` probe has no history at all (``/proc`` holds only the present).

* **Log platforms**: for every ``elasticsearch``, ``loki``, ``sls`` and ``cls`` probe and
  every target it selects, the probe's own query pair (``detect.probes.platforms``) is asked
  at each step ``start + k * interval`` (k = 1, 2, ...) up to ``end``, with the window the
  live probe would have counted at that time (``window``, ``delay``). Each step becomes the
  observation the live probe would have made: the count and the newest matching line. Steps
  are asked at most ``PLATFORM_CONCURRENCY`` at a time, at most ``MAX_PLATFORM_STEPS`` per
  probe and target; a throttled or failing platform (429, 5xx) is asked again, up to
  ``PLATFORM_RETRIES`` times, after its ``Retry-After`` (capped at 10 seconds).

* **Cloud monitors**: for every ``cloudwatch``, ``aliyun_cms`` and ``tencent_monitor`` probe and
  every target it selects, every datapoint of the range (and of the probe's window before its
  start) is read once (``series``: GetMetricData and DescribeMetricList paged by NextToken,
  GetMonitorData in spans of 1,440 points), and each step ``start + k * interval`` becomes the
  observation the live probe would have made then (``DatapointProbe.replay``): the newest
  datapoint in its window, or its "no data" error. A throttled or failing service is asked
  again, up to ``PLATFORM_RETRIES`` times, a second apart.

Prometheus or a log platform being unreachable or refusing a query fails the whole recording
(``RecordError``): a recording of "the monitoring was down while I recorded" is not history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rollsafe.backtest import recordings, timestamps
from rollsafe.config import models
from rollsafe.detect import probes as probe_kinds
from rollsafe.detect.probes import datapoints, logs, outcomes, platforms, promql
from rollsafe.domain import clocks, errors, ids, observations

__all__ = [
    "MAX_PLATFORM_STEPS",
    "MAX_STEPS",
    "PLATFORM_CONCURRENCY",
    "PLATFORM_RETRIES",
    "QUERY_RANGE_PATH",
    "LogFile",
    "RecordError",
    "Recorded",
    "log_lines",
    "monitor_observations",
    "platform_observations",
    "prometheus_observations",
    "record",
    "write",
]

QUERY_RANGE_PATH = "/api/v1/query_range"
MAX_STEPS = 10_000  # per request; Prometheus refuses more than 11,000 points per series
MAX_PLATFORM_STEPS = 50_000  # per probe and target: 7 days at 15 s is 40,320
PLATFORM_CONCURRENCY = 4  # steps asked at once: a backfill must not look like an attack
PLATFORM_RETRIES = 3
PlatformProbe = models.ElasticsearchProbe | models.LokiProbe | models.SlsProbe | models.ClsProbe
_PLATFORM_KINDS = (
    models.ElasticsearchProbe,
    models.LokiProbe,
    models.SlsProbe,
    models.ClsProbe,
)
MonitorProbe = models.CloudwatchProbe | models.AliyunCmsProbe | models.TencentMonitorProbe
_MONITOR_KINDS = (models.CloudwatchProbe, models.AliyunCmsProbe, models.TencentMonitorProbe)
Sleep = Callable[[float], Awaitable[None]]

Fetch = Callable[[str, Mapping[str, str], Mapping[str, str], float], Any]
"""(url, form, headers, timeout) -> the decoded JSON answer; raises RecordError."""


class RecordError(errors.RollsafeError):
    """The recording cannot be made (Prometheus unreachable, a query refused, bad input)."""


@dataclass(frozen=True, slots=True)
class LogFile:
    """A log file to read for a log probe and a target (from the command line)."""

    probe: str
    target: str
    path: Path


@dataclass
class Recorded:
    """What was gathered (filled in by ``record``); ``write`` turns it into a recording."""

    start: float
    end: float
    observations: list[observations.Observation] = field(default_factory=list)
    log_lines: list[recordings.LogLine] = field(default_factory=list)
    followed_logs: list[tuple[str, str]] = field(default_factory=list)  # (target, source)
    notes: list[str] = field(default_factory=list)  # skipped files and the like, for stderr
    queries: int = 0
    platform_steps: int = 0  # steps asked of log platforms
    monitor_steps: int = 0  # steps replayed from cloud monitors' datapoints


def record(
    config: models.RollsafeConfig,
    *,
    start: float,
    end: float,
    probes: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    log_files: Sequence[LogFile] = (),
    all_log_lines: bool = False,
    zone: dt.tzinfo = dt.UTC,
    timeout: float = 60.0,
    fetch: Fetch | None = None,
) -> Recorded:
    """Gather observations and log lines for ``[start, end]`` (see the module notes).

    ``probes`` and ``targets`` restrict what is recorded (default: every promql and log probe,
    every target each selects). ``log_files`` replace the rendered ``path`` of their probe and
    target.
    """
    if end <= start:
        raise RecordError("the end of the range must be after its start")
    known = {probe.name: probe for probe in config.probes}
    for name in probes or ():
        if name not in known:
            raise RecordError(f"unknown probe {name!r} (expected one of: {', '.join(known)})")
        if not isinstance(
            known[name], (models.PromqlProbe, models.LogProbe, *_PLATFORM_KINDS, *_MONITOR_KINDS)
        ):
            raise RecordError(
                f"probe {name!r} is a {known[name].kind} probe: only promql, log, log "
                "platform (elasticsearch, loki, sls, cls) and cloud monitor (cloudwatch, "
                "aliyun_cms, tencent_monitor) probes can be recorded from history"
            )
    chosen = [p for p in config.probes if probes is None or p.name in probes]
    picked = _targets(config, targets)
    out = Recorded(start=start, end=end)
    for probe in chosen:
        if isinstance(probe, models.PromqlProbe):
            for target in picked:
                if models.selects(probe.targets, target):
                    found, queries = prometheus_observations(
                        probe, target, start=start, end=end, timeout=timeout, fetch=fetch
                    )
                    out.observations.extend(found)
                    out.queries += queries
    _record_steps(out, chosen, picked)
    overrides: dict[tuple[str, str], list[Path]] = {}
    for item in log_files:
        if not isinstance(known.get(item.probe), models.LogProbe):
            raise RecordError(f"--log names {item.probe!r}, which is not a log probe")
        overrides.setdefault((item.probe, item.target), []).append(item.path)
    for probe in chosen:
        if not isinstance(probe, models.LogProbe):
            continue
        for target in picked:
            if not models.selects(probe.targets, target):
                continue
            paths = overrides.get((probe.name, target.id))
            if paths is None and probe.journal is not None:
                _record_journal(
                    out, probe, target, all_lines=all_log_lines, zone=zone, timeout=timeout
                )
                continue
            if paths is None and probe.transport is not None:
                # A remote FILE has no history to ask for: what rotated away may be gone,
                # compressed or elsewhere. `--log PROBE:TARGET:PATH` records a copy.
                out.notes.append(
                    f"{probe.name} on {target.id}: a remote file is not recorded from history "
                    "(give --log PROBE:TARGET:PATH with a copy of the file)"
                )
                continue
            if paths is None:
                assert probe.path is not None  # noqa: S101 - narrowed by the check above
                try:
                    paths = [Path(models.render(probe.path, target))]
                except (KeyError, ValueError, IndexError) as exc:
                    raise RecordError(f"probe {probe.name}: path for {target.id}: {exc}") from exc
            existing = [p for p in paths if p.is_file()]
            for missing in sorted(set(paths) - set(existing)):
                out.notes.append(f"{probe.name} on {target.id}: no file {missing}, not recorded")
            if not existing:
                continue
            out.followed_logs.append((target.id, probe.name))
            for path in existing:
                out.log_lines.extend(
                    log_lines(
                        path,
                        probe,
                        target=target.id,
                        start=start,
                        end=end,
                        all_lines=all_log_lines,
                        zone=zone,
                    )
                )
    return out


def _record_steps(
    out: Recorded, chosen: Sequence[models.Probe], picked: Sequence[models.Target]
) -> None:
    """The log platform and cloud monitor probes' steps over ``out``'s range."""
    for probe in chosen:
        for target in picked:
            if not models.selects(probe.targets, target):
                continue
            if isinstance(probe, _PLATFORM_KINDS):
                steps = platform_observations(probe, target, start=out.start, end=out.end)
                out.platform_steps += len(steps)
            elif isinstance(probe, _MONITOR_KINDS):
                steps = monitor_observations(probe, target, start=out.start, end=out.end)
                out.monitor_steps += len(steps)
            else:
                continue
            out.observations.extend(steps)


def write(
    recorded: Recorded,
    stream: IO[str],
    *,
    name: str | None = None,
    description: str = "",
    marks: Iterable[observations.Mark] = (),
    faults: Sequence[recordings.Fault] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> int:
    """Write ``recorded`` as a recording, in time order; the number of records written."""
    writer = recordings.Writer(stream)
    writer.header(
        start=recorded.start,
        end=recorded.end,
        name=name,
        description=description,
        faults=faults,
        logs=recorded.followed_logs,
        meta=meta,
    )
    items: list[tuple[float, int, str, Any]] = []
    items.extend((m.time, 0, m.target, m) for m in marks)
    items.extend((o.time, 1, o.target, o) for o in recorded.observations)
    items.extend((line.time, 2, line.target, line) for line in recorded.log_lines)
    # Stable: lines of one file at the same second keep their order.
    items.sort(key=lambda item: (item[0], item[1], item[2]))
    for _, kind, _, item in items:
        if kind == 0:
            writer.mark(item)
        elif kind == 1:
            writer.observation(item)
        else:
            writer.log(item)
    return writer.records


# --------------------------------------------------------------------------- Prometheus


def prometheus_observations(
    probe: models.PromqlProbe,
    target: models.Target,
    *,
    start: float,
    end: float,
    timeout: float = 60.0,
    fetch: Fetch | None = None,
) -> tuple[list[observations.Observation], int]:
    """What ``probe`` would have observed on ``target`` every ``interval`` in the range."""
    base, query, headers = _request(probe, target)
    step = probe.interval
    get = fetch or _post
    out: list[observations.Observation] = []
    requests = 0
    total = math.floor((end - start) / step) + 1
    for first in range(0, total, MAX_STEPS):
        count = min(MAX_STEPS, total - first)
        # Milliseconds, Prometheus' resolution: the steps it answers for are exactly ours.
        times = [round(start + (first + k) * step, 3) for k in range(count)]
        chunk_start, chunk_end = times[0], times[-1]
        form = {
            "query": query,
            "start": _number(chunk_start),
            "end": _number(chunk_end),
            "step": _number(step),
        }
        answer = get(base + QUERY_RANGE_PATH, form, headers, timeout)
        requests += 1
        series = _matrix(answer, probe=probe.name)
        out.extend(
            _steps(
                series,
                probe=probe,
                target=ids.TargetId(target.id),
                times=times,
            )
        )
    return out, requests


def _request(probe: models.PromqlProbe, target: models.Target) -> tuple[str, str, dict[str, str]]:
    try:
        base = models.render(probe.url, target).rstrip("/")
        query = models.render_dollar(probe.query, target)
        headers = {k: models.render(v, target) for k, v in probe.headers.items()}
    except (KeyError, ValueError, IndexError) as exc:
        raise RecordError(f"probe {probe.name}: cannot render for {target.id}: {exc}") from exc
    if probe.bearer_token_env is not None:
        token = os.environ.get(probe.bearer_token_env)
        if not token:
            raise RecordError(
                f"probe {probe.name}: environment variable {probe.bearer_token_env} is not set"
            )
        headers["Authorization"] = f"Bearer {token}"
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RecordError(f"probe {probe.name}: url is not an http(s) URL for {target.id}")
    return base, query, headers


def _post(url: str, form: Mapping[str, str], headers: Mapping[str, str], timeout: float) -> Any:
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(  # noqa: S310 - the scheme was checked to be http(s)
        url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        method="POST",
    )
    where = urllib.parse.urlsplit(url).netloc
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("status") == "error":
            raise RecordError(
                f"prometheus at {where} refused the query: {payload.get('errorType')}: "
                f"{payload.get('error')}"
            ) from exc
        raise RecordError(f"prometheus at {where} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RecordError(f"cannot reach prometheus at {where}: {reason}") from exc
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise RecordError(f"prometheus at {where} did not answer with JSON") from exc


def _matrix(answer: Any, *, probe: str) -> list[Mapping[str, Any]]:
    if not isinstance(answer, dict) or answer.get("status") != "success":
        message = answer.get("error") if isinstance(answer, dict) else None
        raise RecordError(f"probe {probe}: prometheus refused the range query: {message}")
    data = answer.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        kind = data.get("resultType") if isinstance(data, dict) else None
        raise RecordError(f"probe {probe}: expected a matrix from query_range, got {kind!r}")
    result = data.get("result")
    return [s for s in result if isinstance(s, dict)] if isinstance(result, list) else []


def _steps(
    series: Sequence[Mapping[str, Any]],
    *,
    probe: models.PromqlProbe,
    target: ids.TargetId,
    times: Sequence[float],
) -> list[observations.Observation]:
    # Index every sample by its step (milliseconds: Prometheus' own resolution).
    by_step: dict[int, list[dict[str, Any]]] = {}
    for item in series:
        metric = item.get("metric")
        values = item.get("values")
        if not isinstance(values, list):
            continue
        for pair in values:
            if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int | float):
                by_step.setdefault(round(pair[0] * 1000), []).append(
                    {"metric": metric if isinstance(metric, dict) else {}, "value": pair}
                )
    out = []
    for time in times:
        samples = by_step.get(round(time * 1000), [])
        vector = {"status": "success", "data": {"resultType": "vector", "result": samples}}
        try:
            value, text = promql.read_answer(200, vector, reduce=probe.reduce)
        except outcomes.CannotObserve as exc:
            out.append(
                observations.Observation(
                    time=time, target=target, source=probe.name, error=outcomes.clip(str(exc))
                )
            )
            continue
        out.append(
            observations.Observation(
                time=time,
                target=target,
                source=probe.name,
                value=value,
                text=outcomes.clip(text) if text else None,
            )
        )
    return out


def _number(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------- log platforms


def _step_times(probe: PlatformProbe | MonitorProbe, *, start: float, end: float) -> list[float]:
    """The times a probe looking every ``interval`` would have looked, after ``start``."""
    step = probe.interval
    total = math.floor((end - start) / step)
    if total > MAX_PLATFORM_STEPS:
        raise RecordError(
            f"probe {probe.name}: {total} steps of {step:g}s from start to end, more than "
            f"{MAX_PLATFORM_STEPS}: record a shorter range, or several"
        )
    return [round(start + k * step, 3) for k in range(1, total + 1)]


def platform_observations(
    probe: PlatformProbe,
    target: models.Target,
    *,
    start: float,
    end: float,
    sleep: Sleep = asyncio.sleep,
) -> list[observations.Observation]:
    """What a log platform probe would have observed on ``target`` at each step of the range.

    Runs its own event loop: ``record`` is called from the command line, outside any loop.
    """
    times = _step_times(probe, start=start, end=end)
    return asyncio.run(_ask_platform(probe, target, times, sleep=sleep))


async def _ask_platform(
    probe: PlatformProbe,
    target: models.Target,
    times: Sequence[float],
    *,
    sleep: Sleep,
) -> list[observations.Observation]:
    built = probe_kinds.build(probe, clocks.SystemClock())
    if not isinstance(built, platforms.PlatformProbe):
        raise RecordError(f"probe {probe.name}: {probe.kind} is not a log platform probe")
    querier = built.querier
    gate = asyncio.Semaphore(PLATFORM_CONCURRENCY)

    async def one(time: float) -> observations.Observation:
        window = platforms.window_at(probe, time)
        async with gate:
            for attempt in range(PLATFORM_RETRIES + 1):
                try:
                    found = await platforms.ask(querier, target, window, budget=probe.timeout)
                except platforms.Unavailable as exc:
                    if attempt == PLATFORM_RETRIES:
                        raise _step_error(probe, target, time, str(exc)) from exc
                    await sleep(min(10.0, exc.retry_after if exc.retry_after else 1.0))
                    continue
                except TimeoutError as exc:
                    reason = outcomes.timeout_reason(probe.timeout)
                    raise _step_error(probe, target, time, reason) from exc
                except outcomes.CannotObserve as exc:
                    raise _step_error(probe, target, time, str(exc)) from exc
                return platforms.observation(found, time=time, target=target, source=probe.name)
        raise AssertionError("unreachable: the last attempt returns or raises")

    try:
        return list(await asyncio.gather(*(one(t) for t in times)))
    finally:
        await built.close()


def monitor_observations(
    probe: MonitorProbe,
    target: models.Target,
    *,
    start: float,
    end: float,
    sleep: Sleep = asyncio.sleep,
) -> list[observations.Observation]:
    """What a cloud monitor probe would have observed on ``target`` at each step of the range.

    Runs its own event loop: ``record`` is called from the command line, outside any loop.
    """
    times = _step_times(probe, start=start, end=end)
    return asyncio.run(_ask_monitor(probe, target, times, sleep=sleep)) if times else []


async def _ask_monitor(
    probe: MonitorProbe, target: models.Target, times: list[float], *, sleep: Sleep
) -> list[observations.Observation]:
    built = probe_kinds.build(probe, clocks.SystemClock())
    if not isinstance(built, datapoints.DatapointProbe):
        raise RecordError(f"probe {probe.name}: {probe.kind} is not a cloud monitor probe")
    first = built.window_before(times[0])
    window = datapoints.Window(start=first.start, end=times[-1], period=first.period)
    try:
        for attempt in range(PLATFORM_RETRIES + 1):
            try:
                points = await asyncio.to_thread(built.asker.series, target, window)
            except datapoints.Unavailable as exc:
                if attempt == PLATFORM_RETRIES:
                    raise _step_error(probe, target, times[0], str(exc)) from exc
                await sleep(1.0)
                continue
            except outcomes.CannotObserve as exc:
                raise _step_error(probe, target, times[0], str(exc)) from exc
            return built.replay(points, target=target, times=times)
        raise AssertionError("unreachable: the last attempt returns or raises")
    finally:
        await built.close()


def _step_error(
    probe: models.LogPlatformProbe | MonitorProbe,
    target: models.Target,
    time: float,
    reason: str,
) -> RecordError:
    when = dt.datetime.fromtimestamp(time, dt.UTC).isoformat().replace("+00:00", "Z")
    return RecordError(f"probe {probe.name} on {target.id} at {when}: {reason}")


# --------------------------------------------------------------------------- log files


def log_lines(
    path: Path,
    probe: models.LogProbe,
    *,
    target: str,
    start: float,
    end: float,
    all_lines: bool = False,
    zone: dt.tzinfo = dt.UTC,
) -> list[recordings.LogLine]:
    """Lines of ``path`` written in ``[start, end]`` (see the module notes)."""
    patterns = logs.compile_patterns(probe)
    out: list[recordings.LogLine] = []
    current: float | None = None
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            for raw in handle:
                line = raw.rstrip("\n").rstrip("\r")
                if not line:
                    continue
                stamp = timestamps.parse(line, zone=zone, latest=end)
                if stamp is not None:
                    current = stamp
                if current is None or not start <= current <= end:
                    continue
                if all_lines or any(pattern.search(line) for pattern in patterns):
                    out.append(
                        recordings.LogLine(
                            time=current, target=ids.TargetId(target), source=probe.name, line=line
                        )
                    )
    except OSError as exc:
        raise RecordError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return out


def _record_journal(
    out: Recorded,
    probe: models.LogProbe,
    target: models.Target,
    *,
    all_lines: bool,
    zone: dt.tzinfo,
    timeout: float,
) -> None:
    lines, note = journal_lines(
        probe,
        target,
        start=out.start,
        end=out.end,
        all_lines=all_lines,
        zone=zone,
        timeout=timeout,
    )
    out.log_lines.extend(lines)
    out.followed_logs.append((target.id, probe.name))
    if note:
        out.notes.append(note)


JOURNAL_LINES = 200_000
"""Journal entries asked for per probe and target (the newest of the range, if more)."""


def journal_lines(
    probe: models.LogProbe,
    target: models.Target,
    *,
    start: float,
    end: float,
    all_lines: bool = False,
    zone: dt.tzinfo = dt.UTC,
    timeout: float = 60.0,
) -> tuple[list[recordings.LogLine], str | None]:
    """The target's journal entries in ``[start, end]`` (``journalctl --since/--until``).

    Read through the probe's transport, one command; the second item is a note for stderr
    when the output was cut (the transport keeps the newest 1 MiB: the start of the range is
    then missing, and the note says so).
    """
    from rollsafe.detect.probes import remote  # only when a journal is recorded

    if probe.journal is None or probe.transport is None:
        raise RecordError(f"probe {probe.name}: not a remote journal probe")
    script = remote.journal_command(
        probe.journal,
        cursor=None,
        lines=JOURNAL_LINES,
        since=f"@{math.floor(start)}",
        until=f"@{math.ceil(end)}",
    )
    transport_config = probe.transport

    async def ask() -> Any:
        transport = remote.lease_for(transport_config)
        try:
            return await remote.run(transport, target, script, limit_s=timeout)
        finally:
            await transport.close()

    try:
        result = asyncio.run(ask())
    except outcomes.CannotObserve as exc:
        raise RecordError(f"probe {probe.name} on {target.id}: {exc}") from exc
    if result.exit_status not in (0, 1) or (result.exit_status == 1 and result.stderr.strip()):
        raise RecordError(
            f"probe {probe.name} on {target.id}: journalctl failed (exit {result.exit_status}):"
            f" {result.stderr.strip()[:200]}"
        )
    entries, _ = remote.parse_journal(result.stdout)
    patterns = logs.compile_patterns(probe)
    out = []
    for line in entries:
        stamp = timestamps.parse(line, zone=zone, latest=end)
        if stamp is None or not start <= stamp <= end:
            continue
        if all_lines or any(pattern.search(line) for pattern in patterns):
            out.append(
                recordings.LogLine(
                    time=stamp, target=ids.TargetId(target.id), source=probe.name, line=line
                )
            )
    note = None
    if result.truncated:
        note = (
            f"{probe.name} on {target.id}: the journal of the range is larger than one read "
            "(1 MiB); only its newest part was recorded: record shorter ranges"
        )
    return out, note


def _targets(config: models.RollsafeConfig, wanted: Sequence[str] | None) -> list[models.Target]:
    if wanted is None:
        return list(config.targets)
    by_id = {target.id: target for target in config.targets}
    missing = [t for t in wanted if t not in by_id]
    if missing:
        raise RecordError(
            f"unknown target {missing[0]!r} (expected one of: {', '.join(by_id) or 'none'})"
        )
    return [by_id[t] for t in wanted]
