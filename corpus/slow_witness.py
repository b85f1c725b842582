"""Does the requests' own latency move when the health check's latency moves a little?

    .venv/bin/python corpus/build.py --out /tmp/corpus
    .venv/bin/python corpus/slow_witness.py /tmp/corpus [--half NAME] [--json OUT]

`web-service.latency-up` has two tiers: x2 and +50 ms (fast) and x1.3 and +10 ms (slow, on an
eighth of alpha). The slow tier reads a proxy: the health check, whose latency can change for
reasons of its own (a redirect, a TLS setting, a new health handler) while the requests are
served as before. This script measures, for every web target of every recording, when the
slow tier alone would cross (a copy of the rule whose fast margin nothing reaches, judged as
a warning: no fleet veto, no hold), when the preset's own rules decided, and what the
requests' latency quantile (the `latency` signal, `http-p99` in corpus/rollsafe.yaml) did:

* `p99`: whether the recording has that series at all for the target;
* `ratio_at`: its mean over the 10 minutes before the slow tier crossed, over its mean in
  the hour before the upgrade (the `upgrade_started` mark when there is one, else `upgrade`);
* `ratio_max`: the highest such 10-minute ratio from the crossing to the watch's end (2 h
  after the upgrade): what a witness judged at any time after the crossing could see;
* `other`: the first critical decision of any other rule (rule, seconds after the upgrade).

One row per target whose slow tier crosses; the table is what docs/presets.md ("Round 11:
a small health-check slowdown needs the requests as a witness") quotes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rollsafe.backtest import corpora, recordings, replaying  # noqa: E402
from rollsafe.config import loading, models  # noqa: E402
from rollsafe.domain import verdicts  # noqa: E402

PROBE_RULE = "measure.latency-slow-tier"
FAST_RULE = "measure.latency-fast-tier"
WITNESS_RATIOS = (1.1, 1.2)  # candidate witnesses: the requests' 10-minute mean this much up
LATENCY_UP = "web-service.latency-up"
P99 = "http-p99"
WINDOW = 600.0  # the witness's window: 10 minutes
BEFORE = 3600.0  # the reference: the hour before the upgrade
WATCH = 7200.0


@dataclass(frozen=True)
class Row:
    """One web target whose health-check slow tier crosses."""

    half: str
    recording: str
    target: str
    fault_s: float | None  # the label's start, seconds after the upgrade (None: healthy)
    slow_s: float  # the slow tier alone crossed, seconds after the upgrade
    latency_up: str | None  # the preset rule's critical decision: "tier@seconds"
    other: str | None  # the first critical decision of another rule: "rule@seconds"
    p99: bool
    ratio_at: float | None
    ratio_max: float | None
    fast_s: float | None  # the fast tier alone crossed (None: never in the recording)
    witness_s: tuple[float | None, ...]  # a witness at each WITNESS_RATIOS first holds, >= slow_s


def measuring_config(path: Path) -> models.RollsafeConfig:
    """corpus/rollsafe.yaml plus the slow tier of latency-up alone, as a warning."""
    config = loading.load(path).config
    probe = next(r for r in config.rules if r.id == LATENCY_UP)
    if not isinstance(probe, models.RegressionRule) or probe.slow is None:
        raise SystemExit(f"{LATENCY_UP} is not a regression rule with a slow tier")
    alone = probe.model_copy(
        update={
            "id": PROBE_RULE,
            "severity": "warning",
            # A fast margin nothing reaches: only the slow tier can cross (its own alpha and
            # margin are what the preset's rule gives it).
            "min_ratio": 1000.0,
            "min_delta": 1000.0,
            "notify": False,
        }
    )
    # The fast tier alone: the rule without its slow tier, so with all of alpha (its test
    # from the grace's bar 1,333 instead of 1,379: 0.034 nats lower; an approximation).
    fast = probe.model_copy(
        update={"id": FAST_RULE, "severity": "warning", "slow": None, "notify": False}
    )
    return models.RollsafeConfig.model_validate(
        {
            **config.model_dump(by_alias=True, exclude={"rules"}),
            "rules": [*config.rules, alone, fast],
        }
    )


def _upgrade_before(recording: recordings.Recording, target: str, time: float) -> float | None:
    marks = [m.time for m in recording.marks if m.target == target and m.name == "upgrade"]
    before = [t for t in marks if t <= time]
    return max(before) if before else (min(marks) if marks else None)


def _reference_end(recording: recordings.Recording, target: str, upgrade: float) -> float:
    started = [
        m.time
        for m in recording.marks
        if m.target == target
        and m.name == "upgrade_started"
        and upgrade - 3600 <= m.time <= upgrade
    ]
    return max(started) if started else upgrade


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _ratios(
    series: Sequence[tuple[float, float]], *, ref_end: float, start: float, end: float
) -> tuple[float | None, float | None]:
    """The 10-minute mean over the reference hour's mean, at ``start`` and its highest up to
    ``end`` (evaluated at every sample)."""
    ref = _mean([v for t, v in series if ref_end - BEFORE <= t < ref_end])
    if ref is None or ref <= 0:
        return None, None

    def at(now: float) -> float | None:
        mean = _mean([v for t, v in series if now - WINDOW < t <= now])
        return None if mean is None else mean / ref

    first = at(start)
    later = [r for t, _ in series if start <= t <= end and (r := at(t)) is not None]
    best = max([*later, *([first] if first is not None else [])], default=None)
    return first, best


def _witness(
    series: Sequence[tuple[float, float]], *, ref_end: float, start: float, end: float, ratio: float
) -> float | None:
    """The first time in [start, end] (``start``, then the samples after it) whose 10-minute
    mean is ``ratio`` times the reference hour's mean (None: never)."""
    ref = _mean([v for t, v in series if ref_end - BEFORE <= t < ref_end])
    if ref is None or ref <= 0:
        return None
    # Judged at the crossing itself, then at every later sample (a witness judged then).
    for time in [start, *(t for t, _ in series if start < t <= end)]:
        mean = _mean([v for t, v in series if time - WINDOW < t <= time])
        if mean is not None and mean >= ratio * ref:
            return time
    return None


def measure(config: models.RollsafeConfig, path: Path, *, half: str | None) -> list[Row]:
    recording = recordings.read(path)
    meta = recording.header.meta
    if not recording.header.labelled or (half is not None and meta.get("half") != half):
        return []
    replayed = replaying.replay(config, recording)
    rows: list[Row] = []
    for target in recording.targets():
        mine = [d for d in replayed.decisions if d.target == target]
        crossed = [
            d for d in mine if d.rule == PROBE_RULE and d.severity >= verdicts.Severity.WARNING
        ]
        if not crossed:
            continue
        slow_at = crossed[0].time
        upgrade = _upgrade_before(recording, target, slow_at)
        if upgrade is None:
            continue
        critical = [d for d in mine if d.severity is verdicts.Severity.CRITICAL]
        fast_cross = next(
            (
                d.time
                for d in mine
                if d.rule == FAST_RULE and d.severity >= verdicts.Severity.WARNING
            ),
            None,
        )
        own = next((d for d in critical if d.rule == LATENCY_UP), None)
        other = next((d for d in critical if d.rule != LATENCY_UP), None)
        fault = next((f.start for f in recording.header.faults if f.target == target), None)
        series = sorted(
            (o.time, o.value)
            for o in recording.observations
            if o.target == target and o.source == P99 and o.value is not None
        )
        at, best = _ratios(
            series,
            ref_end=_reference_end(recording, target, upgrade),
            start=slow_at,
            end=upgrade + WATCH,
        )
        ref_end = _reference_end(recording, target, upgrade)
        witnessed = tuple(
            _witness(series, ref_end=ref_end, start=slow_at, end=upgrade + WATCH, ratio=r)
            for r in WITNESS_RATIOS
        )
        rows.append(
            Row(
                half=str(meta.get("half", "")),
                recording=recording.name,
                target=target,
                fault_s=None if fault is None else round(fault - upgrade),
                slow_s=round(slow_at - upgrade),
                latency_up=None
                if own is None
                else f"{own.evidence.get('tier')}@{round(own.time - upgrade)}",
                other=None if other is None else f"{other.rule}@{round(other.time - upgrade)}",
                p99=bool(series),
                ratio_at=None if at is None else round(at, 3),
                ratio_max=None if best is None else round(best, 3),
                fast_s=None if fast_cross is None else round(fast_cross - upgrade),
                witness_s=tuple(None if w is None else round(w - upgrade) for w in witnessed),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--config", type=Path, default=ROOT / "corpus" / "rollsafe.yaml")
    parser.add_argument("--half")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", nargs="*", help="recording names (default: all)")
    args = parser.parse_args(argv)
    config = measuring_config(args.config)
    rows: list[Row] = []
    for path in corpora.files(args.corpus):
        if args.only and path.name.split(".")[0] not in args.only:
            continue
        rows.extend(measure(config, path, half=args.half))
    lines = [
        "half | recording | target | fault | slow tier | latency-up | other rule | p99 | at | "
        "max | fast alone | witness x1.1 | witness x1.2"
    ]
    for row in rows:
        fields: list[Any] = [
            row.half,
            row.recording,
            row.target,
            "healthy" if row.fault_s is None else row.fault_s,
            row.slow_s,
            row.latency_up,
            row.other,
            "yes" if row.p99 else "no",
            row.ratio_at,
            row.ratio_max,
            row.fast_s,
            *row.witness_s,
        ]
        lines.append(" | ".join("-" if f is None else str(f) for f in fields))
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
