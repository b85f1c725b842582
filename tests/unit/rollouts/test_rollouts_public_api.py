"""The public surface of the rollouts package is explicit; this pins it."""

from __future__ import annotations

import pytest

from rollsafe.judge import cohorts
from rollsafe.rollouts import budgets, conducting, opening, plans, reports


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (budgets, ["Verdict", "allowed", "check", "from_config", "spent"]),
        (plans, ["bake_rules_of", "build_spec", "cumulative", "selected", "size_label", "split"]),
        (opening, ["RolloutRefused", "open_rollout"]),
        (conducting, ["EVIDENCE_TIMEOUT_S", "RolloutConductor", "has_evidence"]),
        (reports, ["current_evidence", "load", "pins_of", "summarize"]),
        (cohorts, ["BASELINE", "CANARY", "COHORTS", "compare"]),
    ],
)
def test_public_names(module: object, names: list[str]) -> None:
    assert sorted(module.__all__) == sorted(names)  # type: ignore[attr-defined]
    for name in names:
        assert hasattr(module, name)
