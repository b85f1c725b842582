"""The regression rule's false-alarm bound under random episodes, thousands of watches fast.

A healthy watch here is one stationary process on both sides of the mark: a latency of
0.22 s (lognormal sigma 0.15) with random *episodes* at 1.1 s (5x, a noisy neighbour's
slowdowns: far above ``latency-quantile-up``'s margin, x2 +0.1), each lasting a fixed number
of 30 s buckets, beginning from a calm bucket with a fixed probability. The hour before is
120 buckets of one check each; the hour after, from the grace on, 116 buckets, each the
median of three checks (a watched target is probed faster). At 0.0125 onsets per calm bucket
the hour before holds no episode in about 22% of the watches, one in 33%, two in 26%, more
in the rest, so every kind of reference is drawn.

The statistical core is run directly on the bucket statistics, without windows: the
reference (``sequential._self_reference``: thresholds, urns, chains, discounts), every
component's e-value (``_component_log_e``) mixed as the judge mixes them, and the test from
the grace and the late starts at their own shares of alpha (``_new_lates``), each against
its own bar. Not run: the warm-up holds, the cold start and the early start (predictable
holds and one more fixed-time test: they change which buckets are bet on, not what a
component's null is; ``test_the_core_flags_what_the_judge_flags`` checks it against
``judge_self`` on windows). So 2,000 watches take about 10 s, where ``judge_self`` on
windows takes about 27 ms a watch.

What it measures (docs/presets.md, "Round 11: the bound under random short episodes"):

* single-bucket episodes (independent buckets: the urn's exchangeable null holds, whatever
  the reference showed): within alpha;
* episodes of 1 to 3 buckets: about 1% of healthy watches flagged at alpha 0.001 (18 and 21
  of 2,000 with two seeds), every one from a reference hour that held at most one episode
  (nearly all: none), none from a reference with two or more. The urn (and the top) take
  a run of exceedances after a calm hour for independent buckets: two buckets above the
  reference's top are worth 7,381x (1,845 with the top's quarter of the mixture, above the
  1,333 bar), and a 2-bucket episode early in a test (the test from the grace, or a late
  start's first buckets) is that. A known limit, asserted here so that a change to it is
  seen.

The allowance: at a true rate of alpha (0.001) over 2,000 watches, the number flagged is
Binomial(2,000, 0.001) (mean 2); more than 9 has probability 4.6e-5, so the assertion
``flagged <= 9`` fails by chance at most about once in 20,000 seeds when the bound holds
(and then only at alpha itself: below it, less often), while a rate of 1.05% (mean 21, the
1-3 bucket episodes below) passes it with probability 0.003. The upper 95% Wilson bound of
9 of 2,000 is 0.85%: the assertion says "at most about 8 alpha", what 2,000 watches can
tell; alpha itself would need about 30,000 (ten minutes here).
"""

from __future__ import annotations

import math
import random
import statistics

from test_sequential_simulation import MARK, TARGET, X2, rule

from rollsafe.domain import observations
from rollsafe.judge import sequential, windows

LEVEL, HIGH, SIGMA = 0.22, 1.1, 0.15
BEFORE, AFTER = 120, 116  # buckets: an hour before; an hour after less the 2-minute grace
WATCHES = 2_000
ALLOWED = 9  # P(Binomial(2,000, 0.001) > 9) = 4.6e-5 (module notes)


def indicator(rng: random.Random, count: int, onset: float, lengths: tuple[int, ...]) -> list[bool]:
    """A stationary episode indicator per bucket: from a calm bucket an episode begins with
    probability ``onset`` and lasts one of ``lengths`` buckets (drawn uniformly)."""
    out: list[bool] = []
    left = 0
    for _ in range(count + 200):  # 200 buckets of burn-in: stationary at the first one kept
        if left:
            out.append(True)
            left -= 1
        elif rng.random() < onset:
            out.append(True)
            left = rng.choice(lengths) - 1
        else:
            out.append(False)
    return out[200:]


def watch(
    rng: random.Random, onset: float, lengths: tuple[int, ...], factor: float = 1.0
) -> tuple[list[float], list[float], int]:
    """(the reference's bucket statistics, the buckets after the grace, the reference's
    episodes). ``factor``: the release multiplies every value after the mark (1: healthy)."""
    grace = 4
    state = indicator(rng, BEFORE + grace + AFTER, onset, lengths)
    reference = [(HIGH if s else LEVEL) * math.exp(rng.gauss(0.0, SIGMA)) for s in state[:BEFORE]]
    after = []
    for s in state[BEFORE + grace :]:
        checks = sorted((HIGH if s else LEVEL) * math.exp(rng.gauss(0.0, SIGMA)) for _ in range(3))
        after.append(checks[1] * factor)
    episodes = sum(1 for i, s in enumerate(state[:BEFORE]) if s and (i == 0 or not state[i - 1]))
    return reference, after, episodes


class _Test:
    """One test (from the grace, or a late start) on the buckets from its start, as
    ``sequential._exceedances`` runs it: each component counted and mixed with equal weights."""

    def __init__(self, reference: sequential._Reference, bar: float) -> None:
        self.reference, self.bar = reference, bar
        width = len(reference.urns)
        self.exceeded, self.used = [0] * width, 0
        self.walked = [[-1, 0, 0, 0, 0] for _ in range(width)]

    def crosses(self, stat: float) -> bool:
        reference = self.reference
        self.used += 1
        gained = False
        for j, threshold in enumerate(reference.thresholds):
            above = threshold is not None and stat > threshold
            self.exceeded[j] += above
            gained |= above
            sequential._step(self.walked[j], above)
        if not gained:  # a bucket below every threshold lowers every component: no crossing
            return False
        logs = [
            sequential._component_log_e(reference, j, self.exceeded[j], self.used, self.walked[j])
            for j in range(len(reference.urns))
        ]
        top = max(logs)
        return top + math.log(math.fsum(math.exp(x - top) for x in logs) / len(logs)) >= self.bar


def first_crossing(reference_stats: list[float], after: list[float]) -> int | None:
    """The bucket (counted from the grace) where the test from the grace or a late start
    first reaches its bar; None: the watch is never flagged."""
    rule_ = rule(watch="1h", **X2)
    width = rule_.bucket
    buckets = [sequential._Bucket(x, 1, 0) for x in reference_stats]
    reference = sequential._self_reference(rule_, buckets, width)
    assert reference is not None
    main = _Test(reference, -math.log(reference.alpha_test))
    lates = [
        (late.start, _Test(reference, -math.log(rule_.alpha * late.weight)))
        for late in sequential._new_lates(rule_, width)
    ]
    for i, stat in enumerate(after):
        if main.crosses(stat):
            return i
        for start, test in lates:
            if i >= start and test.crosses(stat):
                return i
    return None


def flagged(onset: float, lengths: tuple[int, ...], *, seed: int) -> list[int]:
    """The reference's episode count of every healthy watch flagged, out of ``WATCHES``."""
    rng = random.Random(seed)
    found = []
    for _ in range(WATCHES):
        reference, after, episodes = watch(rng, onset, lengths)
        if first_crossing(reference, after) is not None:
            found.append(episodes)
    return found


def test_random_single_bucket_episodes_stay_within_alpha():
    # Independent buckets (each an episode at 5x with probability about 1.2%): the urn's
    # exchangeable null holds whatever the reference holds (none, one, two ... episodes).
    # Measured: 0 of 2,000 (95% Wilson interval 0 to 0.19%); 0 of 3,000 at 0.04 onsets.
    found = flagged(0.0125, (1,), seed=31)
    print(f"\nsingle-bucket episodes: {len(found)} of {WATCHES} flagged (references: {found})")
    assert len(found) <= ALLOWED


def test_random_episodes_of_one_to_three_buckets_break_it_only_after_a_calm_hour():
    # The known limit (module notes): measured 18 of 2,000 (0.9%, 95% interval 0.57-1.42%)
    # at alpha 0.001, 17 from a reference without any episode, 1 from one with one; 21 of
    # 2,000 with another seed, the same way. The reference's
    # episodes are what tells the judge that exceedances come in runs: with two or more it
    # is tested right (within its share of the watches flagged: none); with fewer the urn
    # reads a 2- or 3-bucket episode after the upgrade as independent buckets.
    found = flagged(0.0125, (1, 2, 3), seed=31)
    print(f"\n1-3 bucket episodes: {len(found)} of {WATCHES} flagged (references: {found})")
    assert all(episodes <= 1 for episodes in found)
    assert len(found) <= 2.5 * 18  # the limit as measured, with room for a change of seed only


def test_steps_are_caught_through_the_same_core():
    # Power of the same core (no cold start here: the judge tests a step from the mark
    # from cold_grace, docs/configuration.md): a clean x6 step is flagged by the top two
    # buckets after the grace (180 s after the mark) in every watch, a x2.2 step (just
    # above the x2 margin, through the lower quantiles) in 79 of 100 (median 1,590 s).
    rng = random.Random(32)
    for factor, least, limit in ((6.0, 100, 180.0), (2.2, 75, 1_800.0)):
        delays = []
        for _ in range(100):
            reference, after, _ = watch(rng, 0.0, (1,), factor=factor)
            crossed = first_crossing(reference, after)
            if crossed is not None:
                delays.append(120.0 + 30.0 * (crossed + 1))
        median = statistics.median(delays) if delays else math.inf
        print(f"\nx{factor} step: {len(delays)} of 100 caught, median {median:.0f} s")
        assert len(delays) >= least
        assert median <= limit


def judged_on_windows(reference: list[float], after: list[float], rng: random.Random) -> int | None:
    """The same watch judged by ``judge_self`` on observations (holds, cold start and early
    start included): the bucket (from the grace) where it crossed; None: never."""
    rule_ = rule(watch="1h", **X2)
    window = windows.Window(span=7_300.0, max_samples=100_000)

    def add(time: float, value: float) -> None:
        window.insert(
            observations.Observation(time=time, target=TARGET, source="sim", latency_s=value)
        )

    for i, stat in enumerate(reference):
        add(MARK - 3_600.0 + 30.0 * i + 1.0, stat)
    for i in range(4):  # the grace: calm, three checks a bucket
        for k in range(3):
            add(MARK + 30.0 * i + 10.0 * k + 1.0, LEVEL * math.exp(rng.gauss(0.0, SIGMA)))
    for i, stat in enumerate(after):  # three checks a bucket, their median the bucket's stat
        for k in range(3):
            add(MARK + 120.0 + 30.0 * i + 10.0 * k + 1.0, stat)
    outcome = sequential.judge_self(
        rule_, window, now=MARK + 3_600.0, reference_at=MARK, floor=10.0, state=sequential.Watch()
    )
    crossed = outcome.evidence["crossed_at"]
    return None if crossed is None else round((crossed - MARK - 120.0) / 30.0) - 1


def test_the_core_flags_what_the_judge_flags():
    # The harness leaves out the holds, the cold start and the early start: on these watches
    # (a calm grace) they change nothing. Measured over the 2,000 watches of the 1-3 bucket
    # case: all 18 flagged and 199 of the rest judged on windows, the same 18 flagged at the
    # same bucket and no other. Here the first 700 (7 flagged) and every 25th of the rest.
    rng, noise = random.Random(31), random.Random(5)
    compared = flagged_both = 0
    for n in range(700):
        reference, after, _ = watch(rng, 0.0125, (1, 2, 3))
        core = first_crossing(reference, after)
        if core is None and n % 25:
            continue
        assert judged_on_windows(reference, after, noise) == core
        compared += 1
        flagged_both += core is not None
    print(f"\ncore and judge_self compared on {compared} watches, {flagged_both} flagged by both")
    assert flagged_both >= 5
