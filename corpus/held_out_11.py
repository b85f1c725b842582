"""Held-out-11 of rollsafe's judgment corpus: upgrades nobody tuned on (issue #15, round 12).

Every earlier half (design, held-out, held-out-2 to held-out-10) has been looked at by people
changing rules. This half was written in round 12 by a helper that changed no rule, preset or
judge code and never replayed it, while others were changing rules without seeing it, from
what a fleet meets after an upgrade (not from what the rules catch or miss); the lead replays
it once, untuned. No preset may be tuned on it (``--half held-out-11``).

New series: every web host of this half also carries ``http-requests`` (requests per second
over a minute, every 30 s: ``sum(rate(http_requests_total[1m]))``), drawn from the traffic the
scenario describes (``Host.traffic``): daily cycles, a canary given little traffic, a drained
host, a load test, clients giving up, a balancer ejecting a host.

What is new here against the earlier halves: faults that show only at the day's peak (errors,
p99, OOM kills), errors on a fraction of routes, a dependency failing slowly, disk latency
growing with NVMe command timeouts and aborts, an NVMe-oF target lost, block-layer read errors
under a replica, the connection-tracking table full and TCP memory exhausted under the new
release's connection pattern, half-open connections after a balancer's idle timeout, an
expired client certificate shipped in a release, a clock that drifts away once its time
source is gone, a restart loop with systemd's long backoff and the start limit, a balancer
ejecting a host (traffic falls), memory that grows without levelling off; and healthy noise
that fools naive rules: memory that grows after an upgrade and levels off, a log storm of
deprecation warnings, an hourly cron job colliding with the watch, a canary given 2% of the
traffic, a load test and a marketing spike during the watch, a host drained for its upgrade, a
SATA link reset and an NVMe stall that recover, a fleet-wide conntrack flood, a clock stepped
back by NTP.

``corpus/build.py`` renders these scenarios like every other; this module only describes them.
Its irregular times come from generators of its own (``held-out-11/<seed>``), and every
recording is rendered from a generator seeded by its own name, so adding this half moves no
byte of the others. Real data: messages quoted from public reports no other half cites
(``corpus/quoted.py``, held-out-11 section, each with its URL), and NAB metrics and Loghub logs
of ``../shared/data`` (days and line ranges no earlier half uses as spans), read at build time
(``real``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import build
import quoted
from build import (
    HOUR,
    MINUTE,
    START,
    UP,
    Curve,
    Host,
    Nab,
    Scenario,
    after,
    bumped,
    cites,
    const,
    decaying,
    fault,
    quoted_event,
    quoted_units,
    ramp,
    rolled,
)
from held_out_10 import (  # the same real series, the same ways of reading them
    DISK,
    ELB,
    LATENCY,
    NET,
    RDS,
    _down,
    _Shared,
    _soft_lockup,
)

HELD_OUT_11 = "held-out-11"  # written in round 12 by a helper that changed no rule; never tuned on
DAY = 24 * HOUR

_HALF = build.Half(HELD_OUT_11)
_times = _HALF.times  # irregular times of this half's own (``held-out-11/<seed>``)
_add = _HALF.add
_fault_adder = _HALF.fault_adder
_host = build._host
_repeated = build.repeated


# --------------------------------------------------------------------------- shapes


def _day(peak: float, low: float, *, peak_h: float) -> Curve:
    """A day's traffic (requests/s): ``low`` at night, ``peak`` ``peak_h`` hours after the
    recording starts (a raised cosine cubed, not a sine: nights are long and flat, the day's
    peak narrower)."""
    return lambda t: (
        low + (peak - low) * ((1.0 + math.cos(2 * math.pi * (t / HOUR - peak_h) / 24)) / 2) ** 3
    )


def _above(curve: Curve, level: float, value: Curve, base: Curve, *, since: float = UP) -> Curve:
    """``value`` while ``curve`` is above ``level`` from ``since`` on (the upgrade), ``base``
    otherwise."""
    return lambda t: value(t) if t >= since and curve(t) > level else base(t)


def _when(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(START + t, tz=dt.UTC)


def _app(t: float, level: str, logger: str, message: str) -> tuple[float, str]:
    """One application line (``YYYY-mm-dd HH:MM:SS,mmm LEVEL [thread] logger: message``)."""
    when = _when(t)
    stamp = f"{when:%Y-%m-%d %H:%M:%S},{when.microsecond // 1000:03d}"
    return (t, f"@raw {stamp} {level} [worker-{int(t) % 8 + 1}] {logger}: {message}")


def _segv(comm: str, pid: int, lib: str) -> str:
    """A user-space segfault as the kernel logs it (synthetic values)."""
    return f"{comm}[{pid}]: segfault at 18 ip 00007f3a1c2b4e10 sp 00007ffd5e9a1f30 error 4 in {lib}"


def _backoff(
    first: float, up: float, steps: list[float]
) -> tuple[list[float], list[tuple[float, float]]]:
    """A service failing ``up`` seconds after each start, restarted after each delay in
    ``steps`` (systemd's RestartSteps=): the failure times and the windows it is down."""
    failures: list[float] = []
    down: list[tuple[float, float]] = []
    t = first
    for delay in steps:
        failures.append(t)
        down.append((t, t + delay))
        t += delay + up
    return failures, down


def _x509(t: float) -> tuple[float, str]:
    """The quoted expired-certificate error as the release's payment client logs it."""
    [line] = quoted.EVENTS["x509-expired-xdcc"].lines
    return _app(t, "ERROR", "app.payments", f'Post "https://payments.internal/v2/charge": {line}')


# --------------------------------------------------------------------------- faults


def faults() -> list[Scenario]:
    """Held-out-11 faults, synthetic and quoted: every family issue #15 names, on every role."""
    return [*_faults_signals(), *_faults_down(), *_faults_kernel()]


def _faults_signals() -> list[Scenario]:
    """Held-out-11 faults that the service's signals show: errors, p99, latency, memory."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- errors only at the day's peak: a pool sized for the night.
    traffic = _day(60.0, 4.0, peak_h=9.0)
    busy = 45.0
    first = next(t for t in range(0, 12 * 3600, 30) if traffic(t) > busy)
    add(
        "fault-errors-only-at-peak",
        "metrics-error-ratio",
        "web-1 is upgraded at night (1 hour in, 5 requests/s; the day peaks at 60 requests/s 9 "
        "hours in); its new release caps its upstream pool at 32 connections, enough at night: "
        "while traffic is above 45 requests/s (6.6 to 11.4 hours in) 7% of requests fail with "
        "`pool timeout`; before and after, 0.3% as before",
        [
            Host(
                "web-1",
                traffic=traffic,
                error_ratio=_above(traffic, busy, const(0.07), const(0.003)),
                p99=lambda t: 0.18 + 0.004 * traffic(t),
                cpu=lambda t: 5.0 + 0.8 * traffic(t),
                app_lines=[
                    _app(t, "ERROR", "app.upstream", "pool timeout: 32/32 connections busy")
                    for t in _times("peak-pool", first, 12 * HOUR, 6.0, 40.0)
                    if traffic(t) > busy
                ],
            )
        ],
        float(first),
        kind="request errors",
        duration=12 * HOUR,
    )
    # -- errors on one route in twelve.
    add(
        "fault-errors-one-route-of-twelve",
        "metrics-error-ratio",
        "web-1's new release breaks one route of twelve (`/api/v1/export`, 4% of requests): it "
        "answers 500 from the upgrade on (`KeyError: 'tenant_id'`); the 11 other routes and the "
        "health check are fine: errors 0.3% -> 4.3%",
        [
            Host(
                "web-1",
                error_ratio=after(const(0.003), UP + 20, const(0.043)),
                app_lines=[
                    _app(
                        t,
                        "ERROR",
                        "app.views.export",
                        "GET /api/v1/export 500: KeyError: 'tenant_id'",
                    )
                    for t in _times("route", UP + 20, 2 * HOUR, 0.5, 4.0)
                ],
            )
        ],
        UP + 20,
        kind="request errors",
    )
    # -- an expired client certificate shipped in the release (quoted Go error).
    add(
        "fault-errors-expired-client-certificate",
        "metrics-error-ratio",
        "web-1's new release bundles an old client certificate for the payment provider, "
        "expired weeks ago: every checkout call fails its TLS handshake (`x509: certificate has "
        "expired or is not yet valid`, quoted) from the upgrade on: 11% of requests fail, the "
        "rest and the health check are fine",
        [
            Host(
                "web-1",
                error_ratio=after(const(0.003), UP + 30, const(0.11)),
                app_lines=[_x509(t) for t in _times("x509", UP + 30, 2 * HOUR, 1.0, 6.0)],
            )
        ],
        UP + 30,
        kind="request errors",
        origin="quoted",
        sources=cites("x509-expired-xdcc"),
    )
    # -- the conntrack table fills: the new release opens a connection per request.
    conn = UP + 900
    add(
        "fault-errors-conntrack-table-full",
        "metrics-error-ratio",
        "web-1's new release drops keep-alive to its backends and opens a connection per "
        "request; 15 minutes after the upgrade the connection-tracking table is full "
        "(`nf_conntrack: table full, dropping packet`, quoted, every few seconds) and 9% of "
        "requests fail or time out; clients retry, so traffic rises 10%",
        [
            Host(
                "web-1",
                traffic=after(const(40.0), conn, const(44.0)),
                error_ratio=after(const(0.003), conn, const(0.09)),
                p99=after(const(0.22), conn, const(1.1)),
                kernel=[
                    x
                    for t in _times("conntrack", conn, 2 * HOUR, 2.0, 15.0)
                    for x in quoted_event(t, "conntrack-full-kubernetes")
                ],
            )
        ],
        conn,
        kind="request errors",
        origin="quoted",
        sources=cites("conntrack-full-kubernetes"),
    )
    # -- TCP memory exhausted under many streams.
    mem = UP + 1500
    add(
        "fault-errors-tcp-memory-exhausted",
        "metrics-error-ratio",
        "web-1's new release raises its HTTP/2 stream window to 16 MB; with slow clients the "
        "kernel's TCP buffers pass tcp_mem 25 minutes after the upgrade (`TCP: out of memory -- "
        "consider tuning tcp_mem`, quoted) and sockets are dropped: 6% of requests fail, p99 "
        "2.5 s",
        [
            Host(
                "web-1",
                error_ratio=after(const(0.003), mem, const(0.06)),
                p99=after(const(0.22), mem, const(2.5)),
                kernel=[
                    x
                    for t in _times("tcpmem", mem, 2 * HOUR, 1.0, 20.0)
                    for x in quoted_event(t, "tcp-mem-tempesta")
                ],
            )
        ],
        mem,
        kind="request errors",
        origin="quoted",
        sources=cites("tcp-mem-tempesta"),
    )
    # -- a canary given 2% of the traffic, failing a third of it.
    add(
        "fault-errors-canary-on-little-traffic",
        "metrics-error-ratio",
        "web-2 is the canary: the balancer gives it 2% of the traffic (1 request/s) while web-1 "
        "keeps 40 requests/s on the old release; web-2's new release fails 30% of its requests "
        "(a serializer error) from the upgrade on: few requests (48 a minute), so its error "
        "ratio jumps between about 15% and 45% minute to minute",
        [
            Host(
                "web-2",
                traffic=const(0.8),
                error_ratio=after(const(0.003), UP + 40, const(0.3)),
                app_lines=[
                    _app(
                        t,
                        "ERROR",
                        "app.render",
                        "TypeError: Object of type Decimal is not JSON serializable",
                    )
                    for t in _times("canary-ser", UP + 40, 2 * HOUR, 2.0, 30.0)
                ],
            ),
            Host("web-1", upgrades=[]),
        ],
        UP + 40,
        kind="request errors",
    )
    # -- latency only at peak: a regression that needs load to show.
    traffic2 = _day(55.0, 3.0, peak_h=8.0)
    busy2 = 40.0
    slow_from = next(t for t in range(0, 12 * 3600, 30) if traffic2(t) > busy2)
    add(
        "fault-latency-only-at-peak-hours",
        "latency-regression",
        "web-1's new release takes a global lock on its template cache; at night (upgrade 1 "
        "hour in, 6 requests/s) nobody waits, but while traffic is above 40 requests/s (5.5 to "
        "10.5 hours in; peak 55 at 8 hours) health checks wait behind requests: 40 ms -> 450 "
        "ms, p99 4 times higher",
        [
            Host(
                "web-1",
                traffic=traffic2,
                latency=_above(traffic2, busy2, const(0.45), const(0.04)),
                p99=lambda t: (0.18 + 0.004 * traffic2(t)) * (4.0 if traffic2(t) > busy2 else 1.0),
                cpu=lambda t: 5.0 + 0.8 * traffic2(t),
            )
        ],
        float(slow_from),
        kind="latency",
        duration=12 * HOUR,
    )
    # -- a dependency failing slowly.
    add(
        "fault-latency-dependency-failing-slowly",
        "latency-regression",
        "web-1's new release reads feature flags from a new flag service on every request; "
        "that service degrades slowly under the added load: health checks (which read a flag) "
        "go from 40 ms to 700 ms over 80 minutes after the upgrade, and p99 with them; no "
        "errors until the end",
        [
            Host(
                "web-1",
                latency=ramp(UP + 120, 80 * MINUTE, 0.04, 0.7),
                p99=ramp(UP + 120, 80 * MINUTE, 0.22, 2.4),
            )
        ],
        UP + 600,
        kind="latency",
        duration=3 * HOUR,
    )
    # -- a batch runner slower behind NVMe command timeouts (quoted).
    aborts = _times("nvme-batch", UP + 300, 2 * HOUR, 60.0, 240.0)
    add(
        "fault-latency-nvme-aborts-batch",
        "latency-regression",
        "batch-1's new kernel changes the NVMe driver's power-state handling; from 5 minutes "
        "after the upgrade the drive stops answering now and then: `nvme nvme0: I/O 14 QID 2 "
        "timeout, aborting` and `Abort status: 0x0` (quoted) every 1 to 4 minutes, and the "
        "runner's checks take 1.5 s instead of 50 ms from then on",
        [
            _host(
                "batch-1",
                latency=after(const(0.05), aborts[0], const(1.5)),
                kernel=[x for t in aborts for x in quoted_event(t, "nvme-abort-status-clearlinux")],
            )
        ],
        aborts[0],
        kind="latency",
        origin="quoted",
        sources=cites("nvme-abort-status-clearlinux"),
    )
    # -- disk latency growing under the database (quoted single-line NVMe timeouts).
    growth = _times("nvme-db", UP + 600, 3 * HOUR, 120.0, 600.0)
    add(
        "fault-p99-db-disk-latency-grows",
        "metrics-latency-quantile",
        "db-1's upgrade moves its data volume to a new virtual NVMe controller; its latency "
        "grows with the write-ahead log: query p99 12 ms -> 180 ms over 2 hours, with `nvme "
        "nvme0: I/O 34 QID 13 timeout, aborting` (quoted) more and more often",
        [
            _host(
                "db-1",
                query_latency=ramp(UP + 300, 2 * HOUR, 0.012, 0.18),
                kernel=[
                    x
                    for n, t in enumerate(growth)
                    if n % 3 != 1 or t > UP + HOUR
                    for x in quoted_event(t, "nvme-timeout-aborting-vmware")
                ],
            )
        ],
        UP + 1200,
        kind="latency",
        origin="quoted",
        sources=cites("nvme-timeout-aborting-vmware"),
        duration=3 * HOUR,
    )
    # -- p99 only at peak.
    traffic3 = _day(58.0, 5.0, peak_h=7.5)
    busy3 = 42.0
    p99_from = next(t for t in range(0, 12 * 3600, 30) if traffic3(t) > busy3)
    add(
        "fault-p99-only-at-peak-hours",
        "metrics-latency-quantile",
        "web-1's new release runs garbage collection with a smaller young generation; at "
        "night (upgrade 1 hour in, 9 requests/s) nothing shows; while traffic is above 42 "
        "requests/s (4.9 to 10.1 hours in; peak 58) p99 is 5 times higher (0.3 s -> 1.6 s); "
        "health checks stay fast",
        [
            Host(
                "web-1",
                traffic=traffic3,
                p99=lambda t: (0.18 + 0.003 * traffic3(t)) * (5.0 if traffic3(t) > busy3 else 1.0),
                cpu=lambda t: 6.0 + 0.8 * traffic3(t),
            )
        ],
        float(p99_from),
        kind="latency",
        duration=12 * HOUR,
    )
    # -- half-open connections after a balancer's idle timeout.
    stalls = _times("half-open", UP + 400, 2 * HOUR, 180.0, 420.0)
    add(
        "fault-p99-half-open-connections",
        "metrics-latency-quantile",
        "web-1's new release keeps idle backend connections for 10 minutes, longer than the "
        "firewall's 5-minute idle timeout: every 3 to 7 minutes a batch of requests writes to "
        "a half-open connection and waits for TCP's retransmission timeout (3 s) before it "
        "reconnects: p99 3.2 s for a minute each time, the median unchanged",
        [
            Host(
                "web-1",
                p99=bumped(const(0.22), [(t, t + 60.0, 3.2) for t in stalls]),
                app_lines=[
                    _app(
                        t + 3.1,
                        "WARN",
                        "app.pool",
                        "connection reset by peer after 3012 ms, reconnected",
                    )
                    for t in stalls
                ],
            )
        ],
        stalls[0],
        kind="latency",
    )
    # -- a query p99 regression on a read replica (query plan).
    add(
        "fault-p99-db-query-plan-after-analyze",
        "metrics-latency-quantile",
        "db-1's upgrade resets its planner statistics; 3 minutes after it the hottest query "
        "switches to a sequential scan: query p99 12 ms -> 95 ms from then on, CPU 20% -> 55%",
        [
            _host(
                "db-1",
                query_latency=after(const(0.012), UP + 180, const(0.095)),
                cpu=after(const(20.0), UP + 180, const(55.0)),
            )
        ],
        UP + 180,
        kind="latency",
    )
    # -- memory that grows and does not level off.
    add(
        "fault-leak-never-levels-off",
        "memory-leak",
        "web-1's memory rises after its upgrade as a healthy warm-up does (12 points in 20 "
        "minutes) but then keeps growing at 5 points an hour for the 6 hours watched: a cache "
        "with no eviction",
        [
            Host(
                "web-1",
                memory=lambda t: (
                    42.0
                    + (
                        0.0
                        if t < UP
                        else 12.0 * min(1.0, (t - UP) / 1200.0)
                        + 5.0 * max(0.0, t - UP - 1200) / HOUR
                    )
                ),
            )
        ],
        UP + 1200,
        kind="memory leak",
        duration=6 * HOUR,
    )
    # -- a leak in steps, one per hourly job.
    add(
        "fault-leak-batch-steps-per-job",
        "memory-leak",
        "batch-1's new runner keeps each hourly job's parsed input: memory climbs 6 points at "
        "every job (at :10 past each hour) and never comes down, 45% -> 75% over 5 hours",
        [
            _host(
                "batch-1",
                memory=lambda t: 45.0 + 6.0 * sum(1 for k in range(8) if UP + 600 + k * HOUR <= t),
                cpu=bumped(
                    const(15.0),
                    [(UP + 600 + k * HOUR, UP + 900 + k * HOUR, 70.0) for k in range(8)],
                ),
            )
        ],
        UP + 600,
        kind="memory leak",
        duration=6 * HOUR,
    )
    # -- a database backend leak, slow.
    add(
        "fault-leak-db-backend-slow",
        "memory-leak",
        "db-1's upgraded extension leaks in every backend that calls it: memory grows 3 "
        "points an hour from the upgrade, 50% -> 65% over the 5 hours watched; queries are "
        "as fast as before",
        [_host("db-1", memory=lambda t: 50.0 + 3.0 * max(0.0, t - UP) / HOUR)],
        UP + 300,
        kind="memory leak",
        duration=6 * HOUR,
    )
    return out


def _faults_down() -> list[Scenario]:
    """Held-out-11 faults that take a service down or kill it: crash, outage, OOM, units,
    data."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- a restart loop with systemd's long backoff (quoted exit-code lines).
    fails, down = _backoff(UP + 240, 40.0, [60.0, 180.0, 540.0, 1620.0, 3600.0])
    add(
        "fault-crash-restart-long-backoff",
        "crash",
        "web-1's new release exits 40 s after each start (a missing environment variable); its "
        "unit restarts it with RestartSteps= delays growing from 1 minute to an hour (`Main "
        "process exited, code=exited, status=1/FAILURE`, `Failed with result 'exit-code'`, "
        "quoted): refused 1, 3, 9, 27 and 60 minutes, up 40 s between",
        [Host("web-1", down=down, syslog=quoted_units("systemd-exit-code-backoff", fails))],
        fails[0],
        kind="crash",
        origin="quoted",
        sources=cites("systemd-exit-code-backoff"),
        duration=3 * HOUR,
    )
    # -- the start limit hit on the database (quoted).
    quick = [UP + 30 + 2.0 * k for k in range(5)]
    add(
        "fault-crash-db-start-limit-hit",
        "crash",
        "db-1's upgraded proxy in front of the database cannot parse its old configuration: it "
        "exits at once, is restarted 5 times in 10 s and then refused (`Start request repeated "
        "too quickly`, `Failed with result 'start-limit-hit'`, quoted) and stays down",
        [
            _host(
                "db-1",
                down=[(UP + 30, 99 * HOUR)],
                syslog=quoted_units("systemd-start-limit-coraza", [quick[-1]]),
            )
        ],
        UP + 30,
        kind="crash",
        origin="quoted",
        sources=cites("systemd-start-limit-coraza"),
    )
    # -- a batch runner that crashes when the hourly job starts.
    add(
        "fault-crash-batch-at-first-job",
        "crash",
        "batch-1's new runner starts and answers its checks, then crashes 50 minutes after "
        "the upgrade when the first hourly job asks for a lock it no longer supports, and "
        "stays down",
        [
            _host(
                "batch-1",
                down=[(UP + 3000, 99 * HOUR)],
                app_lines=[(UP + 2999.5, "@raw Fatal: lock protocol v1 not supported; exiting")],
            )
        ],
        UP + 3000,
        kind="crash",
    )
    # -- the balancer ejects the host: traffic falls to nothing.
    eject = UP + 420
    add(
        "fault-outage-balancer-ejects-host",
        "outage-near-down-for",
        "web-1's new release answers its health path with 503 while a cache it no longer uses "
        "is `warming`; it never finishes: the balancer ejects web-1 7 minutes after the "
        "upgrade and its traffic falls from 40 requests/s to the balancer's own probes (0.2/s); "
        "nearly every check answers 503 from then on",
        [
            Host(
                "web-1",
                health_5xx=after(const(0.0), eject, const(0.92)),
                traffic=after(const(40.0), eject + 60, const(0.2)),
            )
        ],
        eject,
        kind="outage",
    )
    # -- an NVMe-oF target lost under the database (quoted).
    lost = UP + 700
    add(
        "fault-outage-db-nvmeof-target-lost",
        "outage-near-down-for",
        "db-1's upgrade changes its NVMe-over-TCP keep-alive; 12 minutes after it the target "
        "misses keep-alives and the volume is lost (`failed nvme_keep_alive_end_io error=10`, "
        "`Reconnecting in 10 seconds...`, quoted, logged every minute): the database stops "
        "answering (refused) from then on; each reconnect brings it back for half a second, "
        "which no check hits",
        [
            _host(
                "db-1",
                down=[
                    (lost + 10.0 * k, lost + 10.0 * k + 9.5)
                    for k in range(int((2 * HOUR - lost) / 10))
                ],
                kernel=[
                    x
                    for k, t in enumerate(range(int(lost), int(2 * HOUR), 10))
                    for x in quoted_event(float(t), "nvmeof-keep-alive-reconnect")
                    if k % 6 == 0
                ],
            )
        ],
        lost,
        kind="outage",
        origin="quoted",
        sources=cites("nvmeof-keep-alive-reconnect"),
    )
    # -- a clock that drifts once its time source is gone: TLS to the runner fails.
    skew = UP + 2400
    add(
        "fault-outage-batch-clock-drifts",
        "outage-near-down-for",
        "batch-1's upgrade replaces its NTP configuration with one naming a server that does "
        "not exist; chrony logs `Can't synchronise: no selectable sources` and the clock "
        "drifts; 40 minutes after the upgrade it is far enough off that the runner's TLS "
        "health endpoint is refused by the prober (certificate not yet valid): down from then",
        [
            _host(
                "batch-1",
                down=[(skew, 99 * HOUR)],
                syslog=[
                    (t, "chronyd[612]: Can't synchronise: no selectable sources")
                    for t in _times("chrony", UP + 60, 2 * HOUR, 300.0, 900.0)
                ],
            )
        ],
        skew,
        kind="outage",
    )
    # -- OOM kills only at the day's peak (synthetic).
    traffic = _day(62.0, 5.0, peak_h=8.5)
    kills: list[float] = []
    t = UP + 600.0
    while t < 12 * HOUR:
        if traffic(t) > 48.0:
            kills.append(t)
            t += 420.0
        else:
            t += 60.0
    add(
        "fault-oom-only-at-peak-hours",
        "oom-repeated",
        "web-1 (upgraded at night, 1 hour in, 7 requests/s) buffers whole responses in its new "
        "release; while traffic is above 48 requests/s (6.2 to 10.8 hours in; peak 62) its "
        "workers are OOM-killed every 7 minutes (`Out of memory: Killed process N (gunicorn)`), "
        "refused 10 s each time",
        [
            Host(
                "web-1",
                traffic=traffic,
                down=_down(kills, 10.0),
                kernel=[
                    x
                    for n, k in enumerate(kills)
                    for x in build.oom_synthetic(
                        k, process="gunicorn", pid=3100 + 7 * n, style="default"
                    )
                ],
            )
        ],
        kills[0],
        kind="oom kills",
        duration=12 * HOUR,
    )
    # -- a report export OOM-killed again and again (quoted 5.x one-line summary).
    exports = _times("autovod", UP + 500, 2 * HOUR, 480.0, 900.0)
    add(
        "fault-oom-export-worker-one-line-summary",
        "oom-repeated",
        "web-1's new release builds its CSV exports in memory; from 8 minutes after the upgrade "
        "the export worker is OOM-killed every 8 to 15 minutes (`oom-kill:constraint=CONSTRAINT_"
        "NONE,...` then `Out of memory: Killed process N (python)`, quoted, with the reporter's "
        "odd thousands separators); 2% of requests fail",
        [
            Host(
                "web-1",
                kernel=_repeated("oom-global-python-autovod", exports),
                error_ratio=after(const(0.003), exports[0], const(0.02)),
                memory=lambda t: (
                    55.0 + 25.0 * (((t - UP) % 600.0) / 600.0 if t > UP + 200 else 0.0)
                ),
            )
        ],
        exports[0],
        kind="oom kills",
        origin="quoted",
        sources=cites("oom-global-python-autovod"),
    )
    # -- the batch runner's children killed with the oom_reaper's line (quoted).
    reaps = _times("reaper", UP + 200, 2 * HOUR, 300.0, 700.0)
    add(
        "fault-oom-batch-reaper-lines",
        "oom-repeated",
        "batch-1's upgraded image-resizing step forks a python3 child per file; from 3 "
        "minutes after the upgrade one is OOM-killed every 5 to 12 minutes (`Out of memory: "
        "Killed process N (python3)` then `oom_reaper: reaped process N`, quoted) and its job "
        "is retried",
        [
            _host(
                "batch-1",
                kernel=_repeated("oom-reaper-python3-docker", reaps),
                memory=const(88.0),
            )
        ],
        reaps[0],
        kind="oom kills",
        origin="quoted",
        sources=cites("oom-reaper-python3-docker"),
    )
    # -- a unit refused after its start limit (quoted) on a web host.
    limit = UP + 90
    add(
        "fault-unit-start-limit-hit-web",
        "systemd-unit-failure",
        "web-1's upgraded metrics sidecar exits at once (a renamed flag); systemd restarts it "
        "5 times and refuses (`Scheduled restart job, restart counter is at 5`, `Start "
        "request repeated too quickly`, `Failed with result 'start-limit-hit'`, quoted); the "
        "web service itself keeps serving, its health check answers 503 for a quarter of "
        "checks (it reports the sidecar)",
        [
            Host(
                "web-1",
                syslog=quoted_units("systemd-start-limit-beszel", [limit]),
                health_5xx=after(const(0.0), limit, const(0.25)),
            )
        ],
        limit,
        kind="unit failed",
        origin="quoted",
        sources=cites("systemd-start-limit-beszel"),
    )
    # -- a database helper unit failing with a long backoff (quoted).
    dfails, _ = _backoff(UP + 150, 120.0, [60.0, 300.0, 900.0, 2700.0])
    add(
        "fault-unit-db-archiver-long-backoff",
        "systemd-unit-failure",
        "db-1's upgraded WAL archiver exits 2 minutes after each start (a changed bucket "
        "path); its unit restarts it after 1, 5, 15 and 45 minutes (`Failed with result "
        "'exit-code'`, quoted, four times in 2 hours); WAL piles up and query p99 rises 30% in "
        "the second hour",
        [
            _host(
                "db-1",
                syslog=quoted_units("systemd-exit-code-backoff", dfails),
                query_latency=after(const(0.012), UP + HOUR, const(0.016)),
            )
        ],
        dfails[0],
        kind="unit failed",
        origin="quoted",
        sources=cites("systemd-exit-code-backoff"),
    )
    # -- a batch timer whose service times out.
    tfails = [UP + 900 + k * 900 for k in range(5)]
    add(
        "fault-unit-batch-timer-times-out",
        "systemd-unit-failure",
        "batch-1's upgraded sync job runs from a 15-minute timer; its new version never "
        "finishes: each run is killed at its 10-minute TimeoutStartSec (`sync.service: start "
        "operation timed out. Terminating.`, `Failed with result 'timeout'`), five runs in a "
        "row",
        [
            _host(
                "batch-1",
                syslog=[
                    x
                    for t in tfails
                    for x in (
                        (t, "systemd[1]: sync.service: start operation timed out. Terminating."),
                        (t + 0.2, "systemd[1]: sync.service: Failed with result 'timeout'."),
                        (t + 0.3, "systemd[1]: Failed to start Nightly object sync."),
                    )
                ],
                cpu=const(45.0),
            )
        ],
        tfails[0],
        kind="unit failed",
    )
    # -- data: a replica's disk returns read errors (quoted print_req_error).
    bad = UP + 800
    add(
        "fault-data-replica-read-errors",
        "data-mismatch",
        "db-1's upgrade moves its replica onto a new disk that returns read errors "
        "(`print_req_error: I/O error, dev sdc, sector 1098288304 flags 0`, quoted, a few times "
        "an hour); 13 minutes after the upgrade the replica skips a damaged page and the data "
        "check differs from then on",
        [
            _host(
                "db-1",
                data_bad_from=bad,
                kernel=[
                    x
                    for t in _times("req-error", bad - 30, 2 * HOUR, 600.0, 1500.0)
                    for x in quoted_event(t, "print-req-error-sdc")
                ],
            )
        ],
        bad,
        kind="data mismatch",
        origin="quoted",
        sources=cites("print-req-error-sdc"),
    )
    # -- data: a cron job that collides with the watch.
    add(
        "fault-data-cron-collides-with-migration",
        "data-mismatch",
        "db-1's upgrade starts a background migration; at :00 the nightly export cron job "
        "(22 minutes after the upgrade) reads half-migrated rows and writes them to the "
        "replica: the data check differs from then on; CPU 80% while both run",
        [
            _host(
                "db-1",
                data_bad_from=UP + 1400,
                cpu=bumped(const(25.0), [(UP + 1320, UP + 2400, 80.0)]),
                syslog=[(UP + 1320, "CRON[22811]: (postgres) CMD (/usr/local/bin/nightly-export)")],
            )
        ],
        UP + 1400,
        kind="data mismatch",
    )
    # -- data: clock skew on the primary shifts stored timestamps.
    add(
        "fault-data-primary-clock-skew",
        "data-mismatch",
        "db-1's upgrade disables its time sync by mistake; its clock drifts and 35 minutes "
        "after the upgrade rows written with `now()` no longer match the application's copy: "
        "the data check differs from then on; nothing else changes",
        [_host("db-1", data_bad_from=UP + 2100)],
        UP + 2100,
        kind="data mismatch",
    )
    return out


def _faults_kernel() -> list[Scenario]:
    """Held-out-11 faults the kernel reports: hung tasks, lockups, panics, oopses, segfaults."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- hung journal thread under the database (quoted, tainted 4.5 kernel).
    hung = [UP + 600 + 120 * k for k in range(8)]
    add(
        "fault-hung-jbd2-dm-db",
        "hung-task",
        "db-1's upgraded device-mapper module stalls its volume's flushes; 8 minutes after "
        "the upgrade `INFO: task jbd2/dm-2-8:N blocked for more than 120 seconds.` (quoted, a "
        "tainted 4.5 kernel) every 2 minutes, 8 times; query p99 is 10 times higher meanwhile",
        [
            _host(
                "db-1",
                kernel=_repeated("hung-jbd2-dm2-tainted", hung),
                query_latency=bumped(const(0.012), [(UP + 480, hung[-1] + 60, 0.12)]),
            )
        ],
        UP + 480,
        kind="hung task",
        origin="quoted",
        sources=cites("hung-jbd2-dm2-tainted"),
    )
    # -- a log shipper blocked for 121 s on a web host (quoted).
    ship = [UP + 1300 + 121 * k for k in range(5)]
    add(
        "fault-hung-log-shipper-web",
        "hung-task",
        "web-1's upgraded log shipper tails the access log on a volume the new release fills "
        "with fsyncs; 20 minutes after the upgrade `INFO: task promtail:N blocked for more "
        "than 121 seconds.` (quoted, 5.10) five times 2 minutes apart; health checks take 0.9 s "
        "meanwhile",
        [
            Host(
                "web-1",
                kernel=_repeated("hung-promtail-121s", ship),
                latency=bumped(const(0.04), [(ship[0] - 121, ship[-1] + 30, 0.9)]),
            )
        ],
        ship[0] - 121,
        kind="hung task",
        origin="quoted",
        sources=cites("hung-promtail-121s"),
    )
    # -- a kworker blocked behind polled NVMe completions on the batch runner (quoted).
    polls = [UP + 250 + 240 * k for k in range(6)]
    add(
        "fault-hung-kworker-nvme-polled-batch",
        "hung-task",
        "batch-1's upgraded arm64 kernel loses NVMe interrupts: `I/O 13 QID 0 timeout, "
        "completion polled` then `INFO: task kworker/u8:4:N blocked for more than 120 "
        "seconds.` (quoted) from 4 minutes after the upgrade, every 4 minutes; the runner's "
        "checks take 4 s",
        [
            _host(
                "batch-1",
                kernel=_repeated("nvme-polled-hung-kworker-nanopi", polls),
                latency=after(const(0.05), polls[0] - 120, const(4.0)),
            )
        ],
        polls[0] - 120,
        kind="hung task",
        origin="quoted",
        sources=cites("nvme-polled-hung-kworker-nanopi"),
    )
    # -- soft lockups: web (block-layer softirq), db (postgres), batch (peak of its job).
    for name, target, comm, cpu, secs, at, every, note in (
        (
            "fault-lockup-soft-web-ksoftirqd",
            "web-1",
            "ksoftirqd/3",
            3,
            23,
            UP + 700,
            (600.0, 1200.0),
            "its new network driver's receive path spins in softirq",
        ),
        (
            "fault-lockup-soft-db-postgres",
            "db-1",
            "postgres",
            11,
            22,
            UP + 1500,
            (300.0, 900.0),
            "a new huge-page setting makes a backend spin in page compaction",
        ),
        (
            "fault-lockup-soft-batch-under-load",
            "batch-1",
            "kswapd0",
            0,
            27,
            UP + 2600,
            (400.0, 800.0),
            "reclaim spins once the job's working set passes memory",
        ),
    ):
        locks = _times(name, at, 2 * HOUR, *every)
        host = _host if target != "web-1" else (Host)
        add(
            name,
            "soft-lockup",
            f"{target}'s upgraded kernel: {note}; from {int((at - UP) // 60)} minutes after the "
            f"upgrade, every {int(every[0] // 60)} to {int(every[1] // 60)} minutes, `watchdog: "
            f"BUG: soft lockup - CPU#{cpu} stuck for {secs}s! [{comm}:N]` (synthetic values); "
            "checks take 5 s while it lasts",
            [
                host(
                    target,
                    kernel=[
                        (t, _soft_lockup(cpu, secs, comm, 90 + n)) for n, t in enumerate(locks)
                    ],
                    slow=[(t - secs + 10 * k, 5.0) for t in locks for k in range(2)],
                )
            ],
            locks[0] - secs,
            kind="soft lockup",
        )
    # -- panics: web stays down; db panics on hung tasks; batch panics on OOM.
    add(
        "fault-panic-web-fatal-in-interrupt",
        "kernel-panic",
        "web-1's upgraded kernel has a bug in its new NIC driver: 6 minutes after the upgrade "
        "`Kernel panic - not syncing: Fatal exception in interrupt` and the host stays down "
        "(no kdump, no reboot)",
        [
            Host(
                "web-1",
                kernel=[
                    (UP + 359.0, "BUG: unable to handle page fault for address: ffffa0c3d2a8e000"),
                    (UP + 359.1, "Oops: 0002 [#1] SMP NOPTI"),
                    (UP + 359.3, "Kernel panic - not syncing: Fatal exception in interrupt"),
                ],
                down=[(UP + 360, 99 * HOUR)],
                traffic=after(const(40.0), UP + 360, const(0.0)),
            )
        ],
        UP + 359,
        kind="kernel panic",
    )
    add(
        "fault-panic-db-hung-task-panic",
        "kernel-panic",
        "db-1 runs with hung_task_panic=1; its upgraded storage driver blocks the journal 15 "
        "minutes after the upgrade: `INFO: task jbd2/nvme0n1p2-8:611 blocked for more than 120 "
        "seconds.` then `Kernel panic - not syncing: hung_task: blocked tasks`; it reboots "
        "(down 150 s) and blocks again 14 minutes after it is back, and again",
        [
            _host(
                "db-1",
                kernel=[
                    x
                    for k in range(3)
                    for x in (
                        (
                            UP + 900 + k * 1000.0,
                            "INFO: task jbd2/nvme0n1p2-8:611 blocked for more than 120 seconds.",
                        ),
                        (
                            UP + 900.5 + k * 1000.0,
                            "Kernel panic - not syncing: hung_task: blocked tasks",
                        ),
                    )
                ],
                down=[(UP + 901 + k * 1000.0, UP + 901 + k * 1000.0 + 150) for k in range(3)],
                query_latency=bumped(
                    const(0.012),
                    [(UP + 780 + k * 1000.0, UP + 900 + k * 1000.0, 2.0) for k in range(3)],
                ),
            )
        ],
        UP + 780,
        kind="kernel panic",
    )
    add(
        "fault-panic-batch-panic-on-oom",
        "kernel-panic",
        "batch-1 runs with vm.panic_on_oom=1; its upgraded job needs 30% more memory and 25 "
        "minutes after the upgrade the kernel panics instead of killing it (`Kernel panic - "
        "not syncing: Out of memory: system-wide panic_on_oom is enabled`); it stays down",
        [
            _host(
                "batch-1",
                memory=ramp(UP + 60, 1400.0, 50.0, 97.0),
                kernel=[
                    (
                        UP + 1500.0,
                        "python3 invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), "
                        "order=0, oom_score_adj=0",
                    ),
                    (
                        UP + 1500.2,
                        "Kernel panic - not syncing: Out of memory: "
                        "system-wide panic_on_oom is enabled",
                    ),
                ],
                down=[(UP + 1501, 99 * HOUR)],
            )
        ],
        UP + 1500,
        kind="kernel panic",
    )
    # -- oopses: web NULL dereference, db warning-then-oops, batch.
    add(
        "fault-oops-null-deref-web-keeps-serving",
        "kernel-oops",
        "web-1's upgraded kernel oopses in its new TLS offload 11 minutes after the upgrade "
        "(`BUG: kernel NULL pointer dereference, address: 0000000000000010`, `#PF: supervisor "
        "read access in kernel mode`, `Oops: 0000 [#1] SMP PTI`); the process is killed, the "
        "service restarts and serves with 2% errors (its TLS sessions fail)",
        [
            Host(
                "web-1",
                kernel=[
                    (UP + 660.0, "BUG: kernel NULL pointer dereference, address: 0000000000000010"),
                    (UP + 660.1, "#PF: supervisor read access in kernel mode"),
                    (UP + 660.2, "#PF: error_code(0x0000) - not-present page"),
                    (UP + 660.3, "Oops: 0000 [#1] SMP PTI"),
                    (
                        UP + 660.4,
                        "CPU: 2 PID: 2211 Comm: gunicorn Not tainted 6.5.0-35-generic #35-Ubuntu",
                    ),
                ],
                down=[(UP + 661, UP + 676)],
                error_ratio=after(const(0.003), UP + 676, const(0.02)),
            )
        ],
        UP + 660,
        kind="kernel oops",
    )
    add(
        "fault-oops-db-list-corruption",
        "kernel-oops",
        "db-1's upgraded kernel corrupts a list in its new cgroup accounting 30 minutes after "
        "the upgrade (`list_del corruption. prev->next should be ffff9a31c4d2e8a8, but was "
        "dead000000000100`, `kernel BUG at lib/list_debug.c:53!`, `invalid opcode`); the "
        "backend dies and the database restarts (refused 40 s), queries slower after",
        [
            _host(
                "db-1",
                kernel=[
                    (
                        UP + 1800.0,
                        "list_del corruption. prev->next should be ffff9a31c4d2e8a8, "
                        "but was dead000000000100",
                    ),
                    (UP + 1800.1, "------------[ cut here ]------------"),
                    (UP + 1800.2, "kernel BUG at lib/list_debug.c:53!"),
                    (UP + 1800.3, "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"),
                ],
                down=[(UP + 1801, UP + 1841)],
                query_latency=after(const(0.012), UP + 1841, const(0.03)),
            )
        ],
        UP + 1800,
        kind="kernel oops",
    )
    add(
        "fault-oops-batch-arm64-internal-error",
        "kernel-oops",
        "batch-1 (arm64) gets a kernel whose new crypto driver oopses 4 minutes after the "
        "upgrade (`Unable to handle kernel paging request at virtual address dead000000000108`, "
        "`Internal error: Oops: 96000044 [#1] PREEMPT SMP`); the runner's job dies and its "
        "checks answer 503 a third of the time from then on",
        [
            _host(
                "batch-1",
                kernel=[
                    (
                        UP + 240.0,
                        "Unable to handle kernel paging request at virtual address "
                        "dead000000000108",
                    ),
                    (UP + 240.1, "Mem abort info:"),
                    (UP + 240.2, "Internal error: Oops: 96000044 [#1] PREEMPT SMP"),
                ],
                health_5xx=after(const(0.0), UP + 240, const(0.33)),
            )
        ],
        UP + 240,
        kind="kernel oops",
    )
    # -- segfault loops: web (libssl), db (an extension), batch (image library).
    for name, target, comm, lib, at, gap, note in (
        (
            "fault-segv-web-worker-libssl",
            "web-1",
            "uwsgi",
            "libssl.so.3[7f3a1c200000+5a000]",
            UP + 75,
            (40.0, 150.0),
            "its workers crash in the new OpenSSL on some client hellos; 1.5% of requests fail",
        ),
        (
            "fault-segv-db-extension-backends",
            "db-1",
            "postgres",
            "vector.so[7f3a1c200000+3c000]",
            UP + 420,
            (90.0, 300.0),
            "backends crash in an upgraded extension; each crash restarts the database (8 s)",
        ),
        (
            "fault-segv-batch-image-library",
            "batch-1",
            "convert",
            "libheif.so.1[7f3a1c200000+9b000]",
            UP + 1900,
            (60.0, 200.0),
            "the image step crashes in the new HEIF decoder on most inputs",
        ),
    ):
        crashes = _times(name, at, 2 * HOUR, *gap)
        host = _host if target != "web-1" else (Host)
        extra: dict[str, object] = {}
        if target == "web-1":
            extra["error_ratio"] = after(const(0.003), at, const(0.015))
        if target == "db-1":
            extra["down"] = _down(crashes, 8.0)
        add(
            name,
            "segfault-loop",
            f"{target}'s upgrade: {note}; from {int((at - UP) // 60)} minutes after it, every "
            f"{int(gap[0])} to {int(gap[1])} s, "
            f"`{comm}[N]: segfault at 18 ... in {lib.split('[')[0]}` "
            "(synthetic values)",
            [
                host(
                    target,
                    kernel=[(t, _segv(comm, 4100 + 13 * n, lib)) for n, t in enumerate(crashes)],
                    **extra,
                )
            ],
            crashes[0],
            kind="segfault loop",
        )
    return out


# --------------------------------------------------------------------------- healthy


def healthy() -> list[Scenario]:
    """Held-out-11 healthy upgrades, synthetic and quoted: the noise that fools naive rules."""
    out: list[Scenario] = []
    _add(
        out,
        "healthy-memory-grows-then-levels-off",
        "cache-growth",
        "web-1's new release has a larger in-process cache: memory rises 18 points over the 40 "
        "minutes after the upgrade as it fills, then stays flat (eviction at its limit) for the "
        "5 hours watched",
        [
            Host(
                "web-1",
                memory=lambda t: (
                    40.0 + (0.0 if t < UP else 18.0 * (1 - math.exp(-(t - UP) / 900.0)))
                ),
            )
        ],
        duration=6 * HOUR,
    )
    _add(
        out,
        "healthy-deprecation-log-storm",
        "log-burst",
        "web-1's new release warns about every call to a deprecated API its plugins still use: "
        "for 20 minutes after the upgrade (until each plugin has warned once per worker), 150 "
        "lines a minute of `WARN ... DeprecationWarning: datetime.utcnow() is deprecated` (they "
        "name `error_handler.py`), then a few an hour; requests, errors and latency are as "
        "before",
        [
            Host(
                "web-1",
                app_lines=[
                    _app(
                        t,
                        "WARN",
                        "py.warnings",
                        "DeprecationWarning: datetime.utcnow() is deprecated and scheduled for "
                        "removal; called from plugins/error_handler.py:88",
                    )
                    for t in [
                        *_times("deprecation", UP + 10, UP + 1210, 0.2, 0.6),
                        *_times("deprecation-trickle", UP + 1210, 2 * HOUR, 300.0, 1200.0),
                    ]
                ],
            )
        ],
    )
    cron = UP + 1800
    _add(
        out,
        "healthy-hourly-cron-collides-with-watch",
        "cron-cpu",
        "30 minutes after web-1's healthy upgrade the hourly report cron job runs on it (as it "
        "does every hour, also before the upgrade): CPU 88% for 7 minutes, health checks 40 -> "
        "90 ms and p99 1.5 times higher meanwhile",
        [
            Host(
                "web-1",
                cpu=bumped(
                    const(22.0), [(cron - k * HOUR, cron - k * HOUR + 420, 88.0) for k in range(2)]
                ),
                latency=bumped(
                    const(0.04), [(cron - k * HOUR, cron - k * HOUR + 420, 0.09) for k in range(2)]
                ),
                p99=bumped(
                    const(0.22), [(cron - k * HOUR, cron - k * HOUR + 420, 0.33) for k in range(2)]
                ),
                syslog=[
                    (cron - k * HOUR, "CRON[3181]: (app) CMD (/srv/app/bin/hourly-report)")
                    for k in range(2)
                ],
            )
        ],
    )
    _add(
        out,
        "healthy-canary-on-two-percent-of-traffic",
        "canary-traffic",
        "web-2 is the canary and gets 2% of the traffic (0.8 requests/s) after its healthy "
        "upgrade; at that rate one failed request in a minute is a 2% error ratio, so its "
        "ratio jumps between 0 and 4% while web-1 (40 requests/s, not upgraded) stays at 0.3%",
        [
            Host("web-2", traffic=const(0.8), error_ratio=const(0.004)),
            Host("web-1", upgrades=[]),
        ],
    )
    load = (UP + 1500, UP + 2700)
    _add(
        out,
        "healthy-load-test-during-watch",
        "load-test",
        "25 minutes after web-1's healthy upgrade the performance team runs its weekly load "
        "test for 20 minutes: traffic 40 -> 130 requests/s, CPU 25% -> 75%, p99 1.7 times "
        "higher and health checks 40 -> 70 ms; at its top the kernel logs `TCP: out of memory "
        "-- consider tuning tcp_mem` (quoted) three times; errors stay at 0.3%",
        [
            Host(
                "web-1",
                kernel=[
                    x
                    for t in (load[0] + 900, load[0] + 960, load[0] + 1010)
                    for x in quoted_event(t, "tcp-mem-2i2c")
                ],
                traffic=bumped(const(40.0), [(*load, 130.0)]),
                cpu=bumped(const(25.0), [(*load, 75.0)]),
                p99=bumped(const(0.22), [(*load, 0.37)]),
                latency=bumped(const(0.04), [(*load, 0.07)]),
            )
        ],
        origin="quoted",
        sources=cites("tcp-mem-2i2c"),
    )
    spike = UP + 2000
    _add(
        out,
        "healthy-marketing-spike",
        "traffic-spike",
        "33 minutes after web-1's healthy upgrade a newsletter goes out: traffic jumps from 35 "
        "to 150 requests/s within 2 minutes and decays back over an hour; CPU follows, p99 "
        "rises 40% at the top, errors stay at 0.3%",
        [
            Host(
                "web-1",
                traffic=decaying(spike, 35.0, 150.0, 1200.0),
                cpu=lambda t: 8.0 + 0.45 * decaying(spike, 35.0, 150.0, 1200.0)(t),
                p99=lambda t: (
                    0.2 * (1.0 + 0.4 * (decaying(spike, 35.0, 150.0, 1200.0)(t) - 35.0) / 115.0)
                ),
            )
        ],
        duration=3 * HOUR,
    )
    drain = (UP - 300, UP + 1500)
    _add(
        out,
        "healthy-drained-for-upgrade-then-restored",
        "canary-drain",
        "web-1 is drained 5 minutes before its upgrade (traffic 38 -> 0.1 requests/s, only "
        "the balancer's probes), upgraded by `rollsafe upgrade` (refused 15 s), and given its "
        "traffic back 25 minutes after; errors over so few requests are noisy, then 0.3%",
        [
            Host(
                "web-1",
                **rolled(UP - 60, UP),
                down=[(UP - 40, UP - 25)],
                traffic=bumped(const(38.0), [(*drain, 0.1)]),
                cpu=bumped(const(24.0), [(*drain, 3.0)]),
            )
        ],
    )
    _add(
        out,
        "healthy-nvme-stall-completion-polled",
        "kernel-warning",
        "20 minutes after web-1's healthy upgrade its drive stalls once: `nvme nvme0: I/O 210 "
        "QID 4 timeout, completion polled` (quoted); the command completes and work goes on, "
        "two checks take 2 s",
        [
            Host(
                "web-1",
                kernel=quoted_event(UP + 1200, "nvme-completion-polled-visionfive"),
                slow=[(UP + 1170, 2.0), (UP + 1180, 2.0)],
            )
        ],
        origin="quoted",
        sources=cites("nvme-completion-polled-visionfive"),
    )
    _add(
        out,
        "healthy-sata-link-reset-recovers",
        "kernel-warning",
        "40 minutes after db-1's healthy upgrade a SATA command times out and the link is reset "
        "(`failed command: READ FPDMA QUEUED`, `hard resetting link`, `EH complete`, quoted); "
        "the disk is back 3 s later, two queries wait meanwhile",
        [
            _host(
                "db-1",
                kernel=quoted_event(UP + 2400, "ata-fpdma-timeout-reset"),
                query_latency=bumped(const(0.012), [(UP + 2390, UP + 2420, 0.04)]),
            )
        ],
        origin="quoted",
        sources=cites("ata-fpdma-timeout-reset"),
    )
    flood = (UP + 2100, UP + 2500)
    _add(
        out,
        "healthy-fleet-conntrack-flood",
        "fleet-wide",
        "35 minutes after web-1's healthy upgrade a scan hits the whole fleet for 7 minutes: "
        "both web-1 and web-2 (not upgraded) log `nf_conntrack: nf_conntrack: table full, "
        "dropping packet` (quoted) and fail 5% of requests; traffic up 30% from the scan",
        [
            Host(
                h,
                upgrades=[UP] if h == "web-1" else [],
                traffic=bumped(const(40.0), [(*flood, 52.0)]),
                error_ratio=bumped(const(0.003), [(*flood, 0.05)]),
                kernel=[
                    x
                    for t in _times(f"flood-{h}", flood[0], flood[1], 3.0, 20.0)
                    for x in quoted_event(t, "conntrack-full-doubled-prefix")
                ],
            )
            for h in ("web-1", "web-2")
        ],
        origin="quoted",
        sources=cites("conntrack-full-doubled-prefix"),
    )
    _add(
        out,
        "healthy-clock-stepped-by-ntp",
        "clock-skew",
        "web-1's healthy upgrade restarts chrony, which finds the clock 1.8 s fast and steps it "
        "(`System clock wrong by -1.812 seconds, adjustment started`, `System clock was "
        "stepped by -1.812 seconds`): its application log's stamps go back 1.8 s once",
        [
            Host(
                "web-1",
                syslog=[
                    (
                        UP + 40,
                        "chronyd[611]: System clock wrong by -1.812 seconds, adjustment started",
                    ),
                    (UP + 40.1, "chronyd[611]: System clock was stepped by -1.812 seconds"),
                ],
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=[
                    _app(
                        t - (1.812 if t >= UP + 40 else 0.0),
                        "INFO",
                        "app.metrics",
                        "served 2410 requests",
                    )
                    for t in _times("stepped", 0.0, 2 * HOUR, 20.0, 60.0)
                ],
            )
        ],
    )
    blip = (UP + 1600, UP + 1840)
    _add(
        out,
        "healthy-partner-outage-both-hosts",
        "dependency-blip",
        "27 minutes after web-1's healthy upgrade the shipping partner's API is down for 4 "
        "minutes: web-1 and web-2 (not upgraded) both fail the 8% of requests that quote "
        "shipping and log `upstream timeout talking to shipping`; then all is back",
        [
            Host(
                h,
                upgrades=[UP] if h == "web-1" else [],
                error_ratio=bumped(const(0.003), [(*blip, 0.08)]),
                app_lines=[
                    _app(
                        t,
                        "ERROR",
                        "app.shipping",
                        "upstream timeout talking to shipping after 3000 ms",
                    )
                    for t in _times(f"ship-{h}", blip[0], blip[1], 1.0, 5.0)
                ],
            )
            for h in ("web-1", "web-2")
        ],
    )
    _add(
        out,
        "healthy-cold-start-jit-and-caches",
        "warmup-restart",
        "web-1's healthy upgrade restarts its JVM: p99 1.2 s and health checks 250 ms at "
        "first, back to normal over 8 minutes (JIT and caches warm up)",
        [
            Host(
                "web-1",
                down=[(UP, UP + 12)],
                p99=decaying(UP + 12, 0.22, 1.2, 200.0),
                latency=decaying(UP + 12, 0.04, 0.25, 200.0),
            )
        ],
    )
    _add(
        out,
        "healthy-prometheus-restart-gap",
        "monitoring-gap",
        "Prometheus is restarted 15 minutes after web-1's healthy upgrade and scrapes nothing "
        "for 9 minutes: the request, error, p99, CPU and memory series have a hole; health "
        "checks go on",
        [Host("web-1", gaps={"prometheus": [(UP + 900, UP + 1440)]})],
    )
    _add(
        out,
        "healthy-errors-before-and-after",
        "preexisting-errors",
        "web-1 fails 1.5% of requests before its upgrade (a bot hammering a deleted URL gets "
        "500s) and exactly as many after; its error log says so every few seconds",
        [
            Host(
                "web-1",
                error_ratio=const(0.015),
                app_lines=[
                    _app(
                        t, "ERROR", "app.views", "GET /old-catalog/feed.xml 500: template not found"
                    )
                    for t in _times("bot", 0.0, 2 * HOUR, 3.0, 12.0)
                ],
            )
        ],
    )
    _add(
        out,
        "healthy-noisy-syslog-unrelated-unit",
        "noisy-syslog",
        "batch-1's syslog has an unrelated unit failing every 10 minutes before and after its "
        "healthy upgrade (`motd-news.service: Failed with result 'exit-code'`: no network to "
        "the news server); the runner is fine",
        [
            _host(
                "batch-1",
                syslog=[
                    x
                    for t in range(300, int(2 * HOUR), 600)
                    for x in (
                        (
                            float(t),
                            "systemd[1]: motd-news.service: Main process exited, "
                            "code=exited, status=1/FAILURE",
                        ),
                        (t + 0.1, "systemd[1]: motd-news.service: Failed with result 'exit-code'."),
                    )
                ],
            )
        ],
    )
    _add(
        out,
        "healthy-single-oom-of-backup-job",
        "single-oom",
        "40 minutes after db-1's healthy upgrade its nightly export script (python) is "
        "OOM-killed once (`oom-kill:constraint=CONSTRAINT_NONE,...`, `Out of memory: Killed "
        "process N (python)`, quoted) and retried later; the database itself is untouched",
        [_host("db-1", kernel=quoted_event(UP + 2400, "oom-global-python-autovod", 3))],
        origin="quoted",
        sources=cites("oom-global-python-autovod"),
    )
    _add(
        out,
        "healthy-db-backup-io",
        "backup-io",
        "20 minutes after db-1's healthy upgrade its base backup starts: query p99 12 -> 30 ms "
        "and CPU 20% -> 45% for 35 minutes, then back",
        [
            _host(
                "db-1",
                query_latency=bumped(const(0.012), [(UP + 1200, UP + 3300, 0.03)]),
                cpu=bumped(const(20.0), [(UP + 1200, UP + 3300, 45.0)]),
            )
        ],
    )
    _add(
        out,
        "healthy-gc-sawtooth-new-heap",
        "gc-sawtooth",
        "web-1's new release raises the heap's target: memory saws between 45% and 70% every 12 "
        "minutes (was 45-55% every 5) after the healthy upgrade",
        [
            Host(
                "web-1",
                memory=lambda t: (
                    45.0 + (10.0 * ((t % 300) / 300) if t < UP else 25.0 * (((t - UP) % 720) / 720))
                ),
            )
        ],
        duration=3 * HOUR,
    )
    _add(
        out,
        "healthy-restart-run-refused-20s",
        "restart-blip",
        "batch-1 is upgraded by `rollsafe upgrade`: its runner stops, refused for 20 s, and "
        "its first job after the restart runs its CPU to 80% for 3 minutes",
        [
            _host(
                "batch-1",
                **rolled(UP - 30, UP),
                down=[(UP - 25, UP - 5)],
                cpu=bumped(const(20.0), [(UP, UP + 180, 80.0)]),
            )
        ],
    )
    _add(
        out,
        "healthy-daily-cycle-night-upgrade",
        "daily-cycle",
        "web-1 is upgraded at night (1 hour in, 4 requests/s) and watched through the day: "
        "traffic 4 -> 60 requests/s at 10 hours, CPU and p99 follow it; nothing else changes",
        [
            Host(
                "web-1",
                traffic=_day(60.0, 4.0, peak_h=10.0),
                cpu=lambda t: 5.0 + 0.8 * _day(60.0, 4.0, peak_h=10.0)(t),
                p99=lambda t: 0.18 + 0.003 * _day(60.0, 4.0, peak_h=10.0)(t),
            )
        ],
        duration=12 * HOUR,
    )
    return out


# --------------------------------------------------------------------------- real data


def real(
    nab: dict[str, Nab],
    *,
    linux: list[tuple[float, str]],
    apache: list[tuple[float, str]],
    hadoop: list[tuple[float, str]],
    cite_nab: Callable[[str], str],
    cite_log: Callable[[str], str],
) -> list[Scenario]:
    """Held-out-11 recordings on the real metrics and logs of ``../shared/data``: NAB days 0,
    2, 4, 7 and 10 of the ELB, days 3 and 7 of the request latency, day 9 of the disk writes,
    days 1 and 8 of RDS, days 4 and 8 of 53ea38, day 7 of 24ae8d, day 7 of 77c1ca, day 8 of 5f5533,
    days 3 and 7 of the network; Loghub Linux lines 600-799 and 1,450-1,649, Apache 300-499
    and 1,200-1,399, Hadoop 300-499 and 500-699."""
    shared = _Shared(nab, linux, apache, hadoop, cite_nab, cite_log)
    return [*_real_faults(shared), *_real_healthy(shared)]


def _elb_day(shared: _Shared, day: int, median: float) -> Curve:
    """The ELB's request count on ``day`` from 00:00, scaled to ``median`` requests/s."""
    elb = shared.nab[ELB]
    curve = elb.curve(day * DAY, scale=median / max(1.0, elb.median()))
    return lambda t: max(0.3, curve(t))


def _real_faults(shared: _Shared) -> list[Scenario]:
    """Held-out-11's faults on real data (see ``real``)."""
    out: list[Scenario] = []
    add = _HALF.real_adder(out)
    stretch, kernel_of = build.stretched, build.kernel_of
    nab, linux, apache, hadoop = shared.nab, shared.linux, shared.apache, shared.hadoop
    cite_nab, cite_log = shared.cite_nab, shared.cite_log
    elb = nab[ELB]
    scale = 30.0 / max(1.0, elb.median())
    busy = elb.quantile(0.8) * scale

    def peak_start(traffic: Curve, start: float, end: float) -> float:
        return next(float(t) for t in range(int(start), int(end), 30) if traffic(t) > busy)

    # -- errors only while the real traffic is high (ELB day 2).
    day2 = _elb_day(shared, 2, 30.0)
    first = peak_start(day2, UP + 60, 20 * HOUR)
    add(
        Scenario(
            "fault-errors-at-real-peak-elb-day2",
            "metrics-error-ratio",
            "web-1's traffic is a real ELB's day (NAB elb_request_count_8c0756, day 2 from "
            "00:00, scaled to a median of 30 requests/s), upgraded at 01:00; its new release's "
            "rate limiter is set per host instead of per fleet: whenever traffic is above the "
            "series' 80th percentile 12% of requests get 503",
            [
                Host(
                    "web-1",
                    traffic=day2,
                    error_ratio=_above(day2, busy, const(0.12), const(0.003)),
                    cpu=lambda t: 6.0 + 0.7 * day2(t),
                )
            ],
            duration=20 * HOUR,
            faults=[fault("web-1", first, "request errors")],
            sources=[cite_nab(ELB)],
        )
    )
    # -- p99 only at the real peak (ELB day 4).
    day4 = _elb_day(shared, 4, 30.0)
    first4 = peak_start(day4, UP + 60, 20 * HOUR)
    slower = _above(day4, busy, const(6.0), const(1.0))
    add(
        Scenario(
            "fault-p99-at-real-peak-elb-day4",
            "metrics-latency-quantile",
            "web-1's traffic is a real ELB's day (NAB elb_request_count_8c0756, day 4 from "
            "00:00, scaled to a median of 30 requests/s), upgraded at 01:00; its new release "
            "serializes writes to a session table, so p99 is 6 times higher whenever traffic "
            "is above the series' 80th percentile",
            [
                Host(
                    "web-1",
                    traffic=day4,
                    p99=lambda t: (0.18 + 0.003 * day4(t)) * slower(t),
                    cpu=lambda t: 6.0 + 0.7 * day4(t),
                )
            ],
            duration=20 * HOUR,
            faults=[fault("web-1", first4, "latency")],
            sources=[cite_nab(ELB)],
        )
    )
    # -- load shedding ejects the host at the real peak; traffic falls (ELB day 7).
    day7 = _elb_day(shared, 7, 30.0)
    first7 = peak_start(day7, UP + 60, 20 * HOUR)
    add(
        Scenario(
            "fault-outage-ejected-at-real-peak-elb-day7",
            "outage-near-down-for",
            "web-1's traffic is a real ELB's day (NAB elb_request_count_8c0756, day 7 from "
            "00:00, scaled to a median of 30 requests/s), upgraded at 01:00; the first time "
            "traffic passes the series' 80th percentile its new release's admission control "
            "sheds everything and answers 503 to its health check too: the balancer ejects it, "
            "its traffic falls to 0.3 requests/s and it never recovers",
            [
                Host(
                    "web-1",
                    traffic=lambda t: day7(t) if t < first7 + 60 else 0.3,
                    health_5xx=after(const(0.0), first7, const(0.95)),
                    error_ratio=after(const(0.003), first7, const(0.9)),
                )
            ],
            duration=20 * HOUR,
            faults=[fault("web-1", first7, "outage")],
            sources=[cite_nab(ELB)],
        )
    )
    # -- a regression over a real latency shape (day 3).
    lat = nab[LATENCY]
    shape3 = lat.curve(3 * DAY, scale=1.0 / max(1e-9, lat.median()))
    up = 2 * HOUR
    add(
        Scenario(
            "fault-latency-over-real-latency-day3",
            "latency-regression",
            "web-1's health latency follows a real service's request latency (NAB ec2_request_"
            "latency_system_failure, day 3, median 40 ms, its own spikes included); its upgrade "
            "at 2 hours adds a synchronous audit write: 2.5 times slower from then on",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    latency=lambda t, up=up: (
                        0.04 * max(0.3, shape3(t)) * (2.5 if t >= up + 20 else 1.0)
                    ),
                )
            ],
            duration=5 * HOUR,
            faults=[fault("web-1", up + 20, "latency")],
            sources=[cite_nab(LATENCY)],
        )
    )
    # -- a leak over real memory wander (53ea38, day 4).
    wander = nab["ec2_cpu_utilization_53ea38"].wander(4 * DAY, amplitude=3.0)
    add(
        Scenario(
            "fault-leak-over-real-wander-53ea38-day4",
            "memory-leak",
            "db-1's memory wanders about 3 points with a real instance's load (NAB ec2_cpu_"
            "utilization_53ea38, day 4, smoothed over an hour) around 50%; its upgrade at 1 "
            "hour leaks 4 points an hour and does not level off",
            [_host("db-1", memory=lambda t: 50.0 + wander(t) + 4.0 * max(0.0, t - UP) / HOUR)],
            duration=6 * HOUR,
            faults=[fault("db-1", UP, "memory leak")],
            sources=[cite_nab("ec2_cpu_utilization_53ea38")],
        )
    )
    # -- a replica diverging over a real database day (RDS day 1).
    load = nab[RDS].level(1 * DAY, smooth=20 * MINUTE)
    add(
        Scenario(
            "fault-data-over-real-rds-day1",
            "data-mismatch",
            "db-1's query p99 and CPU follow a real RDS instance's load (NAB rds_cpu_"
            "utilization_cc0c53, day 1, smoothed over 20 minutes); its upgraded logical "
            "replication drops updates to a renamed column 30 minutes after the upgrade: the "
            "data check differs from then on",
            [
                _host(
                    "db-1",
                    query_latency=lambda t: 0.01 * (1.0 + 0.8 * max(0.0, load(t))),
                    cpu=lambda t: 15.0 + 40.0 * max(0.0, min(1.5, load(t))),
                    data_bad_from=UP + 1800,
                )
            ],
            duration=4 * HOUR,
            faults=[fault("db-1", UP + 1800, "data mismatch")],
            sources=[cite_nab(RDS)],
        )
    )
    # -- hung tasks over real syslog (Linux 1,450-1,649), quoted block errors first.
    noise = stretch(linux, 1450, 200, 2 * HOUR)
    blocked = [UP + 900 + 121 * k for k in range(6)]
    add(
        Scenario(
            "fault-hung-over-linux-1450-real",
            "hung-task",
            "web-1's syslog and kern.log are real Linux syslog (Loghub, lines 1,450 to 1,649 "
            "stretched over 2 hours); its upgraded kernel's new I/O scheduler starves its disk: "
            "`blk_update_request: I/O error, dev nvme1n1` (quoted) 13 minutes after the "
            "upgrade, then a worker blocked for more than 121 seconds (quoted) six times",
            [
                Host(
                    "web-1",
                    syslog=noise,
                    kernel=[
                        *kernel_of(noise),
                        *quoted_event(UP + 780, "blk-update-nvme1n1-read"),
                        *_repeated("hung-promtail-121s", blocked),
                    ],
                    latency=bumped(const(0.04), [(UP + 780, blocked[-1] + 30, 1.2)]),
                )
            ],
            faults=[fault("web-1", UP + 780, "hung task")],
            sources=[
                cite_log("Linux_2k.log"),
                *cites("blk-update-nvme1n1-read", "hung-promtail-121s"),
            ],
        )
    )
    # -- an oops over real syslog (Linux 600-799).
    noise6 = stretch(linux, 600, 200, 2 * HOUR)
    add(
        Scenario(
            "fault-oops-over-linux-600-real",
            "kernel-oops",
            "batch-1's syslog and kern.log are real Linux syslog (Loghub, lines 600 to 799 "
            "stretched over 2 hours); 17 minutes after its upgrade the new kernel oopses in its "
            "filesystem (`BUG: unable to handle page fault for address: ffffb1c2c0a3f000`, "
            "`Oops: 0000 [#1] SMP NOPTI`) and the runner's checks answer 503 from then on",
            [
                _host(
                    "batch-1",
                    syslog=noise6,
                    kernel=[
                        *kernel_of(noise6),
                        (
                            UP + 1020.0,
                            "BUG: unable to handle page fault for address: ffffb1c2c0a3f000",
                        ),
                        (UP + 1020.1, "#PF: supervisor read access in kernel mode"),
                        (UP + 1020.2, "Oops: 0000 [#1] SMP NOPTI"),
                    ],
                    health_5xx=after(const(0.0), UP + 1021, const(0.9)),
                )
            ],
            faults=[fault("batch-1", UP + 1020, "kernel oops")],
            sources=[cite_log("Linux_2k.log")],
        )
    )
    # -- a segfault loop over a real error log (Apache 1,200-1,399).
    errors = stretch(apache, 1200, 200, 2 * HOUR)
    crashes = _times("segv-apache", UP + 150, 2 * HOUR, 45.0, 160.0)
    add(
        Scenario(
            "fault-segv-over-apache-1200-real",
            "segfault-loop",
            "web-1's error log is Loghub's real Apache error log (lines 1,200 to 1,399 "
            "stretched over 2 hours); its upgraded PHP module crashes a child every 45 s to "
            "3 minutes from 150 s after the upgrade (`httpd[N]: segfault at 18 ... in "
            "libphp.so`, synthetic values); 2% of requests fail",
            [
                Host(
                    "web-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                    kernel=[
                        (t, _segv("httpd", 7100 + 3 * n, "libphp.so[7f3a1c200000+4a0000]"))
                        for n, t in enumerate(crashes)
                    ],
                    error_ratio=after(const(0.003), crashes[0], const(0.02)),
                )
            ],
            faults=[fault("web-1", crashes[0], "segfault loop")],
            sources=[cite_log("Apache_2k.log")],
        )
    )
    # -- a unit failing with its start limit over a real job log (Hadoop 300-499).
    jobs = stretch(hadoop, 300, 200, 2 * HOUR)
    add(
        Scenario(
            "fault-unit-over-hadoop-300-real",
            "systemd-unit-failure",
            "batch-1's job log is Loghub's real Hadoop run (lines 300 to 499 stretched over 2 "
            "hours); its upgraded shuffle service fails its start limit 6 minutes after the "
            "upgrade (`Start request repeated too quickly`, `Failed with result 'start-limit-"
            "hit'`, quoted) and stays failed; the runner's checks answer 503 half the time",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=jobs,
                    syslog=quoted_units("systemd-start-limit-beszel", [UP + 360]),
                    health_5xx=after(const(0.0), UP + 360, const(0.5)),
                )
            ],
            faults=[fault("batch-1", UP + 360, "unit failed")],
            sources=[cite_log("Hadoop_2k.log"), *cites("systemd-start-limit-beszel")],
        )
    )
    # -- soft lockups over real CPU (24ae8d, day 7).
    c24 = nab["ec2_cpu_utilization_24ae8d"]
    cpu7 = c24.curve(7 * DAY, scale=60.0 / max(1.0, c24.quantile(0.99)))
    locks = _times("lockup-24ae8d", UP + 900, 3 * HOUR, 600.0, 1400.0)
    add(
        Scenario(
            "fault-lockup-over-real-cpu-24ae8d-day7",
            "soft-lockup",
            "db-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_24ae8d, day 7, scaled "
            "so that its 99th percentile is 60%); its upgraded kernel spins in a new memory "
            "cgroup path: from 15 minutes after the upgrade, every 10 to 23 minutes, `watchdog: "
            "BUG: soft lockup - CPU#7 stuck for 24s! [kworker/7:2:N]` (synthetic values)",
            [
                _host(
                    "db-1",
                    cpu=cpu7,
                    kernel=[(t, _soft_lockup(7, 24, "kworker/7:2", 310)) for t in locks],
                    query_latency=bumped(const(0.012), [(t - 24, t, 0.5) for t in locks]),
                )
            ],
            duration=3 * HOUR,
            faults=[fault("db-1", locks[0] - 24, "soft lockup")],
            sources=[cite_nab("ec2_cpu_utilization_24ae8d")],
        )
    )
    # -- a panic over real network traffic (day 3).
    net = nab[NET]
    traffic3 = net.curve(3 * DAY, scale=35.0 / max(1.0, net.median()))
    add(
        Scenario(
            "fault-panic-over-real-network-day3",
            "kernel-panic",
            "web-1's traffic follows a real instance's network input (NAB ec2_network_in_"
            "257a54, day 3, scaled to a median of 35 requests/s); 28 minutes after its upgrade "
            "its new kernel panics (`Kernel panic - not syncing: Fatal exception`) and the host "
            "stays down: its traffic is gone",
            [
                Host(
                    "web-1",
                    traffic=lambda t: max(0.5, traffic3(t)) if t < UP + 1680 else 0.0,
                    kernel=[(UP + 1680.0, "Kernel panic - not syncing: Fatal exception")],
                    down=[(UP + 1681, 99 * HOUR)],
                )
            ],
            faults=[fault("web-1", UP + 1680, "kernel panic")],
            sources=[cite_nab(NET)],
        )
    )
    # -- a crash over real disk writes (day 9).
    writes = nab[DISK].level(9 * DAY, smooth=10 * MINUTE)
    add(
        Scenario(
            "fault-crash-over-real-disk-writes-day9",
            "crash",
            "db-1's query p99 and CPU follow a real instance's disk writes (NAB ec2_disk_write_"
            "bytes_1ef3de, day 9, smoothed over 10 minutes); its upgraded database crashes at "
            "its first checkpoint 14 minutes after the upgrade and stays down",
            [
                _host(
                    "db-1",
                    query_latency=lambda t: 0.01 * (1.0 + 1.5 * max(0.0, writes(t))),
                    cpu=lambda t: 15.0 + 35.0 * max(0.0, min(1.5, writes(t))),
                    down=[(UP + 840, 99 * HOUR)],
                )
            ],
            duration=3 * HOUR,
            faults=[fault("db-1", UP + 840, "crash")],
            sources=[cite_nab(DISK)],
        )
    )
    # -- OOM kills over real ELB traffic at night (day 0): web-2 as the canary.
    day0 = _elb_day(shared, 0, 30.0)
    kills = _times("oom-day0", UP + 700, 6 * HOUR, 500.0, 1100.0)
    add(
        Scenario(
            "fault-oom-canary-over-real-elb-day0",
            "oom-repeated",
            "web-2 is the canary beside web-1 (not upgraded); both get half a real ELB's "
            "traffic (NAB elb_request_count_8c0756, day 0 from 00:00, scaled to a median of 30 "
            "requests/s); web-2's new release leaks per connection and is OOM-killed every 8 "
            "to 18 minutes from 12 minutes after its upgrade (`Out of memory: Killed process N "
            "(python3)`, `oom_reaper: reaped process N`, quoted), refused 12 s each time",
            [
                Host(
                    "web-2",
                    traffic=lambda t: 0.5 * day0(t),
                    kernel=_repeated("oom-reaper-python3-docker", kills),
                    down=_down(kills, 12.0),
                ),
                Host("web-1", upgrades=[], traffic=lambda t: 0.5 * day0(t)),
            ],
            duration=6 * HOUR,
            faults=[fault("web-2", kills[0], "oom kills")],
            sources=[cite_nab(ELB), *cites("oom-reaper-python3-docker")],
        )
    )
    return out


def _real_healthy(shared: _Shared) -> list[Scenario]:
    """Held-out-11's healthy recordings on real data (see ``real``)."""
    out: list[Scenario] = []
    add = _HALF.real_adder(out)
    stretch, kernel_of = build.stretched, build.kernel_of
    nab, linux, apache, hadoop = shared.nab, shared.linux, shared.apache, shared.hadoop
    cite_nab, cite_log = shared.cite_nab, shared.cite_log

    day10 = _elb_day(shared, 10, 30.0)
    add(
        Scenario(
            "healthy-real-elb-day10-night-upgrade",
            "daily-cycle",
            "web-1's traffic is a real ELB's day (NAB elb_request_count_8c0756, day 10 from "
            "00:00, scaled to a median of 30 requests/s); healthy upgrade at 03:00; p99 and CPU "
            "follow the traffic through the day",
            [
                Host(
                    "web-1",
                    upgrades=[3 * HOUR],
                    traffic=day10,
                    p99=lambda t: 0.18 + 0.002 * day10(t),
                    cpu=lambda t: 6.0 + 0.7 * day10(t),
                )
            ],
            duration=20 * HOUR,
            sources=[cite_nab(ELB)],
        )
    )
    day2 = _elb_day(shared, 2, 40.0)
    add(
        Scenario(
            "healthy-real-elb-day2-canary-five-percent",
            "canary-traffic",
            "web-2 is a canary given 5% of a real ELB's traffic (NAB elb_request_count_8c0756, "
            "day 2 from 06:00, scaled to a median of 40 requests/s for the fleet: about 2 "
            "requests/s for web-2, less at night) after its healthy upgrade; web-1 (not "
            "upgraded) gets the rest; web-2's error ratio is noisy on so few requests",
            [
                Host("web-2", upgrades=[UP], traffic=lambda t: 0.05 * day2(t + 6 * HOUR)),
                Host("web-1", upgrades=[], traffic=lambda t: 0.95 * day2(t + 6 * HOUR)),
            ],
            duration=6 * HOUR,
            sources=[cite_nab(ELB)],
        )
    )
    day4 = _elb_day(shared, 4, 30.0)
    test = (3 * HOUR, 3 * HOUR + 1800)
    add(
        Scenario(
            "healthy-real-elb-day4-load-test",
            "load-test",
            "web-1's traffic is a real ELB's morning (NAB elb_request_count_8c0756, day 4 from "
            "06:00, scaled to a median of 30 requests/s); healthy upgrade at 07:00, then a 30-"
            "minute load test at 09:00 adds 80 requests/s on top: CPU and p99 follow",
            [
                Host(
                    "web-1",
                    traffic=lambda t: (
                        day4(t + 6 * HOUR) + (80.0 if test[0] <= t < test[1] else 0.0)
                    ),
                    cpu=lambda t: (
                        6.0 + 0.5 * (day4(t + 6 * HOUR) + (80.0 if test[0] <= t < test[1] else 0.0))
                    ),
                    p99=lambda t: (
                        0.2
                        + 0.003 * (day4(t + 6 * HOUR) + (80.0 if test[0] <= t < test[1] else 0.0))
                    ),
                )
            ],
            duration=5 * HOUR,
            sources=[cite_nab(ELB)],
        )
    )
    day7 = _elb_day(shared, 7, 30.0)
    drain = (UP - 600, UP + 2400)
    add(
        Scenario(
            "healthy-real-elb-day7-drained-then-back",
            "canary-drain",
            "web-1's traffic is a real ELB's (NAB elb_request_count_8c0756, day 7 from 08:00, "
            "scaled to a median of 30 requests/s); it is drained 10 minutes before its healthy "
            "upgrade and given its traffic back 40 minutes after (0.2 requests/s meanwhile)",
            [
                Host(
                    "web-1",
                    traffic=lambda t: 0.2 if drain[0] <= t < drain[1] else day7(t + 8 * HOUR),
                    cpu=lambda t: (
                        3.0 if drain[0] <= t < drain[1] else 6.0 + 0.7 * day7(t + 8 * HOUR)
                    ),
                )
            ],
            duration=4 * HOUR,
            sources=[cite_nab(ELB)],
        )
    )
    lat = nab[LATENCY]
    shape7 = lat.curve(7 * DAY, scale=1.0 / max(1e-9, lat.median()))
    add(
        Scenario(
            "healthy-real-latency-day7",
            "latency-noise",
            "web-1's p99 follows a real service's request latency (NAB ec2_request_latency_"
            "system_failure, day 7, median 0.25 s, its own spikes included); healthy upgrade "
            "at 3 hours",
            [Host("web-1", upgrades=[3 * HOUR], p99=lambda t: 0.25 * max(0.3, shape7(t)))],
            duration=6 * HOUR,
            sources=[cite_nab(LATENCY)],
        )
    )
    level8 = nab[RDS].level(8 * DAY, smooth=30 * MINUTE)
    add(
        Scenario(
            "healthy-real-rds-day8",
            "daily-cycle",
            "db-1's query p99 and CPU follow a real RDS instance's load (NAB rds_cpu_"
            "utilization_cc0c53, day 8, smoothed over 30 minutes); healthy upgrade at 2 hours",
            [
                _host(
                    "db-1",
                    upgrades=[2 * HOUR],
                    query_latency=lambda t: 0.011 * (1.0 + 0.9 * max(0.0, level8(t))),
                    cpu=lambda t: 12.0 + 45.0 * max(0.0, level8(t)),
                )
            ],
            duration=6 * HOUR,
            sources=[cite_nab(RDS)],
        )
    )
    net = nab[NET]
    shift = net.curve(7 * DAY, scale=40.0 / max(1.0, net.median()))
    add(
        Scenario(
            "healthy-real-network-day7-canary-ramp",
            "traffic-shift",
            "web-1 is a canary whose share of a real instance's traffic (NAB ec2_network_in_"
            "257a54, day 7, scaled to a median of 40 requests/s) goes 1% -> 10% -> 50% -> 100% "
            "at 30, 60 and 90 minutes after its healthy upgrade",
            [
                Host(
                    "web-1",
                    traffic=lambda t: (
                        max(0.5, shift(t))
                        * (1.0 if t < UP else (0.01, 0.1, 0.5, 1.0)[min(3, int((t - UP) // 1800))])
                    ),
                )
            ],
            duration=4 * HOUR,
            sources=[cite_nab(NET)],
        )
    )
    noise = stretch(linux, 600, 200, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-linux-600-sata-reset",
            "noisy-syslog",
            "db-1's syslog and kern.log are real Linux syslog (Loghub, lines 600 to 799 "
            "stretched over 3 hours); a healthy upgrade at 1 hour, then one SATA link reset "
            "that recovers (quoted) an hour later",
            [
                _host(
                    "db-1",
                    syslog=noise,
                    kernel=[*kernel_of(noise), *quoted_event(2 * HOUR, "ata-fpdma-timeout-reset")],
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Linux_2k.log"), *cites("ata-fpdma-timeout-reset")],
        )
    )
    errors = stretch(apache, 300, 200, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-apache-300-errors-run",
            "preexisting-errors",
            "web-1's error log is Loghub's real Apache error log (lines 300 to 499 stretched "
            "over 3 hours, its `[error]` lines included); a healthy upgrade by `rollsafe "
            "upgrade` at 1 hour (refused 12 s)",
            [
                Host(
                    "web-1",
                    **rolled(UP - 40, UP),
                    down=[(UP - 30, UP - 18)],
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Apache_2k.log")],
        )
    )
    c77 = nab["ec2_cpu_utilization_77c1ca"]
    jobs = stretch(hadoop, 500, 200, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-hadoop-500-cpu-77c1ca-day7",
            "cron-cpu",
            "batch-1's job log is Loghub's real Hadoop run (lines 500 to 699 stretched over 3 "
            "hours) and its CPU a real EC2 instance's (NAB ec2_cpu_utilization_77c1ca, day 7, "
            "scaled so that its 99th percentile is 90%); a healthy upgrade at 1 hour",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=jobs,
                    cpu=c77.curve(7 * DAY, scale=90.0 / max(1.0, c77.quantile(0.99))),
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Hadoop_2k.log"), cite_nab("ec2_cpu_utilization_77c1ca")],
        )
    )
    c5f = nab["ec2_cpu_utilization_5f5533"]
    steal = c5f.curve(8 * DAY, scale=80.0 / max(1.0, c5f.quantile(0.99)))
    add(
        Scenario(
            "healthy-real-cpu-5f5533-day8-neighbour",
            "noisy-neighbour",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_5f5533, day 8, "
            "scaled so that its 99th percentile is 80%); health latency rises with it (a "
            "shared host); healthy upgrade at 2 hours",
            [
                Host(
                    "web-1",
                    upgrades=[2 * HOUR],
                    cpu=steal,
                    latency=lambda t: 0.04 * (1.0 + 0.5 * max(0.0, steal(t)) / 80.0),
                )
            ],
            duration=5 * HOUR,
            sources=[cite_nab("ec2_cpu_utilization_5f5533")],
        )
    )
    wander = nab["ec2_cpu_utilization_53ea38"].wander(8 * DAY, amplitude=4.0)
    add(
        Scenario(
            "healthy-real-53ea38-day8-cache-levels-off",
            "cache-growth",
            "web-1's memory wanders with a real instance's load (NAB ec2_cpu_utilization_"
            "53ea38, day 8, smoothed over an hour, 4 points); after its healthy upgrade at 1 "
            "hour a new cache adds 15 points over 30 minutes and then stays level",
            [
                Host(
                    "web-1",
                    memory=lambda t: (
                        42.0 + wander(t) + (0.0 if t < UP else 15.0 * min(1.0, (t - UP) / 1800.0))
                    ),
                )
            ],
            duration=6 * HOUR,
            sources=[cite_nab("ec2_cpu_utilization_53ea38")],
        )
    )
    noise2 = stretch(linux, 1450, 200, 2 * HOUR)
    add(
        Scenario(
            "healthy-real-linux-1450-reboot-run",
            "restart-blip",
            "batch-1's syslog and kern.log are real Linux syslog (Loghub, lines 1,450 to 1,649 "
            "stretched over 2 hours); a planned reboot by `rollsafe upgrade` (refused 90 s)",
            [
                _host(
                    "batch-1",
                    **rolled(UP - 140, UP),
                    down=[(UP - 120, UP - 30)],
                    syslog=noise2,
                    kernel=kernel_of(noise2),
                )
            ],
            sources=[cite_log("Linux_2k.log")],
        )
    )
    return out
