"""Builds rollsafe's labelled judgment corpus: recordings of upgrades, healthy and failed.

    .venv/bin/python corpus/build.py --write          # rewrite the committed recordings
    .venv/bin/python corpus/build.py --check          # exit 1 if a committed file is stale
    .venv/bin/python corpus/build.py --out DIR        # the whole corpus, real data included

Each recording is a host (or a host and an untouched peer) watched the way
``corpus/rollsafe.yaml`` configures a fleet: a health check every 10 s; the service's own
request error ratio and p99 latency from Prometheus every 30 s; CPU and memory every minute;
application, kernel and system logs as raw lines; a data check every 5 minutes on databases.
Every recording starts an hour before its upgrade (the reference period of baseline and
regression rules) and carries labels: which target is faulty from when, and the *family*
of the fault or of the healthy disturbance (``meta.family``), and the half it belongs to.

Three kinds of recordings:

* **synthetic**: behaviour drawn from seeded generators (latency jitter, slow outliers, rare
  5xx, Poisson error lines, CPU and memory wander) plus what the incident or the healthy
  disturbance does. Committed compressed in ``corpus/recordings/``.
* **quoted**: synthetic signals, but the kernel and systemd lines of the incident are real
  ones quoted from public bug reports (``corpus/quoted.py`` cites each). Committed too.
* **shared-data**: built at backtest time from the real logs (Loghub) and metrics (NAB) in
  ``../shared/data`` (never copied into the repository): the build reads them and writes
  the recordings into ``--out``. Without that directory they are skipped, with the reason.

The half of a recording is fixed by a rule stated before any tuning: within each family, in
name order, the 1st, 3rd, 5th... recording is in the **design** half and the 2nd, 4th...
in the **held-out** half. Presets may be tuned on the design half only. Recordings added
after the held-out half had been looked at (memory trends of every shape, healthy memory
growth that levels off: issue #15's leak work) form a third half, **held-out-2**, fixed by
name, outside that rule (so the first two halves do not move), and never tuned on. A fourth
half, **held-out-3**, was written after the judge of round 5 had been designed, to measure
the shipped presets on recordings nobody had seen: other magnitudes, timings, targets and
wordings than the first three (``held_out_3_*``); it takes no position either, its
generators come after the older ones and draw from their own seeded generators, and no
preset is tuned on it. A fifth half, **held-out-4**, was written during round 5 while rules
were being changed in response to held-out-3, and before those changes (``held_out_4_*``):
the same rules (no position, generators after the older ones with their own seeded draws,
never tuned on); some of its upgrades carry both marks a ``rollsafe upgrade`` run writes
(``upgrade_started`` before the driver is called, ``upgrade`` after; ``Host.started``).
A sixth half, **held-out-5**, lives in ``corpus/held_out_5.py``: written in round 6 by a
helper that changed no rule, from what a fleet meets; the same rules (no position, draws of
its own), never tuned on. A seventh, **held-out-6** (``corpus/held_out_6.py``), was written
the same way in round 7, while others changed rules without seeing it, an eighth,
**held-out-7** (``corpus/held_out_7.py``), in round 8, a ninth, **held-out-8**
(``corpus/held_out_8.py``), in round 9, a tenth, **held-out-9**
(``corpus/held_out_9.py``), in round 10, an eleventh, **held-out-10**
(``corpus/held_out_10.py``), in round 11, and a twelfth, **held-out-11**
(``corpus/held_out_11.py``), in round 12, whose web hosts also carry ``http-requests``, and a
thirteenth, **held-out-12** (``corpus/held_out_12.py``), in round 13: fleets of web hosts under
the same traffic, days of history before the upgrade, faults that begin hours late.

The generator describes behaviour, never decisions: it knows nothing of the presets'
thresholds. Everything is deterministic (one ``random.Random`` seeded by the recording's
name), and gzip output has a fixed mtime, so a rebuild gives the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import gzip
import io
import json
import math
import os
import random
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import quoted  # noqa: E402  (a sibling module of this script)

# corpus/held_out_5.py, held_out_6.py and held_out_7.py describe their recordings with this
# module's model and import it as ``build``: when this file runs as a script (``__main__``) or
# is loaded under another name (the tests), that import must find this module, not load a
# second copy.
sys.modules.setdefault("build", sys.modules[__name__])

from rollsafe.backtest import recordings  # noqa: E402
from rollsafe.domain import alerts, ids, observations  # noqa: E402

RECORDINGS = HERE / "recordings"
MANIFEST = HERE / "manifest.json"
START = 1_700_000_000.0  # 2023-11-14T22:13:20Z
MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
HEALTH_EVERY = 10.0
PROM_EVERY = 30.0
METRICS_EVERY = 60.0
DATA_EVERY = 300.0
UP = HOUR  # every recording upgrades one hour in, unless it says otherwise
Curve = Callable[[float], float]
Window = tuple[float, float]

HEALTH_SOURCE = {"web": "health", "db": "db-port", "batch": "runner"}
APP_SOURCE = {"web": "app-log", "batch": "job-log"}
KERNEL_SOURCE = "kernel-log"  # every kernel log probe follows the same file
SYSLOG_SOURCE = "syslog"
PROMETHEUS_DOWN = "cannot reach prometheus at prometheus.internal:9090: connection refused"


def shared_data_dir() -> Path | None:
    """Where ``../shared/data`` is (``ROLLSAFE_SHARED_DATA`` overrides), or None."""
    override = os.environ.get("ROLLSAFE_SHARED_DATA")
    candidates = [Path(override)] if override else []
    candidates += [ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data"]
    for candidate in candidates:
        if (candidate / "metrics").is_dir() and (candidate / "logs").is_dir():
            return candidate
    return None


# --------------------------------------------------------------------------- curves


def const(value: float) -> Curve:
    return lambda t: value


def after(base: Curve, at: float, changed: Curve) -> Curve:
    """``base`` until ``at``, ``changed`` from then on."""
    return lambda t: changed(t) if t >= at else base(t)


def bumped(base: Curve, windows: Iterable[tuple[float, float, float]]) -> Curve:
    """``base`` with ``value`` instead inside each ``(start, end, value)`` window."""
    listed = list(windows)

    def curve(t: float) -> float:
        for start, end, value in listed:
            if start <= t < end:
                return value
        return base(t)

    return curve


def scaled(base: Curve, factor: Curve) -> Curve:
    return lambda t: base(t) * factor(t)


def ramp(at: float, length: float, start: float, end: float) -> Curve:
    """``start`` before ``at``, then linearly to ``end`` over ``length`` seconds."""
    return lambda t: start if t < at else start + (end - start) * min(1.0, (t - at) / length)


def daily(mean: float, amplitude: float, *, phase: float = 0.0) -> Curve:
    return lambda t: mean + amplitude * math.sin(2 * math.pi * (t / DAY) + phase)


# --------------------------------------------------------------------------- model


@dataclasses.dataclass
class Host:
    """How one target behaves over the recording (offsets in seconds from its start)."""

    target: str
    role: str = "web"  # web | db | batch
    upgrades: list[float] = dataclasses.field(default_factory=lambda: [UP])
    down: list[Window] = dataclasses.field(default_factory=list)  # checks refused
    latency: Curve = dataclasses.field(default_factory=lambda: const(0.04))  # health median
    slow: list[tuple[float, float]] = dataclasses.field(default_factory=list)  # (at, seconds)
    health_5xx: Curve = dataclasses.field(default_factory=lambda: const(0.0))
    error_ratio: Curve = dataclasses.field(default_factory=lambda: const(0.003))  # requests
    p99: Curve = dataclasses.field(default_factory=lambda: const(0.22))  # seconds
    traffic: Curve = dataclasses.field(default_factory=lambda: const(40.0))  # requests/s
    cpu: Curve = dataclasses.field(default_factory=lambda: const(25.0))
    cpu_noise: float = 4.0
    memory: Curve = dataclasses.field(default_factory=lambda: const(45.0))
    errors_per_minute: Curve = dataclasses.field(default_factory=lambda: const(0.05))
    noise_per_minute: float = 0.2  # INFO/WARN lines that must not count
    log_style: str = "app"  # app | job
    app_lines: list[tuple[float, str]] = dataclasses.field(default_factory=list)  # raw
    kernel: list[tuple[float, str]] = dataclasses.field(default_factory=list)  # messages
    syslog: list[tuple[float, str]] = dataclasses.field(default_factory=list)  # raw lines
    data_bad_from: float | None = None
    gaps: dict[str, list[Window]] = dataclasses.field(default_factory=dict)
    alerts: list[tuple[float, str]] = dataclasses.field(default_factory=list)
    query_latency: Curve = dataclasses.field(default_factory=lambda: const(0.012))  # db
    # ``upgrade_started`` marks: `rollsafe upgrade` stores one before it calls the driver
    # (the ``upgrade`` mark comes after); an external tool + `rollsafe mark upgrade` gives none.
    started: list[float] = dataclasses.field(default_factory=list)
    # How often the health check and the CPU/memory exporter were sampled (a prober or an
    # exporter configured otherwise than the fleet's default, or a loaded one).
    health_every: float = HEALTH_EVERY
    metrics_every: float = METRICS_EVERY
    # When the health check's first probe ran (a recording with a day of history before its
    # upgrade keeps the 30 s Prometheus series for the whole day, its checks only for the
    # last hours: held-out-12); the default is every older recording's.
    health_start: float = 3.0


@dataclasses.dataclass
class Scenario:
    name: str
    family: str
    description: str
    hosts: list[Host]
    duration: float = 2 * HOUR
    faults: list[recordings.Fault] = dataclasses.field(default_factory=list)
    origin: str = "synthetic"  # synthetic | quoted | shared-data
    sources: list[str] = dataclasses.field(default_factory=list)  # real data used, cited
    start: float = START
    half: str | None = None  # a fixed half outside the positional rule (``held-out-2``)

    @property
    def healthy(self) -> bool:
        return not self.faults


def fault(target: str, at: float, kind: str) -> recordings.Fault:
    return recordings.Fault(ids.TargetId(target), at, kind)


# --------------------------------------------------------------------------- emitting


def render(scenario: Scenario, half: str) -> str:
    """The scenario as recording text (JSON Lines)."""
    rng = random.Random(scenario.name)
    records: list[tuple[float, int, str, Any]] = []
    followed: list[tuple[str, str]] = []
    for host in scenario.hosts:
        records.extend(_host_records(scenario, host, rng))
        if host.role in APP_SOURCE:
            followed.append((host.target, APP_SOURCE[host.role]))
        followed.append((host.target, KERNEL_SOURCE))
        followed.append((host.target, SYSLOG_SOURCE))
    records.sort(key=lambda item: (item[0], item[1], item[2]))
    out = io.StringIO()
    writer = recordings.Writer(out)
    origin = scenario.start
    writer.header(
        start=origin,
        end=origin + scenario.duration,
        name=scenario.name,
        description=scenario.description,
        faults=[dataclasses.replace(f, start=origin + f.start) for f in scenario.faults],
        logs=followed,
        meta={
            "family": scenario.family,
            "half": half,
            "origin": scenario.origin,
            "generated_by": "corpus/build.py",
            **({"sources": scenario.sources} if scenario.sources else {}),
        },
    )
    for _, _, _, item in records:
        if isinstance(item, observations.Mark):
            writer.mark(item)
        elif isinstance(item, Series):
            writer.series(
                target=item.target,
                source=item.source,
                start=item.start,
                every=item.every,
                values=item.values,
                error=item.error,
            )
        elif isinstance(item, observations.Observation):
            writer.observation(item)
        else:
            writer.log(item)
    return out.getvalue()


@dataclasses.dataclass(frozen=True)
class Series:
    target: str
    source: str
    start: float
    every: float
    values: list[float | None]
    error: str | None


def _host_records(
    scenario: Scenario, host: Host, rng: random.Random
) -> Iterator[tuple[float, int, str, Any]]:
    origin = scenario.start
    target = ids.TargetId(host.target)
    for at in host.upgrades:
        yield (at, 0, host.target, observations.Mark(origin + at, target, "upgrade"))
    for at in host.started:
        yield (at, 0, host.target, observations.Mark(origin + at, target, "upgrade_started"))
    for obs in _health(scenario, host, rng):
        yield (obs.time - origin, 1, host.target, obs)
    for series in _metrics(scenario, host, rng):
        yield (series.start - origin, 1, host.target, series)
    for obs in _data_checks(scenario, host):
        yield (obs.time - origin, 1, host.target, obs)
    for obs in _alerts(scenario, host):
        yield (obs.time - origin, 1, host.target, obs)
    for line in _app_log(scenario, host, rng):
        yield (line.time - origin, 2, host.target, line)
    for line in _system_logs(scenario, host):
        yield (line.time - origin, 2, host.target, line)


def _in(windows: Iterable[Window], t: float) -> bool:
    return any(start <= t < end for start, end in windows)


def _health(
    scenario: Scenario, host: Host, rng: random.Random
) -> Iterator[observations.Observation]:
    source = HEALTH_SOURCE[host.role]
    target = ids.TargetId(host.target)
    t = host.health_start
    while t < scenario.duration:
        time = scenario.start + t
        if _in(host.gaps.get(source, []), t):
            yield observations.Observation(
                time, target, source, error=f"cannot resolve {host.target}.internal: timeout"
            )
        elif _in(host.down, t):
            yield observations.Observation(
                time,
                target,
                source,
                value=0.0,
                latency_s=0.0004,
                text="connect failed: Connection refused",
            )
        else:
            median = host.latency(t) if host.role != "db" else 0.0008
            latency = median * math.exp(rng.gauss(0.0, 0.25))
            if rng.random() < 0.004:
                latency *= rng.uniform(4.0, 12.0)  # a GC pause, a cold cache line
            for at, seconds in host.slow:
                if at <= t < at + host.health_every:
                    latency = seconds
            if host.role == "db":
                yield observations.Observation(
                    time, target, source, value=1.0, latency_s=round(latency, 5)
                )
            elif rng.random() < host.health_5xx(t):
                status = rng.choice((500, 502, 503))
                yield observations.Observation(
                    time,
                    target,
                    source,
                    value=0.0,
                    status=status,
                    latency_s=round(latency, 3),
                    text=f"unexpected status {status}",
                )
            else:
                yield observations.Observation(
                    time, target, source, value=1.0, status=200, latency_s=round(latency, 3)
                )
        t += host.health_every


def _metrics(scenario: Scenario, host: Host, rng: random.Random) -> Iterator[Series]:
    origin = scenario.start
    series: dict[str, list[float | None]] = {"cpu": [], "memory": []}
    first = 11.0
    drift = 0.0
    t = first
    while t < scenario.duration:
        drift = 0.9 * drift + rng.gauss(0.0, 0.6)  # slow wander, not white noise
        for source, value in (
            ("cpu", host.cpu(t) + rng.gauss(0.0, host.cpu_noise)),
            ("memory", host.memory(t) + drift),
        ):
            gap = _in(host.gaps.get(source, []), t) or _in(host.gaps.get("prometheus", []), t)
            series[source].append(None if gap else round(min(100.0, max(0.0, value)), 1))
        t += host.metrics_every
    for source, values in series.items():
        error = PROMETHEUS_DOWN if None in values else None
        yield Series(host.target, source, origin + first, host.metrics_every, values, error)
    if host.role == "batch":
        return
    fast: dict[str, list[float | None]] = {}
    names = ("http-errors", "http-p99") if host.role == "web" else ("query-p99",)
    for name in names:
        fast[name] = []
    t = first + 4.0
    while t < scenario.duration:
        gap = _in(host.gaps.get("prometheus", []), t)
        if host.role == "web":
            # A ratio over a 1-minute rate: binomial noise from the traffic actually served.
            served = max(1.0, host.traffic(t) * 60.0)
            p = min(1.0, max(0.0, host.error_ratio(t)))
            failed = max(0.0, rng.gauss(served * p, math.sqrt(served * p * (1 - p)) + 0.5))
            ratio = min(1.0, failed / served)
            p99 = host.p99(t) * math.exp(rng.gauss(0.0, 0.12))
            fast["http-errors"].append(None if gap else round(ratio, 5))
            fast["http-p99"].append(None if gap else round(p99, 4))
        else:
            q = host.query_latency(t) * math.exp(rng.gauss(0.0, 0.15))
            fast["query-p99"].append(None if gap else round(q, 5))
        t += PROM_EVERY
    for source, values in fast.items():
        error = PROMETHEUS_DOWN if None in values else None
        yield Series(host.target, source, origin + first + 4.0, PROM_EVERY, values, error)
    if host.role == "web" and scenario.half in REQUEST_RATE_HALVES:
        yield _request_rate(scenario, host, first + 4.0)


# Halves whose web hosts also carry ``http-requests`` (the probe came in round 12, with
# held-out-11; older recordings keep their bytes, so their draws are never moved).
REQUEST_RATE_HALVES = frozenset({"held-out-11", "held-out-12"})


def _request_rate(scenario: Scenario, host: Host, first: float) -> Series:
    """``http-requests``: requests per second over 1 minute, every 30 s (what
    ``sum(rate(http_requests_total[1m]))`` returns), counting noise on the traffic actually
    served; drawn from a generator of its own, so the other series keep their draws."""
    rng = random.Random(f"{scenario.name}/{host.target}/http-requests")
    values: list[float | None] = []
    t = first
    while t < scenario.duration:
        counted = max(0.0, host.traffic(t)) * 60.0
        served = max(0.0, rng.gauss(counted, math.sqrt(counted) + 0.5))
        gap = _in(host.gaps.get("prometheus", []), t)
        values.append(None if gap else round(served / 60.0, 3))
        t += PROM_EVERY
    error = PROMETHEUS_DOWN if None in values else None
    return Series(host.target, "http-requests", scenario.start + first, PROM_EVERY, values, error)


def _data_checks(scenario: Scenario, host: Host) -> Iterator[observations.Observation]:
    if host.role != "db":
        return
    target = ids.TargetId(host.target)
    t = 97.0
    while t < scenario.duration:
        bad = host.data_bad_from is not None and t >= host.data_bad_from
        yield observations.Observation(
            scenario.start + t,
            target,
            "data-check",
            value=0.0 if bad else 1.0,
            status=1 if bad else 0,
            latency_s=1.2,
            text="orders: 182,114 rows on the primary, 181,960 on the replica" if bad else None,
        )
        t += DATA_EVERY


def _alerts(scenario: Scenario, host: Host) -> Iterator[observations.Observation]:
    target = ids.TargetId(host.target)
    details = alerts.AlertDetails(
        identity=f"{host.target}-latency-p99",
        name="HighLatencyP99",
        severity="critical",
        labels={"alertname": "HighLatencyP99", "instance": f"{host.target}:9100"},
        summary="p99 latency above 1s for 5m",
    )
    for at, state in host.alerts:
        firing = state == "firing"
        yield observations.Observation(
            scenario.start + at,
            target,
            "alertmanager",
            value=1.0 if firing else 0.0,
            alert_state=observations.AlertState(state),
            text=details.to_text(),
        )


_APP_ERRORS = (
    "upstream timeout talking to payments after 5000 ms",
    "request failed: ConnectionResetError(104, 'Connection reset by peer')",
    "could not render template 'cart/summary.html': missing key 'currency'",
    "retrying order export, attempt 3 of 5: HTTP 503 from warehouse",
    "session store unavailable, serving without session",
)
_APP_NOISE = (
    "INFO [main] app.metrics: served 1204 requests in the last minute",
    "WARN [worker-2] app.cache: cache miss ratio 0.31 above 0.25",
    "INFO [worker-1] app.auth: token refreshed for client billing",
    "WARN [worker-3] app.client: payments answered slowly, status: ERROR budget at 80%",
)
_JOB_ERRORS = (
    "task {a}{b} failed: input file s3://exports/day-{a}.csv has 2 malformed rows",
    "task {a}{b} failed: lock on table staging.orders held by another run",
    "retry budget exhausted for task {a}{b}: remote closed connection",
)
_JOB_NOISE = (
    "INFO [scheduler] jobs.runner: picked task {a}{b} (priority 3)",
    "INFO [TaskRunner-{a}] jobs.export: wrote {a}{b}00 rows",
    "WARN [TaskRunner-{a}] jobs.export: slow partition {b}, 41 s",
)
_SYSLOG_NOISE = (
    "CRON[{p}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "systemd[1]: Started Session {p} of user deploy.",
    "sshd[{p}]: Accepted publickey for deploy from 10.0.9.{a} port 5{p} ssh2",
    "systemd[1]: logrotate.service: Succeeded.",
    'rsyslogd: [origin software="rsyslogd"] rsyslogd was HUPed',
)


def _stamp(scenario: Scenario, t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(scenario.start + t, tz=dt.UTC)


def _app_line(scenario: Scenario, style: str, t: float, message: str, *, error: bool) -> str:
    when = _stamp(scenario, t)
    head = f"{when:%Y-%m-%d %H:%M:%S},{int(when.microsecond / 1000):03d}"
    if error:
        where = "[TaskRunner-2] jobs.export" if style == "job" else "[worker-1] app.views"
        return f"{head} ERROR {where}: {message}"
    return f"{head} {message}"


def _poisson(rate: Curve, duration: float, rng: random.Random) -> list[float]:
    """Event times of a Poisson process whose rate (per minute) follows ``rate`` (thinning)."""
    step = max(MINUTE, duration / 2000.0)
    peak = max(rate(k * step) for k in range(int(duration / step) + 1))
    if peak <= 0:
        return []
    times = []
    t = 0.0
    while True:
        t += rng.expovariate(peak / MINUTE)
        if t >= duration:
            return times
        if rng.random() < rate(t) / peak:
            times.append(t)


def _app_log(scenario: Scenario, host: Host, rng: random.Random) -> Iterator[recordings.LogLine]:
    source = APP_SOURCE.get(host.role)
    if source is None:
        return
    target = ids.TargetId(host.target)
    errors_pool, noise_pool = (
        (_JOB_ERRORS, _JOB_NOISE) if host.log_style == "job" else (_APP_ERRORS, _APP_NOISE)
    )
    lines: list[tuple[float, str]] = []
    for t in _poisson(host.errors_per_minute, scenario.duration, rng):
        message = rng.choice(errors_pool).format(a=rng.randint(1, 9), b=rng.randint(10, 99))
        lines.append((t, _app_line(scenario, host.log_style, t, message, error=True)))
    for t in _poisson(const(host.noise_per_minute), scenario.duration, rng):
        message = rng.choice(noise_pool).format(a=rng.randint(1, 9), b=rng.randint(10, 99))
        lines.append((t, _app_line(scenario, host.log_style, t, message, error=False)))
    for t, text in host.app_lines:  # "@raw " lines are real ones, kept as they were
        raw = text.startswith("@raw ")
        line = text[5:] if raw else _app_line(scenario, host.log_style, t, text, error=False)
        lines.append((t, line))
    for t, text in sorted(lines, key=lambda item: item[0]):
        yield recordings.LogLine(scenario.start + round(t, 3), target, source, text)


def _system_logs(scenario: Scenario, host: Host) -> Iterator[recordings.LogLine]:
    target = ids.TargetId(host.target)
    rng = random.Random(f"{scenario.name}/{host.target}/syslog")
    for t, message in sorted(host.kernel, key=lambda item: item[0]):
        uptime = 86400.0 * 12 + t
        text = (
            f"{_stamp(scenario, t):%b %d %H:%M:%S} {host.target} kernel: [{uptime:12.6f}] {message}"
        )
        if message.startswith("@raw "):  # a line in another syslog format (RFC 3339 stamps)
            text = message[5:]
        yield recordings.LogLine(scenario.start + round(t, 3), target, KERNEL_SOURCE, text)
    noise = [
        (t, rng.choice(_SYSLOG_NOISE).format(p=rng.randint(1000, 9999), a=rng.randint(2, 250)))
        for t in _poisson(const(0.3), scenario.duration, rng)
    ]
    for t, message in sorted([*noise, *host.syslog], key=lambda item: item[0]):
        if message.startswith("@raw "):
            text = message[5:]
        else:
            text = f"{_stamp(scenario, t):%b %d %H:%M:%S} {host.target} {message}"
        yield recordings.LogLine(scenario.start + round(t, 3), target, SYSLOG_SOURCE, text)


# --------------------------------------------------------------------------- events


def kernel_event(
    at: float, lines: Iterable[str], *, spread: float = 0.004
) -> list[tuple[float, str]]:
    return [(at + i * spread, line) for i, line in enumerate(lines)]


def quoted_event(at: float, key: str, n: int = 0) -> list[tuple[float, str]]:
    """The quoted event ``key`` at ``at``; its ``n``-th repetition has its pids renumbered."""
    return kernel_event(at, quoted.EVENTS[key].repeated(n))


def alternating(crashes: Iterable[float], even: str, odd: str) -> list[tuple[float, str]]:
    """A crash loop quoting two real events in turn (``even`` first), each repeat numbered."""
    return [
        line
        for n, t in enumerate(crashes)
        for line in quoted_event(t, even if n % 2 == 0 else odd, n // 2)
    ]


def repeated(key: str, times: Iterable[float]) -> list[tuple[float, str]]:
    """The quoted event ``key`` at each time, its pids moved as a restarted process's are."""
    return [line for n, t in enumerate(times) for line in quoted_event(t, key, n)]


def stretched(
    lines: list[tuple[float, str]], start: int, count: int, length: float
) -> list[tuple[float, str]]:
    """``count`` real lines from the ``start``-th, in their order and relative spacing, over
    ``length`` seconds, as raw lines (Linux_2k spans weeks: a window of hours holds a handful)."""
    part = lines[start : start + count]
    first, last = part[0][0], part[-1][0]
    span = (last - first) or 1.0
    return [((t - first) / span * length, "@raw " + line) for t, line in part]


def kernel_of(raw: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The kernel's own lines among raw syslog lines, as the kernel log holds them."""
    return [(t, line[5:].split("kernel: ", 1)[1]) for t, line in raw if " kernel: " in line]


class Half:
    """What a later half's own module describes its scenarios with, bound to the half's name
    (held-out-5, held-out-6 ...): its irregular times and random draws come from generators
    of its own (``<half>/<seed>``), so adding a half moves no byte of the others."""

    def __init__(self, name: str) -> None:
        self.name = name

    def times(self, seed: str, start: float, end: float, low: float, high: float) -> list[float]:
        return _irregular(seed, start, end, low, high, half=self.name)

    def rng(self, seed: str) -> random.Random:
        return random.Random(f"{self.name}/{seed}")

    def add(
        self,
        out: list[Scenario],
        name: str,
        family: str,
        description: str,
        hosts: list[Host],
        **kw: Any,
    ) -> None:
        out.append(Scenario(name, family, description, hosts, half=self.name, **kw))

    def fault_adder(self, out: list[Scenario]) -> Callable[..., None]:
        """``add(name, family, description, hosts, at, kind=..., **scenario)``: a fault on the
        first host, labelled at ``at`` (when it first shows), appended to ``out``."""

        def add(
            name: str, family: str, description: str, hosts: list[Host], at: float, **kw: Any
        ) -> None:
            kind = kw.pop("kind")
            faults = [fault(hosts[0].target, at, kind)]
            self.add(out, name, family, description, hosts, faults=faults, **kw)

        return add

    def real_adder(self, out: list[Scenario]) -> Callable[[Scenario], None]:
        """``add(scenario)``: a scenario on ``../shared/data``, of this half, put in ``out``."""

        def add(scenario: Scenario) -> None:
            scenario.half = self.name
            scenario.origin = "shared-data"
            out.append(scenario)

        return add


def quoted_unit(at: float, key: str) -> list[tuple[float, str]]:
    return [
        (at + i * 0.01, f"systemd[1]: {line}") for i, line in enumerate(quoted.EVENTS[key].lines)
    ]


def quoted_units(key: str, times: Iterable[float]) -> list[tuple[float, str]]:
    """The quoted systemd event ``key`` (``systemd[1]: `` lines) at each time, as it is."""
    return [line for t in times for line in quoted_unit(t, key)]


def quoted_postgres(at: float, key: str, n: int = 0, *, pid: int) -> list[tuple[float, str]]:
    """A quoted PostgreSQL event as the postmaster (``pid``) logs it to syslog, its ``n``-th
    repetition's pids moved."""
    lines = quoted.EVENTS[key].repeated(n)
    return [(at + i * 0.01, f"postgres[{pid}]: {line}") for i, line in enumerate(lines)]


def cites(*keys: str) -> list[str]:
    return sorted({f"{quoted.EVENTS[k].source} (event {k})" for k in keys})


def oom_synthetic(at: float, *, process: str, pid: int, style: str) -> list[tuple[float, str]]:
    """One OOM kill in one of several kernel wordings (1 to 3 matching lines)."""
    if style == "old-lower":  # 2.6-era wording, lower-case "kill"
        return kernel_event(
            at,
            (
                f"Out of memory: kill process {pid} ({process}) score 911 or a child",
                f"Killed process {pid} ({process}) vsz:9123456kB, anon-rss:7654321kB, file-rss:0kB",
            ),
        )
    if style == "cgroup-v2":
        return kernel_event(
            at,
            (
                f"{process} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, "
                "oom_score_adj=0",
                "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
                f"oom_memcg=/system.slice/app.service,task_memcg=/system.slice/app.service,"
                f"task={process},pid={pid},uid=1001",
                f"Memory cgroup out of memory: Killed process {pid} ({process}) "
                "total-vm:6123456kB, anon-rss:4194304kB, file-rss:0kB, shmem-rss:0kB, UID:1001 "
                "pgtables:9000kB oom_score_adj:0",
            ),
        )
    if style == "single":  # only the kill line reached the log (rate-limited printk)
        return kernel_event(
            at,
            (
                f"Out of memory: Killed process {pid} ({process}) total-vm:9123456kB, "
                "anon-rss:7654321kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:16000kB "
                "oom_score_adj:0",
            ),
        )
    return kernel_event(  # global OOM on a 5.x kernel
        at,
        (
            f"{process} invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, "
            "oom_score_adj=0",
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
            f"global_oom,task_memcg=/system.slice/app.service,task={process},pid={pid},uid=1001",
            f"Out of memory: Killed process {pid} ({process}) total-vm:9123456kB, "
            "anon-rss:7654321kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:16000kB "
            "oom_score_adj:0",
        ),
    )


BENIGN_KERNEL = [
    (900.0, "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies."),
    (2500.0, "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None"),
    (5300.0, 'audit: type=1400 audit(1700005300.120:88): apparmor="DENIED" operation="open"'),
]


def restart_at(at: float, *, refused: float = 15.0, service: str = "app") -> dict[str, Any]:
    """What a healthy restart for an upgrade looks like: a short refusal, slow first answers,
    a few shutdown errors, a CPU burst, systemd stop/start lines."""
    return {
        "down": [(at - refused, at)],
        "slow": [(at + 5, 2.1), (at + 15, 1.2), (at + 25, 0.6)],
        "app_lines": [
            (
                at - refused + 1,
                "ERROR [main] app.server: 3 requests aborted by shutdown",
            ),
            (
                at + 8,
                "ERROR [worker-1] app.db: pool not ready, retrying in 1s",
            ),
        ],
        "syslog": [
            (at - refused, f"systemd[1]: Stopping {service}.service - Application server..."),
            (
                at - refused + 0.5,
                f"systemd[1]: {service}.service: Main process exited, code=killed, status=15/TERM",
            ),
            (at - refused + 0.6, f"systemd[1]: {service}.service: Deactivated successfully."),
            (at - 1, f"systemd[1]: Started {service}.service - Application server."),
        ],
    }


def _flapping(seed: str, start: float, end: float) -> list[tuple[float, str]]:
    rng = random.Random(seed)
    out = []
    t = start
    firing = False
    while t < end:
        firing = not firing
        out.append((t, "firing" if firing else "resolved"))
        t += rng.uniform(120.0, 360.0)
    if firing:
        out.append((t, "resolved"))
    return out


def _bursty(base: float, peak: float, *, every: float, length: float) -> Curve:
    return lambda t: peak if (t % every) < length else base


# --------------------------------------------------------------------------- synthetic families


def metrics_errors() -> list[Scenario]:
    """Errors only the service's own metrics show: health stays 200."""
    out = []
    for name, base, bad, ramp_s, desc in (
        ("a", 0.002, 0.08, 0.0, "request error ratio 0.2% -> 8% at once"),
        ("b", 0.004, 0.05, 600.0, "request error ratio 0.4% -> 5% over 10 minutes"),
        ("c", 0.01, 0.12, 0.0, "pre-existing 1% errors -> 12%: one endpoint fails"),
        ("d", 0.0005, 0.03, 300.0, "0.05% -> 3% over 5 minutes on low traffic"),
    ):
        at = UP + 90
        traffic = 6.0 if name == "d" else 40.0
        out.append(
            Scenario(
                f"fault-metrics-errors-{name}",
                "metrics-error-ratio",
                f"after the upgrade web-1's {desc}; the health endpoint answers 200 throughout",
                [
                    Host(
                        "web-1",
                        traffic=const(traffic),
                        error_ratio=after(const(base), at, ramp(at, ramp_s or 1.0, base, bad)),
                    ),
                    Host("web-2", upgrades=[], error_ratio=const(base), traffic=const(traffic)),
                ],
                faults=[fault("web-1", at, "request errors")],
            )
        )
    return out


def metrics_latency() -> list[Scenario]:
    out = []
    for name, base, bad, desc in (
        ("a", 0.22, 0.9, "p99 0.22 s -> 0.9 s (a lock held across a remote call)"),
        ("b", 0.35, 1.4, "p99 0.35 s -> 1.4 s, health check still fast"),
        ("c", 0.15, 0.6, "p99 0.15 s -> 0.6 s under a daily traffic cycle"),
    ):
        at = UP + 120
        out.append(
            Scenario(
                f"fault-metrics-p99-{name}",
                "metrics-latency-quantile",
                f"after the upgrade web-1's {desc}; mean health latency unchanged",
                [
                    Host(
                        "web-1",
                        p99=after(const(base), at, const(bad)),
                        traffic=daily(40.0, 15.0) if name == "c" else const(40.0),
                    )
                ],
                faults=[fault("web-1", at, "p99 latency")],
            )
        )
    return out


def oom_repeated() -> list[Scenario]:
    out = []
    plans = (
        ("a", "web", "default", (240, 420, 650, 830, 1100, 1290)),
        ("b", "batch", "cgroup-v2", (300, 570, 860, 1120, 1420)),
        ("c", "web", "old-lower", (200, 500, 760, 1000, 1300)),
        ("d", "web", "single", (180, 420, 610, 900, 1140)),
        ("e", "db", "default", (400,)),
    )
    for name, role, style, times in plans:
        target = {"web": "web-1", "batch": "batch-1", "db": "db-1"}[role]
        kernel = [
            line
            for n, t in enumerate(times)
            for line in oom_synthetic(UP + t, process="app-worker", pid=7100 + n, style=style)
        ]
        # Each kill restarts the worker: one refused or slow check, fewer than `down` needs.
        down = [(UP + t + 1, UP + t + 9) for t in times] if role != "batch" else []
        out.append(
            Scenario(
                f"fault-oom-repeated-{name}",
                "oom-repeated",
                f"after the upgrade the OOM killer kills {role} workers every few minutes "
                f"({style} kernel wording, one or two lines per kill reach the log); each kill "
                "costs one failed check",
                [
                    Host(
                        target,
                        role,
                        down=down,
                        log_style="job" if role == "batch" else "app",
                        memory=after(const(70.0), UP + times[0], const(92.0)),
                        cpu=const(85.0) if role == "batch" else const(30.0),
                        kernel=[*BENIGN_KERNEL, *kernel],
                    )
                ],
                faults=[fault(target, UP + times[0], "oom kills")],
            )
        )
    return out


def oom_quoted() -> list[Scenario]:
    out = []
    for name, key, role, times in (
        ("a", "oom-3x-python2", "web", (200, 480, 700, 990)),
        ("b", "oom-memcg-v1-palo", "db", (300, 900)),
        ("c", "oom-memcg-5x-uwsgi", "web", (150, 400, 640, 910, 1200)),
        ("d", "oom-3x-java-invoked", "batch", (240, 540, 800, 1100, 1400)),
        ("e", "oom-memcg-v1-ltp", "batch", (200, 330, 620, 800, 1050)),
        ("f", "oom-4x-R", "web", (260, 600, 870)),
    ):
        target = {"web": "web-1", "batch": "batch-1", "db": "db-1"}[role]
        kernel = [line for n, t in enumerate(times) for line in quoted_event(UP + t, key, n)]
        down = [(UP + t + 1, UP + t + 9) for t in times] if role == "web" else []
        out.append(
            Scenario(
                f"fault-oom-quoted-{name}",
                "oom-repeated",
                f"repeated OOM kills after the upgrade of {target}, in the wording of a real "
                "kernel report (quoted)",
                [
                    Host(
                        target,
                        role,
                        down=down,
                        log_style="job" if role == "batch" else "app",
                        memory=after(const(65.0), UP + times[0], const(93.0)),
                        kernel=kernel,
                    ),
                    Host("web-2", upgrades=[]),
                ],
                faults=[fault(target, UP + times[0], "oom kills")],
                origin="quoted",
                sources=cites(key),
            )
        )
    return out


def slow_latency() -> list[Scenario]:
    out = []
    for name, base, factor, desc in (
        ("a", 0.04, 5.0, "40 ms -> 200 ms (a query per item)"),
        ("b", 0.06, 3.5, "60 ms -> 210 ms (a lost cache)"),
        ("c", 0.03, 8.0, "30 ms -> 240 ms (debug logging left on)"),
        ("d", 0.12, 3.0, "120 ms -> 360 ms on a slow service"),
    ):
        at = UP + 60
        out.append(
            Scenario(
                f"fault-latency-regression-{name}",
                "latency-regression",
                f"after the upgrade web-1 answers its checks {factor:g} times slower: {desc}; "
                "p99 follows, no errors",
                [
                    Host(
                        "web-1",
                        latency=after(const(base), at, const(base * factor)),
                        p99=after(const(0.22), at, const(0.22 * factor)),
                        cpu=after(const(25.0), at, const(38.0)),
                    )
                ],
                faults=[fault("web-1", at, "latency")],
            )
        )
    return out


def memory_leak() -> list[Scenario]:
    out = []
    for name, rate, role in (("a", 18.0, "web"), ("b", 9.0, "web"), ("c", 14.0, "batch")):
        target = "web-1" if role == "web" else "batch-1"
        out.append(
            Scenario(
                f"fault-memory-leak-{name}",
                "memory-leak",
                f"the new release on {target} leaks about {rate:g}% of memory an hour; nothing "
                "else shows until memory runs out",
                [
                    Host(
                        target,
                        role,
                        log_style="job" if role == "batch" else "app",
                        memory=lambda t, r=rate: 45.0 + max(0.0, t - UP) / HOUR * r,
                    )
                ],
                duration=5 * HOUR,
                faults=[fault(target, UP, "memory leak")],
            )
        )
    return out


HELD_OUT_2 = "held-out-2"  # recordings added after the first held-out half had been seen


def sawtooth(period: float, amplitude: float, *, phase: float = 0.0) -> Curve:
    """A garbage-collected heap: grows by ``amplitude`` over each ``period``, then drops."""
    return lambda t: amplitude * (((t + phase) / period) % 1.0)


def memory_trends() -> list[Scenario]:
    """Held-out-2 (synthetic): leaks of other shapes, and healthy memory growth that stops.

    Written before the trend rule existed, after ``fault-memory-leak-b`` (held-out) had been
    seen: they are a fresh test of whatever rule is designed next, so they sit in their own
    half (``held-out-2``), outside the positional rule, and no preset is tuned on them.
    """
    rng = random.Random("memory-trends")
    # Batch jobs every 35 to 50 minutes, each holding 10 more points of memory for 8 minutes.
    jobs: list[float] = []
    t = 600.0
    while t < 6 * HOUR:
        jobs.append(t)
        t += rng.uniform(35 * MINUTE, 50 * MINUTE)

    def leaky_jobs(t: float) -> float:
        running = sum(10.0 for at in jobs if at <= t < at + 8 * MINUTE)
        kept = sum(5.0 for at in jobs if at >= UP and at + 8 * MINUTE <= t)
        return 48.0 + running + kept

    gc_before = sawtooth(12 * MINUTE, 12.0)
    gc_retuned = sawtooth(25 * MINUTE, 22.0, phase=7 * MINUTE)
    return [
        Scenario(
            "fault-memory-leak-gc",
            "memory-leak",
            "a JVM on web-1: its heap saw-tooths by 12 points every 12 minutes (garbage "
            "collection); after the upgrade the floor after each collection rises about 6 "
            "points an hour (objects the new release never frees)",
            [
                Host(
                    "web-1",
                    memory=lambda t: (
                        40.0 + gc_before(t) + (6.0 * (t - UP) / HOUR if t >= UP else 0.0)
                    ),
                )
            ],
            duration=6 * HOUR,
            faults=[fault("web-1", UP, "memory leak")],
            half=HELD_OUT_2,
        ),
        Scenario(
            "fault-memory-leak-steps",
            "memory-leak",
            "batch-1 runs a job every 35 to 50 minutes that holds 10 more points of memory "
            "for 8 minutes; after the upgrade each job leaves 5 points behind (a stepwise leak)",
            [Host("batch-1", "batch", log_style="job", memory=leaky_jobs)],
            duration=6 * HOUR,
            faults=[fault("batch-1", UP, "memory leak")],
            half=HELD_OUT_2,
        ),
        Scenario(
            "fault-memory-leak-db",
            "memory-leak",
            "db-1 holds 70% of memory (its buffer pool); the upgraded server leaks about 4 "
            "points an hour on top of it",
            [
                Host(
                    "db-1",
                    "db",
                    memory=lambda t: 70.0 + (4.0 * (t - UP) / HOUR if t >= UP else 0.0),
                )
            ],
            duration=6 * HOUR,
            faults=[fault("db-1", UP, "memory leak")],
            half=HELD_OUT_2,
        ),
        Scenario(
            "healthy-cache-release",
            "cache-growth",
            "the new release of web-1 keeps a bigger in-memory cache: memory rises from 45% "
            "to 67% over the 40 minutes after the upgrade, then stays there",
            [Host("web-1", memory=ramp(UP, 40 * MINUTE, 45.0, 67.0))],
            duration=6 * HOUR,
            half=HELD_OUT_2,
        ),
        Scenario(
            "healthy-cache-warmup",
            "cache-growth",
            "web-1 restarts for its upgrade: memory drops from 55% to 28% and grows back as "
            "its caches warm, quickly at first, levelling off near 60% (time constant 50 min)",
            [
                Host(
                    "web-1",
                    **restart_at(UP),
                    memory=lambda t: (
                        55.0
                        if t < UP
                        else 28.0 + 32.0 * (1.0 - math.exp(-(t - UP) / (50 * MINUTE)))
                    ),
                )
            ],
            duration=6 * HOUR,
            half=HELD_OUT_2,
        ),
        Scenario(
            "healthy-gc-retuned",
            "gc-sawtooth",
            "a JVM on web-1 saw-tooths by 12 points every 12 minutes; the upgrade changes its "
            "collector settings: 22 points every 25 minutes from then on, no leak",
            [
                Host(
                    "web-1",
                    memory=lambda t: 40.0 + (gc_retuned(t) if t >= UP else gc_before(t)),
                )
            ],
            duration=6 * HOUR,
            half=HELD_OUT_2,
        ),
    ]


def memory_trends_real(nab: dict[str, Nab], cite_nab: Callable[[str], str]) -> list[Scenario]:
    """Held-out-2 (real NAB shapes): a slow leak and a leak riding a real daily cycle, and
    healthy daily and page-cache growth, whose slow wander is real load (see ``Nab.wander``)."""
    rds = nab["rds_cpu_utilization_cc0c53"]
    elb = nab["elb_request_count_8c0756"]
    disk = nab["ec2_disk_write_bytes_1ef3de"]
    slow_wander = rds.wander(1 * DAY, amplitude=3.0)
    daily_leak = elb.level(3 * DAY)
    daily_healthy = elb.level(5 * DAY)
    cache_wander = disk.wander(2 * DAY, amplitude=2.0)
    up_slow, up_daily, up_healthy, up_cache = 2 * HOUR, 4 * HOUR, 6 * HOUR, 3 * HOUR
    return [
        Scenario(
            "fault-memory-leak-slow-real",
            "memory-leak",
            "web-1's memory wanders with a real RDS instance's load (NAB, smoothed over an "
            "hour, about 3 points either way) around 50%; the upgrade leaks 3 points an hour",
            [
                Host(
                    "web-1",
                    upgrades=[up_slow],
                    memory=lambda t: (
                        50.0
                        + slow_wander(t)
                        + (3.0 * (t - up_slow) / HOUR if t >= up_slow else 0.0)
                    ),
                )
            ],
            duration=10 * HOUR,
            faults=[fault("web-1", up_slow, "memory leak")],
            origin="shared-data",
            sources=[cite_nab("rds_cpu_utilization_cc0c53")],
            half=HELD_OUT_2,
        ),
        Scenario(
            "fault-memory-leak-daily-real",
            "memory-leak",
            "web-1's memory follows a real ELB's daily traffic (NAB, day 3, 38% at its quiet "
            "hours to 56% at its busy ones); the upgrade adds a leak of 5 points an hour",
            [
                Host(
                    "web-1",
                    upgrades=[up_daily],
                    memory=lambda t: (
                        38.0
                        + 18.0 * daily_leak(t)
                        + (5.0 * (t - up_daily) / HOUR if t >= up_daily else 0.0)
                    ),
                )
            ],
            duration=12 * HOUR,
            faults=[fault("web-1", up_daily, "memory leak")],
            origin="shared-data",
            sources=[cite_nab("elb_request_count_8c0756")],
            half=HELD_OUT_2,
        ),
        Scenario(
            "healthy-memory-daily-real",
            "daily-cycle",
            "web-1's memory follows a real ELB's daily traffic (NAB, day 5, 38% at its quiet "
            "hours to 60% at its busy ones) for a day; healthy upgrade six hours in",
            [
                Host(
                    "web-1",
                    upgrades=[up_healthy],
                    memory=lambda t: 38.0 + 22.0 * daily_healthy(t),
                )
            ],
            duration=24 * HOUR,
            origin="shared-data",
            sources=[cite_nab("elb_request_count_8c0756")],
            half=HELD_OUT_2,
        ),
        Scenario(
            "healthy-page-cache-real",
            "page-cache",
            "batch-1's memory probe counts the page cache: it grows 6 points an hour from the "
            "start, through the upgrade, as jobs read their inputs, until it levels at 85%; "
            "the wander is a real EC2 disk's write load (NAB, smoothed, about 2 points)",
            [
                Host(
                    "batch-1",
                    "batch",
                    log_style="job",
                    upgrades=[up_cache],
                    memory=lambda t: min(85.0, 35.0 + 6.0 * t / HOUR) + cache_wander(t),
                )
            ],
            duration=10 * HOUR,
            origin="shared-data",
            sources=[cite_nab("ec2_disk_write_bytes_1ef3de")],
            half=HELD_OUT_2,
        ),
    ]


def outage_near_down_for() -> list[Scenario]:
    out = []
    for name, length, role in (
        ("a", 40.0, "web"),
        ("b", 50.0, "web"),
        ("c", 70.0, "db"),
        ("d", 35.0, "web"),
    ):
        target = "web-1" if role == "web" else "db-1"
        at = UP + 600
        out.append(
            Scenario(
                f"fault-outage-{name}",
                "outage-near-down-for",
                f"{target} stops answering {length:g} s, ten minutes after its upgrade (not at "
                "its restart), twice: a crash the supervisor restarts",
                [
                    Host(
                        target,
                        role,
                        down=[(at, at + length), (at + 1500, at + 1500 + length)],
                        app_lines=[
                            (
                                at - 0.5,
                                "FATAL [main] app: worker pool exhausted, exiting",
                            )
                        ],
                    ),
                    Host("web-2", upgrades=[]),
                ],
                faults=[fault(target, at, "outage")],
            )
        )
    return out


def crash_stays_down() -> list[Scenario]:
    out = []
    for name, role in (("a", "web"), ("b", "batch")):
        target = "web-1" if role == "web" else "batch-1"
        at = UP + 240
        out.append(
            Scenario(
                f"fault-crash-{name}",
                "crash",
                f"{target} crashes 4 minutes after its upgrade and stays down (restart loop)",
                [
                    Host(
                        target,
                        role,
                        log_style="job" if role == "batch" else "app",
                        down=[(at, 99 * HOUR)],
                        cpu=after(const(25.0), at, const(2.0)),
                        memory=after(const(45.0), at, const(12.0)),
                    )
                ],
                faults=[fault(target, at, "crash")],
            )
        )
    return out


def kernel_families() -> list[Scenario]:
    out = []
    plans: list[tuple[str, str, str, list[tuple[float, str]], list[str]]] = [
        # (family, name, target, kernel events, cited keys)
        (
            "kernel-panic",
            "a",
            "db-1",
            [
                *quoted_event(UP + 600, "panic-fatal-interrupt"),
                *quoted_event(UP + 3000, "panic-fatal-interrupt", 1),
            ],
            ["panic-fatal-interrupt"],
        ),
        (
            "kernel-panic",
            "b",
            "web-1",
            quoted_event(UP + 420, "panic-mips-interrupt"),
            ["panic-mips-interrupt"],
        ),
        (
            "kernel-panic",
            "c",
            "batch-1",
            quoted_event(UP + 300, "panic-kill-init"),
            ["panic-kill-init"],
        ),
        ("kernel-oops", "a", "web-1", quoted_event(UP + 500, "oops-x86-kdbus"), ["oops-x86-kdbus"]),
        ("kernel-oops", "b", "db-1", quoted_event(UP + 350, "oops-arm-817"), ["oops-arm-817"]),
        ("kernel-oops", "c", "batch-1", quoted_event(UP + 700, "oops-arm-17"), ["oops-arm-17"]),
        (
            "soft-lockup",
            "a",
            "web-1",
            [
                *quoted_event(UP + 400, "lockup-cc1plus"),
                *quoted_event(UP + 460, "lockup-cc1plus", 1),
            ],
            ["lockup-cc1plus"],
        ),
        (
            "soft-lockup",
            "b",
            "db-1",
            [*quoted_event(UP + 800, "lockup-chia"), *quoted_event(UP + 1900, "lockup-nmi-zfs")],
            ["lockup-chia", "lockup-nmi-zfs"],
        ),
        (
            "hung-task",
            "a",
            "db-1",
            [*quoted_event(UP + 500, "hung-kworker"), *quoted_event(UP + 620, "hung-kworker", 1)],
            ["hung-kworker"],
        ),
        (
            "hung-task",
            "b",
            "web-1",
            [
                *quoted_event(UP + 900, "hung-logrotate"),
                *quoted_event(UP + 1020, "hung-glusterfsd"),
            ],
            ["hung-logrotate", "hung-glusterfsd"],
        ),
    ]
    for family, name, target, kernel, keys in plans:
        role = {"web-1": "web", "db-1": "db", "batch-1": "batch"}[target]
        first = min(t for t, _ in kernel)
        # A panic takes the host down until it has rebooted; the others leave it up.
        down = [(first, first + 60)] if family == "kernel-panic" else []
        out.append(
            Scenario(
                f"fault-{family}-{name}",
                family,
                f"{target}'s new kernel: {family.replace('-', ' ')} after the upgrade "
                "(real kernel lines, quoted)",
                [
                    Host(
                        target,
                        role,
                        down=down,
                        log_style="job" if role == "batch" else "app",
                        kernel=[*BENIGN_KERNEL, *kernel],
                    )
                ],
                faults=[fault(target, first, family)],
                origin="quoted",
                sources=cites(*keys),
            )
        )
    return out


def segfault_loops() -> list[Scenario]:
    out = []
    for name, keys, target, every in (
        ("a", ("segv-alba-1", "segv-alba-2", "segv-alba-3"), "web-1", 12.0),
        ("b", ("segv-p4",), "batch-1", 240.0),
        ("c", ("segv-pamac",), "db-1", 90.0),
    ):
        role = {"web-1": "web", "db-1": "db", "batch-1": "batch"}[target]
        kernel = []
        t = UP + 200
        n = 0
        while t < UP + 2400:
            kernel.extend(quoted_event(t, keys[n % len(keys)], n // len(keys)))
            t += every
            n += 1
        out.append(
            Scenario(
                f"fault-segfault-loop-{name}",
                "segfault-loop",
                f"a process on {target} segfaults again and again after the upgrade (every "
                f"{every:g} s; real kernel lines, quoted); its supervisor restarts it",
                [Host(target, role, log_style="job" if role == "batch" else "app", kernel=kernel)],
                faults=[fault(target, UP + 200, "segfault loop")],
                origin="quoted",
                sources=cites(*keys),
            )
        )
    return out


def systemd_failures() -> list[Scenario]:
    out = []
    for name, key, target in (
        ("a", "systemd-miniflux", "web-1"),
        ("b", "systemd-owserver-limit", "db-1"),
        ("c", "systemd-namespace", "batch-1"),
    ):
        role = {"web-1": "web", "db-1": "db", "batch-1": "batch"}[target]
        syslog = [line for t in (UP + 150, UP + 400, UP + 700) for line in quoted_unit(t, key)]
        out.append(
            Scenario(
                f"fault-systemd-unit-{name}",
                "systemd-unit-failure",
                f"a unit on {target} (not the one the health check watches) fails again and "
                "again after the upgrade; real systemd lines, quoted",
                [Host(target, role, log_style="job" if role == "batch" else "app", syslog=syslog)],
                faults=[fault(target, UP + 150, "unit failed")],
                origin="quoted",
                sources=cites(key),
            )
        )
    return out


def data_mismatch() -> list[Scenario]:
    return [
        Scenario(
            f"fault-data-mismatch-{name}",
            "data-mismatch",
            "the database upgrade's migration drops rows: the data check fails from its "
            f"first run {when} the upgrade; everything else is healthy",
            [Host("db-1", "db", data_bad_from=UP + lag, memory=const(92.0))],
            faults=[fault("db-1", UP + lag, "data mismatch")],
        )
        for name, lag, when in (("a", 0.0, "after"), ("b", 1200.0, "20 minutes after"))
    ]


def healthy_synthetic() -> list[Scenario]:
    return [
        Scenario(
            "healthy-warmup-a",
            "warmup-restart",
            "rolling upgrade of web-1 then web-2: each restart refuses checks for 15 s, answers "
            "slowly for half a minute, logs shutdown errors and burns CPU while warming up",
            [
                Host("web-1", **restart_at(UP), cpu=bumped(const(25.0), [(UP, UP + 180, 85.0)])),
                Host(
                    "web-2",
                    upgrades=[UP + 600],
                    **restart_at(UP + 600),
                    cpu=bumped(const(25.0), [(UP + 600, UP + 780, 85.0)]),
                ),
            ],
        ),
        Scenario(
            "healthy-warmup-b",
            "warmup-restart",
            "a JVM service restarts for its upgrade: refused for 25 s, p99 and errors high for "
            "two minutes while caches fill, then normal",
            [
                Host(
                    "web-1",
                    **restart_at(UP, refused=25.0),
                    p99=bumped(const(0.25), [(UP, UP + 120, 1.6)]),
                    error_ratio=bumped(const(0.003), [(UP, UP + 60, 0.04)]),
                )
            ],
        ),
        Scenario(
            "healthy-warmup-c",
            "warmup-restart",
            "a database restarts for its upgrade: port refused 20 s, queries slow for a minute",
            [
                Host(
                    "db-1",
                    "db",
                    **{
                        k: v
                        for k, v in restart_at(UP, refused=20.0, service="postgresql").items()
                        if k != "app_lines"
                    },
                    query_latency=bumped(const(0.012), [(UP, UP + 60, 0.2)]),
                )
            ],
        ),
        Scenario(
            "healthy-cron-cpu-a",
            "cron-cpu",
            "an hourly cron job pins web-1's CPU for 14 minutes (before and after a healthy "
            "upgrade) and slows answers a little",
            [
                Host(
                    "web-1",
                    cpu=bumped(const(25.0), [(2800, 3640, 98.0), (6400, 7240, 98.0)]),
                    cpu_noise=1.0,
                    latency=bumped(const(0.04), [(2800, 3640, 0.07), (6400, 7240, 0.07)]),
                    p99=bumped(const(0.22), [(2800, 3640, 0.35), (6400, 7240, 0.35)]),
                )
            ],
        ),
        Scenario(
            "healthy-monitoring-gap-a",
            "monitoring-gap",
            "Prometheus is down for 25 minutes after web-1's upgrade and the health check "
            "cannot resolve the host for 6 minutes: probe errors, not failures",
            [
                Host(
                    "web-1",
                    gaps={"prometheus": [(UP + 120, UP + 1620)], "health": [(UP + 900, UP + 1260)]},
                )
            ],
        ),
        Scenario(
            "healthy-monitoring-gap-b",
            "monitoring-gap",
            "db-1's metrics stop for 40 minutes right at its upgrade (the exporter was "
            "upgraded too and restarts late)",
            [Host("db-1", "db", gaps={"prometheus": [(UP - 30, UP + 2400)]})],
        ),
        Scenario(
            "healthy-preexisting-errors-a",
            "preexisting-errors",
            "web-1 always fails 2% of requests and logs about 2 errors a minute, in bursts; "
            "the upgrade changes nothing",
            [
                Host(
                    "web-1",
                    error_ratio=const(0.02),
                    errors_per_minute=_bursty(2.0, 12.0, every=1500.0, length=120.0),
                    health_5xx=const(0.004),
                )
            ],
        ),
        Scenario(
            "healthy-noisy-syslog-a",
            "noisy-syslog",
            "web-1's syslog is busy with cron, ssh and benign kernel lines (SYN cookies, "
            "link flaps, apparmor denials); systemd restarts the unit for the upgrade",
            [
                Host(
                    "web-1",
                    **restart_at(UP),
                    kernel=[
                        *BENIGN_KERNEL,
                        *[
                            (
                                t,
                                BENIGN_KERNEL[0][1],
                            )
                            for t in range(600, 7000, 700)
                        ],
                    ],
                )
            ],
        ),
        Scenario(
            "healthy-traffic-growth-a",
            "traffic-growth",
            "a marketing push doubles web-1's traffic over the hour after its upgrade: p99 "
            "and CPU rise a little, the error ratio stays",
            [
                Host(
                    "web-1",
                    traffic=ramp(UP, HOUR, 40.0, 85.0),
                    p99=ramp(UP, HOUR, 0.22, 0.3),
                    cpu=ramp(UP, HOUR, 25.0, 48.0),
                )
            ],
        ),
        Scenario(
            "healthy-dependency-blip-a",
            "dependency-blip",
            "the payments dependency is unreachable for 90 s, 20 minutes after web-1's "
            "upgrade: errors and timeouts, then normal",
            [
                Host(
                    "web-1",
                    error_ratio=bumped(const(0.003), [(UP + 1200, UP + 1290, 0.09)]),
                    p99=bumped(const(0.22), [(UP + 1200, UP + 1290, 5.0)]),
                    errors_per_minute=bumped(const(0.05), [(UP + 1200, UP + 1290, 20.0)]),
                    health_5xx=bumped(const(0.0), [(UP + 1200, UP + 1290, 0.3)]),
                )
            ],
        ),
        Scenario(
            "healthy-dependency-blip-b",
            "dependency-blip",
            "DNS resolution flakes for 40 s right after batch-1's upgrade: the runner check "
            "fails twice, jobs log errors, then all is well",
            [
                Host(
                    "batch-1",
                    "batch",
                    log_style="job",
                    down=[(UP + 300, UP + 330)],
                    errors_per_minute=bumped(const(0.3), [(UP + 300, UP + 360, 8.0)]),
                )
            ],
        ),
        Scenario(
            "healthy-flapping-alert-a",
            "flapping-alert",
            "a critical latency alert flaps on web-1 for 50 minutes after a healthy upgrade: "
            "its threshold sits on the p99",
            [Host("web-1", alerts=_flapping("flap-a", UP + 300, UP + 3300))],
        ),
        Scenario(
            "healthy-flapping-alert-b",
            "flapping-alert",
            "the same alert flaps on db-1 during a healthy upgrade",
            [Host("db-1", "db", alerts=_flapping("flap-b", UP + 200, UP + 2600))],
        ),
        Scenario(
            "healthy-single-oom-a",
            "single-oom",
            "batch-1 upgrade: CPU pinned by jobs, memory up and down with them, one job killed "
            "by its cgroup's OOM killer, job errors in bursts",
            [
                Host(
                    "batch-1",
                    "batch",
                    log_style="job",
                    errors_per_minute=_bursty(0.5, 4.0, every=2100.0, length=240.0),
                    cpu=const(96.0),
                    cpu_noise=2.0,
                    memory=lambda t: 72.0 + 14.0 * math.sin(t / 900.0),
                    kernel=oom_synthetic(UP + 1500, process="python3", pid=8800, style="cgroup-v2"),
                )
            ],
        ),
        Scenario(
            "healthy-single-oom-b",
            "single-oom",
            "web-1: one oversized request is OOM-killed inside its worker an hour after a "
            "healthy upgrade; the worker restarts at once",
            [
                Host(
                    "web-1",
                    kernel=oom_synthetic(UP + 3000, process="gunicorn", pid=4411, style="default"),
                )
            ],
        ),
        Scenario(
            "healthy-restart-blip-a",
            "restart-blip",
            "web-1 is restarted by its config manager 30 minutes after the upgrade: refused "
            "for 20 s (shorter than down_for)",
            [Host("web-1", down=[(UP + 1800, UP + 1820)])],
        ),
        Scenario(
            "healthy-restart-blip-b",
            "restart-blip",
            "db-1 fails over its connection pooler: the port check refuses for 15 s, twice",
            [Host("db-1", "db", down=[(UP + 900, UP + 915), (UP + 2700, UP + 2715)])],
        ),
    ]


# --------------------------------------------------------------------------- shared data


@dataclasses.dataclass(frozen=True)
class Nab:
    """One NAB series: 5-minute points (seconds since its first point, value)."""

    name: str
    times: list[float]
    values: list[float]
    first: dt.datetime

    @classmethod
    def load(cls, path: Path) -> Nab:
        times: list[float] = []
        values: list[float] = []
        first: dt.datetime | None = None
        with path.open(encoding="utf-8") as stream:
            for row in csv.DictReader(stream):
                stamp = dt.datetime.fromisoformat(row["timestamp"]).replace(tzinfo=dt.UTC)
                first = first or stamp
                times.append((stamp - first).total_seconds())
                values.append(float(row["value"]))
        if first is None:
            raise ValueError(f"{path}: no data rows")
        return cls(path.name, times, values, first)

    def curve(self, offset: float, *, scale: float = 1.0, add: float = 0.0) -> Curve:
        """Linear interpolation of the series from ``offset`` seconds after its start."""
        times, values = self.times, self.values

        def at(t: float) -> float:
            x = offset + t
            i = min(max(0, int(x // 300)), len(times) - 2)
            while i > 0 and times[i] > x:
                i -= 1
            while i < len(times) - 2 and times[i + 1] < x:
                i += 1
            span = times[i + 1] - times[i] or 1.0
            w = min(1.0, max(0.0, (x - times[i]) / span))
            return add + scale * (values[i] * (1 - w) + values[i + 1] * w)

        return at

    def median(self) -> float:
        return sorted(self.values)[len(self.values) // 2]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def wander(self, offset: float, *, amplitude: float, smooth: float = HOUR) -> Curve:
        """The series' own ups and downs, as a centred wander of about ``amplitude``.

        A moving mean over ``smooth`` seconds (memory moves slowly, unlike CPU spikes), minus
        the series' median, scaled so that its 10%..90% spread is ``2 * amplitude``, clipped
        at twice that: the shape of real load over hours, not its units.
        """
        raw = self.curve(offset)
        middle = self.median()
        spread = max(1e-9, self.quantile(0.9) - self.quantile(0.1))
        points = [smooth * (k / 12.0 - 0.5) for k in range(13)]

        def at(t: float) -> float:
            mean = sum(raw(max(0.0, t + d)) for d in points) / len(points)
            x = 2.0 * amplitude * (mean - middle) / spread
            return max(-2.0 * amplitude, min(2.0 * amplitude, x))

        return at

    def level(self, offset: float, *, smooth: float = HOUR) -> Curve:
        """The series smoothed over ``smooth`` seconds, as 0 (its 10% quantile) to 1 (90%)."""
        raw = self.curve(offset)
        low, high = self.quantile(0.1), self.quantile(0.9)
        points = [smooth * (k / 12.0 - 0.5) for k in range(13)]

        def at(t: float) -> float:
            mean = sum(raw(max(0.0, t + d)) for d in points) / len(points)
            return (mean - low) / max(1e-9, high - low)

        return at


_APACHE_TIME = re.compile(r"^\[\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})\]")
_SYSLOG_TIME = re.compile(r"^(\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})")
_ISO_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}),(\d{3})")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}


def timed_lines(path: Path, pattern: re.Pattern[str], year: int | None) -> list[tuple[float, str]]:
    """(Unix seconds, line) of a real log; lines without a time take the previous line's."""
    out: list[tuple[float, str]] = []
    current: float | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        found = pattern.match(line)
        if found:
            parts = found.groups()
            if pattern is _ISO_TIME:
                stamp = dt.datetime(*map(int, parts[:6]), tzinfo=dt.UTC)
            else:
                chosen = int(parts[5]) if year is None else year
                stamp = dt.datetime(
                    chosen, _MONTHS[parts[0]], int(parts[1]), *map(int, parts[2:5]), tzinfo=dt.UTC
                )
            current = stamp.timestamp()
        if current is not None and line.strip():
            out.append((current, line))
    return out


def busiest_windows(lines: list[tuple[float, str]], length: float, count: int) -> list[float]:
    """Starts of the ``count`` non-overlapping ``length`` windows with the most lines, by time."""
    times = [t for t, _ in lines]
    chosen: list[float] = []
    for _ in range(count):
        best, best_start, j = -1, None, 0
        for i, start in enumerate(times):
            if any(c - length < start < c + length for c in chosen):
                continue
            while j < len(times) and times[j] < start + length:
                j += 1
            j = max(j, i)
            if j - i > best:
                best, best_start = j - i, start
        if best_start is None:
            break
        chosen.append(best_start)
    return sorted(chosen)


def placed(
    lines: list[tuple[float, str]], start: float, length: float, at: float
) -> list[tuple[float, str]]:
    """The lines of ``[start, start + length)`` moved to begin at offset ``at`` (as raw)."""
    return [(at + t - start, "@raw " + line) for t, line in lines if start <= t < start + length]


def shared_scenarios(data: Path) -> list[Scenario]:
    """Recordings built on the real logs and metrics of ``data`` (see the module notes)."""
    metrics, logs = data / "metrics", data / "logs"
    nab = {p.stem: Nab.load(p) for p in sorted(metrics.glob("*.csv"))}
    apache = timed_lines(logs / "Apache_2k.log", _APACHE_TIME, None)
    linux = timed_lines(logs / "Linux_2k.log", _SYSLOG_TIME, 2005)
    hadoop = timed_lines(logs / "Hadoop_2k.log", _ISO_TIME, None)

    def cite_nab(name):
        return (
            f"NAB data/realAWSCloudwatch {name}.csv (https://github.com/numenta/NAB), "
            "via ../shared/data/metrics"
        )

    def cite_log(name):
        return f"Loghub {name} (https://github.com/logpai/loghub), via ../shared/data/logs"

    out: list[Scenario] = []
    two = 2 * HOUR
    apache_windows = busiest_windows([x for x in apache if "[error]" in x[1]], two, 3)
    linux_windows = busiest_windows(linux, two, 3)

    def linux_noise(k: int, host: str) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
        """Linux_2k window ``k`` as this host's syslog (raw lines) and kern.log (kernel lines)."""
        window = placed(linux, linux_windows[k], two, 0.0)
        syslog = list(window)
        kernel = [(t, line.split("kernel: ", 1)[1]) for t, line in window if " kernel: " in line]
        return syslog, kernel

    # -- CPU from real EC2 instances: cron-like bursts and daily cycles, healthy upgrades.
    for k, (series, offset) in enumerate(
        (
            ("ec2_cpu_utilization_5f5533", 2 * DAY),
            ("rds_cpu_utilization_cc0c53", 3 * DAY),
            ("ec2_cpu_utilization_53ea38", 5 * DAY),
        )
    ):
        s = nab[series]
        syslog, kernel = linux_noise(k % len(linux_windows), "web-1")
        out.append(
            Scenario(
                f"healthy-real-cpu-{k + 1}",
                "cron-cpu" if k == 0 else "daily-cycle",
                f"web-1's CPU is a real EC2/RDS series ({series}, 6 hours from day "
                f"{offset / DAY:g}); "
                "its syslog is real Linux syslog noise (Loghub); healthy upgrade",
                [
                    Host(
                        "web-1",
                        upgrades=[2 * HOUR],
                        cpu=s.curve(
                            offset,
                            scale=100.0 / max(1.0, *s.values) if max(s.values) < 20 else 1.0,
                        ),
                        syslog=syslog,
                        kernel=kernel,
                    )
                ],
                duration=6 * HOUR,
                origin="shared-data",
                sources=[cite_nab(series), cite_log("Linux_2k.log")],
            )
        )

    # -- Traffic from a real ELB: request count drives the error-ratio noise and p99.
    elb = nab["elb_request_count_8c0756"]
    elb_median = elb.median()
    for k, offset in enumerate((1 * DAY, 4 * DAY)):
        traffic = elb.curve(offset, scale=40.0 / max(1.0, elb_median))
        out.append(
            Scenario(
                f"healthy-real-traffic-{k + 1}",
                "traffic-growth",
                "web-1 serves the real request counts of an AWS ELB (8 hours from day "
                f"{offset / DAY:g}): "
                "traffic swings change the error ratio's noise and the p99; healthy upgrade",
                [
                    Host(
                        "web-1",
                        upgrades=[3 * HOUR],
                        traffic=lambda t, f=traffic: max(0.5, f(t)),
                        p99=lambda t, f=traffic: 0.18 + 0.002 * max(0.0, f(t)),
                    )
                ],
                duration=8 * HOUR,
                origin="shared-data",
                sources=[cite_nab("elb_request_count_8c0756")],
            )
        )
    for k, offset in enumerate((2 * DAY, 6 * DAY)):
        traffic = elb.curve(offset, scale=40.0 / max(1.0, elb_median))
        at = 3 * HOUR + 120
        out.append(
            Scenario(
                f"fault-real-traffic-errors-{k + 1}",
                "metrics-error-ratio",
                "web-1 serves real ELB request counts; after its upgrade 4% of requests fail "
                "(one endpoint broken) while the health check answers 200",
                [
                    Host(
                        "web-1",
                        upgrades=[3 * HOUR],
                        traffic=lambda t, f=traffic: max(0.5, f(t)),
                        error_ratio=after(const(0.003), at, const(0.04)),
                    )
                ],
                duration=5 * HOUR,
                faults=[fault("web-1", at, "request errors")],
                origin="shared-data",
                sources=[cite_nab("elb_request_count_8c0756")],
            )
        )

    # -- Real request latency as the p99 baseline; a regression multiplies it.
    lat = nab["ec2_request_latency_system_failure"]
    lat_curve = lat.curve(1 * DAY, scale=1.0 / 100.0)
    out.append(
        Scenario(
            "fault-real-p99-1",
            "metrics-latency-quantile",
            "web-1's p99 is a real EC2 request latency series (scaled to seconds); after the "
            "upgrade it is 3.5 times higher",
            [
                Host(
                    "web-1",
                    upgrades=[3 * HOUR],
                    p99=after(lat_curve, 3 * HOUR + 60, lambda t: 3.5 * lat_curve(t)),
                )
            ],
            duration=5 * HOUR,
            faults=[fault("web-1", 3 * HOUR + 60, "p99 latency")],
            origin="shared-data",
            sources=[cite_nab("ec2_request_latency_system_failure")],
        )
    )
    lat_curve2 = lat.curve(4 * DAY, scale=1.0 / 100.0)
    out.append(
        Scenario(
            "healthy-real-p99-1",
            "daily-cycle",
            "web-1's p99 is a real EC2 request latency series (scaled to seconds), healthy upgrade",
            [Host("web-1", upgrades=[3 * HOUR], p99=lat_curve2)],
            duration=6 * HOUR,
            origin="shared-data",
            sources=[cite_nab("ec2_request_latency_system_failure")],
        )
    )

    # -- Real health-check latency shape from a real CPU series, then a latency regression.
    cpu = nab["ec2_cpu_utilization_24ae8d"]
    out.append(
        Scenario(
            "fault-real-latency-1",
            "latency-regression",
            "web-1's CPU is a real EC2 series; after the upgrade its checks answer 4 times "
            "slower (60 ms -> 240 ms)",
            [
                Host(
                    "web-1",
                    cpu=cpu.curve(3 * DAY, scale=100.0),
                    latency=after(const(0.06), UP + 60, const(0.24)),
                    p99=after(const(0.25), UP + 60, const(0.9)),
                )
            ],
            faults=[fault("web-1", UP + 60, "latency")],
            origin="shared-data",
            sources=[cite_nab("ec2_cpu_utilization_24ae8d")],
        )
    )

    # -- Pre-existing errors: real Apache error logs, real Hadoop job logs.
    for k, start in enumerate(apache_windows[:2]):
        lines = placed(apache, start, two, 0.0)
        out.append(
            Scenario(
                f"healthy-real-apache-{k + 1}",
                "preexisting-errors",
                "web-1's application log is a real Apache error log (Loghub, its busiest two "
                f"hours #{k + 1}, real timing): mod_jk errors before and after a healthy upgrade",
                [
                    Host(
                        "web-1", errors_per_minute=const(0.0), noise_per_minute=0.0, app_lines=lines
                    )
                ],
                origin="shared-data",
                sources=[cite_log("Apache_2k.log")],
            )
        )
    hadoop_start = hadoop[0][0]
    out.append(
        Scenario(
            "healthy-real-hadoop-1",
            "preexisting-errors",
            "batch-1's job log is a real Hadoop application log (Loghub): 150 ERROR lines in "
            "five minutes, ten minutes after a healthy upgrade",
            [
                Host(
                    "batch-1",
                    "batch",
                    log_style="job",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=[(UP + 600 + t - hadoop_start, "@raw " + line) for t, line in hadoop],
                )
            ],
            origin="shared-data",
            sources=[cite_log("Hadoop_2k.log")],
        )
    )
    for k in range(2):
        syslog, kernel = linux_noise(k + 1, "web-1")
        out.append(
            Scenario(
                f"healthy-real-syslog-{k + 1}",
                "noisy-syslog",
                "web-1's syslog and kern.log are real Linux syslog (Loghub: sshd authentication "
                "failures, logrotate ALERTs, kernel lines), healthy upgrade",
                [Host("web-1", **restart_at(UP), kernel=kernel)]
                if k == 0
                else [Host("db-1", "db", kernel=kernel)],
                origin="shared-data",
                sources=[cite_log("Linux_2k.log")],
            )
        )
        out[-1].hosts[0].syslog.extend(syslog)

    # -- Faults on top of real noise: quoted kernel events over real syslog, Apache errors.
    syslog, kernel = linux_noise(0, "web-1")
    out.append(
        Scenario(
            "fault-real-syslog-oom-1",
            "oom-repeated",
            "web-1's syslog is real Linux syslog noise (Loghub); after the upgrade its workers "
            "are OOM-killed every few minutes (real kernel wording, quoted)",
            [
                Host(
                    "web-1",
                    syslog=syslog,
                    kernel=[
                        *kernel,
                        *[
                            x
                            for t in (300, 560, 900, 1180)
                            for x in quoted_event(UP + t, "oom-el7-php-invoked")
                        ],
                    ],
                    down=[(UP + t + 1, UP + t + 9) for t in (300, 560, 900, 1180)],
                )
            ],
            faults=[fault("web-1", UP + 300, "oom kills")],
            origin="shared-data",
            sources=[cite_log("Linux_2k.log"), *cites("oom-el7-php-invoked")],
        )
    )
    lines = placed(apache, apache_windows[2], two, 0.0)
    out.append(
        Scenario(
            "fault-real-apache-errors-1",
            "metrics-error-ratio",
            "web-1's application log is a real Apache error log (Loghub); after the upgrade 6% "
            "of its requests fail, the health check still answers 200",
            [
                Host(
                    "web-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=lines,
                    error_ratio=after(const(0.003), UP + 150, const(0.06)),
                )
            ],
            faults=[fault("web-1", UP + 150, "request errors")],
            origin="shared-data",
            sources=[cite_log("Apache_2k.log")],
        )
    )
    syslog, kernel = linux_noise(1, "db-1")
    out.append(
        Scenario(
            "fault-real-syslog-unit-1",
            "systemd-unit-failure",
            "db-1's syslog is real Linux syslog noise (Loghub); after the upgrade a unit fails "
            "again and again (real systemd lines, quoted)",
            [
                Host(
                    "db-1",
                    "db",
                    syslog=[
                        *syslog,
                        *[
                            x
                            for t in (UP + 200, UP + 500, UP + 800)
                            for x in quoted_unit(t, "systemd-miniflux")
                        ],
                    ],
                    kernel=kernel,
                )
            ],
            faults=[fault("db-1", UP + 200, "unit failed")],
            origin="shared-data",
            sources=[cite_log("Linux_2k.log"), *cites("systemd-miniflux")],
        )
    )
    out.extend(healthy_weeks(nab, linux, cite_nab, cite_log))
    out.extend(memory_trends_real(nab, cite_nab))
    out.extend(  # held-out-3 first, as before; each generator draws from its own seeds
        scenario
        for later in (
            held_out_3_real,
            held_out_4_real,
            _held_out_5().real,
            _held_out_6().real,
            _held_out_7().real,
            _held_out_8().real,
            _held_out_9().real,
            _held_out_10().real,
            _held_out_11().real,
            _held_out_12().real,
        )
        for scenario in later(
            nab, linux=linux, apache=apache, hadoop=hadoop, cite_nab=cite_nab, cite_log=cite_log
        )
    )
    return out


def healthy_weeks(
    nab: dict[str, Nab],
    linux: list[tuple[float, str]],
    cite_nab: Callable[[str], str],
    cite_log: Callable[[str], str],
) -> list[Scenario]:
    """Two weeks of healthy real noise (the NAB series are two weeks long): week 1 and week 2
    of real CPU (an EC2 instance) and real traffic (an ELB) around synthetic 10 s health checks,
    with a healthy upgrade every day at 10:00 and real Linux syslog noise."""
    cpu = nab["ec2_cpu_utilization_5f5533"]
    elb = nab["elb_request_count_8c0756"]
    scale = 40.0 / max(1.0, elb.median())
    syslog_lines = [(t - linux[0][0], line) for t, line in linux]
    span = max(t for t, _ in syslog_lines) or 1.0
    out = []
    for week in (1, 2):
        offset = (week - 1) * 7 * DAY
        traffic = elb.curve(offset, scale=scale)
        upgrades = [d * DAY + 10 * HOUR for d in range(7)]
        restarts: dict[str, list[Any]] = {"down": [], "slow": [], "app_lines": [], "syslog": []}
        for at in upgrades:
            for key, value in restart_at(at).items():
                restarts[key].extend(value)
        # Linux_2k spans weeks sparsely: squeeze its 2,000 real lines into this week, in order.
        syslog = [(t / span * 7 * DAY, "@raw " + line) for t, line in syslog_lines]
        kernel = [
            (t / span * 7 * DAY, line.split("kernel: ", 1)[1])
            for t, line in syslog_lines
            if " kernel: " in line
        ]
        out.append(
            Scenario(
                f"healthy-week-{week}",
                "healthy-week",
                f"a week of healthy real noise (NAB week {week}): web-1's CPU is a real EC2 "
                "instance, its traffic a real ELB's, its syslog real Linux syslog; it is upgraded "
                "healthily every day at 10:00",
                [
                    Host(
                        "web-1",
                        upgrades=upgrades,
                        cpu=cpu.curve(offset),
                        traffic=lambda t, f=traffic: max(0.5, f(t)),
                        p99=lambda t, f=traffic: 0.18 + 0.002 * max(0.0, f(t)),
                        memory=daily(52.0, 6.0),
                        kernel=kernel,
                        down=restarts["down"],
                        slow=restarts["slow"],
                        app_lines=restarts["app_lines"],
                        syslog=[*restarts["syslog"], *syslog],
                    )
                ],
                duration=7 * DAY,
                origin="shared-data",
                sources=[
                    cite_nab("ec2_cpu_utilization_5f5533"),
                    cite_nab("elb_request_count_8c0756"),
                    cite_log("Linux_2k.log"),
                ],
            )
        )
    return out


# --------------------------------------------------------------------------- held-out-3

HELD_OUT_3 = "held-out-3"  # written after the judge of round 5 was designed, never tuned on


def _irregular(
    seed: str, start: float, end: float, low: float, high: float, *, half: str = "held-out-3"
) -> list[float]:
    """Times from ``start`` to ``end`` with gaps drawn uniformly in ``[low, high]`` seconds
    (a generator of its own, ``<half>/<seed>``, so that the draws of older recordings never
    move)."""
    rng = random.Random(f"{half}/{seed}")
    out = []
    t = start
    while t < end:
        out.append(round(t, 1))
        t += rng.uniform(low, high)
    return out


def decaying(at: float, base: float, peak: float, tau: float) -> Curve:
    """``base`` before ``at``; ``peak`` at ``at``, back towards ``base`` with time constant
    ``tau`` (a cold cache, a JIT compiler, a replayed journal)."""
    return lambda t: base if t < at else base + (peak - base) * math.exp(-(t - at) / tau)


def _role(target: str) -> str:
    return {"web-1": "web", "web-2": "web", "db-1": "db", "batch-1": "batch"}[target]


def _host(target: str, **kwargs: Any) -> Host:
    role = _role(target)
    return Host(target, role, log_style="job" if role == "batch" else "app", **kwargs)


def held_out_3_faults() -> list[Scenario]:
    """Held-out-3 faults (synthetic and quoted): magnitudes, timings relative to the upgrade,
    targets and wordings that the first three halves do not have."""
    out: list[Scenario] = []

    def add(name: str, family: str, description: str, hosts: list[Host], at: float, **kw: Any):
        target = hosts[0].target
        out.append(
            Scenario(
                name,
                family,
                description,
                hosts,
                faults=[fault(target, at, kw.pop("kind", family.replace("-", " ")))],
                half=HELD_OUT_3,
                **kw,
            )
        )

    # -- errors only the service's metrics show: late, small, on a busy canary with a peer.
    up = 1.5 * HOUR
    late = up + 25 * MINUTE
    add(
        "fault-errors-late-flag",
        "metrics-error-ratio",
        "web-1 (120 requests/s) is upgraded 90 minutes in; 25 minutes later a feature flag "
        "the new release reads turns on and its request error ratio climbs from 0.1% to 2.5% "
        "over 3 minutes; the health check answers 200; web-2 (not upgraded) stays at 0.1%",
        [
            Host(
                "web-1",
                upgrades=[up],
                traffic=const(120.0),
                error_ratio=ramp(late, 180.0, 0.001, 0.025),
            ),
            Host("web-2", upgrades=[], traffic=const(120.0), error_ratio=const(0.001)),
        ],
        late,
        duration=3 * HOUR,
        kind="request errors",
    )
    # -- latency quantiles: a database's query p99, and a web p99 hidden by the warm-up.
    add(
        "fault-query-p99-db",
        "metrics-latency-quantile",
        "db-1's query p99 goes from 12 ms to 40 ms three minutes after its upgrade (a dropped "
        "index: the planner scans); the port check and the data check stay good",
        [Host("db-1", "db", query_latency=after(const(0.012), UP + 180, const(0.040)))],
        UP + 180,
        kind="query p99",
    )
    add(
        "fault-p99-under-warmup",
        "metrics-latency-quantile",
        "web-1 restarts for its upgrade (refused 20 s, slow first answers); its p99 is high "
        "from the first request and never comes back: 0.3 s before, 1.1 s after (a serialised "
        "lock), while health checks answer fast",
        [
            Host(
                "web-1",
                **restart_at(UP, refused=20.0),
                p99=after(const(0.3), UP, const(1.1)),
                cpu=bumped(const(25.0), [(UP, UP + 240, 80.0)]),
            )
        ],
        UP,
        kind="p99 latency",
    )
    # -- a latency regression of the health check that grows slowly, through a metrics gap.
    add(
        "fault-latency-creep-gap",
        "latency-regression",
        "web-1's health check latency creeps from 50 ms to 150 ms over the 10 minutes from 5 "
        "minutes after its upgrade (a connection pool too small for its load), p99 with it; "
        "Prometheus is unreachable for 20 minutes from 10 minutes after the upgrade",
        [
            Host(
                "web-1",
                latency=ramp(UP + 300, 600.0, 0.05, 0.15),
                p99=ramp(UP + 300, 600.0, 0.25, 0.75),
                gaps={"prometheus": [(UP + 600, UP + 1800)]},
            )
        ],
        UP + 300,
        kind="latency",
    )
    # -- OOM kills: memcg v1 on a pre-fork server (no check fails), a single old-kernel line
    #    on a database, the old lower-case wording on a batch host.
    kills = _irregular("oom-prefork", UP + 260, UP + 3000, 420.0, 720.0)
    add(
        "fault-oom-prefork-memcg",
        "oom-repeated",
        "web-1 is a pre-fork server in a memory cgroup: after its upgrade a worker is "
        "OOM-killed every 7 to 12 minutes (cgroup v1 wording of a 3.10 kernel, quoted); the "
        "master forks a new one at once, so no health check fails, only the requests the "
        "worker held fail (the error ratio reaches 3% for a minute)",
        [
            Host(
                "web-1",
                kernel=[
                    x
                    for n, t in enumerate(kills)
                    for x in quoted_event(t, "oom-memcg-v1-k8s-java", n)
                ],
                error_ratio=bumped(const(0.002), [(t, t + 60, 0.03) for t in kills]),
                memory=after(const(62.0), kills[0], const(88.0)),
            ),
            Host("web-2", upgrades=[]),
        ],
        kills[0],
        origin="quoted",
        sources=cites("oom-memcg-v1-k8s-java"),
        kind="oom kills",
    )
    kills = _irregular("oom-mysqld", UP + 900, UP + 4800, 780.0, 1080.0)
    add(
        "fault-oom-mysqld-single-line",
        "oom-repeated",
        "db-1 (an old 2.6.32 kernel) kills mysqld every 13 to 18 minutes from 15 minutes after "
        "its upgrade; each kill is one kernel line (quoted) and the port refuses for 20 s while "
        "mysqld restarts",
        [
            Host(
                "db-1",
                "db",
                kernel=[
                    x
                    for n, t in enumerate(kills)
                    for x in quoted_event(t, "oom-el6-mysqld-single", n)
                ],
                down=[(t + 1, t + 21) for t in kills],
                memory=after(const(70.0), kills[0], const(94.0)),
            )
        ],
        kills[0],
        duration=3 * HOUR,
        origin="quoted",
        sources=cites("oom-el6-mysqld-single"),
        kind="oom kills",
    )
    kills = _irregular("oom-old-lower", UP + 120, UP + 2400, 240.0, 360.0)
    add(
        "fault-oom-old-lower-batch",
        "oom-repeated",
        "batch-1 runs an old kernel whose OOM report says `kill process` in lower case; after "
        "its upgrade a job worker is killed every 4 to 6 minutes; the runner check is unaffected",
        [
            _host(
                "batch-1",
                kernel=[
                    x
                    for n, t in enumerate(kills)
                    for x in oom_synthetic(t, process="etl-worker", pid=3300 + n, style="old-lower")
                ],
                memory=after(const(60.0), kills[0], const(91.0)),
                errors_per_minute=bumped(const(0.3), [(t, t + 30, 6.0) for t in kills]),
            )
        ],
        kills[0],
        kind="oom kills",
    )
    # -- kernel panics that follow a stall: a soft lockup, a hung task.
    add(
        "fault-panic-after-lockup",
        "kernel-panic",
        "web-1's new kernel locks up 25 minutes after the upgrade and panics on its soft "
        "lockup (quoted, 5.10 kernel); the host is down 150 s while it reboots",
        [
            Host(
                "web-1",
                kernel=[*BENIGN_KERNEL, *quoted_event(UP + 1500, "panic-softlockup-5x")],
                down=[(UP + 1500, UP + 1650)],
            )
        ],
        UP + 1500,
        origin="quoted",
        sources=cites("panic-softlockup-5x"),
        kind="kernel panic",
    )
    add(
        "fault-panic-hung-task",
        "kernel-panic",
        "db-1's new kernel: a task hangs in D state about 10 minutes after the upgrade and "
        "queries stall; the kernel reports it 2 and 4 minutes later, then panics on the hung "
        "task (quoted); down 120 s",
        [
            Host(
                "db-1",
                "db",
                kernel=[
                    *quoted_event(UP + 700, "hung-balenad"),
                    *quoted_event(UP + 820, "hung-balenad", 1),
                    *quoted_event(UP + 940, "panic-hung-task"),
                ],
                down=[(UP + 940, UP + 1060)],
                query_latency=bumped(const(0.012), [(UP + 580, UP + 940, 0.3)]),
            )
        ],
        UP + 580,  # the task blocked 120 s before its first report; queries stall from then
        origin="quoted",
        sources=cites("hung-balenad", "panic-hung-task"),
        kind="kernel panic",
    )
    # -- oopses in newer wordings.
    add(
        "fault-oops-6x-batch",
        "kernel-oops",
        "batch-1's new kernel oopses 200 s after its upgrade (6.x wording: `Oops: Oops:`) "
        "and again 40 minutes later with a general protection fault (quoted); jobs keep running",
        [
            _host(
                "batch-1",
                kernel=[
                    *BENIGN_KERNEL,
                    *quoted_event(UP + 200, "oops-pagefault-6x"),
                    *quoted_event(UP + 2600, "oops-gpf-6x-aufs"),
                ],
            )
        ],
        UP + 200,
        origin="quoted",
        sources=cites("oops-pagefault-6x", "oops-gpf-6x-aufs"),
        kind="kernel oops",
    )
    add(
        "fault-oops-gpf-at-restart",
        "kernel-oops",
        "web-1's new kernel: a general protection fault (5.1 wording, quoted) 45 s after the "
        "upgrade, while the service is still warming up from its restart",
        [Host("web-1", **restart_at(UP), kernel=quoted_event(UP + 45, "oops-gpf-5x"))],
        UP + 45,
        origin="quoted",
        sources=cites("oops-gpf-5x"),
        kind="kernel oops",
    )
    # -- soft lockups in the older wordings, hung tasks reported again and again.
    add(
        "fault-lockup-old-wordings",
        "soft-lockup",
        "web-1's CPUs lock up 20 minutes after the upgrade: the plain `BUG: soft lockup` of "
        "older kernels, then the `NMI watchdog:` form twice (quoted); p99 spikes during stalls",
        [
            Host(
                "web-1",
                kernel=[
                    *quoted_event(UP + 1200, "lockup-old-migration"),
                    *quoted_event(UP + 1290, "lockup-nmi-python"),
                    *quoted_event(UP + 1500, "lockup-nmi-python", 1),
                ],
                p99=bumped(
                    const(0.22),
                    [
                        (UP + 1175, UP + 1200, 9.0),
                        (UP + 1265, UP + 1290, 9.0),
                        (UP + 1475, UP + 1500, 9.0),
                    ],
                ),
            )
        ],
        UP + 1175,  # the CPU was stuck 23 s before the report: p99 shows it from then
        origin="quoted",
        sources=cites("lockup-old-migration", "lockup-nmi-python"),
        kind="soft lockup",
    )
    add(
        "fault-hung-task-repeated",
        "hung-task",
        "batch-1's storage driver hangs a task 5 minutes after its upgrade; the kernel reports "
        "it every 2 minutes, four times (quoted)",
        [
            _host(
                "batch-1",
                kernel=[
                    x
                    for n, t in enumerate((300, 420, 540, 660))
                    for x in quoted_event(UP + t, "hung-balenad", n)
                ],
            )
        ],
        UP + 300,
        origin="quoted",
        sources=cites("hung-balenad"),
        kind="hung task",
    )
    # -- segfault loops: a two-line 6.x report every 30-40 s, and the `general protection`
    #    wording mixed with plain segfaults every few minutes.
    crashes = _irregular("segv-python", UP + 90, UP + 1800, 30.0, 40.0)
    add(
        "fault-segfault-6x-fast",
        "segfault-loop",
        "a python worker on web-1 segfaults every 30 to 40 s from 90 s after the upgrade (6.x "
        "kernel: two lines per crash, quoted); its supervisor restarts it",
        [
            Host(
                "web-1",
                kernel=[
                    x for n, t in enumerate(crashes) for x in quoted_event(t, "segv-python-6x", n)
                ],
            )
        ],
        crashes[0],
        origin="quoted",
        sources=cites("segv-python-6x"),
        kind="segfault loop",
    )
    crashes = _irregular("segv-gp", UP + 400, UP + 3600, 150.0, 240.0)
    add(
        "fault-segfault-gp-mixed",
        "segfault-loop",
        "two daemons on db-1 crash every 2.5 to 4 minutes from 400 s after the upgrade: one "
        "logs `general protection` (no word `segfault`), the other `segfault at` (quoted)",
        [
            Host(
                "db-1",
                "db",
                kernel=alternating(crashes, "gp-cupsd", "segv-turnserver"),
            )
        ],
        crashes[0],
        origin="quoted",
        sources=cites("gp-cupsd", "segv-turnserver"),
        kind="segfault loop",
    )
    # -- systemd unit failures: core dumps every 5 minutes, an old systemd's restart loop.
    add(
        "fault-unit-coredump",
        "systemd-unit-failure",
        "a proxy unit on web-1 dumps core 10 minutes after the upgrade and again every 5 "
        "minutes, four times (quoted systemd lines)",
        [
            Host(
                "web-1",
                syslog=[
                    x
                    for t in (600, 900, 1200, 1500)
                    for x in quoted_unit(UP + t, "systemd-alba-coredump")
                ],
            )
        ],
        UP + 600,
        origin="quoted",
        sources=cites("systemd-alba-coredump"),
        kind="unit failed",
    )
    add(
        "fault-unit-old-systemd-loop",
        "systemd-unit-failure",
        "batch-1 runs an old systemd (lower-case `main process exited`, `entered failed state`): "
        "a unit crashes a minute after the upgrade and every 90 s after, ten times (quoted)",
        [
            _host(
                "batch-1",
                syslog=[
                    x for k in range(10) for x in quoted_unit(UP + 60 + 90 * k, "systemd-old-iot")
                ],
            )
        ],
        UP + 60,
        origin="quoted",
        sources=cites("systemd-old-iot"),
        kind="unit failed",
    )
    # -- an outage near down_for on a batch host, three times; data going bad late.
    add(
        "fault-outage-batch-thrice",
        "outage-near-down-for",
        "batch-1's runner stops answering for 65 s, 5 minutes after its upgrade and twice more "
        "at 1,000 s intervals: the new runner deadlocks and its watchdog restarts it",
        [_host("batch-1", down=[(UP + 300 + 1000 * k, UP + 365 + 1000 * k) for k in range(3)])],
        UP + 300,
        kind="outage",
    )
    add(
        "fault-data-mismatch-late",
        "data-mismatch",
        "db-1's upgrade changes a replication setting: rows stop reaching the replica when the "
        "nightly batch writes 45 minutes after the upgrade; the first data check after that fails; "
        "Prometheus is also down for 10 minutes at the upgrade",
        [
            Host(
                "db-1",
                "db",
                data_bad_from=UP + 2700,
                gaps={"prometheus": [(UP - 60, UP + 540)]},
            )
        ],
        UP + 2700,
        duration=3 * HOUR,
        kind="data mismatch",
    )
    # -- slow leaks: 2 points an hour on a web host, 4.5 on a JVM's saw-tooth.
    add(
        "fault-memory-leak-2ph",
        "memory-leak",
        "the new release on web-1 leaks about 2% of memory an hour from 52%; memory would run "
        "out about a day later; nothing else shows",
        [Host("web-1", memory=lambda t: 52.0 + max(0.0, t - UP) / HOUR * 2.0)],
        UP,
        duration=12 * HOUR,
        kind="memory leak",
    )
    gc = sawtooth(9 * MINUTE, 15.0)
    add(
        "fault-memory-leak-gc-batch",
        "memory-leak",
        "a JVM on batch-1 saw-tooths by 15 points every 9 minutes (GC); after the upgrade the "
        "floor after each collection rises 4.5 points an hour",
        [
            _host(
                "batch-1",
                memory=lambda t: 45.0 + gc(t) + (4.5 * (t - UP) / HOUR if t >= UP else 0.0),
            )
        ],
        UP,
        duration=10 * HOUR,
        kind="memory leak",
    )
    add(
        "fault-crash-late-db",
        "crash",
        "db-1 crashes 35 minutes after its upgrade (the first checkpoint of the new format) and "
        "stays down",
        [
            Host(
                "db-1",
                "db",
                down=[(UP + 2100, 99 * HOUR)],
                memory=after(const(70.0), UP + 2100, const(8.0)),
            )
        ],
        UP + 2100,
        kind="crash",
    )
    return out


def held_out_3_healthy() -> list[Scenario]:
    """Held-out-3 healthy recordings (synthetic and quoted): the noise that fools naive rules,
    in lengths and combinations the other halves do not have."""

    def healthy(name: str, family: str, description: str, hosts: list[Host], **kw: Any):
        return Scenario(name, family, description, hosts, half=HELD_OUT_3, **kw)

    return [
        healthy(
            "healthy-warmup-long-jvm",
            "warmup-restart",
            "a JVM service restarts for its upgrade: refused 30 s, then its JIT and caches warm "
            "for 10 minutes: p99 from 1.5 s back to 0.25 s (time constant 3 minutes), checks 3x "
            "slower at first, 2% of requests fail for 3 minutes, CPU at 90% for 10 minutes",
            [
                Host(
                    "web-1",
                    **restart_at(UP, refused=30.0),
                    p99=decaying(UP, 0.25, 1.5, 180.0),
                    latency=decaying(UP, 0.04, 0.12, 120.0),
                    error_ratio=bumped(const(0.003), [(UP, UP + 180, 0.02)]),
                    cpu=bumped(const(25.0), [(UP, UP + 600, 90.0)]),
                )
            ],
        ),
        healthy(
            "healthy-warmup-db-replay",
            "warmup-restart",
            "db-1 restarts for its upgrade and replays its journal: the port refuses for 40 s, "
            "query p99 starts 5 times higher and settles over 5 minutes",
            [
                Host(
                    "db-1",
                    "db",
                    **{
                        k: v
                        for k, v in restart_at(UP, refused=40.0, service="postgresql").items()
                        if k != "app_lines"
                    },
                    query_latency=decaying(UP, 0.012, 0.06, 100.0),
                )
            ],
        ),
        healthy(
            "healthy-cron-batch-overlap",
            "cron-cpu",
            "a nightly job pins batch-1's CPU at 99% for 25 minutes from 5 minutes before its "
            "upgrade, holding 15 more points of memory meanwhile",
            [
                _host(
                    "batch-1",
                    cpu=bumped(const(30.0), [(UP - 300, UP + 1200, 99.0)]),
                    cpu_noise=1.0,
                    memory=bumped(const(50.0), [(UP - 300, UP + 1200, 65.0)]),
                )
            ],
        ),
        healthy(
            "healthy-preexisting-5xx",
            "preexisting-errors",
            "web-1 has always failed 4% of its requests and 1% of its health checks (a broken "
            "client that retries), and logs 3 errors a minute; the upgrade changes nothing",
            [
                Host(
                    "web-1",
                    error_ratio=const(0.04),
                    health_5xx=const(0.01),
                    errors_per_minute=const(3.0),
                ),
                Host("web-2", upgrades=[], error_ratio=const(0.04), health_5xx=const(0.01)),
            ],
        ),
        healthy(
            "healthy-traffic-spike",
            "traffic-growth",
            "a sale triples web-1's traffic for 30 minutes from 10 minutes after its upgrade: "
            "p99 0.22 -> 0.38 s, CPU 25 -> 70%, the error ratio unchanged",
            [
                Host(
                    "web-1",
                    traffic=bumped(const(40.0), [(UP + 600, UP + 2400, 120.0)]),
                    p99=bumped(const(0.22), [(UP + 600, UP + 2400, 0.38)]),
                    cpu=bumped(const(25.0), [(UP + 600, UP + 2400, 70.0)]),
                )
            ],
        ),
        healthy(
            "healthy-dependency-slow-twice",
            "dependency-blip",
            "the payments dependency is slow for 4 minutes twice: half an hour before web-1's "
            "upgrade and 40 minutes after it (p99 3 s, 6% of requests and 10% of checks fail, "
            "15 error lines a minute)",
            [
                Host(
                    "web-1",
                    p99=bumped(
                        const(0.22), [(UP - 1800, UP - 1560, 3.0), (UP + 2400, UP + 2640, 3.0)]
                    ),
                    error_ratio=bumped(
                        const(0.003), [(UP - 1800, UP - 1560, 0.06), (UP + 2400, UP + 2640, 0.06)]
                    ),
                    health_5xx=bumped(
                        const(0.0), [(UP - 1800, UP - 1560, 0.1), (UP + 2400, UP + 2640, 0.1)]
                    ),
                    errors_per_minute=bumped(
                        const(0.05), [(UP - 1800, UP - 1560, 15.0), (UP + 2400, UP + 2640, 15.0)]
                    ),
                )
            ],
        ),
        healthy(
            "healthy-dependency-at-upgrade",
            "dependency-blip",
            "a dependency of web-1 fails for 60 s two minutes after its upgrade (a coincidence: "
            "its own deploy): 12% of requests fail, then all is well",
            [
                Host(
                    "web-1",
                    error_ratio=bumped(const(0.003), [(UP + 120, UP + 180, 0.12)]),
                    errors_per_minute=bumped(const(0.05), [(UP + 120, UP + 180, 25.0)]),
                )
            ],
        ),
        healthy(
            "healthy-cache-slow-fill",
            "cache-growth",
            "the new release of web-1 caches more: memory rises from 50% towards 74% with a "
            "time constant of 45 minutes after the upgrade, then stays",
            [
                Host(
                    "web-1",
                    memory=lambda t: (
                        50.0
                        if t < UP
                        else 50.0 + 24.0 * (1.0 - math.exp(-(t - UP) / (45 * MINUTE)))
                    ),
                )
            ],
            duration=8 * HOUR,
        ),
        healthy(
            "healthy-gc-high-floor",
            "gc-sawtooth",
            "a JVM on batch-1 saw-tooths between 55% and 85% every 8 minutes, before and after "
            "a healthy upgrade",
            [_host("batch-1", memory=lambda t: 55.0 + 30.0 * ((t / (8 * MINUTE)) % 1.0))],
            duration=6 * HOUR,
        ),
        healthy(
            "healthy-single-oom-memcg-java",
            "single-oom",
            "one job on batch-1 is killed by its memory cgroup 10 minutes after a healthy "
            "upgrade (cgroup v1 wording, quoted); the scheduler retries it with more memory",
            [_host("batch-1", kernel=quoted_event(UP + 600, "oom-memcg-v1-k8s-java"))],
            origin="quoted",
            sources=cites("oom-memcg-v1-k8s-java"),
        ),
        healthy(
            "healthy-single-segfault-runc",
            "single-segfault",
            "web-1's container runtime helper segfaults once 30 s after the upgrade, while "
            "containers restart (quoted; its reporter saw no functional impact)",
            [Host("web-1", **restart_at(UP), kernel=quoted_event(UP + 30, "segv-runc-once"))],
            origin="quoted",
            sources=cites("segv-runc-once"),
        ),
        healthy(
            "healthy-unit-crash-on-stop",
            "single-unit-failure",
            "an auxiliary unit on db-1 crashes once while the upgrade stops it (quoted systemd "
            "lines) and starts cleanly on the new release",
            [
                Host(
                    "db-1",
                    "db",
                    down=[(UP - 15, UP)],
                    syslog=[
                        (UP - 15, "systemd[1]: Stopping kiwix-serve.service..."),
                        *quoted_unit(UP - 14, "systemd-kiwix-signal"),
                        (UP - 1, "systemd[1]: Started kiwix-serve.service."),
                    ],
                ),
            ],
            origin="quoted",
            sources=cites("systemd-kiwix-signal"),
        ),
        healthy(
            "healthy-restart-blip-twice",
            "restart-blip",
            "web-1 is restarted twice by its config manager after a healthy upgrade: refused "
            "12 s at 15 minutes, 18 s at 50 minutes",
            [
                Host(
                    "web-1",
                    down=[(UP + 900, UP + 912), (UP + 3000, UP + 3018)],
                    syslog=[
                        (UP + 899, "systemd[1]: Stopping app.service - Application server..."),
                        (UP + 912, "systemd[1]: Started app.service - Application server."),
                        (UP + 2999, "systemd[1]: Stopping app.service - Application server..."),
                        (UP + 3018, "systemd[1]: Started app.service - Application server."),
                    ],
                )
            ],
        ),
        healthy(
            "healthy-reboot-kernel",
            "warmup-restart",
            "web-1 reboots into a new kernel for its upgrade: down 80 s, then memory regrows "
            "from 20% to 45% over 20 minutes and CPU is high for 5 minutes",
            [
                Host(
                    "web-1",
                    down=[(UP - 80, UP)],
                    slow=[(UP + 5, 1.8), (UP + 15, 0.9)],
                    memory=lambda t: 45.0 if t < UP else 45.0 - 25.0 * math.exp(-(t - UP) / 400.0),
                    cpu=bumped(const(25.0), [(UP, UP + 300, 75.0)]),
                )
            ],
        ),
    ]


def held_out_3_real(
    nab: dict[str, Nab],
    *,
    linux: list[tuple[float, str]],
    apache: list[tuple[float, str]],
    hadoop: list[tuple[float, str]],
    cite_nab: Callable[[str], str],
    cite_log: Callable[[str], str],
) -> list[Scenario]:
    """Held-out-3 recordings on real data: the two NAB series the corpus did not use yet
    (an EC2 instance's network input, another EC2 instance's CPU), days outside NAB's labelled
    anomaly windows, and the Loghub logs spread or squeezed as the other halves never did."""
    net = nab["ec2_network_in_257a54"]
    cpu = nab["ec2_cpu_utilization_77c1ca"]
    net_median = max(1.0, net.median())

    def traffic_of(offset: float, mean: float) -> Curve:
        """Network input as requests/s around ``mean``, its rare huge spikes capped at 5x."""
        raw = net.curve(offset, scale=mean / net_median)
        return lambda t: min(5.0 * mean, max(0.5, raw(t)))

    def squeezed(lines: list[tuple[float, str]], length: float) -> list[tuple[float, str]]:
        """A whole real log, in its order and relative spacing, spread over ``length`` s."""
        first, last = lines[0][0], lines[-1][0]
        span = (last - first) or 1.0
        return [((t - first) / span * length, "@raw " + line) for t, line in lines]

    out: list[Scenario] = []

    def add(scenario: Scenario) -> None:
        scenario.half = HELD_OUT_3
        scenario.origin = "shared-data"
        out.append(scenario)

    up = 4 * HOUR
    traffic = traffic_of(1 * DAY, 30.0)
    add(
        Scenario(
            "fault-errors-network-real",
            "metrics-error-ratio",
            "web-1's traffic follows a real EC2 instance's network input (NAB, day 1, about 30 "
            "requests/s, spikes capped at 5x); 10 minutes after its upgrade the request error "
            "ratio goes from 0.2% to 1.8% (a retry storm against one backend); health stays 200",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    traffic=traffic,
                    error_ratio=after(const(0.002), up + 600, const(0.018)),
                )
            ],
            duration=7 * HOUR,
            faults=[fault("web-1", up + 600, "request errors")],
            sources=[cite_nab("ec2_network_in_257a54")],
        )
    )
    cpu_curve = cpu.curve(2 * DAY)
    add(
        Scenario(
            "fault-p99-cpu-real",
            "metrics-latency-quantile",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_77c1ca, day 2: idle "
            "with bursts to 100%) and its p99 rises with it; 4 minutes after the upgrade p99 is "
            "2.2 times what the CPU alone would give",
            [
                Host(
                    "web-1",
                    upgrades=[3 * HOUR],
                    cpu=cpu_curve,
                    p99=lambda t: (
                        (0.2 + 0.004 * cpu_curve(t)) * (2.2 if t >= 3 * HOUR + 240 else 1.0)
                    ),
                )
            ],
            duration=6 * HOUR,
            faults=[fault("web-1", 3 * HOUR + 240, "p99 latency")],
            sources=[cite_nab("ec2_cpu_utilization_77c1ca")],
        )
    )
    wander = net.wander(8 * DAY, amplitude=4.0)
    add(
        Scenario(
            "fault-memory-leak-network-real",
            "memory-leak",
            "web-1's memory wanders about 4 points with a real EC2 instance's network load (NAB, "
            "day 8, smoothed over an hour) around 48%; the upgrade leaks 2.5 points an hour",
            [
                Host(
                    "web-1",
                    upgrades=[2 * HOUR],
                    memory=lambda t: (
                        48.0 + wander(t) + (2.5 * (t - 2 * HOUR) / HOUR if t >= 2 * HOUR else 0.0)
                    ),
                )
            ],
            duration=14 * HOUR,
            faults=[fault("web-1", 2 * HOUR, "memory leak")],
            sources=[cite_nab("ec2_network_in_257a54")],
        )
    )
    kills = _irregular("oom-apache", UP + 330, UP + 3300, 240.0, 420.0)
    add(
        Scenario(
            "fault-oom-over-apache-real",
            "oom-repeated",
            "web-1's error log is the whole real Apache error log (Loghub, 2,000 lines squeezed "
            "into the 2 hours in their order); after the upgrade the kernel invokes the OOM "
            "killer every 4 to 7 minutes (one line each, 5.14 SLE cgroup wording, quoted); "
            "health checks unaffected",
            [
                Host(
                    "web-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=squeezed(apache, 2 * HOUR),
                    kernel=[x for t in kills for x in quoted_event(t, "oom-sle-memcg-invoked")],
                    memory=after(const(66.0), kills[0], const(90.0)),
                )
            ],
            faults=[fault("web-1", kills[0], "oom kills")],
            sources=[cite_log("Apache_2k.log"), *cites("oom-sle-memcg-invoked")],
        )
    )
    add(
        Scenario(
            "fault-unit-over-linux-real",
            "systemd-unit-failure",
            "db-1's syslog and kern.log are the whole real Linux syslog (Loghub, squeezed into 3 "
            "hours); after the upgrade a unit is killed by SIGSEGV at 8 minutes and four more "
            "times 6 minutes apart (quoted systemd lines)",
            [
                Host(
                    "db-1",
                    "db",
                    syslog=[
                        *squeezed(linux, 3 * HOUR),
                        *[
                            x
                            for k in range(5)
                            for x in quoted_unit(UP + 480 + 360 * k, "systemd-kiwix-signal")
                        ],
                    ],
                    kernel=[
                        (t, raw[5:].split("kernel: ", 1)[1])
                        for t, raw in squeezed(linux, 3 * HOUR)
                        if " kernel: " in raw
                    ],
                )
            ],
            duration=3 * HOUR,
            faults=[fault("db-1", UP + 480, "unit failed")],
            sources=[cite_log("Linux_2k.log"), *cites("systemd-kiwix-signal")],
        )
    )
    # -- healthy, on real data.
    add(
        Scenario(
            "healthy-cpu-bursts-real",
            "cron-cpu",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_77c1ca, day 9: idle "
            "with bursts to 100%) for 8 hours; p99 rises with it; healthy upgrade at 4 hours",
            [
                Host(
                    "web-1",
                    upgrades=[4 * HOUR],
                    cpu=(c9 := cpu.curve(9 * DAY)),
                    p99=lambda t: 0.2 + 0.004 * c9(t),
                )
            ],
            duration=8 * HOUR,
            sources=[cite_nab("ec2_cpu_utilization_77c1ca")],
        )
    )
    busy = traffic_of(10 * DAY, 40.0)
    add(
        Scenario(
            "healthy-traffic-network-real",
            "traffic-growth",
            "web-1's traffic follows a real EC2 instance's network input (NAB, day 10, about "
            "40 requests/s, spikes capped at 5x) for 8 hours; p99 and CPU follow the load; "
            "healthy upgrade at 3 hours",
            [
                Host(
                    "web-1",
                    upgrades=[3 * HOUR],
                    traffic=busy,
                    p99=lambda t: 0.18 + 0.003 * busy(t),
                    cpu=lambda t: 15.0 + 0.4 * busy(t),
                )
            ],
            duration=8 * HOUR,
            sources=[cite_nab("ec2_network_in_257a54")],
        )
    )
    add(
        Scenario(
            "healthy-hadoop-spread-real",
            "preexisting-errors",
            "batch-1's job log is the whole real Hadoop application log (Loghub) spread over the "
            "3 hours in its order (its ERROR and WARN lines before and after a healthy upgrade)",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=squeezed(hadoop, 3 * HOUR),
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Hadoop_2k.log")],
        )
    )
    add(
        Scenario(
            "healthy-linux-squeezed-real",
            "noisy-syslog",
            "web-1's syslog and kern.log are the whole real Linux syslog (Loghub, 2,000 lines "
            "squeezed into 2 hours: sshd failures, logrotate ALERTs, kernel lines); systemd "
            "restarts the unit for a healthy upgrade",
            [
                Host(
                    "web-1",
                    **restart_at(UP),
                    kernel=[
                        (t, raw[5:].split("kernel: ", 1)[1])
                        for t, raw in squeezed(linux, 2 * HOUR)
                        if " kernel: " in raw
                    ],
                )
            ],
            sources=[cite_log("Linux_2k.log")],
        )
    )
    out[-1].hosts[0].syslog.extend(squeezed(linux, 2 * HOUR))
    return out


# --------------------------------------------------------------------------- held-out-4

HELD_OUT_4 = "held-out-4"  # written during round 5, before the changes made after held-out-3


def _irregular4(seed: str, start: float, end: float, low: float, high: float) -> list[float]:
    """``_irregular`` for held-out-4's recordings (``held-out-4/<seed>``)."""
    return _irregular(seed, start, end, low, high, half="held-out-4")


def quoted_syslog(at: float, key: str, n: int = 0) -> list[tuple[float, str]]:
    """A quoted event whose lines carry their own process tag (``systemd-oomd[70]: ...``),
    written to syslog as they are; the ``n``-th repetition has its pids renumbered."""
    return [(at + i * 0.01, line) for i, line in enumerate(quoted.EVENTS[key].repeated(n))]


def rolled(started: float, finished: float, **host: Any) -> dict[str, Any]:
    """An upgrade run by ``rollsafe upgrade``: ``mark:upgrade_started`` at ``started`` (before
    the driver is called) and ``mark:upgrade`` at ``finished`` (after it returned)."""
    return {"started": [started], "upgrades": [finished], **host}


def held_out_4_faults() -> list[Scenario]:
    """Held-out-4 faults (synthetic and quoted): magnitudes, timings relative to the upgrade,
    upgrade runs with both marks, and kernel wordings the first four halves do not have."""
    out: list[Scenario] = []

    def add(name: str, family: str, description: str, hosts: list[Host], at: float, **kw: Any):
        target = hosts[0].target
        out.append(
            Scenario(
                name,
                family,
                description,
                hosts,
                faults=[fault(target, at, kw.pop("kind", family.replace("-", " ")))],
                half=HELD_OUT_4,
                **kw,
            )
        )

    # -- request errors that burn slowly after a restart inside a `rollsafe upgrade` run.
    add(
        "fault-errors-slow-burn-run",
        "metrics-error-ratio",
        "upgrade by `rollsafe upgrade` (upgrade_started 4 minutes before the upgrade mark; the "
        "service restarts in between, refused 25 s); on 15 requests/s, from 2 minutes after the "
        "upgrade mark the request error ratio climbs linearly from 0.3% to 1.5% over 20 minutes "
        "and stays (a connection leak: more and more requests find no free connection); the "
        "health check answers 200",
        [
            Host(
                "web-1",
                **rolled(UP - 240, UP),
                down=[(UP - 120, UP - 95)],
                traffic=const(15.0),
                error_ratio=ramp(UP + 120, 1200.0, 0.003, 0.015),
            )
        ],
        UP + 120,
        kind="request errors",
    )
    # -- p99 steps up 2.5x half a minute after a drain-and-swap run, with an untouched peer.
    add(
        "fault-p99-step-drained",
        "metrics-latency-quantile",
        "upgrade by `rollsafe upgrade`: web-1 is drained 90 s before the upgrade mark (traffic "
        "to 5%, then back), no refusal; 30 s after the upgrade mark its p99 goes from 0.18 s to "
        "0.45 s and stays (a new serializer); web-2, not upgraded, stays at 0.18 s",
        [
            Host(
                "web-1",
                **rolled(UP - 90, UP),
                traffic=bumped(const(50.0), [(UP - 90, UP, 2.5)]),
                p99=after(const(0.18), UP + 30, const(0.45)),
            ),
            Host("web-2", upgrades=[], traffic=const(50.0), p99=const(0.18)),
        ],
        UP + 30,
        kind="p99 latency",
    )
    # -- a reboot into the new kernel between the two marks, then slow health answers.
    add(
        "fault-latency-after-reboot-run",
        "latency-regression",
        "upgrade by `rollsafe upgrade` with a reboot between the marks (upgrade_started 3 "
        "minutes before the upgrade mark; down 70 s); after the reboot the health check answers "
        "in 110 ms instead of 40 ms (2.75x) and p99 doubles, for good (a power-saving default "
        "of the new kernel)",
        [
            Host(
                "web-1",
                **rolled(UP - 180, UP),
                down=[(UP - 100, UP - 30)],
                latency=after(const(0.04), UP - 30, const(0.11)),
                p99=after(const(0.22), UP - 30, const(0.44)),
                memory=lambda t: 45.0 if t < UP - 30 else 45.0 - 20.0 * math.exp(-(t - UP) / 600),
            )
        ],
        UP - 30,  # the first answer of the rebooted host is already slow
        kind="latency",
    )
    # -- OOM kills with the oom_reaper line, far apart; systemd-oomd killing a unit.
    kills = _irregular4("oom-reaper", UP + 500, UP + 5400, 540.0, 840.0)
    add(
        "fault-oom-reaper-sparse",
        "oom-repeated",
        "web-1's new release runs a python sidecar that is OOM-killed every 9 to 14 minutes "
        "from 8 minutes after the upgrade (5.x wording with the oom_reaper line, quoted); the "
        "sidecar restarts at once, no check fails; memory climbs from 55% to 85% five minutes "
        "before the first kill and stays there",
        [
            Host(
                "web-1",
                kernel=[
                    x for n, t in enumerate(kills) for x in quoted_event(t, "oom-reaper-python3", n)
                ],
                memory=after(const(55.0), kills[0] - 300, const(85.0)),
            )
        ],
        kills[0] - 300,  # memory climbs to 85% five minutes before the first kill
        duration=3 * HOUR,
        origin="quoted",
        sources=cites("oom-reaper-python3"),
        kind="oom kills",
    )
    kills = _irregular4("oomd", UP + 300, UP + 3300, 360.0, 540.0)
    add(
        "fault-oomd-kills-unit",
        "oom-repeated",
        "batch-1's new release uses more memory under pressure: systemd-oomd (userspace, no "
        "kernel line) kills its worker unit every 6 to 9 minutes from 5 minutes after the "
        "upgrade (quoted syslog lines); the runner check refuses 10 s each time; memory goes "
        "from 60% to 93% two minutes before the first kill",
        [
            _host(
                "batch-1",
                syslog=[
                    x for n, t in enumerate(kills) for x in quoted_syslog(t, "oomd-testbloat", n)
                ],
                down=[(t + 1, t + 11) for t in kills],
                memory=after(const(60.0), kills[0] - 120, const(93.0)),
            )
        ],
        kills[0] - 120,  # memory is pinned two minutes before the first kill
        origin="quoted",
        sources=cites("oomd-testbloat"),
        kind="oom kills",
    )
    # -- a panic of x86 in interrupt context, on a database, 12 minutes in.
    add(
        "fault-panic-irq-db",
        "kernel-panic",
        "db-1's new kernel panics 12 minutes after the upgrade (`Fatal exception in interrupt`, "
        "x86 5.2, with its end marker; quoted); the database is down 240 s while it reboots",
        [
            Host(
                "db-1",
                "db",
                kernel=quoted_event(UP + 720, "panic-fatal-irq-x86"),
                down=[(UP + 721, UP + 961)],
            )
        ],
        UP + 720,
        origin="quoted",
        sources=cites("panic-fatal-irq-x86"),
        kind="kernel panic",
    )
    # -- oopses: RISC-V paging request after a reboot run, a 6.1 NULL dereference, a 3.15 GPF.
    add(
        "fault-oops-riscv-run",
        "kernel-oops",
        "upgrade of batch-1 by `rollsafe upgrade` with a reboot between the marks (down 90 s); "
        "75 s after the upgrade mark its RISC-V kernel oopses on a paging request (quoted, "
        "`Oops [#1]` without an error code); jobs keep running",
        [
            _host(
                "batch-1",
                **rolled(UP - 200, UP),
                down=[(UP - 150, UP - 60)],
                kernel=quoted_event(UP + 75, "oops-riscv-paging"),
            )
        ],
        UP + 75,
        origin="quoted",
        sources=cites("oops-riscv-paging"),
        kind="kernel oops",
    )
    add(
        "fault-oops-null-6x",
        "kernel-oops",
        "web-1's 6.1 kernel dereferences a NULL pointer in a kernel thread 20 minutes after the "
        "upgrade (with the `#PF:` lines, quoted); the service keeps answering",
        [Host("web-1", kernel=[*BENIGN_KERNEL, *quoted_event(UP + 1200, "oops-null-6x-xenbus")])],
        UP + 1200,
        origin="quoted",
        sources=cites("oops-null-6x-xenbus"),
        kind="kernel oops",
    )
    add(
        "fault-gpf-3x-twice",
        "kernel-oops",
        "db-1 runs a 3.15 kernel: a general protection fault in kernel mode (no word `Oops`, "
        "quoted) 15 minutes after the upgrade and again 25 minutes later",
        [
            Host(
                "db-1",
                "db",
                kernel=[
                    *quoted_event(UP + 900, "gpf-3x-cron"),
                    *quoted_event(UP + 2400, "gpf-3x-cron", 1),
                ],
            )
        ],
        UP + 900,
        origin="quoted",
        sources=cites("gpf-3x-cron"),
        kind="kernel oops",
    )
    # -- soft lockups: an RCU stall then a lockup on a web host; a kworker stuck three times.
    add(
        "fault-lockup-rcu-stall",
        "soft-lockup",
        "8 minutes after web-1's upgrade a CPU stops: an RCU stall report, then `watchdog: BUG: "
        "soft lockup` (quoted); the health checks during the stall take 3 to 5 s and p99 is 6 s "
        "for 2 minutes",
        [
            Host(
                "web-1",
                kernel=quoted_event(UP + 600, "lockup-rcu-kvm"),
                slow=[(UP + 480 + 10 * k, 3.0 + 0.2 * k) for k in range(12)],
                p99=bumped(const(0.22), [(UP + 480, UP + 600, 6.0)]),
            )
        ],
        UP + 480,  # the CPU stalls from then; the kernel reports it at UP + 600
        origin="quoted",
        sources=cites("lockup-rcu-kvm"),
        kind="soft lockup",
    )
    add(
        "fault-lockup-kworker-thrice",
        "soft-lockup",
        "batch-1's new kernel: a kworker is stuck 3 minutes after the upgrade and again every "
        "4 minutes, three reports in all (quoted); the runner check is unaffected",
        [
            _host(
                "batch-1",
                kernel=[
                    x
                    for t in (180, 420, 660)
                    for x in quoted_event(UP + t, "lockup-kworker-openrisc")
                ],
            )
        ],
        UP + 180,
        origin="quoted",
        sources=cites("lockup-kworker-openrisc"),
        kind="soft lockup",
    )
    # -- hung tasks: the 122-second wording of newer kernels, twice; an old kernel, thrice.
    add(
        "fault-hung-122s-db",
        "hung-task",
        "db-1's new kernel: a kworker blocks on writeback 28 minutes after the upgrade; the "
        "kernel reports it after 122 s and again 2 minutes later (5.18 wording with "
        "`task:... state:D`, quoted); query p99 is 20 times higher meanwhile",
        [
            Host(
                "db-1",
                "db",
                kernel=[
                    *quoted_event(UP + 1800, "hung-sof-kworker-122"),
                    *quoted_event(UP + 1920, "hung-sof-kworker-122"),
                ],
                query_latency=bumped(const(0.012), [(UP + 1678, UP + 2040, 0.25)]),
            )
        ],
        UP + 1678,  # blocked 122 s before the first report
        duration=3 * HOUR,
        origin="quoted",
        sources=cites("hung-sof-kworker-122"),
        kind="hung task",
    )
    add(
        "fault-hung-old-thrice",
        "hung-task",
        "web-1's game-server process blocks in the kernel 4 minutes after the upgrade; an old "
        "kernel reports it three times, 2 minutes apart (quoted: no `Not tainted` line); health "
        "checks keep answering (another worker serves them)",
        [
            Host(
                "web-1",
                kernel=[x for t in (360, 480, 600) for x in quoted_event(UP + t, "hung-ddnet-old")],
            )
        ],
        UP + 240,  # blocked 120 s before the first report
        origin="quoted",
        sources=cites("hung-ddnet-old"),
        kind="hung task",
    )
    # -- segfault loops: one line every 6 to 10 minutes; two lines every 1.5 to 2.5 minutes.
    crashes = _irregular4("rspamd", UP + 420, UP + 6000, 360.0, 600.0)
    add(
        "fault-segfault-slow-loop",
        "segfault-loop",
        "a mail filter on web-1 segfaults in libc every 6 to 10 minutes from 7 minutes after "
        "the upgrade (one line each, quoted from a report whose crashes came 6 and 10 minutes "
        "apart); its supervisor restarts it",
        [
            Host(
                "web-1",
                kernel=[
                    x for n, t in enumerate(crashes) for x in quoted_event(t, "segv-rspamd-libc", n)
                ],
            )
        ],
        crashes[0],
        duration=3 * HOUR,
        origin="quoted",
        sources=cites("segv-rspamd-libc"),
        kind="segfault loop",
    )
    crashes = _irregular4("tokio", UP + 60, UP + 2400, 90.0, 150.0)
    add(
        "fault-segfault-code-lines",
        "segfault-loop",
        "an async worker on batch-1 segfaults every 1.5 to 2.5 minutes from a minute after the "
        "upgrade (6.x: the segfault line with `likely on CPU` and a `Code:` line, quoted)",
        [
            _host(
                "batch-1",
                kernel=[
                    x for n, t in enumerate(crashes) for x in quoted_event(t, "segv-tokio-code", n)
                ],
            )
        ],
        crashes[0],
        origin="quoted",
        sources=cites("segv-tokio-code"),
        kind="segfault loop",
    )
    # -- an outage just over down_for, twice, on a database, after a run with both marks.
    add(
        "fault-outage-db-twice-run",
        "outage-near-down-for",
        "upgrade of db-1 by `rollsafe upgrade` (postgres restarts between the marks, refused "
        "20 s); 6 minutes after the upgrade mark the port refuses for 35 s, and again for 35 s "
        "17 minutes later (the new release's checkpointer stalls the postmaster)",
        [
            Host(
                "db-1",
                "db",
                **rolled(UP - 60, UP),
                down=[(UP - 40, UP - 20), (UP + 360, UP + 395), (UP + 1380, UP + 1415)],
            )
        ],
        UP + 360,
        kind="outage",
    )
    # -- data going bad after a reboot run; a fast leak; a crash that never comes back.
    add(
        "fault-data-after-reboot-run",
        "data-mismatch",
        "upgrade of db-1 by `rollsafe upgrade` with a reboot between the marks (down 100 s); "
        "the replica comes back on a new timeline and rows written from 5 minutes after the "
        "upgrade mark never reach it",
        [
            Host(
                "db-1",
                "db",
                **rolled(UP - 240, UP),
                down=[(UP - 160, UP - 60)],
                data_bad_from=UP + 300,
            )
        ],
        UP + 300,
        kind="data mismatch",
    )
    add(
        "fault-memory-leak-fast",
        "memory-leak",
        "the new release on web-1 leaks 12 points of memory an hour from 38%: memory would run "
        "out about 5 hours later; nothing else shows for the first hours",
        [Host("web-1", memory=lambda t: 38.0 + max(0.0, t - UP) / HOUR * 12.0)],
        UP,
        duration=4 * HOUR,
        kind="memory leak",
    )
    add(
        "fault-crash-never-starts-run",
        "crash",
        "upgrade of web-1 by `rollsafe upgrade`: the service stops 30 s after upgrade_started "
        "and the new release never starts (a missing shared library): refused from then on; "
        "the upgrade mark comes 2 minutes after upgrade_started",
        [
            Host(
                "web-1",
                **rolled(UP - 120, UP),
                down=[(UP - 90, 99 * HOUR)],
                syslog=[
                    (UP - 90, "systemd[1]: Stopping app.service - Application server..."),
                    (UP - 2, "systemd[1]: Starting app.service - Application server..."),
                ],
            )
        ],
        UP,  # the refusal before the upgrade mark is the planned stop; the new one never answers
        kind="crash",
    )
    return out


def held_out_4_healthy() -> list[Scenario]:
    """Held-out-4 healthy recordings (synthetic and quoted): warm-ups inside upgrade runs,
    noise shapes and single events in wordings the other halves do not have."""

    def healthy(name: str, family: str, description: str, hosts: list[Host], **kw: Any):
        return Scenario(name, family, description, hosts, half=HELD_OUT_4, **kw)

    return [
        healthy(
            "healthy-warmup-inside-run",
            "warmup-restart",
            "upgrade by `rollsafe upgrade` (upgrade_started 3 minutes before the upgrade mark; "
            "the service restarts in between, refused 45 s); after the upgrade mark p99 starts "
            "2.5 times higher and decays with a time constant of 6 minutes, 1% of requests fail "
            "for 90 s",
            [
                Host(
                    "web-1",
                    **rolled(UP - 180, UP),
                    down=[(UP - 60, UP - 15)],
                    p99=decaying(UP - 15, 0.22, 0.55, 360.0),
                    error_ratio=bumped(const(0.003), [(UP - 15, UP + 75, 0.01)]),
                    cpu=bumped(const(25.0), [(UP - 15, UP + 300, 70.0)]),
                )
            ],
        ),
        healthy(
            "healthy-db-reboot-run",
            "warmup-restart",
            "upgrade of db-1 by `rollsafe upgrade` with a reboot between the marks (down 150 s); "
            "query p99 starts 8 times higher (cold buffers) and settles with a time constant of "
            "4 minutes; memory regrows from 30% to 70%",
            [
                Host(
                    "db-1",
                    "db",
                    **rolled(UP - 300, UP),
                    down=[(UP - 200, UP - 50)],
                    query_latency=decaying(UP - 50, 0.012, 0.096, 240.0),
                    memory=lambda t: (
                        70.0 if t < UP - 50 else 70.0 - 40.0 * math.exp(-(t - UP + 50) / 900.0)
                    ),
                )
            ],
        ),
        healthy(
            "healthy-warmup-tiered",
            "warmup-restart",
            "web-1 restarts for an upgrade run by an external tool followed by `rollsafe mark "
            "upgrade` (one mark); its caches fill in tiers: p99 3 times higher for 4 minutes, "
            "1.8 times for 6 more, then normal; health checks 2 times slower for 4 minutes",
            [
                Host(
                    "web-1",
                    **restart_at(UP, refused=10.0),
                    p99=bumped(const(0.2), [(UP, UP + 240, 0.6), (UP + 240, UP + 600, 0.36)]),
                    latency=bumped(const(0.04), [(UP, UP + 240, 0.08)]),
                )
            ],
        ),
        healthy(
            "healthy-cron-hourly",
            "cron-cpu",
            "an hourly job pins web-1's CPU at 95% for 6 minutes on the hour (one of them a "
            "minute after the upgrade), and p99 is 30% higher meanwhile",
            [
                Host(
                    "web-1",
                    upgrades=[2 * HOUR - 60],
                    cpu=lambda t: 95.0 if (t % HOUR) < 360 else 25.0,
                    p99=lambda t: 0.286 if (t % HOUR) < 360 else 0.22,
                    cpu_noise=2.0,
                )
            ],
            duration=4 * HOUR,
        ),
        healthy(
            "healthy-health-probe-gap",
            "monitoring-gap",
            "the health probe of web-1 cannot resolve the host for 4 minutes from a minute after "
            "the upgrade (DNS), then Prometheus is unreachable for 12 minutes from 15 minutes "
            "after it",
            [
                Host(
                    "web-1",
                    gaps={
                        "health": [(UP + 60, UP + 300)],
                        "prometheus": [(UP + 900, UP + 1620)],
                    },
                )
            ],
        ),
        healthy(
            "healthy-dependency-outage-fleet",
            "dependency-blip",
            "a shared dependency fails for 8 minutes 25 minutes after web-1's upgrade, seen by "
            "web-1 and by web-2 (not upgraded) alike: 20% of requests and 25% of health checks "
            "fail, p99 4 s, 30 error lines a minute",
            [
                Host(
                    "web-1",
                    p99=bumped(const(0.22), [(UP + 1500, UP + 1980, 4.0)]),
                    error_ratio=bumped(const(0.003), [(UP + 1500, UP + 1980, 0.2)]),
                    health_5xx=bumped(const(0.0), [(UP + 1500, UP + 1980, 0.25)]),
                    errors_per_minute=bumped(const(0.05), [(UP + 1500, UP + 1980, 30.0)]),
                ),
                Host(
                    "web-2",
                    upgrades=[],
                    p99=bumped(const(0.22), [(UP + 1500, UP + 1980, 4.0)]),
                    error_ratio=bumped(const(0.003), [(UP + 1500, UP + 1980, 0.2)]),
                    health_5xx=bumped(const(0.0), [(UP + 1500, UP + 1980, 0.25)]),
                    errors_per_minute=bumped(const(0.05), [(UP + 1500, UP + 1980, 30.0)]),
                ),
            ],
        ),
        healthy(
            "healthy-gc-slow-sawtooth",
            "gc-sawtooth",
            "a JVM on web-1 saw-tooths by 30 points every 40 minutes from 40%, before and after "
            "a healthy upgrade",
            [Host("web-1", memory=lambda t: 40.0 + 30.0 * ((t / (40 * MINUTE)) % 1.0))],
            duration=10 * HOUR,
        ),
        healthy(
            "healthy-traffic-doubles",
            "traffic-growth",
            "a campaign starts with web-1's upgrade: traffic doubles over 2 hours (30 -> 60 "
            "requests/s), p99 +40% and CPU 25 -> 55% with it; the error ratio unchanged",
            [
                Host(
                    "web-1",
                    traffic=ramp(UP, 2 * HOUR, 30.0, 60.0),
                    p99=ramp(UP, 2 * HOUR, 0.22, 0.31),
                    cpu=ramp(UP, 2 * HOUR, 25.0, 55.0),
                )
            ],
            duration=4 * HOUR,
        ),
        healthy(
            "healthy-flapping-two-hosts",
            "flapping-alert",
            "a latency alert flaps on web-1 and web-2 (not upgraded) alike, every 2 to 6 minutes "
            "for an hour from 30 minutes before web-1's upgrade",
            [
                Host("web-1", alerts=_flapping("h4-flap-1", UP - 1800, UP + 1800)),
                Host("web-2", upgrades=[], alerts=_flapping("h4-flap-2", UP - 1750, UP + 1850)),
            ],
        ),
        healthy(
            "healthy-reload-after-mark",
            "restart-blip",
            "web-1 is upgraded by an external tool followed by `rollsafe mark upgrade` (one "
            "mark, no refusal); 5 minutes later a config reload refuses 8 s and logs 3 errors",
            [
                Host(
                    "web-1",
                    down=[(UP + 300, UP + 308)],
                    app_lines=[
                        (UP + 300 + k, "ERROR [main] app.server: request aborted by reload")
                        for k in range(3)
                    ],
                    syslog=[
                        (UP + 299, "systemd[1]: Reloading app.service - Application server...")
                    ],
                )
            ],
        ),
        healthy(
            "healthy-single-oom-reaper",
            "single-oom",
            "a cron python job on web-1 is OOM-killed once 20 minutes after a healthy upgrade "
            "(5.x wording with the oom_reaper line, quoted); nothing else changes",
            [Host("web-1", kernel=quoted_event(UP + 1200, "oom-reaper-python3"))],
            origin="quoted",
            sources=cites("oom-reaper-python3"),
        ),
        healthy(
            "healthy-single-oomd-kill",
            "single-unit-failure",
            "systemd-oomd kills a test unit on batch-1 once, 5 minutes after a healthy upgrade "
            "(quoted syslog lines); the job is retried",
            [_host("batch-1", syslog=quoted_syslog(UP + 300, "oomd-testbloat"))],
            origin="quoted",
            sources=cites("oomd-testbloat"),
        ),
        healthy(
            "healthy-single-segfault-libc",
            "single-segfault",
            "a web terminal helper on web-1 segfaults once in libc 4 minutes after a healthy "
            "upgrade (quoted, a 2.6.32-era libc); it is restarted on demand",
            [Host("web-1", kernel=quoted_event(UP + 240, "segv-shellinabox-once"))],
            origin="quoted",
            sources=cites("segv-shellinabox-once"),
        ),
        healthy(
            "healthy-hourly-segfaults",
            "preexisting-errors",
            "the same helper on web-1 has segfaulted about once an hour for days (quoted line, "
            "new pid each time): twice in the hour before the upgrade, twice in the 2 hours "
            "after; the upgrade changes nothing",
            [
                Host(
                    "web-1",
                    kernel=[
                        x
                        for n, t in enumerate((1000.0, 3100.0, UP + 1900, UP + 5500))
                        for x in quoted_event(t, "segv-shellinabox-once", n)
                    ],
                )
            ],
            duration=3 * HOUR,
            origin="quoted",
            sources=cites("segv-shellinabox-once"),
        ),
    ]


def held_out_4_real(
    nab: dict[str, Nab],
    *,
    linux: list[tuple[float, str]],
    apache: list[tuple[float, str]],
    hadoop: list[tuple[float, str]],
    cite_nab: Callable[[str], str],
    cite_log: Callable[[str], str],
) -> list[Scenario]:
    """Held-out-4 recordings on real data: days of the least used NAB series
    (``ec2_cpu_utilization_24ae8d``, ``ec2_cpu_utilization_53ea38``,
    ``ec2_disk_write_bytes_1ef3de``) outside their labelled anomaly windows, and the Loghub
    logs cut in windows the other halves did not use."""
    c24 = nab["ec2_cpu_utilization_24ae8d"]
    c53 = nab["ec2_cpu_utilization_53ea38"]
    disk = nab["ec2_disk_write_bytes_1ef3de"]
    out: list[Scenario] = []

    def add(scenario: Scenario) -> None:
        scenario.half = HELD_OUT_4
        scenario.origin = "shared-data"
        out.append(scenario)

    def window(lines: list[tuple[float, str]], start: int, length: float, at: float = 0.0):
        """Lines from the ``start``-th on, ``length`` seconds of them, placed at ``at``."""
        first = lines[start][0]
        return placed(lines, first, length, at)

    stretch = stretched

    # -- request errors while traffic follows a real CPU series (day 2, load as requests).
    lvl = c24.level(2 * DAY, smooth=30 * MINUTE)
    traffic = lambda t: 10.0 + 50.0 * min(1.5, max(0.0, lvl(t)))  # noqa: E731
    up = 3 * HOUR
    add(
        Scenario(
            "fault-errors-real-load",
            "metrics-error-ratio",
            "web-1's traffic follows a real EC2 instance's CPU load (NAB ec2_cpu_utilization_"
            "24ae8d, day 2, smoothed over 30 minutes, as 10 to 85 requests/s); 7 minutes after "
            "its upgrade the request error ratio goes from 0.3% to 2.2% (one endpoint fails); "
            "health stays 200",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    traffic=traffic,
                    error_ratio=after(const(0.003), up + 420, const(0.022)),
                    cpu=lambda t: 15.0 + 0.5 * traffic(t),
                )
            ],
            duration=6 * HOUR,
            faults=[fault("web-1", up + 420, "request errors")],
            sources=[cite_nab("ec2_cpu_utilization_24ae8d")],
        )
    )
    # -- a database's query p99 that wanders with real disk writes, then creeps 3x.
    dw = disk.wander(12 * DAY, amplitude=0.25, smooth=30 * MINUTE)
    add(
        Scenario(
            "fault-query-creep-real",
            "metrics-latency-quantile",
            "db-1's query p99 wanders with a real EC2 instance's disk writes (NAB ec2_disk_write_"
            "bytes_1ef3de, day 12, smoothed over 30 minutes, +-25% around 15 ms); from 10 "
            "minutes after the upgrade it creeps to 3 times that over 15 minutes (a plan "
            "regression as statistics go stale)",
            [
                Host(
                    "db-1",
                    "db",
                    upgrades=[2 * HOUR],
                    query_latency=lambda t: (
                        0.015 * (1.0 + dw(t)) * ramp(2 * HOUR + 600, 900.0, 1.0, 3.0)(t)
                    ),
                )
            ],
            duration=5 * HOUR,
            faults=[fault("db-1", 2 * HOUR + 600, "query p99")],
            sources=[cite_nab("ec2_disk_write_bytes_1ef3de")],
        )
    )
    # -- a slow leak over a real wander, 16 hours.
    mw = c53.wander(2 * DAY, amplitude=3.0)
    add(
        Scenario(
            "fault-memory-leak-real-slow",
            "memory-leak",
            "batch-1's memory wanders about 3 points with a real EC2 instance's CPU load (NAB "
            "ec2_cpu_utilization_53ea38, day 2, smoothed over an hour) around 50%; the upgrade "
            "leaks 1.5 points an hour",
            [
                _host(
                    "batch-1",
                    upgrades=[2 * HOUR],
                    memory=lambda t: (
                        50.0 + mw(t) + (1.5 * (t - 2 * HOUR) / HOUR if t >= 2 * HOUR else 0.0)
                    ),
                )
            ],
            duration=16 * HOUR,
            faults=[fault("batch-1", 2 * HOUR, "memory leak")],
            sources=[cite_nab("ec2_cpu_utilization_53ea38")],
        )
    )
    # -- a segfault loop (two wordings of one plugin) over real Linux syslog noise.
    crashes = _irregular4("ipmi", UP + 150, UP + 3300, 200.0, 420.0)
    sshd_noise = stretch(linux, 1200, 400, 2 * HOUR)  # sshd and su failures, no kernel line
    add(
        Scenario(
            "fault-segfault-ipmi-over-linux-real",
            "segfault-loop",
            "web-1's syslog is real Linux syslog (Loghub, its lines 1,200 to 1,599, mostly sshd "
            "authentication failures, stretched over 2 hours in their order and spacing); after "
            "the upgrade a monitoring plugin crashes every 3.5 to 7 "
            "minutes from 150 s on, alternately `segfault at` and `traps: ... general protection "
            "fault` (quoted)",
            [
                Host(
                    "web-1",
                    syslog=sshd_noise,
                    kernel=alternating(crashes, "segv-ipmi-sensors", "gp-ipmi-sel"),
                )
            ],
            faults=[fault("web-1", crashes[0], "segfault loop")],
            sources=[cite_log("Linux_2k.log"), *cites("segv-ipmi-sensors", "gp-ipmi-sel")],
        )
    )
    # -- a unit killed again and again over the real Hadoop job log.
    add(
        Scenario(
            "fault-unit-killed-over-hadoop-real",
            "systemd-unit-failure",
            "batch-1's job log holds a real job run: the whole Hadoop application log (Loghub, "
            "2,000 lines over its own 9 minutes, WARN and ERROR lines included) from 30 minutes "
            "before the upgrade; after the upgrade a helper unit is killed (SIGKILL) 4 minutes "
            "in and every 3 minutes after, eight times (quoted systemd lines)",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=window(hadoop, 0, HOUR, at=UP - 30 * MINUTE),
                    syslog=[
                        x
                        for k in range(8)
                        for x in quoted_unit(UP + 240 + 180 * k, "systemd-testchill-kill")
                    ],
                )
            ],
            faults=[fault("batch-1", UP + 240, "unit failed")],
            sources=[cite_log("Hadoop_2k.log"), *cites("systemd-testchill-kill")],
        )
    )
    # -- healthy, on real data.
    cpu2 = c24.curve(3 * DAY)
    add(
        Scenario(
            "healthy-cpu-day-real",
            "daily-cycle",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_24ae8d, day 3) for 10 "
            "hours, p99 follows it; healthy upgrade at 5 hours",
            [
                Host(
                    "web-1",
                    upgrades=[5 * HOUR],
                    cpu=cpu2,
                    p99=lambda t: 0.2 + 0.003 * cpu2(t),
                )
            ],
            duration=10 * HOUR,
            sources=[cite_nab("ec2_cpu_utilization_24ae8d")],
        )
    )
    lvl53 = c53.level(1 * DAY, smooth=20 * MINUTE)
    drop = lambda t: 60.0 * max(0.1, min(1.5, lvl53(t)))  # noqa: E731
    add(
        Scenario(
            "healthy-traffic-real-swings",
            "traffic-growth",
            "web-1's traffic follows a real EC2 instance's CPU load (NAB ec2_cpu_utilization_"
            "53ea38, day 1, smoothed over 20 minutes, 6 to 90 requests/s: rises and drops); "
            "p99 and CPU follow it; healthy upgrade at 3 hours",
            [
                Host(
                    "web-1",
                    upgrades=[3 * HOUR],
                    traffic=drop,
                    p99=lambda t: 0.18 + 0.002 * drop(t),
                    cpu=lambda t: 12.0 + 0.6 * drop(t),
                )
            ],
            duration=7 * HOUR,
            sources=[cite_nab("ec2_cpu_utilization_53ea38")],
        )
    )
    cw = disk.wander(14 * DAY, amplitude=2.5)
    add(
        Scenario(
            "healthy-cache-real-wander",
            "cache-growth",
            "web-1's memory wanders with a real EC2 instance's disk writes (NAB ec2_disk_write_"
            "bytes_1ef3de, day 14) around 50%; the new release's cache grows 10 points over the "
            "first 80 minutes after the upgrade, then stays",
            [
                Host(
                    "web-1",
                    upgrades=[2 * HOUR],
                    memory=lambda t: 50.0 + cw(t) + ramp(2 * HOUR, 80 * MINUTE, 0.0, 10.0)(t),
                )
            ],
            duration=9 * HOUR,
            sources=[cite_nab("ec2_disk_write_bytes_1ef3de")],
        )
    )
    errors_only = [x for x in apache if "[error]" in x[1]]
    first, last = errors_only[0][0], errors_only[-1][0]
    spread = [
        ((t - first) / ((last - first) or 1.0) * 6 * HOUR, "@raw " + line)
        for t, line in errors_only
    ]
    add(
        Scenario(
            "healthy-apache-errors-spread-real",
            "preexisting-errors",
            "web-1's error log is every `[error]` line of the real Apache error log (Loghub), "
            "spread over 6 hours in its order and spacing (bursts and lulls alike); healthy "
            "upgrade at 3 hours",
            [
                Host(
                    "web-1",
                    upgrades=[3 * HOUR],
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=spread,
                )
            ],
            duration=6 * HOUR,
            sources=[cite_log("Apache_2k.log")],
        )
    )
    add(
        Scenario(
            "healthy-linux-late-window-real",
            "noisy-syslog",
            "db-1's syslog and kern.log are real Linux syslog (Loghub, its last 400 lines: ftpd "
            "and sshd noise and a whole boot sequence of 76 kernel lines, stretched over 2 hours "
            "in their order and spacing); a healthy upgrade by `rollsafe upgrade` restarts "
            "postgres between the marks (refused 15 s)",
            [
                Host(
                    "db-1",
                    "db",
                    **rolled(UP - 120, UP),
                    down=[(UP - 60, UP - 45)],
                    syslog=stretch(linux, 1600, 400, 2 * HOUR),
                    kernel=[
                        (t, raw[5:].split("kernel: ", 1)[1])
                        for t, raw in stretch(linux, 1600, 400, 2 * HOUR)
                        if " kernel: " in raw
                    ],
                )
            ],
            sources=[cite_log("Linux_2k.log")],
        )
    )
    return out


# --------------------------------------------------------------------------- the corpus


def _held_out_5() -> Any:
    """corpus/held_out_5.py, imported when first needed: it imports this module (as
    ``build``), so it can only be loaded once this one is."""
    import held_out_5

    return held_out_5


def _held_out_6() -> Any:
    """corpus/held_out_6.py (round 7's half), imported when first needed, as held_out_5."""
    import held_out_6

    return held_out_6


def _held_out_7() -> Any:
    """corpus/held_out_7.py (round 8's half), imported when first needed, as held_out_5."""
    import held_out_7

    return held_out_7


def _held_out_8() -> Any:
    """corpus/held_out_8.py (round 9's half), imported when first needed, as held_out_5."""
    import held_out_8

    return held_out_8


def _held_out_9() -> Any:
    """corpus/held_out_9.py (round 10's half), imported when first needed, as held_out_5."""
    import held_out_9

    return held_out_9


def _held_out_10() -> Any:
    """corpus/held_out_10.py (round 11's half), imported when first needed, as held_out_5."""
    import held_out_10

    return held_out_10


def _held_out_11() -> Any:
    """corpus/held_out_11.py (round 12's half), imported when first needed, as held_out_5."""
    import held_out_11

    return held_out_11


def _held_out_12() -> Any:
    """corpus/held_out_12.py (round 13's half), imported when first needed, as held_out_5."""
    import held_out_12

    return held_out_12


def committed_scenarios() -> list[Scenario]:
    return [
        *metrics_errors(),
        *metrics_latency(),
        *oom_repeated(),
        *oom_quoted(),
        *slow_latency(),
        *memory_leak(),
        *outage_near_down_for(),
        *crash_stays_down(),
        *kernel_families(),
        *segfault_loops(),
        *systemd_failures(),
        *data_mismatch(),
        *healthy_synthetic(),
        *memory_trends(),
        *held_out_3_faults(),  # after the older generators: their draws never move
        *held_out_3_healthy(),
        *held_out_4_faults(),  # after held-out-3: the draws of every older recording stay
        *held_out_4_healthy(),
        *_held_out_5().faults(),  # corpus/held_out_5.py: round 6's half, its own seeded draws
        *_held_out_5().healthy(),
        *_held_out_6().faults(),  # corpus/held_out_6.py: round 7's half, its own seeded draws
        *_held_out_6().healthy(),
        *_held_out_7().faults(),  # corpus/held_out_7.py: round 8's half, its own seeded draws
        *_held_out_7().healthy(),
        *_held_out_8().faults(),  # corpus/held_out_8.py: round 9's half, its own seeded draws
        *_held_out_8().healthy(),
        *_held_out_9().faults(),  # corpus/held_out_9.py: round 10's half, its own seeded draws
        *_held_out_9().healthy(),
        *_held_out_10().faults(),  # corpus/held_out_10.py: round 11's half, its own seeded draws
        *_held_out_10().healthy(),
        *_held_out_11().faults(),  # corpus/held_out_11.py: round 12's half, its own seeded draws
        *_held_out_11().healthy(),
        *_held_out_12().faults(),  # corpus/held_out_12.py: round 13's half, its own seeded draws
        *_held_out_12().healthy(),
    ]


def halves(scenarios: Iterable[Scenario]) -> dict[str, str]:
    """The fixed split (module notes): per family, in name order, odd positions design.

    A recording with its own ``half`` (``held-out-2``) keeps it and takes no position, so
    adding one never moves another recording between the first two halves.
    """
    by_family: dict[str, list[str]] = {}
    out = {}
    for scenario in scenarios:
        if scenario.half is not None:
            out[scenario.name] = scenario.half
            continue
        by_family.setdefault(scenario.family, []).append(scenario.name)
    for names in by_family.values():
        for position, name in enumerate(sorted(names)):
            out[name] = "design" if position % 2 == 0 else "held-out"
    return out


def _committed_halves() -> dict[str, str]:
    """The design / held-out half of every recording, as the repository's manifest fixed it."""
    document = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return {str(entry["name"]): str(entry["half"]) for entry in document["recordings"]}


def all_scenarios(data: Path | None) -> list[Scenario]:
    scenarios = committed_scenarios()
    if data is not None:
        scenarios += shared_scenarios(data)
    return scenarios


def manifest(scenarios: list[Scenario], split: dict[str, str]) -> dict[str, Any]:
    entries = []
    for s in sorted(scenarios, key=lambda s: s.name):
        entries.append(  # noqa: PERF401
            {
                "name": s.name,
                "file": f"{s.name}.jsonl.gz",
                "family": s.family,
                "label": "healthy" if s.healthy else "fault",
                "faults": [
                    {"target": f.target, "offset_s": f.start, "kind": f.kind} for f in s.faults
                ],
                "targets": [h.target for h in s.hosts],
                "half": split[s.name],
                "origin": s.origin,
                "committed": s.origin != "shared-data",
                "duration_s": s.duration,
                "sources": s.sources,
                "description": s.description,
            }
        )
    return {
        "format": "rollsafe-corpus-manifest",
        "version": 1,
        "split_rule": "within each family, in name order: 1st, 3rd, 5th... design; 2nd, 4th... "
        "held-out (fixed before any tuning); recordings added after the held-out half had been "
        "seen are in held-out-2 and take no position; held-out-3 recordings were written after "
        "the judge of round 5 was designed and before any tuning on them; they take no position; "
        "held-out-4 recordings were written during round 5, while rules were being changed in "
        "response to held-out-3 and before those changes; they take no position; held-out-5 "
        "recordings (corpus/held_out_5.py) were written in round 6 by a helper that changed no "
        "rule, never tuned on; they take no position; held-out-6 recordings "
        "(corpus/held_out_6.py) were written in round 7 by a helper that changed no rule, while "
        "others changed rules without seeing them, never tuned on; they take no position; "
        "held-out-7 recordings (corpus/held_out_7.py) were written in round 8 the same way, "
        "never tuned on; they take no position; held-out-8 recordings (corpus/held_out_8.py) "
        "were written in round 9 the same way, never tuned on; they take no position; held-out-9 "
        "recordings (corpus/held_out_9.py) were written in round 10 the same way, never tuned "
        "on; they take no position; held-out-10 recordings (corpus/held_out_10.py) were written "
        "in round 11 the same way, never tuned on nor replayed by their writer; they take no "
        "position; held-out-11 recordings (corpus/held_out_11.py) were written in round 12 the "
        "same way, never tuned on nor replayed by their writer, and their web hosts carry "
        "http-requests too; they take no position; held-out-12 recordings "
        "(corpus/held_out_12.py) were written in round 13 the same way, never tuned on nor "
        "replayed by their writer (fleets under the same traffic, days of history, faults "
        "that begin hours late); they take no position",
        "recordings": entries,
    }


def compressed(text: str, name: str) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return buffer.getvalue()


def build(out: Path | None, *, check: bool, data: Path | None) -> int:
    scenarios = all_scenarios(data)
    names = [s.name for s in scenarios]
    if len(names) != len(set(names)):
        raise ValueError("recording names must be unique")
    # The split is computed over the whole corpus (real-data recordings included) when the
    # data is there, and the manifest in the repository is written with it. Without the data
    # the halves are read back from that manifest: they were fixed before any tuning and must
    # not move because a machine lacks ../shared (each recording carries its half).
    split = halves(scenarios) if data is not None else _committed_halves()
    body = json.dumps(manifest(scenarios, split), indent=1, sort_keys=True) + "\n"
    stale = []
    for scenario in scenarios:
        committed = scenario.origin != "shared-data"
        target_dir = RECORDINGS if (committed and out is None) else out
        if target_dir is None:
            continue
        blob = compressed(render(scenario, split[scenario.name]), f"{scenario.name}.jsonl")
        path = target_dir / f"{scenario.name}.jsonl.gz"
        if check:
            if committed and (not path.is_file() or path.read_bytes() != blob):
                stale.append(path.name)
            continue
        target_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    if check:
        if data is not None and (
            not MANIFEST.is_file() or MANIFEST.read_text(encoding="utf-8") != body
        ):
            stale.append(MANIFEST.name)
        for name in stale:
            sys.stderr.write(f"stale: {name} (rebuild with corpus/build.py --write)\n")
        return 1 if stale else 0
    if out is None:
        if data is None:
            sys.stderr.write(
                "../shared/data not found: the committed recordings were rewritten, the "
                "manifest (which lists the real-data recordings too) was left as it is\n"
            )
        else:
            MANIFEST.write_text(body, encoding="utf-8")
    else:
        (out / "manifest.json").write_text(body, encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rewrite corpus/recordings")
    group.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale")
    group.add_argument("--out", type=Path, help="write the whole corpus into this directory")
    args = parser.parse_args(argv)
    data = shared_data_dir()
    if args.out is not None and data is None:
        sys.stderr.write(
            "../shared/data not found (ROLLSAFE_SHARED_DATA overrides): only the committed "
            "recordings are written\n"
        )
    return build(args.out, check=args.check, data=data)


if __name__ == "__main__":
    sys.exit(main())
