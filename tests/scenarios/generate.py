"""Generates the labelled scenario corpus of this directory (the ``*.jsonl`` files next to it).

    .venv/bin/python tests/scenarios/generate.py           # rewrite the files
    .venv/bin/python tests/scenarios/generate.py --check   # exit 1 if a file is out of date

Every scenario is a fleet host (or two) observed the way ``rollsafe.yaml`` next to this file
configures it: an HTTP or TCP health check every 30 s, application/job logs and the kernel
log (raw lines), CPU and memory from Prometheus every minute, a data check every 5 minutes on
the database, alerts from Alertmanager. Each recording starts one hour before the upgrade
(the reference period of the baseline rules) and is labelled with its faults, if any.

The generator is deterministic (one seeded ``random.Random`` per scenario) and describes
behaviour, not decisions: healthy noise (latency jitter, rare 5xx, slow outliers, error-log
noise at a Poisson rate, CPU and memory wander) plus, per scenario, what the incident or the
healthy disturbance does to those signals. It knows nothing of the presets' thresholds.

``real_noise(log_dir)`` builds one more healthy scenario from the real logs in
``../shared/data/logs`` (Apache error log, Linux syslog, Hadoop job log, at their real
timing); the corpus test adds it when that directory exists. The files here are small
(well under 1 MB together) and checked in; a test checks they are what this script writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import math
import random
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from rollsafe.backtest import recordings
from rollsafe.domain import alerts, ids, observations

HERE = Path(__file__).resolve().parent
START = 1_700_000_000.0  # 2023-11-14T22:13:20Z
HOUR = 3600.0
MINUTE = 60.0
HEALTH_EVERY = 30.0
METRICS_EVERY = 60.0
DATA_EVERY = 300.0
Curve = Callable[[float], float]
Window = tuple[float, float]

HEALTH_SOURCE = {"web": "health", "db": "db-port", "batch": "runner"}
LOG_SOURCE = {"web": "app-log", "batch": "job-log"}
KERNEL_SOURCES = ("kernel-oom", "kernel-panic")  # two probes following the same kern.log
PROMETHEUS_DOWN = "cannot reach prometheus at prometheus.internal:9090: connection refused"


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


@dataclasses.dataclass
class Host:
    """How one target behaves over the recording (offsets in seconds from its start)."""

    target: str
    role: str  # web | db | batch
    upgrade: float | None = HOUR
    refused: list[Window] = dataclasses.field(default_factory=list)
    five_xx: Curve = dataclasses.field(
        default_factory=lambda: const(0.002)
    )  # share of health checks answered 5xx
    latency: Curve | None = None  # median latency of the health check, seconds
    slow: list[tuple[float, float]] = dataclasses.field(default_factory=list)  # (at, seconds)
    errors_per_minute: Curve = dataclasses.field(
        default_factory=lambda: const(0.05)
    )  # error lines in the app/job log
    noise_per_minute: float = 0.1  # INFO/WARN lines that must not count
    log_style: str = "app"  # app | apache | job
    log_lines: list[tuple[float, str]] = dataclasses.field(default_factory=list)  # (at, text)
    kernel: list[tuple[float, str]] = dataclasses.field(default_factory=list)  # (at, message)
    cpu: Curve = dataclasses.field(default_factory=lambda: const(25.0))
    cpu_noise: float = 4.0
    memory: Curve = dataclasses.field(default_factory=lambda: const(45.0))
    data_bad_from: float | None = None
    gaps: dict[str, list[Window]] = dataclasses.field(default_factory=dict)  # source -> windows
    alerts: list[tuple[float, str]] = dataclasses.field(default_factory=list)  # (at, state)


@dataclasses.dataclass
class Scenario:
    name: str
    description: str
    hosts: list[Host]
    duration: float = 2 * HOUR
    faults: list[recordings.Fault] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------- emitting


def render(scenario: Scenario, extra: Iterable[recordings.LogLine] = ()) -> str:
    """The scenario as recording text (JSON Lines), with ``extra`` log lines merged in."""
    rng = random.Random(scenario.name)
    records: list[tuple[float, int, str, object]] = [
        (line.time - START, 2, line.target, line) for line in extra
    ]
    logs_followed: list[tuple[str, str]] = []
    for host in scenario.hosts:
        records.extend(_host_records(host, scenario.duration, rng))
        if host.role in LOG_SOURCE:
            logs_followed.append((host.target, LOG_SOURCE[host.role]))
        logs_followed.extend((host.target, source) for source in KERNEL_SOURCES)
    records.sort(key=lambda item: (item[0], item[1], item[2]))
    out = io.StringIO()
    writer = recordings.Writer(out)
    writer.header(
        start=START,
        end=START + scenario.duration,
        name=scenario.name,
        description=scenario.description,
        faults=[dataclasses.replace(f, start=START + f.start) for f in scenario.faults],
        logs=logs_followed,
        meta={"generated_by": "tests/scenarios/generate.py"},
    )
    for _, kind, _, item in records:
        if kind == 0:
            assert isinstance(item, observations.Mark)
            writer.mark(item)
        elif isinstance(item, Series):
            writer.series(
                target=item.target,
                source=item.source,
                start=item.start,
                every=METRICS_EVERY,
                values=item.values,
                error=item.error,
            )
        elif kind == 1:
            assert isinstance(item, observations.Observation)
            writer.observation(item)
        else:
            assert isinstance(item, recordings.LogLine)
            writer.log(item)
    return out.getvalue()


def _host_records(
    host: Host, duration: float, rng: random.Random
) -> Iterable[tuple[float, int, str, object]]:
    target = ids.TargetId(host.target)
    if host.upgrade is not None:
        yield (
            host.upgrade,
            0,
            host.target,
            observations.Mark(START + host.upgrade, target, "upgrade"),
        )
    for obs in _health(host, duration, rng):
        yield (obs.time - START, 1, host.target, obs)
    for series in _metrics(host, duration, rng):
        yield (series.start - START, 1, host.target, series)
    for obs in _data_checks(host, duration):
        yield (obs.time - START, 1, host.target, obs)
    for obs in _alerts(host):
        yield (obs.time - START, 1, host.target, obs)
    for line in _app_log(host, duration, rng):
        yield (line.time - START, 2, host.target, line)
    for line in _kernel_log(host):
        yield (line.time - START, 2, host.target, line)


def _in(windows: Iterable[Window], t: float) -> bool:
    return any(start <= t < end for start, end in windows)


def _health(host: Host, duration: float, rng: random.Random) -> Iterable[observations.Observation]:
    source = HEALTH_SOURCE[host.role]
    target = ids.TargetId(host.target)
    median = host.latency or (const(0.0008) if host.role == "db" else const(0.04))
    t = 3.0
    while t < duration:
        time = START + t
        if _in(host.gaps.get(source, []), t):
            yield observations.Observation(
                time, target, source, error=f"cannot resolve {host.target}.internal: timeout"
            )
        elif _in(host.refused, t):
            yield observations.Observation(
                time,
                target,
                source,
                value=0.0,
                latency_s=0.0004,
                text="connect failed: Connection refused",
            )
        else:
            latency = median(t) * math.exp(rng.gauss(0.0, 0.25))
            if rng.random() < 0.004:
                latency *= rng.uniform(4.0, 12.0)  # a GC pause, a cold cache line
            for at, seconds in host.slow:
                if at <= t < at + HEALTH_EVERY:
                    latency = seconds
            if host.role == "db":
                yield observations.Observation(
                    time, target, source, value=1.0, latency_s=round(latency, 5)
                )
            elif rng.random() < host.five_xx(t):
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
        t += HEALTH_EVERY


@dataclasses.dataclass(frozen=True)
class Series:
    """Regular values of one source (a ``series`` record); None is a probe error."""

    target: str
    source: str
    start: float
    values: list[float | None]
    error: str | None


def _metrics(host: Host, duration: float, rng: random.Random) -> Iterable[Series]:
    first = 11.0
    cpu: list[float | None] = []
    memory: list[float | None] = []
    memory_drift = 0.0
    t = first
    while t < duration:
        memory_drift = 0.9 * memory_drift + rng.gauss(0.0, 0.6)  # slow wander, not white noise
        for values, source, curve, noise in (
            (cpu, "cpu", host.cpu, rng.gauss(0.0, host.cpu_noise)),
            (memory, "memory", host.memory, memory_drift),
        ):
            if _in(host.gaps.get(source, []), t):
                values.append(None)
            else:
                values.append(round(min(100.0, max(0.0, curve(t) + noise)), 1))
        t += METRICS_EVERY
    for source, values in (("cpu", cpu), ("memory", memory)):
        error = PROMETHEUS_DOWN if None in values else None
        yield Series(host.target, source, START + first, values, error)


def _data_checks(host: Host, duration: float) -> Iterable[observations.Observation]:
    if host.role != "db":
        return
    target = ids.TargetId(host.target)
    t = 97.0
    while t < duration:
        bad = host.data_bad_from is not None and t >= host.data_bad_from
        yield observations.Observation(
            START + t,
            target,
            "data-check",
            value=0.0 if bad else 1.0,
            status=1 if bad else 0,
            latency_s=1.2,
            text="orders: 182,114 rows on the primary, 181,960 on the replica" if bad else None,
        )
        t += DATA_EVERY


def _alerts(host: Host) -> Iterable[observations.Observation]:
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
            START + at,
            target,
            "alertmanager",
            value=1.0 if firing else 0.0,
            alert_state=observations.AlertState(state),
            text=details.to_text(),
        )


def _stamp(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(START + t, tz=dt.UTC)


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
_APACHE_ERRORS = (
    "[error] [client 10.0.{a}.{b}] File does not exist: /var/www/html/favicon.ico",
    "[error] [client 10.0.{a}.{b}] client denied by server configuration: /var/www/html/.git",
    "[error] mod_jk child workerEnv in error state {a}",
    "[error] [client 10.0.{a}.{b}] Directory index forbidden by rule: /var/www/html/assets/",
)
_APACHE_NOISE = (
    "[notice] jk2_init() Found child {a}{b} in scoreboard slot {a}",
    "[notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
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


def _app_line(style: str, t: float, message: str, *, error: bool) -> str:
    when = _stamp(t)
    if style == "apache":
        return f"[{when:%a %b %d %H:%M:%S %Y}] {message}"
    millis = int(when.microsecond / 1000)
    head = f"{when:%Y-%m-%d %H:%M:%S},{millis:03d}"
    if style == "job":
        return (
            f"{head} ERROR [TaskRunner-2] jobs.export: {message}" if error else f"{head} {message}"
        )
    return f"{head} ERROR [worker-1] app.views: {message}" if error else f"{head} {message}"


def _poisson(rate: Curve, duration: float, rng: random.Random) -> list[float]:
    """Event times of a Poisson process whose rate (per minute) follows ``rate`` (thinning)."""
    peak = max(rate(m * MINUTE) for m in range(int(duration / MINUTE) + 1))
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


def _app_log(host: Host, duration: float, rng: random.Random) -> Iterable[recordings.LogLine]:
    source = LOG_SOURCE.get(host.role)
    if source is None:
        return
    target = ids.TargetId(host.target)
    errors_pool, noise_pool = {
        "app": (_APP_ERRORS, _APP_NOISE),
        "apache": (_APACHE_ERRORS, _APACHE_NOISE),
        "job": (_JOB_ERRORS, _JOB_NOISE),
    }[host.log_style]
    lines: list[tuple[float, str]] = []
    for t in _poisson(host.errors_per_minute, duration, rng):
        message = rng.choice(errors_pool).format(a=rng.randint(1, 9), b=rng.randint(10, 99))
        lines.append((t, _app_line(host.log_style, t, message, error=True)))
    for t in _poisson(const(host.noise_per_minute), duration, rng):
        message = rng.choice(noise_pool).format(a=rng.randint(1, 9), b=rng.randint(10, 99))
        lines.append((t, _app_line(host.log_style, t, message, error=False)))
    for t, text in host.log_lines:
        lines.append((t, _app_line(host.log_style, t, text, error=False)))
    for t, text in sorted(lines, key=lambda item: item[0]):
        yield recordings.LogLine(START + round(t, 3), target, source, text)


def _kernel_log(host: Host) -> Iterable[recordings.LogLine]:
    target = ids.TargetId(host.target)
    for t, message in sorted(host.kernel, key=lambda item: item[0]):
        uptime = 86400.0 * 12 + t
        text = f"{_stamp(t):%b %d %H:%M:%S} {host.target} kernel: [{uptime:12.6f}] {message}"
        for source in KERNEL_SOURCES:
            yield recordings.LogLine(START + round(t, 3), target, source, text)


def oom_kill(at: float, *, process: str, pid: int, cgroup: bool = False) -> list[tuple[float, str]]:
    """The kernel's lines for one OOM kill (3 lines the ``oom`` preset matches, 2 in a cgroup)."""
    if cgroup:
        return [
            (
                at,
                f"{process} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, "
                "oom_score_adj=0",
            ),
            (
                at + 0.01,
                f"CPU: 2 PID: {pid} Comm: {process} Not tainted 5.15.0-89-generic #99-Ubuntu",
            ),
            (
                at + 0.02,
                "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
                f"oom_memcg=/system.slice/jobs.service,task={process},pid={pid},uid=1002",
            ),
            (
                at + 0.03,
                f"Memory cgroup out of memory: Killed process {pid} ({process}) "
                "total-vm:6123456kB, anon-rss:4194304kB, file-rss:0kB, shmem-rss:0kB, "
                "UID:1002 pgtables:9000kB",
            ),
        ]
    return [
        (
            at,
            f"{process} invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, "
            "oom_score_adj=0",
        ),
        (at + 0.01, f"CPU: 1 PID: {pid} Comm: {process} Not tainted 5.15.0-89-generic #99-Ubuntu"),
        (
            at + 0.02,
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
            f"global_oom,task_memcg=/system.slice/app.service,task={process},pid={pid},uid=1001",
        ),
        (
            at + 0.03,
            f"Out of memory: Killed process {pid} ({process}) total-vm:9123456kB, "
            "anon-rss:7654321kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:16000kB",
        ),
    ]


BENIGN_KERNEL = [
    (900.0, "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies."),
    (2500.0, "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None"),
]


# --------------------------------------------------------------------------- the corpus


def scenarios() -> list[Scenario]:
    up = HOUR  # every scenario upgrades one hour in
    return [
        Scenario(
            name="fault-crash-after-upgrade",
            description="web-1 crashes 4 minutes after its upgrade and stays down (restart "
            "loop); web-2, not upgraded, stays healthy",
            hosts=[
                Host(
                    "web-1",
                    "web",
                    refused=[(up + 240, 99 * HOUR)],
                    log_lines=[
                        (
                            up + 239.5,
                            "FATAL [main] app: unhandled exception in worker pool, exiting",
                        ),
                        (up + 239.6, "Traceback (most recent call last):"),
                    ],
                    cpu=after(const(25.0), up + 240, const(2.0)),
                    memory=after(const(45.0), up + 240, const(12.0)),
                    kernel=BENIGN_KERNEL,
                ),
                Host("web-2", "web", upgrade=None),
            ],
            faults=[recordings.Fault(ids.TargetId("web-1"), up + 240, "crash")],
        ),
        Scenario(
            name="fault-sustained-5xx",
            description="after its upgrade web-1 answers about a third of requests with 5xx "
            "and logs a new error a few times a minute",
            hosts=[
                Host(
                    "web-1",
                    "web",
                    five_xx=after(const(0.002), up + 120, const(0.3)),
                    errors_per_minute=after(const(0.05), up + 120, const(4.0)),
                    cpu=after(const(25.0), up + 120, const(31.0)),
                )
            ],
            faults=[recordings.Fault(ids.TargetId("web-1"), up + 120, "5xx")],
        ),
        Scenario(
            name="fault-slow-memory-leak",
            description="the new release leaks about 18% of memory an hour on web-1; "
            "nothing else shows until memory runs out",
            duration=4 * HOUR,
            hosts=[
                Host(
                    "web-1",
                    "web",
                    memory=lambda t: 48.0 + max(0.0, t - up) / HOUR * 18.0,
                )
            ],
            faults=[recordings.Fault(ids.TargetId("web-1"), up, "memory leak")],
        ),
        Scenario(
            name="fault-latency-regression",
            description="after its upgrade web-1 answers in about 550 ms instead of 40 ms "
            "(a query per item instead of one per page); no errors",
            hosts=[
                Host(
                    "web-1",
                    "web",
                    latency=after(const(0.04), up + 60, const(0.55)),
                    cpu=after(const(25.0), up + 60, const(38.0)),
                )
            ],
            faults=[recordings.Fault(ids.TargetId("web-1"), up + 60, "latency")],
        ),
        Scenario(
            name="fault-oom-kills",
            description="after its upgrade the job workers of batch-1 outgrow their memory "
            "limit: the OOM killer kills one every 4 to 6 minutes and the runner restarts it",
            hosts=[
                Host(
                    "batch-1",
                    "batch",
                    log_style="job",
                    errors_per_minute=after(const(0.2), up + 300, const(0.6)),
                    cpu=const(85.0),
                    memory=after(const(70.0), up + 300, const(91.0)),
                    kernel=[
                        line
                        for n, at in enumerate((300, 570, 860, 1120, 1420, 1690, 1990, 2300))
                        for line in oom_kill(up + at, process="python3", pid=7100 + n, cgroup=True)
                    ],
                )
            ],
            faults=[recordings.Fault(ids.TargetId("batch-1"), up + 300, "oom kills")],
        ),
        Scenario(
            name="fault-kernel-panic",
            description="db-1 runs a new kernel; 10 minutes in it panics, reboots within a "
            "minute (the database recovers) and panics again 40 minutes later",
            hosts=[
                Host(
                    "db-1",
                    "db",
                    refused=[(up + 600, up + 650), (up + 3000, up + 3050)],
                    cpu=const(40.0),
                    memory=const(92.0),
                    kernel=[
                        *BENIGN_KERNEL,
                        (up + 680, "Kernel panic - not syncing: Fatal exception in interrupt"),
                        (
                            up + 680.1,
                            "---[ end Kernel panic - not syncing: Fatal exception in interrupt"
                            " ]---",
                        ),
                        (up + 3080, "Kernel panic - not syncing: Fatal exception in interrupt"),
                    ],
                )
            ],
            faults=[recordings.Fault(ids.TargetId("db-1"), up + 600, "kernel panic")],
        ),
        Scenario(
            name="fault-data-check-mismatch",
            description="the database upgrade's migration drops rows: the data check fails "
            "from its first run after the upgrade; everything else is healthy",
            hosts=[Host("db-1", "db", data_bad_from=up, cpu=const(40.0), memory=const(92.0))],
            faults=[recordings.Fault(ids.TargetId("db-1"), up, "data mismatch")],
        ),
        Scenario(
            name="healthy-warmup-blip",
            description="rolling upgrade of web-1 then web-2: each restart refuses one check, "
            "answers slowly for a minute, logs a few errors and burns CPU while warming up",
            hosts=[_warming("web-1", up), _warming("web-2", up + 600)],
        ),
        Scenario(
            name="healthy-cron-cpu-spike",
            description="an hourly cron job pins web-1's CPU for 14 minutes (before and after "
            "a healthy upgrade) and slows answers a little",
            hosts=[
                Host(
                    "web-1",
                    "web",
                    cpu=bumped(const(25.0), [(2800, 3640, 98.0), (6400, 7240, 98.0)]),
                    cpu_noise=1.0,
                    latency=bumped(const(0.04), [(2800, 3640, 0.12), (6400, 7240, 0.12)]),
                    memory=bumped(const(45.0), [(2800, 3640, 52.0), (6400, 7240, 52.0)]),
                )
            ],
        ),
        Scenario(
            name="healthy-noisy-error-logs",
            description="web-1's Apache error log was noisy long before the upgrade (about 2 "
            "errors a minute, bursts of 12) and stays so; a few isolated 5xx",
            hosts=[
                Host(
                    "web-1",
                    "web",
                    log_style="apache",
                    errors_per_minute=_bursty(2.0, 12.0, every=1500.0, length=120.0),
                    five_xx=const(0.004),
                )
            ],
        ),
        Scenario(
            name="healthy-monitoring-gap",
            description="Prometheus is down for 25 minutes after web-1's upgrade and the health "
            "check cannot resolve the host for 6 minutes: probe errors, not failures",
            hosts=[
                Host(
                    "web-1",
                    "web",
                    gaps={
                        "cpu": [(up + 120, up + 1620)],
                        "memory": [(up + 120, up + 1620)],
                        "health": [(up + 900, up + 1260)],
                    },
                )
            ],
        ),
        Scenario(
            name="healthy-flapping-alert",
            description="a critical latency alert flaps (firing, resolved) on web-1 for 50 "
            "minutes after a healthy upgrade: its threshold sits on the p99",
            hosts=[Host("web-1", "web", alerts=_flapping(up + 300, up + 3300))],
        ),
        Scenario(
            name="healthy-db-upgrade",
            description="db-1 upgrade: one refused check while the database restarts, memory "
            "full of cache as always, a vacuum pins CPU for 12 minutes; data checks pass",
            hosts=[
                Host(
                    "db-1",
                    "db",
                    refused=[(up - 20, up + 10)],
                    cpu=bumped(const(40.0), [(up + 1200, up + 1920, 97.0)]),
                    cpu_noise=2.0,
                    memory=const(93.0),
                )
            ],
        ),
        Scenario(
            name="healthy-batch-upgrade",
            description="batch-1 upgrade: CPU pinned by jobs, memory up and down with them, one "
            "job killed by its cgroup's OOM killer, job errors in bursts",
            hosts=[
                Host(
                    "batch-1",
                    "batch",
                    log_style="job",
                    errors_per_minute=_bursty(0.5, 4.0, every=2100.0, length=240.0),
                    cpu=const(96.0),
                    cpu_noise=2.0,
                    memory=lambda t: 72.0 + 14.0 * math.sin(t / 900.0),
                    kernel=oom_kill(up + 1500, process="python3", pid=8800, cgroup=True),
                )
            ],
        ),
    ]


def _warming(target: str, at: float) -> Host:
    return Host(
        target,
        "web",
        upgrade=at,
        refused=[(at - 25, at + 5)],
        slow=[(at + 5, 2.4), (at + 35, 1.6), (at + 65, 0.9)],
        log_lines=[
            (at - 24, "ERROR [main] app.server: connection reset by peer during shutdown"),
            (at - 23, "ERROR [main] app.server: 3 requests aborted by shutdown"),
            (at + 20, "ERROR [worker-1] app.db: pool not ready, retrying in 1s"),
        ],
        cpu=bumped(const(25.0), [(at, at + 180, 85.0)]),
        memory=lambda t: 45.0 if t < at else min(45.0, 30.0 + (t - at) / 1200.0 * 15.0),
    )


def _bursty(base: float, peak: float, *, every: float, length: float) -> Curve:
    return lambda t: peak if (t % every) < length else base


def _flapping(start: float, end: float) -> list[tuple[float, str]]:
    rng = random.Random("flapping")
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


# --------------------------------------------------------------------------- real noise


_APACHE_TIME = re.compile(r"^\[\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})\]")
_SYSLOG_TIME = re.compile(r"^(\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})")
_ISO_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}),(\d{3})")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def _timed(path: Path, pattern: re.Pattern[str], year: int | None) -> list[tuple[float, str]]:
    """(seconds, line) of a real log; lines without a time take the previous line's."""
    out: list[tuple[float, str]] = []
    current: float | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        found = pattern.match(line)
        if found:
            parts = found.groups()
            if pattern is _ISO_TIME:
                stamp = dt.datetime(*map(int, parts[:6]), tzinfo=dt.UTC)
            else:
                month = _MONTHS[parts[0]]
                chosen = int(parts[5]) if year is None else year
                stamp = dt.datetime(
                    chosen, month, int(parts[1]), *map(int, parts[2:5]), tzinfo=dt.UTC
                )
            current = stamp.timestamp()
        if current is not None and line.strip():
            out.append((current, line))
    return out


def _densest(lines: list[tuple[float, str]], length: float, weight: Callable[[str], bool]) -> float:
    """Start of the ``length`` window holding the most lines ``weight`` selects."""
    times = [t for t, line in lines if weight(line)] or [lines[0][0]]
    best, best_start, j = -1, times[0], 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] < start + length:
            j += 1
        if j - i > best:
            best, best_start = j - i, start
    return best_start


def real_noise(log_dir: Path) -> str:
    """A healthy scenario whose logs are real (see the module notes), as recording text.

    web-1's application log is the densest two hours of errors of ``Apache_2k.log`` and its
    kernel log the densest two hours of ``Linux_2k.log``; batch-1's job log is
    ``Hadoop_2k.log`` (ten minutes, 150 ERROR lines) starting ten minutes after its upgrade,
    right where a real regression would show. All at their real relative timing.
    """
    duration = 2 * HOUR
    apache = _timed(log_dir / "Apache_2k.log", _APACHE_TIME, None)
    linux = _timed(log_dir / "Linux_2k.log", _SYSLOG_TIME, 2005)
    hadoop = _timed(log_dir / "Hadoop_2k.log", _ISO_TIME, None)
    apache_from = _densest(apache, duration, lambda line: "[error]" in line)
    linux_from = _densest(linux, duration, lambda line: True)
    quiet = {"errors_per_minute": const(0.0), "noise_per_minute": 0.0}
    scenario = Scenario(
        name="healthy-real-noise",
        description="real logs (Loghub: Apache error log, Linux syslog, Hadoop job log) on "
        "healthy upgrades of web-1 and batch-1",
        hosts=[Host("web-1", "web", **quiet), Host("batch-1", "batch", log_style="job", **quiet)],
    )
    web, batch = ids.TargetId("web-1"), ids.TargetId("batch-1")
    extra: list[recordings.LogLine] = []
    for t, line in apache:
        if apache_from <= t < apache_from + duration:
            extra.append(recordings.LogLine(START + t - apache_from, web, "app-log", line))
    extra.extend(
        recordings.LogLine(START + t - linux_from, web, source, line)
        for t, line in linux
        if linux_from <= t < linux_from + duration
        for source in KERNEL_SOURCES
    )
    hadoop_start = hadoop[0][0]
    for t, line in hadoop:
        at = HOUR + 600 + (t - hadoop_start)
        extra.append(recordings.LogLine(START + at, batch, "job-log", line))
    return render(scenario, extra)


# --------------------------------------------------------------------------- main


def files() -> dict[str, str]:
    """File name -> content of every scenario."""
    return {f"{s.name}.jsonl": render(s) for s in scenarios()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the files are current")
    args = parser.parse_args(argv)
    wanted = files()
    stale = [name for name, text in wanted.items() if _read(HERE / name) != text]
    extra = sorted(p.name for p in HERE.glob("*.jsonl") if p.name not in wanted)
    if args.check:
        for name in stale:
            print(f"out of date: {name}")
        for name in extra:
            print(f"not generated by this script: {name}")
        return 1 if stale or extra else 0
    for name in stale:
        (HERE / name).write_text(wanted[name], encoding="utf-8")
        print(f"wrote {name}")
    total = sum(len(text.encode()) for text in wanted.values())
    print(f"{len(wanted)} scenarios, {total / 1024:.0f} KiB")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
