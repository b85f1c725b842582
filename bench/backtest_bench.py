"""Backtest speed: a week of one target's recording, read and replayed through the judge.

One target, three probes every 15 s (HTTP health, application log counts, memory), a week:
120,960 observations, judged with the shipped ``web-service`` preset exactly as the daemon
judges them (each observation folded in, then the target evaluated). Reported separately:
reading the JSON Lines file and replaying it, so a slow judge and a slow reader show apart.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from pathlib import Path

from rollsafe.backtest import recordings, replaying
from rollsafe.config import models
from rollsafe.config import presets as preset_catalog
from rollsafe.domain import ids, observations

DAY = 86400.0
START = 1_700_000_000.0


def _config() -> models.RollsafeConfig:
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1", "labels": {"role": "web"}}],
            "probes": [
                {"kind": "http", "name": "health", "url": "http://{address}/health"},
                {"kind": "log", "name": "app-log", "path": "/x.log", "presets": ["app_error"]},
                {"kind": "host", "name": "memory", "metric": "memory"},
            ],
            "presets": [
                {
                    "preset": "web-service",
                    "signals": {"health": "health", "app_errors": "app-log", "memory": "memory"},
                }
            ],
        }
    )
    return preset_catalog.apply(config)


def _write(path: Path, *, days: float, every: float = 15.0) -> int:
    rng = random.Random(8)
    target = ids.TargetId("web-1")
    steps = int(days * DAY / every)
    with path.open("w", encoding="utf-8") as stream:
        writer = recordings.Writer(stream)
        writer.header(start=START, end=START + steps * every, name="week")
        writer.mark(observations.Mark(START + DAY, target, "upgrade"))
        for k in range(steps):
            t = START + k * every
            status = 500 if rng.random() < 0.003 else 200
            writer.observation(
                observations.Observation(
                    t,
                    target,
                    "health",
                    value=float(status == 200),
                    status=status,
                    latency_s=round(0.04 * math.exp(rng.gauss(0, 0.25)), 4),
                )
            )
            writer.observation(
                observations.Observation(t + 1, target, "app-log", value=float(rng.random() < 0.05))
            )
            memory = 45 + 5 * math.sin(k / 500) + rng.gauss(0, 1)
            writer.observation(
                observations.Observation(t + 2, target, "memory", value=round(memory, 1))
            )
    return steps * 3


def run(*, days: float = 7.0) -> dict[str, float]:
    config = _config()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "week.jsonl"
        count = _write(path, days=days)
        size = path.stat().st_size
        began, cpu_began = time.perf_counter(), time.process_time()
        recording = recordings.read(path)
        read, read_cpu = time.perf_counter() - began, time.process_time() - cpu_began
    began, cpu_began = time.perf_counter(), time.process_time()
    replayed = replaying.replay(config, recording)
    judged, judged_cpu = time.perf_counter() - began, time.process_time() - cpu_began
    return {
        "days": days,
        "observations": count,
        "file_mb": round(size / 1e6, 1),
        "read_seconds": round(read, 2),
        "replay_seconds": round(judged, 2),
        "observations_per_s": round(count / judged),
        # Issue #9's figure: hours of recording (one target, three probes) replayed per second.
        "hours_replayed_per_s": round(days * 24 / (read + judged), 1),
        # The same in CPU seconds: on a shared machine, waiting for a core is not ours.
        "read_cpu_seconds": round(read_cpu, 2),
        "replay_cpu_seconds": round(judged_cpu, 2),
        "hours_replayed_per_cpu_s": round(days * 24 / (read_cpu + judged_cpu), 1),
        "decisions": len(replayed.decisions),
    }
