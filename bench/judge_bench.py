"""Judge throughput: observations folded and re-judged per second, as the daemon does it.

Each observation is folded into its window and its target re-evaluated at once (the daemon's
path: a critical decision must not wait for a tick). 1,000 targets, an HTTP probe and a log
probe each, a ratio rule, a rate rule and an `all` composite.
"""

from __future__ import annotations

import random
import time

from rollsafe.config import models
from rollsafe.domain import ids, observations
from rollsafe.judge import engine


def _config(targets: int) -> models.RollsafeConfig:
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
            ],
        }
    )


def run(*, targets: int = 1000, observations_count: int = 200_000) -> dict[str, float]:
    config = _config(targets)
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
    began = time.perf_counter()
    for obs in batch:
        judge.observe(obs)
        judge.evaluate(obs.target, now=obs.time)
    elapsed = time.perf_counter() - began
    return {
        "targets": targets,
        "observations": observations_count,
        "seconds": round(elapsed, 3),
        "observations_per_s": round(observations_count / elapsed),
        "judge_us_per_observation": round(elapsed / observations_count * 1e6, 1),
    }
