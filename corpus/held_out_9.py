"""Held-out-9 of rollsafe's judgment corpus: upgrades nobody tuned on (issue #15, round 10).

Every earlier half (design, held-out, held-out-2 to held-out-8) has been looked at by people
changing rules. This half was written in round 10 by a helper that changed no rule, preset or
judge code, while others were changing rules without seeing it, from what a fleet meets after
an upgrade (not from what the rules catch or miss); the lead replays it once before the round's
rule changes and once after. No preset may be tuned on it (``--half held-out-9``).

What is new here against the earlier halves: faults that show only when the daily traffic peak
arrives hours after a night upgrade, a partial fault (2% of requests, one shard), file
descriptors leaking into latency and then errors (``too many open files``), TLS handshakes
refused after an OpenSSL upgrade (nginx error log), DNS resolution failing behind HAProxy
(HAProxy's log format), a database refusing clients (PostgreSQL ``too many clients``), crash
loops told by a Go ``panic:`` with its goroutine trace, a Python traceback and a multi-line
Java stack trace (one event, many lines), JSON and logfmt application logs, a health check
sampled every 5 s and every 20 s, 20 minutes of history, a leak cut short by its supervisor's
restarts, and wordings no earlier half quotes: ``Kernel panic - not syncing: Hard LOCKUP``,
``BUG: scheduling while atomic``, ``kernel BUG at ...!`` with ``invalid opcode``, a hung task
reported after 1228 s, an order-2 ``invoked oom-killer``, PostgreSQL's ``sorry, too many
clients already``, the TSC declared unstable; others quoted before from other reports, in new
shapes: the hard-lockup detector alone (held-out-7 has it between soft lockups), a non-
canonical general protection fault, a segfault at a null ``ip`` (``error 14``), ``oom_reaper``,
``Start request repeated too quickly``; and healthy noise that fools naive rules: a counter
reset after a planned restart, a cold cache's slow first minutes, log rotation bursts, a
nightly backup's I/O, a neighbour's deploy, an autoscaling event, a configuration reload, the
TSC declared unstable, a clock stepped back, Prometheus scrape timeouts, a noisy hour before
the upgrade, a monitoring gap after it.

``corpus/build.py`` renders these scenarios like every other; this module only describes them.
Its irregular times come from generators of its own (``held-out-9/<seed>``), and every
recording is rendered from a generator seeded by its own name, so adding this half moves no
byte of the others. Real data: messages quoted from public reports no other half cites
(``corpus/quoted.py``, held-out-9 section, each with its URL), and NAB metrics and Loghub logs
of ``../shared/data`` (days and line ranges no earlier half uses as spans), read at build time
(``real``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from typing import NamedTuple

import build
from build import (
    HOUR,
    MINUTE,
    START,
    UP,
    Host,
    Nab,
    Scenario,
    after,
    bumped,
    cites,
    const,
    decaying,
    fault,
    quoted,
    quoted_event,
    rolled,
)

HELD_OUT_9 = "held-out-9"  # written in round 10 by a helper that changed no rule; never tuned on
DAY = 24 * HOUR

_HALF = build.Half(HELD_OUT_9)
_times = _HALF.times  # irregular times of this half's own (``held-out-9/<seed>``)
_add = _HALF.add
_fault_adder = _HALF.fault_adder
_host = build._host
_repeated = build.repeated


# --------------------------------------------------------------------------- log formats


def _when(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(START + t, tz=dt.UTC)


def _json(t: float, level: str, msg: str, **fields: object) -> tuple[float, str]:
    """One JSON application log line (a structured logger's), raw."""
    body = {"ts": f"{_when(t):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z", "level": level, "msg": msg}
    return (t, "@raw " + json.dumps({**body, **fields}, separators=(",", ":")))


def _logfmt(t: float, level: str, msg: str, extra: str = "") -> tuple[float, str]:
    """One logfmt application log line, raw."""
    tail = f" {extra}" if extra else ""
    return (t, f'@raw time={_when(t):%Y-%m-%dT%H:%M:%S.%f}Z level={level} msg="{msg}"{tail}')


def _nginx_error(t: float, level: str, message: str) -> tuple[float, str]:
    """One nginx error-log line (``YYYY/MM/DD HH:MM:SS [level] pid#tid: *cid message``), raw."""
    return (
        t,
        f"@raw {_when(t):%Y/%m/%d %H:%M:%S} [{level}] 2211#2211: *{int(t) % 99991} {message}",
    )


def _haproxy(t: float, status: int, server: str, flags: str) -> tuple[float, str]:
    """One HAProxy HTTP log line as syslog receives it (``haproxy[pid]: ...``), raw."""
    when = _when(t)
    return (
        t,
        f"@raw {when:%b %d %H:%M:%S} web-1 haproxy[1402]: "
        f"10.0.3.{int(t) % 250}:5{int(t) % 9999:04d} "
        f"[{when:%d/%b/%Y:%H:%M:%S}.{when.microsecond // 1000:03d}] fe_https~ be_api/{server} "
        f"0/0/-1/-1/{3001 if status == 503 else 12} {status} 217 - - {flags} 41/41/3/0/3 0/0 "
        '"GET /api/v2/items HTTP/1.1"',
    )


def _stamped(t: float, text: str) -> str:
    when = _when(t)
    return f"@raw {when:%Y-%m-%d %H:%M:%S},{when.microsecond // 1000:03d} {text}"


def _trace(t: float, head: str, lines: list[str]) -> list[tuple[float, str]]:
    """A multi-line event (a stack trace): a stamped first line, then its lines as written."""
    return [
        (t, _stamped(t, head)),
        *[(t + 0.001 * (i + 1), "@raw " + x) for i, x in enumerate(lines)],
    ]


_GO_PANIC = [
    "",
    "goroutine 87 [running]:",
    "main.(*Store).Lookup(0x0, {0xc0001a4000, 0x24})",
    "\t/src/internal/store/store.go:142 +0x3a",
    "main.(*Server).handleItem(0xc000132000, {0x9c1e60, 0xc0002be0e0}, 0xc0003c2100)",
    "\t/src/cmd/api/server.go:88 +0x11f",
    "net/http.HandlerFunc.ServeHTTP(0xc0000a6040, {0x9c1e60, 0xc0002be0e0}, 0xc0003c2100)",
    "\t/usr/local/go/src/net/http/server.go:2136 +0x29",
    "created by net/http.(*Server).Serve in goroutine 1",
    "\t/usr/local/go/src/net/http/server.go:3285 +0x4b4",
]
_PY_TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/opt/app/venv/lib/python3.12/site-packages/app/__main__.py", line 41, in <module>',
    "    main()",
    '  File "/opt/app/venv/lib/python3.12/site-packages/app/settings.py", line 77, in load',
    '    ttl = int(os.environ["CACHE_TTL"])',
    "          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    "ValueError: invalid literal for int() with base 10: '300s'",
]
_JAVA_TRACE = [
    "java.lang.IllegalStateException: schema version 41 expected, found 40",
    "\tat com.example.batch.schema.SchemaGuard.check(SchemaGuard.java:58)",
    "\tat com.example.batch.runner.JobRunner.start(JobRunner.java:112)",
    "\tat com.example.batch.runner.JobRunner.main(JobRunner.java:47)",
    'Caused by: org.postgresql.util.PSQLException: ERROR: relation "job_state_v41" does not exist',
    "\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse("
    "QueryExecutorImpl.java:2713)",
    "\t... 3 more",
]


def _syslog(key: str, times: list[float], tag: str) -> list[tuple[float, str]]:
    """A quoted event's lines after a syslog tag, its ``n``-th time with its pids moved."""
    return [
        (t + i * 0.01, f"{tag}{line}")
        for n, t in enumerate(times)
        for i, line in enumerate(quoted.EVENTS[key].repeated(n))
    ]


def _units(key: str, times: list[float]) -> list[tuple[float, str]]:
    return _syslog(key, times, "systemd[1]: ")


def _peak(start: float, rise: float, low: float, high: float) -> Callable[[float], float]:
    """Night traffic ``low`` until ``start``, climbing to ``high`` over ``rise`` seconds."""
    return lambda t: low + (high - low) * min(1.0, max(0.0, (t - start) / rise))


def _windows(times: list[float], length: float, value: float) -> list[tuple[float, float, float]]:
    return [(t, t + length, value) for t in times]


# --------------------------------------------------------------------------- faults


def faults() -> list[Scenario]:
    """Held-out-9 faults, synthetic and quoted: every family issue #15 names."""
    return [*_faults_signals(), *_faults_down_and_kernel()]


def _faults_signals() -> list[Scenario]:
    """Held-out-9 faults that the service's signals show: errors, p99, latency, memory, OOM."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- errors that wait for the daily peak: a night upgrade, the morning's traffic.
    morning = _peak(UP + 4 * HOUR, 2 * HOUR, 4.0, 60.0)
    add(
        "fault-errors-only-at-morning-peak",
        "metrics-error-ratio",
        "web-1 is upgraded at night (4 requests/s); the new release's connection pool is sized "
        "for the night: from 4 hours after the upgrade the morning's traffic climbs to 60 "
        "requests/s over 2 hours, and once it passes 30 requests/s (4 h 56 min after the "
        "upgrade) 7% of requests fail and about 6 errors a minute are logged",
        [
            Host(
                "web-1",
                traffic=morning,
                error_ratio=lambda t: 0.07 if morning(t) > 30.0 and t > UP else 0.003,
                errors_per_minute=lambda t: 6.0 if morning(t) > 30.0 and t > UP else 0.05,
                p99=lambda t: 0.9 if morning(t) > 30.0 and t > UP else 0.22,
            )
        ],
        UP + 4 * HOUR + 3343.0,  # morning(t) > 30: 26/56 of the 2-hour climb
        kind="request errors",
        duration=8 * HOUR,
    )
    add(
        "fault-errors-partial-2pct-json-log",
        "metrics-error-ratio",
        "one of web-1's 50 shards was migrated with the upgrade and its rows cannot be read by "
        "the new release: from 2 minutes after it 2% of requests fail (0.3% before); the JSON "
        "application log says so about 1.5 times a minute",
        [
            Host(
                "web-1",
                error_ratio=after(const(0.003), UP + 120, const(0.02)),
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=[
                    *[
                        _json(t, "info", "request served", path="/v1/items", status=200)
                        for t in _times("json-info", 0.0, 2 * HOUR, 20.0, 60.0)
                    ],
                    *[
                        _json(t, "error", "shard read failed", shard=37, error="unknown column")
                        for t in _times("json-err", UP + 120, 2 * HOUR, 20.0, 60.0)
                    ],
                ],
            )
        ],
        UP + 120,
        kind="request errors",
    )
    climb = lambda t: min(1.0, max(0.0, (t - UP - 300) / 2400.0))  # noqa: E731
    add(
        "fault-errors-fd-leak-latency-then-errors",
        "metrics-error-ratio",
        "web-1's new HTTP client keeps a socket per retried call: from 5 minutes after the "
        "upgrade p99 climbs from 0.22 s to 1.2 s over 40 minutes as descriptors run short; "
        "then accept fails (`accept4: too many open files`, logfmt) and 15% of requests fail",
        [
            Host(
                "web-1",
                p99=lambda t: 0.22 + 1.0 * climb(t),
                error_ratio=lambda t: 0.15 if climb(t) >= 1.0 else 0.003,
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=[
                    _logfmt(t, "error", "accept failed", 'err="accept4: too many open files"')
                    for t in _times("emfile", UP + 2700, 2 * HOUR, 5.0, 20.0)
                ],
            )
        ],
        UP + 300,
        kind="request errors",
    )
    add(
        "fault-errors-tls-handshake-nginx",
        "metrics-error-ratio",
        "web-1's upgrade brings an OpenSSL that refuses TLS 1.0 and 1.1; a fifth of its "
        "clients (old handheld scanners) cannot connect: from the upgrade 12% of requests "
        "fail and nginx's error log shows `SSL_do_handshake() failed ... unsupported protocol` "
        "several times a minute",
        [
            Host(
                "web-1",
                error_ratio=after(const(0.003), UP + 10, const(0.12)),
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=[
                    _nginx_error(
                        t,
                        "info",
                        "SSL_do_handshake() failed (SSL: error:0A000102:SSL routines::unsupported "
                        "protocol) while SSL handshaking, client: 10.20.4.17, server: 0.0.0.0:443",
                    )
                    for t in _times("tls", UP + 10, 2 * HOUR, 5.0, 15.0)
                ],
            )
        ],
        UP + 10,
        kind="request errors",
    )
    add(
        "fault-errors-dns-haproxy-nosrv",
        "metrics-error-ratio",
        "web-1 runs HAProxy in front of its API; the upgrade changes the resolver section and "
        "from 3 minutes after it the backend's name no longer resolves when its TTL expires: "
        "a quarter of requests get 503 with `<NOSRV>` and termination state `SC--` (HAProxy "
        "log format)",
        [
            Host(
                "web-1",
                error_ratio=after(const(0.003), UP + 180, const(0.25)),
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=[
                    *[
                        _haproxy(t, 200, "api-2", "----")
                        for t in _times("hap-ok", 0.0, 2 * HOUR, 10.0, 30.0)
                    ],
                    *[
                        _haproxy(t, 503, "<NOSRV>", "SC--")
                        for t in _times("hap-503", UP + 180, 2 * HOUR, 8.0, 20.0)
                    ],
                ],
            )
        ],
        UP + 180,
        kind="request errors",
    )
    refusals = _times("pg-refused", UP + 240, 2 * HOUR, 20.0, 60.0)
    add(
        "fault-errors-pool-exhausts-db-clients",
        "metrics-error-ratio",
        "web-1's upgrade doubles its connection pool; with web-2's, it is over db-1's "
        "max_connections: from 4 minutes after the upgrade PostgreSQL refuses new clients "
        "(`FATAL:  sorry, too many clients already`, quoted) every 20 to 60 s and 5% of web-1's "
        "requests fail; db-1 itself was not upgraded",
        [
            Host("web-1", error_ratio=after(const(0.003), UP + 240, const(0.05))),
            Host("web-2", upgrades=[]),
            _host(
                "db-1",
                upgrades=[],
                syslog=_syslog("pg-too-many-clients", refusals, "postgres[1]: "),
            ),
        ],
        UP + 240,
        kind="request errors",
        origin="quoted",
        sources=cites("pg-too-many-clients"),
    )
    # -- p99: only at the peak.
    afternoon = _peak(UP + 3 * HOUR, 90 * MINUTE, 5.0, 50.0)
    add(
        "fault-p99-only-under-afternoon-load",
        "metrics-latency-quantile",
        "web-1 is upgraded in a quiet hour; its new serializer is slower per byte and the "
        "difference only shows with load: from 3 hours after the upgrade traffic climbs from 5 "
        "to 50 requests/s and p99 climbs with it, to 0.83 s at 50 requests/s",
        [
            Host(
                "web-1", traffic=afternoon, p99=lambda t: 0.2 + 0.014 * max(0.0, afternoon(t) - 5.0)
            )
        ],
        UP + 3 * HOUR + 900.0,
        kind="p99 latency",
        duration=6 * HOUR,
    )
    # -- health latency: a pool leak that climbs; a 5 s prober with 20 minutes of history.
    add(
        "fault-latency-pool-wait-climbs",
        "latency-regression",
        "web-1's new release returns a database connection late on one error path: from 2 "
        "minutes after the upgrade its health check (which takes a connection) waits longer "
        "and longer, 40 ms to 400 ms over 30 minutes, and stays there",
        [
            Host(
                "web-1", latency=lambda t: 0.04 + 0.36 * min(1.0, max(0.0, (t - UP - 120) / 1800.0))
            )
        ],
        UP + 120,
        kind="latency",
    )
    add(
        "fault-latency-5s-prober-20min-history",
        "latency-regression",
        "web-1 is probed every 5 s and was added to monitoring 20 minutes before its upgrade; "
        "30 s after the upgrade its health check takes 110 ms instead of 35 ms",
        [
            Host(
                "web-1",
                upgrades=[1200.0],
                health_every=5.0,
                latency=after(const(0.035), 1230.0, const(0.11)),
            )
        ],
        1230.0,
        kind="latency",
    )
    # -- a leak its supervisor hides by restarts.
    add(
        "fault-leak-restarted-at-85pct",
        "memory-leak",
        "web-1's new release leaks 12 points an hour from 45%; its supervisor restarts it "
        "whenever memory passes 85% (refused 10 s): a sawtooth of 3 h 20 min teeth that never "
        "levels off",
        [
            Host(
                "web-1",
                memory=lambda t: 45.0 if t < UP else 45.0 + 12.0 * (((t - UP) % 12000.0) / HOUR),
                down=[(UP + 12000.0 * k, UP + 12000.0 * k + 10.0) for k in range(1, 3)],
            )
        ],
        UP,
        kind="memory leak",
        duration=8 * HOUR,
    )
    add(
        "fault-leak-db-15s-exporter",
        "memory-leak",
        "db-1's upgraded extension leaks in each backend: memory exported every 15 s climbs "
        "4 points an hour from 55% and never levels off",
        [_host("db-1", metrics_every=15.0, memory=lambda t: 55.0 + 4.0 * max(0.0, t - UP) / HOUR)],
        UP,
        kind="memory leak",
        duration=5 * HOUR,
    )
    # -- OOM kills: a JVM global OOM with its reaper; an order-2 allocation on a database.
    kills = _times("java-reaper", UP + 600, UP + 7000, 600.0, 1200.0)
    add(
        "fault-oom-java-global-reaper",
        "oom-repeated",
        "web-1's upgrade raises the JVM heap to more than the host has: from 10 minutes after "
        "it, every 10 to 20 minutes, the kernel kills java (`oom-kill:constraint="
        "CONSTRAINT_NONE`, `Out of memory: Killed process N (java)`, `oom_reaper: reaped "
        "process`, quoted); the service is refused 25 s while it restarts",
        [
            Host(
                "web-1",
                kernel=_repeated("oom-java-global-reaper", kills),
                down=[(t + 0.5, t + 25.5) for t in kills],
            )
        ],
        kills[0],
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oom-java-global-reaper"),
    )
    kills = _times("java-order2", UP + 420, UP + 7000, 300.0, 900.0)
    add(
        "fault-oom-order2-search-db",
        "oom-repeated",
        "db-1 hosts a search engine's JVM next to PostgreSQL; its upgrade enables a network "
        "buffer that needs order-2 pages: from 7 minutes after it, every 5 to 15 minutes, java "
        "invokes the OOM killer (`java invoked oom-killer: gfp_mask=0x26142c0, order=2`, "
        "quoted); query p99 doubles for 2 minutes each time",
        [
            _host(
                "db-1",
                kernel=_repeated("oom-java-order2-invoked", kills),
                query_latency=bumped(const(0.012), _windows(kills, 120.0, 0.024)),
            )
        ],
        kills[0],
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oom-java-order2-invoked"),
    )
    return out


def _faults_down_and_kernel() -> list[Scenario]:
    """Held-out-9 faults that take a host down or that its kernel and syslog tell of."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    add(
        "fault-outage-drains-20s-prober",
        "outage-near-down-for",
        "web-1 is probed every 20 s; its new release fails its own readiness under a burst "
        "and the balancer drains it: refused 60 s 9 minutes after the upgrade, again 31 and 64 "
        "minutes after",
        [
            Host(
                "web-1",
                health_every=20.0,
                down=[(UP + 540, UP + 600), (UP + 1860, UP + 1920), (UP + 3840, UP + 3900)],
            )
        ],
        UP + 540,
        kind="outage",
    )
    add(
        "fault-crash-go-panic-goroutine-trace",
        "crash",
        "4 minutes after web-1's upgrade the new release dereferences a nil store on the first "
        "request for a retired item and panics (`panic: runtime error: invalid memory address "
        "or nil pointer dereference`, `[signal SIGSEGV ...]`, then its goroutine trace, one "
        "event over 12 lines); its supervisor gives up after 3 tries: refused for good",
        [
            Host(
                "web-1",
                down=[(UP + 240, 99 * HOUR)],
                app_lines=_trace(
                    UP + 239.5,
                    "panic: runtime error: invalid memory address or nil pointer dereference",
                    [
                        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6f1a3a]",
                        *_GO_PANIC,
                    ],
                ),
            )
        ],
        UP + 240,
        kind="crash",
    )
    add(
        "fault-crash-python-traceback-at-start",
        "crash",
        "web-1's upgrade renames a setting's unit (`CACHE_TTL=300s`); the new release dies at "
        "start with a Python traceback (7 lines) every time systemd restarts it, every 30 s: "
        "refused from 20 s after the upgrade on",
        [
            Host(
                "web-1",
                down=[(UP + 20, 99 * HOUR)],
                app_lines=[
                    x
                    for k in range(200)
                    for x in _trace(
                        UP + 20 + 30 * k, "ERROR [main] app: start-up failed", _PY_TRACEBACK
                    )
                ],
            )
        ],
        UP + 20,
        kind="crash",
    )
    add(
        "fault-crash-java-trace-batch-runner",
        "crash",
        "batch-1's runner is upgraded before its schema migration has run; 90 s after the "
        "upgrade it stops on a multi-line Java exception (`IllegalStateException`, `Caused by: "
        "org.postgresql.util.PSQLException`, 7 lines) and does not come back",
        [
            _host(
                "batch-1",
                down=[(UP + 90, 99 * HOUR)],
                app_lines=_trace(UP + 89.5, "ERROR [main] JobRunner: fatal", _JAVA_TRACE),
            )
        ],
        UP + 90,
        kind="crash",
    )
    add(
        "fault-panic-hard-lockup-el7",
        "kernel-panic",
        "web-1's upgraded kernel (an EL7 build with nmi_watchdog set to panic) locks a CPU "
        "with interrupts off 11 minutes after the upgrade: `Kernel panic - not syncing: Hard "
        "LOCKUP` (quoted); kdump is loaded, the host writes its dump and stays down",
        [
            Host(
                "web-1",
                kernel=quoted_event(UP + 660, "panic-hard-lockup-el7"),
                down=[(UP + 661, 99 * HOUR)],
            )
        ],
        UP + 660,
        kind="kernel panic",
        origin="quoted",
        sources=cites("panic-hard-lockup-el7"),
    )
    add(
        "fault-oops-kernel-bug-at-iomap",
        "kernel-oops",
        "web-1's upgrade brings a 7.x kernel; 6 minutes after it a write hits a BUG_ON in "
        "iomap (`kernel BUG at fs/iomap/buffered-io.c:1061!`, `Oops: invalid opcode: 0000 "
        "[#1] SMP NOPTI`, quoted); the writer is stuck from then on: uploads fail (4% of "
        "requests) and p99 is 0.8 s",
        [
            Host(
                "web-1",
                kernel=quoted_event(UP + 360, "bug-at-iomap-invalid-opcode"),
                error_ratio=after(const(0.003), UP + 360, const(0.04)),
                p99=after(const(0.22), UP + 360, const(0.8)),
            )
        ],
        UP + 360,
        kind="kernel oops",
        origin="quoted",
        sources=cites("bug-at-iomap-invalid-opcode"),
    )
    add(
        "fault-oops-gpf-non-canonical-batch",
        "kernel-oops",
        "batch-1 is a GPU runner; its upgraded device plugin crashes the kernel's driver 3 "
        "minutes after the upgrade (`general protection fault, probably for non-canonical "
        "address 0x25b5f6bb1a24827e`, quoted): a quarter of its checks answer 503 from then on",
        [
            _host(
                "batch-1",
                kernel=quoted_event(UP + 180, "gpf-non-canonical-device-plugin"),
                health_5xx=after(const(0.0), UP + 180, const(0.25)),
            )
        ],
        UP + 180,
        kind="kernel oops",
        origin="quoted",
        sources=cites("gpf-non-canonical-device-plugin"),
    )
    bugs = _times("atomic", UP + 300, UP + 6600, 120.0, 300.0)
    add(
        "fault-oops-scheduling-while-atomic-repeated",
        "kernel-oops",
        "web-1's upgrade loads a new Wi-Fi/radio driver on an edge gateway; from 5 minutes "
        "after it, every 2 to 5 minutes, `BUG: scheduling while atomic: wpa_supplicant/N/"
        "0x00000202` with `Preemption disabled at:` (quoted); p99 is 1.8 times higher from the "
        "first one",
        [
            Host(
                "web-1",
                kernel=_repeated("bug-atomic-wpa-supplicant", bugs),
                p99=after(const(0.22), bugs[0], const(0.4)),
            )
        ],
        bugs[0],
        kind="kernel oops",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("bug-atomic-wpa-supplicant"),
    )
    lockups = [UP + 480, UP + 2600, UP + 4700]
    add(
        "fault-lockup-hard-nmi-swapper",
        "soft-lockup",
        "web-1's upgraded kernel programs a new IOMMU flush that spins with interrupts off: "
        "8 minutes after the upgrade `NMI watchdog: Watchdog detected hard LOCKUP on cpu 1` "
        "(quoted), again 43 and 78 minutes after; checks take 8 s for a minute each time",
        [
            Host(
                "web-1",
                kernel=[
                    x for t in lockups for x in quoted_event(t, "lockup-hard-nmi-swapper-debian")
                ],
                slow=[(t - 20 + 10 * k, 8.0) for t in lockups for k in range(6)],
            )
        ],
        UP + 460,
        kind="soft lockup",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("lockup-hard-nmi-swapper-debian"),
    )
    lockups = _times("cpu79", UP + 900, UP + 7000, 600.0, 1500.0)
    add(
        "fault-lockup-hard-cpu79-db",
        "soft-lockup",
        "db-1 is an 80-core host; its upgraded cache module locks CPU 79: from 15 minutes "
        "after the upgrade, every 10 to 25 minutes, `NMI watchdog: Watchdog detected hard "
        "LOCKUP on cpu 79` (quoted, the line alone); query p99 is 6 times higher for 90 s "
        "each time",
        [
            _host(
                "db-1",
                kernel=_repeated("lockup-hard-nmi-cpu79", lockups),
                query_latency=bumped(const(0.012), [(t - 30, t + 60, 0.072) for t in lockups]),
            )
        ],
        lockups[0] - 30,
        kind="soft lockup",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("lockup-hard-nmi-cpu79"),
    )
    add(
        "fault-hung-python3-remote-paging",
        "hung-task",
        "batch-1's upgrade enables remote paging for its workers; from 4 minutes after it a "
        "python3 worker is in D state, reported 120 s later and every 120 s, 12 times "
        "(`INFO: task python3:N blocked for more than 120 seconds.`, 4.4, quoted); a third of "
        "the runner's checks answer 503 meanwhile",
        [
            _host(
                "batch-1",
                kernel=_repeated("hung-python3-4x-ubuntu", [UP + 360 + 120 * k for k in range(12)]),
                health_5xx=bumped(const(0.0), [(UP + 240, UP + 1800, 0.33)]),
            )
        ],
        UP + 240,
        kind="hung task",
        origin="quoted",
        sources=cites("hung-python3-4x-ubuntu"),
    )
    add(
        "fault-hung-1228s-db",
        "hung-task",
        "db-1's hung-task timeout is set to 1228 s; 3 minutes after its upgrade (a new io_uring "
        "storage path) a kworker is blocked and query p99 is 5 times higher from then on; the "
        "kernel says so only after 1228 s (`INFO: task kworker/u8:102:N blocked for more than "
        "1228 seconds.`, quoted), and again every 1228 s",
        [
            _host(
                "db-1",
                kernel=_repeated("hung-kworker-1228s", [UP + 180 + 1228 * k for k in range(1, 6)]),
                query_latency=after(const(0.012), UP + 180, const(0.06)),
            )
        ],
        UP + 180,
        kind="hung task",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("hung-kworker-1228s"),
    )
    crashes = _times("nft", UP + 60, UP + 6600, 15.0, 40.0)
    add(
        "fault-segv-nft-null-ip-reload-loop",
        "segfault-loop",
        "web-1's upgrade brings an nftables whose reload crashes on the host's rule set; a "
        "timer retries it every 15 to 40 s (`nft[N]: segfault at 0 ip 0000000000000000 ... "
        "error 14`, `Code: Unable to access opcode bytes`, quoted); the new rules never load "
        "and 3% of requests (those from a newly allowed network) fail",
        [
            Host(
                "web-1",
                kernel=_repeated("segv-nft-null-ip-error14", crashes),
                error_ratio=after(const(0.003), UP + 60, const(0.03)),
            )
        ],
        UP + 60,
        kind="segfault loop",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("segv-nft-null-ip-error14"),
    )
    add(
        "fault-unit-start-limit-server",
        "systemd-unit-failure",
        "web-1's upgrade leaves an invalid OIDC issuer URL in its server's configuration: the "
        "unit exits at start until systemd's limit (`Start request repeated too quickly.`, "
        "`Failed with result 'exit-code'.`, quoted) 25 s after the upgrade; a path unit starts "
        "it again every 10 minutes with the same result; the port is refused",
        [
            Host(
                "web-1",
                syslog=_units("systemd-start-limit-coder", [UP + 25 + 600 * k for k in range(11)]),
                down=[(UP + 5, 99 * HOUR)],
            )
        ],
        UP + 5,
        kind="unit failed",
        origin="quoted",
        sources=cites("systemd-start-limit-coder"),
    )
    fails = _times("logfmt-worker", UP + 150, UP + 5400, 180.0, 360.0)
    add(
        "fault-unit-worker-exit-2-logfmt",
        "systemd-unit-failure",
        "batch-1's new queue worker exits 2 when its queue holds a message of the old format: "
        "from 150 s after the upgrade, every 3 to 6 minutes, `Main process exited, code=exited, "
        "status=2/INVALIDARGUMENT` and `Failed with result 'exit-code'.` (usual systemd "
        "wording), its own logfmt log saying why",
        [
            _host(
                "batch-1",
                syslog=[
                    x
                    for t in fails
                    for x in (
                        (
                            t,
                            "systemd[1]: queue-worker.service: Main process exited, code=exited, "
                            "status=2/INVALIDARGUMENT",
                        ),
                        (
                            t + 0.01,
                            "systemd[1]: queue-worker.service: Failed with result 'exit-code'.",
                        ),
                    )
                ],
                app_lines=[
                    _logfmt(t - 0.2, "error", "decode failed", "queue=ingest version=1")
                    for t in fails
                ],
            )
        ],
        UP + 150,
        kind="unit failed",
    )
    add(
        "fault-data-mismatch-after-nightly-job",
        "data-mismatch",
        "db-1's upgrade changes how a nightly aggregation rounds; the data check agrees until "
        "the job runs 3 hours after the upgrade, and differs from then on",
        [_host("db-1", data_bad_from=UP + 3 * HOUR)],
        UP + 3 * HOUR,
        kind="data mismatch",
        duration=5 * HOUR,
    )
    add(
        "fault-data-mismatch-20min-history-fast",
        "data-mismatch",
        "db-1 was added to monitoring 20 minutes before its upgrade; 40 s after the upgrade a "
        "trigger the new release drops stops copying rows to the audit table: the data check "
        "differs from then on",
        [_host("db-1", upgrades=[1200.0], data_bad_from=1240.0)],
        1240.0,
        kind="data mismatch",
    )
    return out


# --------------------------------------------------------------------------- healthy


def healthy() -> list[Scenario]:
    """Held-out-9 healthy upgrades, synthetic and quoted: the noise that fools naive rules."""
    out: list[Scenario] = []
    _add(
        out,
        "healthy-counter-reset-after-restart",
        "counter-reset",
        "upgrade of web-1 by `rollsafe upgrade` (upgrade_started 30 s before the mark, refused "
        "12 s); its request counters restart from zero and the first rate Prometheus computes "
        "across the reset reads as a burst: one sample of 100% errors, then nothing",
        [
            Host(
                "web-1",
                **rolled(UP - 30, UP),
                down=[(UP - 20, UP - 8)],
                error_ratio=bumped(const(0.003), [(UP, UP + 30, 1.0)]),  # one 30 s sample
            )
        ],
    )
    _add(
        out,
        "healthy-cold-cache-slow-8min",
        "warmup-restart",
        "upgrade of web-1 by `rollsafe upgrade` (refused 15 s); its cache starts empty: health "
        "checks take 5 times longer and p99 is 3 times higher at first, decaying over about 8 "
        "minutes (time constant 160 s)",
        [
            Host(
                "web-1",
                **rolled(UP - 40, UP),
                down=[(UP - 30, UP - 15)],
                latency=decaying(UP - 15, 0.04, 0.2, 160.0),
                p99=decaying(UP - 15, 0.22, 0.66, 160.0),
            )
        ],
    )
    rotations = [UP - 2400.0, UP + 1200.0, UP + 4800.0]
    _add(
        out,
        "healthy-logrotate-error-bursts",
        "log-rotation",
        "web-1's logs rotate every hour; at each rotation its log shipper loses its file for a "
        "second and the application logs 8 `ERROR ... log file closed, reopening` lines at "
        "once; before and after a healthy upgrade alike",
        [
            Host(
                "web-1",
                app_lines=[
                    (
                        t + 0.05 * k,
                        "ERROR [log-writer] app.logging: log file closed, reopening "
                        f"(attempt {k + 1})",
                    )
                    for t in rotations
                    for k in range(8)
                ],
            )
        ],
    )
    backup = (UP + 1800, UP + 4200)
    _add(
        out,
        "healthy-nightly-backup-io",
        "backup-io",
        "30 minutes after db-1's healthy upgrade its nightly base backup starts and reads the "
        "disks for 40 minutes: query p99 2.5 times higher, CPU 60%, as on every night",
        [
            _host(
                "db-1",
                query_latency=bumped(const(0.012), [(*backup, 0.03)]),
                cpu=bumped(const(20.0), [(*backup, 60.0)]),
            )
        ],
        duration=2.5 * HOUR,
    )
    _add(
        out,
        "healthy-gc-pauses-p99-spikes",
        "gc-sawtooth",
        "web-1's JVM collects every 4 minutes; each old-generation pause makes p99 0.5 s for "
        "about 20 s, and memory drops from 70% to 48%; before and after the upgrade alike",
        [
            Host(
                "web-1",
                memory=lambda t: 48.0 + 22.0 * ((t % 240.0) / 240.0),
                p99=lambda t: 0.5 if (t % 240.0) < 20.0 else 0.22,
            )
        ],
    )
    _add(
        out,
        "healthy-neighbour-deploy-shared-db",
        "neighbour-deploy",
        "web-1 is upgraded; 20 minutes later another team deploys web-2 (not by rollsafe: "
        "refused 30 s) and its start-up warms the shared database: web-1's p99 1.6 times "
        "higher for 3 minutes, db-1's query p99 twice",
        [
            Host("web-1", p99=bumped(const(0.22), [(UP + 1230, UP + 1410, 0.35)])),
            Host("web-2", upgrades=[], down=[(UP + 1200, UP + 1230)]),
            _host(
                "db-1",
                upgrades=[],
                query_latency=bumped(const(0.012), [(UP + 1230, UP + 1410, 0.024)]),
            ),
        ],
    )
    _add(
        out,
        "healthy-autoscale-out-then-in",
        "autoscaling",
        "10 minutes after web-1's healthy upgrade the group scales out (two more instances): "
        "web-1's traffic falls from 40 to 14 requests/s and its CPU with it; 70 minutes later "
        "it scales in and both come back",
        [
            Host(
                "web-1",
                traffic=lambda t: 14.0 if UP + 600 <= t < UP + 4800 else 40.0,
                cpu=lambda t: 10.0 if UP + 600 <= t < UP + 4800 else 28.0,
            )
        ],
        duration=2.5 * HOUR,
    )
    reloads = [UP + 900.0, UP + 2700.0]
    _add(
        out,
        "healthy-config-reload-blips",
        "config-reload",
        "web-1's configuration management reloads nginx twice after the healthy upgrade "
        "(`Reloading nginx.service`, `Reloaded nginx.service`, usual systemd wording): each "
        "reload drops keep-alive connections, 1% of requests fail for 30 s and p99 doubles",
        [
            Host(
                "web-1",
                syslog=[
                    x
                    for t in reloads
                    for x in (
                        (
                            t,
                            "systemd[1]: Reloading nginx.service - A high performance web "
                            "server...",
                        ),
                        (
                            t + 0.3,
                            "systemd[1]: Reloaded nginx.service - A high performance web server.",
                        ),
                    )
                ],
                error_ratio=bumped(const(0.003), _windows(reloads, 30.0, 0.01)),
                p99=bumped(const(0.22), _windows(reloads, 20.0, 0.44)),
            )
        ],
    )
    _add(
        out,
        "healthy-tsc-unstable-switch-hpet",
        "kernel-warning",
        "40 minutes after batch-1's healthy upgrade the kernel's clocksource watchdog declares "
        "the TSC unstable and switches to HPET (`Marking clocksource 'tsc' as unstable`, `TSC "
        "found unstable after boot`, quoted); the runner goes on",
        [_host("batch-1", kernel=quoted_event(UP + 2400, "clocksource-tsc-unstable-hpet"))],
        origin="quoted",
        sources=cites("clocksource-tsc-unstable-hpet"),
    )
    stepped = _times("stepped", 0.0, 2 * HOUR, 30.0, 70.0)
    _add(
        out,
        "healthy-clock-stepped-back-3s",
        "clock-skew",
        "web-1's clock had run 3 s fast; 25 minutes after the healthy upgrade the time daemon "
        "steps it back, so the application log's stamps (logfmt) go back 3 s once",
        [
            Host(
                "web-1",
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=[
                    (t, _logfmt(t + (3.0 if t < UP + 1500 else 0.0), "info", "served")[1])
                    for t in stepped
                ],
            )
        ],
    )
    _add(
        out,
        "healthy-scrape-timeouts-every-5min",
        "monitoring-gap",
        "web-1's metrics endpoint is slow to render under its large label set: Prometheus's "
        "scrape times out for 30 s every 5 minutes, before and after a healthy upgrade",
        [
            Host(
                "web-1",
                gaps={"prometheus": [(300.0 * k + 120, 300.0 * k + 150) for k in range(24)]},
            )
        ],
    )
    _add(
        out,
        "healthy-noisy-hour-bad-client-5s-prober",
        "preexisting-errors",
        "web-1 is probed every 5 s; in the hour before its upgrade a misconfigured client "
        "makes 1.5% of requests fail with 2 error lines a minute; the client is fixed 10 "
        "minutes after the (healthy) upgrade",
        [
            Host(
                "web-1",
                health_every=5.0,
                error_ratio=lambda t: 0.015 if t < UP + 600 else 0.003,
                errors_per_minute=lambda t: 2.0 if t < UP + 600 else 0.05,
            )
        ],
    )
    _add(
        out,
        "healthy-gap-20min-after-upgrade",
        "monitoring-gap",
        "the prober and Prometheus both lose web-1 from 5 to 25 minutes after its healthy "
        "upgrade (the monitoring network's switch is replaced)",
        [
            Host(
                "web-1",
                gaps={"prometheus": [(UP + 300, UP + 1500)], "health": [(UP + 300, UP + 1500)]},
            )
        ],
    )
    _add(
        out,
        "healthy-single-thread-segfault",
        "single-segfault",
        "50 minutes after batch-1's healthy upgrade a worker thread of a tool an operator runs "
        "dies once (`nvservices[N]: segfault at 9 ... error 6 in eden[...]`, a thread's name, "
        "quoted); the runner is not concerned",
        [_host("batch-1", kernel=quoted_event(UP + 3000, "segv-thread-nvservices-error6"))],
        origin="quoted",
        sources=cites("segv-thread-nvservices-error6"),
    )
    _add(
        out,
        "healthy-single-scheduling-while-atomic",
        "single-kernel-bug",
        "batch-1's serial adapter's out-of-tree driver logs one `BUG: scheduling while atomic: "
        "ksoftirqd/0/3/0x00010102` (quoted) 35 minutes after a healthy upgrade, as it has done "
        "now and then for months; nothing else changes",
        [_host("batch-1", kernel=quoted_event(UP + 2100, "bug-atomic-ksoftirqd"))],
        origin="quoted",
        sources=cites("bug-atomic-ksoftirqd"),
    )
    _add(
        out,
        "healthy-db-refuses-clients-during-report",
        "connection-spike",
        "45 minutes after db-1's healthy upgrade a monthly report opens too many connections "
        "for a minute: PostgreSQL refuses three clients (`sorry, too many clients already`, "
        "`remaining connection slots are reserved`, quoted) and web-1 fails 0.5% of requests "
        "for that minute",
        [
            _host(
                "db-1",
                syslog=_syslog(
                    "pg-reserved-slots", [UP + 2700, UP + 2715, UP + 2740], "postgres[1]: "
                ),
            ),
            Host(
                "web-1",
                upgrades=[],
                error_ratio=bumped(const(0.003), [(UP + 2700, UP + 2760, 0.005)]),
            ),
        ],
        origin="quoted",
        sources=cites("pg-reserved-slots"),
    )
    traffic = _peak(UP + 4 * HOUR, 2 * HOUR, 4.0, 60.0)
    _add(
        out,
        "healthy-morning-peak-after-night-upgrade",
        "daily-cycle",
        "web-1 is upgraded at night (4 requests/s); 4 hours later the morning's traffic climbs "
        "to 60 requests/s over 2 hours: p99 from 0.2 s to 0.3 s and CPU from 8% to 55% with it, "
        "errors stay at 0.3%",
        [
            Host(
                "web-1",
                traffic=traffic,
                p99=lambda t: 0.2 + 0.0018 * traffic(t),
                cpu=lambda t: 6.0 + 0.8 * traffic(t),
            )
        ],
        duration=8 * HOUR,
    )
    blip = (UP + 1500, UP + 1590)
    _add(
        out,
        "healthy-resolver-restart-90s",
        "dependency-blip",
        "25 minutes after web-1's healthy upgrade the site's DNS resolver restarts: for 90 s "
        "lookups of a partner API fail, 4% of requests fail with `lookup partner.example: no "
        "such host` (JSON log), then all is well",
        [
            Host(
                "web-1",
                error_ratio=bumped(const(0.003), [(*blip, 0.04)]),
                app_lines=[
                    _json(
                        t,
                        "error",
                        "partner call failed",
                        error="lookup partner.example: no such host",
                    )
                    for t in _times("nxdomain", blip[0], blip[1], 3.0, 8.0)
                ],
            )
        ],
    )
    return out


# --------------------------------------------------------------------------- real data


def _first(curve: Callable[[float], float], start: float, end: float, above: float) -> float:
    """The first whole minute in ``[start, end)`` at which ``curve`` exceeds ``above``."""
    t = start
    while t < end:
        if curve(t) > above:
            return t
        t += MINUTE
    raise ValueError("the real series never reaches the level")


def real(
    nab: dict[str, Nab],
    *,
    linux: list[tuple[float, str]],
    apache: list[tuple[float, str]],
    hadoop: list[tuple[float, str]],
    cite_nab: Callable[[str], str],
    cite_log: Callable[[str], str],
) -> list[Scenario]:
    """Held-out-9 recordings on the real metrics and logs of ``../shared/data``: NAB day 11 of
    the ELB, day 4 and day 9 of the request latency, day 14 of the disk writes, day 1 of
    24ae8d, day 2 of the network, days 10 and 11 of RDS, day 7 of 5f5533; Loghub Linux lines
    50-249, 250-549, 1,000-1,199 and 1,850-1,998, Apache 150-449, 450-749 and 1,500-1,899,
    Hadoop 500-849, 850-1,199 and 1,600-1,998."""
    shared = _Shared(nab, linux, apache, hadoop, cite_nab, cite_log)
    return [*_real_faults(shared), *_real_healthy(shared)]


def _series(nab: dict[str, Nab]) -> tuple[Nab, Nab, Nab, Nab, Nab]:
    """The NAB series both halves of ``real`` use: ELB, request latency, disk writes, RDS and
    5f5533's CPU."""
    return (
        nab["elb_request_count_8c0756"],
        nab["ec2_request_latency_system_failure"],
        nab["ec2_disk_write_bytes_1ef3de"],
        nab["rds_cpu_utilization_cc0c53"],
        nab["ec2_cpu_utilization_5f5533"],
    )


class _Shared(NamedTuple):
    """What ``real`` is given: the NAB series and the Loghub lines, and how to cite them."""

    nab: dict[str, Nab]
    linux: list[tuple[float, str]]
    apache: list[tuple[float, str]]
    hadoop: list[tuple[float, str]]
    cite_nab: Callable[[str], str]
    cite_log: Callable[[str], str]


def _real_faults(shared: _Shared) -> list[Scenario]:
    """Held-out-9's faults on real data (see ``real``)."""
    out: list[Scenario] = []
    add = _HALF.real_adder(out)
    stretch, kernel_of = build.stretched, build.kernel_of
    linux, apache, hadoop = shared.linux, shared.apache, shared.hadoop
    cite_nab, cite_log = shared.cite_nab, shared.cite_log
    elb, lat, disk, rds, c5f = _series(shared.nab)
    c24 = shared.nab["ec2_cpu_utilization_24ae8d"]

    # -- errors that wait for a real day's peak (ELB day 11 from 00:00, night upgrade at 1 h).
    scale = 30.0 / max(1.0, elb.median())
    day = elb.curve(11 * DAY, scale=scale)
    busy = elb.quantile(0.8) * scale
    up = HOUR
    at = _first(day, up + 2 * HOUR, 20 * HOUR, busy)
    add(
        Scenario(
            "fault-errors-at-real-elb-peak-day11",
            "metrics-error-ratio",
            "web-1's traffic is a real ELB's day (NAB elb_request_count_8c0756, day 11 from "
            "00:00, scaled to a median of 30 requests/s); it is upgraded at 01:00; its new "
            "worker pool only falls short when traffic is above the series' 80th percentile: "
            "from the first such minute, more than 2 hours later, 6% of requests fail while it "
            "lasts",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    traffic=lambda t: max(0.5, day(t)),
                    error_ratio=lambda t: 0.06 if t >= at and day(t) > busy else 0.003,
                )
            ],
            duration=20 * HOUR,
            faults=[fault("web-1", at, "request errors")],
            sources=[cite_nab("elb_request_count_8c0756")],
        )
    )
    # -- p99 over a real latency series (day 4), a step after the upgrade.
    shape = lat.curve(4 * DAY, scale=1.0 / max(1e-9, lat.median()))
    up = 2 * HOUR
    add(
        Scenario(
            "fault-p99-step-over-real-latency-day4",
            "metrics-latency-quantile",
            "web-1's p99 follows a real service's request latency (NAB ec2_request_latency_"
            "system_failure, day 4, scaled so that its median is 0.25 s); 3 minutes after the "
            "upgrade at 2 hours a new authorization call makes it 2.2 times that, for good",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    p99=lambda t, up=up: (
                        0.25 * max(0.3, shape(t)) * (2.2 if t >= up + 180 else 1.0)
                    ),
                )
            ],
            duration=4 * HOUR,
            faults=[fault("web-1", up + 180, "p99 latency")],
            sources=[cite_nab("ec2_request_latency_system_failure")],
        )
    )
    # -- a slower health check over real syslog (Linux lines 1,000 to 1,199).
    noise = stretch(linux, 1000, 200, 3 * HOUR)
    up = 100 * MINUTE
    add(
        Scenario(
            "fault-latency-over-linux-1000-real",
            "latency-regression",
            "web-1's syslog and kern.log are real Linux syslog (Loghub, lines 1,000 to 1,199 "
            "stretched over 3 hours); a minute after its upgrade at 100 minutes its health "
            "check takes 3.5 times longer (130 ms) and stays so",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    syslog=noise,
                    kernel=kernel_of(noise),
                    latency=lambda t, up=up: 0.13 if t >= up + 60 else 0.037,
                )
            ],
            duration=3 * HOUR,
            faults=[fault("web-1", up + 60, "latency")],
            sources=[cite_log("Linux_2k.log")],
        )
    )
    # -- a leak over real disk-write wander (day 14).
    wander = disk.wander(14 * DAY, amplitude=4.0)
    up = 2 * HOUR
    add(
        Scenario(
            "fault-leak-over-real-disk-writes-day14",
            "memory-leak",
            "batch-1's memory wanders about 4 points with a real instance's disk writes (NAB "
            "ec2_disk_write_bytes_1ef3de, day 14, smoothed over an hour) around 50%; the "
            "upgrade at 2 hours leaks 3.5 points an hour",
            [
                _host(
                    "batch-1",
                    upgrades=[up],
                    memory=lambda t, up=up: 50.0 + wander(t) + max(0.0, t - up) / HOUR * 3.5,
                )
            ],
            duration=7 * HOUR,
            faults=[fault("batch-1", up, "memory leak")],
            sources=[cite_nab("ec2_disk_write_bytes_1ef3de")],
        )
    )
    # -- OOM kills over a real job log (Hadoop lines 500 to 849).
    jobs = stretch(hadoop, 500, 350, 150 * MINUTE)
    kills = _times("hadoop-java", UP + 500, UP + 7000, 400.0, 900.0)
    add(
        Scenario(
            "fault-oom-java-over-hadoop-500-real",
            "oom-repeated",
            "batch-1's job log is Loghub's real Hadoop run (lines 500 to 849 stretched over 2.5 "
            "hours); from 8 minutes after the upgrade (a bigger container heap) the kernel kills "
            "the job's JVM every 7 to 15 minutes (`Out of memory: Killed process N (java)`, "
            "`oom_reaper`, quoted); a fifth of the runner's checks answer 503 from the first",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=jobs,
                    kernel=_repeated("oom-java-global-reaper", kills),
                    health_5xx=after(const(0.0), kills[0], const(0.2)),
                )
            ],
            duration=150 * MINUTE,
            faults=[fault("batch-1", kills[0], "oom kills")],
            sources=[cite_log("Hadoop_2k.log"), *cites("oom-java-global-reaper")],
        )
    )
    # -- a crash over a real error log (Apache lines 150 to 449).
    errors = stretch(apache, 150, 300, 2 * HOUR)
    add(
        Scenario(
            "fault-crash-over-apache-150-real",
            "crash",
            "web-1's error log is Loghub's real Apache error log (lines 150 to 449 stretched "
            "over 2 hours, `[error]` lines included); 7 minutes after the upgrade the new "
            "module crashes the server at its first graceful restart and it stays down",
            [
                Host(
                    "web-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                    down=[(UP + 420, 99 * HOUR)],
                )
            ],
            faults=[fault("web-1", UP + 420, "crash")],
            sources=[cite_log("Apache_2k.log")],
        )
    )
    # -- a kernel BUG over real syslog (Linux lines 250 to 549).
    noise = stretch(linux, 250, 300, 2 * HOUR)
    add(
        Scenario(
            "fault-oops-bug-at-mm-over-linux-250-real",
            "kernel-oops",
            "batch-1's syslog and kern.log are real Linux syslog (Loghub, lines 250 to 549 "
            "stretched over 2 hours); 5 minutes after the upgrade (a new CPU-frequency module) "
            "`kernel BUG at include/linux/mm.h:737!` and `invalid opcode` (quoted); its daemon "
            "is gone and a third of the runner's checks answer 503",
            [
                _host(
                    "batch-1",
                    syslog=noise,
                    kernel=[*kernel_of(noise), *quoted_event(UP + 300, "bug-at-mm-h-corefreqd")],
                    health_5xx=after(const(0.0), UP + 300, const(0.33)),
                )
            ],
            faults=[fault("batch-1", UP + 300, "kernel oops")],
            sources=[cite_log("Linux_2k.log"), *cites("bug-at-mm-h-corefreqd")],
        )
    )
    # -- a segfault loop over a real error log (Apache lines 450 to 749).
    errors = stretch(apache, 450, 300, 150 * MINUTE)
    crashes = _times("pineflash", UP + 240, UP + 6000, 50.0, 120.0)
    add(
        Scenario(
            "fault-segv-libc-over-apache-450-real",
            "segfault-loop",
            "web-1's error log is Loghub's real Apache error log (lines 450 to 749 stretched "
            "over 2.5 hours); from 4 minutes after the upgrade a helper it spawns crashes in "
            "libc every 50 to 120 s (`segfault at 1f ... error 4 in libc.so.6[...] likely on "
            "CPU`, quoted); 4% of requests, those needing the helper, fail",
            [
                Host(
                    "web-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                    kernel=_repeated("segv-pineflash-libc", crashes),
                    error_ratio=after(const(0.003), crashes[0], const(0.04)),
                )
            ],
            duration=150 * MINUTE,
            faults=[fault("web-1", crashes[0], "segfault loop")],
            sources=[cite_log("Apache_2k.log"), *cites("segv-pineflash-libc")],
        )
    )
    # -- hung tasks over real syslog (Linux lines 1,850 to 1,998).
    noise = stretch(linux, 1850, 149, 2 * HOUR)
    add(
        Scenario(
            "fault-hung-fsync-over-linux-1850-real",
            "hung-task",
            "db-1's syslog and kern.log are real Linux syslog (Loghub, lines 1,850 to 1,998 "
            "stretched over 2 hours); its upgrade runs package hooks against a disk that the new "
            "release's checkpointing saturates: from 2 minutes after it a hook is blocked in "
            "fdatasync, reported every 120 s, 8 times (`INFO: task update-mime-dat:N blocked "
            "for more than 120 seconds.`, quoted); query p99 is 7 times higher meanwhile",
            [
                _host(
                    "db-1",
                    syslog=noise,
                    kernel=[
                        *kernel_of(noise),
                        *_repeated(
                            "hung-update-mime-fsync", [UP + 240 + 120 * k for k in range(8)]
                        ),
                    ],
                    query_latency=bumped(const(0.012), [(UP + 120, UP + 1200, 0.084)]),
                )
            ],
            faults=[fault("db-1", UP + 120, "hung task")],
            sources=[cite_log("Linux_2k.log"), *cites("hung-update-mime-fsync")],
        )
    )
    # -- a unit that hits its start limit over a real job log (Hadoop lines 850 to 1,199).
    jobs = stretch(hadoop, 850, 350, 2 * HOUR)
    add(
        Scenario(
            "fault-unit-start-limit-over-hadoop-850-real",
            "systemd-unit-failure",
            "batch-1's job log is Loghub's real Hadoop run (lines 850 to 1,199 stretched over "
            "2 hours); its upgrade breaks the unit of a companion server, which exits at start "
            "until systemd's limit (`Start request repeated too quickly.`, quoted) 40 s after "
            "the upgrade and again whenever a timer retries it, every 15 minutes",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=jobs,
                    syslog=_units(
                        "systemd-start-limit-coder", [UP + 40 + 900 * k for k in range(4)]
                    ),
                )
            ],
            faults=[fault("batch-1", UP + 40, "unit failed")],
            sources=[cite_log("Hadoop_2k.log"), *cites("systemd-start-limit-coder")],
        )
    )
    # -- outages over real CPU (24ae8d, day 1).
    cpu = c24.curve(1 * DAY, scale=70.0 / max(1.0, c24.quantile(0.99)))
    add(
        Scenario(
            "fault-outage-over-real-cpu-day1",
            "outage-near-down-for",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_24ae8d, day 1, "
            "scaled); its new release deadlocks under a rare request: refused 50 s 12 minutes "
            "after the upgrade, again 40 and 71 minutes after",
            [
                Host(
                    "web-1",
                    cpu=cpu,
                    down=[(UP + 720, UP + 770), (UP + 2400, UP + 2450), (UP + 4260, UP + 4310)],
                )
            ],
            faults=[fault("web-1", UP + 720, "outage")],
            sources=[cite_nab("ec2_cpu_utilization_24ae8d")],
        )
    )
    # -- a data mismatch over a real database day (RDS day 10).
    load = rds.level(10 * DAY, smooth=20 * MINUTE)
    add(
        Scenario(
            "fault-data-mismatch-over-real-rds-day10",
            "data-mismatch",
            "db-1's query p99 follows a real RDS instance's load (NAB rds_cpu_utilization_"
            "cc0c53, day 10, smoothed over 20 minutes); 25 minutes after the upgrade a changed "
            "collation sorts rows differently on the replica: the data check differs from then on",
            [
                _host(
                    "db-1",
                    query_latency=lambda t: 0.01 * (1.0 + 0.8 * max(0.0, load(t))),
                    data_bad_from=UP + 1500,
                )
            ],
            faults=[fault("db-1", UP + 1500, "data mismatch")],
            sources=[cite_nab("rds_cpu_utilization_cc0c53")],
        )
    )
    # -- a panic over real syslog (Linux lines 700 to 849).
    noise = stretch(linux, 700, 150, 2 * HOUR)
    add(
        Scenario(
            "fault-panic-hard-lockup-over-linux-700-real",
            "kernel-panic",
            "db-1's syslog and kern.log are real Linux syslog (Loghub, lines 700 to 849 "
            "stretched over 2 hours); 17 minutes after its upgrade (a kernel with nmi_watchdog "
            "set to panic) a CPU locks with interrupts off: `Kernel panic - not syncing: Hard "
            "LOCKUP` (quoted); the host stays down",
            [
                _host(
                    "db-1",
                    syslog=noise,
                    kernel=[*kernel_of(noise), *quoted_event(UP + 1020, "panic-hard-lockup-el7")],
                    down=[(UP + 1021, 99 * HOUR)],
                )
            ],
            faults=[fault("db-1", UP + 1020, "kernel panic")],
            sources=[cite_log("Linux_2k.log"), *cites("panic-hard-lockup-el7")],
        )
    )
    # -- hard lockups over real CPU (5f5533, day 3).
    cpu3 = c5f.curve(3 * DAY, scale=60.0 / max(1.0, c5f.quantile(0.99)))
    lockups = _times("hard-real", UP + 600, UP + 7000, 900.0, 1800.0)
    add(
        Scenario(
            "fault-lockup-hard-over-real-cpu-day3",
            "soft-lockup",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_5f5533, day 3, "
            "scaled); from 10 minutes after its upgrade, every 15 to 30 minutes, `NMI watchdog: "
            "Watchdog detected hard LOCKUP on cpu 1` (quoted); its checks take 6 s for 40 s "
            "each time",
            [
                Host(
                    "web-1",
                    cpu=cpu3,
                    kernel=[
                        x
                        for t in lockups
                        for x in quoted_event(t, "lockup-hard-nmi-swapper-debian")
                    ],
                    slow=[(t - 15 + 10 * k, 6.0) for t in lockups for k in range(4)],
                )
            ],
            duration=150 * MINUTE,
            faults=[fault("web-1", lockups[0] - 15, "soft lockup")],
            sources=[
                cite_nab("ec2_cpu_utilization_5f5533"),
                *cites("lockup-hard-nmi-swapper-debian"),
            ],
        )
    )
    return out


def _real_healthy(shared: _Shared) -> list[Scenario]:
    """Held-out-9's healthy recordings on real data (see ``real``)."""
    out: list[Scenario] = []
    add = _HALF.real_adder(out)
    stretch, kernel_of = build.stretched, build.kernel_of
    linux, apache, hadoop = shared.linux, shared.apache, shared.hadoop
    cite_nab, cite_log = shared.cite_nab, shared.cite_log
    elb, lat, disk, rds, c5f = _series(shared.nab)
    net = shared.nab["ec2_network_in_257a54"]
    day = elb.curve(11 * DAY, scale=30.0 / max(1.0, elb.median()))
    add(
        Scenario(
            "healthy-real-elb-day11-night-upgrade",
            "daily-cycle",
            "web-1's traffic is a real ELB's day (NAB elb_request_count_8c0756, day 11 from "
            "00:00, scaled to a median of 30 requests/s); healthy upgrade at 01:00; p99 and CPU "
            "follow the traffic through the day's peak",
            [
                Host(
                    "web-1",
                    upgrades=[HOUR],
                    traffic=lambda t: max(0.5, day(t)),
                    p99=lambda t: 0.18 + 0.002 * max(0.0, day(t)),
                    cpu=lambda t: 6.0 + 0.7 * max(0.0, day(t)),
                )
            ],
            duration=20 * HOUR,
            sources=[cite_nab("elb_request_count_8c0756")],
        )
    )
    shape9 = lat.curve(9 * DAY, scale=1.0 / max(1e-9, lat.median()))
    add(
        Scenario(
            "healthy-real-latency-day9",
            "latency-noise",
            "web-1's p99 follows a real service's request latency (NAB ec2_request_latency_"
            "system_failure, day 9, median 0.25 s, its own spikes included); healthy upgrade "
            "at 3 hours",
            [Host("web-1", upgrades=[3 * HOUR], p99=lambda t: 0.25 * max(0.3, shape9(t)))],
            duration=6 * HOUR,
            sources=[cite_nab("ec2_request_latency_system_failure")],
        )
    )
    backup = disk.level(15 * DAY, smooth=10 * MINUTE)
    add(
        Scenario(
            "healthy-real-disk-writes-backup-day15",
            "backup-io",
            "db-1's query p99 and CPU follow a real instance's disk writes (NAB ec2_disk_write_"
            "bytes_1ef3de, day 15, smoothed over 10 minutes: its write bursts); healthy upgrade "
            "at 2 hours",
            [
                _host(
                    "db-1",
                    upgrades=[2 * HOUR],
                    query_latency=lambda t: 0.01 * (1.0 + 1.5 * max(0.0, backup(t))),
                    cpu=lambda t: 15.0 + 35.0 * max(0.0, min(1.5, backup(t))),
                )
            ],
            duration=6 * HOUR,
            sources=[cite_nab("ec2_disk_write_bytes_1ef3de")],
        )
    )
    wander2 = net.wander(2 * DAY, amplitude=5.0, smooth=20 * MINUTE)
    add(
        Scenario(
            "healthy-real-network-memory-wander-day2",
            "memory-wander",
            "web-1's memory wanders about 5 points with a real instance's network input (NAB "
            "ec2_network_in_257a54, day 2, smoothed over 20 minutes) around 55%, exported every "
            "15 s; healthy upgrade at 2 hours",
            [
                Host(
                    "web-1",
                    upgrades=[2 * HOUR],
                    metrics_every=15.0,
                    memory=lambda t: 55.0 + wander2(t),
                )
            ],
            duration=6 * HOUR,
            sources=[cite_nab("ec2_network_in_257a54")],
        )
    )
    level11 = rds.level(11 * DAY, smooth=30 * MINUTE)
    add(
        Scenario(
            "healthy-real-rds-day11",
            "daily-cycle",
            "db-1's query p99 and CPU follow a real RDS instance's load (NAB rds_cpu_"
            "utilization_cc0c53, day 11, smoothed over 30 minutes); healthy upgrade at 3 hours",
            [
                _host(
                    "db-1",
                    upgrades=[3 * HOUR],
                    query_latency=lambda t: 0.011 * (1.0 + 0.9 * max(0.0, level11(t))),
                    cpu=lambda t: 12.0 + 45.0 * max(0.0, level11(t)),
                )
            ],
            duration=7 * HOUR,
            sources=[cite_nab("rds_cpu_utilization_cc0c53")],
        )
    )
    cpu7 = c5f.curve(7 * DAY, scale=85.0 / max(1.0, c5f.quantile(0.99)))
    add(
        Scenario(
            "healthy-real-cpu-5f5533-day7",
            "cron-cpu",
            "batch-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_5f5533, day 7, "
            "scaled so that its 99th percentile is 85%); healthy upgrade by `rollsafe upgrade` at "
            "150 minutes",
            [_host("batch-1", **rolled(150 * MINUTE - 45, 150 * MINUTE), cpu=cpu7)],
            duration=5 * HOUR,
            sources=[cite_nab("ec2_cpu_utilization_5f5533")],
        )
    )
    noise = stretch(linux, 50, 200, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-linux-50-syslog",
            "noisy-syslog",
            "db-1's syslog and kern.log are real Linux syslog (Loghub, lines 50 to 249 "
            "stretched over 3 hours); a healthy upgrade at 90 minutes",
            [_host("db-1", upgrades=[90 * MINUTE], syslog=noise, kernel=kernel_of(noise))],
            duration=3 * HOUR,
            sources=[cite_log("Linux_2k.log")],
        )
    )
    errors = stretch(apache, 1500, 400, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-apache-1500-errors",
            "preexisting-errors",
            "web-1's error log is Loghub's real Apache error log (lines 1,500 to 1,899 stretched "
            "over 3 hours, its `[error]` bursts included); a healthy upgrade by `rollsafe "
            "upgrade` at 70 minutes (refused 12 s)",
            [
                Host(
                    "web-1",
                    **rolled(70 * MINUTE - 30, 70 * MINUTE),
                    down=[(70 * MINUTE - 22, 70 * MINUTE - 10)],
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Apache_2k.log")],
        )
    )
    jobs = stretch(hadoop, 1600, 399, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-hadoop-1600-jobs",
            "preexisting-errors",
            "batch-1's job log is Loghub's real Hadoop run (lines 1,600 to 1,998 stretched over "
            "3 hours, its WARN and ERROR lines included); a healthy upgrade at 100 minutes",
            [
                _host(
                    "batch-1",
                    upgrades=[100 * MINUTE],
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=jobs,
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Hadoop_2k.log")],
        )
    )
    morning = elb.curve(12 * DAY + 8 * HOUR, scale=40.0 / max(1.0, elb.median()))
    up = 90 * MINUTE
    add(
        Scenario(
            "healthy-real-elb-day12-warmup",
            "warmup-restart",
            "web-1's traffic is a real ELB's morning (NAB elb_request_count_8c0756, day 12 from "
            "08:00, scaled to a median of 40 requests/s); upgrade by `rollsafe upgrade` at 90 "
            "minutes (refused 20 s); a cold cache makes p99 2.5 times higher and health checks "
            "3 times slower at first, decaying with a time constant of 4 minutes",
            [
                Host(
                    "web-1",
                    **rolled(up - 50, up),
                    down=[(up - 40, up - 20)],
                    traffic=lambda t: max(0.5, morning(t)),
                    latency=decaying(up - 20, 0.04, 0.12, 240.0),
                    p99=lambda t, up=up: (
                        (0.18 + 0.002 * max(0.0, morning(t)))
                        * (1.0 + 1.5 * (math.exp(-(t - up + 20) / 240.0) if t >= up - 20 else 0.0))
                    ),
                )
            ],
            duration=4 * HOUR,
            sources=[cite_nab("elb_request_count_8c0756")],
        )
    )
    noise = stretch(linux, 250, 300, 2 * HOUR)
    add(
        Scenario(
            "healthy-real-linux-250-with-tsc-switch",
            "kernel-warning",
            "web-1's syslog and kern.log are real Linux syslog (Loghub, lines 250 to 549 "
            "stretched over 2 hours); 30 minutes after a healthy upgrade the TSC is declared "
            "unstable and the kernel switches to HPET (quoted); nothing else changes",
            [
                Host(
                    "web-1",
                    syslog=noise,
                    kernel=[
                        *kernel_of(noise),
                        *quoted_event(UP + 1800, "clocksource-tsc-unstable-hpet"),
                    ],
                )
            ],
            sources=[cite_log("Linux_2k.log"), *cites("clocksource-tsc-unstable-hpet")],
        )
    )
    return out
