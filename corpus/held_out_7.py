"""Held-out-7 of rollsafe's judgment corpus: upgrades nobody tuned on (issue #15, round 8).

Every earlier half (design, held-out, held-out-2 to held-out-6) has been looked at by people
changing rules, so none of them says any more how the shipped presets judge data nobody has
seen. This half does: written in round 8 by a helper that changed no rule, preset or judge
code, while others were changing rules without seeing it, from what a fleet meets (not from
what the rules catch or miss), and replayed once with the presets as they were. No preset may
be tuned on it (``--half held-out-7``).

What is new here against the earlier halves: faults that start late in the watch (a feature
flag, a cache expiry, a hotfix upgrade 50 minutes after the first), hosts upgraded twice,
a canary that is web-2 with web-1 left untouched, fleets of one to four targets, probes sampled
every 5 or 20 s, exporters every 30 s, faults mixed with healthy noise (a planned reboot with
a logged shutdown into a kernel that cannot mount its root, OOM kills over cron bursts, a p99
step after a fleet-wide blip), and wordings no earlier half quotes (EL6 and 3.x OOM lines, a
GC thread invoking the OOM killer, VFS root panics, non-canonical GPFs, soft lockups of two
CPUs at once and a hard lockup, hung tasks without ``INFO:``, a jump to address 0 with ``Bad
RIP value``, start-limit hits, nginx's ``upstream prematurely closed connection``).

``corpus/build.py`` renders these scenarios like every other (the same ``Host`` and
``Scenario`` model, the same probes); this module only describes them. Its irregular times
come from generators of their own (``held-out-7/<seed>``), and every recording is rendered
from a generator seeded by its own name, so adding this half moves no byte of the others.
Real data: kernel, systemd, PostgreSQL and nginx messages quoted from public reports no other
half cites (``corpus/quoted.py``, held-out-7 section, each with its URL), and NAB metrics and
Loghub logs of ``../shared/data`` (some of its NAB days and Loghub line ranges are also used
by earlier halves, there with other spans, hosts and shapes), read at build time (``real``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import build
from build import (
    DAY,
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
    quoted_unit,
    ramp,
    restart_at,
    rolled,
)

HELD_OUT_7 = "held-out-7"  # written in round 8 by a helper that changed no rule; never tuned on


_HALF = build.Half(HELD_OUT_7)
_times = _HALF.times  # irregular times of this half's own (``held-out-7/<seed>``)
_add = _HALF.add
_fault_adder = _HALF.fault_adder
_host = build._host
_repeated = build.repeated
_rng = _HALF.rng


def _prefixed(at: float, key: str, prefix: str, n: int = 0) -> list[tuple[float, str]]:
    """A quoted event as syslog holds it, each line after ``prefix`` (``postgres[N]: `` ...),
    its ``n``-th repetition's pids moved."""
    lines = quoted.EVENTS[key].repeated(n)
    return [(at + i * 0.01, f"{prefix}{line}") for i, line in enumerate(lines)]


def _syslog_lines(key: str, times: list[float]) -> list[tuple[float, str]]:
    """A quoted event whose lines already name their process (``systemd-coredump[N]: ``)."""
    return [line for n, t in enumerate(times) for line in _prefixed(t, key, "", n)]


def _nginx(times: list[float]) -> list[tuple[float, str]]:
    """nginx's quoted error-log line at each time, stamped as nginx stamps it (its date is
    the recording's), each a new connection number: raw application-log lines."""
    out = []
    for n, t in enumerate(times):
        stamp = dt.datetime.fromtimestamp(START + t, tz=dt.UTC)
        (line,) = quoted.EVENTS["nginx-upstream-closed"].repeated(n)
        out.append((t, f"@raw {stamp:%Y/%m/%d %H:%M:%S} {line}"))
    return out


def _boot(at: float) -> list[tuple[float, str]]:
    """What PID 1 logs when a boot has finished (synthetic, a usual systemd wording)."""
    return [(at, "systemd[1]: Startup finished in 2.114s (kernel) + 7.902s (userspace) = 10.016s.")]


def _windows(times: list[float], length: float, value: float) -> list[tuple[float, float, float]]:
    return [(t, t + length, value) for t in times]


# --------------------------------------------------------------------------- faults


def faults() -> list[Scenario]:
    """Held-out-7 faults, synthetic and quoted: every family issue #15 names."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- request errors: late on a canary (nginx's own error lines); a hotfix upgrade that
    #    breaks what the first upgrade did not.
    lines = _times("nginx-late", UP + 2100, 2.5 * HOUR, 5.0, 25.0)
    add(
        "fault-errors-canary-nginx-late",
        "metrics-error-ratio",
        "canary upgrade of web-1 (web-2 not upgraded); 35 minutes after it, when the new "
        "release's shorter upstream keep-alive meets the proxy's pooled connections, 1.2% of "
        "requests fail (0.1% before) and the proxy logs `upstream prematurely closed "
        "connection while reading response header from upstream` (nginx, quoted) about 4 "
        "times a minute; health answers 200",
        [
            Host(
                "web-1",
                traffic=const(50.0),
                error_ratio=after(const(0.001), UP + 2100, const(0.012)),
                errors_per_minute=const(0.0),
                app_lines=_nginx(lines),
            ),
            Host("web-2", upgrades=[], traffic=const(50.0), error_ratio=const(0.001)),
        ],
        UP + 2100,
        kind="request errors",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("nginx-upstream-closed"),
    )
    add(
        "fault-errors-hotfix-second-upgrade",
        "metrics-error-ratio",
        "web-1 is upgraded at 1 hour (healthy) and again 50 minutes later with a hotfix; 40 s "
        "after the second upgrade 3% of requests fail (a null check the hotfix removed) and "
        "the application logs 3 errors a minute",
        [
            Host(
                "web-1",
                upgrades=[UP, UP + 3000],
                down=[(UP - 10, UP), (UP + 2990, UP + 3000)],
                error_ratio=after(const(0.002), UP + 3040, const(0.03)),
                errors_per_minute=after(const(0.05), UP + 3040, const(3.0)),
            )
        ],
        UP + 3040,
        kind="request errors",
        duration=3 * HOUR,
    )
    # -- p99: a creep over 30 minutes; a step from a flag that flips 25 minutes in, after a
    #    fleet-wide blip.
    add(
        "fault-p99-creep-30min",
        "metrics-latency-quantile",
        "web-1's new release keeps a per-tenant list it scans on every request and that grows "
        "with use: from 2 minutes after the upgrade its p99 climbs from 0.2 s to 0.6 s over "
        "30 minutes and stays; health checks stay fast",
        [Host("web-1", p99=ramp(UP + 120, 1800.0, 0.2, 0.6))],
        UP + 120,
        kind="p99 latency",
        duration=2.5 * HOUR,
    )
    add(
        "fault-p99-flag-after-fleet-blip",
        "metrics-latency-quantile",
        "10 minutes after web-1's upgrade a dependency slows web-1 and web-2 (not upgraded) "
        "alike for 3 minutes (p99 twice as high); 25 minutes after the upgrade a feature flag "
        "shipped with the release turns on by schedule and web-1's p99 steps from 0.22 s to "
        "0.5 s for good",
        [
            Host(
                "web-1",
                p99=bumped(after(const(0.22), UP + 1500, const(0.5)), [(UP + 600, UP + 780, 0.44)]),
            ),
            Host("web-2", upgrades=[], p99=bumped(const(0.22), [(UP + 600, UP + 780, 0.44)])),
        ],
        UP + 1500,
        kind="p99 latency",
        duration=2.5 * HOUR,
    )
    # -- health latency: 4x with a prober every 20 s; 2.5x on a batch runner when its first
    #    job starts; x5 every other minute.
    add(
        "fault-latency-4x-20s-prober",
        "latency-regression",
        "web-1's health check is sampled every 20 s; 30 s after the upgrade (a template cache "
        "turned off) it takes 140 ms instead of 35 ms and p99 goes from 0.22 s to 0.7 s",
        [
            Host(
                "web-1",
                health_every=20.0,
                latency=after(const(0.035), UP + 30, const(0.14)),
                p99=after(const(0.22), UP + 30, const(0.7)),
            )
        ],
        UP + 30,
        kind="latency",
    )
    add(
        "fault-latency-batch-runner-lock",
        "latency-regression",
        "batch-1's new runner holds a lock while a job runs: from the first job, 5 minutes "
        "after the upgrade, its readiness check takes 100 ms instead of 40 ms",
        [_host("batch-1", latency=after(const(0.04), UP + 300, const(0.1)))],
        UP + 300,
        kind="latency",
    )
    add(
        "fault-latency-gc-thrash-alternate-minutes",
        "latency-regression",
        "web-1's new release runs with a heap too small: from 200 s after the upgrade every "
        "other minute is spent collecting garbage, its checks then 5 times slower (200 ms) and "
        "p99 3 times higher",
        [
            Host(
                "web-1",
                latency=lambda t: (
                    0.2 if t >= UP + 200 and int((t - UP - 200) // 60) % 2 == 0 else 0.04
                ),
                p99=lambda t: (
                    0.66 if t >= UP + 200 and int((t - UP - 200) // 60) % 2 == 0 else 0.22
                ),
            )
        ],
        UP + 200,
        kind="latency",
    )
    # -- OOM kills: EL6 wording over cron bursts; a database killed twice; web-2 as canary.
    kills = _times("gocd", UP + 420, UP + 6600, 360.0, 660.0)
    add(
        "fault-oom-el6-java-over-cron",
        "oom-repeated",
        "web-1 runs RHEL 6; its new release's JVM outgrows the host: from 7 minutes after the "
        "upgrade, every 6 to 11 minutes, the kernel kills it (`Out of memory: Kill process` "
        "and `Killed process N, UID 498, (java)`, quoted) and each kill costs a refused check "
        "or two; memory sits near 90%; a cron job pins CPU at 80% for 4 minutes every 30 "
        "minutes, as before the upgrade",
        [
            Host(
                "web-1",
                kernel=_repeated("oom-el6-uid-java-gocd", kills),
                down=[(t + 1, t + 12) for t in kills],
                memory=after(const(64.0), kills[0], const(89.0)),
                cpu=lambda t: 80.0 if (t % 1800.0) < 240.0 else 24.0,
            )
        ],
        kills[0],
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oom-el6-uid-java-gocd"),
    )
    add(
        "fault-oom-influxdb-db-twice",
        "oom-repeated",
        "db-1's time-series database is upgraded; from 5 minutes after, a new compaction "
        "setting grows its memory from 55% until the kernel kills it 10 minutes later (`Out of "
        "memory: Kill process N (influxdb)`, 3.x, quoted), and again 25 minutes later; each "
        "restart refuses the port 40 s and query p99 is 4 times higher for 5 minutes",
        [
            _host(
                "db-1",
                kernel=_repeated("oom-3x-influxdb", [UP + 900, UP + 2400]),
                down=[(UP + 901, UP + 941), (UP + 2401, UP + 2441)],
                query_latency=bumped(
                    const(0.012), [(UP + 941, UP + 1241, 0.048), (UP + 2441, UP + 2741, 0.048)]
                ),
                memory=lambda t: (
                    55.0
                    if t < UP + 300
                    else 55.0 + 40.0 * min(1.0, ((t - UP - 300) % 1500.0) / 600.0)
                ),
            )
        ],
        UP + 300,
        kind="oom kills",
        origin="quoted",
        sources=cites("oom-3x-influxdb"),
    )
    kills = _times("java-aws", UP + 150, UP + 6000, 240.0, 480.0)
    add(
        "fault-oom-java-aws-web2-canary",
        "oom-repeated",
        "web-2 is the canary this time (web-1 not upgraded); its new release's JVM asks for "
        "more than the host has: from 150 s after the upgrade, every 4 to 8 minutes, `java "
        "invoked oom-killer` with its cpuset and CPU lines (4.4 on AWS, quoted); each kill "
        "fails 3% of web-2's requests for 30 s; memory at 94%",
        [
            Host(
                "web-2",
                kernel=_repeated("oom-invoked-java-aws-4x", kills),
                error_ratio=bumped(const(0.002), _windows(kills, 30.0, 0.03)),
                memory=after(const(58.0), kills[0], const(94.0)),
            ),
            Host("web-1", upgrades=[]),
        ],
        kills[0],
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oom-invoked-java-aws-4x"),
    )
    # -- leaks: a database leaking over two upgrades; a leak that starts 30 minutes in,
    #    memory exported every 30 s.
    add(
        "fault-memory-leak-db-two-upgrades",
        "memory-leak",
        "db-1 is upgraded at 1 hour and again 2 hours later (a minor release that does not fix "
        "it): from the first upgrade its connection pooler leaks 6 points an hour from 45%",
        [
            _host(
                "db-1",
                upgrades=[UP, UP + 2 * HOUR],
                down=[(UP - 15, UP), (UP + 2 * HOUR - 15, UP + 2 * HOUR)],
                memory=lambda t: 45.0 + 6.0 * max(0.0, t - UP) / HOUR,
            )
        ],
        UP,
        kind="memory leak",
        duration=5 * HOUR,
    )
    add(
        "fault-memory-leak-after-warm-cache",
        "memory-leak",
        "web-1's memory is exported every 30 s; its new release caches every rendered variant "
        "once its warm-up list is done, 30 minutes after the upgrade, and never evicts: from "
        "then memory grows 8 points an hour from 50%",
        [
            Host(
                "web-1",
                metrics_every=30.0,
                memory=lambda t: 50.0 + 8.0 * max(0.0, t - UP - 1800) / HOUR,
            )
        ],
        UP + 1800,
        kind="memory leak",
        duration=4 * HOUR,
    )
    # -- outages: 35 s three times with a 5 s probe; a database refused 70 s 50 minutes in.
    add(
        "fault-outage-35s-thrice-5s-probe",
        "outage-near-down-for",
        "web-1's health check is sampled every 5 s; its new release deadlocks its acceptor "
        "under a burst: refused 35 s 5 minutes after the upgrade, again 27 and 63 minutes after",
        [
            Host(
                "web-1",
                health_every=5.0,
                down=[(UP + 300, UP + 335), (UP + 1900, UP + 1935), (UP + 4100, UP + 4135)],
            )
        ],
        UP + 300,
        kind="outage",
    )
    add(
        "fault-outage-db-70s-late",
        "outage-near-down-for",
        "db-1's new release runs its first automatic maintenance 50 minutes after the upgrade "
        "and crashes in it: the port is refused 70 s while PostgreSQL restarts",
        [_host("db-1", down=[(UP + 3000, UP + 3070)])],
        UP + 3000,
        kind="outage",
        duration=2.5 * HOUR,
    )
    # -- crashes: a web host that stays down (peer fine); a batch unit that gives up.
    add(
        "fault-crash-web1-stays-down-peer-fine",
        "crash",
        "web-1's new release exits 7 minutes after the upgrade on a message its old peers "
        "send, and its supervisor does not restart it: refused from then on; web-2 (not "
        "upgraded) answers",
        [
            Host(
                "web-1",
                down=[(UP + 420, 99 * HOUR)],
                app_lines=[
                    (UP + 419, "ERROR [main] app.server: unhandled frame type 0x7 from peer")
                ],
            ),
            Host("web-2", upgrades=[]),
        ],
        UP + 420,
        kind="crash",
    )
    add(
        "fault-crash-unit-start-limit-batch",
        "crash",
        "batch-1's new runner exits at start 90 s after the upgrade (a missing environment "
        "file); systemd restarts it five times and gives up (`Start request repeated too "
        "quickly`, `Failed with result 'start-limit-hit'`, quoted): refused from then on",
        [
            _host(
                "batch-1",
                down=[(UP + 90, 99 * HOUR)],
                syslog=quoted_unit(UP + 96, "systemd-beszel-start-limit"),
            )
        ],
        UP + 90,
        kind="crash",
        origin="quoted",
        sources=cites("systemd-beszel-start-limit"),
    )
    # -- panics: a planned reboot (shutdown logged) into a kernel that cannot mount its root;
    #    the same without a logged shutdown on a database.
    add(
        "fault-panic-vfs-root-after-logged-reboot",
        "kernel-panic",
        "web-1's upgrade installs a new kernel and reboots in an orderly way (systemd-logind "
        "and PID 1 log the shutdown, quoted); the new kernel cannot mount its root file system "
        "(`Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)`, "
        "5.14, quoted, reaching the kernel log through netconsole) and the host never comes back",
        [
            Host(
                "web-1",
                syslog=[
                    *_prefixed(UP + 10, "logind-reboot-asked", "systemd-logind[812]: "),
                    *_prefixed(UP + 11, "shutdown-apache-mariadb", "systemd[1]: "),
                ],
                down=[(UP + 15, 99 * HOUR)],
                kernel=quoted_event(UP + 48, "panic-vfs-root-5x"),
            )
        ],
        UP + 48,
        kind="kernel panic",
        origin="quoted",
        sources=cites("panic-vfs-root-5x", "logind-reboot-asked", "shutdown-apache-mariadb"),
    )
    add(
        "fault-panic-vfs-root-6x-db",
        "kernel-panic",
        "db-1's image-based upgrade reboots it through the cloud API (no shutdown logged) 10 "
        "s after its mark; the new 6.11 image cannot find its root by UUID (`VFS: Cannot open "
        'root device "UUID=..."`, the panic, quoted, through netconsole): down for good',
        [
            _host(
                "db-1",
                down=[(UP + 10, 99 * HOUR)],
                kernel=quoted_event(UP + 41, "panic-vfs-root-6x-uuid"),
            )
        ],
        UP + 41,
        kind="kernel panic",
        origin="quoted",
        sources=cites("panic-vfs-root-6x-uuid"),
    )
    # -- oopses: a GPF the server reboots from; a non-canonical GPF three times; a batch
    #    host's GPF late, its runner failing jobs after it.
    add(
        "fault-oops-gpf-then-reboot",
        "kernel-oops",
        "11 minutes after web-1's upgrade (a new firewall module) its 3.16 kernel takes a "
        "general protection fault in kernel mode (`general protection fault: 0000 [#1] SMP`, "
        "modules and CPU lines, quoted) and the host restarts: refused 2 minutes",
        [
            Host(
                "web-1",
                kernel=quoted_event(UP + 660, "oops-gpf-3x-fail2ban"),
                down=[(UP + 668, UP + 788)],
            )
        ],
        UP + 660,
        kind="kernel oops",
        origin="quoted",
        sources=cites("oops-gpf-3x-fail2ban"),
    )
    add(
        "fault-oops-noncanonical-thrice",
        "kernel-oops",
        "web-1's upgraded 5.6 kernel takes a general protection fault `probably for "
        "non-canonical address` (quoted) whenever a certain packet arrives: 5 minutes, 45 "
        "minutes and 90 minutes after the upgrade; the worker that hit it dies; web-2 (not "
        "upgraded) has none",
        [
            Host(
                "web-1",
                kernel=[
                    *quoted_event(UP + 300, "oops-gpf-noncanonical-5x"),
                    *quoted_event(UP + 2700, "oops-gpf-noncanonical-5x"),
                    *quoted_event(UP + 5400, "oops-gpf-noncanonical-5x"),
                ],
            ),
            Host("web-2", upgrades=[]),
        ],
        UP + 300,
        kind="kernel oops",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oops-gpf-noncanonical-5x"),
    )
    add(
        "fault-oops-gpf-batch-late",
        "kernel-oops",
        "batch-1's new release loads a kernel module for its storage client; 25 minutes after "
        "the upgrade the kernel takes a general protection fault (`general protection fault: "
        "0000 [#1] SMP PTI`, quoted) and from then half the runner's checks answer 503 (jobs "
        "stuck on the client)",
        [
            _host(
                "batch-1",
                kernel=quoted_event(UP + 1500, "oops-gpf-4x-pti"),
                health_5xx=after(const(0.0), UP + 1500, const(0.5)),
            )
        ],
        UP + 1500,
        kind="kernel oops",
        origin="quoted",
        sources=cites("oops-gpf-4x-pti"),
    )
    # -- soft lockups: two CPUs at once, single ones and a hard lockup, checks slow meanwhile.
    lockups = _times("ironfish", UP + 500, UP + 6500, 180.0, 360.0)
    keys = ("lockup-node-27s-pair", "lockup-node-22s", "hardlockup-nmi-cpu3")
    kernel = [line for n, t in enumerate(lockups) for line in quoted_event(t, keys[n % 3], n // 3)]
    add(
        "fault-lockup-node-pairs-and-hard",
        "soft-lockup",
        "web-1's new release pins its node workers in a kernel spin: from 8 minutes after the "
        "upgrade, every 3 to 6 minutes, soft lockups of 27 s on two CPUs at once, of 22 s on "
        "one, and a hard lockup (quoted, in that order, again and again); checks during each "
        "take 2 to 4 s",
        [
            Host(
                "web-1",
                kernel=kernel,
                slow=[(t - 25 + 10 * k, 2.0 + k) for t in lockups for k in range(3)],
            )
        ],
        lockups[0] - 27,
        kind="soft lockup",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites(*keys),
    )
    # -- hung tasks: a PostgreSQL backend blocked 12 minutes; a mount blocked for good.
    add(
        "fault-hung-postgres-backend-db",
        "hung-task",
        "13 minutes after db-1's upgrade (a new I/O scheduler) a PostgreSQL backend blocks in "
        "the kernel; the line `INFO: task postgres:N blocked for more than 120 seconds.` "
        "(quoted, alone) comes 120 s later and every 120 s, six times, then the backend "
        "recovers; query p99 is 20 times higher while it is blocked",
        [
            _host(
                "db-1",
                kernel=_repeated("hung-postgres-import", [UP + 900 + 120 * k for k in range(6)]),
                query_latency=bumped(const(0.012), [(UP + 780, UP + 1500, 0.24)]),
            )
        ],
        UP + 780,
        kind="hung task",
        origin="quoted",
        sources=cites("hung-postgres-import"),
    )
    add(
        "fault-hung-mount-no-info-batch",
        "hung-task",
        "batch-1's new release mounts a remote file system whose mount helper blocks for good "
        "from 200 s after the upgrade; the kernel reports it without an `INFO:` prefix (`task "
        "jfsmount:N blocked for more than 120 seconds.`, its `task:` line, quoted) 120 s later "
        "and every 120 s; the runner answers 503 one check in two",
        [
            _host(
                "batch-1",
                kernel=[
                    x
                    for k in range(12)
                    for x in quoted_event(UP + 320 + 120 * k, "hung-jfsmount-no-info")
                ],
                health_5xx=after(const(0.0), UP + 200, const(0.5)),
            )
        ],
        UP + 200,
        kind="hung task",
        origin="quoted",
        sources=cites("hung-jfsmount-no-info"),
    )
    # -- segfault loops: an interpreter that jumps to 0 (core dumps logged); web-2's crashes
    #    that start 40 minutes in.
    crashes = _times("bad-rip", UP + 75, UP + 6000, 20.0, 70.0)
    add(
        "fault-segfault-bad-rip-coredumps",
        "segfault-loop",
        "the upgrade breaks web-1's python3.7: from 75 s after it the worker crashes every 20 "
        "to 70 s jumping to address 0 (`segfault at 0 ip 0000000000000000 ... error 14`, `Code: "
        "Bad RIP value.`, quoted) and systemd-coredump logs each core (quoted); its supervisor "
        "restarts it; 1.5% of requests fail",
        [
            Host(
                "web-1",
                kernel=_repeated("segv-python3-bad-rip", crashes),
                syslog=_syslog_lines("coredump-python3-clear", [t + 0.3 for t in crashes]),
                error_ratio=after(const(0.002), crashes[0], const(0.015)),
            )
        ],
        crashes[0],
        kind="segfault loop",
        origin="quoted",
        sources=cites("segv-python3-bad-rip", "coredump-python3-clear"),
    )
    crashes = _times("jemalloc", UP + 2400, UP + 10000, 300.0, 720.0)
    add(
        "fault-segfault-jemalloc-web2-late",
        "segfault-loop",
        "web-2 is the canary (web-1 not upgraded); 40 minutes after its upgrade, when the new "
        "release's first hourly report runs, its python3 worker crashes in libjemalloc "
        "(`show_signal_msg: N callbacks suppressed` then the segfault line, quoted) every 5 "
        "to 12 minutes; requests are served by the other workers",
        [
            Host("web-2", kernel=_repeated("segv-python3-jemalloc", crashes)),
            Host("web-1", upgrades=[]),
        ],
        crashes[0],
        kind="segfault loop",
        duration=3 * HOUR,
        origin="quoted",
        sources=cites("segv-python3-jemalloc"),
    )
    # -- systemd: a sidecar that hits its start limit every 10 minutes (a timer resets it);
    #    docker's start limit on a batch host.
    resets = [UP + 180 + 600 * k for k in range(9)]
    add(
        "fault-unit-start-limit-every-10min",
        "systemd-unit-failure",
        "web-1's metrics sidecar cannot read the config the upgrade installs: from 3 minutes "
        "after it, systemd restarts it six times in a few seconds and gives up (`Start request "
        "repeated too quickly`, `Failed with result 'start-limit-hit'`, quoted); a timer resets "
        "it every 10 minutes and it fails the same way; the service answers",
        [Host("web-1", syslog=build.quoted_units("systemd-power-monitor-start-limit", resets))],
        UP + 180,
        kind="unit failed",
        origin="quoted",
        sources=cites("systemd-power-monitor-start-limit"),
    )
    add(
        "fault-unit-docker-start-limit-batch",
        "systemd-unit-failure",
        "batch-1's upgrade brings a container engine whose storage driver does not start: 50 s "
        "after the upgrade docker.service enters the failed state and hits its start limit "
        "(quoted, older systemd wording); the runner answers, every job that needs a "
        "container fails (4 error lines a minute)",
        [
            _host(
                "batch-1",
                syslog=quoted_unit(UP + 50, "systemd-docker-start-limit"),
                errors_per_minute=after(const(0.05), UP + 50, const(4.0)),
            )
        ],
        UP + 50,
        kind="unit failed",
        origin="quoted",
        sources=cites("systemd-docker-start-limit"),
    )
    # -- data: a backfill 25 minutes after a run; a second upgrade that breaks replication.
    add(
        "fault-data-mismatch-late-backfill-run",
        "data-mismatch",
        "upgrade of db-1 by `rollsafe upgrade` (upgrade_started 80 s before the upgrade mark; "
        "PostgreSQL's fast shutdown and start logged between them, quoted; port refused 20 s); "
        "25 minutes after the mark the new release's backfill job writes to the primary only: "
        "the data check differs from then on",
        [
            _host(
                "db-1",
                **rolled(UP - 80, UP),
                down=[(UP - 50, UP - 30)],
                syslog=build.quoted_postgres(UP - 51, "pg-fast-shutdown-restart", pid=2231),
                data_bad_from=UP + 1500,
            )
        ],
        UP + 1500,
        kind="data mismatch",
        origin="quoted",
        sources=cites("pg-fast-shutdown-restart"),
    )
    add(
        "fault-data-mismatch-second-upgrade",
        "data-mismatch",
        "db-1 is upgraded at 1 hour (healthy) and again 40 minutes later; the second version's "
        "replication filter drops a table: the data check differs from the second restart on",
        [
            _host(
                "db-1",
                upgrades=[UP, UP + 2400],
                down=[(UP - 15, UP), (UP + 2385, UP + 2400)],
                data_bad_from=UP + 2400,
            )
        ],
        UP + 2400,
        kind="data mismatch",
        duration=2.5 * HOUR,
    )
    return out


# --------------------------------------------------------------------------- healthy


def healthy() -> list[Scenario]:
    """Held-out-7 healthy upgrades, synthetic and quoted: the noise that fools naive rules."""
    out: list[Scenario] = []
    _add(
        out,
        "healthy-pg-restart-run-cold-cache",
        "warmup-restart",
        "upgrade of db-1 by `rollsafe upgrade` (upgrade_started 90 s before the upgrade mark); "
        "PostgreSQL logs its fast shutdown and its start (quoted: `terminating connection due "
        "to administrator command` among them); port refused 20 s; query p99 starts 3 times "
        "higher and decays with a time constant of 4 minutes",
        [
            _host(
                "db-1",
                **rolled(UP - 90, UP),
                down=[(UP - 50, UP - 30)],
                syslog=build.quoted_postgres(UP - 51, "pg-fast-shutdown-restart", pid=2231),
                query_latency=decaying(UP - 30, 0.012, 0.036, 240.0),
            )
        ],
        origin="quoted",
        sources=cites("pg-fast-shutdown-restart"),
    )
    _add(
        out,
        "healthy-planned-reboot-logged-shutdown",
        "warmup-restart",
        "upgrade of web-1 by `rollsafe upgrade` with a reboot between the marks "
        "(upgrade_started 5 minutes before the upgrade mark); the shutdown is logged "
        "(systemd-logind's `The system will reboot now!`, PID 1 stopping Apache and MariaDB, "
        "quoted); refused 95 s; the boot finishes; p99 2.5 times higher, decaying over 3 "
        "minutes; memory regrows",
        [
            Host(
                "web-1",
                **rolled(UP - 300, UP),
                syslog=[
                    *_prefixed(UP - 250, "logind-reboot-asked", "systemd-logind[655]: "),
                    *_prefixed(UP - 249, "shutdown-apache-mariadb", "systemd[1]: "),
                    *_boot(UP - 140),
                ],
                down=[(UP - 245, UP - 150)],
                p99=decaying(UP - 150, 0.22, 0.55, 180.0),
                memory=lambda t: (
                    52.0 if t < UP - 150 else 52.0 - 22.0 * math.exp(-(t - UP + 150) / 900.0)
                ),
            )
        ],
        origin="quoted",
        sources=cites("logind-reboot-asked", "shutdown-apache-mariadb"),
    )
    _add(
        out,
        "healthy-power-cycle-no-shutdown-db",
        "warmup-restart",
        "db-1's upgrade is applied by the cloud's maintenance, which power-cycles it (no "
        "shutdown logged) 140 s before its one `upgrade` mark; the port is refused 130 s; "
        "PostgreSQL recovers from its WAL (`database system was interrupted`, `automatic "
        "recovery in progress`, quoted); query p99 4 times higher at first, decaying over 5 "
        "minutes",
        [
            _host(
                "db-1",
                down=[(UP - 140, UP - 10)],
                syslog=build.quoted_postgres(UP - 12, "pg-crash-recovery", pid=611),
                query_latency=decaying(UP - 10, 0.012, 0.048, 300.0),
            )
        ],
        origin="quoted",
        sources=cites("pg-crash-recovery"),
    )
    _add(
        out,
        "healthy-cron-batch-every-20min",
        "cron-cpu",
        "batch-1 runs an import every 20 minutes (one of them 4 minutes after the upgrade): "
        "CPU 90% and memory 15 points higher for 4 minutes, a few job warnings",
        [
            _host(
                "batch-1",
                cpu=lambda t: 90.0 if ((t + 960.0) % 1200.0) < 240.0 else 15.0,
                memory=lambda t: 55.0 if ((t + 960.0) % 1200.0) < 240.0 else 40.0,
                noise_per_minute=1.0,
            )
        ],
        duration=2.5 * HOUR,
    )
    _add(
        out,
        "healthy-prometheus-down-after-upgrade",
        "monitoring-gap",
        "Prometheus itself is restarted by its own upgrade a minute after web-1's: for 6 "
        "minutes web-1's error ratio, p99, CPU and memory cannot be read; the health check "
        "answers throughout",
        [Host("web-1", gaps={"prometheus": [(UP + 60, UP + 420)]})],
    )
    _add(
        out,
        "healthy-prober-restarts-every-15min",
        "monitoring-gap",
        "the prober that checks web-1 restarts every 15 minutes (a memory limit of its own): "
        "40 s of health checks time out in DNS each time, before and after the upgrade",
        [
            Host(
                "web-1",
                gaps={"health": [(900.0 * k + 130.0, 900.0 * k + 170.0) for k in range(8)]},
            )
        ],
    )
    noise = _times("nginx-noise", 0.0, 2 * HOUR, 10.0, 30.0)
    _add(
        out,
        "healthy-nginx-upstream-noise",
        "preexisting-errors",
        "web-1's proxy has logged `upstream prematurely closed connection` (nginx, quoted) "
        "about 3 times a minute for weeks (clients on a slow network), and 0.4% of requests "
        "fail; the upgrade changes none of it",
        [
            Host(
                "web-1",
                error_ratio=const(0.004),
                errors_per_minute=const(0.0),
                app_lines=_nginx(noise),
            )
        ],
        origin="quoted",
        sources=cites("nginx-upstream-closed"),
    )
    _add(
        out,
        "healthy-dependency-blip-fleet",
        "dependency-blip",
        "the identity provider times out for 3 minutes 18 minutes after web-1's upgrade: "
        "web-1 and web-2 (not upgraded) alike fail 2% of requests, p99 doubles and 5 timeout "
        "lines a minute are logged",
        [
            Host(
                target,
                upgrades=ups,
                error_ratio=bumped(const(0.002), [(UP + 1100, UP + 1280, 0.02)]),
                p99=bumped(const(0.22), [(UP + 1100, UP + 1280, 0.44)]),
                errors_per_minute=bumped(const(0.05), [(UP + 1100, UP + 1280, 5.0)]),
            )
            for target, ups in (("web-1", [UP]), ("web-2", []))
        ],
    )
    slow = (UP + 800, UP + 1400)
    _add(
        out,
        "healthy-four-host-storage-slowdown",
        "fleet-wide",
        "a fleet of four: web-1 is upgraded, web-2, db-1 and batch-1 are not; 13 minutes "
        "later the shared storage slows everything for 10 minutes: web health checks 2.5 "
        "times slower and p99 twice as high, db query p99 3 times higher, the batch runner "
        "twice as slow",
        [
            *[
                Host(
                    target,
                    upgrades=ups,
                    latency=bumped(const(0.04), [(*slow, 0.1)]),
                    p99=bumped(const(0.22), [(*slow, 0.44)]),
                )
                for target, ups in (("web-1", [UP]), ("web-2", []))
            ],
            _host("db-1", upgrades=[], query_latency=bumped(const(0.012), [(*slow, 0.036)])),
            _host("batch-1", upgrades=[], latency=bumped(const(0.04), [(*slow, 0.08)])),
        ],
    )
    _add(
        out,
        "healthy-peer-never-upgraded-slower",
        "fleet-wide",
        "web-1 is upgraded and unchanged by it; web-2 is never upgraded and, as for weeks, is "
        "slower (health checks 70 ms, p99 0.45 s) and fails 1% of requests (an older version "
        "with a known bug)",
        [
            Host("web-1"),
            Host(
                "web-2",
                upgrades=[],
                latency=const(0.07),
                p99=const(0.45),
                error_ratio=const(0.01),
                errors_per_minute=const(1.0),
            ),
        ],
    )
    _add(
        out,
        "healthy-two-hosts-rolled-10min-apart",
        "warmup-restart",
        "web-1 and web-2 are upgraded by two `rollsafe upgrade` runs 10 minutes apart (both "
        "marks on each, restart refused 12 s); each warms up alike (p99 twice as high for 2 "
        "minutes, health checks 60% slower)",
        [
            Host(
                target,
                **rolled(UP - 45 + shift, UP + shift),
                down=[(UP - 25 + shift, UP - 13 + shift)],
                p99=bumped(const(0.22), [(UP - 13 + shift, UP + 107 + shift, 0.44)]),
                latency=bumped(const(0.04), [(UP - 13 + shift, UP + 107 + shift, 0.064)]),
            )
            for target, shift in (("web-1", 0.0), ("web-2", 600.0))
        ],
    )
    _add(
        out,
        "healthy-other-service-deployed",
        "restart-blip",
        "web-1 is upgraded; 22 minutes later another team deploys its node exporter on the same "
        "host (systemd stops and starts it; CPU and memory unread for 40 s; the install burns "
        "CPU at 60% for 2 minutes); the application is not touched",
        [
            Host(
                "web-1",
                syslog=[
                    (
                        UP + 1300,
                        "systemd[1]: Stopping prometheus-node-exporter.service - "
                        "Prometheus exporter for machine metrics...",
                    ),
                    (
                        UP + 1301,
                        "systemd[1]: prometheus-node-exporter.service: Deactivated successfully.",
                    ),
                    (
                        UP + 1340,
                        "systemd[1]: Started prometheus-node-exporter.service - "
                        "Prometheus exporter for machine metrics.",
                    ),
                ],
                gaps={"cpu": [(UP + 1300, UP + 1340)], "memory": [(UP + 1300, UP + 1340)]},
                cpu=bumped(const(22.0), [(UP + 1340, UP + 1460, 60.0)]),
            )
        ],
    )
    _add(
        out,
        "healthy-single-oom-java-report",
        "single-oom",
        "an operator runs a Java report on web-1 45 minutes after a healthy upgrade; the "
        "kernel kills it once (`Out of memory: Kill process N (java)`, quoted); the service "
        "is not concerned",
        [Host("web-1", kernel=quoted_event(UP + 2700, "oom-3x-java-commafeed"))],
        origin="quoted",
        sources=cites("oom-3x-java-commafeed"),
    )
    _add(
        out,
        "healthy-single-segfault-sqlite",
        "single-segfault",
        "a maintenance script on batch-1 segfaults once in libsqlite3, 13 minutes after a "
        "healthy upgrade (quoted); the runner is not concerned",
        [_host("batch-1", kernel=quoted_event(UP + 800, "segv-python3-sqlite-once"))],
        origin="quoted",
        sources=cites("segv-python3-sqlite-once"),
    )
    _add(
        out,
        "healthy-single-unit-config-watcher",
        "single-unit-failure",
        "43 minutes after web-1's healthy upgrade an operator applies an unrelated config "
        "change; its path-triggered watcher unit starts too often and hits its start limit "
        "once (quoted); nothing else changes",
        [Host("web-1", syslog=quoted_unit(UP + 2600, "systemd-config-json-once"))],
        origin="quoted",
        sources=cites("systemd-config-json-once"),
    )
    _add(
        out,
        "healthy-cache-plateau-batch",
        "cache-growth",
        "batch-1's new release keeps a lookup table in memory: memory climbs 12 points over 40 "
        "minutes after the upgrade, then stays at 57%",
        [_host("batch-1", memory=lambda t: 45.0 + 12.0 * min(1.0, max(0.0, t - UP) / 2400.0))],
        duration=3 * HOUR,
    )
    _add(
        out,
        "healthy-gc-sawtooth-7min",
        "gc-sawtooth",
        "web-1's JVM climbs from 55% to 75% and collects every 7 minutes, before and after the "
        "upgrade alike",
        [Host("web-1", memory=lambda t: 55.0 + 20.0 * ((t % 420.0) / 420.0))],
    )
    _add(
        out,
        "healthy-flapping-disk-alert",
        "flapping-alert",
        "an alert on web-1's p99 flaps every 3 to 6 minutes from 20 minutes before its healthy "
        "upgrade to 40 minutes after (its threshold sits on the normal value); nothing changes",
        [Host("web-1", alerts=_flaps("disk-alert", UP - 1200, UP + 2400))],
    )
    return out


def _flaps(seed: str, start: float, end: float) -> list[tuple[float, str]]:
    draw = _rng(seed)
    out = []
    t, firing = start, False
    while t < end:
        firing = not firing
        out.append((t, "firing" if firing else "resolved"))
        t += draw.uniform(180.0, 360.0)
    if firing:
        out.append((t, "resolved"))
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
    """Held-out-7 recordings on the real metrics and logs of ``../shared/data`` (see the
    module notes for which days and line ranges)."""
    out: list[Scenario] = []

    add = _HALF.real_adder(out)
    stretch = build.stretched
    kernel_of = build.kernel_of

    elb = nab["elb_request_count_8c0756"]
    rds = nab["rds_cpu_utilization_cc0c53"]
    disk = nab["ec2_disk_write_bytes_1ef3de"]
    c5f = nab["ec2_cpu_utilization_5f5533"]
    c24 = nab["ec2_cpu_utilization_24ae8d"]

    # -- intermittent errors (one minute in three) over real traffic (ELB, day 8).
    scale = 45.0 / max(1.0, elb.median())
    traffic8 = elb.curve(8 * DAY + 4 * HOUR, scale=scale)
    up = 2 * HOUR
    add(
        Scenario(
            "fault-errors-one-minute-in-three-real",
            "metrics-error-ratio",
            "web-1's traffic is a real ELB's (NAB elb_request_count_8c0756, day 8 from 04:00, "
            "scaled to a median of 45 requests/s); from 8 minutes after its upgrade, one minute "
            "in every three fails 6% of requests (a retry storm against a connection limit the "
            "release lowered), 0.3% otherwise",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    traffic=lambda t: max(1.0, traffic8(t)),
                    error_ratio=lambda t, up=up: (
                        0.06 if t >= up + 480 and ((t - up - 480) % 180.0) < 60.0 else 0.003
                    ),
                )
            ],
            duration=4 * HOUR,
            faults=[fault("web-1", up + 480, "request errors")],
            sources=[cite_nab("elb_request_count_8c0756")],
        )
    )
    # -- a database's query p99 tripling over real load (RDS, day 8).
    load = rds.level(8 * DAY, smooth=30 * MINUTE)
    up = 2 * HOUR
    add(
        Scenario(
            "fault-query-p99-triples-real-rds",
            "metrics-latency-quantile",
            "db-1's query p99 follows a real RDS instance's load (NAB rds_cpu_utilization_"
            "cc0c53, day 8, smoothed over 30 minutes, about 10 to 18 ms); 4 minutes after the "
            "upgrade at 2 hours (statistics reset, plans regress) it is 3 times that and stays",
            [
                _host(
                    "db-1",
                    upgrades=[up],
                    query_latency=lambda t, up=up: (
                        0.010 * (1.0 + 0.8 * max(0.0, load(t))) * (3.0 if t >= up + 240 else 1.0)
                    ),
                )
            ],
            duration=5 * HOUR,
            faults=[fault("db-1", up + 240, "query p99")],
            sources=[cite_nab("rds_cpu_utilization_cc0c53")],
        )
    )
    # -- a slow leak over real wander (disk writes, day 12).
    wander = disk.wander(12 * DAY, amplitude=2.0)
    up = 3 * HOUR
    add(
        Scenario(
            "fault-memory-leak-4ph-real-day12",
            "memory-leak",
            "batch-1's memory wanders about 2 points with a real instance's disk writes (NAB "
            "ec2_disk_write_bytes_1ef3de, day 12, smoothed over an hour) around 48%; the "
            "upgrade at 3 hours leaks 4 points an hour",
            [
                _host(
                    "batch-1",
                    upgrades=[up],
                    memory=lambda t, up=up: 48.0 + wander(t) + max(0.0, t - up) / HOUR * 4.0,
                )
            ],
            duration=7 * HOUR,
            faults=[fault("batch-1", up, "memory leak")],
            sources=[cite_nab("ec2_disk_write_bytes_1ef3de")],
        )
    )
    # -- OOM kills on a batch host whose job log is the first half of Hadoop's run.
    kills = _times("gc-thread", UP + 600, UP + 6000, 180.0, 300.0)
    add(
        Scenario(
            "fault-oom-gc-thread-over-hadoop-real",
            "oom-repeated",
            "batch-1's job log is the first half of Loghub's real Hadoop run (lines 0 to 999, "
            "stretched over an hour from 30 minutes before the upgrade, WARN and ERROR lines "
            "included); from 10 minutes after the upgrade, every 3 to 5 minutes, the new job's "
            "JVM runs the host out of memory (`GC Thread#9 invoked oom-killer`, 5.4, quoted); "
            "memory at 96%",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=[
                        (UP - 30 * MINUTE + t, line) for t, line in stretch(hadoop, 0, 1000, HOUR)
                    ],
                    kernel=_repeated("oom-invoked-gc-thread-5x", kills),
                    memory=after(const(60.0), kills[0], const(96.0)),
                )
            ],
            duration=2.5 * HOUR,
            faults=[fault("batch-1", kills[0], "oom kills")],
            sources=[cite_log("Hadoop_2k.log"), *cites("oom-invoked-gc-thread-5x")],
        )
    )
    # -- soft lockups over real syslog; a segfault loop over real syslog.
    noise = stretch(linux, 0, 300, 150 * MINUTE)
    lockups = _times("lockup-22s", UP + 900, UP + 7000, 600.0, 900.0)
    add(
        Scenario(
            "fault-lockup-22s-over-linux-real",
            "soft-lockup",
            "batch-1's syslog and kern.log are real Linux syslog (Loghub, lines 0 to 299 "
            "stretched over 2.5 hours); from 15 minutes after the upgrade, every 10 to 15 "
            "minutes, a 22 s soft lockup of a node worker (quoted); the runner's checks during "
            "each take 3 s",
            [
                _host(
                    "batch-1",
                    syslog=noise,
                    kernel=[*kernel_of(noise), *_repeated("lockup-node-22s", lockups)],
                    slow=[(t - 20 + 10 * k, 3.0) for t in lockups for k in range(2)],
                )
            ],
            duration=150 * MINUTE,
            faults=[fault("batch-1", lockups[0] - 22, "soft lockup")],
            sources=[cite_log("Linux_2k.log"), *cites("lockup-node-22s")],
        )
    )
    noise = stretch(hadoop, 1000, 999, 90 * MINUTE)
    crashes = _times("python2", UP + 240, UP + 5000, 120.0, 240.0)
    add(
        Scenario(
            "fault-segfault-python2-over-hadoop-real",
            "segfault-loop",
            "batch-1's job log is the second half of Loghub's real Hadoop run (lines 1,000 to "
            "1,998 stretched over 90 minutes from 30 minutes before the upgrade); from 4 "
            "minutes after the upgrade a python2 helper crashes in libc-2.27 every 2 to 4 "
            "minutes (quoted, with its Code: line)",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=[(UP - 30 * MINUTE + t, line) for t, line in noise],
                    kernel=_repeated("segv-python2-libc227", crashes),
                )
            ],
            faults=[fault("batch-1", crashes[0], "segfault loop")],
            sources=[cite_log("Hadoop_2k.log"), *cites("segv-python2-libc227")],
        )
    )
    # -- healthy: real cron-like CPU; the first half of the Apache log; real syslog; a real
    #    morning ramp; a real half day of CPU and load.
    cpu5f = c5f.curve(12 * DAY)
    add(
        Scenario(
            "healthy-cron-real-5f5533-day12",
            "cron-cpu",
            "web-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_5f5533, day 12, "
            "outside its anomaly windows); healthy upgrade at 2 hours",
            [Host("web-1", upgrades=[2 * HOUR], cpu=cpu5f, cpu_noise=1.0)],
            duration=5 * HOUR,
            sources=[cite_nab("ec2_cpu_utilization_5f5533")],
        )
    )
    errors = stretch(apache, 0, 1000, 3 * HOUR)
    add(
        Scenario(
            "healthy-apache-first-half-real",
            "preexisting-errors",
            "web-1's error log is the first half of Loghub's real Apache error log (lines 0 to "
            "999, `[notice]` and `[error]` alike, stretched over 3 hours in their order and "
            "spacing); healthy upgrade at 100 minutes by `rollsafe upgrade` (upgrade_started "
            "40 s before the mark, restart refused 10 s)",
            [
                Host(
                    "web-1",
                    **rolled(100 * MINUTE - 40, 100 * MINUTE),
                    down=[(100 * MINUTE - 25, 100 * MINUTE - 15)],
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Apache_2k.log")],
        )
    )
    noise = stretch(linux, 100, 500, 150 * MINUTE)
    add(
        Scenario(
            "healthy-linux-syslog-web-real",
            "noisy-syslog",
            "web-1's syslog and kern.log are real Linux syslog (Loghub, lines 100 to 599 "
            "stretched over 2.5 hours: ftpd connections, sshd authentication failures, kernel "
            "lines); a healthy upgrade by an external tool restarts the service at 1 hour",
            [
                Host(
                    "web-1",
                    **{
                        **restart_at(UP, refused=10.0),
                        "syslog": [*restart_at(UP, refused=10.0)["syslog"], *noise],
                    },
                    kernel=kernel_of(noise),
                )
            ],
            duration=150 * MINUTE,
            sources=[cite_log("Linux_2k.log")],
        )
    )
    scale = 40.0 / max(1.0, elb.median())
    morning = elb.curve(8 * DAY + 5 * HOUR, scale=scale)
    add(
        Scenario(
            "healthy-elb-day8-morning-real",
            "traffic-growth",
            "web-1's traffic is a real ELB's morning (NAB elb_request_count_8c0756, day 8 from "
            "05:00, scaled to a median of 40 requests/s); p99, CPU and the error ratio's noise "
            "follow it; a healthy upgrade at 06:30 as traffic climbs",
            [
                Host(
                    "web-1",
                    upgrades=[1.5 * HOUR],
                    traffic=lambda t: max(0.5, morning(t)),
                    p99=lambda t: 0.18 + 0.0025 * max(0.0, morning(t)),
                    cpu=lambda t: 10.0 + 0.7 * max(0.0, morning(t)),
                )
            ],
            duration=5 * HOUR,
            sources=[cite_nab("elb_request_count_8c0756")],
        )
    )
    cpu24 = c24.curve(8 * DAY)
    level = rds.level(8 * DAY + 12 * HOUR)
    add(
        Scenario(
            "healthy-half-day-real-cpu-and-p99",
            "daily-cycle",
            "12 hours of web-1: CPU is a real EC2 instance's (NAB ec2_cpu_utilization_24ae8d, "
            "day 8) and p99 follows a real RDS instance's load (NAB rds_cpu_utilization_cc0c53, "
            "day 8 from 12:00, smoothed over an hour); a healthy upgrade at 7 hours",
            [
                Host(
                    "web-1",
                    upgrades=[7 * HOUR],
                    cpu=cpu24,
                    p99=lambda t: 0.2 * (1.0 + 0.6 * max(0.0, level(t))),
                )
            ],
            duration=12 * HOUR,
            sources=[
                cite_nab("ec2_cpu_utilization_24ae8d"),
                cite_nab("rds_cpu_utilization_cc0c53"),
            ],
        )
    )
    return out
