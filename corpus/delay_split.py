"""Splits the detection delays of the log and event families into the fault's own timing and
the rule's wait, from a `rollsafe backtest --json` and the corpus it was run on.

    .venv/bin/python corpus/build.py --out /tmp/corpus
    rollsafe backtest -c corpus/rollsafe.yaml --corpus /tmp/corpus --json > /tmp/backtest.json
    .venv/bin/python corpus/delay_split.py /tmp/backtest.json /tmp/corpus

For every detected fault of a family (its delay counted from the fault's label), the events
the family's log probes saw on that target, as the live probe counts them (the replay's own
``log_observations``: one observation per read, every 15 s), from a minute before the label
to the decision; for `crash`, the failed health checks instead. Three parts per detection:

* **to first evidence**: label -> the first read that saw an event (or the first failed
  check). No rule can decide before it: a hung task is reported once it has been blocked for
  ``hung_task_timeout_secs`` (120 s), a soft lockup once a CPU has been stuck about 20 s.
* **first evidence -> decision**: what the rule waited for after that, mostly the repetition
  the presets ask of events that healthy hosts also show (the second OOM kill, the third
  segfault, the second unit failure, the second stall): the fault's own pace.
* **decisive event -> decision**: the rule's own wait after the last event it needed (a
  window filling, a `for`, a grace period); 0 when the read that saw the event decided.

One row per family: its detections with the medians of their delay and of the time to
first evidence; then the detections that took over 60 s with the medians of each part and of
the events seen by the decision (seconds throughout); and the rules that decided.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The log probes of corpus/rollsafe.yaml whose events are each family's evidence; `crash`
# is judged on the health checks (no log event is its evidence).
FAMILY_PROBES: dict[str, tuple[str, ...]] = {
    "oom-repeated": ("kernel-log",),
    "segfault-loop": ("segfaults",),
    "systemd-unit-failure": ("syslog", "unit-gave-up"),
    "hung-task": ("kernel-lockups",),
    "soft-lockup": ("kernel-lockups",),
    "crash": (),
    "kernel-panic": ("kernel-panic", "kernel-lockups"),
}
HEALTH_PROBES = {"web": "health", "db": "db-port", "batch": "runner"}
LOOKBACK = 60.0  # events up to a minute before the label count (a label rounded late)


@dataclass(frozen=True)
class Split:
    """One detection's delay, in seconds from the fault's label, in its parts."""

    delay: float
    to_first: float | None  # None: no event of the family's probes before the decision
    after_decisive: float | None
    events: int
    rule: str

    @property
    def after_first(self) -> float | None:
        return None if self.to_first is None else self.delay - self.to_first


def split(delay: float, label: float, events: Iterable[tuple[float, int]], rule: str) -> Split:
    """The parts of a detection ``delay`` s after ``label``, from the reads ``events`` (time,
    events seen) up to the decision; reads before ``label`` count as at the label."""
    decision = label + delay
    seen = sorted((t, n) for t, n in events if n > 0 and label - LOOKBACK <= t <= decision)
    if not seen:
        return Split(delay, None, None, 0, rule)
    return Split(
        delay=delay,
        to_first=max(0.0, seen[0][0] - label),
        after_decisive=max(0.0, decision - seen[-1][0]),
        events=sum(n for _, n in seen),
        rule=rule,
    )


def _median(values: Sequence[float | None]) -> str:
    known = [v for v in values if v is not None]
    return "-" if not known else f"{statistics.median(known):g}"


def row(family: str, splits: Sequence[Split]) -> str:
    """One row of the table for ``family``'s detections: all of them, then the parts of the
    slow ones (over 60 s), whose wait is what the row is about."""
    rules = Counter(s.rule for s in splits)
    slow = [s for s in splits if s.delay > 60]
    cells = [
        f"`{family}`",
        str(len(splits)),
        _median([s.delay for s in splits]),
        _median([s.to_first for s in splits]),
        str(len(slow)),
        _median([s.to_first for s in slow]),
        _median([s.after_first for s in slow]),
        _median([s.after_decisive for s in slow]),
        _median([float(s.events) for s in slow if s.to_first is not None]),
        ", ".join(f"{name} {count}" for name, count in rules.most_common()),
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| family | detections | median delay | to first evidence | over 60 s | "
    "to first evidence | first evidence -> decision | decisive event -> decision | "
    "events by the decision | rules that decided (all) |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def kth(times: Sequence[float], k: int, within: float) -> float | None:
    """The first time (of sorted ``times``) at which ``k`` events have come within ``within``
    seconds of each other, or None."""
    for i in range(k - 1, len(times)):
        if times[i] - times[i - k + 1] <= within:
            return times[i]
    return None


_LOGGED: dict[int, Any] = {}  # each recording's log observations, replayed once


def _reads(
    config: Any, recording: Any, probes: Sequence[str], target: str
) -> list[tuple[float, int]]:
    """The reads of ``target``'s evidence: the events of ``probes`` as the live log probes
    count them, or for no probe (`crash`) the failed health checks."""
    from rollsafe.backtest import replaying

    if probes:
        if id(recording) not in _LOGGED:
            _LOGGED[id(recording)] = replaying.log_observations(config, recording)
        return [
            (o.time, int(o.value))
            for o in _LOGGED[id(recording)]
            if o.source in probes and o.target == target
        ]
    health = HEALTH_PROBES[target.split("-", maxsplit=1)[0]]
    return [
        (o.time, 1)
        for o in recording.observations
        if o.target == target and o.source == health and o.value is not None and o.value < 1
    ]


def _load(corpus: Path, report: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    from rollsafe.backtest import recordings
    from rollsafe.config import loading

    config = loading.load(ROOT / "corpus" / "rollsafe.yaml").config
    return config, {s["file"]: recordings.read(corpus / s["file"]) for s in report["scenarios"]}


def splits(report: Mapping[str, Any], corpus: Path) -> dict[str, list[Split]]:
    """Every detection of the families of ``FAMILY_PROBES`` in ``report``, split."""
    config, read = _load(corpus, {"scenarios": _of(report, FAMILY_PROBES)})
    out: dict[str, list[Split]] = {family: [] for family in FAMILY_PROBES}
    for scenario in _of(report, FAMILY_PROBES):
        for target in scenario["targets"]:
            if target["outcome"] != "TP":
                continue
            reads = _reads(
                config, read[scenario["file"]], FAMILY_PROBES[scenario["family"]], target["target"]
            )
            rule = str(target["detection"]["rule"]).split(".", 1)[-1]
            out[scenario["family"]].append(
                split(float(target["delay_s"]), float(target["fault"]["start"]), reads, rule)
            )
    return out


def _of(report: Mapping[str, Any], families: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in report["scenarios"] if s["family"] in families]


def _events(reads: Iterable[tuple[float, int]], since: float) -> list[float]:
    return sorted(t for t, n in reads if t > since for _ in range(n))


WITHIN = 1800.0  # the presets' 30-minute count windows


def what_if(report: Mapping[str, Any], corpus: Path, ks: Sequence[int] = (1, 2)) -> list[str]:
    """For the event families: the family's median delay and detections over 60 s had its
    rule decided at the k-th event within 30 minutes (or as shipped, when that came first),
    and how many healthy recordings (no fault; after their upgrade mark) it would roll back."""
    # The probe each family's count rule reads (syslog for unit failures: a refusal that
    # unit-gave-up also sees is one failure there).
    events = {f: p[:1] for f, p in FAMILY_PROBES.items() if f not in ("crash", "kernel-panic")}
    healthy = [s for s in report["scenarios"] if not any(t.get("fault") for t in s["targets"])]
    config, read = _load(corpus, {"scenarios": [*_of(report, events), *healthy]})
    lines = [
        "| family | as shipped | " + " | ".join(f"at event {k}" for k in ks) + " |",
        "|---|---|" + "---|" * len(ks),
    ]
    for family, probes in events.items():
        shipped: list[float] = []
        early: dict[int, list[float]] = {k: [] for k in ks}
        for scenario in _of(report, {family: probes}):
            for target in scenario["targets"]:
                if target["outcome"] != "TP":
                    continue
                label, delay = float(target["fault"]["start"]), float(target["delay_s"])
                reads = _reads(config, read[scenario["file"]], probes, target["target"])
                times = _events(reads, label - LOOKBACK)
                shipped.append(delay)
                for k in ks:
                    at = kth(times, k, WITHIN)
                    early[k].append(delay if at is None else min(delay, max(0.0, at - label)))
        rolled = dict.fromkeys(ks, 0)
        for scenario in healthy:
            recording = read[scenario["file"]]
            upgrades = {str(m.target): m.time for m in recording.marks if m.name == "upgrade"}
            hit = set()
            for target, mark in upgrades.items():
                times = _events(_reads(config, recording, probes, target), mark)
                hit.update(k for k in ks if kth(times, k, WITHIN) is not None)
            for k in hit:
                rolled[k] += 1

        def cell(delays: Sequence[float]) -> str:
            over = sum(d > 60 for d in delays)
            return f"{statistics.median(delays):g} s, {over} of {len(delays)} over 60 s"

        shown = [f"{cell(early[k])}, healthy rolled back {rolled[k]}" for k in ks]
        lines.append(f"| `{family}` | {cell(shipped)} | " + " | ".join(shown) + " |")
    lines.append(f"({len(healthy)} healthy recordings.)")
    return lines


def random_share(
    rate: float, k: int, within: float, *, watches: int = 40_000, hours: float = 2.0, seed: int = 7
) -> float:
    """Share of healthy watches (``hours`` long) in which ``k`` events come within ``within``
    seconds of each other, for events at random (Poisson) at ``rate`` an hour; events from
    ``within`` before the watch count towards its windows, as a count window reaches back."""
    rnd = random.Random(seed)
    fired = 0
    for _ in range(watches):
        times: list[float] = []
        t = -within
        while True:
            t += rnd.expovariate(rate) * 3600
            if t > hours * 3600:
                break
            times.append(t)
        fired += _completed_in_watch(times, k, within)
    return fired / watches


def _completed_in_watch(times: Sequence[float], k: int, within: float) -> bool:
    """Whether ``k`` of ``times`` come within ``within`` s, the last of them in the watch."""
    return any(
        times[i] >= 0 and times[i] - times[i - k + 1] <= within for i in range(k - 1, len(times))
    )


RANDOM_RULES = ((1, 0.0), (2, 600.0), (2, 1800.0), (3, 600.0), (3, 1800.0))


def random_table(rates: Sequence[float] = (0.25, 0.5, 1.0, 2.0)) -> list[str]:
    """The share of healthy two-hour watches each count rule fires in, per random event rate."""
    names = [f"{k} in {within / 60:g} min" if within else "1 event" for k, within in RANDOM_RULES]
    lines = ["| events an hour | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for rate in rates:
        shares = [f"{random_share(rate, k, w):.2%}" for k, w in RANDOM_RULES]
        lines.append(f"| {rate:g} | " + " | ".join(shares) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="rollsafe backtest --json output")
    parser.add_argument("corpus", type=Path, help="the corpus directory it was run on")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help=(
            "also: the event families decided at their first or second event instead, and "
            "what count rules cost on events at random"
        ),
    )
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text(encoding="utf-8"))
    lines = [HEADER, *(row(family, found) for family, found in splits(report, args.corpus).items())]
    if args.what_if:
        lines += ["", *what_if(report, args.corpus), "", *random_table()]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
