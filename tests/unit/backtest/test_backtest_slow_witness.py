"""corpus/slow_witness.py: does the requests' p99 move where latency-up's slow tier crosses?"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[3] / "corpus"


def _script() -> dict[str, Any]:
    """corpus/slow_witness.py's names (a script beside the package, not importable)."""
    return runpy.run_path(str(CORPUS / "slow_witness.py"))


# p99 every 30 s: 0.25 s for the hour before an upgrade at t = 3600, then 0.25 s until 4200
# and 0.4 s from there (x1.6).
SERIES = [(float(t), 0.25 if t < 4200 else 0.4) for t in range(0, 7200, 30)]


def test_the_ten_minute_mean_is_read_at_the_crossing_and_at_its_highest_later() -> None:
    ratios = _script()["_ratios"]
    at, best = ratios(SERIES, ref_end=3600.0, start=4200.0, end=7200.0)
    # At 4200 one sample of 20 in the last 10 minutes is 0.4: (19 * 0.25 + 0.4) / 20 / 0.25.
    assert at == (19 * 0.25 + 0.4) / 20 / 0.25
    assert best == 0.4 / 0.25


def test_a_witness_holds_at_the_crossing_or_at_the_first_sample_after_that_reaches_it() -> None:
    witness = _script()["_witness"]
    # Already x1.6 for 10 minutes at 4800: the witness holds at the crossing itself.
    assert witness(SERIES, ref_end=3600.0, start=4800.0, end=7200.0, ratio=1.1) == 4800.0
    # Crossing at 4200: the 10-minute mean reaches x1.1 once 4 of its 20 samples are 0.4
    # ((16 * 0.25 + 4 * 0.4) / 20 = 0.28 = x1.12), the sample at 4290.
    assert witness(SERIES, ref_end=3600.0, start=4200.0, end=7200.0, ratio=1.1) == 4290.0
    # Requests as before (the redirected health check): no witness, however long.
    flat = [(t, 0.25) for t, _ in SERIES]
    assert witness(flat, ref_end=3600.0, start=4200.0, end=7200.0, ratio=1.1) is None
