"""Builders shared by the judge's tests: configs written the way users write YAML."""

from __future__ import annotations

from typing import Any

from rollsafe.config import models
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine, windows

TARGET = ids.TargetId("web-1")
OK = verdicts.Severity.OK
WARNING = verdicts.Severity.WARNING
CRITICAL = verdicts.Severity.CRITICAL


def config(*rules: dict[str, Any], **extra: Any) -> models.RollsafeConfig:
    """A config with ``rules`` (dicts, as in YAML) and one target ``web-1`` unless given."""
    data: dict[str, Any] = {"targets": [{"id": TARGET}], "rules": list(rules)}
    data.update(extra)
    return models.RollsafeConfig.model_validate(data)


def obs(
    time: float,
    value: float | None = None,
    *,
    source: str = "cpu",
    target: str = TARGET,
    status: int | None = None,
    latency: float | None = None,
    error: str | None = None,
) -> observations.Observation:
    return observations.Observation(
        time=time,
        target=ids.TargetId(target),
        source=source,
        value=value,
        status=status,
        latency_s=latency,
        error=error,
    )


def upgrade(time: float, target: str = TARGET) -> observations.Mark:
    return observations.Mark(time=time, target=ids.TargetId(target), name="upgrade")


def feed(
    cfg: models.RollsafeConfig,
    items: list[observations.Observation],
    marks: list[observations.Mark] | None = None,
) -> engine.Engine:
    """A fresh engine that has seen ``marks`` then ``items``."""
    judge = engine.Engine(cfg)
    for mark in marks or []:
        judge.mark(mark)
    for item in items:
        judge.observe(item)
    return judge


def decision(
    judge: engine.Engine, rule: str, *, now: float, target: str = TARGET
) -> verdicts.Decision:
    """The decision of ``rule`` on ``target`` at ``now`` (fails if the rule did not apply)."""
    found = [d for d in judge.evaluate(target, now=now) if d.rule == rule]
    assert len(found) == 1, f"expected one decision for {rule}, got {found}"
    return found[0]


def judged_in_full(
    cfg: models.RollsafeConfig,
    items: list[observations.Observation],
    marks: list[observations.Mark],
) -> list[verdicts.Decision]:
    """Every rule judged in full (``evaluate``) after every instant, the changes kept: what
    ``engine.replay`` must decide (the severity-first and trend property tests)."""
    judge = engine.Engine(cfg)
    ordered = sorted(items, key=lambda o: (o.time, o.target, o.source, windows.order_key(o)))
    pending = sorted(marks, key=lambda m: (m.time, m.target, m.name))
    seen: dict[tuple[ids.TargetId, ids.RuleId], verdicts.Severity] = {}
    out: list[verdicts.Decision] = []
    while ordered:
        now = ordered[0].time
        while pending and pending[0].time <= now:
            judge.mark(pending.pop(0))
        touched: set[str] = set()
        while ordered and ordered[0].time == now:
            item = ordered.pop(0)
            judge.observe(item)
            touched.add(item.target)
        for target in sorted(touched):
            for d in judge.evaluate(target, now=now):
                if d.severity != seen.get((d.target, d.rule), OK):
                    out.append(d)
                seen[(d.target, d.rule)] = d.severity
    return out
