"""Store write path: observation batches and synchronous decisions on SQLite (WAL) in a file."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rollsafe.domain import ids, observations, verdicts
from rollsafe.storage import sql


def run(*, total: int = 100_000, batch: int = 2000, decisions: int = 500) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = sql.open_store(Path(tmp))
        try:
            rows = [
                observations.Observation(
                    time=1_700_000_000.0 + i * 0.01,
                    target=ids.TargetId(f"t{i % 1000}"),
                    source="http",
                    value=1.0,
                    status=200,
                    latency_s=0.01,
                )
                for i in range(total)
            ]
            began = time.perf_counter()
            for start in range(0, total, batch):
                store.add_observations(rows[start : start + batch])
            observed = time.perf_counter() - began

            began = time.perf_counter()
            for i in range(decisions):
                store.add_decisions(
                    [
                        verdicts.Decision(
                            time=1_700_000_000.0 + i,
                            target=ids.TargetId(f"t{i}"),
                            rule=ids.RuleId("bad"),
                            severity=verdicts.Severity.CRITICAL,
                            summary="bench",
                            evidence={"value": i},
                        )
                    ]
                )
            decided = time.perf_counter() - began
        finally:
            store.close()
    return {
        "observations": total,
        "batch": batch,
        "observations_per_s": round(total / observed),
        "decision_commit_ms": round(decided / decisions * 1000, 2),
    }
