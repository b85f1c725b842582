"""Held-out-10 of rollsafe's judgment corpus: upgrades nobody tuned on (issue #15, round 11).

Every earlier half (design, held-out, held-out-2 to held-out-9) has been looked at by people
changing rules. This half was written in round 11 by a helper that changed no rule, preset or
judge code and never replayed it, while others were changing rules without seeing it, from
what a fleet meets after an upgrade (not from what the rules catch or miss); the lead replays
it once, untuned. No preset may be tuned on it (``--half held-out-10``).

What is new here against the earlier halves: storage that fails under the service (an ext4
filesystem remounted read-only, a disk filling to ``No space left on device``, an ext4 error
forcing a panic), network drivers that hang (``NETDEV WATCHDOG ... transmit queue 0 timed
out`` in two wordings, e1000e's ``Detected Hardware Unit Hang``), an NFS server not
responding (hard and soft mounts), systemd's ``Failed with result 'watchdog'`` and
``'core-dump'``, a JVM's ``OutOfMemoryError`` and long collection pauses, a thread pool and a
connection pool exhausted, a replica falling behind, a bimodal p99, a kernel panic that
reboots the host again and again instead of keeping it down, probes every 1 s and every 60 s,
a 24-hour watch, monitoring gaps in the middle of a fault, a fleet of four with one canary;
and healthy noise that fools naive rules: a planned reboot, a debug-logging burst, a blue/green
traffic shift, a daylight-saving change in local-time logs, a batch backlog catching up, a
health endpoint moved behind a redirect, ``perf: interrupt took too long`` in two wordings,
``Possible SYN flooding``, a noisy neighbour's CPU steal, a canary drained on purpose, an NFS
server stalling for 40 s and coming back, a daemon segfaulting as a reboot stops it.

``corpus/build.py`` renders these scenarios like every other; this module only describes them.
Its irregular times come from generators of its own (``held-out-10/<seed>``), and every
recording is rendered from a generator seeded by its own name, so adding this half moves no
byte of the others. Real data: messages quoted from public reports no other half cites
(``corpus/quoted.py``, held-out-10 section, each with its URL), and NAB metrics and Loghub logs
of ``../shared/data`` (days and line ranges no earlier half uses as spans), read at build time
(``real``).
"""

from __future__ import annotations

import datetime as dt
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
    daily,
    decaying,
    fault,
    oom_synthetic,
    quoted_event,
    quoted_units,
    rolled,
)

HELD_OUT_10 = "held-out-10"  # written in round 11 by a helper that changed no rule; never tuned on
DAY = 24 * HOUR

_HALF = build.Half(HELD_OUT_10)
_times = _HALF.times  # irregular times of this half's own (``held-out-10/<seed>``)
_add = _HALF.add
_fault_adder = _HALF.fault_adder
_host = build._host
_repeated = build.repeated


# --------------------------------------------------------------------------- log formats


def _when(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(START + t, tz=dt.UTC)


def _java(t: float, level: str, logger: str, message: str) -> tuple[float, str]:
    """One Logback-style line (``HH:MM:SS.mmm [thread] LEVEL logger - message``), raw."""
    when = _when(t)
    stamp = f"{when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d}"
    return (
        t,
        f"@raw {stamp} [http-nio-8080-exec-{int(t) % 40 + 1}] {level:<5} {logger} - {message}",
    )


def _gc(t: float, n: int, pause_ms: float) -> tuple[float, str]:
    """One JVM unified-logging GC line (``[uptime][info][gc] GC(n) Pause Full ...``), raw."""
    return (
        t,
        f"@raw [{86400.0 * 3 + t:.3f}s][info][gc] GC({n}) Pause Full (G1 Compaction Pause) "
        f"1843M->1790M(2048M) {pause_ms:.3f}ms",
    )


def _local(t: float, offset_h: float, text: str) -> tuple[float, str]:
    """A line stamped in local time (``offset_h`` hours from UTC, no zone written), raw."""
    when = _when(t) + dt.timedelta(hours=offset_h)
    return (t, f"@raw {when:%Y-%m-%d %H:%M:%S},{when.microsecond // 1000:03d} {text}")


def _windows(times: list[float], length: float, value: float) -> list[tuple[float, float, float]]:
    return [(t, t + length, value) for t in times]


def _down(times: list[float], length: float) -> list[tuple[float, float]]:
    return [(t, t + length) for t in times]


def _soft_lockup(cpu: int, seconds: int, comm: str, pid: int) -> str:
    """The soft-lockup detector's line as 4.x-6.x kernels word it (synthetic values)."""
    return f"watchdog: BUG: soft lockup - CPU#{cpu} stuck for {seconds}s! [{comm}:{pid}]"


def _hung(comm: str, pid: int, seconds: int = 120) -> list[str]:
    """The hung-task detector's report as 5.x kernels word it (synthetic values)."""
    return [
        f"INFO: task {comm}:{pid} blocked for more than {seconds} seconds.",
        "      Not tainted 5.15.0-91-generic #101-Ubuntu",
        '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
    ]


# --------------------------------------------------------------------------- faults


def faults() -> list[Scenario]:
    """Held-out-10 faults, synthetic and quoted: every family issue #15 names."""
    return [*_faults_signals(), *_faults_down_and_kernel()]


def _faults_signals() -> list[Scenario]:
    """Held-out-10 faults that the service's signals show: errors, p99, latency, memory, OOM."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- a disk that fills: debug logging left on by the new release's default config.
    enospc = UP + 2400
    add(
        "fault-errors-disk-fills-enospc",
        "metrics-error-ratio",
        "web-1's new release logs every request body at debug level by default; its log volume "
        "fills (memory and CPU unchanged) and 40 minutes after the upgrade writes fail with "
        "`OSError: [Errno 28] No space left on device`: every upload and session write fails, "
        "22% of requests, from then on",
        [
            Host(
                "web-1",
                error_ratio=after(const(0.003), enospc, const(0.22)),
                errors_per_minute=after(const(0.05), enospc, const(0.0)),
                app_lines=[
                    (t, "ERROR [worker-2] app.uploads: OSError: [Errno 28] No space left on device")
                    for t in _times("enospc", enospc, 2.5 * HOUR, 2.0, 9.0)
                ],
            )
        ],
        enospc,
        kind="request errors",
        duration=2.5 * HOUR,
    )
    # -- the root filesystem remounted read-only after an ext4 error.
    ro = UP + 540
    add(
        "fault-errors-ext4-remounted-read-only",
        "metrics-error-ratio",
        "9 minutes after web-1's upgrade (a kernel with a new block-allocator path) ext4 fails "
        "to load its buddy bitmap, aborts the journal and remounts the data volume read-only "
        "(quoted); from then on 18% of requests (those that write) fail with `Read-only file "
        "system`, reads still work and the health check answers 200",
        [
            Host(
                "web-1",
                kernel=quoted_event(ro, "ext4-buddy-remount-ro-coreos"),
                error_ratio=after(const(0.003), ro, const(0.18)),
                app_lines=[
                    (
                        t,
                        "ERROR [worker-1] app.store: [Errno 30] Read-only file system: "
                        "'/var/lib/app/sessions/tmp'",
                    )
                    for t in _times("erofs", ro + 1, 2 * HOUR, 4.0, 15.0)
                ],
            )
        ],
        ro,
        kind="request errors",
        origin="quoted",
        sources=cites("ext4-buddy-remount-ro-coreos"),
    )
    # -- a connection pool exhausted (HikariCP's wording, Logback lines).
    pool = UP + 300
    add(
        "fault-errors-hikari-pool-exhausted",
        "metrics-error-ratio",
        "web-1's new release drops its pool's size to the library default (10) while a slow "
        "report query holds connections: from 5 minutes after the upgrade requests wait 3 s for "
        "a connection and 6% fail (`HikariPool-1 - Connection is not available, request timed "
        "out after 3000ms.`, Logback); p99 is 3 s",
        [
            Host(
                "web-1",
                error_ratio=after(const(0.003), pool, const(0.06)),
                p99=after(const(0.22), pool, const(3.0)),
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=[
                    *[
                        _java(t, "INFO", "c.e.api.RequestLog", "GET /v3/orders 200")
                        for t in _times("hikari-ok", 0.0, 2 * HOUR, 15.0, 45.0)
                    ],
                    *[
                        _java(
                            t,
                            "ERROR",
                            "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                            "Servlet.service() threw exception: java.sql.SQLTransientConnection"
                            "Exception: HikariPool-1 - Connection is not available, request "
                            "timed out after 3000ms.",
                        )
                        for t in _times("hikari-err", pool, 2 * HOUR, 3.0, 12.0)
                    ],
                ],
            )
        ],
        pool,
        kind="request errors",
    )
    # -- a soft NFS mount timing out: EIO to the application.
    nfs = _times("nfs-soft", UP + 780, UP + 6600, 40.0, 140.0)
    add(
        "fault-errors-nfs-soft-mount-times-out",
        "metrics-error-ratio",
        "web-1's upgrade moves its media cache to an NFS export mounted `soft`; the new server "
        "cannot keep up: from 13 minutes after the upgrade calls time out every 40 to 140 s "
        "(`nfs: server ... not responding, timed out`, quoted) and 9% of requests fail with an "
        "I/O error",
        [
            Host(
                "web-1",
                kernel=_repeated("nfs-timed-out-surface", nfs),
                error_ratio=after(const(0.003), nfs[0], const(0.09)),
                p99=after(const(0.22), nfs[0], const(0.7)),
            )
        ],
        nfs[0],
        kind="request errors",
        origin="quoted",
        sources=cites("nfs-timed-out-surface"),
    )
    # -- a canary in a fleet of four: only it is upgraded, only it fails.
    add(
        "fault-errors-canary-of-four",
        "metrics-error-ratio",
        "a fleet of four web hosts behind one balancer; web-1 is the canary, the only one "
        "upgraded; 2 minutes after, its new serializer rejects a legacy header and 5% of its "
        "requests fail; web-2, web-3 and web-4 stay at 0.3%",
        [
            Host("web-1", error_ratio=after(const(0.003), UP + 120, const(0.05))),
            *[Host(f"web-{k}", upgrades=[]) for k in (2, 3, 4)],
        ],
        UP + 120,
        kind="request errors",
    )
    # -- long GC pauses after a heap/collector change (unified GC logging).
    pauses = _times("g1-full", UP + 60, 2 * HOUR, 70.0, 110.0)
    add(
        "fault-p99-long-full-gc-pauses",
        "metrics-latency-quantile",
        "web-1's upgrade changes its JVM's heap to 2 GB with a cache that no longer fits: from "
        "a minute after it a full collection pauses everything for about 1.8 s every 70 to "
        "110 s (JVM unified GC log: `Pause Full (G1 Compaction Pause) ... 1812ms`); p99 is "
        "1.9 s, the health check (a cheap path) only now and then slow",
        [
            Host(
                "web-1",
                p99=after(const(0.22), UP + 60, const(1.9)),
                slow=[(t, 1.9) for t in pauses[::4]],
                app_lines=[_gc(t, 400 + n, 1750.0 + 13.0 * (n % 9)) for n, t in enumerate(pauses)],
            )
        ],
        UP + 60,
        kind="p99 latency",
    )
    add(
        "fault-p99-bimodal-lock-holder",
        "metrics-latency-quantile",
        "web-1's new release takes a global lock on a cache refresh that runs on one node of "
        "two in turn: from 2 minutes after the upgrade p99 flips minute by minute between 0.25 "
        "s and 1.1 s (a bimodal latency); the median and the health check do not move",
        [
            Host(
                "web-1",
                p99=lambda t: 0.22 if t < UP + 120 else (1.1 if int((t - UP) // 60) % 2 else 0.25),
            )
        ],
        UP + 120,
        kind="p99 latency",
    )
    add(
        "fault-p99-thread-pool-exhausted",
        "metrics-latency-quantile",
        "web-1's upgrade lowers Tomcat's maxThreads from 200 to 50; at its steady 40 requests/s "
        "with 1.5 s calls to a partner, requests queue: from 3 minutes after the upgrade p99 is "
        "2.4 s and the executor warns `All threads (50) are currently busy` a few times a minute",
        [
            Host(
                "web-1",
                p99=after(const(0.22), UP + 180, const(2.4)),
                latency=after(const(0.04), UP + 180, const(0.06)),
                app_lines=[
                    (
                        t,
                        "WARN [http-nio-8080-Acceptor] o.a.tomcat.util.net.NioEndpoint: "
                        "All threads (50) are currently busy, waiting. Increase maxThreads (50) or "
                        "check the servlet status",
                    )
                    for t in _times("tomcat-busy", UP + 180, 2 * HOUR, 10.0, 40.0)
                ],
            )
        ],
        UP + 180,
        kind="p99 latency",
    )
    # -- health latency: an NFS hard mount stalling; probes every 1 s and every 60 s.
    stalls = _times("nfs-hard", UP + 420, UP + 6600, 60.0, 180.0)
    add(
        "fault-latency-nfs-hard-mount-stalls",
        "latency-regression",
        "web-1's upgrade serves its templates from an NFS export mounted `hard`; from 7 minutes "
        "after it the server stops answering every 1 to 3 minutes (`nfs: server ... not "
        "responding, still trying`, quoted) and every health check (which renders a template) "
        "takes 0.9 s instead of 40 ms",
        [
            Host(
                "web-1",
                kernel=_repeated("nfs-not-responding-princeton", stalls),
                latency=after(const(0.04), UP + 420, const(0.9)),
                p99=after(const(0.22), UP + 420, const(1.4)),
            )
        ],
        UP + 420,
        kind="latency",
        origin="quoted",
        sources=cites("nfs-not-responding-princeton"),
    )
    add(
        "fault-latency-1s-prober",
        "latency-regression",
        "web-1 is probed every second; 40 s after its upgrade its health check takes 140 ms "
        "instead of 35 ms (a new middleware resolving the client's name) and stays so",
        [Host("web-1", health_every=1.0, latency=after(const(0.035), UP + 40, const(0.14)))],
        UP + 40,
        kind="latency",
        duration=100 * MINUTE,
    )
    add(
        "fault-latency-60s-prober",
        "latency-regression",
        "web-1 is probed once a minute; a minute after its upgrade its health check takes 300 "
        "ms instead of 50 ms (a dependency check added to /health calls the database twice)",
        [Host("web-1", health_every=60.0, latency=after(const(0.05), UP + 60, const(0.3)))],
        UP + 60,
        kind="latency",
        duration=2.5 * HOUR,
    )
    add(
        "fault-latency-cpu-saturated",
        "latency-regression",
        "web-1's new release validates input with a regular expression that backtracks: from a "
        "minute after the upgrade CPU is saturated (30% -> 96%), health checks take 5 times "
        "longer and p99 is 1.2 s",
        [
            Host(
                "web-1",
                cpu=after(const(30.0), UP + 60, const(96.0)),
                cpu_noise=2.0,
                latency=after(const(0.04), UP + 60, const(0.2)),
                p99=after(const(0.22), UP + 60, const(1.2)),
            )
        ],
        UP + 60,
        kind="latency",
    )
    # -- leaks: off-heap, through a monitoring gap, over a 24-hour watch.
    add(
        "fault-leak-off-heap-buffers",
        "memory-leak",
        "web-1's new HTTP client allocates direct buffers it never frees: memory climbs 6 "
        "points an hour from 42% and never levels off; the JVM's heap (and its GC) look normal",
        [Host("web-1", memory=lambda t: 42.0 + 6.0 * max(0.0, t - UP) / HOUR)],
        UP,
        kind="memory leak",
        duration=6 * HOUR,
    )
    add(
        "fault-leak-through-monitoring-gap",
        "memory-leak",
        "batch-1's new runner keeps every finished job's result in memory: 8 points an hour "
        "from 40%; from 40 to 80 minutes after the upgrade Prometheus cannot reach the host "
        "(its exporter's port is firewalled by the same upgrade, then reopened)",
        [
            _host(
                "batch-1",
                memory=lambda t: 40.0 + 8.0 * max(0.0, t - UP) / HOUR,
                gaps={"prometheus": [(UP + 2400, UP + 4800)]},
            )
        ],
        UP,
        kind="memory leak",
        duration=5 * HOUR,
    )
    add(
        "fault-leak-slow-24h-watch",
        "memory-leak",
        "db-1 is watched for 24 hours after its upgrade (its checks every 30 s); its new "
        "connection pooler leaks 1.6 points an hour from 38% under a daily traffic cycle "
        "(memory wanders 3 points with it) and never levels off",
        [
            _host(
                "db-1",
                health_every=30.0,
                memory=lambda t: 38.0 + daily(0.0, 3.0)(t) + 1.6 * max(0.0, t - UP) / HOUR,
                query_latency=daily(0.012, 0.004),
            )
        ],
        UP,
        kind="memory leak",
        duration=25 * HOUR,
    )
    # -- OOM kills in every wording: cgroup v2, 2.6-era lower case, one line, global.
    for name, target, style, seed, desc in (
        (
            "fault-oom-cgroup-v2-memory-max-lowered",
            "web-1",
            "cgroup-v2",
            "oom-v2",
            "web-1's new unit file sets MemoryMax=1G, below its working set: from 6 minutes "
            "after the upgrade the memory cgroup's OOM killer kills its worker every 4 to 9 "
            "minutes (cgroup v2 wording: `oom-kill:constraint=CONSTRAINT_MEMCG`, `Memory cgroup "
            "out of memory: Killed process N`); refused 8 s each time",
        ),
        (
            "fault-oom-old-kernel-batch-lower-case",
            "batch-1",
            "old-lower",
            "oom-old",
            "batch-1 runs an old 2.6 kernel; its new job image loads a whole partition in "
            "memory: from 6 minutes after the upgrade the OOM killer kills the job every 4 to 9 "
            "minutes (`Out of memory: kill process N (app-worker) score 911 or a child`)",
        ),
        (
            "fault-oom-one-line-db-backends",
            "db-1",
            "single",
            "oom-db",
            "db-1's upgrade raises work_mem tenfold; from 6 minutes after it the kernel kills a "
            "PostgreSQL backend every 4 to 9 minutes (only `Out of memory: Killed process N` "
            "reaches the log, the rest rate-limited); query p99 doubles for 2 minutes each time",
        ),
        (
            "fault-oom-global-60s-prober",
            "web-1",
            "default",
            "oom-60s",
            "web-1 is probed once a minute; its upgrade preloads a model twice as big: from 6 "
            "minutes after it the global OOM killer kills the server every 4 to 9 minutes "
            "(`invoked oom-killer`, `Out of memory: Killed process N`), refused 20 s each time",
        ),
    ):
        kills = _times(seed, UP + 360, UP + 6600, 240.0, 540.0)
        role = build._role(target)
        add(
            name,
            "oom-repeated",
            desc,
            [
                _host(
                    target,
                    kernel=[
                        x
                        for n, t in enumerate(kills)
                        for x in oom_synthetic(t, process="app-worker", pid=8100 + n, style=style)
                    ],
                    memory=after(const(62.0), kills[0] - 60, const(91.0)),
                    down=_down(kills, 8.0 if style == "cgroup-v2" else 20.0)
                    if role == "web"
                    else [],
                    query_latency=bumped(const(0.012), _windows(kills, 120.0, 0.024)),
                    health_every=60.0 if seed == "oom-60s" else 10.0,
                )
            ],
            kills[0],
            kind="oom kills",
        )
    return out


def _faults_down_and_kernel() -> list[Scenario]:
    """Held-out-10 faults that take a host down or that its kernel and syslog tell of."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- a JVM that exits on OutOfMemoryError, again and again (GC thrash first).
    exits = _times("jvm-oom", UP + 900, UP + 6900, 720.0, 1080.0)
    add(
        "fault-outage-jvm-heap-oom-exits",
        "outage-near-down-for",
        "web-1's new release caches whole responses on the heap; from 13 minutes after the "
        "upgrade the heap fills every 12 to 18 minutes: 2 minutes of back-to-back collections "
        "(p99 4 s), then `java.lang.OutOfMemoryError: Java heap space` and the JVM exits "
        "(ExitOnOutOfMemoryError); refused 45 s while it restarts",
        [
            Host(
                "web-1",
                down=_down(exits, 45.0),
                p99=bumped(const(0.22), [(t - 120, t, 4.0) for t in exits]),
                app_lines=[
                    x
                    for t in exits
                    for x in (
                        _java(
                            t - 0.5,
                            "ERROR",
                            "c.e.api.ResponseCache",
                            "java.lang.OutOfMemoryError: Java heap space",
                        ),
                        (
                            t - 0.2,
                            "@raw Terminating due to java.lang.OutOfMemoryError: Java heap space",
                        ),
                    )
                ],
            )
        ],
        exits[0] - 120,
        kind="outage",
        duration=2.5 * HOUR,
    )
    # -- NIC driver hangs: the transmit watchdog, e1000e's unit hang, a canary's BMC NIC.
    resets = _times("r8125", UP + 600, UP + 7000, 900.0, 1800.0)
    add(
        "fault-outage-nic-tx-timeout-resets",
        "outage-near-down-for",
        "web-1's upgrade brings an out-of-tree r8125 NIC driver; from 10 minutes after it, every "
        "15 to 30 minutes, a transmit queue stalls (`NETDEV WATCHDOG: CPU: 3: transmit queue 0 "
        "timed out 5010 ms`, quoted) and the driver resets the adapter: checks fail for 25 s",
        [
            Host(
                "web-1",
                kernel=_repeated("netdev-watchdog-r8125", resets),
                down=[(t - 5, t + 20) for t in resets],
            )
        ],
        resets[0] - 5,
        kind="outage",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("netdev-watchdog-r8125"),
    )
    hangs = [UP + 480, UP + 2280, UP + 4500]
    add(
        "fault-outage-e1000e-unit-hang",
        "outage-near-down-for",
        "web-1's upgraded kernel turns TCP segmentation offload on for its e1000e NIC; under "
        "bursts the adapter hangs (`e1000e ... Detected Hardware Unit Hang:`, quoted, every 2 s "
        "while it lasts): 8, 38 and 75 minutes after the upgrade, for 40 s each, checks fail",
        [
            Host(
                "web-1",
                kernel=[
                    x
                    for t in hangs
                    for k in range(20)
                    for x in quoted_event(t + 2.0 * k, "e1000e-unit-hang-gislab")
                ],
                down=_down(hangs, 40.0),
            )
        ],
        UP + 480,
        kind="outage",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("e1000e-unit-hang-gislab"),
    )
    stalls = _times("ftgmac", UP + 300, UP + 6600, 600.0, 1200.0)
    add(
        "fault-outage-canary-netdev-watchdog",
        "outage-near-down-for",
        "a canary: web-2 is upgraded (a kernel whose NIC driver stalls), web-1 is not; from 5 "
        "minutes after the upgrade, every 10 to 20 minutes, `NETDEV WATCHDOG: eth0 (ftgmac100): "
        "transmit queue 0 timed out` with its warning (quoted) and web-2's checks fail for 30 s",
        [
            Host(
                "web-2",
                kernel=_repeated("netdev-watchdog-ftgmac100", stalls),
                down=[(t - 10, t + 20) for t in stalls],
            ),
            Host("web-1", upgrades=[]),
        ],
        stalls[0] - 10,
        kind="outage",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("netdev-watchdog-ftgmac100"),
    )
    add(
        "fault-outage-batch-stalls-no-progress",
        "outage-near-down-for",
        "batch-1's new runner waits on a lock its previous version never took: 8 minutes after "
        "the upgrade the job stops making progress and the runner's check answers 503 (`no "
        "progress for 300 s`) from 5 minutes later on; its log goes quiet",
        [
            _host(
                "batch-1",
                health_5xx=after(const(0.0), UP + 780, const(1.0)),
                noise_per_minute=0.0,
                errors_per_minute=const(0.0),
                app_lines=[
                    (t, f"INFO [TaskRunner-3] jobs.export: wrote {n}00 rows")
                    for n, t in enumerate(_times("progress", 0.0, UP + 480, 20.0, 60.0))
                ],
            )
        ],
        UP + 480,
        kind="outage",
    )
    # -- crashes that stay down.
    starts = [UP + 3 + 12 * k for k in range(5)]
    add(
        "fault-crash-null-function-pointer-at-start",
        "crash",
        "web-1's new build calls a plugin hook it no longer registers: it segfaults at start "
        "(`segfault at 0 ip (null) ... error 14`, quoted), five times as systemd restarts it "
        "every 12 s, then stays down",
        [
            Host(
                "web-1",
                kernel=_repeated("segv-tuxdroid-null-ip", starts),
                down=[(UP + 3, 99 * HOUR)],
            )
        ],
        UP + 3,
        kind="crash",
        origin="quoted",
        sources=cites("segv-tuxdroid-null-ip"),
    )
    full = UP + 360
    add(
        "fault-crash-state-image-full",
        "crash",
        "batch-1's upgrade stores the runner's state in a loop-mounted image sized for the old "
        "format; 6 minutes after it the image's backing file is full: loop write errors and "
        "`EXT4-fs error ... Error while async write back metadata` (quoted), and the runner "
        "exits on a failed state write and does not come back",
        [
            _host(
                "batch-1",
                kernel=quoted_event(full, "ext4-async-write-back-loop"),
                down=[(full + 5, 99 * HOUR)],
                app_lines=[
                    (
                        full + 4,
                        "ERROR [main] jobs.state: cannot persist checkpoint: "
                        "[Errno 5] Input/output error; exiting",
                    )
                ],
            )
        ],
        full,
        kind="crash",
        origin="quoted",
        sources=cites("ext4-async-write-back-loop"),
    )
    # -- systemd: the service's watchdog, core dumps then giving up.
    stalls = _times("wd", UP + 200, UP + 6600, 180.0, 360.0)
    add(
        "fault-unit-watchdog-timeouts",
        "systemd-unit-failure",
        "web-1's new release blocks its event loop on a DNS lookup now and then: from 200 s "
        "after the upgrade, every 3 to 6 minutes, it misses its systemd watchdog (`Watchdog "
        "timeout (limit 10s)!`, `Failed with result 'watchdog'.`, quoted) and is killed and "
        "restarted: refused 12 s each time",
        [
            Host(
                "web-1",
                syslog=quoted_units("systemd-watchdog-conntrackd", stalls),
                down=[(t - 10, t + 2) for t in stalls],
            )
        ],
        stalls[0] - 10,
        kind="unit failed",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("systemd-watchdog-conntrackd"),
    )
    dumps = [UP + 150 + 4 * k for k in range(5)]
    add(
        "fault-unit-core-dumps-then-gives-up",
        "systemd-unit-failure",
        "batch-1's companion daemon aborts on a flag its new version rejects: from 150 s after "
        "the upgrade it dumps core five times in 20 s (`Failed with result 'core-dump'.`), then "
        "systemd gives up (`Start request repeated too quickly.`, quoted); the runner's checks "
        "answer 503 from then on",
        [
            _host(
                "batch-1",
                syslog=[
                    *quoted_units("systemd-coredump-mboxd", dumps),
                    *quoted_units("systemd-gave-up-mboxd", [dumps[-1] + 1.0]),
                ],
                health_5xx=after(const(0.0), UP + 150, const(1.0)),
            )
        ],
        UP + 150,
        kind="unit failed",
        origin="quoted",
        sources=cites("systemd-coredump-mboxd", "systemd-gave-up-mboxd"),
    )
    # -- segfault loops: a libc null read, and a synthetic PHP extension.
    crashes = _times("smtpd", UP + 90, UP + 6600, 20.0, 90.0)
    add(
        "fault-segv-lookup-process-loop",
        "segfault-loop",
        "web-1 relays its notifications through a local mail daemon upgraded with it; from 90 s "
        "after the upgrade its lookup process crashes every 20 to 90 s (`smtpd[N]: segfault at "
        "0 ... error 4 in libc-2.17.so`, quoted) and 4% of requests (those that send mail) fail",
        [
            Host(
                "web-1",
                kernel=_repeated("segv-smtpd-libc217", crashes),
                error_ratio=after(const(0.003), crashes[0], const(0.04)),
            )
        ],
        crashes[0],
        kind="segfault loop",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("segv-smtpd-libc217"),
    )
    crashes = _times("php", UP + 45, UP + 6600, 30.0, 150.0)
    add(
        "fault-segv-php-fpm-opcache-loop",
        "segfault-loop",
        "web-1's upgrade brings a PHP opcache build that crashes on one template: from 45 s "
        "after it a php-fpm worker dies every 30 s to 2.5 minutes (`php-fpm[N]: segfault at 18 "
        "ip ... error 4 in opcache.so[...]`, synthetic values) and the requests it held fail "
        "(2%)",
        [
            Host(
                "web-1",
                kernel=[
                    (
                        t,
                        f"php-fpm[{21000 + 37 * n}]: segfault at 18 ip 00007f3a9c2e41b7 sp "
                        "00007ffd4a2c1e80 error 4 in opcache.so[7f3a9c2c0000+5b000] likely on CPU "
                        f"{n % 4} (core {n % 4}, socket 0)",
                    )
                    for n, t in enumerate(crashes)
                ],
                error_ratio=after(const(0.003), crashes[0], const(0.02)),
            )
        ],
        crashes[0],
        kind="segfault loop",
        duration=2.5 * HOUR,
    )
    # -- kernel panics: an ext4 error forcing one (stays down), a reboot loop.
    add(
        "fault-panic-ext4-errors-panic-db",
        "kernel-panic",
        "db-1's upgraded kernel mounts its data volume with errors=panic; 11 minutes after the "
        "upgrade a journal write fails and the kernel panics (`Kernel panic - not syncing: "
        "EXT4-fs (device mmcblk0p4): panic forced after error`, quoted); the host stays down",
        [
            _host(
                "db-1",
                kernel=quoted_event(UP + 660, "panic-ext4-forced-mmcblk"),
                down=[(UP + 661, 99 * HOUR)],
            )
        ],
        UP + 660,
        kind="kernel panic",
        origin="quoted",
        sources=cites("panic-ext4-forced-mmcblk"),
    )
    panics = [UP + 1200, UP + 2700, UP + 4300]
    add(
        "fault-panic-fatal-exception-reboot-loop",
        "kernel-panic",
        "web-1's upgraded kernel (kernel.panic=10) oopses in its filesystem's checkpoint "
        "20 minutes after the upgrade: `Kernel panic - not syncing: Fatal exception` (quoted), "
        "it reboots and is back in 3 minutes, and panics again 25 and 51 minutes later",
        [
            Host(
                "web-1",
                kernel=[x for t in panics for x in quoted_event(t, "panic-fatal-exception-f2fs")],
                down=_down([t + 1 for t in panics], 180.0),
            )
        ],
        UP + 1200,
        kind="kernel panic",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("panic-fatal-exception-f2fs"),
    )
    # -- oopses: a page fault in a storage driver, a BUG in ext4 on arm64.
    add(
        "fault-oops-page-fault-storage-reader",
        "kernel-oops",
        "batch-1's upgrade loads a new copy-on-write filesystem module; 4 minutes after it a "
        "read faults in the kernel (`BUG: unable to handle page fault for address:`, `#PF: "
        "supervisor read access in kernel mode`, `Oops: 0000 [#1]`, quoted); the reader is "
        "gone and 30% of the runner's checks answer 503",
        [
            _host(
                "batch-1",
                kernel=quoted_event(UP + 240, "oops-page-fault-bcachefs"),
                health_5xx=after(const(0.0), UP + 240, const(0.3)),
            )
        ],
        UP + 240,
        kind="kernel oops",
        origin="quoted",
        sources=cites("oops-page-fault-bcachefs"),
    )
    add(
        "fault-oops-ext4-bug-arm64-writeback",
        "kernel-oops",
        "web-1 is an arm64 edge node; its real-time kernel update hits a BUG_ON in ext4's block "
        "mapping 14 minutes after the upgrade (`kernel BUG at fs/ext4/inode.c:547!`, `Internal "
        "error: Oops - BUG: 0 [#1] PREEMPT_RT SMP`, quoted): writeback stops, p99 is 4 times "
        "higher and 3% of requests fail from then on",
        [
            Host(
                "web-1",
                kernel=quoted_event(UP + 840, "oops-bug-ext4-inode-arm64"),
                p99=after(const(0.22), UP + 840, const(0.9)),
                error_ratio=after(const(0.003), UP + 840, const(0.03)),
            )
        ],
        UP + 840,
        kind="kernel oops",
        origin="quoted",
        sources=cites("oops-bug-ext4-inode-arm64"),
    )
    # -- soft lockups: in nfsd on a database host; in a NIC's softirq, then its watchdog.
    lockups = _times("nfsd-lockup", UP + 600, UP + 6600, 600.0, 1200.0)
    add(
        "fault-lockup-soft-nfsd-db",
        "soft-lockup",
        "db-1 also exports a directory over NFS; its upgraded kernel spins in nfsd: from 10 "
        "minutes after the upgrade, every 10 to 20 minutes, `watchdog: BUG: soft lockup - CPU#2 "
        "stuck for 23s! [nfsd:N]` (synthetic values) and query p99 is 5 times higher for a "
        "minute each time",
        [
            _host(
                "db-1",
                kernel=[(t, _soft_lockup(2, 23, "nfsd", 1187 + n)) for n, t in enumerate(lockups)],
                query_latency=bumped(const(0.012), [(t - 25, t + 35, 0.06) for t in lockups]),
            )
        ],
        lockups[0] - 25,
        kind="soft lockup",
        duration=2.5 * HOUR,
    )
    lockups = _times("ksoftirqd", UP + 300, UP + 6600, 700.0, 1300.0)
    add(
        "fault-lockup-soft-softirq-then-tx-timeout",
        "soft-lockup",
        "web-1's upgrade brings a USB NIC driver that spins in softirq: from 5 minutes after it, "
        "every 12 to 22 minutes, `watchdog: BUG: soft lockup - CPU#0 stuck for 22s! "
        "[ksoftirqd/0:9]` (synthetic values) followed by `NETDEV WATCHDOG: eth1 (r8152): "
        "transmit queue 0 timed out` (quoted); checks take 5 s for 30 s each time",
        [
            Host(
                "web-1",
                kernel=[
                    x
                    for t in lockups
                    for x in (
                        (t, _soft_lockup(0, 22, "ksoftirqd/0", 9)),
                        *quoted_event(t + 3.0, "netdev-watchdog-r8152"),
                    )
                ],
                slow=[(t - 22 + 10 * k, 5.0) for t in lockups for k in range(3)],
            )
        ],
        lockups[0] - 22,
        kind="soft lockup",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("netdev-watchdog-r8152"),
    )
    # -- hung tasks: ZFS's sync thread on a database; PHP workers behind a stalled NFS server.
    add(
        "fault-hung-txg-sync-zfs-db",
        "hung-task",
        "db-1 keeps its tablespace on ZFS; its upgraded ZFS module stalls the pool's sync "
        "thread from 2 minutes after the upgrade: `INFO: task txg_sync:N blocked for more than "
        "120 seconds.` (quoted) 2 minutes later and every 2 minutes, 10 times; query p99 is 8 "
        "times higher meanwhile",
        [
            _host(
                "db-1",
                kernel=_repeated("hung-txg-sync-zfs", [UP + 240 + 120 * k for k in range(10)]),
                query_latency=bumped(const(0.012), [(UP + 120, UP + 1440, 0.096)]),
            )
        ],
        UP + 120,
        kind="hung task",
        origin="quoted",
        sources=cites("hung-txg-sync-zfs"),
    )
    stall = UP + 300
    add(
        "fault-hung-php-workers-behind-nfs",
        "hung-task",
        "web-1's upgrade moves user uploads to an NFS server that stops answering 5 minutes "
        "later (`nfs: server 100.73.159.36 not responding, still trying`, quoted) and does not "
        "come back: PHP workers block in D state (`INFO: task php-fpm:N blocked for more than "
        "120 seconds.`, synthetic values, every 2 minutes for 8 workers) and a third of the "
        "health checks answer 503",
        [
            Host(
                "web-1",
                kernel=[
                    *quoted_event(stall, "nfs-stall-ganesha"),
                    *[
                        (stall + 120 + 120 * k + 0.01 * i, line)
                        for k in range(8)
                        for i, line in enumerate(_hung("php-fpm", 4410 + 17 * k))
                    ],
                ],
                health_5xx=after(const(0.0), stall, const(0.33)),
            )
        ],
        stall,
        kind="hung task",
        origin="quoted",
        sources=cites("nfs-stall-ganesha"),
    )
    # -- data: a replica that stops applying; a timezone change in stored timestamps.
    add(
        "fault-data-replica-stops-applying",
        "data-mismatch",
        "db-1 is a streaming replica; its upgraded server cannot apply a WAL record written by "
        "the primary's older version: from 2 minutes after the upgrade replay stops (`FATAL:  "
        "could not receive data from WAL stream`, synthetic values, every 5 s as it retries) "
        "and the replica falls further behind; the data check differs from its next run on",
        [
            _host(
                "db-1",
                data_bad_from=UP + 120,
                syslog=[
                    (
                        t,
                        "postgres[2211]: FATAL:  could not receive data from WAL stream: ERROR:  "
                        "requested WAL segment 00000001000000A3000000F1 has already been removed",
                    )
                    for t in [UP + 120 + 5.0 * k for k in range(60)]
                ],
            )
        ],
        UP + 120,
        kind="data mismatch",
    )
    add(
        "fault-data-mismatch-timestamps-shifted",
        "data-mismatch",
        "db-1's upgrade changes the server's default timezone; from 10 minutes after it rows "
        "written through the new path carry times an hour off and the data check (yesterday's "
        "totals against the warehouse) differs from then on",
        [_host("db-1", data_bad_from=UP + 600)],
        UP + 600,
        kind="data mismatch",
    )
    return out


# --------------------------------------------------------------------------- healthy


def healthy() -> list[Scenario]:
    """Held-out-10 healthy upgrades, synthetic and quoted: the noise that fools naive rules."""
    out: list[Scenario] = []
    boot = UP - 140
    _add(
        out,
        "healthy-planned-reboot-kernel-run",
        "restart-blip",
        "web-1 gets a new kernel by `rollsafe upgrade` (upgrade_started 3 minutes before the "
        "mark): it reboots, refused for 110 s, and its first checks after boot are slow while "
        "caches fill (decaying over 2 minutes); the kernel logs its boot",
        [
            Host(
                "web-1",
                **rolled(UP - 180, UP),
                down=[(boot, boot + 110)],
                latency=decaying(boot + 110, 0.04, 0.3, 120.0),
                kernel=[
                    (
                        boot + 112,
                        "Linux version 6.8.0-49-generic (buildd@lcy02-amd64-103) "
                        "#49-Ubuntu SMP PREEMPT_DYNAMIC",
                    ),
                    (
                        boot + 112.5,
                        "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full "
                        "Duplex, Flow Control: Rx/Tx",
                    ),
                ],
            )
        ],
    )
    _add(
        out,
        "healthy-debug-logging-burst",
        "log-burst",
        "25 minutes after web-1's healthy upgrade an operator turns on debug logging for 10 "
        "minutes: 200 lines a minute, some of them naming errors (`DEBUG ... retry policy: "
        "error budget ok`, `error=none`); nothing else changes",
        [
            Host(
                "web-1",
                app_lines=[
                    (
                        t,
                        f"DEBUG [worker-{n % 4 + 1}] app.client: call done status=200 error=none "
                        f"retry_policy=error-budget-ok attempt={n % 3 + 1}",
                    )
                    for n, t in enumerate(_times("debug", UP + 1500, UP + 2100, 0.1, 0.5))
                ],
            )
        ],
    )
    _add(
        out,
        "healthy-blue-green-shift",
        "traffic-shift",
        "web-1 is the green side of a blue/green deploy: upgraded while idle (1 request/s, its "
        "error ratio noisy on so few requests), then the balancer shifts traffic to it in four "
        "steps over 20 minutes to 40 requests/s; CPU follows, errors stay at 0.3%",
        [
            Host(
                "web-1",
                traffic=lambda t: 1.0 + 39.0 * min(1.0, max(0.0, (t - UP - 600) // 300 + 1) / 4),
                cpu=lambda t: (
                    4.0 + 0.6 * (1.0 + 39.0 * min(1.0, max(0.0, (t - UP - 600) // 300 + 1) / 4))
                ),
            )
        ],
    )
    changed = UP + 1800
    _add(
        out,
        "healthy-dst-fall-back-local-logs",
        "clock-skew",
        "web-1 logs in local time with no zone; 30 minutes after its healthy upgrade daylight "
        "saving ends and the stamps go back an hour (UTC+2 to UTC+1: 01:43 is followed by "
        "00:43 and the hour repeats); the clock itself (UTC) never moves",
        [
            Host(
                "web-1",
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=[
                    _local(t, 2.0 if t < changed else 1.0, "INFO [main] app: served 41 requests")
                    for t in _times("dst", 0.0, 2 * HOUR, 20.0, 60.0)
                ],
            )
        ],
    )
    catch = (UP + 120, UP + 2700)
    _add(
        out,
        "healthy-batch-backlog-catch-up",
        "cron-cpu",
        "batch-1's queue was paused for its upgrade (`rollsafe upgrade`, 4 minutes); after it "
        "the runner works through the backlog: CPU 95% and memory 15 points higher for 43 "
        "minutes, then back to normal",
        [
            _host(
                "batch-1",
                **rolled(UP - 240, UP),
                cpu=bumped(const(22.0), [(*catch, 95.0)]),
                memory=bumped(const(45.0), [(*catch, 60.0)]),
            )
        ],
    )
    _add(
        out,
        "healthy-health-endpoint-redirected",
        "health-redirect",
        "web-1's new release serves its health check at /healthz and redirects the old path "
        "(301); the prober follows the redirect, so every check takes two round trips: 40 ms "
        "-> 85 ms from the upgrade; requests are served as before",
        [Host("web-1", latency=after(const(0.04), UP + 15, const(0.085)))],
    )
    _add(
        out,
        "healthy-perf-interrupt-throttled",
        "kernel-warning",
        "a profiler runs on batch-1 after its healthy upgrade; the kernel lowers perf's sample "
        "rate twice (`perf interrupt took too long ... lowering kernel.perf_event_max_sample_"
        "rate`, quoted, both wordings)",
        [
            _host(
                "batch-1",
                kernel=[
                    *quoted_event(UP + 900, "perf-interrupt-svxlink"),
                    *quoted_event(UP + 3300, "perf-interrupt-scoutfs"),
                ],
            )
        ],
        origin="quoted",
        sources=cites("perf-interrupt-svxlink", "perf-interrupt-scoutfs"),
    )
    syn = [UP + 1320 + 60 * k for k in range(5)]
    _add(
        out,
        "healthy-syn-flood-cookies",
        "syn-flood",
        "22 minutes after web-1's healthy upgrade a scanner floods port 443 for 5 minutes: the "
        "kernel falls back to SYN cookies (`Possible SYN flooding on port 443. Sending cookies. "
        " Check SNMP counters.`, once a minute) and p99 is 1.3 times higher meanwhile",
        [
            Host(
                "web-1",
                kernel=[
                    (
                        t,
                        "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending "
                        "cookies.  Check SNMP counters.",
                    )
                    for t in syn
                ],
                p99=bumped(const(0.22), [(syn[0], syn[-1] + 60, 0.29)]),
                cpu=bumped(const(25.0), [(syn[0], syn[-1] + 60, 40.0)]),
            )
        ],
    )
    steal = (UP + 900, UP + 2400)
    _add(
        out,
        "healthy-noisy-neighbour-steal",
        "noisy-neighbour",
        "15 minutes after web-1's healthy upgrade another tenant's VM on the same hypervisor "
        "runs a build for 25 minutes: CPU (steal included) 30% -> 70%, health checks 1.4 times "
        "slower, p99 1.5 times higher; then all is back",
        [
            Host(
                "web-1",
                cpu=bumped(const(30.0), [(*steal, 70.0)]),
                latency=bumped(const(0.04), [(*steal, 0.056)]),
                p99=bumped(const(0.22), [(*steal, 0.33)]),
            )
        ],
    )
    _add(
        out,
        "healthy-canary-drained-on-purpose",
        "canary-drain",
        "web-2 is the canary; upgraded, then drained on purpose 10 minutes later while the team "
        "checks a dashboard: its traffic falls to 0.2 requests/s (health checks still answer), "
        "its error ratio is noisy on so few requests; web-1, not upgraded, takes the traffic",
        [
            Host("web-2", traffic=lambda t: 0.2 if t >= UP + 600 else 40.0),
            Host(
                "web-1",
                upgrades=[],
                traffic=lambda t: 80.0 if t >= UP + 600 else 40.0,
                cpu=lambda t: 45.0 if t >= UP + 600 else 25.0,
            ),
        ],
    )
    blip = UP + 2000
    _add(
        out,
        "healthy-nfs-server-stalls-40s",
        "dependency-blip",
        "33 minutes after web-1's healthy upgrade its NFS server fails over: `nfs: server ... "
        "not responding, still trying`, 40 s later `nfs: server ... OK`, and a slow timer "
        "interrupt logged once (`hrtimer: interrupt took 5692433 ns`; all quoted); checks are "
        "slow while it lasts",
        [
            Host(
                "web-1",
                kernel=[
                    *quoted_event(blip, "nfs-stall-ganesha"),
                    *quoted_event(blip + 40, "nfs-ok-ganesha"),
                    *quoted_event(blip + 300, "hrtimer-interrupt-ganesha"),
                ],
                slow=[(blip + 10 * k, 2.5) for k in range(4)],
            )
        ],
        origin="quoted",
        sources=cites("nfs-stall-ganesha", "nfs-ok-ganesha", "hrtimer-interrupt-ganesha"),
    )
    stop = UP - 100
    _add(
        out,
        "healthy-daemon-segfaults-at-reboot",
        "single-segfault",
        "web-1 is upgraded by `rollsafe upgrade` with a reboot; as the reboot stops its services "
        "the entropy daemon segfaults once on its way out (`haveged[N]: segfault at ... error 4 "
        "in libc-2.30.so`, quoted); refused 80 s, then healthy",
        [
            Host(
                "web-1",
                **rolled(UP - 120, UP),
                kernel=quoted_event(stop, "segv-haveged-at-stop"),
                down=[(stop + 2, stop + 82)],
            )
        ],
        origin="quoted",
        sources=cites("segv-haveged-at-stop"),
    )
    dns = (UP + 1700, UP + 1820)
    _add(
        out,
        "healthy-fleet-wide-resolver-blip",
        "fleet-wide",
        "a fleet of three: web-1 is upgraded, web-2 and web-3 are not; 28 minutes later the "
        "site's resolvers restart and for 2 minutes every host fails 3% of its requests",
        [
            Host("web-1", error_ratio=bumped(const(0.003), [(*dns, 0.03)])),
            *[
                Host(f"web-{k}", upgrades=[], error_ratio=bumped(const(0.003), [(*dns, 0.03)]))
                for k in (2, 3)
            ],
        ],
    )
    _add(
        out,
        "healthy-jit-warmup-run",
        "warmup-restart",
        "web-1's JVM is upgraded by `rollsafe upgrade` (refused 25 s); until its JIT compiler "
        "has compiled the hot paths p99 is 3 times higher and health checks twice as slow, "
        "decaying over about 6 minutes",
        [
            Host(
                "web-1",
                **rolled(UP - 60, UP),
                down=[(UP - 45, UP - 20)],
                latency=decaying(UP - 20, 0.04, 0.08, 120.0),
                p99=decaying(UP - 20, 0.22, 0.66, 120.0),
            )
        ],
    )
    _add(
        out,
        "healthy-exporter-restarted-gap",
        "monitoring-gap",
        "web-1's node exporter is upgraded with it and takes 8 minutes to come back: no CPU "
        "or memory from the upgrade to 8 minutes after; the service is fine",
        [Host("web-1", gaps={"cpu": [(UP, UP + 480)], "memory": [(UP, UP + 480)]})],
    )
    _add(
        out,
        "healthy-flaky-partner-before-and-after",
        "preexisting-errors",
        "web-1 calls a flaky partner: 1.2% of requests fail and it logs about 3 errors a minute, "
        "before and after its healthy upgrade alike",
        [Host("web-1", error_ratio=const(0.012), errors_per_minute=const(3.0))],
    )
    outage = (UP + 2400, UP + 2580)
    _add(
        out,
        "healthy-payment-provider-3min",
        "dependency-blip",
        "40 minutes after web-1's healthy upgrade the payment provider is down for 3 minutes: "
        "6% of requests fail on web-1 and on web-2 (not upgraded) alike",
        [
            Host("web-1", error_ratio=bumped(const(0.003), [(*outage, 0.06)])),
            Host("web-2", upgrades=[], error_ratio=bumped(const(0.003), [(*outage, 0.06)])),
        ],
    )
    fulls = [UP - 1500, UP + 300, UP + 2100, UP + 3900]
    _add(
        out,
        "healthy-full-gc-every-30min",
        "gc-sawtooth",
        "web-1's JVM runs a full collection every 30 minutes (unified GC log lines): p99 is 2 s "
        "for 30 s each time and memory drops from 78% to 50%; before and after the upgrade alike",
        [
            Host(
                "web-1",
                p99=bumped(const(0.22), _windows(fulls, 30.0, 2.0)),
                memory=lambda t: 50.0 + 28.0 * (((t + 1500.0) % 1800.0) / 1800.0),
                app_lines=[_gc(t, 90 + n, 1980.0) for n, t in enumerate(fulls)],
            )
        ],
    )
    vacuum = (UP + 1200, UP + 3000)
    _add(
        out,
        "healthy-autovacuum-after-upgrade",
        "cron-cpu",
        "20 minutes after db-1's healthy upgrade autovacuum works through a large table for 30 "
        "minutes: CPU 55%, query p99 1.8 times higher, as it does every few days",
        [
            _host(
                "db-1",
                cpu=bumped(const(18.0), [(*vacuum, 55.0)]),
                query_latency=bumped(const(0.012), [(*vacuum, 0.022)]),
            )
        ],
    )
    _add(
        out,
        "healthy-1s-prober-jitter",
        "latency-noise",
        "web-1 is probed every second; its checks jitter (a slow one now and then) before and "
        "after a healthy upgrade alike",
        [Host("web-1", health_every=1.0)],
        duration=100 * MINUTE,
    )
    _add(
        out,
        "healthy-60s-prober-restart",
        "restart-blip",
        "web-1 is probed once a minute and upgraded by `rollsafe upgrade` (refused 40 s): one "
        "check is refused, then all is well",
        [Host("web-1", health_every=60.0, **rolled(UP - 70, UP), down=[(UP - 60, UP - 20)])],
    )
    _add(
        out,
        "healthy-24h-watch-daily-cycle",
        "daily-cycle",
        "web-1 is watched for 24 hours after a healthy upgrade (checks every 30 s): traffic, "
        "CPU, memory and p99 follow the day (traffic 15 to 65 requests/s)",
        [
            Host(
                "web-1",
                health_every=30.0,
                traffic=daily(40.0, 25.0),
                cpu=daily(30.0, 15.0),
                memory=daily(50.0, 5.0),
                p99=daily(0.25, 0.06),
            )
        ],
        duration=25 * HOUR,
    )
    reload = UP + 2000
    _add(
        out,
        "healthy-certificate-reload",
        "config-reload",
        "33 minutes after web-1's healthy upgrade a renewed TLS certificate is installed and "
        "the proxy reloaded (`Reloading`, `Reloaded`, usual systemd wording): 0.8% of requests "
        "fail for 30 s as keep-alive connections drop",
        [
            Host(
                "web-1",
                syslog=[
                    (reload, "systemd[1]: Reloading haproxy.service - HAProxy Load Balancer..."),
                    (reload + 0.4, "systemd[1]: Reloaded haproxy.service - HAProxy Load Balancer."),
                ],
                error_ratio=bumped(const(0.003), [(reload, reload + 30, 0.008)]),
            )
        ],
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
    """Held-out-10 recordings on the real metrics and logs of ``../shared/data``: NAB day 6 and
    day 9 of the ELB, days 6 and 12 of the request latency, day 8 of the disk writes, day 5
    and day 12 of RDS, day 6 of 53ea38, day 5 of 24ae8d, days 4 and 6 of 77c1ca, day 5 of
    5f5533, days 4 and 9 of the network; Loghub Linux lines 400-599 and 1,300-1,449, Apache
    0-149 and 750-999 and 1,900-1,999, Hadoop 100-299 and 1,200-1,399 and 1,400-1,599."""
    shared = _Shared(nab, linux, apache, hadoop, cite_nab, cite_log)
    return [*_real_faults(shared), *_real_healthy(shared)]


class _Shared(NamedTuple):
    """What ``real`` is given: the NAB series and the Loghub lines, and how to cite them."""

    nab: dict[str, Nab]
    linux: list[tuple[float, str]]
    apache: list[tuple[float, str]]
    hadoop: list[tuple[float, str]]
    cite_nab: Callable[[str], str]
    cite_log: Callable[[str], str]


ELB = "elb_request_count_8c0756"
LATENCY = "ec2_request_latency_system_failure"
DISK = "ec2_disk_write_bytes_1ef3de"
RDS = "rds_cpu_utilization_cc0c53"
NET = "ec2_network_in_257a54"


def _real_faults(shared: _Shared) -> list[Scenario]:
    """Held-out-10's faults on real data (see ``real``)."""
    out: list[Scenario] = []
    add = _HALF.real_adder(out)
    stretch, kernel_of = build.stretched, build.kernel_of
    nab, linux, apache, hadoop = shared.nab, shared.linux, shared.apache, shared.hadoop
    cite_nab, cite_log = shared.cite_nab, shared.cite_log

    # -- a runner that dies when its disk fills, over a real job log (Hadoop 1,200-1,399).
    jobs = stretch(hadoop, 1200, 200, 2 * HOUR)
    full = UP + 1500
    add(
        Scenario(
            "fault-crash-enospc-over-hadoop-1200-real",
            "crash",
            "batch-1's job log is Loghub's real Hadoop run (lines 1,200 to 1,399 stretched over "
            "2 hours); its upgrade keeps every spill file: the disk fills 25 minutes after it, "
            "the job fails with `No space left on device` and the runner exits for good",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=[
                        *[(t, x) for t, x in jobs if t < full],
                        (
                            full,
                            "ERROR [main] jobs.spill: java.io.IOException: No space left on device",
                        ),
                    ],
                    down=[(full + 2, 99 * HOUR)],
                )
            ],
            faults=[fault("batch-1", full, "crash")],
            sources=[cite_log("Hadoop_2k.log")],
        )
    )
    # -- a bimodal p99 over a real latency day (day 6).
    shape = nab[LATENCY].curve(6 * DAY, scale=1.0 / max(1e-9, nab[LATENCY].median()))
    up = 2 * HOUR
    add(
        Scenario(
            "fault-p99-bimodal-over-real-latency-day6",
            "metrics-latency-quantile",
            "web-1's p99 follows a real service's request latency (NAB ec2_request_latency_"
            "system_failure, day 6, median scaled to 0.25 s); 2 minutes after the upgrade at 2 "
            "hours half its minutes wait on a lock held by the other node: those minutes' p99 "
            "is 4 times the series'",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    p99=lambda t, up=up: (
                        0.25
                        * max(0.3, shape(t))
                        * (4.0 if t >= up + 120 and int((t - up) // 60) % 2 else 1.0)
                    ),
                )
            ],
            duration=4 * HOUR,
            faults=[fault("web-1", up + 120, "p99 latency")],
            sources=[cite_nab(LATENCY)],
        )
    )
    # -- e1000e unit hangs over real syslog (Linux 400-599).
    noise = stretch(linux, 400, 200, 2 * HOUR)
    hangs = [UP + 700, UP + 2900, UP + 5000]
    add(
        Scenario(
            "fault-outage-e1000e-hang-over-linux-400-real",
            "outage-near-down-for",
            "db-1's syslog and kern.log are real Linux syslog (Loghub, lines 400 to 599 "
            "stretched over 2 hours); its upgraded kernel's e1000e driver hangs under load "
            "(`Detected Hardware Unit Hang:`, quoted, every 2 s while it lasts) 12, 48 and 83 "
            "minutes after the upgrade: the database port refuses for 30 s each time",
            [
                _host(
                    "db-1",
                    syslog=noise,
                    kernel=[
                        *kernel_of(noise),
                        *[
                            x
                            for t in hangs
                            for k in range(15)
                            for x in quoted_event(t + 2.0 * k, "e1000e-unit-hang-omr")
                        ],
                    ],
                    down=_down(hangs, 30.0),
                )
            ],
            duration=2.5 * HOUR,
            faults=[fault("db-1", UP + 700, "outage")],
            sources=[cite_log("Linux_2k.log"), *cites("e1000e-unit-hang-omr")],
        )
    )
    # -- a leak over real memory wander (53ea38, day 6).
    wander = nab["ec2_cpu_utilization_53ea38"].wander(6 * DAY, amplitude=3.0)
    up = 90 * MINUTE
    add(
        Scenario(
            "fault-leak-over-real-cpu-53ea38-day6",
            "memory-leak",
            "web-1's memory wanders about 3 points with a real instance's load (NAB ec2_cpu_"
            "utilization_53ea38, day 6, smoothed over an hour) around 48%; the upgrade at 90 "
            "minutes leaks 5 points an hour",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    memory=lambda t, up=up: 48.0 + wander(t) + 5.0 * max(0.0, t - up) / HOUR,
                )
            ],
            duration=6 * HOUR,
            faults=[fault("web-1", up, "memory leak")],
            sources=[cite_nab("ec2_cpu_utilization_53ea38")],
        )
    )
    # -- a read-only remount over a real error log (Apache 750-999).
    errors = stretch(apache, 750, 250, 2 * HOUR)
    ro = UP + 1100
    add(
        Scenario(
            "fault-errors-read-only-over-apache-750-real",
            "metrics-error-ratio",
            "web-1's error log is Loghub's real Apache error log (lines 750 to 999 stretched "
            "over 2 hours); 18 minutes after the upgrade ext4 remounts the document volume "
            "read-only (quoted) and 25% of requests (uploads, sessions) fail from then on",
            [
                Host(
                    "web-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                    kernel=quoted_event(ro, "ext4-buddy-remount-ro-coreos"),
                    error_ratio=after(const(0.003), ro, const(0.25)),
                )
            ],
            faults=[fault("web-1", ro, "request errors")],
            sources=[cite_log("Apache_2k.log"), *cites("ext4-buddy-remount-ro-coreos")],
        )
    )
    return [*out, *_real_faults_more(shared)]


def _real_faults_more(shared: _Shared) -> list[Scenario]:
    """The rest of held-out-10's faults on real data (see ``real``)."""
    out: list[Scenario] = []
    add = _HALF.real_adder(out)
    stretch, kernel_of = build.stretched, build.kernel_of
    nab, linux, apache, hadoop = shared.nab, shared.linux, shared.apache, shared.hadoop
    cite_nab, cite_log = shared.cite_nab, shared.cite_log

    # -- OOM kills at a real day's peak (ELB day 6).
    elb = nab[ELB]
    scale = 30.0 / max(1.0, elb.median())
    day6 = elb.curve(6 * DAY, scale=scale)
    busy = elb.quantile(0.85) * scale
    up = HOUR
    peak: list[float] = []
    t = up + 600.0
    while t < 20 * HOUR:  # a kill every 6 minutes while traffic is above the series' 85th pct
        if day6(t) > busy:
            peak.append(t)
            t += 360.0
        else:
            t += 60.0
    add(
        Scenario(
            "fault-oom-at-real-elb-peak-day6",
            "oom-repeated",
            "web-1's traffic is a real ELB's day (NAB elb_request_count_8c0756, day 6 from "
            "00:00, scaled to a median of 30 requests/s), upgraded at 01:00; its new release "
            "buffers whole responses, and whenever traffic is above the series' 85th percentile "
            "the OOM killer kills its worker every 6 minutes (`invoked oom-killer`, `Out of "
            "memory: Killed process N`): refused 15 s each time",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    traffic=lambda t: max(0.5, day6(t)),
                    kernel=[
                        x
                        for n, k in enumerate(peak)
                        for x in oom_synthetic(
                            k, process="app-worker", pid=9100 + n, style="default"
                        )
                    ],
                    down=_down(peak, 15.0),
                )
            ],
            duration=20 * HOUR,
            faults=[fault("web-1", peak[0], "oom kills")],
            sources=[cite_nab(ELB)],
        )
    )
    # -- hung tasks over real syslog (Linux 1,300-1,449).
    noise = stretch(linux, 1300, 150, 2 * HOUR)
    add(
        Scenario(
            "fault-hung-txg-sync-over-linux-1300-real",
            "hung-task",
            "db-1's syslog and kern.log are real Linux syslog (Loghub, lines 1,300 to 1,449 "
            "stretched over 2 hours); its upgraded ZFS module stalls the pool's sync thread 6 "
            "minutes after the upgrade: `INFO: task txg_sync:N blocked for more than 120 "
            "seconds.` (quoted) 2 minutes later and every 2 minutes, 6 times; query p99 is 6 "
            "times higher meanwhile",
            [
                _host(
                    "db-1",
                    syslog=noise,
                    kernel=[
                        *kernel_of(noise),
                        *_repeated("hung-txg-sync-zfs", [UP + 480 + 120 * k for k in range(6)]),
                    ],
                    query_latency=bumped(const(0.012), [(UP + 360, UP + 1200, 0.072)]),
                )
            ],
            faults=[fault("db-1", UP + 360, "hung task")],
            sources=[cite_log("Linux_2k.log"), *cites("hung-txg-sync-zfs")],
        )
    )
    # -- a replica falling behind over a real database day (RDS day 5).
    load = nab[RDS].level(5 * DAY, smooth=20 * MINUTE)
    add(
        Scenario(
            "fault-data-replica-lag-over-real-rds-day5",
            "data-mismatch",
            "db-1's query p99 and CPU follow a real RDS instance's load (NAB rds_cpu_"
            "utilization_cc0c53, day 5, smoothed over 20 minutes); 8 minutes after its upgrade "
            "the replica's apply process stops keeping up and it falls further and further "
            "behind: the data check differs from then on",
            [
                _host(
                    "db-1",
                    query_latency=lambda t: 0.01 * (1.0 + 0.8 * max(0.0, load(t))),
                    cpu=lambda t: 15.0 + 40.0 * max(0.0, min(1.5, load(t))),
                    data_bad_from=UP + 480,
                )
            ],
            faults=[fault("db-1", UP + 480, "data mismatch")],
            sources=[cite_nab(RDS)],
        )
    )
    # -- watchdog kills over a real job log (Hadoop 100-299).
    jobs = stretch(hadoop, 100, 200, 150 * MINUTE)
    kills = _times("wd-hadoop", UP + 400, UP + 7800, 300.0, 600.0)
    add(
        Scenario(
            "fault-unit-watchdog-over-hadoop-100-real",
            "systemd-unit-failure",
            "batch-1's job log is Loghub's real Hadoop run (lines 100 to 299 stretched over 2.5 "
            "hours); its upgraded shuffle daemon misses its systemd watchdog every 5 to 10 "
            "minutes from 7 minutes after the upgrade (`Failed with result 'watchdog'.`, "
            "quoted) and is restarted; a quarter of the runner's checks answer 503 from then on",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=jobs,
                    syslog=quoted_units("systemd-watchdog-conntrackd", kills),
                    health_5xx=after(const(0.0), kills[0], const(0.25)),
                )
            ],
            duration=150 * MINUTE,
            faults=[fault("batch-1", kills[0], "unit failed")],
            sources=[cite_log("Hadoop_2k.log"), *cites("systemd-watchdog-conntrackd")],
        )
    )
    # -- a segfault loop over a real error log (Apache 1,900-1,999).
    errors = stretch(apache, 1900, 100, 2 * HOUR)
    crashes = _times("smtpd-real", UP + 200, UP + 6600, 30.0, 120.0)
    add(
        Scenario(
            "fault-segv-over-apache-1900-real",
            "segfault-loop",
            "web-1's error log is Loghub's real Apache error log (lines 1,900 to 1,999 stretched "
            "over 2 hours); from 200 s after the upgrade its local mail relay's lookup process "
            "crashes every 30 s to 2 minutes (`segfault at 0 ... in libc-2.17.so`, quoted); 3% "
            "of requests fail",
            [
                Host(
                    "web-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                    kernel=_repeated("segv-smtpd-libc217", crashes),
                    error_ratio=after(const(0.003), crashes[0], const(0.03)),
                )
            ],
            faults=[fault("web-1", crashes[0], "segfault loop")],
            sources=[cite_log("Apache_2k.log"), *cites("segv-smtpd-libc217")],
        )
    )
    # -- CPU saturation over a real CPU day (24ae8d, day 5).
    c24 = nab["ec2_cpu_utilization_24ae8d"]
    cpu = c24.curve(5 * DAY, scale=50.0 / max(1.0, c24.quantile(0.99)))
    up = 2 * HOUR
    add(
        Scenario(
            "fault-latency-saturation-over-real-cpu-day5",
            "latency-regression",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_24ae8d, day 5, "
            "scaled so that its 99th percentile is 50%); its upgrade at 2 hours doubles the CPU "
            "each request costs: CPU twice the series' from then on, and health checks 3 times "
            "slower",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    cpu=lambda t, up=up: cpu(t) * (2.0 if t >= up + 30 else 1.0),
                    latency=lambda t, up=up: 0.12 if t >= up + 30 else 0.04,
                )
            ],
            duration=4 * HOUR,
            faults=[fault("web-1", up + 30, "latency")],
            sources=[cite_nab("ec2_cpu_utilization_24ae8d")],
        )
    )
    # -- a panic over real network traffic (day 4).
    net = nab[NET]
    traffic = net.curve(4 * DAY, scale=35.0 / max(1.0, net.median()))
    add(
        Scenario(
            "fault-panic-over-real-network-day4",
            "kernel-panic",
            "web-1's traffic follows a real instance's network input (NAB ec2_network_in_"
            "257a54, day 4, scaled to a median of 35 requests/s); 22 minutes after its upgrade "
            "an ext4 error forces a panic (quoted) and the host stays down",
            [
                Host(
                    "web-1",
                    traffic=lambda t: max(0.5, traffic(t)),
                    kernel=quoted_event(UP + 1320, "panic-ext4-forced-mmcblk"),
                    down=[(UP + 1321, 99 * HOUR)],
                )
            ],
            faults=[fault("web-1", UP + 1320, "kernel panic")],
            sources=[cite_nab(NET), *cites("panic-ext4-forced-mmcblk")],
        )
    )
    # -- soft lockups over real CPU (77c1ca, day 4).
    c77 = nab["ec2_cpu_utilization_77c1ca"]
    cpu4 = c77.curve(4 * DAY, scale=70.0 / max(1.0, c77.quantile(0.99)))
    lockups = _times("lockup-real", UP + 500, UP + 7000, 800.0, 1500.0)
    add(
        Scenario(
            "fault-lockup-soft-over-real-cpu-day4",
            "soft-lockup",
            "batch-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_77c1ca, day 4, "
            "scaled); its upgraded kernel spins in a new compression path: from 8 minutes after "
            "the upgrade, every 13 to 25 minutes, `watchdog: BUG: soft lockup - CPU#5 stuck for "
            "26s! [kcompactd0:N]` (synthetic values) and the runner's checks take 6 s for 30 s",
            [
                _host(
                    "batch-1",
                    cpu=cpu4,
                    kernel=[(t, _soft_lockup(5, 26, "kcompactd0", 61)) for t in lockups],
                    slow=[(t - 26 + 10 * k, 6.0) for t in lockups for k in range(3)],
                )
            ],
            duration=150 * MINUTE,
            faults=[fault("batch-1", lockups[0] - 26, "soft lockup")],
            sources=[cite_nab("ec2_cpu_utilization_77c1ca")],
        )
    )
    return out


def _real_healthy(shared: _Shared) -> list[Scenario]:
    """Held-out-10's healthy recordings on real data (see ``real``)."""
    out: list[Scenario] = []
    add = _HALF.real_adder(out)
    stretch, kernel_of = build.stretched, build.kernel_of
    nab, linux, apache, hadoop = shared.nab, shared.linux, shared.apache, shared.hadoop
    cite_nab, cite_log = shared.cite_nab, shared.cite_log
    elb = nab[ELB]
    day9 = elb.curve(9 * DAY, scale=30.0 / max(1.0, elb.median()))
    add(
        Scenario(
            "healthy-real-elb-day9-night-upgrade",
            "daily-cycle",
            "web-1's traffic is a real ELB's day (NAB elb_request_count_8c0756, day 9 from "
            "00:00, scaled to a median of 30 requests/s); healthy upgrade at 02:00; p99 and CPU "
            "follow the traffic through the day",
            [
                Host(
                    "web-1",
                    upgrades=[2 * HOUR],
                    traffic=lambda t: max(0.5, day9(t)),
                    p99=lambda t: 0.18 + 0.002 * max(0.0, day9(t)),
                    cpu=lambda t: 6.0 + 0.7 * max(0.0, day9(t)),
                )
            ],
            duration=20 * HOUR,
            sources=[cite_nab(ELB)],
        )
    )
    shape12 = nab[LATENCY].curve(12 * DAY, scale=1.0 / max(1e-9, nab[LATENCY].median()))
    add(
        Scenario(
            "healthy-real-latency-day12",
            "latency-noise",
            "web-1's p99 follows a real service's request latency (NAB ec2_request_latency_"
            "system_failure, day 12, median 0.25 s, its own spikes included); healthy upgrade "
            "at 3 hours",
            [Host("web-1", upgrades=[3 * HOUR], p99=lambda t: 0.25 * max(0.3, shape12(t)))],
            duration=6 * HOUR,
            sources=[cite_nab(LATENCY)],
        )
    )
    noise = stretch(linux, 400, 200, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-linux-400-perf-throttle",
            "noisy-syslog",
            "batch-1's syslog and kern.log are real Linux syslog (Loghub, lines 400 to 599 "
            "stretched over 3 hours); a healthy upgrade at 80 minutes, then perf lowers its "
            "sample rate once (quoted)",
            [
                _host(
                    "batch-1",
                    upgrades=[80 * MINUTE],
                    syslog=noise,
                    kernel=[
                        *kernel_of(noise),
                        *quoted_event(80 * MINUTE + 2000, "perf-interrupt-scoutfs"),
                    ],
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Linux_2k.log"), *cites("perf-interrupt-scoutfs")],
        )
    )
    errors = stretch(apache, 0, 150, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-apache-0-errors-run",
            "preexisting-errors",
            "web-1's error log is Loghub's real Apache error log (lines 0 to 149 stretched over "
            "3 hours, its `[error]` lines included); a healthy upgrade by `rollsafe upgrade` at "
            "75 minutes (refused 10 s)",
            [
                Host(
                    "web-1",
                    **rolled(75 * MINUTE - 25, 75 * MINUTE),
                    down=[(75 * MINUTE - 18, 75 * MINUTE - 8)],
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
    jobs = stretch(hadoop, 1400, 200, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-hadoop-1400-backlog",
            "cron-cpu",
            "batch-1's job log is Loghub's real Hadoop run (lines 1,400 to 1,599 stretched over "
            "3 hours) and its CPU a real EC2 instance's (NAB ec2_cpu_utilization_77c1ca, day 6, "
            "scaled so that its 99th percentile is 90%); a healthy upgrade by `rollsafe "
            "upgrade` at 100 minutes",
            [
                _host(
                    "batch-1",
                    **rolled(100 * MINUTE - 60, 100 * MINUTE),
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=jobs,
                    cpu=c77.curve(6 * DAY, scale=90.0 / max(1.0, c77.quantile(0.99))),
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Hadoop_2k.log"), cite_nab("ec2_cpu_utilization_77c1ca")],
        )
    )
    level12 = nab[RDS].level(12 * DAY, smooth=30 * MINUTE)
    add(
        Scenario(
            "healthy-real-rds-day12",
            "daily-cycle",
            "db-1's query p99 and CPU follow a real RDS instance's load (NAB rds_cpu_"
            "utilization_cc0c53, day 12, smoothed over 30 minutes); healthy upgrade at 3 hours",
            [
                _host(
                    "db-1",
                    upgrades=[3 * HOUR],
                    query_latency=lambda t: 0.011 * (1.0 + 0.9 * max(0.0, level12(t))),
                    cpu=lambda t: 12.0 + 45.0 * max(0.0, level12(t)),
                )
            ],
            duration=7 * HOUR,
            sources=[cite_nab(RDS)],
        )
    )
    net = nab[NET]
    shift = net.curve(9 * DAY, scale=40.0 / max(1.0, net.median()))
    up = 2 * HOUR
    add(
        Scenario(
            "healthy-real-network-day9-blue-green",
            "traffic-shift",
            "web-1 is the green side of a blue/green deploy; its share of a real instance's "
            "network traffic (NAB ec2_network_in_257a54, day 9, scaled to a median of 40 "
            "requests/s) goes from 5% to 100% over 30 minutes after its healthy upgrade at 2 "
            "hours; CPU follows",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    traffic=lambda t, up=up: (
                        max(0.5, shift(t))
                        * (0.05 + 0.95 * min(1.0, max(0.0, (t - up - 300) / 1800.0)))
                    ),
                    cpu=lambda t, up=up: (
                        5.0
                        + 0.5
                        * max(0.0, shift(t))
                        * (0.05 + 0.95 * min(1.0, max(0.0, (t - up - 300) / 1800.0)))
                    ),
                )
            ],
            duration=5 * HOUR,
            sources=[cite_nab(NET)],
        )
    )
    writes = nab[DISK].level(8 * DAY, smooth=10 * MINUTE)
    add(
        Scenario(
            "healthy-real-disk-writes-day8",
            "backup-io",
            "db-1's query p99 and CPU follow a real instance's disk writes (NAB ec2_disk_write_"
            "bytes_1ef3de, day 8, smoothed over 10 minutes: its write bursts); healthy upgrade "
            "at 2 hours",
            [
                _host(
                    "db-1",
                    upgrades=[2 * HOUR],
                    query_latency=lambda t: 0.01 * (1.0 + 1.5 * max(0.0, writes(t))),
                    cpu=lambda t: 15.0 + 35.0 * max(0.0, min(1.5, writes(t))),
                )
            ],
            duration=6 * HOUR,
            sources=[cite_nab(DISK)],
        )
    )
    c5f = nab["ec2_cpu_utilization_5f5533"]
    steal = c5f.curve(5 * DAY, scale=80.0 / max(1.0, c5f.quantile(0.99)))
    add(
        Scenario(
            "healthy-real-cpu-5f5533-day5-neighbour",
            "noisy-neighbour",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_5f5533, day 5, "
            "scaled so that its 99th percentile is 80%), its neighbours' bursts included; "
            "health latency rises with it (a shared host); healthy upgrade at 2 hours",
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
    noise = stretch(linux, 1300, 150, 2 * HOUR)
    add(
        Scenario(
            "healthy-real-linux-1300-reboot-run",
            "restart-blip",
            "web-1's syslog and kern.log are real Linux syslog (Loghub, lines 1,300 to 1,449 "
            "stretched over 2 hours); a planned reboot by `rollsafe upgrade` (refused 100 s)",
            [
                Host(
                    "web-1",
                    **rolled(UP - 150, UP),
                    down=[(UP - 130, UP - 30)],
                    syslog=noise,
                    kernel=kernel_of(noise),
                )
            ],
            sources=[cite_log("Linux_2k.log")],
        )
    )
    return out
