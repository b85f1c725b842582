"""A verifier whose verdict the test sets, for executor tests without probes or checkpoints.

Implements ``rollsafe.execute.runs.Verifier`` (what proves a rolled-back target healthy):
``outcome`` is what it answers, ``error`` (when set) is raised instead, and ``calls`` lists
the targets and restore points it was asked about, in order.
"""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.domain import restore_points
from rollsafe.execute import runs


class FakeVerifier:
    """Answers every verification with ``outcome`` (healthy unless told otherwise)."""

    def __init__(self, outcome: runs.VerifyOutcome | None = None) -> None:
        self.outcome = outcome or runs.VerifyOutcome(ok=True, summary="healthy")
        self.error: BaseException | None = None
        self.calls: list[tuple[str, str]] = []  # (target id, restore point id)

    def fail(self, summary: str = "still unhealthy") -> None:
        """From now on, verification finds the target unhealthy."""
        self.outcome = runs.VerifyOutcome(ok=False, summary=summary)

    async def verify(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> runs.VerifyOutcome:
        self.calls.append((target.id, point.id))
        if self.error is not None:
            raise self.error
        return self.outcome
