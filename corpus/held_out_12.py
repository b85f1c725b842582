"""Held-out-12 of rollsafe's judgment corpus: upgrades nobody tuned on (issue #15, round 13).

Every earlier half (design, held-out, held-out-2 to held-out-11) has been looked at by people
changing rules. This half was written in round 13 by a helper that changed no rule, preset or
judge code and never replayed it, while others were changing rules without seeing it, from
what a fleet meets after an upgrade (not from what the rules catch or miss); the lead replays
it once, untuned. No preset may be tuned on it (``--half held-out-12``).

What is new here against the earlier halves:

* **Fleets under the same traffic.** An upgraded web host with two to four peers of its role
  that were not upgraded (or were upgraded hours later), all recorded with ``http-requests``,
  ``http-p99``, ``http-errors`` and their health checks, sharing one traffic shape (a real
  ELB's or network's day, or a daily cycle) with noise of each host's own. Faults where only
  the upgraded host degrades, and only while the load is high; healthy fleets that slow down
  or fail together at the peak or in a spike, canaries given less or more of the traffic,
  peers upgraded hours later.
* **A day of history.** Web hosts recorded for 24 hours or more before their upgrade (30 s
  Prometheus series over the whole day, health checks only for the last hours), so that the
  same hours of the day before can serve as a reference.
* **Faults that begin late**, 2 to 6 hours after the upgrade (a pool that leaks, a heap that
  fragments, a cache that fills, the next night's job), and every family with shapes the
  earlier halves lack; healthy noise that fools naive rules (warm-up, cron, monitoring gaps,
  errors from before, noisy syslog, traffic growth, dependency blips, planned drains, reboots
  and restarts).

``corpus/build.py`` renders these scenarios like every other; this module only describes them.
Its irregular times come from generators of its own (``held-out-12/<seed>``), and every
recording is rendered from a generator seeded by its own name, so adding this half moves no
byte of the others. Real data: messages quoted from public reports no other half cites
(``corpus/quoted.py``, held-out-12 section, each with its URL), and NAB metrics and Loghub logs
of ``../shared/data`` (``real``), read at build time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import build
from build import (
    HOUR,
    MINUTE,
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
    oom_synthetic,
    quoted_event,
    quoted_units,
    ramp,
    restart_at,
    rolled,
)
from held_out_10 import ELB, LATENCY, NET, RDS, _Shared

HELD_OUT_12 = "held-out-12"  # written in round 13 by a helper that changed no rule; never tuned on
DAY = 24 * HOUR

_HALF = build.Half(HELD_OUT_12)
_times = _HALF.times  # irregular times of this half's own (``held-out-12/<seed>``)
_add = _HALF.add
_fault_adder = _HALF.fault_adder
_host = build._host
_repeated = build.repeated


# --------------------------------------------------------------------------- shapes


def _cycle(peak: float, low: float, *, peak_h: float) -> Curve:
    """A day's traffic (requests/s), ``low`` at night and ``peak`` ``peak_h`` hours after the
    recording starts, repeating every 24 hours (a squared raised cosine: a broad afternoon)."""
    return lambda t: (
        low + (peak - low) * ((1.0 + math.cos(2 * math.pi * (t / HOUR - peak_h) / 24)) / 2) ** 2
    )


def _wobble(seed: str, amplitude: float) -> Curve:
    """One host's own noise on a shared traffic shape: a factor about 1, three slow waves of
    random periods (20 minutes to 3 hours) and phases, about ``amplitude`` at most."""
    rng = _HALF.rng(seed)
    waves = [
        (rng.uniform(1200.0, 3 * HOUR), rng.uniform(0.0, 2 * math.pi), rng.uniform(0.3, 1.0))
        for _ in range(3)
    ]
    total = sum(w for _, _, w in waves)
    return lambda t: (
        1.0 + amplitude * sum(w * math.sin(2 * math.pi * t / p + ph) for p, ph, w in waves) / total
    )


def _share(traffic: Curve, share: float, seed: str) -> Curve:
    """``share`` of ``traffic`` as one host behind the balancer serves it, with its own noise."""
    wobble = _wobble(seed, 0.07)
    return lambda t: max(0.2, share * traffic(t) * wobble(t))


def _first(curve: Curve, level: float, start: float, end: float) -> float:
    """The first 30 s step from ``start`` at which ``curve`` is above ``level``."""
    return next(float(t) for t in range(int(start), int(end), 30) if curve(t) > level)


def _above(curve: Curve, level: float, value: float, base: float, since: float) -> Curve:
    """``value`` while ``curve`` is above ``level`` from ``since`` on, ``base`` otherwise."""
    return lambda t: value if t >= since and curve(t) > level else base


def _crowded(load: Curve, level: float, per: float) -> Curve:
    """A factor 1 up to ``level`` of ``load``, growing by ``per`` for each unit above it (a
    shared dependency saturating at the peak)."""
    return lambda t: 1.0 + per * max(0.0, load(t) - level)


def _times_after(shape: Curve, factor: float, at: float) -> Curve:
    """``shape``, times ``factor`` from ``at`` on."""
    return lambda t: shape(t) * (factor if t >= at else 1.0)


def _plus(base: float, wander: Curve) -> Curve:
    """``base`` plus a wander."""
    return lambda t: base + wander(t)


def _web(
    target: str,
    load: Curve,
    *,
    slower: Curve | None = None,
    errors: Curve | None = None,
    **kw: Any,
) -> Host:
    """A web host whose p99 (x ``slower``), CPU and error ratio follow its own ``load``."""
    factor = slower or const(1.0)
    return Host(
        target,
        traffic=load,
        p99=lambda t: (0.17 + 0.004 * load(t)) * factor(t),
        cpu=lambda t: 6.0 + 0.75 * load(t),
        error_ratio=errors or const(0.003),
        **kw,
    )


def _peers(
    traffic: Curve,
    seed: str,
    ks: Sequence[int],
    *,
    share: float = 1.0,
    later: float | None = None,
    **kw: Any,
) -> list[Host]:
    """Peers ``web-k`` of the upgraded host, behind the same balancer: each its ``share`` of
    ``traffic`` with noise of its own; not upgraded, or upgraded at ``later``."""
    return [
        _web(
            f"web-{k}",
            _share(traffic, share, f"{seed}/web-{k}"),
            upgrades=[] if later is None else [later],
            **kw,
        )
        for k in ks
    ]


def _job(t: float, level: str, message: str) -> tuple[float, str]:
    """One job-runner line (``YYYY-mm-dd HH:MM:SS LEVEL runner: message``)."""
    when = build._stamp(_STAMP, t)
    return (t, f"@raw {when:%Y-%m-%d %H:%M:%S} {level} runner: {message}")


_STAMP = Scenario("stamp", "stamp", "", [])  # only its start: build._stamp's origin


def _after_upgrade(at: float) -> str:
    """How long after the upgrade (an hour in) ``at`` is, as a description says it."""
    late = at - UP
    return (
        f"{late:.0f} s after its upgrade"
        if late < HOUR
        else f"{late / HOUR:g} hours after its upgrade"
    )


def _quoting(*keys: str) -> dict[str, Any]:
    """What a recording quoting the events ``keys`` says of itself: its origin and sources."""
    return {"origin": "quoted", "sources": cites(*keys)}


def _segv(comm: str, pid: int, lib: str) -> str:
    """A user-space segfault as the kernel logs it (synthetic values)."""
    return f"{comm}[{pid}]: segfault at 8 ip 00005581a3c0d2f4 sp 00007ffc1b2e0a18 error 4 in {lib}"


# Day-of-history recordings: the upgrade at 01:00 of their second day, health checks from 3
# hours before it (the Prometheus series cover the whole day before).
H_UP = DAY + HOUR
H_CHECKS = DAY - 2 * HOUR + 3.0


# --------------------------------------------------------------------------- faults


def faults() -> list[Scenario]:
    """Held-out-12 faults, synthetic and quoted: every family issue #15 names, on every role."""
    return [*_faults_fleet(), *_faults_late(), *_faults_kernel()]


def _faults_fleet() -> list[Scenario]:
    """Faults on an upgraded web host among peers under the same traffic."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- errors only on the upgraded host, only at the day's peak.
    day = _cycle(90.0, 8.0, peak_h=7.5)
    mine = _share(day, 1.0, "fleet-errors/web-1")
    first = _first(mine, 70.0, UP, 9 * HOUR)
    add(
        "fault-errors-fleet-upgraded-only-at-peak",
        "metrics-error-ratio",
        "three web hosts behind one balancer share a daily cycle (8 requests/s each at night, "
        "90 at 7.5 hours); web-1 alone is upgraded at night (1 hour in); its new release "
        "bounds its worker queue at 64: while its traffic is above 70 requests/s 5% of its "
        "requests get 503 (`queue full`); web-2 and web-3, not upgraded, serve the same "
        "peak at 0.3%",
        [
            _web(
                "web-1",
                mine,
                errors=_above(mine, 70.0, 0.05, 0.003, UP),
                app_lines=[
                    (t, f"@raw 503 queue full (64/64) path=/api/v2/orders worker={int(t) % 16}")
                    for t in _times("fleet-errors", first, 9 * HOUR, 8.0, 40.0)
                    if mine(t) > 70.0
                ],
            ),
            *_peers(day, "fleet-errors", (2, 3)),
        ],
        first,
        kind="request errors",
        duration=9 * HOUR,
    )
    # -- p99 only on the upgraded host, only under load (two peers).
    day2 = _cycle(70.0, 6.0, peak_h=6.5)
    mine2 = _share(day2, 1.0, "fleet-p99/web-1")
    first2 = _first(mine2, 50.0, UP, 8 * HOUR)
    add(
        "fault-p99-fleet-upgraded-only-under-load",
        "metrics-latency-quantile",
        "three web hosts share a daily cycle (6 to 70 requests/s each); web-1 is upgraded at "
        "night; its new ORM issues one query per item of a list: while its traffic is above 50 "
        "requests/s its database pool queues and its p99 is 4.5 times its peers'; at night no "
        "difference shows; web-2 and web-3 are not upgraded",
        [
            _web("web-1", mine2, slower=_above(mine2, 50.0, 4.5, 1.0, UP)),
            *_peers(day2, "fleet-p99", (2, 3)),
        ],
        first2,
        kind="latency",
        duration=8 * HOUR,
    )
    # -- the canary given more traffic than its peers fails where they would not.
    load = const(45.0)
    add(
        "fault-errors-canary-given-double-share",
        "metrics-error-ratio",
        "web-2 is the canary and the balancer gives it twice a peer's share (90 requests/s "
        "against 45 for web-1 and web-3, not upgraded); 3 minutes after its upgrade its new "
        "TLS session cache overflows at that rate and 3% of its requests fail with "
        "`SSL_R_SESSION_ID_CONTEXT_UNINITIALIZED`",
        [
            _web(
                "web-2",
                _share(load, 2.0, "canary-double/web-2"),
                errors=after(const(0.003), UP + 180, const(0.03)),
            ),
            *_peers(load, "canary-double", (1, 3)),
        ],
        UP + 180,
        kind="request errors",
    )
    # -- a canary on a tenth of the traffic, its p99 doubling.
    add(
        "fault-p99-canary-on-a-tenth",
        "metrics-latency-quantile",
        "web-3 is the canary, given a tenth of a peer's traffic (4 requests/s against 40 for "
        "web-1 and web-2); its new release disables keep-alive to the backends by mistake: "
        "from 90 s after its upgrade every request pays a TLS handshake and its p99 is 2.8 "
        "times what it was, however little it serves",
        [
            _web(
                "web-3",
                _share(const(40.0), 0.1, "canary-tenth/web-3"),
                slower=after(const(1.0), UP + 90, const(2.8)),
                latency=after(const(0.04), UP + 90, const(0.09)),
            ),
            *_peers(const(40.0), "canary-tenth", (1, 2)),
        ],
        UP + 90,
        kind="latency",
    )
    # -- peers upgraded hours later: the first host's fault is there before theirs.
    day3 = _cycle(80.0, 10.0, peak_h=8.0)
    later = UP + 3 * HOUR
    # Every host gets the broken release, so each is a fault from its own upgrade (the lead's
    # correction after the untuned replay: written with web-1's fault only, web-2 and web-3
    # were labelled healthy while they failed the same way).
    _HALF.add(
        out,
        "fault-errors-first-of-a-rolling-upgrade",
        "metrics-error-ratio",
        "a rolling upgrade: web-1 first at 1 hour, web-2 and web-3 3 hours later; the new "
        "release breaks the `/api/v2/cart` route (7% of the requests: 500 `TypeError: "
        "Cannot read properties of undefined (reading 'sku')`) on each host from its own "
        "upgrade: web-1 from 1 hour 2 minutes, web-2 and web-3 from 4 hours 2 minutes",
        [
            _web(
                "web-1",
                _share(day3, 1.0, "rolling-cart/web-1"),
                errors=after(const(0.003), UP + 120, const(0.073)),
            ),
            *_peers(
                day3,
                "rolling-cart",
                (2, 3),
                later=later,
                errors=after(const(0.003), later + 120, const(0.073)),
            ),
        ],
        faults=[
            fault("web-1", UP + 120, "request errors"),
            fault("web-2", later + 120, "request errors"),
            fault("web-3", later + 120, "request errors"),
        ],
        duration=5 * HOUR,
    )
    # -- a fleet member crashing while its peers serve on.
    crash = UP + 900
    add(
        "fault-crash-fleet-member-peers-serve",
        "crash",
        "three web hosts at 35 requests/s each; web-2 is upgraded and its new release exits "
        "15 minutes later on a missing environment variable (`FATAL config: PAYMENTS_URL is "
        "not set`); Restart=no: it stays down, the balancer moves its traffic to web-1 and "
        "web-3 (not upgraded, 52 requests/s each from then on, fine)",
        [
            _web(
                "web-2",
                _share(lambda t: 35.0 if t < crash else 0.3, 1.0, "fleet-crash/web-2"),
                down=[(crash, 2 * HOUR)],
                app_lines=[(crash - 1, "@raw FATAL config: PAYMENTS_URL is not set")],
            ),
            *_peers(lambda t: 35.0 if t < crash else 52.0, "fleet-crash", (1, 3)),
        ],
        crash,
        kind="crash",
    )
    # -- a day of history: health latency worse at the same hours than the day before.
    hday = _cycle(60.0, 5.0, peak_h=12.0)
    slow_from = _first(hday, 40.0, H_UP, 2 * DAY)
    add(
        "fault-latency-day-after-history",
        "latency-regression",
        "web-1 is recorded for the whole day before its upgrade (01:00 of day 2) under a "
        "daily cycle (5 to 60 requests/s, peak at 12:00); its new release compresses "
        "responses with a slower level: whenever traffic is above 40 requests/s its health "
        "checks take 2.6 times as long as at the same hours the day before (40 -> 105 ms), "
        "at night no difference",
        [
            _web(
                "web-1",
                hday,
                upgrades=[H_UP],
                health_start=H_CHECKS,
                latency=lambda t: 0.04 * (2.6 if t >= H_UP and hday(t) > 40.0 else 1.0),
                slower=_above(hday, 40.0, 1.8, 1.0, H_UP),
            )
        ],
        slow_from,
        kind="latency",
        duration=DAY + 12 * HOUR,
    )
    return out


def _faults_late() -> list[Scenario]:
    """Faults that begin 2 to 6 hours after the upgrade, and the usual mix of families."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    # -- errors from a connection leak exhausting its pool 4 hours in.
    leak_full = UP + 4 * HOUR + 600
    add(
        "fault-errors-pool-leak-exhausted-4h",
        "metrics-error-ratio",
        "web-1's new release forgets to return a connection to its pool when a client "
        "cancels (about one in 2,000 requests): nothing shows until the pool of 200 is "
        "exhausted, 4 hours 10 minutes after the upgrade; from then 35% of the requests fail "
        "with `timeout acquiring connection after 5000ms`",
        [
            Host(
                "web-1",
                error_ratio=after(const(0.003), leak_full, const(0.35)),
                app_lines=[
                    (t, "@raw ERROR pool: timeout acquiring connection after 5000ms (200/200)")
                    for t in _times("pool-leak", leak_full, 6 * HOUR, 2.0, 9.0)
                ],
            )
        ],
        leak_full,
        kind="request errors",
        duration=6 * HOUR,
    )
    # -- a heap that fragments: health latency rises from 3 hours in.
    frag = UP + 3 * HOUR
    add(
        "fault-latency-heap-fragments-3h",
        "latency-regression",
        "web-1's new release switches its allocator; for 3 hours nothing shows, then the "
        "heap fragments and compaction stalls grow: its health checks go from 40 ms to 180 "
        "ms over the next 2 hours and stay there",
        [
            Host(
                "web-1",
                latency=ramp(frag, 2 * HOUR, 0.04, 0.18),
                p99=ramp(frag, 2 * HOUR, 0.22, 0.9),
            )
        ],
        frag + 1800,
        kind="latency",
        duration=7 * HOUR,
    )
    # -- a batch runner slow once the nightly queue arrives.
    nightly = UP + 2.5 * HOUR
    add(
        "fault-latency-batch-nightly-queue",
        "latency-regression",
        "batch-1's runner is upgraded at 1 hour; 2.5 hours later the nightly queue arrives "
        "and the new scheduler's O(n^2) ordering makes its readiness endpoint answer in "
        "600 ms instead of 40 ms for as long as the queue is long (the rest of the watch)",
        [_host("batch-1", latency=after(const(0.04), nightly, const(0.6)))],
        nightly,
        kind="latency",
        duration=5 * HOUR,
    )
    # -- query p99 growing with index bloat from 3 hours in.
    bloat = UP + 3 * HOUR
    add(
        "fault-p99-db-index-bloat-late",
        "metrics-latency-quantile",
        "db-1's upgrade changes its autovacuum defaults; 3 hours later the hot table's "
        "index has bloated enough that its query p99 climbs from 12 ms to 140 ms over 90 "
        "minutes",
        [_host("db-1", query_latency=ramp(bloat, 1.5 * HOUR, 0.012, 0.14))],
        bloat + 1200,
        kind="latency",
        duration=7 * HOUR,
    )
    # -- a leak that starts once the cache is full.
    cache_full = UP + 2.5 * HOUR
    add(
        "fault-leak-after-cache-full",
        "memory-leak",
        "web-1's new release fills its cache for 2.5 hours (memory 40% -> 52%, which looks "
        "like a cache), then, its eviction broken, keeps every entry: 6 points an hour for "
        "the rest of the 9 hours watched",
        [
            Host(
                "web-1",
                memory=lambda t: (
                    40.0
                    + 12.0 * min(1.0, max(0.0, t - UP) / (2.5 * HOUR))
                    + 6.0 * max(0.0, t - cache_full) / HOUR
                ),
            )
        ],
        cache_full,
        kind="memory leak",
        duration=9 * HOUR,
    )
    add(
        "fault-leak-db-prepared-statements",
        "memory-leak",
        "db-1's upgraded connection pooler keeps every prepared statement of every client: "
        "the server's memory grows 3 points an hour from the upgrade and does not level off",
        [_host("db-1", memory=lambda t: 48.0 + 3.0 * max(0.0, t - UP) / HOUR)],
        UP + 600,
        kind="memory leak",
        duration=6 * HOUR,
    )
    add(
        "fault-leak-batch-worker-per-job",
        "memory-leak",
        "batch-1's upgraded runner keeps each finished job's worker in memory: a step of 1.5 "
        "points at each of its jobs (every 12 minutes) from the upgrade on, never given back",
        [
            _host(
                "batch-1",
                memory=lambda t: 35.0 + 1.5 * max(0.0, (t - UP) // 720),
                app_lines=[
                    _job(UP + 720 * k, "INFO", f"job nightly-export-{k} done in 611s")
                    for k in range(1, 25)
                ],
            )
        ],
        UP + 1440,
        kind="memory leak",
        duration=6 * HOUR,
    )
    # -- OOM kills at the day's peak, hours after a night upgrade.
    day = _cycle(70.0, 6.0, peak_h=6.5)
    kills = [t for t in _times("oom-peak", UP + 60, 9 * HOUR, 500.0, 1100.0) if day(t) > 55.0]
    add(
        "fault-oom-web-only-at-peak",
        "oom-repeated",
        "web-1 is upgraded at night; its new release buffers whole responses: at the day's "
        "peak (above 55 requests/s, from about 3.7 hours in to the end of the 9 hours "
        "watched) its workers pass their cgroup "
        "limit and are killed every 8 to 18 minutes (cgroup v2 wording, synthetic); at night none",
        [
            _web(
                "web-1",
                day,
                kernel=[
                    line
                    for n, t in enumerate(kills)
                    for line in oom_synthetic(
                        t, process="gunicorn", pid=8100 + n, style="cgroup-v2"
                    )
                ],
                errors=lambda t: 0.012 if any(k <= t < k + 60 for k in kills) else 0.003,
            )
        ],
        kills[0],
        kind="oom",
        duration=9 * HOUR,
    )
    graph = _times("oom-graph", UP + 1500, 4 * HOUR, 700.0, 1300.0)
    add(
        "fault-oom-db-graph-server-reaped",
        "oom-repeated",
        "db-1 runs a graph database whose upgrade loads every index into memory: 25 minutes "
        "after the upgrade the kernel kills it (the kill line synthetic, the `oom_reaper: "
        "reaped process ... (lgraph_server)` line quoted), systemd restarts it, and again "
        "every 12 to 22 minutes",
        [
            _host(
                "db-1",
                kernel=[
                    line
                    for n, t in enumerate(graph)
                    for line in (
                        *oom_synthetic(
                            t, process="lgraph_server", pid=68768 + 17 * n, style="single"
                        ),
                        *quoted_event(t + 0.2, "oom-reaper-lgraph", n),
                    )
                ],
                down=[(t, t + 25) for t in graph],
            )
        ],
        graph[0],
        kind="oom",
        **_quoting("oom-reaper-lgraph"),
        duration=4 * HOUR,
    )
    jobs = _times("oom-batch", UP + 2 * HOUR, 5 * HOUR, 900.0, 1500.0)
    add(
        "fault-oom-batch-second-stage-late",
        "oom-repeated",
        "batch-1's upgraded pipeline runs its first stage fine; its second stage, from 2 "
        "hours after the upgrade, reads a whole partition at once and is killed by the "
        "kernel every 15 to 25 minutes (global OOM, 5.x wording, synthetic)",
        [
            _host(
                "batch-1",
                kernel=[
                    line
                    for n, t in enumerate(jobs)
                    for line in oom_synthetic(t, process="python3", pid=5200 + n, style="global")
                ],
                app_lines=[_job(t + 1, "ERROR", "stage 2 worker died: signal 9") for t in jobs],
            )
        ],
        jobs[0],
        kind="oom",
        duration=5 * HOUR,
    )
    # -- crashes.
    crash = UP + 3 * HOUR + 420
    add(
        "fault-crash-web-core-dump-3h",
        "crash",
        "web-1's new release dumps core 3 hours 7 minutes after the upgrade, when its "
        "certificate reload timer first fires (systemd's `Main process exited, code=dumped, "
        "status=11/SEGV` and `Failed with result 'core-dump'`, quoted); Restart=no: it stays "
        "down",
        [
            Host(
                "web-1",
                down=[(crash, 6 * HOUR)],
                syslog=quoted_units("systemd-core-dump-mympd", [crash]),
            )
        ],
        crash,
        kind="crash",
        **_quoting("systemd-core-dump-mympd"),
        duration=6 * HOUR,
    )
    killed = UP + 1300
    add(
        "fault-crash-db-killed-by-watchdog",
        "crash",
        "db-1's upgraded cluster manager's new watchdog kills the database with SIGKILL 22 "
        "minutes after the upgrade (`Main process exited, code=killed, status=9/KILL`, "
        "`Failed with result 'signal'`, quoted) and does not start it again",
        [
            _host(
                "db-1",
                down=[(killed, 4 * HOUR)],
                syslog=quoted_units("systemd-kill9-electrumx", [killed]),
            )
        ],
        killed,
        kind="crash",
        **_quoting("systemd-kill9-electrumx"),
        duration=4 * HOUR,
    )
    gone = UP + 2.5 * HOUR
    add(
        "fault-crash-batch-runner-exits-late",
        "crash",
        "batch-1's upgraded runner exits with status 70 when the first job of the night "
        "shift asks for a capability the new release removed, 2.5 hours after the upgrade; "
        "its unit has Restart=on-abnormal, so it stays down",
        [
            _host(
                "batch-1",
                down=[(gone, 5 * HOUR)],
                app_lines=[_job(gone - 1, "ERROR", "unknown capability 'gpu.v1': exiting (70)")],
                syslog=[
                    (
                        gone,
                        "systemd[1]: app.service: Main process exited, code=exited, "
                        "status=70/SOFTWARE",
                    )
                ],
            )
        ],
        gone,
        kind="crash",
        duration=5 * HOUR,
    )
    # -- outages: intermittent at first, then for good.
    flaps = [(UP + 4 * HOUR + 300 * k, UP + 4 * HOUR + 300 * k + 100 + 20 * k) for k in range(8)]
    add(
        "fault-outage-web-file-descriptors-4h",
        "outage-near-down-for",
        "web-1's new release leaks a file descriptor per websocket; 4 hours after the upgrade "
        "it reaches its limit of 65,536: its health checks are refused for 100 s of every 5 "
        "minutes, then longer each time (`accept4: Too many open files`)",
        [
            Host(
                "web-1",
                down=flaps,
                app_lines=[
                    (s + 1, "@raw ERROR http: accept4: Too many open files; retrying in 1s")
                    for s, _ in flaps
                ],
            )
        ],
        flaps[0][0],
        kind="outage",
        duration=7 * HOUR,
    )
    ro = UP + 1800
    add(
        "fault-outage-db-superblock-read-only",
        "outage-near-down-for",
        "db-1's upgrade adds a device-mapper layer under its data; 30 minutes later a write "
        "to the superblock fails and ext4 aborts its journal and remounts read-only (quoted): "
        "PostgreSQL panics and refuses connections from then on",
        [
            _host(
                "db-1",
                kernel=quoted_event(ro, "ext4-superblock-io-cortx"),
                down=[(ro + 5, 3 * HOUR)],
            )
        ],
        ro,
        kind="outage",
        **_quoting("ext4-superblock-io-cortx"),
        duration=3 * HOUR,
    )
    emmc = UP + 2 * HOUR + 900
    add(
        "fault-outage-batch-root-read-only",
        "outage-near-down-for",
        "batch-1 (an ARM board on eMMC) is upgraded at 1 hour; 2 hours 15 minutes later its "
        "new kernel's eMMC command queueing recovers badly and the root filesystem's journal "
        "aborts (quoted: `Detected aborted journal`, `Remounting filesystem read-only`): the "
        "runner cannot write its spool and its readiness check fails from then on",
        [
            _host(
                "batch-1",
                kernel=quoted_event(emmc, "ext4-aborted-journal-emmc"),
                health_5xx=after(const(0.0), emmc + 10, const(1.0)),
            )
        ],
        emmc,
        kind="outage",
        **_quoting("ext4-aborted-journal-emmc"),
        duration=5 * HOUR,
    )
    # -- units failing.
    dumps = _times("unit-core-dump", UP + 40, 3 * HOUR, 90.0, 240.0)
    add(
        "fault-unit-web-sidecar-core-dumps",
        "systemd-unit-failure",
        "web-1's upgrade ships a new metrics sidecar that dumps core at start (quoted: "
        "`Main process exited, code=dumped, status=11/SEGV`, `Failed with result "
        "'core-dump'`); systemd restarts it every 1.5 to 4 minutes for the whole watch; the "
        "service itself is fine",
        [
            Host(
                "web-1",
                syslog=quoted_units("systemd-core-dump-mympd", dumps),
            )
        ],
        dumps[0],
        kind="unit failed",
        **_quoting("systemd-core-dump-mympd"),
        duration=3 * HOUR,
    )
    sigkill = _times("unit-kill9", UP + 300, 3 * HOUR, 400.0, 900.0)
    add(
        "fault-unit-db-exporter-killed",
        "systemd-unit-failure",
        "db-1's upgraded backup agent exceeds its MemoryMax= at each incremental run and is "
        "killed with SIGKILL (quoted: `code=killed, status=9/KILL`, `Unit entered failed "
        "state`, `Failed with result 'signal'`) every 7 to 15 minutes",
        [
            _host(
                "db-1",
                syslog=quoted_units("systemd-kill9-electrumx", sigkill),
            )
        ],
        sigkill[0],
        kind="unit failed",
        **_quoting("systemd-kill9-electrumx"),
        duration=3 * HOUR,
    )
    timer = [UP + 3 * HOUR + 900 * k for k in range(8)]
    add(
        "fault-unit-batch-timer-fails-late",
        "systemd-unit-failure",
        "batch-1's upgrade changes the quarter-hourly `compact.timer` job, whose first run "
        "after the upgrade window is 3 hours later: from then each run fails (`compact."
        "service: Main process exited, code=exited, status=2/INVALIDARGUMENT`, `Failed with "
        "result 'exit-code'`)",
        [
            _host(
                "batch-1",
                syslog=[
                    line
                    for t in timer
                    for line in (
                        (t, "systemd[1]: Starting compact.service - Compact the spool..."),
                        (
                            t + 2,
                            "systemd[1]: compact.service: Main process exited, code=exited, "
                            "status=2/INVALIDARGUMENT",
                        ),
                        (t + 2.01, "systemd[1]: compact.service: Failed with result 'exit-code'."),
                        (
                            t + 2.02,
                            "systemd[1]: Failed to start compact.service - Compact the spool.",
                        ),
                    )
                ],
            )
        ],
        timer[0] + 2,
        kind="unit failed",
        duration=6 * HOUR,
    )
    # -- data checks.
    drift = UP + 4 * HOUR
    add(
        "fault-data-replica-drifts-4h",
        "data-mismatch",
        "db-1's upgraded logical replication silently skips rows whose JSON column exceeds "
        "a new size limit; the first such row is written 4 hours after the upgrade, and the "
        "data check differs from then on",
        [_host("db-1", data_bad_from=drift)],
        drift,
        kind="data mismatch",
        duration=6 * HOUR,
    )
    medium = UP + 2400
    add(
        "fault-data-replica-medium-error",
        "data-mismatch",
        "40 minutes after db-1's upgrade (a new storage driver), its replica's disk reports "
        "a medium error and a lost write (quoted: `critical medium error`, `lost async page "
        "write`); the replica keeps serving from a stale page: the data check differs",
        [
            _host(
                "db-1",
                kernel=quoted_event(medium, "blk-medium-error-longhorn"),
                data_bad_from=medium + 60,
            )
        ],
        medium + 60,
        kind="data mismatch",
        **_quoting("blk-medium-error-longhorn"),
        duration=3 * HOUR,
    )
    add(
        "fault-data-after-planned-failover",
        "data-mismatch",
        "db-1 is upgraded by `rollsafe upgrade` with a planned failover (refused 40 s); the "
        "new primary's sequence caches were not synced: from 10 minutes later the data check "
        "finds duplicate keys",
        [_host("db-1", **rolled(UP - 60, UP), down=[(UP - 50, UP - 10)], data_bad_from=UP + 600)],
        UP + 600,
        kind="data mismatch",
    )
    return out


def _faults_kernel() -> list[Scenario]:
    """Kernel faults (panics, oopses, lockups, hung tasks, segfault loops), quoted and not."""
    out: list[Scenario] = []
    add = _fault_adder(out)

    def panics(
        times: list[float], boot: float
    ) -> tuple[list[tuple[float, str]], list[tuple[float, float]]]:
        lines = [line for t in times for line in quoted_event(t, "panic-fatal-exception-acrn")]
        return lines, [(t, t + 10 + boot) for t in times]

    loops = _times("panic-web", UP + 600, 3 * HOUR, 1500.0, 2400.0)
    kernel, down = panics(loops, 95.0)
    add(
        "fault-panic-web-fatal-exception-loop",
        "kernel-panic",
        "web-1's upgraded kernel panics on a fatal exception 10 minutes after its reboot "
        "(quoted: `Kernel panic - not syncing: Fatal exception`, `Rebooting in 10 "
        "seconds..`), boots again in about 100 s, and panics again every 25 to 40 minutes",
        [Host("web-1", kernel=kernel, down=down)],
        loops[0],
        kind="kernel panic",
        **_quoting("panic-fatal-exception-acrn"),
        duration=3 * HOUR,
    )
    late = [UP + 4 * HOUR + 300]
    kernel2, down2 = panics(late, 3 * HOUR)
    add(
        "fault-panic-batch-late-stays-down",
        "kernel-panic",
        "batch-1's upgraded kernel panics 4 hours 5 minutes after the upgrade, under the "
        "night's first heavy job (quoted: `Fatal exception`), and does not come back: its "
        "firmware waits at a prompt",
        [_host("batch-1", kernel=kernel2, down=down2)],
        late[0],
        kind="kernel panic",
        **_quoting("panic-fatal-exception-acrn"),
        duration=6 * HOUR,
    )
    oops = UP + 700
    add(
        "fault-oops-web-null-deref-keeps-serving",
        "kernel-oops",
        "web-1's upgraded kernel oopses in a filesystem worker 12 minutes after the upgrade "
        "(quoted: `BUG: kernel NULL pointer dereference`, `Oops: 0000 [#1] PREEMPT SMP PTI`); "
        "the host keeps serving, every write to that filesystem waits: p99 3 times higher",
        [
            Host(
                "web-1",
                kernel=quoted_event(oops, "oops-null-deref-zap-leaf"),
                p99=after(const(0.22), oops, const(0.66)),
            )
        ],
        oops,
        kind="kernel oops",
        **_quoting("oops-null-deref-zap-leaf"),
    )
    oops2 = UP + 2 * HOUR + 1500
    add(
        "fault-oops-db-late-at-vacuum",
        "kernel-oops",
        "db-1's upgraded kernel oopses 2 hours 25 minutes after the upgrade, when the "
        "nightly vacuum first writes to the new volume (quoted: `BUG: kernel NULL pointer "
        "dereference`); the database keeps its connections, its queries slow down 5 times",
        [
            _host(
                "db-1",
                kernel=quoted_event(oops2, "oops-null-deref-zap-leaf"),
                query_latency=after(const(0.012), oops2, const(0.06)),
            )
        ],
        oops2,
        kind="kernel oops",
        **_quoting("oops-null-deref-zap-leaf"),
        duration=5 * HOUR,
    )
    locks = _times("lockup-web", UP + 400, 2 * HOUR, 200.0, 500.0)
    add(
        "fault-lockup-web-jvm-threads",
        "soft-lockup",
        "web-1 is a virtual machine whose upgrade raises its JVM's thread count; from 7 "
        "minutes after the upgrade the hypervisor steals its CPUs and the JVM's threads are "
        "stuck 23 to 33 s at a time (quoted: `NMI watchdog: BUG: soft lockup - CPU#3 stuck "
        "for 23s! [java:102195]`) every 3 to 8 minutes; health checks 40 -> 400 ms",
        [
            Host(
                "web-1",
                kernel=_repeated("soft-lockup-java-primihub", locks),
                latency=after(const(0.04), locks[0], const(0.4)),
            )
        ],
        locks[0],
        kind="soft lockup",
        **_quoting("soft-lockup-java-primihub"),
    )
    locks2 = _times("lockup-batch", UP + 3 * HOUR, 6 * HOUR, 300.0, 700.0)
    add(
        "fault-lockup-batch-late-under-jobs",
        "soft-lockup",
        "batch-1's upgraded JVM runner is fine for 3 hours; when the night's jobs start, its "
        "threads lock up CPUs every 5 to 12 minutes (quoted soft lockups of `java`)",
        [_host("batch-1", kernel=_repeated("soft-lockup-java-primihub", locks2))],
        locks2[0],
        kind="soft lockup",
        **_quoting("soft-lockup-java-primihub"),
        duration=6 * HOUR,
    )
    hung = _times("hung-db", UP + 1200, 3 * HOUR, 240.0, 480.0)
    add(
        "fault-hung-db-thread-on-journal",
        "hung-task",
        "db-1's upgrade moves its WAL onto a cached block device; 20 minutes later a "
        "database thread blocks on a journal commit for more than 120 s (quoted: `INFO: task "
        "FwgThread OpFor:15341 blocked for more than 120 seconds.`), again every 4 to 8 "
        "minutes; queries 10 times slower",
        [
            _host(
                "db-1",
                kernel=_repeated("hung-fwgthread-open-cas", hung),
                query_latency=after(const(0.012), hung[0], const(0.12)),
            )
        ],
        hung[0],
        kind="hung task",
        **_quoting("hung-fwgthread-open-cas"),
        duration=3 * HOUR,
    )
    target = UP + 5 * HOUR
    blocked = [target + 125 + 240 * k for k in range(5)]
    add(
        "fault-hung-batch-disk-refuses-writes-5h",
        "hung-task",
        "5 hours after batch-1's upgrade (a new SCSI driver), its spool disk refuses a write "
        "and the journal aborts (quoted: `critical target error`, `Aborting journal on device "
        "sdb1-8.`); the job's threads block for more than 120 s, again and again (quoted)",
        [
            _host(
                "batch-1",
                kernel=[
                    *quoted_event(target, "blk-critical-target-lede"),
                    *_repeated("hung-fwgthread-open-cas", blocked),
                ],
            )
        ],
        target,
        kind="hung task",
        **_quoting("blk-critical-target-lede", "hung-fwgthread-open-cas"),
        duration=7 * HOUR,
    )
    segv = _times("segv-web", UP + 30, 2 * HOUR, 30.0, 150.0)
    add(
        "fault-segv-web-filter-after-upgrade",
        "segfault-loop",
        "web-1's upgrade brings a new glib; its mail filter, restarted by its supervisor, "
        "crashes in it from 30 s after the upgrade every half minute to 2.5 minutes (quoted: "
        "`rspamd[2969]: segfault at 69423088 ... in libglib-2.0.so`); 1% of requests fail",
        [
            Host(
                "web-1",
                kernel=_repeated("segv-rspamd-after-upgrade", segv),
                error_ratio=after(const(0.003), segv[0], const(0.013)),
            )
        ],
        segv[0],
        kind="segfault loop",
        **_quoting("segv-rspamd-after-upgrade"),
    )
    segv2 = _times("segv-batch", UP + 2 * HOUR, 5 * HOUR, 120.0, 400.0)
    add(
        "fault-segv-batch-relay-late",
        "segfault-loop",
        "batch-1 also runs a media relay; its upgraded libc build crashes it (quoted: "
        "`turnserver[24802]: segfault at c0 ... in libc-2.12.so`) from 2 hours after the "
        "upgrade, when the evening's sessions start, every 2 to 7 minutes",
        [_host("batch-1", kernel=_repeated("segv-turnserver-libc", segv2))],
        segv2[0],
        kind="segfault loop",
        **_quoting("segv-turnserver-libc"),
        duration=5 * HOUR,
    )
    segv3 = _times("segv-db", UP + 600, 3 * HOUR, 60.0, 200.0)
    add(
        "fault-segv-db-extension-worker",
        "segfault-loop",
        "db-1's upgraded geospatial extension crashes a backend every 1 to 3 minutes from 10 "
        "minutes after the upgrade (`postgres[N]: segfault at 8 ... in postgis-3.so`, "
        "synthetic); the postmaster restarts its backends each time",
        [
            _host(
                "db-1",
                kernel=[
                    (t, _segv("postgres", 30100 + 7 * n, "postgis-3.so[7f1e4c000000+2a0000]"))
                    for n, t in enumerate(segv3)
                ],
                query_latency=bumped(const(0.012), [(t, t + 20, 0.4) for t in segv3]),
            )
        ],
        segv3[0],
        kind="segfault loop",
        duration=3 * HOUR,
    )
    return out


# --------------------------------------------------------------------------- healthy


def healthy() -> list[Scenario]:
    """Held-out-12 healthy upgrades, synthetic and quoted: fleets and the noise that fools
    naive rules."""
    return [*_healthy_fleet(), *_healthy_noise()]


def _healthy_fleet() -> list[Scenario]:
    out: list[Scenario] = []
    # -- the whole fleet slower at the peak.
    day = _cycle(90.0, 8.0, peak_h=7.5)
    peak = _crowded(day, 60.0, 1.5 / 30.0)
    _add(
        out,
        "healthy-fleet-slower-together-at-peak",
        "fleet-wide",
        "three web hosts share a daily cycle (8 to 90 requests/s each, peak at 7.5 hours); "
        "web-1 is upgraded at night; at the peak every host's p99 rises up to 2.5 times "
        "(their shared database is the bottleneck), the upgraded one no more than the others",
        [
            _web("web-1", _share(day, 1.0, "fleet-peak/web-1"), slower=peak),
            *_peers(day, "fleet-peak", (2, 3), slower=peak),
        ],
        duration=9 * HOUR,
    )
    # -- the whole fleet erring in a spike.
    spike = (UP + 2400, UP + 2760)
    surge = bumped(const(40.0), [(*spike, 160.0)])
    errs = bumped(const(0.003), [(*spike, 0.025)])
    _add(
        out,
        "healthy-fleet-errors-together-in-spike",
        "fleet-wide",
        "three web hosts; web-1 is upgraded; 40 minutes later a push notification sends "
        "traffic from 40 to 160 requests/s per host for 6 minutes and every host sheds 2.5% "
        "of its requests (503) while it lasts",
        [
            _web("web-1", _share(surge, 1.0, "fleet-spike/web-1"), errors=errs),
            *_peers(surge, "fleet-spike", (2, 3), errors=errs),
        ],
    )
    # -- canaries given less or more of the traffic.
    _add(
        out,
        "healthy-canary-on-a-twentieth",
        "canary-traffic",
        "web-4 is the canary and gets a twentieth of a peer's traffic (2 requests/s against "
        "40 for web-1 to web-3); at that rate its p99 is the slowest of a few requests and "
        "jumps between 0.1 and 0.5 s, its error ratio between 0 and 1.6% (one failure in a "
        "minute); nothing is wrong",
        [
            _web("web-4", _share(const(40.0), 0.05, "canary-twentieth/web-4"), errors=const(0.004)),
            *_peers(const(40.0), "canary-twentieth", (1, 2, 3)),
        ],
    )
    _add(
        out,
        "healthy-canary-given-triple-share",
        "canary-traffic",
        "web-2 is the canary and the balancer gives it three times a peer's share (105 "
        "requests/s against 35 for web-1 and web-3): its CPU and p99 are higher than theirs "
        "in proportion, as they were before its upgrade when it got the same share",
        [
            _web("web-2", _share(const(35.0), 3.0, "canary-triple/web-2")),
            *_peers(const(35.0), "canary-triple", (1, 3)),
        ],
    )
    # -- peers upgraded hours later, all fine; traffic following the day.
    day2 = _cycle(70.0, 6.0, peak_h=6.5)
    _add(
        out,
        "healthy-rolling-upgrade-over-the-day",
        "rolling-upgrade",
        "a rolling upgrade under a daily cycle: web-1 at 1 hour (night), web-2 at 4 hours, "
        "web-3 at 6.5 hours (peak); each restart refuses 15 s and answers its first checks "
        "slowly for 30 s; the "
        "fleet's p99 follows its traffic, the same on every host",
        [
            _web("web-1", _share(day2, 1.0, "rolling-day/web-1"), **restart_at(UP)),
            _web(
                "web-2",
                _share(day2, 1.0, "rolling-day/web-2"),
                **restart_at(4 * HOUR),
                upgrades=[4 * HOUR],
            ),
            _web(
                "web-3",
                _share(day2, 1.0, "rolling-day/web-3"),
                **restart_at(6.5 * HOUR),
                upgrades=[6.5 * HOUR],
            ),
        ],
        duration=8 * HOUR,
    )
    # -- a drained host in a fleet: its traffic goes to its peers.
    drain = (UP - 300, UP + 240)
    _add(
        out,
        "healthy-fleet-drained-for-upgrade",
        "canary-drain",
        "three web hosts at 40 requests/s; web-1 is drained 5 minutes before its upgrade "
        "and put back 4 minutes after (its traffic 40 -> 0.5 -> 40 requests/s), its peers "
        "taking 60 requests/s each meanwhile; nothing fails",
        [
            _web("web-1", bumped(_share(const(40.0), 1.0, "fleet-drain/web-1"), [(*drain, 0.5)])),
            *[
                _web(
                    f"web-{k}",
                    bumped(_share(const(40.0), 1.0, f"fleet-drain/web-{k}"), [(*drain, 60.0)]),
                    upgrades=[],
                )
                for k in (2, 3)
            ],
        ],
    )
    # -- a day of history, the day after the same.
    hday = _cycle(60.0, 5.0, peak_h=12.0)
    _add(
        out,
        "healthy-day-after-history",
        "daily-cycle",
        "web-1 is recorded for the whole day before its upgrade (01:00 of day 2) under a "
        "daily cycle (5 to 60 requests/s, peak at 12:00, p99 and CPU following it); the day "
        "after is the day before again, with its own noise",
        [_web("web-1", hday, upgrades=[H_UP], health_start=H_CHECKS)],
        duration=DAY + 12 * HOUR,
    )
    growth = lambda t: 30.0 * (1.0 + 0.9 * min(1.0, max(0.0, t - UP - 1800) / (2 * HOUR)))  # noqa: E731
    _add(
        out,
        "healthy-fleet-traffic-grows-after-launch",
        "traffic-growth",
        "three web hosts; web-1 is upgraded at 1 hour; half an hour later a product launch "
        "lifts traffic on every host by 90% over 2 hours; CPU and p99 follow it on all three",
        [
            _web("web-1", _share(growth, 1.0, "fleet-growth/web-1")),
            *_peers(growth, "fleet-growth", (2, 3)),
        ],
        duration=4 * HOUR,
    )
    return out


def _healthy_noise() -> list[Scenario]:
    out: list[Scenario] = []
    _add(
        out,
        "healthy-warmup-cache-cold-after-run",
        "warmup-restart",
        "web-1 is upgraded by `rollsafe upgrade` (refused 20 s); its caches are cold: p99 "
        "3.5 times higher and health checks twice as slow, decaying over about 8 minutes",
        [
            Host(
                "web-1",
                **rolled(UP - 50, UP),
                down=[(UP - 40, UP - 20)],
                latency=decaying(UP - 20, 0.04, 0.08, 160.0),
                p99=decaying(UP - 20, 0.22, 0.77, 160.0),
            )
        ],
    )
    cron = [UP - 1800 + k * 3600 for k in range(5)]
    _add(
        out,
        "healthy-cron-half-past-every-hour",
        "cron-cpu",
        "at half past every hour (before the upgrade too) a log compression cron job runs on "
        "db-1 for 6 minutes: CPU 85%, query p99 2.5 times higher meanwhile",
        [
            _host(
                "db-1",
                cpu=bumped(const(20.0), [(t, t + 360, 85.0) for t in cron]),
                query_latency=bumped(const(0.012), [(t, t + 360, 0.03) for t in cron]),
                syslog=[
                    (t, "CRON[4410]: (postgres) CMD (/usr/local/bin/compress-logs)") for t in cron
                ],
            )
        ],
        duration=5 * HOUR,
    )
    _add(
        out,
        "healthy-prometheus-gap-after-upgrade",
        "monitoring-gap",
        "Prometheus itself is upgraded at the same time as web-1 and is away for 11 minutes "
        "from 2 minutes after: no errors, p99, request rate, CPU or memory meanwhile; the "
        "health checks go on and are fine",
        [Host("web-1", gaps={"prometheus": [(UP + 120, UP + 780)]})],
    )
    _add(
        out,
        "healthy-errors-as-before-upgrade",
        "preexisting-errors",
        "web-1 has failed 1.2% of its requests for days (a client sending malformed tokens, "
        "logged as `ERROR auth: invalid token signature`); its upgrade changes nothing of it",
        [
            Host(
                "web-1",
                error_ratio=const(0.012),
                app_lines=[
                    (t, "@raw ERROR auth: invalid token signature (client=legacy-ios)")
                    for t in _times("preexisting", 30.0, 2 * HOUR, 20.0, 70.0)
                ],
            )
        ],
    )
    _add(
        out,
        "healthy-noisy-syslog-rsyslog-and-snapd",
        "noisy-syslog",
        "batch-1's syslog is noisy before and after its upgrade alike: rsyslog's rate limiter "
        "(`imjournal: ... messages lost due to rate-limiting`) and snapd's refresh failures "
        "every 10 to 30 minutes; the runner is fine",
        [
            _host(
                "batch-1",
                syslog=[
                    (
                        t,
                        "rsyslogd[812]: imjournal: 1874 messages lost due to rate-limiting "
                        "(20000 allowed within 600 seconds)",
                    )
                    if n % 2
                    else (
                        t,
                        "snapd[1033]: autorefresh.go:540: Cannot prepare auto-refresh change: "
                        "cannot refresh snap-declaration",
                    )
                    for n, t in enumerate(_times("noisy-syslog", 60.0, 4 * HOUR, 600.0, 1800.0))
                ],
            )
        ],
        duration=4 * HOUR,
    )
    blip = (UP + 2100, UP + 2190)
    _add(
        out,
        "healthy-dependency-blip-identity-provider",
        "dependency-blip",
        "35 minutes after web-1's healthy upgrade the identity provider fails over for 90 s: "
        "8% of requests (those that log in) fail with `upstream idp: 502`, then all is well",
        [
            Host(
                "web-1",
                error_ratio=bumped(const(0.003), [(*blip, 0.08)]),
                app_lines=[
                    (t, "@raw ERROR auth: upstream idp: 502 Bad Gateway")
                    for t in _times("idp-blip", blip[0], blip[1], 0.5, 2.0)
                ],
            )
        ],
    )
    boot = UP - 120
    _add(
        out,
        "healthy-db-planned-reboot-for-kernel",
        "planned-reboot",
        "db-1 is upgraded with a new kernel and rebooted on purpose (an orderly shutdown, "
        "`systemd-shutdown[1]: Syncing filesystems and block devices.`, then `Linux version` "
        "at boot): refused for 110 s, its first queries cold for 5 minutes",
        [
            _host(
                "db-1",
                down=[(boot, boot + 110)],
                syslog=[
                    (
                        boot - 5,
                        "systemd[1]: Stopping postgresql@15-main.service - PostgreSQL Cluster "
                        "15-main...",
                    ),
                    (boot - 1, "systemd-shutdown[1]: Syncing filesystems and block devices."),
                    (
                        boot + 100,
                        "systemd[1]: Started postgresql@15-main.service - PostgreSQL Cluster "
                        "15-main.",
                    ),
                ],
                kernel=[
                    (
                        boot + 60,
                        "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 "
                        "(Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1",
                    )
                ],
                query_latency=decaying(boot + 110, 0.012, 0.05, 100.0),
            )
        ],
    )
    restart = UP + 2 * HOUR
    _add(
        out,
        "healthy-batch-planned-restart-late",
        "restart-blip",
        "batch-1 is upgraded at 1 hour and restarted on purpose 2 hours later to pick up a "
        "rotated secret (`Stopping app.service`, refused 15 s, `Started app.service`)",
        [_host("batch-1", **restart_at(restart))],
        duration=4 * HOUR,
    )
    _add(
        out,
        "healthy-single-segfault-of-helper",
        "single-segfault",
        "an hour after web-1's healthy upgrade its thumbnail helper crashes once on a "
        "corrupt upload (`convert[N]: segfault`, synthetic) and is started again for the "
        "next request; nothing else",
        [
            Host(
                "web-1",
                kernel=[
                    (
                        UP + 3600,
                        _segv("convert", 22817, "libMagickCore-6.Q16.so.6[7f0c1e000000+3a0000]"),
                    )
                ],
            )
        ],
        duration=3 * HOUR,
    )
    _add(
        out,
        "healthy-single-oom-of-report-job",
        "single-oom",
        "2 hours after batch-1's healthy upgrade a one-off report job asked for by an analyst "
        "is killed by the kernel once (synthetic, single line); the runner goes on",
        [
            _host(
                "batch-1",
                kernel=oom_synthetic(UP + 2 * HOUR, process="report", pid=41277, style="single"),
            )
        ],
        duration=4 * HOUR,
    )
    _add(
        out,
        "healthy-cache-fills-then-levels",
        "cache-growth",
        "db-1's upgrade raises shared_buffers; memory rises 20 points over the hour after "
        "the upgrade as pages are read in, then stays flat for the 5 hours watched",
        [
            _host(
                "db-1",
                memory=lambda t: (
                    45.0 + (0.0 if t < UP else 20.0 * (1 - math.exp(-(t - UP) / 1200.0)))
                ),
            )
        ],
        duration=6 * HOUR,
    )
    _add(
        out,
        "healthy-gc-sawtooth-bigger-heap",
        "gc-sawtooth",
        "web-1's upgrade doubles its heap: memory now climbs 14 points over 9 minutes and "
        "drops at each full collection (it climbed 7 before), steady over hours",
        [
            Host(
                "web-1",
                memory=lambda t: 40.0 + (7.0 if t < UP else 14.0) * ((t % 540.0) / 540.0),
            )
        ],
        duration=4 * HOUR,
    )
    _add(
        out,
        "healthy-readonly-scratch-disk-unrelated",
        "kernel-warning",
        "an hour after batch-1's healthy upgrade a USB scratch disk nobody uses any more "
        "aborts its journal and is remounted read-only (quoted: `Detected aborted journal`, "
        "`Remounting filesystem read-only`, of sdd1); the runner's spool is elsewhere",
        [_host("batch-1", kernel=quoted_event(UP + HOUR, "ext4-aborted-journal-rsync"))],
        duration=3 * HOUR,
        **_quoting("ext4-aborted-journal-rsync"),
    )
    _add(
        out,
        "healthy-container-volume-read-only-unrelated",
        "kernel-warning",
        "40 minutes after web-1's healthy upgrade an old container volume (dm-4) aborts its "
        "journal and goes read-only (quoted); the service does not use it",
        [Host("web-1", kernel=quoted_event(UP + 2400, "ext4-journal-aborted-dm4"))],
        **_quoting("ext4-journal-aborted-dm4"),
    )
    rotate = [UP - 3000 + k * 3600 for k in range(4)]
    _add(
        out,
        "healthy-log-rotation-hourly-reopen",
        "log-rotation",
        "web-1's access log is rotated every hour (before the upgrade too): logrotate "
        "signals the service, which reopens its files and drops the requests in flight: "
        "about 0.5% errors for 10 s each time, and `WARN ... reopening log files`",
        [
            Host(
                "web-1",
                error_ratio=bumped(const(0.003), [(t, t + 10, 0.008) for t in rotate]),
                app_lines=[(t, "@raw WARN logging: SIGUSR1: reopening log files") for t in rotate],
                syslog=[
                    (t - 1, "logrotate[5521]: rotating log /var/log/app/access.log") for t in rotate
                ],
            )
        ],
        duration=3 * HOUR,
    )
    step = UP + 1500
    _add(
        out,
        "healthy-clock-stepped-forward-after-reboot",
        "clock-skew",
        "db-1 comes back from its upgrade's reboot with a clock 90 s behind; 25 minutes "
        "later chrony steps it forward (`chronyd[702]: System clock wrong by 90.214 seconds, "
        "adjustment started`, `System clock was stepped by 90.214 seconds`); nothing else",
        [
            _host(
                "db-1",
                syslog=[
                    (
                        step,
                        "chronyd[702]: System clock wrong by 90.214 seconds, adjustment started",
                    ),
                    (step + 0.5, "chronyd[702]: System clock was stepped by 90.214 seconds"),
                ],
            )
        ],
    )
    reload = UP + 2700
    _add(
        out,
        "healthy-config-reload-fleet-wide",
        "config-reload",
        "three web hosts; web-1 is upgraded; 45 minutes later a configuration push reloads "
        "every host (SIGHUP, `Reloading app.service`, `Reloaded app.service`): p99 1.4 "
        "times higher for 40 s on each, the upgraded one as the others",
        [
            _web(
                "web-1",
                _share(const(30.0), 1.0, "fleet-reload/web-1"),
                slower=bumped(const(1.0), [(reload, reload + 40, 1.4)]),
                syslog=[
                    (reload, "systemd[1]: Reloading app.service - Application server..."),
                    (reload + 1, "systemd[1]: Reloaded app.service - Application server."),
                ],
            ),
            *_peers(
                const(30.0),
                "fleet-reload",
                (2, 3),
                slower=bumped(const(1.0), [(reload + 20, reload + 60, 1.4)]),
            ),
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
    """Held-out-12 recordings on the real metrics and logs of ``../shared/data``: NAB day 1
    of the ELB, days 0-1 and 12-13 of the network (as traffic, with a day of history), days
    0, 2 and 11 of the request latency, days 0 and 3 of RDS, days 10-11 of 53ea38, day 12 of
    24ae8d, days 0 and 12 of 77c1ca; Loghub Linux lines 1,650-1,849, Apache 1,000-1,199 and
    1,400-1,499, Hadoop 0-99."""
    shared = _Shared(nab, linux, apache, hadoop, cite_nab, cite_log)
    return [*_real_fleet(shared), *_real_other(shared)]


def _scaled(shared: _Shared, name: str, offset: float, median: float) -> Curve:
    """A NAB series from ``offset`` seconds, scaled to a median of ``median`` (floor 0.3)."""
    series = shared.nab[name]
    curve = series.curve(offset, scale=median / max(1e-9, series.median()))
    return lambda t: max(0.3, curve(t))


def _real_fleet(shared: _Shared) -> list[Scenario]:
    """Fleets under a real traffic shape, and days of history, on real data."""
    out: list[Scenario] = []
    add = _HALF.real_adder(out)
    cite_nab = shared.cite_nab
    elb = _scaled(shared, ELB, 1 * DAY, 30.0)
    busy = shared.nab[ELB].quantile(0.8) * 30.0 / max(1e-9, shared.nab[ELB].median())
    src = [cite_nab(ELB)]

    def fleet(  # noqa: PLR0917 (one call per recording, read like a table)
        name: str,
        family: str,
        description: str,
        ks: Sequence[int],
        mine: dict[str, Any],
        peers: dict[str, Any],
        at: float | None,
        kind: str = "",
        duration: float = 20 * HOUR,
    ) -> None:
        load = _share(elb, 1.0, f"{name}/web-1")
        hosts = [
            _web(
                "web-1",
                load,
                **{
                    k: (v(load) if callable(v) and k in {"slower", "errors"} else v)
                    for k, v in mine.items()
                },
            ),
            *[
                _web(
                    f"web-{k}",
                    peer,
                    upgrades=[],
                    **{
                        key: (v(peer) if key in {"slower", "errors"} else v)
                        for key, v in peers.items()
                    },
                )
                for k in ks
                for peer in [_share(elb, 1.0, f"{name}/web-{k}")]
            ],
        ]
        add(
            Scenario(
                name,
                family,
                description,
                hosts,
                duration=duration,
                faults=[] if at is None else [fault("web-1", at, kind)],
                sources=src,
            )
        )

    intro = (
        "a fleet behind one balancer shares a real ELB's day (NAB elb_request_count_8c0756, "
        "day 1 from 00:00, scaled to a median of 30 requests/s per host, each host with noise "
        "of its own); web-1 alone is upgraded at 01:00"
    )
    load1 = _share(elb, 1.0, "fault-errors-real-fleet-elb-day1-peak/web-1")
    first = _first(load1, busy, UP, 20 * HOUR)
    fleet(
        "fault-errors-real-fleet-elb-day1-peak",
        "metrics-error-ratio",
        f"{intro}; web-2, web-3 and web-4 are not. Its new release's per-host rate limit "
        "is too low: whenever its traffic is above the series' 80th percentile 9% of its "
        "requests get 429; its peers serve the same peaks at 0.3%",
        (2, 3, 4),
        {"errors": lambda load: _above(load, busy, 0.09, 0.003, UP)},
        {},
        first,
        "request errors",
    )
    load2 = _share(elb, 1.0, "fault-p99-real-fleet-elb-day1-peak/web-1")
    first2 = _first(load2, busy, UP, 20 * HOUR)
    fleet(
        "fault-p99-real-fleet-elb-day1-peak",
        "metrics-latency-quantile",
        f"{intro}; web-2 and web-3 are not. Its new release takes a lock per tenant: whenever "
        "its traffic is above the series' 80th percentile its p99 is 5 times its peers'",
        (2, 3),
        {"slower": lambda load: _above(load, busy, 5.0, 1.0, UP)},
        {},
        first2,
        "latency",
    )
    load3 = _share(elb, 1.0, "fault-latency-real-fleet-elb-day1-peak/web-1")
    first3 = _first(load3, busy, UP, 20 * HOUR)
    fleet(
        "fault-latency-real-fleet-elb-day1-peak",
        "latency-regression",
        f"{intro}; web-2, web-3 are not. Its health endpoint now checks every backend "
        "synchronously: whenever its traffic is above the series' 80th percentile its health "
        "checks take 3 times as long (40 -> 120 ms), at night as before",
        (2, 3),
        {
            "latency": _above(load3, busy, 0.04 * 3.0, 0.04, UP),
        },
        {},
        first3,
        "latency",
    )
    fleet(
        "healthy-real-fleet-elb-day1-slow-together",
        "fleet-wide",
        f"{intro}; web-2, web-3 and web-4 are not. At the day's peaks (above the series' "
        "80th percentile) every host's p99 is 2.2 times higher: the shared cache cluster "
        "saturates, for the upgraded host as for the others",
        (2, 3, 4),
        {"slower": lambda load: _above(load, busy, 2.2, 1.0, 0.0)},
        {"slower": lambda load: _above(load, busy, 2.2, 1.0, 0.0)},
        None,
    )
    spike = (9 * HOUR, 9 * HOUR + 420)
    fleet(
        "healthy-real-fleet-elb-day1-errors-together",
        "fleet-wide",
        f"{intro}; web-2 and web-3 are not. At 09:00 the payment provider is down for 7 "
        "minutes and every host fails 4% of its requests meanwhile",
        (2, 3),
        {"errors": lambda load: bumped(const(0.003), [(*spike, 0.04)])},
        {"errors": lambda load: bumped(const(0.003), [(*spike, 0.04)])},
        None,
    )
    # -- a canary on real traffic, given a quarter.
    canary = _share(elb, 0.25, "healthy-real-canary-quarter-elb-day1/web-1")
    add(
        Scenario(
            "healthy-real-canary-quarter-elb-day1",
            "canary-traffic",
            f"{intro}, as a canary given a quarter of a peer's share; web-2 and web-3 (not "
            "upgraded) get the rest; its p99 and errors are noisier on so little traffic, "
            "nothing is wrong",
            [
                _web("web-1", canary),
                *[
                    _web(
                        f"web-{k}",
                        _share(elb, 1.0, f"healthy-real-canary-quarter-elb-day1/web-{k}"),
                        upgrades=[],
                    )
                    for k in (2, 3)
                ],
            ],
            duration=20 * HOUR,
            sources=src,
        )
    )
    # -- days of history on a real network's days (as traffic).
    for days, peak_fault in ((0, True), (12, False)):
        net = _scaled(shared, NET, days * DAY, 30.0)
        hot = shared.nab[NET].quantile(0.8) * 30.0 / max(1e-9, shared.nab[NET].median())
        name = (
            f"fault-p99-real-history-net-days{days}-{days + 1}"
            if peak_fault
            else f"healthy-real-history-net-days{days}-{days + 1}"
        )
        first_hot = _first(net, hot, H_UP, 2 * DAY)
        text = (
            f"web-1's traffic follows a real network's two days (NAB ec2_network_in_257a54, "
            f"days {days} and {days + 1} from 00:00, scaled to a median of 30 requests/s), "
            "recorded from the day before its upgrade at 01:00 of the second day (health "
            "checks from 3 hours before it); web-2, not upgraded, shares the traffic"
        )
        add(
            Scenario(
                name,
                "metrics-latency-quantile" if peak_fault else "daily-cycle",
                text
                + (
                    "; the new release's serializer is slower per request: whenever traffic is "
                    "above the series' 80th percentile web-1's p99 is 3.5 times what it was at "
                    "such loads the day before"
                    if peak_fault
                    else "; the second day is like the first, with its own noise"
                ),
                [
                    _web(
                        "web-1",
                        _share(net, 1.0, f"{name}/web-1"),
                        upgrades=[H_UP],
                        health_start=H_CHECKS,
                        slower=_above(net, hot, 3.5, 1.0, H_UP) if peak_fault else None,
                    ),
                    _web(
                        "web-2",
                        _share(net, 1.0, f"{name}/web-2"),
                        upgrades=[],
                        health_start=H_CHECKS,
                    ),
                ],
                duration=2 * DAY,
                faults=[fault("web-1", first_hot, "latency")] if peak_fault else [],
                sources=[cite_nab(NET)],
            )
        )
    # -- errors beginning late on real traffic, no peers: a day of history too.
    net0 = _scaled(shared, NET, 0.0, 25.0)
    late = H_UP + 5 * HOUR
    add(
        Scenario(
            "fault-errors-real-history-late-5h-net-days0-1",
            "metrics-error-ratio",
            "web-1's traffic follows a real network's days 0 and 1 (NAB ec2_network_in_257a54, "
            "scaled to a median of 25 requests/s), recorded from the day before its upgrade "
            "at 01:00 of day 1; 5 hours after the upgrade its new release's token cache "
            "expires all at once and 6% of requests fail for the rest of the day",
            [
                _web(
                    "web-1",
                    net0,
                    upgrades=[H_UP],
                    health_start=H_CHECKS,
                    errors=after(const(0.003), late, const(0.06)),
                )
            ],
            duration=DAY + 12 * HOUR,
            faults=[fault("web-1", late, "request errors")],
            sources=[cite_nab(NET)],
        )
    )
    return out


def _rds_query(level: Curve) -> Curve:
    """A database's query p99 following a real instance's load level (0 to 1)."""
    return lambda t: 0.01 * (1.0 + 0.8 * max(0.0, level(t)))


def _rds_cpu(level: Curve) -> Curve:
    """A database's CPU following a real instance's load level (0 to 1)."""
    return lambda t: 15.0 + 40.0 * max(0.0, min(1.5, level(t)))


def _backup(query: Curve, at: float, length: float) -> Curve:
    """``query`` doubled for ``length`` seconds from ``at`` (a nightly backup's I/O)."""
    return lambda t: query(t) * (2.0 if at <= t < at + length else 1.0)


def _real_other(shared: _Shared) -> list[Scenario]:
    """Single hosts over real metrics and logs: late faults and noisy healthy upgrades."""
    out: list[Scenario] = []
    add = _HALF.real_adder(out)
    nab, linux, apache, hadoop = shared.nab, shared.linux, shared.apache, shared.hadoop
    cite_nab, cite_log = shared.cite_nab, shared.cite_log
    stretch, kernel_of = build.stretched, build.kernel_of
    lat = nab[LATENCY]

    def latency_shape(day: int) -> Curve:
        curve = lat.curve(day * DAY, scale=1.0 / max(1e-9, lat.median()))
        return lambda t: 0.04 * max(0.3, curve(t))

    # -- latency regressions over real latency shapes (days 0, 2, 11).
    for day, factor, start in (
        (0, 2.2, UP + 20),
        (2, 1.7, UP + 2.5 * HOUR),
        (11, 3.0, UP + 4 * HOUR),
    ):
        shape = latency_shape(day)
        name = f"fault-latency-real-ec2-day{day}-x{factor:g}"
        add(
            Scenario(
                name,
                "latency-regression",
                f"web-1's health latency follows a real service's request latency (NAB "
                f"ec2_request_latency_system_failure, day {day}, median 40 ms, its own spikes "
                f"included); {_after_upgrade(start)} the new release's "
                f"added check makes it {factor:g} times slower, to the end",
                [
                    Host(
                        "web-1",
                        latency=_times_after(shape, factor, start),
                    )
                ],
                duration=start + 2 * HOUR,
                faults=[fault("web-1", start, "latency")],
                sources=[cite_nab(LATENCY)],
            )
        )
    shape5 = latency_shape(5)
    add(
        Scenario(
            "healthy-real-ec2-latency-day5",
            "latency-noise",
            "web-1's health latency follows a real service's request latency (NAB "
            "ec2_request_latency_system_failure, day 5, median 40 ms, its own spikes "
            "included) before and after a healthy upgrade",
            [Host("web-1", latency=shape5)],
            duration=5 * HOUR,
            sources=[cite_nab(LATENCY)],
        )
    )
    # -- databases over real RDS load (days 0 and 3).
    for day, bad in ((0, UP + 3 * HOUR), (3, None)):
        level = nab[RDS].level(day * DAY, smooth=20 * MINUTE)
        name = f"fault-data-real-rds-day{day}-late" if bad else f"healthy-real-rds-day{day}"
        add(
            Scenario(
                name,
                "data-mismatch" if bad else "backup-io",
                f"db-1's query p99 and CPU follow a real RDS instance's load (NAB "
                f"rds_cpu_utilization_cc0c53, day {day}, smoothed over 20 minutes)"
                + (
                    "; 3 hours after its upgrade the new replication slot's filter drops "
                    "deletes of a partitioned table: the data check differs from then on"
                    if bad
                    else "; a nightly backup 2 hours after the healthy upgrade doubles its "
                    "query p99 for 25 minutes"
                ),
                [
                    _host(
                        "db-1",
                        query_latency=(
                            _rds_query(level)
                            if bad
                            else _backup(_rds_query(level), UP + 2 * HOUR, 1500.0)
                        ),
                        cpu=_rds_cpu(level),
                        data_bad_from=bad,
                    )
                ],
                duration=6 * HOUR,
                faults=[fault("db-1", bad, "data mismatch")] if bad else [],
                sources=[cite_nab(RDS)],
            )
        )
    # -- memory over real wander (53ea38 days 10-11, 77c1ca days 0 and 12, 24ae8d day 12).
    w53 = nab["ec2_cpu_utilization_53ea38"].wander(10 * DAY, amplitude=3.0)
    start_leak = UP + 3 * HOUR
    add(
        Scenario(
            "fault-leak-real-wander-53ea38-late",
            "memory-leak",
            "web-1's memory wanders about 3 points with a real instance's load (NAB ec2_cpu_"
            "utilization_53ea38, days 10 and 11, smoothed over an hour) around 45%; 3 hours "
            "after its upgrade a new retry path starts keeping its failed payloads: 2.5 points "
            "an hour from then, never given back",
            [Host("web-1", memory=lambda t: 45.0 + w53(t) + 2.5 * max(0.0, t - start_leak) / HOUR)],
            duration=14 * HOUR,
            faults=[fault("web-1", start_leak, "memory leak")],
            sources=[cite_nab("ec2_cpu_utilization_53ea38")],
        )
    )
    for day in (0, 12):
        w77 = nab["ec2_cpu_utilization_77c1ca"].wander(day * DAY, amplitude=4.0)
        add(
            Scenario(
                f"healthy-real-memory-wander-77c1ca-day{day}",
                "memory-wander",
                f"batch-1's memory wanders with a real instance's load (NAB ec2_cpu_utilization_"
                f"77c1ca, day {day}, smoothed over an hour, about 4 points) around 50% before "
                "and after a healthy upgrade; nothing grows",
                [_host("batch-1", memory=_plus(50.0, w77))],
                duration=8 * HOUR,
                sources=[cite_nab("ec2_cpu_utilization_77c1ca")],
            )
        )
    c24 = nab["ec2_cpu_utilization_24ae8d"]
    cpu12 = c24.curve(12 * DAY, scale=60.0 / max(1.0, c24.quantile(0.99)))
    locks = _times("lockup-24ae8d", UP + 2 * HOUR, 5 * HOUR, 500.0, 1200.0)
    add(
        Scenario(
            "fault-lockup-real-cpu-24ae8d-day12",
            "soft-lockup",
            "batch-1's CPU follows a real instance's (NAB ec2_cpu_utilization_24ae8d, day 12, "
            "scaled to 60% at its 99th percentile); 2 hours after its upgrade its JVM runner's "
            "threads start locking CPUs up (quoted soft lockups of `java`) every 8 to 20 minutes",
            [
                _host(
                    "batch-1",
                    cpu=lambda t: max(1.0, cpu12(t)),
                    kernel=_repeated("soft-lockup-java-primihub", locks),
                )
            ],
            duration=5 * HOUR,
            faults=[fault("batch-1", locks[0], "soft lockup")],
            sources=[cite_nab("ec2_cpu_utilization_24ae8d"), *cites("soft-lockup-java-primihub")],
        )
    )
    # -- Loghub Linux 1,650-1,849 as syslog.
    noise = stretch(linux, 1650, 200, 4 * HOUR)
    syslog_faults: list[
        tuple[str, str, str, str, list[tuple[float, str]], float, str, list[str]]
    ] = [
        (
            "fault-panic-real-linux-1650-db",
            "kernel-panic",
            "db-1",
            "3 hours after db-1's upgrade its new kernel panics on a fatal exception (quoted) "
            "and reboots; it panics again 40 minutes later",
            [
                *quoted_event(UP + 3 * HOUR, "panic-fatal-exception-acrn"),
                *quoted_event(UP + 3 * HOUR + 2400, "panic-fatal-exception-acrn"),
            ],
            UP + 3 * HOUR,
            "kernel panic",
            cites("panic-fatal-exception-acrn"),
        ),
        (
            "fault-oops-real-linux-1650-batch",
            "kernel-oops",
            "batch-1",
            "25 minutes after batch-1's upgrade its new kernel oopses in a filesystem worker "
            "(quoted: `BUG: kernel NULL pointer dereference`); the runner's jobs then hang on "
            "their writes and its readiness fails a third of the time",
            quoted_event(UP + 1500, "oops-null-deref-zap-leaf"),
            UP + 1500,
            "kernel oops",
            cites("oops-null-deref-zap-leaf"),
        ),
        (
            "fault-hung-real-linux-1650-web",
            "hung-task",
            "web-1",
            "2 hours after web-1's upgrade (a new storage cache) a worker blocks on a journal "
            "commit for more than 120 s (quoted), again every 5 minutes",
            _repeated("hung-fwgthread-open-cas", [UP + 2 * HOUR + 300 * k for k in range(6)]),
            UP + 2 * HOUR,
            "hung task",
            cites("hung-fwgthread-open-cas"),
        ),
    ]
    for name, family, target, what, events, at, kind, cited in syslog_faults:
        extra: dict[str, Any] = {}
        if family == "kernel-panic":
            extra["down"] = [(at, at + 110), (at + 2400, at + 2510)]
        elif family == "kernel-oops":
            extra["health_5xx"] = after(const(0.0), at + 60, const(0.33))
        else:
            extra["latency"] = after(const(0.04), at, const(0.9))
        add(
            Scenario(
                name,
                family,
                f"{target}'s syslog and kern.log are real Linux syslog (Loghub, lines 1,650 to "
                f"1,849 stretched over 4 hours); {what}",
                [_host(target, syslog=noise, kernel=[*kernel_of(noise), *events], **extra)],
                duration=4 * HOUR,
                faults=[fault(target, at, kind)],
                sources=[cite_log("Linux_2k.log"), *cited],
            )
        )
    add(
        Scenario(
            "healthy-real-linux-1650-web-reboot-planned",
            "planned-reboot",
            "web-1's syslog and kern.log are real Linux syslog (Loghub, lines 1,650 to 1,849 "
            "stretched over 4 hours); it is rebooted on purpose for its upgrade (an orderly "
            "shutdown, refused 90 s) and is fine afterwards",
            [
                _host(
                    "web-1",
                    syslog=[
                        *noise,
                        (UP - 100, "systemd[1]: Stopping app.service - Application server..."),
                        (UP - 95, "systemd-shutdown[1]: Syncing filesystems and block devices."),
                        (UP - 10, "systemd[1]: Started app.service - Application server."),
                    ],
                    kernel=kernel_of(noise),
                    down=[(UP - 95, UP - 5)],
                )
            ],
            duration=4 * HOUR,
            sources=[cite_log("Linux_2k.log")],
        )
    )
    # -- Loghub Apache 1,000-1,199 and 1,400-1,499 as error logs.
    errors = stretch(apache, 1000, 200, 5 * HOUR)
    segv = _times("segv-apache-1000", UP + 2 * HOUR, 5 * HOUR, 60.0, 240.0)
    add(
        Scenario(
            "fault-segv-real-apache-1000-late",
            "segfault-loop",
            "web-1's error log is Loghub's real Apache error log (lines 1,000 to 1,199 "
            "stretched over 5 hours); 2 hours after its upgrade, when the evening's uploads "
            "start, its new image module crashes a child every 1 to 4 minutes (`httpd[N]: "
            "segfault ... in mod_img.so`, synthetic); 1.5% of requests fail",
            [
                Host(
                    "web-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=errors,
                    kernel=[
                        (t, _segv("httpd", 9100 + 3 * n, "mod_img.so[7f2b10000000+60000]"))
                        for n, t in enumerate(segv)
                    ],
                    error_ratio=after(const(0.003), segv[0], const(0.018)),
                )
            ],
            duration=5 * HOUR,
            faults=[fault("web-1", segv[0], "segfault loop")],
            sources=[cite_log("Apache_2k.log")],
        )
    )
    errors2 = stretch(apache, 1400, 100, 3 * HOUR)
    add(
        Scenario(
            "healthy-real-apache-1400-errors-as-before",
            "preexisting-errors",
            "web-1's error log is Loghub's real Apache error log (lines 1,400 to 1,499 "
            "stretched over 3 hours: its `[error]` lines before and after a healthy upgrade "
            "alike)",
            [Host("web-1", errors_per_minute=const(0.0), noise_per_minute=0.0, app_lines=errors2)],
            duration=3 * HOUR,
            sources=[cite_log("Apache_2k.log")],
        )
    )
    jobs0 = stretch(hadoop, 0, 100, 4 * HOUR)
    add(
        Scenario(
            "healthy-real-hadoop-0-runner-restarted",
            "restart-blip",
            "batch-1's job log is Loghub's real Hadoop run (lines 0 to 99 stretched over 4 "
            "hours, its own warnings and errors included); its runner is restarted on purpose "
            "90 minutes after the upgrade to load a new queue definition (refused 15 s)",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=jobs0,
                    **{k: v for k, v in restart_at(UP + 5400).items() if k != "app_lines"},
                )
            ],
            duration=4 * HOUR,
            sources=[cite_log("Hadoop_2k.log")],
        )
    )
    jobs = stretch(hadoop, 0, 100, 3 * HOUR)
    dead = UP + 2 * HOUR + 600
    add(
        Scenario(
            "fault-crash-real-hadoop-0-late",
            "crash",
            "batch-1's job log is Loghub's real Hadoop run (lines 0 to 99 stretched over 3 "
            "hours); 2 hours 10 minutes after its upgrade its runner exits on a removed "
            "configuration key (`KeyError: 'yarn.scheduler.capacity'`) and is not restarted",
            [
                _host(
                    "batch-1",
                    errors_per_minute=const(0.0),
                    noise_per_minute=0.0,
                    app_lines=[
                        *jobs,
                        _job(dead - 1, "ERROR", "KeyError: 'yarn.scheduler.capacity': exiting"),
                    ],
                    down=[(dead, 4 * HOUR)],
                )
            ],
            # 4 hours (the lead's correction after the untuned replay: written as 3 hours,
            # the recording ended a second before the exit it is about).
            duration=4 * HOUR,
            faults=[fault("batch-1", dead, "crash")],
            sources=[cite_log("Hadoop_2k.log")],
        )
    )
    return out
