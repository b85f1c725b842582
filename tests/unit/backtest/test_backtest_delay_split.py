"""corpus/delay_split.py: a detection's delay split into the fault's timing and the rule's wait."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[3] / "corpus"


def _script() -> dict[str, Any]:
    """corpus/delay_split.py's names (a script beside the package, not importable)."""
    return runpy.run_path(str(CORPUS / "delay_split.py"))


def test_a_hung_task_waits_for_the_kernel_then_for_its_second_report() -> None:
    split = _script()["split"]
    # Labelled at the block (t0 = 1000): the kernel reports it at +120 s and again at +240 s,
    # where `lockups` decides; a report after the decision is not evidence for it.
    parts = split(240.0, 1000.0, [(1120.0, 1), (1240.0, 1), (1360.0, 1)], "lockups")
    assert (parts.to_first, parts.after_first, parts.after_decisive) == (120.0, 120.0, 0.0)
    assert parts.events == 2


def test_evidence_read_just_before_the_label_counts_from_it_and_older_reads_do_not() -> None:
    split = _script()["split"]
    # A read 30 s before the label is the fault's (a label rounded late); one 10 minutes
    # before it is not; empty reads are never evidence.
    parts = split(320.0, 1000.0, [(400.0, 1), (970.0, 1), (1100.0, 0), (1300.0, 1)], "x")
    assert parts.to_first == 0.0
    assert parts.after_first == 320.0
    assert parts.after_decisive == 20.0  # decided at 1320, 20 s after the last event's read
    assert parts.events == 2


def test_a_decision_without_the_familys_events_has_no_parts() -> None:
    script = _script()
    parts = script["split"](555.0, 1000.0, [], "db-crashes")
    assert parts.to_first is None
    assert parts.after_first is None
    assert parts.events == 0
    row = script["row"](
        "oom-repeated", [parts, script["split"](30.0, 0.0, [(15.0, 1)], "oom-kills")]
    )
    # Two detections, one over 60 s (it has no parts: "-"), the medians of what is known.
    assert row == (
        "| `oom-repeated` | 2 | 292.5 | 15 | 1 | - | - | - | - | db-crashes 1, oom-kills 1 |"
    )


def test_the_kth_event_counts_only_events_within_the_window_of_each_other() -> None:
    kth = _script()["kth"]
    # Crashes 20 minutes apart never put three within 30 minutes; two do, at the second.
    times = [0.0, 1200.0, 2400.0]
    assert kth(times, 3, 1800.0) is None
    assert kth(times, 2, 1800.0) == 1200.0
    assert kth(times, 1, 0.0) == 0.0
    # Crashes 35 minutes apart, then two more within minutes: three within 30 minutes at the
    # last of them, not before.
    assert kth([0.0, 2100.0, 4200.0, 4300.0, 4400.0], 3, 1800.0) == 4400.0
    assert kth([], 1, 1800.0) is None


def test_count_rules_on_random_events_fire_as_often_as_poisson_says() -> None:
    share = _script()["random_share"]
    # One event in a two-hour watch at 0.5 an hour: 1 - e^-1 = 63.2%.
    assert abs(share(0.5, 1, 0.0, watches=4000) - 0.632) < 0.03
    # Asking for more events, or for them closer together, fires less often.
    two_in_30 = share(0.5, 2, 1800.0, watches=4000)
    two_in_10 = share(0.5, 2, 600.0, watches=4000)
    three_in_10 = share(0.5, 3, 600.0, watches=4000)
    assert two_in_30 > two_in_10 > three_in_10
    assert 0.12 < two_in_30 < 0.23
    assert three_in_10 < 0.01
