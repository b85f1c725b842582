"""Judge throughput: observations folded and re-judged per second, as the daemon does it.

Each observation is folded into its window and its target re-evaluated at once (the daemon's
path: a critical decision must not wait for a tick). 1,000 targets, an HTTP probe and a log
probe each, a ratio rule, a rate rule and an `all` composite (``plain``); then the same with
three ``regression`` rules added (latency quantiles and 5xx share on the HTTP probe, error
lines on the log probe), every target upgraded halfway so their sequential tests run
(``with_regression``).

``replay_week``: one target, a health check (status and latency), an error-log count and
memory every 10 s for a week (181,440 observations), an upgrade every day, judged by the
``web-service`` preset plus the three regression rules through ``engine.replay``, the path
``rollsafe backtest`` takes. Issue #15 asks for at least a week replayed per second.
``replay_week_with_requests``: the same week with the service's own request error ratio and
p99 latency mapped too (two Prometheus queries every 10 s, 302,400 observations), so the
preset's request rules are judged as well: ``request-errors-up``, ``latency-quantile-up``
and ``request-error-bursts``, whose cost this week does not otherwise show.

``replay_costs``: what each rule of that week's replay costs (its CPU seconds less those of
the same replay without it, a composite going with the rules it lists), and the replay with no
rule at all (folding and bookkeeping): where the time to a week per second would have to come
from (docs/performance.md, section 5).

``memory_per_target``: what the live judge holds per target (``tracemalloc``) after six hours
of the same three signals on 20 targets judged once a minute, with and without the preset's
``trend`` rule (whose exact sums once cost about 500 bytes per memory value kept).
"""

from __future__ import annotations

import math
import random
import time
import tracemalloc
from typing import Any

from rollsafe.config import models
from rollsafe.config import presets as preset_catalog
from rollsafe.domain import ids, observations
from rollsafe.judge import engine

DAY = 86400.0


REGRESSION_RULES: list[dict[str, Any]] = [
    {
        "id": "latency-regressed",
        "kind": "regression",
        "severity": "critical",
        "probe": "http",
        "field": "latency",
        "before": "20m",
        "min_delta": 0.005,
    },
    {
        "id": "5xx-regressed",
        "kind": "regression",
        "severity": "critical",
        "probe": "http",
        "aggregate": "ratio",
        "when": {"field": "status", "op": ">=", "value": 500},
        "before": "20m",
        "min_delta": 0.02,
    },
    {
        "id": "errors-regressed",
        "kind": "regression",
        "severity": "critical",
        "probe": "errors",
        "aggregate": "rate",
        "before": "20m",
        "min_delta": 0.5,
    },
]


def _config(targets: int, *, regression: bool = False) -> models.RollsafeConfig:
    extra = REGRESSION_RULES if regression else []
    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": f"t{i}", "vars": {"port": 8000 + i}} for i in range(targets)],
            "probes": [
                {"name": "http", "kind": "http", "url": "http://{address}:{port}/", "interval": 15},
                {"name": "errors", "kind": "log", "path": "/x/{id}", "presets": ["app_error"]},
            ],
            "rules": [
                {
                    "id": "5xx",
                    "kind": "ratio",
                    "probe": "http",
                    "when": {"field": "status", "op": ">=", "value": 500},
                    "window": "5m",
                    "above": 0.2,
                },
                {"id": "err", "kind": "rate", "probe": "errors", "window": "5m", "above": 5},
                {"id": "bad", "kind": "all", "severity": "critical", "rules": ["5xx", "err"]},
                *extra,
            ],
        }
    )


def run(*, targets: int = 1000, observations_count: int = 200_000) -> dict[str, Any]:
    return {
        "plain": _throughput(targets=targets, count=observations_count, regression=False),
        "with_regression": _throughput(targets=targets, count=observations_count, regression=True),
        "replay_week": replay_week(),
        "replay_week_with_requests": replay_week(requests=True),
        "replay_week_without_regression": replay_week(regression=False),
        "replay_week_without_trend": replay_week(trend=False),
        "replay_week_without_regression_or_trend": replay_week(regression=False, trend=False),
        "memory_per_target": memory_per_target(),
        "memory_per_target_without_trend": memory_per_target(trend=False),
    }


def _throughput(*, targets: int, count: int, regression: bool) -> dict[str, float]:
    observations_count = count
    config = _config(targets, regression=regression)
    judge = engine.Engine(config)
    rng = random.Random(7)
    start_time = 1_700_000_000.0
    batch = []
    for n in range(observations_count):
        target = ids.TargetId(f"t{n % targets}")
        when = start_time + n * (15.0 / targets)
        if n % 2:
            obs = observations.Observation(
                time=when,
                target=target,
                source="http",
                value=1.0,
                status=500 if rng.random() < 0.05 else 200,
                latency_s=0.01,
            )
        else:
            obs = observations.Observation(
                time=when, target=target, source="errors", value=float(rng.random() < 0.1)
            )
        batch.append(obs)
    if regression:  # every target upgraded halfway: the second half is under watch
        halfway = start_time + observations_count * (15.0 / targets) / 2
        for i in range(targets):
            judge.mark(observations.Mark(halfway, ids.TargetId(f"t{i}"), "upgrade"))
    began = time.perf_counter()
    cpu_began = time.process_time()
    for obs in batch:
        judge.observe(obs)
        judge.evaluate(obs.target, now=obs.time)
    cpu = time.process_time() - cpu_began
    elapsed = time.perf_counter() - began
    return {
        "targets": targets,
        "observations": observations_count,
        "seconds": round(elapsed, 3),
        "cpu_seconds": round(cpu, 3),
        "observations_per_s": round(observations_count / cpu),
        "judge_us_per_observation": round(cpu / observations_count * 1e6, 1),
    }


# The service's own request metrics (``requests=True``): what a Prometheus query of the
# request error ratio and of the p99 latency gives every 10 s. The preset's request rules
# (``request-errors-up``, ``request-error-bursts``, ``latency-quantile-up``) read them.
REQUEST_PROBES: list[dict[str, Any]] = [
    {
        "kind": "promql",
        "name": "http-errors",
        "url": "http://prometheus.internal:9090",
        "query": "errors",
        "interval": 10,
    },
    {
        "kind": "promql",
        "name": "http-p99",
        "url": "http://prometheus.internal:9090",
        "query": "p99",
        "interval": 10,
    },
]


REQUEST_SIGNALS = {"error_ratio": "http-errors", "latency": "http-p99"}


def _week_config(
    *, regression: bool, trend: bool = True, targets: int = 1, requests: bool = False
) -> models.RollsafeConfig:
    rules = [
        {**rule, "probe": {"http": "health", "errors": "app-log"}[rule["probe"]], "before": "1h"}
        for rule in (REGRESSION_RULES if regression else [])
    ]
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": f"web-{i + 1}", "labels": {"role": "web"}} for i in range(targets)],
            "probes": [
                {
                    "kind": "http",
                    "name": "health",
                    "url": "http://{address}/health",
                    "interval": 10,
                },
                {"kind": "log", "name": "app-log", "path": "/x.log", "presets": ["app_error"]},
                {"kind": "host", "name": "memory", "metric": "memory", "interval": 10},
                *(REQUEST_PROBES if requests else []),
            ],
            "rules": rules,
            "presets": [
                {
                    "preset": "web-service",
                    "signals": {
                        "health": "health",
                        "app_errors": "app-log",
                        "memory": "memory",
                        **(REQUEST_SIGNALS if requests else {}),
                    },
                }
            ],
        }
    )
    applied = preset_catalog.apply(config)
    if trend:
        return applied
    # Without the preset's ``trend`` rule (decided at every instant once its fit can start):
    # what the rest of the judge costs, which the ``trend`` rule's own cost would hide.
    kept = [rule for rule in applied.rules if rule.kind != "trend"]
    # ... and without the composites over them (``memory-leak`` lists ``memory-rising``).
    ids_kept = {rule.id for rule in kept}
    kept = [r for r in kept if set(getattr(r, "rules", None) or ()) <= ids_kept]
    return applied.model_copy(update={"rules": kept})


def replay_week(
    *,
    days: float = 7.0,
    every: float = 10.0,
    regression: bool = True,
    trend: bool = True,
    requests: bool = False,
) -> dict[str, float]:
    """A week of one target's 10 s data replayed through the judge (see the module notes);
    ``requests``: the service's request error ratio and p99 too (``REQUEST_PROBES``)."""
    config = _week_config(regression=regression, trend=trend, requests=requests)
    rng = random.Random(8)
    target = ids.TargetId("web-1")
    start = 1_700_000_000.0
    steps = int(days * DAY / every)
    feed = []
    for k in range(steps):
        feed.extend(_readings(rng, target, start + k * every, k, requests=requests))
    marks = [
        observations.Mark(start + (d + 0.5) * DAY, target, "upgrade") for d in range(int(days))
    ]
    began = time.perf_counter()
    cpu_began = time.process_time()
    decisions = engine.replay(config, feed, marks)
    cpu = time.process_time() - cpu_began
    elapsed = time.perf_counter() - began
    # Rates from CPU seconds: on a shared machine, time spent waiting for a core is not ours.
    return {
        "days": days,
        "observations": len(feed),
        "rules": len(config.rules),
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "observations_per_s": round(len(feed) / cpu),
        "us_per_observation": round(cpu / len(feed) * 1e6, 1),
        "hours_replayed_per_s": round(days * 24 / cpu, 1),
        "decisions": len(decisions),
    }


def replay_costs(*, days: float = 7.0, every: float = 10.0, repeat: int = 3) -> dict[str, Any]:
    """CPU seconds of ``replay_week``'s replay (every rule) against the same replay without
    one rule at a time, and without any (see the module notes). Each the least of ``repeat``
    runs: on a shared machine single runs spread by about a tenth of the whole replay, more
    than most single rules cost, so read the small differences loosely even so.
    """
    config = _week_config(regression=True)
    rng = random.Random(8)
    target = ids.TargetId("web-1")
    start = 1_700_000_000.0
    feed = []
    for k in range(int(days * DAY / every)):
        feed.extend(_readings(rng, target, start + k * every, k))
    marks = [
        observations.Mark(start + (d + 0.5) * DAY, target, "upgrade") for d in range(int(days))
    ]

    def cpu(rules: list[models.RuleBase]) -> float:
        trimmed = config.model_copy(update={"rules": rules})
        best = math.inf
        for _ in range(repeat):
            began = time.process_time()
            engine.replay(trimmed, feed, marks)
            best = min(best, time.process_time() - began)
        return best

    every_rule = cpu(list(config.rules))
    costs: dict[str, float] = {}
    for rule in config.rules:
        listed = getattr(rule, "rules", None)
        if listed is not None:  # a composite: costs nothing of its own to speak of
            continue
        kept = [
            other
            for other in config.rules
            if other.id != rule.id and rule.id not in (getattr(other, "rules", None) or ())
        ]
        costs[rule.id] = round(every_rule - cpu(kept), 2)
    return {
        "cpu_seconds_every_rule": round(every_rule, 2),
        "hours_replayed_per_s": round(days * 24 / every_rule, 1),
        "cpu_seconds_no_rule": round(cpu([]), 2),
        "rule_cost_cpu_seconds": costs,
    }


def _readings(
    rng: random.Random, target: ids.TargetId, t: float, k: int, *, requests: bool = False
) -> list[observations.Observation]:
    """One 10 s step of a healthy web host (step ``k`` at ``t``): a health check with its
    latency, an error-log count and memory in use, the values ``rng`` draws in that order;
    with ``requests``, then the request error ratio (about 0.1%, log-normal) and the p99
    latency (about 0.2 s), drawn after the others so the three are the same either way."""
    status = 500 if rng.random() < 0.003 else 200
    latency = round(0.04 * math.exp(rng.gauss(0, 0.25)), 4)
    health = observations.Observation(
        t, target, "health", value=float(status == 200), status=status, latency_s=latency
    )
    errors = observations.Observation(t + 1, target, "app-log", value=float(rng.random() < 0.05))
    memory = round(45 + 5 * math.sin(k / 500) + rng.gauss(0, 1), 1)
    out = [health, errors, observations.Observation(t + 2, target, "memory", value=memory)]
    if requests:
        ratio = round(0.001 * math.exp(rng.gauss(0, 0.5)), 6)
        p99 = round(0.2 * math.exp(rng.gauss(0, 0.2)), 4)
        out.append(observations.Observation(t + 3, target, "http-errors", value=ratio))
        out.append(observations.Observation(t + 4, target, "http-p99", value=p99))
    return out


def memory_per_target(
    *, targets: int = 20, hours: float = 6.0, every: float = 10.0, trend: bool = True
) -> dict[str, float]:
    """Memory the live judge holds per target (``tracemalloc``): the web-service preset (and
    the three regression rules) over ``hours`` of 10 s readings of health, error log and
    memory, an upgrade after the first hour, each target judged once a minute."""
    config = _week_config(regression=True, trend=trend, targets=targets)
    rng = random.Random(9)
    start = 1_700_000_000.0
    tracemalloc.start()
    try:
        judge = engine.Engine(config)
        began = tracemalloc.get_traced_memory()[0]
        names = [ids.TargetId(f"web-{i + 1}") for i in range(targets)]
        for name in names:
            judge.mark(observations.Mark(start + 3600.0, name, "upgrade"))
        for k in range(int(hours * 3600 / every)):
            t = start + k * every
            for name in names:
                for reading in _readings(rng, name, t, k):
                    judge.observe(reading)
                if k % 6 == 5:
                    judge.evaluate(name, now=t + 2)
        held = tracemalloc.get_traced_memory()[0] - began
    finally:
        tracemalloc.stop()
    return {
        "targets": targets,
        "hours": hours,
        "bytes_per_target": round(held / targets),
        "kib_per_target": round(held / targets / 1024, 1),
    }
