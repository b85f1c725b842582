"""Held-out-8 of rollsafe's judgment corpus: upgrades nobody tuned on (issue #15, round 9).

Every earlier half (design, held-out, held-out-2 to held-out-7) has been looked at by people
changing rules, so none of them says any more how the shipped presets judge data nobody has
seen. This half does: written in round 9 by a helper that changed no rule, preset or judge
code, while others were changing rules without seeing it, from what a fleet meets (not from
what the rules catch or miss), and replayed once with the presets as they were. No preset may
be tuned on it (``--half held-out-8``).

What is new here against the earlier halves: faults that begin while a monitoring gap is open
(Prometheus down, the prober's DNS failing), hosts whose pre-upgrade hour was itself noisy,
recordings with only 10 minutes of history before the upgrade, health checks sampled every
30 s and every 60 s, request errors at 4 requests a minute, a p99 that moves while the health
check's latency does not, a leak that looks like a cache filling and a cache that stops, a
fault only on a replica (web-2 upgraded with web-1, only web-2 failing), fleets of three and
four hosts, and log formats no earlier half writes: a kern.log with RFC 3339 stamps (rsyslog's
high-precision template, Ubuntu 24.04's default), RFC 5424 syslog, ``journalctl -o
short-iso`` lines, container-runtime (CRI) application logs, an application log whose own
stamps are half an hour off until chrony steps the clock. Wordings no earlier half quotes: a
sidecar's ``dd invoked oom-killer`` with ``oom_score_adj=936``, the one-line
``oom-kill:constraint=CONSTRAINT_MEMCG`` summary, cgroup v1 usage lines, ``Killed process ...
(haproxy)`` in a limited ``system.slice``, OOM kills seen only as PostgreSQL's ``server
process ... was terminated by signal 9``, ``Fatal exception in interrupt`` panics with an
automatic reboot, page-fault oopses (``#PF:``), the older ``unable to handle kernel paging
request``, a POWER ``Oops: Kernel access of bad area``, RCU stalls with and without soft
lockups, one CPU reported stuck again and again with its seconds climbing, hung tasks that say
``122 seconds``, ``traps: node[N] general protection``, a segfault line without a library, a
unit failing on its dependency, and harmless kernel ``WARNING: CPU:`` reports.

``corpus/build.py`` renders these scenarios like every other (the same ``Host`` and
``Scenario`` model, the same probes); this module only describes them. Its irregular times
come from generators of their own (``held-out-8/<seed>``), and every recording is rendered
from a generator seeded by its own name, so adding this half moves no byte of the others.
Real data: kernel, systemd, PostgreSQL and chrony messages quoted from public reports no other
half cites (``corpus/quoted.py``, held-out-8 section, each with its URL), and NAB metrics and
Loghub logs of ``../shared/data`` (NAB day 13 and day 6, Loghub line ranges other than the
earlier halves' spans), read at build time (``real``).
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
    rolled,
)

HELD_OUT_8 = "held-out-8"  # written in round 9 by a helper that changed no rule; never tuned on


_HALF = build.Half(HELD_OUT_8)
_times = _HALF.times  # irregular times of this half's own (``held-out-8/<seed>``)
_add = _HALF.add
_fault_adder = _HALF.fault_adder
_host = build._host
_repeated = build.repeated
_rng = _HALF.rng


# --------------------------------------------------------------------------- log formats


def _when(t: float, shift: float = 0.0) -> dt.datetime:
    return dt.datetime.fromtimestamp(START + t + shift, tz=dt.UTC)


def _rfc3339_kernel(target: str, lines: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Kernel lines as rsyslog's high-precision template writes kern.log (RFC 3339 stamps)."""
    return [
        (t, f"@raw {_when(t):%Y-%m-%dT%H:%M:%S.%f}+00:00 {target} kernel: {line}")
        for t, line in lines
    ]


def _rfc5424(target: str, t: float, app: str, pid: int, message: str, *, pri: int = 30) -> str:
    """One RFC 5424 syslog line (``<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG``), raw."""
    return f"@raw <{pri}>1 {_when(t):%Y-%m-%dT%H:%M:%S.%f}Z {target} {app} {pid} - - {message}"


def _short_iso(target: str, t: float, tag: str, message: str) -> str:
    """One line as ``journalctl -o short-iso`` prints it, raw."""
    return f"@raw {_when(t):%Y-%m-%dT%H:%M:%S}+0000 {target} {tag}: {message}"


def _cri(t: float, stream: str, message: str) -> tuple[float, str]:
    """One container-runtime (CRI) log line: RFC 3339 nanosecond stamp, stream, tag F."""
    return (t, f"@raw {_when(t):%Y-%m-%dT%H:%M:%S.%f}000Z {stream} F {message}")


def _syslog(key: str, times: list[float], tag: str) -> list[tuple[float, str]]:
    """A quoted event's lines after a syslog tag (``postgres[1]: ``), its ``n``-th time with
    its pids moved."""
    return [
        (t + i * 0.01, f"{tag}{line}")
        for n, t in enumerate(times)
        for i, line in enumerate(quoted.EVENTS[key].repeated(n))
    ]


def _boot(at: float) -> list[tuple[float, str]]:
    """What PID 1 logs when a boot has finished (synthetic, a usual systemd wording)."""
    return [(at, "systemd[1]: Startup finished in 1.872s (kernel) + 6.330s (userspace) = 8.202s.")]


def _windows(times: list[float], length: float, value: float) -> list[tuple[float, float, float]]:
    return [(t, t + length, value) for t in times]


def _stairs(start: float, every: float, step: float, base: float) -> Callable[[float], float]:
    return lambda t: base + step * max(0, int((t - start) // every) + 1) if t >= start else base


# --------------------------------------------------------------------------- faults


def faults() -> list[Scenario]:
    """Held-out-8 faults, synthetic and quoted: every family issue #15 names."""
    return [*_faults_signals(), *_faults_down_and_kernel()]


def _faults_signals() -> list[Scenario]:
    """Held-out-8 faults that the service's signals show: errors, p99, latency, memory, OOM."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- request errors: a trickle of traffic; errors that begin while Prometheus is down.
    add(
        "fault-errors-low-traffic-4rpm",
        "metrics-error-ratio",
        "web-1 is an internal admin API that serves about 4 requests a minute; 150 s after its "
        "upgrade a new token check rejects the old token format most of its clients still use: "
        "35% of requests fail (1% before) and the application logs about 1.4 errors a minute; "
        "health answers 200",
        [
            Host(
                "web-1",
                traffic=const(0.07),
                error_ratio=after(const(0.01), UP + 150, const(0.35)),
                errors_per_minute=after(const(0.01), UP + 150, const(1.4)),
            )
        ],
        UP + 150,
        kind="request errors",
    )
    info = _times("cri-info", 0.0, 2 * HOUR, 30.0, 90.0)
    errs = _times("cri-errors", UP + 300, 2 * HOUR, 15.0, 45.0)
    add(
        "fault-errors-begin-in-prometheus-gap",
        "metrics-error-ratio",
        "web-1 runs in a container; Prometheus is restarted by its own upgrade a minute after "
        "web-1's and is unreadable for 10 minutes; 5 minutes after web-1's upgrade, while the "
        "gap is still open, 4% of requests start to fail (a new connection-pool size too small "
        "for the database's limit) and the container's stderr logs about 2 errors a minute "
        "(container-runtime log format: RFC 3339 nanosecond stamp, stream, F)",
        [
            Host(
                "web-1",
                gaps={"prometheus": [(UP + 60, UP + 660)]},
                error_ratio=after(const(0.003), UP + 300, const(0.04)),
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=[
                    *[
                        _cri(t, "stdout", 'level=info msg="served request" path=/api/orders')
                        for t in info
                    ],
                    *[
                        _cri(
                            t,
                            "stderr",
                            'level=error msg="pool exhausted: timed out waiting for a '
                            'connection after 5s" path=/api/orders',
                        )
                        for t in errs
                    ],
                ],
            )
        ],
        UP + 300,
        kind="request errors",
    )
    # -- p99: a tail that moves while the health check does not (30 s prober); a p99 step on a
    #    host whose hour before the upgrade was noisy.
    add(
        "fault-p99-tail-only-30s-prober",
        "metrics-latency-quantile",
        "web-1's health check is sampled every 30 s and stays at 40 ms; 90 s after the upgrade "
        "a new lock on a rare write path makes 2% of requests slow: p99 goes from 0.22 s to "
        "0.55 s for good while the median (and the health check) does not move",
        [Host("web-1", health_every=30.0, p99=after(const(0.22), UP + 90, const(0.55)))],
        UP + 90,
        kind="p99 latency",
    )
    bursts = [(UP - 3600 + 600 * k + 120, UP - 3600 + 600 * k + 240, 0.5) for k in range(6)]
    add(
        "fault-p99-step-after-noisy-hour",
        "metrics-latency-quantile",
        "web-1's hour before the upgrade was noisy: a report job hit it for 2 minutes every 10 "
        "minutes (p99 0.5 s in each burst) and was moved to another host at the upgrade; 4 "
        "minutes after the upgrade the new release's serializer makes p99 0.5 s for good",
        [Host("web-1", p99=bumped(after(const(0.22), UP + 240, const(0.5)), bursts))],
        UP + 240,
        kind="p99 latency",
    )
    # -- health latency: a 60 s prober; only 10 minutes of history before the upgrade.
    add(
        "fault-latency-4x-60s-prober",
        "latency-regression",
        "web-1's health check is sampled once a minute (a prober shared by many services); "
        "45 s after the upgrade it takes 160 ms instead of 40 ms (a template cache the new "
        "release no longer enables) and p99 goes from 0.22 s to 0.4 s",
        [
            Host(
                "web-1",
                health_every=60.0,
                latency=after(const(0.04), UP + 45, const(0.16)),
                p99=after(const(0.22), UP + 45, const(0.4)),
            )
        ],
        UP + 45,
        kind="latency",
    )
    add(
        "fault-latency-3x-10min-history",
        "latency-regression",
        "web-1 was added to monitoring 10 minutes before its upgrade (a new host): only 10 "
        "minutes of history; 60 s after the upgrade its health check takes 120 ms instead of "
        "40 ms and p99 doubles",
        [
            Host(
                "web-1",
                upgrades=[600.0],
                latency=after(const(0.04), 660.0, const(0.12)),
                p99=after(const(0.22), 660.0, const(0.44)),
            )
        ],
        660.0,
        kind="latency",
    )
    # -- leaks: one that looks like a cache filling at first; a sidecar's stairs.
    add(
        "fault-leak-cache-shape-then-grows",
        "memory-leak",
        "web-1's new release fills a cache (8 points in about 20 minutes, as a healthy cache "
        "would) but also leaks a buffer per request: from 45% memory climbs 7 points an hour "
        "on top and never levels off",
        [
            Host(
                "web-1",
                memory=lambda t: (
                    45.0
                    if t < UP
                    else 45.0 + 8.0 * (1.0 - math.exp(-(t - UP) / 600.0)) + 7.0 * (t - UP) / HOUR
                ),
            )
        ],
        UP,
        kind="memory leak",
        duration=4 * HOUR,
    )
    add(
        "fault-leak-sidecar-stairs-batch",
        "memory-leak",
        "batch-1's new log-shipping sidecar keeps a copy of its configuration at every reload "
        "(every 12 minutes): memory steps up 2.5 points at each, from 40%, and never comes down",
        [_host("batch-1", memory=_stairs(UP + 60, 720.0, 2.5, 40.0))],
        UP + 60,
        kind="memory leak",
        duration=4 * HOUR,
    )
    # -- OOM kills: a sidecar's dd in its cgroup; haproxy in a limited system.slice; a
    #    database whose kills only its own log shows; containerd's one-line summary.
    kills = _times("dd-sidecar", UP + 200, UP + 6600, 180.0, 420.0)
    add(
        "fault-oom-sidecar-dd-cgroup",
        "oom-repeated",
        "web-1's upgrade ships a new log-archiving sidecar with a 64 MB limit; from 200 s "
        "after it, every 3 to 7 minutes, the sidecar's dd runs out of its cgroup and the kernel "
        "kills it (`dd invoked oom-killer: ... oom_score_adj=936`, 6.1 on GKE, quoted); the "
        "service itself answers and its memory does not move",
        [Host("web-1", kernel=_repeated("oom-invoked-dd-sidecar-6x", kills))],
        kills[0],
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oom-invoked-dd-sidecar-6x"),
    )
    kills = _times("haproxy", UP + 300, UP + 6600, 240.0, 480.0)
    add(
        "fault-oom-haproxy-system-slice",
        "oom-repeated",
        "web-1's upgrade brings a kubelet configuration that limits system.slice to 512 MB; "
        "from 5 minutes after it, every 4 to 8 minutes, the kernel kills haproxy in that "
        "cgroup (`Memory cgroup out of memory: Killed process N (haproxy)`, 5.4, quoted); "
        "each kill refuses 8 s of checks and fails 5% of requests for 30 s",
        [
            Host(
                "web-1",
                kernel=_repeated("oom-memcg-haproxy-system-slice", kills),
                down=[(t + 0.5, t + 8.5) for t in kills],
                error_ratio=bumped(const(0.003), _windows(kills, 30.0, 0.05)),
            )
        ],
        kills[0],
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oom-memcg-haproxy-system-slice"),
    )
    kills = _times("pg-killed", UP + 420, UP + 6600, 300.0, 600.0)
    add(
        "fault-oom-postgres-seen-only-in-its-log",
        "oom-repeated",
        "db-1's PostgreSQL runs in a container whose kernel log is not shipped; the upgrade "
        "raises work_mem and from 7 minutes after it, every 5 to 10 minutes, a backend is "
        "killed (`server process (PID N) was terminated by signal 9: Killed`, crash recovery, "
        "quoted, in syslog); each time the port refuses 4 s while the server reinitialises and "
        "query p99 is 3 times higher for a minute",
        [
            _host(
                "db-1",
                syslog=_syslog("pg-backend-killed-9-recovery", kills, "postgres[1]: "),
                down=[(t + 0.1, t + 4.1) for t in kills],
                query_latency=bumped(const(0.012), _windows(kills, 60.0, 0.036)),
            )
        ],
        kills[0],
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("pg-backend-killed-9-recovery"),
    )
    kills = _times("containerd", UP + 500, UP + 6600, 150.0, 300.0)
    add(
        "fault-oom-constraint-line-rfc3339",
        "oom-repeated",
        "batch-1 runs Ubuntu 24.04, whose rsyslog writes kern.log with RFC 3339 stamps; from "
        "8 minutes after the upgrade, every 2.5 to 5 minutes, the new job image's worker is "
        "killed in its pod's cgroup, logged as the one-line `oom-kill:constraint="
        "CONSTRAINT_MEMCG,...,task=pt_main_thread,pid=N,uid=0` summary (quoted); from the "
        "first kill one runner check in five answers 503",
        [
            _host(
                "batch-1",
                kernel=_rfc3339_kernel(
                    "batch-1", _repeated("oom-constraint-memcg-containerd", kills)
                ),
                health_5xx=after(const(0.0), kills[0], const(0.2)),
            )
        ],
        kills[0],
        kind="oom kills",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("oom-constraint-memcg-containerd"),
    )
    return out


def _faults_down_and_kernel() -> list[Scenario]:
    """Held-out-8 faults that take a host down or that its kernel and syslog tell of."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- outages: 60 s with a 30 s prober; a replica's outages while its twin is fine.
    add(
        "fault-outage-60s-30s-prober",
        "outage-near-down-for",
        "web-1's health check is sampled every 30 s; its new release's acceptor stalls under "
        "a burst: refused 60 s (two checks) 7 minutes after the upgrade, again 38 and 72 "
        "minutes after",
        [
            Host(
                "web-1",
                health_every=30.0,
                down=[(UP + 400, UP + 460), (UP + 2300, UP + 2360), (UP + 4300, UP + 4360)],
            )
        ],
        UP + 400,
        kind="outage",
    )
    add(
        "fault-outage-replica-web2-of-four",
        "outage-near-down-for",
        "a fleet of four: web-1 and web-2 are upgraded together, db-1 and batch-1 are not; "
        "only web-2 (the replica behind the same balancer, another hardware generation) fails: "
        "refused 45 s 10 minutes after the upgrade, again at 25 and 48 minutes",
        [
            Host(
                "web-2", down=[(UP + 600, UP + 645), (UP + 1500, UP + 1545), (UP + 2880, UP + 2925)]
            ),
            Host("web-1"),
            _host("db-1", upgrades=[]),
            _host("batch-1", upgrades=[]),
        ],
        UP + 600,
        kind="outage",
    )
    # -- crashes: one that happens while the prober cannot resolve the host; one on a host
    #    whose hour before was full of short refusals.
    add(
        "fault-crash-while-prober-blind",
        "crash",
        "from 2 minutes after web-1's upgrade the prober cannot resolve web-1 for 6 minutes "
        "(its DNS cache expired during a resolver restart); 5 minutes after the upgrade, while "
        "the prober is blind, the new release panics on a nil pointer and is not restarted: "
        "when the prober sees again, the port is refused, and stays so",
        [
            Host(
                "web-1",
                gaps={"health": [(UP + 120, UP + 480)]},
                down=[(UP + 300, 99 * HOUR)],
                app_lines=[
                    (
                        UP + 299.5,
                        "ERROR [main] app.server: panic: runtime error: invalid memory address "
                        "or nil pointer dereference",
                    )
                ],
            )
        ],
        UP + 300,
        kind="crash",
    )
    add(
        "fault-crash-after-refusing-hour",
        "crash",
        "web-1's hour before the upgrade was full of short refusals (its load balancer "
        "drained it three times for 10 to 20 s); 15 minutes after the upgrade the new release "
        "exits on a malformed cache entry and its supervisor gives up: refused from then on",
        [
            Host(
                "web-1",
                down=[
                    (UP - 3000, UP - 2985),
                    (UP - 1800, UP - 1780),
                    (UP - 600, UP - 590),
                    (UP + 900, 99 * HOUR),
                ],
            )
        ],
        UP + 900,
        kind="crash",
    )
    # -- panics: a board that panics in an interrupt and reboots by itself, three times; a
    #    batch host that panics and stays down.
    panics = [UP + 500, UP + 2300, UP + 4000]
    add(
        "fault-panic-fatal-irq-reboots-itself",
        "kernel-panic",
        "web-1's new network driver panics in an interrupt under load (`Kernel panic - not "
        "syncing: Fatal exception in interrupt`, `Rebooting in 3 seconds..`, quoted) 8 minutes "
        "after the upgrade; the host reboots by itself and answers again after 90 s; it "
        "panics again 30 and 58 minutes after the upgrade",
        [
            Host(
                "web-1",
                kernel=[x for t in panics for x in quoted_event(t, "panic-fatal-irq-reboot-3s")],
                down=[(t + 1, t + 91) for t in panics],
                syslog=[x for t in panics for x in _boot(t + 85)],
            )
        ],
        UP + 500,
        kind="kernel panic",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("panic-fatal-irq-reboot-3s"),
    )
    add(
        "fault-panic-fatal-irq-batch-stays-down",
        "kernel-panic",
        "4 minutes after batch-1's upgrade its kernel panics in an interrupt (`Fatal "
        "exception in interrupt`, `SMP: stopping secondary CPUs`, quoted, through netconsole) "
        "and does not reboot: the runner is down for good",
        [
            _host(
                "batch-1",
                kernel=quoted_event(UP + 240, "panic-fatal-irq-smp-stop"),
                down=[(UP + 241, 99 * HOUR)],
            )
        ],
        UP + 240,
        kind="kernel panic",
        origin="quoted",
        sources=cites("panic-fatal-irq-smp-stop"),
    )
    # -- oopses: a page fault in kswapd, then a slow host; the older paging-request wording
    #    on a database; a POWER oops twice on a batch host.
    add(
        "fault-oops-kswapd-page-fault-then-slow",
        "kernel-oops",
        "15 minutes after web-1's upgrade (a new file-system module) kswapd0 takes a page "
        "fault in kernel mode (`BUG: unable to handle page fault for address`, `#PF:` lines, "
        "`Oops: 0000 [#1] PREEMPT SMP NOPTI`, 5.18, quoted); memory reclaim is stuck from then "
        "on: health checks take 150 ms instead of 40 ms and p99 is 0.6 s",
        [
            Host(
                "web-1",
                kernel=quoted_event(UP + 900, "oops-pf-kswapd-5x"),
                latency=after(const(0.04), UP + 900, const(0.15)),
                p99=after(const(0.22), UP + 900, const(0.6)),
            )
        ],
        UP + 900,
        kind="kernel oops",
        origin="quoted",
        sources=cites("oops-pf-kswapd-5x"),
    )
    add(
        "fault-oops-paging-request-db",
        "kernel-oops",
        "db-1's upgrade loads a new sensor driver; 200 s later the kernel oopses reading from "
        "it (`BUG: unable to handle kernel paging request at ...`, `Oops: 0003 [#1] SMP`, "
        "quoted, 4.9 wording) and the I/O scheduler's worker dies with it: query p99 twice as "
        "high from then on",
        [
            _host(
                "db-1",
                kernel=quoted_event(UP + 200, "oops-paging-request-4x"),
                query_latency=after(const(0.012), UP + 200, const(0.024)),
            )
        ],
        UP + 200,
        kind="kernel oops",
        origin="quoted",
        sources=cites("oops-paging-request-4x"),
    )
    add(
        "fault-oops-ppc64-bad-area-twice",
        "kernel-oops",
        "batch-1 is a POWER host (ppc64le); its upgraded kernel oopses in sshd (`Unable to "
        "handle kernel paging request for data at address 0x00000000`, `Oops: Kernel access of "
        "bad area, sig: 11 [#1]`, quoted) 12 minutes after the upgrade and again 52 minutes "
        "after; from the first one runner check in five answers 503",
        [
            _host(
                "batch-1",
                kernel=[
                    *quoted_event(UP + 700, "oops-ppc64-bad-area"),
                    *quoted_event(UP + 3100, "oops-ppc64-bad-area", 1),
                ],
                health_5xx=after(const(0.0), UP + 700, const(0.2)),
            )
        ],
        UP + 700,
        kind="kernel oops",
        origin="quoted",
        sources=cites("oops-ppc64-bad-area"),
    )
    # -- lockups: an RCU stall then soft lockups, in episodes; one CPU stuck for 4 minutes,
    #    reported again and again; RCU stalls alone.
    episodes = _times("rcu-episodes", UP + 300, UP + 6600, 900.0, 1200.0)
    kernel: list[tuple[float, str]] = []
    slow: list[tuple[float, float]] = []
    for n, t in enumerate(episodes):
        kernel += quoted_event(t, "rcu-sched-kthread-starved")
        for k in range(4):
            kernel += quoted_event(t + 25.0 + 28.0 * k, "lockup-systemd-hostnam-23s", n)
        slow += [(t + 10.0 * k, 4.0) for k in range(12)]
    add(
        "fault-lockup-rcu-starved-then-soft",
        "soft-lockup",
        "web-1's upgrade moves it to a host class whose hypervisor overcommits CPU: from 5 "
        "minutes after it, every 15 to 20 minutes, an RCU stall (`rcu_sched kthread starved "
        "for 15004 jiffies!`, quoted) is followed by four soft lockups of 23 s (`stuck for "
        "23s! [systemd-hostnam:642]`, quoted); checks take 4 s for 2 minutes each time",
        [Host("web-1", kernel=kernel, slow=slow)],
        UP + 300,
        kind="soft lockup",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("rcu-sched-kthread-starved", "lockup-systemd-hostnam-23s"),
    )
    gaps = [0.0, 26.0, 59.0, 85.0, 115.0, 141.0, 175.0, 201.0]  # 45 s .. 246 s stuck
    key = "lockup-rtcwake-climbing"
    kernel = [
        (start + d, line)
        for n, start in enumerate((UP + 600, UP + 3000))
        for d, line in zip(gaps, quoted.EVENTS[key].repeated(n), strict=True)
    ]
    add(
        "fault-lockup-one-cpu-climbing",
        "soft-lockup",
        "batch-1's new power-management helper spins in the kernel: 9 minutes after the "
        "upgrade one CPU is stuck, and the watchdog reports it again and again with the "
        "seconds climbing (`stuck for 45s!` ... `stuck for 246s! [rtcwake:N]`, quoted) until it "
        "frees 4 minutes later; again 50 minutes after the upgrade; the runner's checks take "
        "5 s while the CPU is stuck",
        [
            _host(
                "batch-1",
                kernel=kernel,
                slow=[(s + 10.0 * k, 5.0) for s in (UP + 555, UP + 2955) for k in range(25)],
            )
        ],
        UP + 555,
        kind="soft lockup",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites(key),
    )
    stalls = _times("rcu-preempt", UP + 360, UP + 6600, 200.0, 400.0)
    add(
        "fault-lockup-rcu-preempt-stalls-only",
        "soft-lockup",
        "web-1's upgraded 6.18 kernel stalls in softirq handling under its new packet filter: "
        "from 6 minutes after the upgrade, every 3 to 7 minutes, `rcu: INFO: rcu_preempt "
        "self-detected stall on CPU` with its detail lines (quoted), no soft-lockup line; p99 "
        "is 1.8 times higher from the first stall",
        [
            Host(
                "web-1",
                kernel=[x for t in stalls for x in quoted_event(t, "rcu-preempt-self-detected-6x")],
                p99=after(const(0.22), stalls[0], const(0.4)),
            )
        ],
        stalls[0],
        kind="soft lockup",
        duration=2.5 * HOUR,
        origin="quoted",
        sources=cites("rcu-preempt-self-detected-6x"),
    )
    # -- hung tasks: an XFS kworker on a database; a kern.log with RFC 3339 stamps.
    add(
        "fault-hung-kworker-xfs-db",
        "hung-task",
        "db-1's upgrade changes its storage's queue depth; from 278 s after it an XFS log "
        "worker is blocked, reported 122 s later and every 122 s, 10 times (`INFO: task "
        "kworker/15:1:181 blocked for more than 122 seconds.`, Tainted and task: lines, "
        "quoted); query p99 is 8 times higher while it is blocked",
        [
            _host(
                "db-1",
                kernel=[
                    x
                    for k in range(10)
                    for x in quoted_event(UP + 400 + 122 * k, "hung-kworker-xfs-122s")
                ],
                query_latency=bumped(const(0.012), [(UP + 278, UP + 1620, 0.096)]),
            )
        ],
        UP + 278,
        kind="hung task",
        origin="quoted",
        sources=cites("hung-kworker-xfs-122s"),
    )
    add(
        "fault-hung-kworker-rfc3339-kern-log",
        "hung-task",
        "web-1 runs Ubuntu 24.04 (kern.log with RFC 3339 stamps); from 3 minutes after its "
        "upgrade a writeback kworker is blocked on the new network file system, reported 122 s "
        "later and every 122 s (`INFO: task kworker/u48:7:1511 blocked for more than 122 "
        "seconds.`, 6.8, quoted); p99 is 2.5 times higher from then on",
        [
            Host(
                "web-1",
                kernel=_rfc3339_kernel(
                    "web-1",
                    [
                        x
                        for k in range(15)
                        for x in quoted_event(UP + 300 + 122 * k, "hung-kworker-u48-6x")
                    ],
                ),
                p99=after(const(0.22), UP + 178, const(0.55)),
            )
        ],
        UP + 178,
        kind="hung task",
        origin="quoted",
        sources=cites("hung-kworker-u48-6x"),
    )
    # -- segfault loops: node crashing every few seconds after an application update; a
    #    canary whose crashes start 20 minutes in, the lines naming no library.
    crashes = _times("traps-node", UP + 30, UP + 1800, 4.0, 7.0)
    add(
        "fault-segv-node-traps-every-5s",
        "segfault-loop",
        "web-1's application update brings a node build that crashes at start under its "
        "workload: from 30 s after the upgrade node dies every 4 to 7 seconds (`traps: node[N] "
        "general protection ip:... error:0`, quoted) for half an hour, then its supervisor's "
        "back-off slows the restarts; 8% of requests fail meanwhile",
        [
            Host(
                "web-1",
                kernel=_repeated("traps-node-gp-after-update", crashes),
                error_ratio=bumped(const(0.003), [(UP + 30, UP + 1800, 0.08)]),
            )
        ],
        UP + 30,
        kind="segfault loop",
        origin="quoted",
        sources=cites("traps-node-gp-after-update"),
    )
    crashes = _times("node-no-lib", UP + 1200, UP + 9000, 60.0, 180.0)
    add(
        "fault-segv-no-library-web2-canary",
        "segfault-loop",
        "web-2 is the canary (web-1 not upgraded); 20 minutes after its upgrade, when the new "
        "release's JIT-compiled hot path is first taken, node crashes every 1 to 3 minutes "
        "(`node[N]: segfault at 100000007 ip ... error 4`, no library named, quoted); other "
        "workers serve",
        [
            Host("web-2", kernel=_repeated("segv-node-no-library", crashes)),
            Host("web-1", upgrades=[]),
        ],
        crashes[0],
        kind="segfault loop",
        duration=3 * HOUR,
        origin="quoted",
        sources=cites("segv-node-no-library"),
    )
    # -- unit failures: a unit whose dependency fails; RFC 5424 syslog; journalctl short-iso.
    add(
        "fault-unit-dependency-failed-every-5min",
        "systemd-unit-failure",
        "web-1's upgrade installs a worker unit that requires a helper unit whose binary the "
        "package no longer ships: 40 s after the upgrade `Dependency failed for ...`, `failed "
        "with result 'dependency'`, `status=203/EXEC` (quoted); a path unit retries every 5 "
        "minutes with the same result; the feature the worker served is off (1 error a minute)",
        [
            Host(
                "web-1",
                syslog=build.quoted_units(
                    "systemd-dependency-exec-203", [UP + 40 + 300 * k for k in range(14)]
                ),
                errors_per_minute=after(const(0.05), UP + 40, const(1.0)),
            )
        ],
        UP + 40,
        kind="unit failed",
        origin="quoted",
        sources=cites("systemd-dependency-exec-203"),
    )
    fails = _times("rfc5424", UP + 100, UP + 3600, 120.0, 240.0)
    add(
        "fault-unit-rfc5424-worker-restarting",
        "systemd-unit-failure",
        "web-1's syslog is forwarded in RFC 5424 form (`<PRI>1 TIMESTAMP HOST APP PROCID - - "
        "MSG`); from 100 s after the upgrade its queue worker exits 1 every 2 to 4 minutes "
        "(`app-worker.service: Main process exited, code=exited, status=1/FAILURE`, `Failed "
        "with result 'exit-code'`, usual systemd wording) and is restarted",
        [
            Host(
                "web-1",
                syslog=[
                    line
                    for t in fails
                    for line in (
                        (
                            t,
                            _rfc5424(
                                "web-1",
                                t,
                                "systemd",
                                1,
                                "app-worker.service: Main process exited, code=exited, "
                                "status=1/FAILURE",
                                pri=27,
                            ),
                        ),
                        (
                            t + 0.01,
                            _rfc5424(
                                "web-1",
                                t + 0.01,
                                "systemd",
                                1,
                                "app-worker.service: Failed with result 'exit-code'.",
                                pri=27,
                            ),
                        ),
                    )
                ],
            )
        ],
        UP + 100,
        kind="unit failed",
    )
    fails = _times("short-iso", UP + 60, UP + 5400, 240.0, 360.0)
    add(
        "fault-unit-timeout-short-iso-batch",
        "systemd-unit-failure",
        "batch-1's syslog is what `journalctl -o short-iso` prints; from a minute after the "
        "upgrade its ingest unit, whose new start-up migration takes longer than its start "
        "timeout, is killed and fails every 4 to 6 minutes (`start operation timed out. "
        "Terminating.`, `Failed with result 'timeout'.`, usual systemd wording)",
        [
            _host(
                "batch-1",
                syslog=[
                    line
                    for t in fails
                    for line in (
                        (
                            t,
                            _short_iso(
                                "batch-1",
                                t,
                                "systemd[1]",
                                "ingest.service: start operation timed out. Terminating.",
                            ),
                        ),
                        (
                            t + 0.02,
                            _short_iso(
                                "batch-1",
                                t + 0.02,
                                "systemd[1]",
                                "ingest.service: Failed with result 'timeout'.",
                            ),
                        ),
                        (
                            t + 0.03,
                            _short_iso(
                                "batch-1", t + 0.03, "systemd[1]", "Failed to start Ingest worker."
                            ),
                        ),
                    )
                ],
            )
        ],
        UP + 60,
        kind="unit failed",
    )
    # -- data: 10 minutes of history; a database whose hour before restarted twice.
    add(
        "fault-data-mismatch-10min-history",
        "data-mismatch",
        "db-1 was added to monitoring 10 minutes before its upgrade; 5 minutes after the "
        "upgrade the new release's logical replication skips a partitioned table: the data "
        "check differs from then on",
        [_host("db-1", upgrades=[600.0], data_bad_from=900.0)],
        900.0,
        kind="data mismatch",
    )
    add(
        "fault-data-mismatch-after-restarting-hour",
        "data-mismatch",
        "db-1 was restarted twice in the hour before its upgrade (a configuration being "
        "tuned: port refused 20 s each time); 15 minutes after the upgrade a migration of the "
        "new release writes to the primary only: the data check differs from then on",
        [
            _host(
                "db-1",
                down=[(UP - 2400, UP - 2380), (UP - 1200, UP - 1180)],
                data_bad_from=UP + 900,
            )
        ],
        UP + 900,
        kind="data mismatch",
    )
    return out


# --------------------------------------------------------------------------- healthy


def _applike(t: float, shift: float, message: str) -> tuple[float, str]:
    """An application log line stamped by a clock ``shift`` seconds off, raw."""
    when = _when(t, shift)
    return (t, f"@raw {when:%Y-%m-%d %H:%M:%S},{when.microsecond // 1000:03d} {message}")


def _flaps(seed: str, start: float, end: float, low: float, high: float) -> list[tuple[float, str]]:
    draw = _rng(seed)
    out = []
    t, firing = start, False
    while t < end:
        firing = not firing
        out.append((t, "firing" if firing else "resolved"))
        t += draw.uniform(low, high)
    if firing:
        out.append((t, "resolved"))
    return out


def healthy() -> list[Scenario]:
    """Held-out-8 healthy upgrades, synthetic and quoted: the noise that fools naive rules."""
    out: list[Scenario] = []
    _add(
        out,
        "healthy-fwupd-refresh-fails-hourly",
        "preexisting-errors",
        "web-1's firmware-metadata timer has failed on every run for months (`fwupd-refresh."
        "service: Failed with result 'exit-code'`, Ubuntu, quoted), once an hour, before and "
        "after a healthy upgrade",
        [
            Host(
                "web-1",
                syslog=build.quoted_units(
                    "systemd-fwupd-refresh-exit-code", [1500.0 + HOUR * k for k in range(3)]
                ),
            )
        ],
        duration=3 * HOUR,
        origin="quoted",
        sources=cites("systemd-fwupd-refresh-exit-code"),
    )
    skew = 1721.9  # the host clock ran this far ahead until chrony stepped it
    lines = [
        _applike(t, skew if t < UP - 60 else 0.0, "INFO [worker-1] app.metrics: served requests")
        for t in _times("skewed-log", 0.0, 2 * HOUR, 40.0, 80.0)
    ]
    _add(
        out,
        "healthy-chrony-step-after-reboot-skewed-log",
        "clock-skew",
        "upgrade of web-1 by `rollsafe upgrade` with a reboot (upgrade_started 4 minutes "
        "before the mark, refused 80 s, the boot logged); the host's clock had run 29 minutes "
        "ahead, so its application log's own stamps were 1,722 s in the future; after the "
        "boot chronyd steps it (`System clock wrong by 1721.913772 seconds`, quoted) and the "
        "stamps are right again; nothing else changes",
        [
            Host(
                "web-1",
                **rolled(UP - 240, UP),
                down=[(UP - 200, UP - 120)],
                syslog=[
                    *_boot(UP - 115),
                    *_syslog("chrony-clock-step", [UP - 60], "chronyd[612]: "),
                ],
                errors_per_minute=const(0.0),
                noise_per_minute=0.0,
                app_lines=lines,
                p99=decaying(UP - 120, 0.22, 0.4, 120.0),
            )
        ],
        origin="quoted",
        sources=cites("chrony-clock-step"),
    )
    _add(
        out,
        "healthy-reboot-with-kernel-warning-at-boot",
        "warmup-restart",
        "upgrade of web-1 by `rollsafe upgrade` with a reboot into a new kernel "
        "(upgrade_started 5 minutes before the mark, refused 100 s); while its modules load "
        "the new kernel logs a driver warning (`------------[ cut here ]------------`, "
        "`WARNING: CPU: 2 PID: 1083 at drivers/clk/clk.c:1181 clk_core_disable`, quoted) that "
        "changes nothing; p99 1.8 times higher for 2 minutes after the boot",
        [
            Host(
                "web-1",
                **rolled(UP - 300, UP),
                down=[(UP - 260, UP - 160)],
                kernel=quoted_event(UP - 175, "warning-clk-disabled-boot"),
                syslog=_boot(UP - 165),
                p99=bumped(const(0.22), [(UP - 160, UP - 40, 0.4)]),
            )
        ],
        origin="quoted",
        sources=cites("warning-clk-disabled-boot"),
    )
    _add(
        out,
        "healthy-kernel-warning-midwatch",
        "kernel-warning",
        "22 minutes after batch-1's healthy upgrade its kernel logs a warning with its "
        "backtrace header (`WARNING: CPU: 1 PID: 0 at kernel/rcu/tree.c:2733 "
        "rcu_process_callbacks`, quoted) and runs on; nothing else changes",
        [_host("batch-1", kernel=quoted_event(UP + 1320, "warning-rcu-callbacks-4x"))],
        origin="quoted",
        sources=cites("warning-rcu-callbacks-4x"),
    )
    _add(
        out,
        "healthy-single-oom-copy-job-memcg",
        "single-oom",
        "32 minutes after batch-1's healthy upgrade an operator's copy job reaches its "
        "container's 512 MB limit and the kernel kills its shell once (cgroup v1 usage lines, "
        "`Memory cgroup out of memory: Kill process N (bash)`, quoted); the runner is not "
        "concerned",
        [_host("batch-1", kernel=quoted_event(UP + 1900, "oom-memcg-v1-bash-limit"))],
        origin="quoted",
        sources=cites("oom-memcg-v1-bash-limit"),
    )
    _add(
        out,
        "healthy-single-trap-node-tool",
        "single-segfault",
        "40 minutes after batch-1's healthy upgrade a node tool an operator runs dies once on "
        "an invalid opcode (`traps: node[N] trap invalid opcode ...`, quoted); the runner is "
        "not concerned",
        [_host("batch-1", kernel=quoted_event(UP + 2400, "trap-invalid-opcode-node"))],
        origin="quoted",
        sources=cites("trap-invalid-opcode-node"),
    )
    _add(
        out,
        "healthy-single-unit-fwupd-fcos",
        "single-unit-failure",
        "28 minutes after web-1's healthy upgrade its firmware-metadata refresh fails once "
        "(a CDN hiccup: `Failed to start fwupd-refresh.service - Refresh fwupd metadata and "
        "update motd.`, newer systemd wording, quoted)",
        [Host("web-1", syslog=quoted_unit(UP + 1700, "systemd-fwupd-refresh-fcos"))],
        origin="quoted",
        sources=cites("systemd-fwupd-refresh-fcos"),
    )
    _add(
        out,
        "healthy-pg-backend-killed-once",
        "single-oom",
        "35 minutes after db-1's healthy upgrade an analyst's runaway query is killed once "
        "(`server process (PID N) was terminated by signal 9: Killed`, the other backends "
        "told to reconnect, quoted); query p99 is 3 times higher for a minute",
        [
            _host(
                "db-1",
                syslog=_syslog("pg-backend-killed-9-once", [UP + 2100], "postgres[1]: "),
                query_latency=bumped(const(0.012), [(UP + 2100, UP + 2160, 0.036)]),
            )
        ],
        origin="quoted",
        sources=cites("pg-backend-killed-9-once"),
    )
    _add(
        out,
        "healthy-warmup-30s-prober",
        "warmup-restart",
        "web-1's health check is sampled every 30 s; upgrade by `rollsafe upgrade` "
        "(upgrade_started 40 s before the mark, refused 15 s); the first checks after the "
        "restart take 3.5 times longer and p99 is 2.5 times higher, both decaying with a time "
        "constant of 150 s",
        [
            Host(
                "web-1",
                health_every=30.0,
                **rolled(UP - 40, UP),
                down=[(UP - 30, UP - 15)],
                latency=decaying(UP - 15, 0.04, 0.14, 150.0),
                p99=decaying(UP - 15, 0.22, 0.55, 150.0),
            )
        ],
    )
    _add(
        out,
        "healthy-cron-burst-at-the-upgrade",
        "cron-cpu",
        "web-1 runs a cache-warming job every 15 minutes (CPU 95% for 5 minutes, p99 1.5 "
        "times higher meanwhile); one run starts at the upgrade, as they did before it",
        [
            Host(
                "web-1",
                cpu=lambda t: 95.0 if (t % 900.0) < 300.0 else 20.0,
                p99=lambda t: 0.33 if (t % 900.0) < 300.0 else 0.22,
            )
        ],
    )
    _add(
        out,
        "healthy-gaps-open-across-upgrade",
        "monitoring-gap",
        "a monitoring maintenance overlaps web-1's healthy upgrade: Prometheus is unreadable "
        "from 90 s before the upgrade to 6 minutes after, and the prober cannot resolve web-1 "
        "from 30 s before to 150 s after",
        [
            Host(
                "web-1",
                gaps={"prometheus": [(UP - 90, UP + 360)], "health": [(UP - 30, UP + 150)]},
            )
        ],
    )
    _add(
        out,
        "healthy-warmup-10min-history",
        "warmup-restart",
        "web-1 was added to monitoring 10 minutes before its upgrade: only 10 minutes of "
        "history; after the restart its health checks are 2.5 times slower and p99 twice as "
        "high, decaying with a time constant of 2 minutes",
        [
            Host(
                "web-1",
                upgrades=[600.0],
                down=[(585.0, 600.0)],
                latency=decaying(600.0, 0.04, 0.1, 120.0),
                p99=decaying(600.0, 0.22, 0.44, 120.0),
            )
        ],
    )
    bursts = [(600.0 * k + 200.0, 600.0 * k + 320.0, 0.02) for k in range(6)]
    _add(
        out,
        "healthy-noisy-hour-then-calmer",
        "preexisting-errors",
        "web-1's hour before the upgrade was noisy: a misbehaving client made 2% of requests "
        "fail for 2 minutes every 10 minutes, with 3 error lines a minute; the client is "
        "throttled at the upgrade and the hour after is calmer than the one before",
        [
            Host(
                "web-1",
                error_ratio=bumped(const(0.003), bursts),
                errors_per_minute=lambda t: 3.0 if t < UP else 0.05,
            )
        ],
    )
    _add(
        out,
        "healthy-night-traffic-drop-after-upgrade",
        "traffic-drop",
        "web-1 is upgraded at the start of the night: from 5 minutes after the upgrade its "
        "traffic falls from 40 to 5 requests/s over 40 minutes (the error ratio's noise "
        "grows as the traffic thins), p99 falls a little and CPU with it",
        [
            Host(
                "web-1",
                traffic=lambda t: 40.0 - 35.0 * min(1.0, max(0.0, t - UP - 300) / 2400.0),
                p99=lambda t: 0.22 - 0.04 * min(1.0, max(0.0, t - UP - 300) / 2400.0),
                cpu=lambda t: 30.0 - 18.0 * min(1.0, max(0.0, t - UP - 300) / 2400.0),
            )
        ],
        duration=2.5 * HOUR,
    )
    blip = (UP + 1400, UP + 1640)
    _add(
        out,
        "healthy-dependency-blip-three-hosts",
        "dependency-blip",
        "a fleet of three: web-1 is upgraded, web-2 and batch-1 are not; 23 minutes after "
        "the upgrade the payment provider times out for 4 minutes: both web hosts fail 3% of "
        "requests with p99 2.5 times higher and 4 timeout lines a minute, the batch runner's "
        "checks take twice as long",
        [
            *[
                Host(
                    target,
                    upgrades=ups,
                    error_ratio=bumped(const(0.003), [(*blip, 0.03)]),
                    p99=bumped(const(0.22), [(*blip, 0.55)]),
                    errors_per_minute=bumped(const(0.05), [(*blip, 4.0)]),
                )
                for target, ups in (("web-1", [UP]), ("web-2", []))
            ],
            _host("batch-1", upgrades=[], latency=bumped(const(0.04), [(*blip, 0.08)])),
        ],
    )
    net = (UP + 2000, UP + 2360)
    _add(
        out,
        "healthy-canary-then-fleet-network-event",
        "fleet-wide",
        "a fleet of four: web-1 is upgraded, web-2 15 minutes later, db-1 and batch-1 not; 33 "
        "minutes after web-1's upgrade a switch reconverges for 6 minutes: every host's checks "
        "take twice as long, web p99 and db query p99 double",
        [
            *[
                Host(
                    target,
                    upgrades=ups,
                    latency=bumped(const(0.04), [(*net, 0.08)]),
                    p99=bumped(const(0.22), [(*net, 0.44)]),
                )
                for target, ups in (("web-1", [UP]), ("web-2", [UP + 900]))
            ],
            _host("db-1", upgrades=[], query_latency=bumped(const(0.012), [(*net, 0.024)])),
            _host("batch-1", upgrades=[], latency=bumped(const(0.04), [(*net, 0.08)])),
        ],
    )
    _add(
        out,
        "healthy-gc-sawtooth-3min-30s-exporter",
        "gc-sawtooth",
        "web-1's memory is exported every 30 s; its JVM climbs from 50% to 72% and collects "
        "every 3 minutes, before and after the upgrade alike",
        [
            Host(
                "web-1",
                metrics_every=30.0,
                memory=lambda t: 50.0 + 22.0 * ((t % 180.0) / 180.0),
            )
        ],
    )
    _add(
        out,
        "healthy-cache-fills-25min-then-stops",
        "cache-growth",
        "web-1's new release keeps rendered fragments in memory: memory climbs 15 points over "
        "25 minutes after the upgrade, then stays at 60%",
        [Host("web-1", memory=lambda t: 45.0 + 15.0 * min(1.0, max(0.0, t - UP) / 1500.0))],
        duration=3 * HOUR,
    )
    _add(
        out,
        "healthy-page-cache-after-import",
        "page-cache",
        "20 minutes after batch-1's healthy upgrade a nightly import reads 40 GB of files: the "
        "page cache takes memory from 40% to 91% over 10 minutes, and it stays there",
        [
            _host(
                "batch-1",
                memory=lambda t: 40.0 + 51.0 * min(1.0, max(0.0, t - UP - 1200) / 600.0),
            )
        ],
        duration=2.5 * HOUR,
    )
    _add(
        out,
        "healthy-flapping-alert-every-minute",
        "flapping-alert",
        "an alert on web-1's p99 flaps every 1 to 2.5 minutes from 15 minutes before its "
        "healthy upgrade to 30 minutes after (its threshold sits on the normal value)",
        [Host("web-1", alerts=_flaps("fast-flaps", UP - 900, UP + 1800, 60.0, 150.0))],
    )
    reboot = [
        (UP - 290, _rfc5424("web-1", UP - 290, "systemd-logind", 655, "System is rebooting.")),
        (
            UP - 289,
            _rfc5424("web-1", UP - 289, "systemd", 1, "Stopping app.service - Application..."),
        ),
        (UP - 288, _rfc5424("web-1", UP - 288, "systemd", 1, "Stopped app.service - Application.")),
        (
            UP - 170,
            _rfc5424(
                "web-1",
                UP - 170,
                "systemd",
                1,
                "Startup finished in 2.004s (kernel) + 8.117s (userspace) = 10.121s.",
            ),
        ),
    ]
    _add(
        out,
        "healthy-planned-reboot-rfc5424",
        "warmup-restart",
        "web-1's syslog is forwarded in RFC 5424 form; upgrade by `rollsafe upgrade` with a "
        "reboot (upgrade_started 5 minutes before the mark): logind's `System is rebooting.`, "
        "PID 1 stopping the application (usual wordings), refused 110 s, the boot finishes; "
        "p99 twice as high for 2 minutes",
        [
            Host(
                "web-1",
                **rolled(UP - 300, UP),
                syslog=reboot,
                down=[(UP - 285, UP - 175)],
                p99=bumped(const(0.22), [(UP - 175, UP - 55, 0.44)]),
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
    """Held-out-8 recordings on the real metrics and logs of ``../shared/data`` (see the
    module notes for which days and line ranges)."""
    out: list[Scenario] = []

    add = _HALF.real_adder(out)
    stretch = build.stretched
    kernel_of = build.kernel_of

    elb = nab["elb_request_count_8c0756"]
    rds = nab["rds_cpu_utilization_cc0c53"]
    net = nab["ec2_network_in_257a54"]
    c77 = nab["ec2_cpu_utilization_77c1ca"]
    c53 = nab["ec2_cpu_utilization_53ea38"]

    # -- errors on a replica only, over real traffic (ELB, day 13 from 02:00).
    scale = 30.0 / max(1.0, elb.median())
    traffic = elb.curve(13 * DAY + 2 * HOUR, scale=scale)
    up = 2 * HOUR
    add(
        Scenario(
            "fault-errors-replica-web2-real",
            "metrics-error-ratio",
            "web-1 and web-2 share a real ELB's traffic (NAB elb_request_count_8c0756, day 13 "
            "from 02:00, scaled to a median of 30 requests/s each) and are upgraded together "
            "at 2 hours; only web-2, the replica with a stale local schema, fails: from 200 s "
            "after the upgrade 2.5% of its requests fail (0.2% before); web-1 stays at 0.2%",
            [
                Host(
                    "web-2",
                    upgrades=[up],
                    traffic=lambda t: max(1.0, traffic(t)),
                    error_ratio=lambda t, up=up: 0.025 if t >= up + 200 else 0.002,
                ),
                Host(
                    "web-1",
                    upgrades=[up],
                    traffic=lambda t: max(1.0, traffic(t)),
                    error_ratio=const(0.002),
                ),
            ],
            duration=4 * HOUR,
            faults=[fault("web-2", up + 200, "request errors")],
            sources=[cite_nab("elb_request_count_8c0756")],
        )
    )
    # -- a database's query p99 over real load (RDS, day 13), other hosts present.
    load = rds.level(13 * DAY, smooth=20 * MINUTE)
    add(
        Scenario(
            "fault-query-p99-rds-day13-real",
            "metrics-latency-quantile",
            "db-1's query p99 follows a real RDS instance's load (NAB rds_cpu_utilization_"
            "cc0c53, day 13, smoothed over 20 minutes, about 9 to 17 ms); 5 minutes after its "
            "upgrade at 2 hours (a planner setting changed) it is 2.5 times that and stays; "
            "web-1 and batch-1, not upgraded, are watched too",
            [
                _host(
                    "db-1",
                    upgrades=[up],
                    query_latency=lambda t, up=up: (
                        0.009 * (1.0 + 0.9 * max(0.0, load(t))) * (2.5 if t >= up + 300 else 1.0)
                    ),
                ),
                Host("web-1", upgrades=[]),
                _host("batch-1", upgrades=[]),
            ],
            duration=5 * HOUR,
            faults=[fault("db-1", up + 300, "query p99")],
            sources=[cite_nab("rds_cpu_utilization_cc0c53")],
        )
    )
    # -- a batch runner slower over real syslog (Linux lines 1,700 to 1,999).
    noise = stretch(linux, 1700, 299, 3 * HOUR)
    up = 90 * MINUTE
    add(
        Scenario(
            "fault-latency-batch-over-linux-real",
            "latency-regression",
            "batch-1's syslog and kern.log are real Linux syslog (Loghub, lines 1,700 to "
            "1,998 stretched over 3 hours); 2 minutes after its upgrade at 90 minutes its "
            "readiness check takes 140 ms instead of 50 ms (the new runner checks every queue "
            "on each probe)",
            [
                _host(
                    "batch-1",
                    upgrades=[up],
                    syslog=noise,
                    kernel=kernel_of(noise),
                    latency=lambda t, up=up: 0.14 if t >= up + 120 else 0.05,
                )
            ],
            duration=3 * HOUR,
            faults=[fault("batch-1", up + 120, "latency")],
            sources=[cite_log("Linux_2k.log")],
        )
    )
    # -- a leak over real network wander (day 6), memory exported every 30 s.
    wander = net.wander(6 * DAY, amplitude=3.0)
    up = 2 * HOUR
    add(
        Scenario(
            "fault-leak-5ph-over-real-network-day6",
            "memory-leak",
            "web-1's memory wanders about 3 points with a real instance's network input (NAB "
            "ec2_network_in_257a54, day 6, smoothed over an hour) around 50%, exported every "
            "30 s; the upgrade at 2 hours leaks 5 points an hour",
            [
                Host(
                    "web-1",
                    upgrades=[up],
                    metrics_every=30.0,
                    memory=lambda t, up=up: 50.0 + wander(t) + max(0.0, t - up) / HOUR * 5.0,
                )
            ],
            duration=6 * HOUR,
            faults=[fault("web-1", up, "memory leak")],
            sources=[cite_nab("ec2_network_in_257a54")],
        )
    )
    # -- soft lockups over real syslog (Linux lines 600 to 899).
    noise = stretch(linux, 600, 300, 150 * MINUTE)
    lockups = _times("kopald", UP + 700, UP + 7000, 480.0, 720.0)
    add(
        Scenario(
            "fault-lockup-kopald-over-linux-real",
            "soft-lockup",
            "batch-1's syslog and kern.log are real Linux syslog (Loghub, lines 600 to 899 "
            "stretched over 2.5 hours); from 12 minutes after the upgrade, every 8 to 12 "
            "minutes, the NMI watchdog reports a 22 s soft lockup of a kernel thread with an "
            "RCU self-detected stall (POWER, quoted); the runner's checks take 3 s meanwhile",
            [
                _host(
                    "batch-1",
                    syslog=noise,
                    kernel=[*kernel_of(noise), *_repeated("lockup-nmi-kopald-ppc64", lockups)],
                    slow=[(t - 20 + 10 * k, 3.0) for t in lockups for k in range(2)],
                )
            ],
            duration=150 * MINUTE,
            faults=[fault("batch-1", lockups[0] - 22, "soft lockup")],
            sources=[cite_log("Linux_2k.log"), *cites("lockup-nmi-kopald-ppc64")],
        )
    )
    # -- hung tasks over a real job log (Hadoop lines 200 to 1,199).
    jobs = stretch(hadoop, 200, 1000, 2 * HOUR)
    add(
        Scenario(
            "fault-hung-fsync-over-hadoop-real",
            "hung-task",
            "batch-1's job log is Loghub's real Hadoop run (lines 200 to 1,199, stretched over "
            "2 hours from 30 minutes before the upgrade); from 6 minutes after the upgrade a "
            "job manager blocks in fsync on the new XFS volume, reported 120 s later and every "
            "120 s, 8 times (`INFO: task manager:N blocked for more than 120 seconds.`, 3.10, "
            "quoted); a third of the runner's checks answer 503 meanwhile",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=[(UP - 30 * MINUTE + t, line) for t, line in jobs],
                    kernel=_repeated(
                        "hung-manager-xfs-fsync", [UP + 480 + 120 * k for k in range(8)]
                    ),
                    health_5xx=bumped(const(0.0), [(UP + 360, UP + 1440, 0.33)]),
                )
            ],
            faults=[fault("batch-1", UP + 360, "hung task")],
            sources=[cite_log("Hadoop_2k.log"), *cites("hung-manager-xfs-fsync")],
        )
    )
    # -- a segfault loop over a real error log (Apache lines 300 to 1,099).
    errors = stretch(apache, 300, 800, 150 * MINUTE)
    crashes = _times("traps-apache", UP + 400, UP + 5400, 40.0, 90.0)
    add(
        Scenario(
            "fault-segv-traps-over-apache-real",
            "segfault-loop",
            "web-1's error log is Loghub's real Apache error log (lines 300 to 1,099 stretched "
            "over 2.5 hours, `[error]` lines included); from 400 s after the upgrade its node "
            "sidecar crashes every 40 to 90 s (`traps: node[N] general protection`, quoted)",
            [
                Host(
                    "web-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                    kernel=_repeated("traps-node-gp-after-update", crashes),
                )
            ],
            duration=150 * MINUTE,
            faults=[fault("web-1", crashes[0], "segfault loop")],
            sources=[cite_log("Apache_2k.log"), *cites("traps-node-gp-after-update")],
        )
    )
    # -- healthy: a real night; real CPU; real syslog; real Apache errors; real jobs with
    #    real CPU; a real database day.
    night = elb.curve(13 * DAY + 18 * HOUR, scale=40.0 / max(1.0, elb.median()))
    add(
        Scenario(
            "healthy-elb-evening-real-day13",
            "daily-cycle",
            "web-1's traffic is a real ELB's evening (NAB elb_request_count_8c0756, day 13 "
            "from 18:00, scaled to a median of 40 requests/s); p99 and CPU follow it; a "
            "healthy upgrade at 2 hours",
            [
                Host(
                    "web-1",
                    upgrades=[2 * HOUR],
                    traffic=lambda t: max(0.5, night(t)),
                    p99=lambda t: 0.19 + 0.002 * max(0.0, night(t)),
                    cpu=lambda t: 8.0 + 0.6 * max(0.0, night(t)),
                )
            ],
            duration=5 * HOUR,
            sources=[cite_nab("elb_request_count_8c0756")],
        )
    )
    scale = 80.0 / max(1.0, c77.quantile(0.99))
    add(
        Scenario(
            "healthy-cpu-77c1ca-real-day10",
            "cron-cpu",
            "batch-1's CPU is a real EC2 instance's (NAB ec2_cpu_utilization_77c1ca, day 10, "
            "scaled so that its 99th percentile is 80%); healthy upgrade at 3 hours",
            [_host("batch-1", upgrades=[3 * HOUR], cpu=c77.curve(10 * DAY, scale=scale))],
            duration=6 * HOUR,
            sources=[cite_nab("ec2_cpu_utilization_77c1ca")],
        )
    )
    noise = stretch(linux, 1500, 500, 3 * HOUR)
    add(
        Scenario(
            "healthy-linux-syslog-1500-real",
            "noisy-syslog",
            "web-1's syslog and kern.log are real Linux syslog (Loghub, lines 1,500 to 1,999 "
            "stretched over 3 hours: authentication failures, su sessions, logrotate alerts, "
            "kernel lines); a healthy upgrade by `rollsafe upgrade` at 100 minutes "
            "(upgrade_started 30 s before, refused 10 s)",
            [
                Host(
                    "web-1",
                    **rolled(100 * MINUTE - 30, 100 * MINUTE),
                    down=[(100 * MINUTE - 20, 100 * MINUTE - 10)],
                    syslog=noise,
                    kernel=kernel_of(noise),
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Linux_2k.log")],
        )
    )
    errors = stretch(apache, 1200, 800, 3 * HOUR)
    add(
        Scenario(
            "healthy-apache-errors-1200-real",
            "preexisting-errors",
            "web-1's error log is Loghub's real Apache error log (lines 1,200 to 1,999, "
            "stretched over 3 hours in their order and spacing); healthy upgrade at 80 minutes",
            [
                Host(
                    "web-1",
                    upgrades=[80 * MINUTE],
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Apache_2k.log")],
        )
    )
    jobs = stretch(hadoop, 1300, 699, 3 * HOUR)
    cpu = c53.curve(13 * DAY, scale=60.0 / max(1.0, c53.quantile(0.99)))
    add(
        Scenario(
            "healthy-hadoop-jobs-real-cpu-real",
            "cron-cpu",
            "batch-1's job log is Loghub's real Hadoop run (lines 1,300 to 1,998 stretched over "
            "3 hours, WARN and ERROR lines included) and its CPU a real EC2 instance's (NAB "
            "ec2_cpu_utilization_53ea38, day 13, scaled); healthy upgrade at 75 minutes",
            [
                _host(
                    "batch-1",
                    upgrades=[75 * MINUTE],
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=jobs,
                    cpu=cpu,
                )
            ],
            duration=3 * HOUR,
            sources=[cite_log("Hadoop_2k.log"), cite_nab("ec2_cpu_utilization_53ea38")],
        )
    )
    level = rds.level(3 * DAY + 6 * HOUR, smooth=30 * MINUTE)
    add(
        Scenario(
            "healthy-rds-query-p99-real-day3",
            "daily-cycle",
            "8 hours of db-1: its query p99 follows a real RDS instance's load (NAB "
            "rds_cpu_utilization_cc0c53, day 3 from 06:00, smoothed over 30 minutes) and its "
            "CPU the same series; a healthy upgrade at 4 hours",
            [
                _host(
                    "db-1",
                    upgrades=[4 * HOUR],
                    query_latency=lambda t: 0.01 * (1.0 + 0.8 * max(0.0, level(t))),
                    cpu=lambda t: 15.0 + 40.0 * max(0.0, level(t)),
                )
            ],
            duration=8 * HOUR,
            sources=[cite_nab("rds_cpu_utilization_cc0c53")],
        )
    )
    return out
