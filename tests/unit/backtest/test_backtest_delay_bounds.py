"""corpus/delay_bounds.py: what bounded each detection, and the groups before/after a change."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[3] / "corpus"


def _script() -> dict[str, Any]:
    """corpus/delay_bounds.py's names (a script beside the package, not importable)."""
    return runpy.run_path(str(CORPUS / "delay_bounds.py"))


def _row(half: str, rule: str, bound: str, delay: float) -> dict[str, Any]:
    return {
        "half": half,
        "family": "f",
        "scenario": "s",
        "rule": rule,
        "bound": bound,
        "delay": delay,
    }


def test_the_bound_is_read_from_the_deciding_evidence() -> None:
    bound = _script()["bound"]
    rate = {"kind": "rate", "above": 2.0, "window_s": 600.0}
    assert bound(rate) == "repeat > 2.0 in 10 min"
    assert bound({"kind": "regression", "fired_by": "early"}) == "early start"
    assert bound({"kind": "regression", "warmup": "cold"}) == "cold start"
    assert bound({"kind": "regression", "buckets": 4}) == "evidence, 4 buckets"
    assert bound({"kind": "threshold", "consecutive": 2}) == "consecutive 2"


def test_a_run_against_its_base_lists_the_moved_groups_first_and_the_medians_per_half() -> None:
    compared = _script()["compared"]
    base = [
        _row("design", "a.oom-kills", "repeat > 2.0 in 30 min", 570.0),
        _row("design", "a.oom-kills", "repeat > 2.0 in 30 min", 430.0),
        _row("held-out-9", "a.latency-up", "slow tier", 510.0),
        _row("held-out-9", "a.latency-up", "slow tier", 420.0),
        _row("held-out-9", "a.latency-up", "slow tier", 300.0),
        _row("held-out-9", "a.down", "consecutive 3", 33.0),
    ]
    # One detection 30 s later within its group (the group's median does not move), one
    # that moved to another bound (it leaves its group and joins another).
    run = [
        base[0],
        _row("design", "a.oom-kills", "repeat > 1.0 in 30 min", 260.0),
        _row("held-out-9", "a.latency-up", "slow tier", 540.0),
        *base[3:],
    ]
    lines = compared(base, run, 0.0)
    assert lines[0] == "detections over 0 s: 6/6 -> 6/6"
    # Moved groups first, starred: both oom-kills groups and the slow tier; not down.
    assert [line.split()[0] for line in lines[1:5]] == ["*", "*", "*", "f"]
    assert {line.split()[2] for line in lines[1:4]} == {"a.oom-kills", "a.latency-up"}
    (slow,) = [line for line in lines if "slow tier" in line]
    assert slow.startswith("*")
    assert slow.split()[-5:] == ["420.0", "->", "3", "median", "420.0"]
    (gone,) = [line for line in lines if "repeat > 2.0" in line]
    assert gone.split()[-6:] == ["median", "500.0", "->", "1", "median", "570.0"]
    (new,) = [line for line in lines if "repeat > 1.0" in line]
    assert new.split()[-6:] == ["median", "-", "->", "1", "median", "260.0"]
    # design 570, 430 -> 570, 260; held-out-9 keeps 300 and 420 in its middle.
    assert [" ".join(line.split()) for line in lines[-4:]] == [
        "median design 500.0 -> 415.0 s",
        "median held-out-9 360.0 -> 360.0 s",
        "median first four 500.0 -> 415.0 s",
        "median all 425.0 -> 360.0 s",
    ]
