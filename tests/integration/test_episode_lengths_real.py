"""The episode length on real healthy series (round 12, ``corpus/episode_lengths.py``): how
long NAB's CloudWatch latency and CPU stay above the hour before's top, outside their
labelled anomalies, in buckets of their own 5 minutes (docs/presets.md, "Round 12: the
episode length L on real series"). Pinned so that a change to the measurement is seen."""

from __future__ import annotations

import pytest

from support import corpus_modules

LENGTHS = corpus_modules.corpus_module("episode_lengths")
DATA = LENGTHS.data_dir()

pytestmark = [
    pytest.mark.may_skip,  # optional data beside the repository (../shared/data)
    pytest.mark.skipif(DATA is None, reason="../shared/data/metrics is absent (optional data)"),
]


def _lengths(name: str, margin: float) -> list[int]:
    times, values = LENGTHS.read(DATA / name)
    labelled = LENGTHS.windows(DATA / "anomaly_windows.json", name)
    found: list[int] = LENGTHS.episodes(times, values, labelled, margin=margin)
    return found


def test_steady_series_leave_the_hours_top_for_at_most_three_buckets() -> None:
    """The five series of steady load: 1,046 episodes above the top, 96% one bucket, the
    0.99 quantile 2 and the longest 3 (an L of 3 covers every one, 2 all but 3); above a
    margin, single buckets only."""
    steady = [n for n in LENGTHS.SERIES if n != LENGTHS.JOBS]
    lengths = [n for name in steady for n in _lengths(name, 1.0)]
    assert len(lengths) == 1046
    assert sum(n == 1 for n in lengths) == 1006
    assert LENGTHS.quantile(lengths, 0.99) == 2
    assert max(lengths) == 3
    assert sum(n > 2 for n in lengths) == 3
    # 20% above the top, or twice it (latency-quantile-up's ratio): every episode is one
    # bucket (90 and 13 of them), independent buckets as the urn assumes.
    for margin, episodes in ((1.2, 90), (2.0, 13)):
        above = [n for name in steady for n in _lengths(name, margin)]
        assert (len(above), max(above)) == (episodes, 1)


def test_a_host_of_jobs_has_episodes_no_short_length_covers() -> None:
    """77c1ca, idle between jobs at 77-99%: its jobs run past the top for up to 30 buckets
    (2.5 hours), 7 of 235 episodes over 12: the bound's L is an assumption about the host."""
    lengths = _lengths(LENGTHS.JOBS, 1.0)
    assert len(lengths) == 235
    assert max(lengths) == 30
    assert sum(n > 12 for n in lengths) == 7
