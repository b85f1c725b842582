"""Held-out-6 of rollsafe's judgment corpus: upgrades nobody tuned on (issue #15, round 7).

Every earlier half (design, held-out, held-out-2 to held-out-5) has been looked at by people
changing rules, so none of them says any more how the shipped presets judge data nobody has
seen. This half does: written in round 7 by a helper that changed no rule, preset or judge
code, while others were changing rules without seeing it, from what a fleet meets (not from
what the rules catch or miss), and replayed once with the presets as they were. No preset may
be tuned on it (``--half held-out-6``).

``corpus/build.py`` renders these scenarios like every other (the same ``Host`` and
``Scenario`` model, the same probes); this module only describes them. Its irregular times
come from generators of their own (``held-out-6/<seed>``), and every recording is rendered
from a generator seeded by its own name, so adding this half moves no byte of the others.
Real data: kernel, systemd and PostgreSQL messages quoted from public reports no other half
cites (``corpus/quoted.py``, held-out-6 section), and NAB metrics and Loghub logs of
``../shared/data`` on days and line ranges no other half uses, read at build time (``real``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import build
from build import (
    DAY,
    HOUR,
    MINUTE,
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
    quoted_event,
    quoted_unit,
    restart_at,
    rolled,
)

HELD_OUT_6 = "held-out-6"  # written in round 7 by a helper that changed no rule; never tuned on


_HALF = build.Half(HELD_OUT_6)
_times = _HALF.times  # irregular times of this half's own (``held-out-6/<seed>``)
_add = _HALF.add
_fault_adder = _HALF.fault_adder
_host = build._host
_repeated = build.repeated
_rng = _HALF.rng


# The crash times of the sniproxy report (dlundquist/sniproxy#86, its kernel timestamps
# 1423254.75 ... 1424225.99): gaps of 27, 54, 8, 30, 30, 30, 766 and 26 s between crashes.
_SNIPROXY_GAPS = (26.6, 54.1, 7.9, 30.3, 30.1, 29.7, 766.3, 26.3)


# --------------------------------------------------------------------------- faults


def faults() -> list[Scenario]:
    """Held-out-6 faults, synthetic and quoted: every family issue #15 names."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- request errors: a canary at 2.5% inside a run, peer untouched; intermittent bursts.
    add(
        "fault-errors-canary-run-2pct",
        "metrics-error-ratio",
        "canary upgrade of web-1 by `rollsafe upgrade` (upgrade_started 75 s before the upgrade "
        "mark, restart refused 10 s between them); 90 s after the mark its request error ratio "
        "goes from 0.05% to 2.5% (a serializer rejects one client's payloads) and stays; "
        "health answers 200; web-2, not upgraded, stays at 0.05%",
        [
            Host(
                "web-1",
                **rolled(UP - 75, UP),
                down=[(UP - 40, UP - 30)],
                traffic=const(60.0),
                error_ratio=after(const(0.0005), UP + 90, const(0.025)),
            ),
            Host("web-2", upgrades=[], traffic=const(60.0), error_ratio=const(0.0005)),
        ],
        UP + 90,
        kind="request errors",
    )
    bursts = _times("error-bursts", UP + 240, UP + 7000, 240.0, 420.0)
    add(
        "fault-errors-pool-bursts",
        "metrics-error-ratio",
        "the new release on web-1 sizes its database connection pool too small: from 4 "
        "minutes after the upgrade, every 4 to 7 minutes, a 60-second burst fails 8% of "
        "requests (pool exhausted) and logs 20 errors a minute; between bursts 0.2% as before",
        [
            Host(
                "web-1",
                error_ratio=bumped(const(0.002), [(t, t + 60, 0.08) for t in bursts]),
                errors_per_minute=bumped(const(0.1), [(t, t + 60, 20.0) for t in bursts]),
            )
        ],
        bursts[0],
        kind="request errors",
        duration=2.5 * HOUR,
    )
    # -- p99: a database's query p99 steps up inside a run.
    add(
        "fault-query-p99-step-run-db",
        "metrics-latency-quantile",
        "upgrade of db-1 by `rollsafe upgrade` (upgrade_started 2 minutes before the upgrade "
        "mark, the port refused 25 s while PostgreSQL restarts); from the restart its query "
        "p99 is 45 ms instead of 12 ms (the new planner picks a nested loop); port and data "
        "checks stay good",
        [
            _host(
                "db-1",
                **rolled(UP - 120, UP),
                down=[(UP - 50, UP - 25)],
                query_latency=after(const(0.012), UP - 25, const(0.045)),
            )
        ],
        UP - 25,
        kind="query p99",
    )
    # -- health latency: 5x at once; 2.2x late (45 minutes after the upgrade).
    add(
        "fault-latency-5x-at-once",
        "latency-regression",
        "web-1's new release logs every request synchronously to a slow disk: from the "
        "upgrade its health checks take 150 ms instead of 30 ms and its p99 is 1.1 s instead "
        "of 0.22 s; no errors",
        [
            Host(
                "web-1",
                latency=after(const(0.03), UP, const(0.15)),
                p99=after(const(0.22), UP, const(1.1)),
            )
        ],
        UP,
        kind="latency",
    )
    add(
        "fault-latency-late-cache-expiry",
        "latency-regression",
        "web-1's new release stores its rendered pages under a new key that expires after 45 "
        "minutes and is never refilled: from 45 minutes after the upgrade its health checks "
        "take 2.2 times as long (88 ms instead of 40 ms) and p99 is 1.8 times higher, for good",
        [
            Host(
                "web-1",
                latency=after(const(0.04), UP + 2700, const(0.088)),
                p99=after(const(0.22), UP + 2700, const(0.396)),
            )
        ],
        UP + 2700,
        kind="latency",
        duration=3 * HOUR,
    )
    # -- OOM kills: storms of "Killed process N (name), UID U" lines; a single 6.x kill line
    #    every 12-20 minutes; a database whose backends are killed (kernel and postmaster).
    storms = _times("node-storm", UP + 320, UP + 6000, 240.0, 540.0)
    draw = _rng("node-storm-size")
    kills = [
        t + offset for t in storms for offset in (0.0, 0.6, 1.3, 2.2, 3.1)[: draw.randint(2, 5)]
    ]
    add(
        "fault-oom-node-storms",
        "oom-repeated",
        "web-1's new release spawns one node worker per request under load; from 5 minutes "
        "after the upgrade, every 4 to 9 minutes, the kernel kills 2 to 5 of them within 3 "
        "seconds (`Killed process N (node), UID 1000, ...` lines alone, quoted from a report "
        "with eight kills in six seconds); memory sits at 93%; each storm fails 2% of requests "
        "for a minute",
        [
            Host(
                "web-1",
                kernel=_repeated("oom-killed-uid-node", kills),
                memory=after(const(61.0), storms[0] - 60, const(93.0)),
                error_ratio=bumped(const(0.002), [(t, t + 60, 0.02) for t in storms]),
            )
        ],
        storms[0] - 60,  # memory pins a minute before the first storm
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oom-killed-uid-node"),
    )
    kills = _times("uwsgi-sparse", UP + 1200, UP + 9500, 720.0, 1200.0)
    add(
        "fault-oom-uwsgi-sparse-6x",
        "oom-repeated",
        "web-1 runs a 6.x kernel; its new release's uwsgi worker grows until the global OOM "
        "killer takes it, every 12 to 20 minutes from 20 minutes after the upgrade (one `Out of "
        "memory: Killed process` line each, quoted); uwsgi respawns the worker, health stays "
        "200; memory swings between 70% and 95%",
        [
            Host(
                "web-1",
                kernel=_repeated("oom-6x-uwsgi-single", kills),
                memory=lambda t, first=kills[0]: (
                    70.0
                    if t < first - 600
                    else 70.0 + 25.0 * min(1.0, ((t - first + 600) % 900.0) / 600.0)
                ),
            )
        ],
        kills[0],
        kind="oom kills",
        duration=3 * HOUR,
        origin="quoted",
        sources=cites("oom-6x-uwsgi-single"),
    )
    kills = _times("pg-backends", UP + 600, UP + 6500, 300.0, 480.0)
    add(
        "fault-oom-postgres-backends-db",
        "oom-repeated",
        "db-1's upgrade raises work_mem tenfold; from 10 minutes after it, every 5 to 8 "
        "minutes, a sort asks for more memory than there is: the kernel's OOM report starts "
        "(`postgres invoked oom-killer`, quoted from a 6.16 report) and the postmaster logs "
        "the backend killed by signal 9 and resets every connection (quoted); query p99 "
        "triples for a minute after each",
        [
            _host(
                "db-1",
                kernel=_repeated("oom-invoked-postgres-6x", kills),
                syslog=[
                    x
                    for n, t in enumerate(kills)
                    for x in build.quoted_postgres(t + 0.4, "pg-backend-killed-9", n, pid=18282)
                ],
                query_latency=bumped(const(0.012), [(t, t + 60, 0.036) for t in kills]),
                memory=after(const(68.0), kills[0] - 30, const(97.0)),
            )
        ],
        kills[0] - 30,
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oom-invoked-postgres-6x", "pg-backend-killed-9"),
    )
    # -- leaks: a fast one on a web host; one in steps on a batch host, sampled every 5 min.
    add(
        "fault-memory-leak-10ph-web",
        "memory-leak",
        "web-1's new release keeps every websocket session object: memory grows 10 points an "
        "hour from 48% from the upgrade on (it would run out in about 5 hours); nothing else "
        "shows",
        [Host("web-1", memory=lambda t: 48.0 + max(0.0, t - UP) / HOUR * 10.0)],
        UP,
        kind="memory leak",
        duration=4 * HOUR,
    )
    jobs = _times("leak-jobs", UP + 600, UP + 6 * HOUR, 1500.0, 2400.0)
    add(
        "fault-memory-leak-jobs-5min-samples",
        "memory-leak",
        "batch-1's CPU and memory are exported every 5 minutes (a CloudWatch-style basic "
        "monitoring interval); after the upgrade each job (every 25 to 40 minutes) leaves 3 "
        "points of memory behind, from 40%",
        [
            _host(
                "batch-1",
                metrics_every=300.0,
                memory=lambda t: 40.0 + 3.0 * sum(1 for j in jobs if j <= t),
                cpu=bumped(const(20.0), [(j, j + 600, 75.0) for j in jobs]),
            )
        ],
        jobs[0],
        kind="memory leak",
        duration=7 * HOUR,
    )
    # -- outages: twice 45 s on a web host; 90 s on a batch runner probed every 15 s.
    add(
        "fault-outage-45s-twice",
        "outage-near-down-for",
        "web-1's new release deadlocks under a rare request: 4 minutes after the upgrade its "
        "health check is refused for 45 s while the watchdog restarts it, and again 27 "
        "minutes later",
        [Host("web-1", down=[(UP + 240, UP + 285), (UP + 1860, UP + 1905)])],
        UP + 240,
        kind="outage",
    )
    add(
        "fault-outage-batch-90s-15s-probe",
        "outage-near-down-for",
        "batch-1's runner is probed every 15 s (not 10 s); 10 minutes after a `rollsafe "
        "upgrade` run (upgrade_started 40 s before the upgrade mark) the new runner crashes "
        "on a queue message and is refused for 90 s until systemd restarts it",
        [
            _host(
                "batch-1",
                **rolled(UP - 40, UP),
                health_every=15.0,
                down=[(UP + 600, UP + 690)],
            )
        ],
        UP + 600,
        kind="outage",
    )
    # -- crashes: a web release that flaps then stays down; a database that never starts.
    add(
        "fault-crash-flaps-then-down",
        "crash",
        "web-1's new release crashes a few seconds after each start: from 2 minutes after the "
        "upgrade it answers for 20 to 30 s, is refused 10 to 15 s, five times, then stays "
        "refused (the supervisor gives up); 30 error lines a minute while it flaps",
        [
            Host(
                "web-1",
                down=[
                    (UP + 120, UP + 132),
                    (UP + 157, UP + 170),
                    (UP + 196, UP + 211),
                    (UP + 235, UP + 245),
                    (UP + 272, UP + 286),
                    (UP + 312, 99 * HOUR),
                ],
                errors_per_minute=bumped(const(0.05), [(UP + 120, UP + 312, 30.0)]),
            )
        ],
        UP + 120,
        kind="crash",
    )
    add(
        "fault-crash-db-never-starts-run",
        "crash",
        "upgrade of db-1 by `rollsafe upgrade` (upgrade_started 90 s before the upgrade mark); "
        "PostgreSQL stops for the upgrade 60 s before the mark and the new version refuses "
        "the old data directory: the port is refused from then on",
        [_host("db-1", **rolled(UP - 90, UP), down=[(UP - 60, 99 * HOUR)])],
        UP - 60,
        kind="crash",
    )
    # -- panics: an ARM board's interrupt panic (reboots); a batch host whose init dies.
    add(
        "fault-panic-fatal-irq-reboots",
        "kernel-panic",
        "14 minutes after web-1's upgrade (a new network driver) its 4.14 kernel oopses in "
        "an interrupt and panics (`Kernel panic - not syncing: Fatal exception in interrupt`, "
        "quoted); the watchdog reboots it: refused 150 s, then the release runs again",
        [
            Host(
                "web-1",
                kernel=quoted_event(UP + 840, "panic-fatal-irq-rpi"),
                down=[(UP + 841, UP + 991)],
            )
        ],
        UP + 840,
        kind="kernel panic",
        origin="quoted",
        sources=cites("panic-fatal-irq-rpi"),
    )
    add(
        "fault-panic-init-segv-batch",
        "kernel-panic",
        "batch-1's upgrade replaces its init; 50 s after the upgrade mark init dies of a "
        "segmentation fault and the kernel panics (`Attempted to kill init! "
        "exitcode=0x0000000b`, quoted); without a watchdog it stays down",
        [
            _host(
                "batch-1",
                kernel=quoted_event(UP + 50, "panic-kill-init-segv"),
                down=[(UP + 51, 99 * HOUR)],
            )
        ],
        UP + 50,
        kind="kernel panic",
        origin="quoted",
        sources=cites("panic-kill-init-segv"),
    )
    # -- oopses: a 6.1 read NULL dereference on a database; a 5.15 write one on a web host,
    #    twice, 45 minutes apart.
    add(
        "fault-oops-6x-read-db",
        "kernel-oops",
        "3 minutes after db-1's upgrade (a new storage driver) its 6.1 kernel oopses (`BUG: "
        "kernel NULL pointer dereference, address:`, `#PF:` lines, `Oops: 0000 [#1] PREEMPT SMP "
        "NOPTI`, quoted); the process that hit it dies, the port keeps answering, query p99 "
        "doubles from then on",
        [
            _host(
                "db-1",
                kernel=quoted_event(UP + 180, "oops-null-6x-read"),
                query_latency=after(const(0.012), UP + 180, const(0.024)),
            )
        ],
        UP + 180,
        kind="kernel oops",
        origin="quoted",
        sources=cites("oops-null-6x-read"),
    )
    add(
        "fault-oops-5x-write-twice",
        "kernel-oops",
        "web-1's new kernel module oopses 7 minutes after the upgrade and again 45 minutes "
        "later (`BUG: kernel NULL pointer dereference, address: 0000000000000008`, a write "
        "access, 5.15, quoted); the service keeps answering",
        [
            Host(
                "web-1",
                kernel=[
                    *quoted_event(UP + 420, "oops-null-5x-write"),
                    *quoted_event(UP + 3120, "oops-null-5x-write"),
                ],
            )
        ],
        UP + 420,
        kind="kernel oops",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oops-null-5x-write"),
    )
    # -- soft lockups: a 23 s lockup every 4 to 10 minutes, checks slow during each.
    lockups = _times("frigate", UP + 660, UP + 6000, 240.0, 600.0)
    add(
        "fault-lockup-23s-every-few-min",
        "soft-lockup",
        "web-1's new release pins a CPU in a tight loop in the kernel: from 11 minutes after "
        "the upgrade a `watchdog: BUG: soft lockup - CPU#0 stuck for 23s!` (quoted) every 4 to "
        "10 minutes; the health checks during each lockup take 1.5 to 3 s",
        [
            Host(
                "web-1",
                kernel=_repeated("lockup-frigate-23s", lockups),
                slow=[(t - 23 + 10 * k, 1.5 + 0.7 * k) for t in lockups for k in range(3)],
            )
        ],
        lockups[0] - 23,  # the CPU is stuck 23 s before the report
        kind="soft lockup",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("lockup-frigate-23s"),
    )
    # -- hung tasks: mysqld on a database (reported every 120 s while blocked, then it
    #    recovers); the EL6 journal thread on a web host (checks time out meanwhile).
    add(
        "fault-hung-mysqld-recovers-db",
        "hung-task",
        "db-1 runs MySQL on Debian 9; 4 minutes after the upgrade (a new storage layer) its "
        "mysqld thread blocks in the file system and is reported 120 s later and every 120 s "
        "for 14 minutes (quoted), then recovers; query p99 is 30 times higher while blocked",
        [
            _host(
                "db-1",
                kernel=[
                    x
                    for k in range(8)
                    for x in quoted_event(UP + 360 + 120 * k, "hung-mysqld-4x-debian")
                ],
                query_latency=bumped(const(0.012), [(UP + 240, UP + 1200, 0.36)]),
            )
        ],
        UP + 240,  # blocked 120 s before the first report
        kind="hung task",
        origin="quoted",
        sources=cites("hung-mysqld-4x-debian"),
    )
    add(
        "fault-hung-jbd2-el6-web",
        "hung-task",
        "web-1 runs RHEL 6; 8 minutes after its upgrade (a new virtual disk driver) the ext4 "
        "journal thread blocks for good (`INFO: task jbd2/vda1-8:404 blocked for more than 120 "
        "seconds.`, quoted, reported 120 s later and again 2 minutes after); every write waits: "
        "a third of the health checks take 5 s and answer 503",
        [
            Host(
                "web-1",
                kernel=[
                    *quoted_event(UP + 600, "hung-jbd2-el6"),
                    *quoted_event(UP + 720, "hung-jbd2-el6"),
                ],
                health_5xx=after(const(0.0), UP + 480, const(0.33)),
                latency=after(const(0.04), UP + 480, const(0.4)),
            )
        ],
        UP + 480,
        kind="hung task",
        origin="quoted",
        sources=cites("hung-jbd2-el6"),
    )
    # -- segfault loops: sniproxy at its own report's spacing; iperf-like sparse crashes in
    #    the newest kernel wording.
    crashes = []
    t = UP + 150.0
    k = 0
    while t < UP + 5400:
        crashes.append(round(t, 1))
        t += _SNIPROXY_GAPS[k % len(_SNIPROXY_GAPS)]
        k += 1
    add(
        "fault-segfault-sniproxy-real-spacing",
        "segfault-loop",
        "web-1's new TLS proxy crashes in libc-2.13 from 150 s after the upgrade (`sniproxy[N]: "
        "segfault at 1000 ... error 4 in libc-2.13.so`, quoted), at the spacing of the "
        "quoted report's own crashes (27, 54, 8, 30, 30, 30 s, a pause of 13 minutes, 26 s, "
        "again); its supervisor restarts it; 1% of requests fail",
        [
            Host(
                "web-1",
                kernel=_repeated("segv-sniproxy-libc213", crashes),
                error_ratio=after(const(0.002), crashes[0], const(0.012)),
            )
        ],
        crashes[0],
        kind="segfault loop",
        origin="quoted",
        sources=cites("segv-sniproxy-libc213"),
    )
    crashes = _times("likely-cpu", UP + 500, UP + 8000, 480.0, 900.0)
    add(
        "fault-segfault-6x-sparse-batch",
        "segfault-loop",
        "batch-1 runs a 6.8 kernel; its new release's worker segfaults in libc every 8 to 15 "
        "minutes from 8 minutes after the upgrade (the `likely on CPU` wording and its `Code:` "
        "line, quoted); the runner restarts it and answers throughout",
        [_host("batch-1", kernel=_repeated("segv-iperf3-likely-cpu", crashes))],
        crashes[0],
        kind="segfault loop",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("segv-iperf3-likely-cpu"),
    )
    # -- systemd: a sidecar restarted every 5 s (Restart=always), OnFailure= each time.
    restarts = [UP + 120 + 6.0 * k for k in range(60)] + [UP + 3000 + 6.0 * k for k in range(40)]
    add(
        "fault-unit-restart-always-sidecar",
        "systemd-unit-failure",
        "web-1's log-shipping sidecar cannot parse the config the upgrade installs: from 2 "
        "minutes after it the unit exits every 6 s and is restarted 5 s later "
        "(`Main process exited, code=exited, status=1/FAILURE`, `Failed with result "
        "'exit-code'`, `Triggering OnFailure= dependencies.`, systemd 255, quoted), for 6 "
        "minutes, and again for 4 minutes 50 minutes after the upgrade (when the config is "
        "reloaded); the service answers",
        [Host("web-1", syslog=build.quoted_units("systemd-exit-onfailure", restarts))],
        UP + 120,
        kind="unit failed",
        origin="quoted",
        sources=cites("systemd-exit-onfailure"),
    )
    # -- data: wrong from the first check after a run's restart.
    add(
        "fault-data-mismatch-at-once-run",
        "data-mismatch",
        "upgrade of db-1 by `rollsafe upgrade` (upgrade_started 60 s before the upgrade mark, "
        "port refused 15 s); the new release's replication filter drops one table: the data "
        "check differs from its first run after the upgrade",
        [_host("db-1", **rolled(UP - 60, UP), down=[(UP - 30, UP - 15)], data_bad_from=UP)],
        UP,
        kind="data mismatch",
    )
    return out


# --------------------------------------------------------------------------- healthy


def healthy() -> list[Scenario]:
    """Held-out-6 healthy upgrades, synthetic and quoted: the noise that fools naive rules."""
    out: list[Scenario] = []
    _add(
        out,
        "healthy-warmup-db-cold-cache",
        "warmup-restart",
        "db-1 restarts for an upgrade by an external tool plus `rollsafe mark upgrade` (port "
        "refused 20 s before the mark); its buffer cache is cold: query p99 starts 4 times "
        "higher and decays with a time constant of 6 minutes",
        [
            _host(
                "db-1",
                down=[(UP - 20, UP)],
                query_latency=decaying(UP, 0.012, 0.048, 360.0),
            )
        ],
    )
    _add(
        out,
        "healthy-warmup-run-errors-minute",
        "warmup-restart",
        "upgrade of web-1 by `rollsafe upgrade` (upgrade_started 50 s before the upgrade mark, "
        "restart refused 12 s); for the first minute after the restart 1.5% of requests fail "
        "(connections the load balancer had not yet drained) and p99 is 2.5 times higher, "
        "decaying over 3 minutes",
        [
            Host(
                "web-1",
                **rolled(UP - 50, UP),
                down=[(UP - 24, UP - 12)],
                error_ratio=bumped(const(0.002), [(UP - 12, UP + 48, 0.015)]),
                p99=decaying(UP - 12, 0.22, 0.55, 180.0),
            )
        ],
    )
    _add(
        out,
        "healthy-reboot-run-db",
        "warmup-restart",
        "upgrade of db-1 by `rollsafe upgrade` with a reboot into a new kernel between the "
        "marks (upgrade_started 4 minutes before the upgrade mark; port refused 110 s); then "
        "crash recovery replays the WAL: query p99 3 times higher for 5 minutes",
        [
            _host(
                "db-1",
                **rolled(UP - 240, UP),
                down=[(UP - 170, UP - 60)],
                query_latency=bumped(const(0.012), [(UP - 60, UP + 300, 0.036)]),
                memory=lambda t: (
                    70.0 if t < UP - 60 else 70.0 - 40.0 * math.exp(-(t - UP + 60) / 1800.0)
                ),
            )
        ],
    )
    _add(
        out,
        "healthy-cron-hourly-batch",
        "cron-cpu",
        "batch-1's hourly export runs at minute 5 of every hour (one of them 5 minutes after "
        "the upgrade): CPU 95% and memory 20 points higher for 10 minutes",
        [
            _host(
                "batch-1",
                cpu=lambda t: 95.0 if (t % HOUR) >= 300.0 and (t % HOUR) < 900.0 else 18.0,
                memory=lambda t: 55.0 if (t % HOUR) >= 300.0 and (t % HOUR) < 900.0 else 35.0,
            )
        ],
        duration=3 * HOUR,
    )
    _add(
        out,
        "healthy-exporter-gap-after-upgrade",
        "monitoring-gap",
        "the node exporter on web-1 is restarted by the upgrade and its CPU and memory are "
        "missing for 10 minutes after it (the exporter waits for a lock); Prometheus itself "
        "answers",
        [Host("web-1", gaps={"cpu": [(UP, UP + 600)], "memory": [(UP, UP + 600)]})],
    )
    _add(
        out,
        "healthy-prober-timeouts-scattered",
        "monitoring-gap",
        "the prober that checks web-1 is overloaded after its own upgrade: from 5 minutes "
        "after web-1's upgrade, 7 health checks over 40 minutes time out in DNS, never two in "
        "a row; web-1 itself is fine",
        [
            Host(
                "web-1",
                gaps={
                    "health": [
                        (UP + t, UP + t + 5) for t in (300, 610, 1020, 1480, 1750, 2200, 2690)
                    ]
                },
            )
        ],
    )
    _add(
        out,
        "healthy-noisy-app-errors",
        "preexisting-errors",
        "web-1's application has logged 8 error lines a minute for weeks (a deprecated client "
        "retrying), and 0.8% of requests fail; the upgrade changes none of it",
        [Host("web-1", errors_per_minute=const(8.0), error_ratio=const(0.008))],
    )
    _add(
        out,
        "healthy-flash-sale-fleet",
        "traffic-growth",
        "a flash sale 20 minutes after web-1's upgrade multiplies traffic by 5 within 30 s for "
        "15 minutes on web-1 and web-2 (not upgraded) alike: p99 40% higher, CPU 75%, the "
        "error ratio from 0.2% to 0.5% (a rate limit)",
        [
            Host(
                target,
                upgrades=ups,
                traffic=bumped(const(30.0), [(UP + 1200, UP + 2100, 150.0)]),
                p99=bumped(const(0.22), [(UP + 1200, UP + 2100, 0.31)]),
                cpu=bumped(const(22.0), [(UP + 1200, UP + 2100, 75.0)]),
                error_ratio=bumped(const(0.002), [(UP + 1200, UP + 2100, 0.005)]),
            )
            for target, ups in (("web-1", [UP]), ("web-2", []))
        ],
    )
    _add(
        out,
        "healthy-payments-slow-fleet",
        "dependency-blip",
        "the payment provider slows down for 4 minutes 25 minutes after web-1's upgrade: "
        "web-1 and web-2 (not upgraded) alike have p99 3 times higher, 1.2% of requests failing "
        "and 6 timeout lines a minute meanwhile",
        [
            Host(
                target,
                upgrades=ups,
                p99=bumped(const(0.22), [(UP + 1500, UP + 1740, 0.66)]),
                error_ratio=bumped(const(0.002), [(UP + 1500, UP + 1740, 0.012)]),
                errors_per_minute=bumped(const(0.05), [(UP + 1500, UP + 1740, 6.0)]),
            )
            for target, ups in (("web-1", [UP]), ("web-2", []))
        ],
    )
    _add(
        out,
        "healthy-az-latency-fleet",
        "fleet-wide",
        "the availability zone's network degrades 12 minutes after web-1's upgrade: for 8 "
        "minutes both web-1 and web-2 (not upgraded) answer their health checks 3 times more "
        "slowly and p99 is 2 times higher",
        [
            Host(
                target,
                upgrades=ups,
                latency=bumped(const(0.04), [(UP + 720, UP + 1200, 0.12)]),
                p99=bumped(const(0.22), [(UP + 720, UP + 1200, 0.44)]),
            )
            for target, ups in (("web-1", [UP]), ("web-2", []))
        ],
    )
    _add(
        out,
        "healthy-fleet-both-upgraded-run",
        "fleet-wide",
        "web-1 and web-2 are upgraded together by one `rollsafe upgrade` run (both marks on "
        "each, 40 s apart; each restart refused 10 s); both warm up alike for 2 minutes (p99 "
        "twice as high, health checks 50% slower)",
        [
            Host(
                target,
                **rolled(UP - 40 + shift, UP + shift),
                down=[(UP - 20 + shift, UP - 10 + shift)],
                p99=bumped(const(0.22), [(UP - 10 + shift, UP + 110 + shift, 0.44)]),
                latency=bumped(const(0.04), [(UP - 10 + shift, UP + 110 + shift, 0.06)]),
            )
            for target, shift in (("web-1", 0.0), ("web-2", 40.0))
        ],
    )
    _add(
        out,
        "healthy-cache-plateau-db",
        "cache-growth",
        "the new release of db-1 gives its shared buffers more room: memory climbs 15 points "
        "over 90 minutes after the upgrade, then stays at 75%",
        [_host("db-1", memory=lambda t: 60.0 + 15.0 * min(1.0, max(0.0, t - UP) / 5400.0))],
        duration=4 * HOUR,
    )
    _add(
        out,
        "healthy-restart-blips-config-pushes",
        "restart-blip",
        "configuration management restarts web-1 twice after a healthy upgrade, 20 and 50 "
        "minutes in (refused 8 s each, a few shutdown errors)",
        [
            Host(
                "web-1",
                down=[(UP + 1192, UP + 1200), (UP + 2992, UP + 3000)],
                app_lines=[
                    (UP + 1193, "ERROR [main] app.server: 2 requests aborted by shutdown"),
                    (UP + 2993, "ERROR [main] app.server: 4 requests aborted by shutdown"),
                ],
            )
        ],
    )
    _add(
        out,
        "healthy-slow-prober-30s",
        "restart-blip",
        "web-1's health check is sampled every 30 s (a remote prober); a healthy upgrade by "
        "an external tool restarts it (refused 15 s before its one mark)",
        [Host("web-1", health_every=30.0, **restart_at(UP, refused=15.0))],
    )
    _add(
        out,
        "healthy-single-oom-vm-batch",
        "single-oom",
        "a developer's test VM on batch-1 hits its memory cgroup once, 35 minutes after a "
        "healthy upgrade (`CPU 2/KVM invoked oom-killer`, quoted); the runner is not concerned",
        [_host("batch-1", kernel=quoted_event(UP + 2100, "oom-invoked-kvm-memcg"))],
        origin="quoted",
        sources=cites("oom-invoked-kvm-memcg"),
    )
    _add(
        out,
        "healthy-single-segfault-iperf",
        "single-segfault",
        "an operator runs a network test on web-1 after its healthy upgrade; the test tool "
        "segfaults once, 9 minutes in (`likely on CPU` wording, quoted); the service is not "
        "concerned",
        [Host("web-1", kernel=quoted_event(UP + 540, "segv-iperf3-likely-cpu"))],
        origin="quoted",
        sources=cites("segv-iperf3-likely-cpu"),
    )
    _add(
        out,
        "healthy-single-unit-killed",
        "single-unit-failure",
        "a one-shot reindex unit on batch-1 is killed once (`Main process exited, "
        "code=killed, status=9/KILL`, quoted) 15 minutes after a healthy upgrade, by an "
        "operator who stops it; nothing else changes",
        [_host("batch-1", syslog=quoted_unit(UP + 900, "systemd-killed-9-testbloat"))],
        origin="quoted",
        sources=cites("systemd-killed-9-testbloat"),
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
    """Held-out-6 recordings on the real metrics and logs of ``../shared/data`` (days and
    line ranges no other half uses)."""
    out: list[Scenario] = []

    add = _HALF.real_adder(out)
    stretch = build.stretched
    kernel_of = build.kernel_of

    net = nab["ec2_network_in_257a54"]
    latency = nab["ec2_request_latency_system_failure"]
    disk = nab["ec2_disk_write_bytes_1ef3de"]
    c53 = nab["ec2_cpu_utilization_53ea38"]
    c24 = nab["ec2_cpu_utilization_24ae8d"]
    elb = nab["elb_request_count_8c0756"]
    rds = nab["rds_cpu_utilization_cc0c53"]

    # -- request errors late after the upgrade, over real network traffic (day 11).
    scale = 60.0 / max(1.0, net.median())
    traffic = net.curve(11 * DAY + 6 * HOUR, scale=scale)
    up = 2 * HOUR
    add(
        Scenario(
            "fault-errors-late-network-real",
            "metrics-error-ratio",
            "web-1's traffic follows a real EC2 instance's network input (NAB "
            "ec2_network_in_257a54, day 11 from 06:00, scaled to a median of 60 requests/s); 25 "
            "minutes after its upgrade (when a token cache written by the new release expires) "
            "its request error ratio goes from 0.3% to 1.8% and stays; health answers 200",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    traffic=lambda t: max(1.0, traffic(t)),
                    error_ratio=after(const(0.003), up + 1500, const(0.018)),
                )
            ],
            duration=4 * HOUR,
            faults=[fault("web-1", up + 1500, "request errors")],
            sources=[cite_nab("ec2_network_in_257a54")],
        )
    )
    # -- a p99 tripling over 15 minutes, over a real latency series (day 9).
    real_ms = latency.curve(9 * DAY)
    up = 2 * HOUR

    def factor(t: float, up: float = up) -> float:
        return 1.0 + 2.0 * min(1.0, max(0.0, t - up - 120) / 900.0)

    add(
        Scenario(
            "fault-p99-triples-real-latency",
            "metrics-latency-quantile",
            "web-1's p99 follows a real EC2 service's request latency (NAB "
            "ec2_request_latency_system_failure, day 9, outside its failures, scaled to about "
            "0.2 s); from 2 minutes after the upgrade it rises to 3 times that over 15 minutes "
            "(a lock taken on every request as load builds) and stays; health checks as before",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    p99=lambda t: 0.0045 * real_ms(t) * factor(t),
                )
            ],
            duration=4 * HOUR,
            faults=[fault("web-1", up + 120, "p99 latency")],
            sources=[cite_nab("ec2_request_latency_system_failure")],
        )
    )
    # -- a leak over real wander (disk writes, day 5), memory sampled every 15 s.
    wander = disk.wander(5 * DAY, amplitude=3.0)
    up = 2 * HOUR
    add(
        Scenario(
            "fault-memory-leak-5ph-real-wander",
            "memory-leak",
            "web-1's memory is exported every 15 s and wanders about 3 points with a real "
            "instance's disk writes (NAB ec2_disk_write_bytes_1ef3de, day 5, smoothed over an "
            "hour) around 52%; the upgrade at 2 hours leaks 5 points an hour",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    metrics_every=15.0,
                    memory=lambda t, up=up: 52.0 + wander(t) + max(0.0, t - up) / HOUR * 5.0,
                )
            ],
            duration=6 * HOUR,
            faults=[fault("web-1", up, "memory leak")],
            sources=[cite_nab("ec2_disk_write_bytes_1ef3de")],
        )
    )
    # -- an old-kernel oops on a batch host whose job log is the second half of Hadoop's run.
    add(
        Scenario(
            "fault-oops-3x-over-hadoop-real",
            "kernel-oops",
            "batch-1 runs an old 3.x kernel and the real Hadoop job of Loghub (its lines 1,000 "
            "to 1,999, stretched over an hour from 30 minutes before the upgrade); 12 minutes "
            "after the upgrade (a memory-deduplication patch) the kernel oopses (`BUG: unable "
            "to handle kernel NULL pointer dereference at           (null)`, quoted)",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=[
                        (UP - 30 * MINUTE + t, line)
                        for t, line in stretch(hadoop, 1000, 1000, HOUR)
                    ],
                    kernel=quoted_event(UP + 720, "oops-null-3x-uksm"),
                )
            ],
            faults=[fault("batch-1", UP + 720, "kernel oops")],
            sources=[cite_log("Hadoop_2k.log"), *cites("oops-null-3x-uksm")],
        )
    )
    # -- a soft lockup over real syslog, twice; a hung writeback over real syslog.
    noise = stretch(linux, 1100, 300, 2 * HOUR)
    add(
        Scenario(
            "fault-lockup-twice-over-linux-real",
            "soft-lockup",
            "batch-1's syslog and kern.log are real Linux syslog (Loghub, its lines 1,100 to "
            "1,399 stretched over 2 hours); 6 minutes after the upgrade (a new logging agent) "
            "the kernel reports a 22 s soft lockup of the agent's thread (quoted, with its CPU "
            "line), and again 9 minutes later; the runner's checks during each take 3 s",
            [
                _host(
                    "batch-1",
                    syslog=noise,
                    kernel=[
                        *kernel_of(noise),
                        *quoted_event(UP + 360, "lockup-eve-logging-22s"),
                        *quoted_event(UP + 900, "lockup-eve-logging-22s", 1),
                    ],
                    slow=[(UP + 340, 3.0), (UP + 350, 3.0), (UP + 880, 3.0), (UP + 890, 3.0)],
                )
            ],
            faults=[fault("batch-1", UP + 338, "soft lockup")],
            sources=[cite_log("Linux_2k.log"), *cites("lockup-eve-logging-22s")],
        )
    )
    noise = stretch(linux, 450, 450, 2 * HOUR)
    add(
        Scenario(
            "fault-hung-writeback-over-linux-real",
            "hung-task",
            "batch-1 (a 32-bit ARM board) has real Linux syslog (Loghub, lines 450 to 899 "
            "stretched over 2 hours); 9 minutes after the upgrade its writeback worker blocks "
            "on a network file system the new release mounts, reported 120 s later and every "
            "120 s (quoted) for 20 minutes; jobs stall: the runner answers 503 one check in two",
            [
                _host(
                    "batch-1",
                    syslog=noise,
                    kernel=[
                        *kernel_of(noise),
                        *[
                            x
                            for k in range(10)
                            for x in quoted_event(UP + 660 + 120 * k, "hung-kworker-rpi-writeback")
                        ],
                    ],
                    health_5xx=bumped(const(0.0), [(UP + 540, UP + 1860, 0.5)]),
                )
            ],
            faults=[fault("batch-1", UP + 540, "hung task")],
            sources=[cite_log("Linux_2k.log"), *cites("hung-kworker-rpi-writeback")],
        )
    )
    # -- a unit killed again and again over real syslog (SIGKILL every 10-20 minutes).
    noise = stretch(linux, 1400, 200, 2 * HOUR)
    kills = _times("testbloat", UP + 200, UP + 6500, 600.0, 1200.0)
    add(
        Scenario(
            "fault-unit-killed-over-linux-real",
            "systemd-unit-failure",
            "db-1's syslog is real Linux syslog (Loghub, lines 1,400 to 1,599 stretched over 2 "
            "hours); from 3 minutes after the upgrade its backup agent's unit is SIGKILLed "
            "every 10 to 20 minutes (`Main process exited, code=killed, status=9/KILL`, quoted) "
            "by a memory guard the upgrade enabled; the database answers",
            [
                _host(
                    "db-1",
                    syslog=[*noise, *build.quoted_units("systemd-killed-9-testbloat", kills)],
                    kernel=kernel_of(noise),
                )
            ],
            duration=2.5 * HOUR,
            faults=[fault("db-1", kills[0], "unit failed")],
            sources=[cite_log("Linux_2k.log"), *cites("systemd-killed-9-testbloat")],
        )
    )
    # -- healthy: real CPU bursts; the second half of the Apache log; real syslog; a real
    #    morning ramp of traffic; a real day of CPU.
    cpu_53 = c53.curve(11 * DAY)
    add(
        Scenario(
            "healthy-cron-real-53ea38-day11",
            "cron-cpu",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_53ea38, day 11, "
            "outside its anomaly windows); healthy upgrade at 2 hours",
            [Host("web-1", upgrades=[2 * HOUR], cpu=cpu_53, cpu_noise=1.0)],
            duration=5 * HOUR,
            sources=[cite_nab("ec2_cpu_utilization_53ea38")],
        )
    )
    errors = stretch(apache, 1000, 1000, 3 * HOUR)
    add(
        Scenario(
            "healthy-apache-second-half-real",
            "preexisting-errors",
            "web-1's error log is the second half of Loghub's real Apache error log (lines "
            "1,000 to 1,999, `[notice]` and `[error]` alike, stretched over 3 hours in their "
            "order and spacing); healthy upgrade at 90 minutes by an external tool (refused 10 "
            "s before its one mark)",
            [
                Host(
                    "web-1",
                    upgrades=[1.5 * HOUR],
                    down=[(1.5 * HOUR - 10, 1.5 * HOUR)],
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Apache_2k.log")],
        )
    )
    noise = stretch(linux, 900, 500, 150 * MINUTE)
    add(
        Scenario(
            "healthy-linux-syslog-db-real",
            "noisy-syslog",
            "db-1's syslog and kern.log are real Linux syslog (Loghub, lines 900 to 1,399 "
            "stretched over 2.5 hours: sshd failures, su, kernel lines); healthy upgrade at 1 "
            "hour",
            [_host("db-1", syslog=noise, kernel=kernel_of(noise))],
            duration=150 * MINUTE,
            sources=[cite_log("Linux_2k.log")],
        )
    )
    scale = 35.0 / max(1.0, elb.median())
    morning = elb.curve(11 * DAY + 5 * HOUR, scale=scale)
    add(
        Scenario(
            "healthy-elb-monday-ramp-real",
            "traffic-growth",
            "web-1's traffic is a real ELB's Monday morning (NAB elb_request_count_8c0756, day 11 "
            "from 05:00, scaled to a median of 35 requests/s); p99 and CPU follow it; a healthy "
            "upgrade at 07:00 as traffic climbs",
            [
                Host(
                    "web-1",
                    upgrades=[2 * HOUR],
                    traffic=lambda t: max(0.5, morning(t)),
                    p99=lambda t: 0.18 + 0.003 * max(0.0, morning(t)),
                    cpu=lambda t: 12.0 + 0.6 * max(0.0, morning(t)),
                )
            ],
            duration=5 * HOUR,
            sources=[cite_nab("elb_request_count_8c0756")],
        )
    )
    cpu_24 = c24.curve(7 * DAY)
    load = rds.level(7 * DAY)
    add(
        Scenario(
            "healthy-day-real-cpu-and-load",
            "daily-cycle",
            "a whole day of db-1: CPU is a real EC2 instance's (NAB ec2_cpu_utilization_24ae8d, "
            "day 7) and query p99 follows a real RDS instance's load (NAB "
            "rds_cpu_utilization_cc0c53, day 7, smoothed over an hour); a healthy upgrade at "
            "14:00",
            [
                _host(
                    "db-1",
                    upgrades=[14 * HOUR],
                    cpu=cpu_24,
                    query_latency=lambda t: 0.010 * (1.0 + 0.8 * max(0.0, load(t))),
                )
            ],
            duration=DAY,
            sources=[
                cite_nab("ec2_cpu_utilization_24ae8d"),
                cite_nab("rds_cpu_utilization_cc0c53"),
            ],
        )
    )
    return out
