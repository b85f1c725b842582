"""A judge that never stopped and a daemon restarted from the same stored history (tests).

``never_stopped`` feeds every observation and mark straight to an engine; ``restarted`` builds
a daemon at ``now`` on a store holding the same history and runs its start-up (the warm-up a
real restart does). Tests compare their decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rollsafe.config import loading, models
from rollsafe.domain import observations
from rollsafe.judge import engine
from rollsafe.runtime import daemon

# Latency over the last 5 minutes against the hour before the upgrade (x2: critical).
SLOWER: dict[str, Any] = {
    "id": "slower",
    "kind": "baseline",
    "probe": "http",
    "field": "latency",
    "window": "5m",
    "before": "1h",
    "severity": "critical",
}


def config(
    tmp_path: Path, rules: Sequence[dict[str, Any]], *, policy: dict[str, Any] | None = None
) -> models.RollsafeConfig:
    """One target, ``web-1``, checked by an ``http`` probe, judged by ``rules``."""
    return models.RollsafeConfig.model_validate(
        {
            "state_dir": str(tmp_path),
            "drivers": [{"kind": "local", "name": "noop", "rollback": "true"}],
            "targets": [{"id": "web-1", "driver": "noop"}],
            "probes": [{"name": "http", "kind": "http", "url": "http://{address}/"}],
            "policy": policy or {},
            "rules": list(rules),
        }
    )


class Clock:
    """A clock stopped at ``now``."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def never_stopped(
    config: models.RollsafeConfig, history: Sequence[observations.Observation]
) -> engine.Engine:
    """An engine that saw ``history`` (marks among them) as it happened."""
    judge = engine.Engine(config)
    for obs in history:
        if obs.source.startswith(daemon.MARK_PREFIX):
            name = obs.source.removeprefix(daemon.MARK_PREFIX)
            judge.mark(observations.Mark(time=obs.time, target=obs.target, name=name))
        else:
            judge.observe(obs)
    return judge


def restarted(
    tmp_path: Path,
    config: models.RollsafeConfig,
    history: Sequence[observations.Observation],
    *,
    now: float,
) -> daemon.Daemon:
    """A daemon started at ``now`` on a store holding ``history``, its start-up done; the
    caller closes its store."""
    loaded = loading.LoadedConfig(
        config=config, path=tmp_path / "rollsafe.yaml", state_dir=tmp_path
    )
    started = daemon.Daemon(loaded, clock=Clock(now))
    started.store.add_observations(history)
    started._start_up()
    return started
