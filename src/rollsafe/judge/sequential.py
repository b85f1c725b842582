"""Sequential regression tests: after an upgrade, is a signal worse than before it? (pure)

The ``regression`` rule kind. It watches one signal of one target for ``watch`` seconds after
the target's latest ``upgrade`` mark and answers, at any moment, whether the data so far is
strong enough evidence that the signal got worse than its reference: the target's own
``before`` period (``against: self``), or the rollout's baseline cohort at the same time
(``against: cohort``). The test is *anytime valid*: the judge may look after every
observation, and the probability that a healthy upgrade is ever flagged during its watch stays
at most ``alpha`` (Ville's inequality for a nonnegative supermartingale).

How. Observations are summarised one value per **bucket** (``bucket`` seconds, at least the
probe's interval, aligned on ``upgrade + grace``): the median of ``field`` (``quantile``), the
share of observations meeting ``when`` (``ratio``) or the sum of ``field`` (``rate``). A
bucket without observations carries no evidence; fast, correlated probes inside a bucket count
once, and the evidence per minute does not grow when a watched target is probed faster. "Not
worse" allows a margin: a reference value ``y`` may become ``g(y) = max(y * min_ratio,
y + min_delta)`` (for ``rate``, ``min_delta`` is per minute). Then, per aggregate:

* ``quantile``, against self: for each configured quantile ``q`` of the ``n`` reference
  buckets (the ``k``-th smallest, ``k = ceil(q n)``), count the buckets after the upgrade
  whose median exceeds ``g`` of it. If before and after were exchangeable, these exceedances
  would follow a Polya urn (Beta-binomial with ``n - k + 1`` and ``k``) *whatever the
  distribution*: heavy tails cost nothing and no estimate of the reference is trusted. The
  e-value is a mixture of Beta-binomial alternatives over that exact law (a test martingale),
  built so that it grows with the exceedances: values only stochastically smaller than the
  reference's (the margin) make it smaller still. With ``top`` (the default) one more
  component tests the reference's highest bucket (``k = n``: exceeded with probability
  ``1 / (n + 1)``, Beta(1, n)) against one alternative only, "nearly every bucket exceeds"
  (Beta(8, 1/2), see :data:`TOP_ALTERNATIVE`). The components (quantiles and top) are mixed
  with equal weights, fixed before the data. Why that mixture is still a test martingale,
  although each component counts exceedances of its own threshold: under the null the
  ``n + t`` values are exchangeable, so given *everything* seen (in which of the ``n + 1``
  gaps between the reference's order statistics each earlier new value fell: ``c_i`` in gap
  ``i``), the next one falls in gap ``i`` with probability ``(1 + c_i) / (n + 1 + t)`` (a
  Dirichlet-multinomial urn). Summed over the ``n - k + 1`` gaps above the ``k``-th, that is
  ``(n - k + 1 + s_k) / (n + 1 + t)``: exactly what component ``k``'s own urn predicts from
  its own ``s_k`` exceedances. So each component's likelihood ratio is a martingale in the
  common filtration, a fixed-weight average of them is one too, and Ville's inequality
  bounds the mixture (a threshold above the order statistic, the margin, only lowers the
  chance of exceeding it: a supermartingale). Why the top: a bucket above the highest of
  120 reference buckets is worth up to 121x, two in a row ``121 * 122 / 2 = 7,381``x, so a
  shift well above anything seen before can reach ``1 / alpha = 1,000`` in 2 buckets even
  with the top's share of the prior (1/4 with three quantiles); above the 0.99 quantile two
  are worth at most ~2,460x and the equal mixture over quantiles kept it below 1,000 (3
  buckets; 5 with quantiles [0.5, 0.9]). The price for a moderate shift, carried by the
  lower quantiles, is their smaller share (3/4 instead of all): about one bucket more
  (the simulations, docs/configuration.md). The top's alternative is exchangeable, so a
  shift that starts a few buckets after the grace gains less (every bucket below the top
  before it counts against "nearly every bucket"). A mixture over the change point would
  fix that, but it is not monotone in the exceedances (an early one raises the null urn's
  prediction for later buckets) and the margin's argument needs monotone e-values.
* ``ratio`` and ``rate``, against self: a two-sample test of Bernoulli shares or Poisson
  counts, ``after <= g(before)``. The e-value is the likelihood mixed over both parameters
  (fixed Jeffreys-like priors) divided by the likelihood maximised over the whole null; for
  any null parameter that is at most a mixture likelihood ratio, a test martingale. Counts
  are first shrunk by the reference buckets' over-dispersion against the model (bursty
  failures, gamma-Poisson counts), so clustered failures weigh what they are worth.
* against cohort: in each bucket, the canary's statistic against ``g`` of the ``k``-th
  smallest of the ``m`` baseline peers' statistics in the same bucket, exceeded with
  probability at most ``(m - k + 1) / (m + 1)`` when the canary and its peers are
  exchangeable; wealth of bettors staking fixed fractions on "exceeds", mixed (test by
  betting). A change that hits the whole fleet moves both sides.

The rule breaches once the e-value reaches ``1 / alpha`` (``1 / (0.75 alpha)`` when the
watch has late starts, below), and stays breached until the watch ends (the guarantee is
about *ever* crossing: Ville's inequality). Two buckets above the reference's top (7,381x,
a quarter of it with three quantiles: 1,845) still pass 1,333.

**Sustained** (against self, ``aggregate: quantile``, ``sustained: q``). One more component
of the mixture, fixed before the data like the others: the exceedances of ``g`` of the
reference's ``q`` quantile (its urn, with the rank discount) against the top's one
alternative, "nearly every bucket exceeds" (:data:`TOP_ALTERNATIVE`, taken as
``Beta(max(a0, 8), min(b0, 1/2))``). A martingale in the common filtration for the same
reason as a quantile's; it only reweights the mixture. What it buys: for a rule without
``top`` (request-errors-up: a minute of a dependency's failure must not roll back), a step
that stays above ``g`` of the p90 of 120 buckets reaches 1,333 in 4 buckets (1,877) instead
of 5 (3,364 with the median and p90 alone); three buckets stay at 263, and a bucket below
``g`` costs that alternative a factor of about 25, so bursts that come and go are worth less
to the mixture than before (two 1-minute bursts a minute apart: 31 instead of 40). The
price: the other components' weight falls from 1/2 to 1/3 each (0.41 nats, under a bucket,
for a shift the quantiles carry). Where the reference's own exceedances of that threshold
come in runs it is read as a chain like a quantile's (no sharp bet). The slow tier does not
carry it (a small shift is the quantiles' job).

**Adaptive warm-up** (against self, ``settle_max`` > ``grace``). A restart warms up: JIT,
caches, pools, a journal replayed; its latency may start several times higher and settle
over many minutes, longer than any fixed grace worth waiting for a step regression. So
before each bucket after the grace the rule asks whether the signal is *clearly falling*:
a one-sided Mann-Kendall test on the observations of the last ``SETTLE_BUCKETS`` buckets
since the upgrade (z at most ``FALLING_Z``, shrunk by the reference's correlation discount
so that wander is not taken for a fall) and a Theil-Sen fall of at least ``MIN_FALL`` of the
level over them (a small significant fall is noise on a step). While it is, the bucket is
*held*: not bet on. A hold in a young run (at most ``PAUSE_AFTER`` buckets bet on: they are
inside the falling stretch) ends it: the run's wealth above 1 is given up and the next run
starts afresh (a new urn, counts from zero), so warm-up exceedances never carry into the
test; a hold in an older run only pauses it. From ``settle_max`` after the upgrade no bucket
is held. Why the bound still holds: whether a bucket is held is decided from data before it
(a predictable choice), so the wealth process (each run's likelihood ratio, times what was
kept from earlier runs) is unchanged on a held bucket, multiplied by an urn factor of
conditional mean at most 1 on a bet one, and cut down to ``min(wealth, 1)`` (a consumption,
allowed) when a run ends: a nonnegative supermartingale from 1, and Ville's inequality
applies to it as a whole, not once per run. The null it is valid under: the buckets a run
bets on are exchangeable with the reference's and independent of the held ones (the warm-up
may be any transient; iid buckets are a special case). A step regression is flat from the
mark: it is not held (the bucket right after the grace is bet on) unless noise makes it
look falling (rare at 2.5% and a quarter's fall); a rising one is never held; a partial
recovery to a worse level is held while it falls and tested afresh when it has settled.
Evidence says when the current run began and why (``test_from``, ``warmup``: ``grace``,
``settled``, ``cap`` or ``cold``), and the sentence says it in words.

**Cold start** (against self, ``aggregate: quantile``, ``cold_grace`` > ``grace``). Some
warm-ups do not fall where a trend can see it: caches fill in tiers (3x flat for 4 minutes,
then back), or one scrape every 30 s gives the trend 4 points at the end of a 2-minute
grace (4 falling in a row is p = 1/24, not a clear fall). What a restart's warm-up always
does is start at its worst, at the upgrade. So at the first bucket after the grace the rule
reads the whole buckets inside the grace: when more than half of them (with data) exceed
``g`` of the reference's lowest tested quantile, the watch is a *cold start* and every
bucket before ``cold_grace`` after the upgrade is held; from then on the adaptive warm-up
above applies as usual (a signal still falling is held further). A regression present from
the upgrade on looks the same and is tested from ``cold_grace``: that is the price (about 3
minutes on a step, measured in the simulations); one that appears after the grace is not
delayed. Why the bound holds: the decision reads only the grace, which is never bet on, and
is made before the first bucket after it: the holds it causes are predictable like the
others, and no run has begun before them (nothing is carried or ended). Evidence:
``cold_start``, ``cold_factor`` (the grace's median over that quantile), ``warmup: cold``.

**Late starts** (against self; against cohort below). The test from the start counts every
bucket since the grace: a regression that grows slowly or begins well after the upgrade
first meets 30 or 60 buckets still near the reference, and for an exchangeable alternative
("exceeds more often than the null") each of them is evidence *against* it: the wealth
sinks, and a burn that becomes clear 30 minutes in is flagged late or never. So fresh tests
begin at fixed times after the last bucket any warm-up hold can take (``settle_max``,
``cold_grace``), every :data:`LATE_EVERY` (10 minutes) while 10 minutes of the watch are
left, at most :data:`LATE_MAX`: each the same test (the same reference, thresholds, urns or
two-sample model) on the buckets from its start on only. The test from the start is run at
``alpha (1 - LATE_SHARE)`` (3/4 of it) and each of the ``K`` late ones at ``alpha LATE_SHARE
/ K``; the rule breaches when any one reaches its own bar. Why the bound still holds: a late
test is one of the tests above begun at a fixed time (not chosen from data), on buckets that
no hold can take; under the null the reference and the buckets from its start on are
exchangeable (a subset of an exchangeable sequence) or independent Bernoulli / Poisson, so
its e-value is a test (super)martingale in *its own* filtration (the reference and its own
buckets) and Ville's inequality bounds its crossing by its share of alpha; the union bound
over the ``K + 1`` tests gives ``alpha`` for the watch. Why not the weighted *average* of
the tests started at different times, a test supermartingale in one filtration if each is:
for the exceedance test the null's law of a late bucket given *everything* seen is the urn
updated with the buckets before the start (Dirichlet-multinomial, above); a late test fresh
from the reference is not a martingale in that filtration, and one against the updated urn
is not monotone in the buckets before its start (fewer early exceedances, an improvement
after the upgrade, lower the null's prediction and raise the late e-value), so the margin's
argument fails for it. The union costs little more than the average would: the bars differ
by the weights' log. The trade-off: a regression from the upgrade needs 1/(0.75 alpha)
(1,333 at 0.001: 0.29 nats more than 1,000, at most a bucket); a late one needs 1/(alpha
LATE_SHARE / K) in its start's test (16,000 with a 1-hour watch's 4 starts, 40,000 with a
2-hour watch's 10: 2.8 and 3.7 nats more) and carries at most ``LATE_EVERY`` of healthy
buckets from its start to the burn. Cost in the judge: a late test's exceedance e-value is
computed only on a bucket above one of its thresholds (a bucket below every one lowers every
alternative's likelihood ratio: no crossing), a two-sample one only when its cheap bound is
above its bar. Evidence: ``late_starts_s``, ``late_e_threshold``, the best late test so far,
and ``fired_by`` (``start`` or ``late``, with ``fired_start_s``); the sentence names the
test that fired and when it started.

Against cohort the same starts (no hold applies: every ``LATE_EVERY`` from ``grace +
LATE_EVERY``) and the same split of alpha; a late test is bettors of its own making the
same bets as the test from the grace, from its start's bucket on. Why the bound holds:
each bucket's bet has conditional mean at most 1 under the null given every bucket before
it (the canary exceeds the ``k``-th of ``m`` exchangeable peers with probability at most
``(m - k + 1) / (m + 1)``, whatever came before), so wealth begun at any fixed bucket is a
test supermartingale in the one filtration, and the union bound gives ``alpha`` again.

**Early start** (against self, ``aggregate: quantile`` with ``top``, a rule as configured
or its fast tier: not a slow tier's, nor a witness's). The grace is a fixed wait for the
restart's warm-up, and a step that begins inside it (a release slow from its first minute
of real traffic, after a calm restart) waits for its end, then two buckets: 120 s after a
step at half the grace. The cold start already
decides from data whether the restart was warm, so the grace need not be waited out when
the restart was seen calm and the change is far above anything the hour before showed. A
third kind of test begins at a fixed time, halfway through the grace on a bucket boundary
(60 s with the default 2 minutes and 30 s buckets), and ends two buckets after the grace:
the top component alone (exceedances of ``g`` of the reference's highest bucket, the urn
Beta(1, n), the one alternative :data:`EARLY_ALTERNATIVE`, "every bucket from here"), at
``alpha EARLY_SHARE`` (bar 6,667 at 0.001: two buckets above the top, up to 7,268, reach
it; one, 120, does not), taken from the late starts' quarter (1/4 -> 0.1 of alpha: their
bars 2.5 times higher), not from the test from the grace (its moderate steps sit near its
bar: the corpus's ``fault-p99-cpu-real`` crossed it 2% above, and at 0.65 of alpha instead
of 0.75 was flagged 9 minutes later; a watch without late starts gives it from there). It runs
only when every bucket since the upgrade before its start has data and none is above ``g``
of the lowest reference quantile (the cold start's bar): a restart not seen (no data: the
service was down) or not calm is left to the grace and its holds. A step at half the grace
is then flagged at the grace's end, 60 s after its onset instead of 120 s. Why the bound
holds: it is one more test begun at a fixed time on buckets of its own (like a late start:
a test supermartingale in its own filtration, monotone in its exceedances, so the margin's
argument applies), run or not on data before its start (a predictable choice), and stopped
at a fixed time; the union bound over the test from the grace, the late starts and it gives
``0.75 + 0.1 + 0.15 = 1`` times alpha. What it does not do: a step present from the upgrade
is a cold start (the early start does not run); a step during its span after healthy buckets
meets the exchangeable alternative's penalty (two healthy buckets first: it cannot cross)
and is the test from the grace's, as before; under wander the reference's effective size is
small and two buckets above its top are worth far less (AR(1) phi 0.7: ~200). Evidence:
``early_start_s``, ``early_ran``, ``early_e_value``, ``early_e_threshold``, and ``fired_by:
early`` with ``fired_start_s`` when it flagged the watch (the fleet veto then asks a peer
the test from that time, like a late start's).

**Request volume** (against self, a rule with ``volume``; ``rollsafe.judge.volume``). A
bucket resting on fewer than ``volume.min_requests`` requests (the rate probe's mean around
it times the bucket's length) is left out as a bucket without data, in the reference and
after the upgrade alike: the test's guarantee is untouched (which buckets count is decided
from the rate, never from the statistic tested), and a ratio of a handful of requests (a
drained host: one failure in 6 requests is 17%) is no evidence. No rate known: every
bucket counts, as without ``volume``. With ``volume.max_increase`` (load matching), a bucket
after the upgrade resting on more than that many times the reference's busiest bucket is
left out too: beyond the reference's load, its latency has nothing to be compared with
(``rollsafe.judge.volume``, "Load matching").

**Tiers** (``slow``). The margin is what healthy shifts (a busy hour, a warm-up, a daily
cycle, canary-vs-fleet noise) stay below, so it is set at a change that size is always a
regression: x2 latency, +1 point of errors. A smaller change can be as real (1.6x latency
for good, 0.1% to 0.9% errors) and is never flagged, however long it lasts: the test asks
"worse than ``g``", and it is not. A rule with a ``slow`` tier runs the whole test above
twice on the same buckets (:func:`tiers`): the *fast* tier at the rule's margin and ``alpha
(1 - share)``, the *slow* tier at the smaller margin ``slow.min_ratio``, ``slow.min_delta``
and ``alpha share``, without the ``top`` component ("far above anything seen before" is
the fast tier's; at the small margin it would only dilute the quantiles, where a small
shift shows); the rule breaches when either does. The fast tier's test from the grace keeps
``alpha (1 - LATE_SHARE)``, as without tiers (a large step is flagged as fast as before),
and its late starts get the rest of its alpha, ``alpha (LATE_SHARE - share)`` (none when
``share`` is larger: then its test from the grace gives up the difference); the slow tier
splits its own alpha like any rule (3/4 from the grace, 1/4 late). Each tier is the test
above with its own margin and alpha, late starts, warm-up holds and cold start included
(decided on its own margin: a warm-up above the small margin is held by the slow tier), so
each alone flags a healthy watch with probability at most its alpha; the union bound gives
``P(fast or slow ever crosses) <= alpha (1 - share) + alpha share = alpha`` for the rule,
whatever the dependence between the tiers (they read the same data). Why it needs more
evidence: the slow tier's bar is ``1 / (alpha share 3/4)`` (10,667 at alpha 0.001 and the
default share 1/8, against 1,333 for the fast tier), and a change just above the small
margin exceeds its thresholds in fewer buckets than a large one exceeds the fast tier's.
The price: the fast tier's late starts run at half their alpha (0.69 nats more to their
bars). The fast tier keeps the rule's early start at the same bar, ``1 / (alpha
EARLY_SHARE)`` of the *rule's* alpha (a smaller share would put it above what two buckets
far above the top are worth, 7,268: the early start would never flag a step sooner), paid
from the fast tier's own ``alpha (1 - share)``: from its late starts' share first, then
from its test from the grace. With the default share 1/8 the fast tier's late starts have
nothing left and its test from the grace gives up 0.025 of alpha: ``0.725 + 0.15`` for the
fast tier, ``0.125`` (``0.094 + 0.031`` late) for the slow one, ``1`` times alpha in all,
each test begun at a fixed time and bounded by its own share as above (bar 1,379 instead of
1,333 for the fast tier's test from the grace: 0.034 nats).
The small margin is still a practical floor, never zero (the model refuses it):
healthy shifts larger than it are exactly what the bound does not cover (a real drift is
not exchangeable with the reference). Evidence: the tier that fired first (or, while
neither has, the one nearer its bar, on a log scale) with its own margin, e-value and bar
(``tier``, ``tier_alpha``, ``min_ratio``, ``min_delta``, ``e_threshold``), ``alpha`` the
rule's, and ``tiers``: both tiers' margins, alphas, highest e-values and bars; the sentence
starts with the tier's name, its margin and share of alpha and ends with the other tier's
highest e-value against its bar.

Assumptions, stated because real monitoring breaks them more or less:

* under the null, buckets after the upgrade behave like the reference's (exchangeable, or
  independent Bernoulli / Poisson up to the measured over-dispersion). Autocorrelation (slow
  wander) breaks this by degrees: the lag-1 rank autocorrelation of the reference buckets
  (corrected for its small-sample bias) shrinks what every bucket, before and after, is
  worth (``effective_size``) and widens the urn, and the margin absorbs the rest, so keep it
  at the size of change that matters, not zero. With the default margin the bound holds for
  AR(1) wander (sigma 0.3) up to phi 0.97 between buckets; with no margin at all it is at
  alpha 0.001 for phi 0.9 and twice it for phi 0.97, where one hour of reference is too
  short to tell how slowly the signal wanders (docs/configuration.md). A daily cycle
  crossing the watch is a real drift: the margin must cover it, or compare with the cohort.
  The median component (``aggregate: quantile``) is discounted by how *its own*
  exceedances cluster (``exceedance_size``: the lag-1 correlation of the reference's
  indicator "above the median", read as the Gaussian wander that would give it): episodes
  (a report job, GC storms, a noisy neighbour: runs of buckets far above the rest) make the
  rank correlation large although the buckets between them are independent, and a release
  slow all the time moves the median. The other components keep the rank discount.
  **Episodes at the threshold** (round 10): where two consecutive reference buckets exceed
  a component's own threshold (``g`` of its quantile: the episodes are larger than the
  margin), the reference has shown that exceedances come in runs, and the urn's
  exchangeable null (each bucket after exceeds independently, at the reference's rate) is
  the wrong one: an hour with few or short episodes followed by an hour with the usual
  number of them is then evidence, though the process did not change. That component is
  tested instead as a two-state chain (``chain_counts``, ``chain_log_e``): the indicator
  "above the threshold", its onsets from a calm bucket and its stays from an exceeding one,
  two one-sided two-sample Bernoulli tests (the reference's counts against those after the
  upgrade, as ``ratio``'s test with no margin: the margin already placed the threshold),
  multiplied, since the chain's likelihood factors over its two rows; both counts weighed
  by the component's discount (``scales``: wander is not a chain). Its null is "the
  process after the upgrade is the reference's", episodes of the rates and lengths the
  hour showed included; under independent buckets both rows are the same rate, so it holds
  there too. A release slow all the time enters the threshold from nearly every calm
  bucket: the onsets carry it (the corpus's step after a report job's hour). The choice
  is made from the reference alone, before the first bucket after it (a predictable
  choice). The top and components whose reference never exceeds their threshold twice in
  a row keep the urn.
  ``tests/unit/judge/test_sequential_simulation.py`` measures false-alarm rates on AR(1),
  daily-cycle, lognormal, Pareto, Poisson, over-dispersed, bursty and episodic processes
  (episodes that come at random and are larger than the margin broke the bound, 3-5% of
  watches at alpha 0.001; with the chain 0.2-0.4%, from references whose episodes were all
  single buckets: docs/presets.md). ``test_sequential_episode_bound.py`` runs this core on
  thousands of watches. Random single-bucket episodes (independent buckets) stay within
  alpha. Episodes of 1 to 3 buckets give 0.9-1.1% at 0.001, every one after a reference with
  at most one episode. With no run above a component's threshold in the hour before, the urn
  reads an episode's buckets as independent ones, and two above the top flag the watch. A
  test valid there must assume how long unseen episodes last (docs/presets.md, round 11);
* the reference is a fair sample of "healthy": ``before`` should not hold an incident and
  should be long enough (``min_baseline`` buckets at least; rare failures need hours);
* bucket medians after the upgrade may rest on more observations than before (a watched
  target is probed faster): their spread is then smaller, which only lowers exceedances of
  upper quantiles, hence quantiles of at least 0.5;
* cohort peers are exchangeable with the canary apart from the release (same role, same
  traffic share);
* "worse" is "higher" (latency, memory, errors). A drop (throughput) is not tested.

Determinism: a decision is a function of the observations with time <= ``now`` and the marks
(bucket statistics are order-free: medians, counts, exact sums; buckets are folded in time
order). State kept between evaluations (:class:`Watch`) only saves work: it is checked
against the window (the mark, the reference period's identity, how many observations the
folded buckets hold) and folded again from the start when they differ (a late arrival, an
evaluation at an earlier ``now``). After the watch the rule says only that it is over: its
data is trimmed from the windows soon after, and its verdict is in the decisions made during
it. Only the standard library is used: lgamma, log1p and a golden-section search are all the
special functions needed. scipy was measured in their place (scipy 1.17.1, same machine):
``polya_log_e`` took 490 us per bucket and quantile with ``scipy.special.betaln`` and
``logsumexp`` against 38 us in plain Python (array set-up dominates at 7 alternatives), and
``scipy.stats.beta.ppf``, for a bound on the reference, 382 us a call.
"""

from __future__ import annotations

import datetime
import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rollsafe.config import durations, models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import conditions, rules, windows
from rollsafe.judge import volume as volumes

__all__ = [
    "LAMBDAS",
    "Mixture",
    "Watch",
    "bucket_statistic",
    "effective_size",
    "exceedance_size",
    "judge_cohort",
    "judge_self",
    "margin",
    "polya_log_e",
    "steady_until",
    "trend_z",
    "two_sample_log_e",
    "witness_test",
]

# Fractions of wealth staked on "worse", mixed with equal weights. Small ones win on a small
# effect seen for long, large ones on a large effect seen briefly; the mixture costs log(10)
# nats against the best of them in hindsight.
LAMBDAS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95)
_GOLDEN_STEPS = 32  # golden-section steps: the interval shrinks by 0.618**32 < 1e-6; the
# maximum, flat at its top, is then exact to ~1e-12 relative

# Late starts (against self, see the module notes): a fresh test begins every LATE_EVERY
# seconds from the end of every warm-up hold, at most LATE_MAX of them, with LATE_SHARE of
# alpha shared equally among them (the test from the grace keeps the rest). Every start
# doubled costs a late one log(2) nats more (~0.7 of the 6.9 a test at 0.001 needs); every
# minute between starts is a minute of healthy buckets a burn that begins just after a start
# carries. 10 minutes: a watch of 2 hours has 10 starts (each at alpha / 20).
LATE_EVERY = 600.0
LATE_MAX = 12
LATE_SHARE = 0.25


# --------------------------------------------------------------------------- the math


class Mixture:
    """Log-wealth of ``components x LAMBDAS`` bettors; the e-value is their average wealth."""

    __slots__ = ("_steps", "components", "logs")

    def __init__(self, components: int) -> None:
        self.components = components
        self.logs = [0.0] * (components * len(LAMBDAS))
        # Exceedance bets take few distinct ratios (0 and 1/m0): remember their log-steps.
        self._steps: dict[float, list[float]] = {}

    def bet(self, component: int, ratio: float) -> None:
        """One bucket's ``x / m0`` (>= 0) for one component: every bettor's wealth moves."""
        steps = self._steps.get(ratio)
        if steps is None:
            y = ratio - 1.0
            # 1 + lam * y >= 1 - lam > 0, since ratio >= 0 and lam < 1.
            steps = [math.log1p(lam * y) for lam in LAMBDAS]
            if len(self._steps) < 64:
                self._steps[ratio] = steps
        width = len(LAMBDAS)
        base = component * width
        logs = self.logs
        logs[base : base + width] = [
            a + b for a, b in zip(logs[base : base + width], steps, strict=True)
        ]

    def log_e(self) -> float:
        """log of the average wealth (log-sum-exp, so astronomically large values stay exact)."""
        top = max(self.logs)
        total = math.fsum([math.exp(x - top) for x in self.logs])
        return top + math.log(total / len(self.logs))

    def best(self) -> int:
        """The component whose bettors hold the most wealth (for evidence)."""
        width = len(LAMBDAS)
        sums = [max(self.logs[c * width : (c + 1) * width]) for c in range(self.components)]
        return max(range(self.components), key=lambda c: (sums[c], -c))


def margin(rule: models.RegressionRule, y: float) -> float:
    """``g(y)``: the worst value still "not worse" than ``y`` (nondecreasing in ``y``)."""
    scaled = y * rule.min_ratio if y >= 0 else y
    return max(scaled, y + rule.min_delta)


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def _bernoulli_loglik(x: float, n: float, p: float) -> float:
    if (x > 0 and p <= 0) or (n - x > 0 and p >= 1):
        return -math.inf
    return _xlogy(x, p) + _xlogy(n - x, 1.0 - p)


def _poisson_loglik(c: float, t: float, rate: float) -> float:
    if c > 0 and rate <= 0:
        return -math.inf
    return _xlogy(c, rate) - rate * t


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _maximise(f: Callable[[float], float], lo: float, hi: float) -> float:
    """The maximum of a concave ``f`` on ``[lo, hi]`` (golden-section search)."""
    if hi <= lo:
        return f(lo)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(_GOLDEN_STEPS):
        if fc < fd:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
        else:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
    return max(fc, fd, f(lo), f(hi))


# Alternatives of the exceedance test, as multipliers (u, v) of the null's Beta(a0, b0):
# Beta(a0 * u, b0 * v) with u >= 1 and v <= 1 predicts more exceedances than the null, and
# keeps the likelihood ratio nondecreasing in the number of exceedances (see polya_log_e).
_POLYA_ALTERNATIVES = ((1.0, 0.5), (1.0, 0.2), (1.0, 0.05), (4.0, 0.5), (4.0, 0.2), (4.0, 0.05))
# The top component's alternative, as an absolute Beta(a, b), taken as Beta(max(a0, a),
# min(b0, b)) so that it too has ``a >= a0`` and ``b <= b0``: "nearly every bucket exceeds
# the reference's highest" (mean 8 / 8.5 = 0.94). One alternative only: the rates in between
# are the quantile components' job, and every extra one would dilute this one's weight.
TOP_ALTERNATIVE = (8.0, 0.5)


def polya_log_e(
    exceeded: float, trials: float, a0: float, b0: float, *, top: bool = False
) -> float:
    """log e-value of "new values exceed the reference's order statistic more often".

    Under the null (reference and new values exchangeable), whether each new value exceeds
    the ``k``-th smallest of ``n`` reference values is a Polya urn: Beta-binomial with
    ``a0 = n - k + 1``, ``b0 = k``, whatever their distribution. The e-value is a mixture of
    Beta-binomial alternatives over that exact law: a test martingale. Each alternative has
    ``a >= a0`` and ``b <= b0``, so the ratio grows with the exceedances: values only
    *stochastically smaller* than under the null (the margin) give a smaller e-value.
    ``top``: the one alternative :data:`TOP_ALTERNATIVE` (the reference's maximum, ``k = n``)
    instead of the six relative ones.
    """
    s, f = exceeded, trials - exceeded
    null = _log_beta(s + a0, f + b0) - _log_beta(a0, b0)
    if top:
        pairs = [(max(a0, TOP_ALTERNATIVE[0]), min(b0, TOP_ALTERNATIVE[1]))]
    else:
        pairs = [(a0 * u, b0 * v) for u, v in _POLYA_ALTERNATIVES]
    logs = []
    for a, b in pairs:
        logs.append(_log_beta(s + a, f + b) - _log_beta(a, b))
    best = max(logs)
    mixed = best + math.log(math.fsum([math.exp(x - best) for x in logs]) / len(logs))
    return mixed - null


_PRIOR = 0.5  # Jeffreys-like Beta(1/2, 1/2) and Gamma(1/2, 1/2 per bucket) mixtures


def two_sample_log_e(
    *,
    kind: str,
    before: tuple[float, float],
    after: tuple[float, float],
    ratio: float,
    delta: float,
    floor: float = -math.inf,
) -> tuple[float, bool]:
    """log e-value of "after is worse than ``g(before)``" for two Bernoulli (``kind`` ratio:
    (successes, trials)) or Poisson (``kind`` rate: (count, buckets)) samples.

    The numerator mixes the likelihood over both parameters with fixed priors; the
    denominator is the likelihood maximised over the whole null ``p1 <= g(p0)``, with
    ``g(p) = max(p * ratio, p + delta)``. For every null parameter the ratio is at most the
    mixture's likelihood ratio, a test martingale under it: Ville's inequality bounds the
    whole watch. Counts may be fractional (scaled down for over-dispersion).

    Returns ``(log_e, exact)``. The search for the constrained maximum is skipped when a
    cheap upper bound (the profile at the reference's own estimate) is already at most
    ``floor``: then ``log_e`` is that bound and ``exact`` False.
    """
    x0, n0 = before
    x1, n1 = after
    if kind == "ratio":
        numerator = (
            _log_beta(x0 + _PRIOR, n0 - x0 + _PRIOR)
            + _log_beta(x1 + _PRIOR, n1 - x1 + _PRIOR)
            - 2 * _log_beta(_PRIOR, _PRIOR)
        )
        top = 1.0
        loglik: Callable[[float, float, float], float] = _bernoulli_loglik
    else:
        numerator = 2 * (_PRIOR * math.log(_PRIOR) - math.lgamma(_PRIOR))
        numerator += math.lgamma(x0 + _PRIOR) - (x0 + _PRIOR) * math.log(n0 + _PRIOR)
        numerator += math.lgamma(x1 + _PRIOR) - (x1 + _PRIOR) * math.log(n1 + _PRIOR)
        top = max(x0 / n0 if n0 else 0.0, x1 / n1 if n1 else 0.0) * 4 + 10.0
        loglik = _poisson_loglik
    p1_hat = x1 / n1 if n1 else 0.0

    def g(p: float) -> float:
        return max(p * ratio, p + delta)

    def profile(p0: float) -> float:
        return loglik(x0, n0, p0) + loglik(x1, n1, min(p1_hat, g(p0)))

    p0_hat = x0 / n0 if n0 else 0.0
    bound = numerator - profile(p0_hat)
    if p1_hat <= g(p0_hat):
        return bound, True  # both estimates already satisfy the null: the maximum is there
    if bound <= floor:
        return bound, False

    # ``profile`` is concave between the points where g changes slope or reaches p1_hat.
    cuts = {0.0, top}
    if ratio > 1 and delta > 0:
        cuts.add(min(top, delta / (ratio - 1)))
    cuts.add(min(top, max(0.0, min(p1_hat / ratio, p1_hat - delta))))
    points = sorted(cuts)
    best = max(_maximise(profile, a, b) for a, b in itertools.pairwise(points))
    return numerator - best, True


# --------------------------------------------------------------------------- buckets


def _median(numbers: list[float]) -> float:
    numbers.sort()
    n = len(numbers)
    mid = n // 2
    return numbers[mid] if n % 2 else (numbers[mid - 1] + numbers[mid]) / 2


@dataclass(frozen=True, slots=True)
class _Bucket:
    stat: float  # median (quantile), share (ratio) or sum (rate)
    samples: int  # observations in the bucket
    matching: int  # for ratio: how many met `when`


def _bucket(
    rule: models.RegressionRule, values: Sequence[observations.Observation]
) -> _Bucket | None:
    """One bucket's statistic; None when no observation in it carries the field."""
    if not values:
        return None
    if rule.aggregate == "ratio":
        if rule.when is None:  # the model refuses it; stay total anyway
            return None
        when = rule.when
        matching = sum(1 for obs in values if conditions.meets(obs, when))
        return _Bucket(matching / len(values), len(values), matching)
    numbers = [conditions.field_of(obs, rule.field) for obs in values]
    present = [x for x in numbers if x is not None]
    if not present:
        return None
    if rule.aggregate == "rate":
        return _Bucket(conditions.exact_sum(present), len(values), 0)
    return _Bucket(_median(present), len(values), 0)


def bucket_statistic(
    rule: models.RegressionRule, values: Sequence[observations.Observation]
) -> float | None:
    """One bucket's statistic as the rule reads it (median, share or sum; None: nothing
    carries the field): the peers' comparison (``rollsafe.judge.peers``) reads the same."""
    found = _bucket(rule, values)
    return None if found is None else found.stat


# --------------------------------------------------------------------------- references


@dataclass(frozen=True, slots=True)
class _Reference:
    """What "not worse" means for one watch, per component (a quantile, or the one mean)."""

    thresholds: tuple[float | None, ...]  # quantile: bucket median must exceed; else None
    levels: tuple[float, ...]  # the reference value each component is about (for evidence)
    buckets: int
    samples: int
    alpha_test: float
    # ratio and rate: the reference's (successes, trials) or (count, buckets), scaled by
    # ``scale`` (< 1 when buckets are over-dispersed or correlated), for the two-sample test.
    counts: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    urns: tuple[tuple[float, float], ...] = ()  # quantile: the null's Beta(a0, b0) per quantile
    top: bool = False  # quantile: the last component is the reference's maximum
    # quantile: per component, True where it is tested against the top's one alternative
    # ("nearly every bucket exceeds", :data:`TOP_ALTERNATIVE`): the rule's ``sustained``.
    sharp: tuple[bool, ...] = ()
    # quantile: what one bucket is worth per component (``scale`` for the top; see
    # ``exceedance_size``), for its urn and for the buckets after the upgrade.
    scales: tuple[float, ...] = ()
    # quantile: per component, the reference's indicator "above the threshold" as a
    # two-state chain, (onsets, calm trials, stays, episode trials), where its exceedances
    # cluster (a run of two or more; see ``chain_counts``); None: the urn
    chains: tuple[tuple[float, float, float, float] | None, ...] = ()


def effective_size(stats: Sequence[float]) -> float:
    """How many independent values a time-ordered series is worth: ``n (1 - r) / (1 + r)``,
    ``r`` its lag-1 autocorrelation of ranks (robust to heavy tails), taken as zero within two
    standard errors of zero, else corrected for its small-sample bias, at most 0.99.
    """
    n = len(stats)
    if n < 3:
        return float(n)
    r = _rank_lag1(stats)
    return _effective(n, r if r > 2.0 / math.sqrt(n) else 0.0)


def _rank_lag1(stats: Sequence[float]) -> float:
    """The lag-1 autocorrelation of the series' ranks (ties share their average rank)."""
    n = len(stats)
    order = sorted(range(n), key=lambda i: stats[i])
    ranks = [0.0] * n
    start = 0
    while start < n:  # ties share their average rank (a run of zeros is not a trend)
        end = start
        while end + 1 < n and stats[order[end + 1]] == stats[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2
        start = end + 1
    mean = math.fsum(ranks) / n
    centred = [r - mean for r in ranks]
    spread = math.fsum(c * c for c in centred)
    lag = math.fsum(a * b for a, b in itertools.pairwise(centred))
    return lag / spread if spread > 0 else 0.0


def _effective(n: int, r: float) -> float:
    """``n (1 - r) / (1 + r)`` for a lag-1 correlation ``r`` already judged significant
    (zero: not). The estimate from one short series is biased towards zero by about
    ``(1 + 3 r) / n`` (Marriott and Pope): corrected, or an hour of strong wander passes for
    weak."""
    if r <= 0:
        return float(n)
    r = min(0.99, r + (1 + 3 * r) / n)
    return max(2.0, n * (1 - r) / (1 + r))


def exceedance_size(stats: Sequence[float], level: float) -> float:
    """How many independent values the series is worth *as to exceeding* ``level``: the
    effective size of the indicator ``x > level``, its lag-1 correlation (within two
    standard errors of zero: none) read as the correlation of a Gaussian wander that would
    give it (``sin(pi r / 2)``: exact at the median, where an AR(1) with correlation ``rho``
    gives its indicator ``2 arcsin(rho) / pi``).

    Why: the rank correlation of the values is one number for the whole distribution, and
    episodes (a batch job, a GC, a noisy neighbour: runs of buckets far above the rest)
    make it large although the typical buckets are independent: whether a bucket exceeds
    the median then hardly clusters, and the median's test, which a release slow all the
    time moves, is worth its whole buckets."""
    n = len(stats)
    if n < 3:
        return float(n)
    indicator = [1.0 if x > level else 0.0 for x in stats]
    r = _rank_lag1(indicator)
    if r <= 2.0 / math.sqrt(n):
        return float(n)
    return _effective(n, math.sin(math.pi * r / 2.0))


def chain_counts(
    stats: Sequence[float], threshold: float
) -> tuple[float, float, float, float] | None:
    """The indicator ``x > threshold`` read as a two-state chain: (onsets, calm trials,
    stays, episode trials); None when no two consecutive values exceed it (no clustering
    seen: the urn's exchangeable null)."""
    onsets = calm = stays = episode = 0
    for a, b in itertools.pairwise(stats):
        if a > threshold:
            episode += 1
            stays += b > threshold
        else:
            calm += 1
            onsets += b > threshold
    return (onsets, calm, stays, episode) if stays else None


def chain_log_e(
    before: tuple[float, float, float, float], after: tuple[float, float, float, float]
) -> float:
    """log e-value of "the chain after enters or stays above the threshold more often":
    two one-sided two-sample Bernoulli tests (onsets, stays), multiplied (the chain's
    likelihood factors over its two rows)."""
    onset, _ = two_sample_log_e(
        kind="ratio", before=before[:2], after=after[:2], ratio=1.0, delta=0.0
    )
    stay, _ = two_sample_log_e(
        kind="ratio", before=before[2:], after=after[2:], ratio=1.0, delta=0.0
    )
    return onset + stay


def _self_reference(
    rule: models.RegressionRule, found: list[_Bucket], width: float
) -> _Reference | None:
    n = len(found)
    if n < rule.min_baseline:
        return None
    samples = sum(b.samples for b in found)
    stats = [b.stat for b in found]
    # Correlated reference buckets are worth fewer independent ones: every bound below is
    # taken on the effective count, so a wandering signal gets a wider reference.
    scale = effective_size(stats) / n
    if rule.aggregate == "quantile":
        ordered = sorted(stats)
        thresholds: list[float | None] = []
        urns, levels, scales = [], [], []
        chains: list[tuple[float, float, float, float] | None] = []
        for q in rule.quantiles:
            k = min(n, max(1, math.ceil(q * n)))
            level = ordered[k - 1]
            levels.append(level)
            thresholds.append(margin(rule, level))
            # The median component counts exceedances of the median: what its urn and its
            # buckets are worth is how *those* cluster (``exceedance_size``; the Gaussian
            # reading is exact there). Elsewhere the rank discount, as before: the reading
            # under-corrects a wander away from the median, and tightening a component
            # where its exceedances cluster delayed real error bursts (docs/presets.md).
            component = scale
            if q == 0.5:
                component = exceedance_size(stats, level) / n
            scales.append(component)
            chains.append(chain_counts(stats, margin(rule, level)))
            # Correlated reference buckets: a less certain urn. The n - k values above the
            # threshold and the k - 1 below it count as ``scale`` independent ones each; the
            # new value's own place (the 1 of Beta(n - k + 1, k)) does not shrink. Shrinking
            # it too kept the urn's mean at (n - k + 1) / (n + 1), as if the p99 of an hour
            # of wander were as far out as that of 120 independent values: it is nearer the
            # top of a few, and exceeded far more often (the AR(1) measurements, docs).
            urns.append(((n - k) * component + 1.0, (k - 1) * component + 1.0))
        sharp = [False] * len(urns)
        if rule.sustained is not None:
            # "Nearly every bucket exceeds g of this quantile" (module notes, "Sustained"):
            # its urn as a quantile's with the rank discount; where the reference's own
            # exceedances come in episodes, the chain as for a quantile, and no sharp bet.
            k = min(n, max(1, math.ceil(rule.sustained * n)))
            level = ordered[k - 1]
            chain = chain_counts(stats, margin(rule, level))
            levels.append(level)
            thresholds.append(margin(rule, level))
            urns.append(((n - k) * scale + 1.0, (k - 1) * scale + 1.0))
            scales.append(scale)
            chains.append(chain)
            sharp.append(chain is None)
        if rule.top:
            # The reference's highest bucket (k = n): exceeded with probability 1 / (n + 1)
            # under the null, Beta(1, n); its wider urn, as above.
            levels.append(ordered[-1])
            thresholds.append(margin(rule, ordered[-1]))
            urns.append((1.0, (n - 1) * scale + 1.0))
            scales.append(scale)
            chains.append(None)
            sharp.append(False)  # its own alternative: ``top`` below
        return _Reference(
            tuple(thresholds),
            tuple(levels),
            n,
            samples,
            _main_alpha(rule, width),
            urns=tuple(urns),
            scale=scale,
            scales=tuple(scales),
            chains=tuple(chains),
            top=rule.top,
            sharp=tuple(sharp),
        )
    # Two-sample (ratio, rate): the whole alpha goes to the test, the reference enters it as
    # data. Its counts are shrunk by the buckets' dispersion against the model's (binomial,
    # Poisson) and by their autocorrelation, so clustered failures weigh what they are worth.
    mean = math.fsum(stats) / n
    spread = statistics.pvariance(stats, mean)
    if rule.aggregate == "ratio":
        matching = sum(b.matching for b in found)
        share = matching / samples
        expected = share * (1 - share) / (samples / n)
        dispersion = max(1.0, spread / expected) if expected > 0 else 1.0
        shrink = scale / dispersion
        return _Reference(
            (None,),
            (share,),
            n,
            samples,
            _main_alpha(rule, width),
            counts=(matching * shrink, samples * shrink),
            scale=shrink,
        )
    dispersion = max(1.0, spread / mean) if mean > 0 else 1.0
    shrink = scale / dispersion
    return _Reference(
        (None,),
        (mean * 60.0 / width,),
        n,
        samples,
        _main_alpha(rule, width),
        counts=(math.fsum(stats) * shrink, n * shrink),
        scale=shrink,
    )


# --------------------------------------------------------------------------- state


@dataclass(slots=True)
class _Late:
    """One late start's test: its own counts from bucket ``start`` (counted from ``upgrade +
    grace``) on, against the same reference, at alpha times ``weight``."""

    start: int
    offset: float  # seconds from the upgrade to where it starts
    weight: float
    mixture: Mixture | None = None  # against cohort: its own bettors (made at its first bucket)
    used: int = 0
    exceeded: list[int] = field(default_factory=list)
    walked: list[list[int]] = field(default_factory=list)
    matching: int = 0
    samples: int = 0
    total: float = 0.0
    peak: float = -math.inf  # highest log e-value computed (only where it can grow)
    crossed: float | None = None


def late_starts(rule: models.RegressionRule, width: float) -> tuple[tuple[int, float], ...]:
    """Where the late starts' tests begin: (bucket counted from ``upgrade + grace``, seconds
    after the upgrade). Never before the last bucket a warm-up hold can take (``settle_max``,
    ``cold_grace``; against self only), so that no late test meets a hold; every
    ``LATE_EVERY`` (at least a bucket) while a whole ``LATE_EVERY`` of the watch is left."""
    if _late_share(rule, width) - _early_share(rule, width) <= 0:
        return ()  # a fast tier whose late starts' alpha went to the slow tier or its early start
    every = max(LATE_EVERY, width)
    first = rule.grace + every
    if _adaptive(rule):
        first = max(first, rule.settle_max)
    if _cold_watch(rule):
        first = max(first, rule.cold_grace)
    starts: list[tuple[int, float]] = []
    offset = first
    while offset + every <= rule.watch and len(starts) < LATE_MAX:
        index = math.ceil((offset - rule.grace) / width - 1e-9)
        starts.append((index, rule.grace + index * width))
        offset += every
    return tuple(starts)


def _main_alpha(rule: models.RegressionRule, width: float) -> float:
    """The share of alpha the test from the grace is run at (all of it without late starts
    and without an early start; an early start takes half its share from each)."""
    early = _early_share(rule, width)
    if late_starts(rule, width):
        return rule.alpha * (1.0 - _late_share(rule, width))
    return rule.alpha * (1.0 - early)


def _late_share(rule: models.RegressionRule, width: float) -> float:
    """The share of the rule's alpha its late starts and its early start get together:
    ``LATE_SHARE``, or what the tiers gave a tier's rule (``tiers``), and never less than
    the early start's (a fast tier's test from the grace gives up the difference)."""
    share = rule._late_share  # the judge's own setting, made in ``tiers``
    late = LATE_SHARE if share is None else share
    return max(late, _early_share(rule, width))


def _new_lates(rule: models.RegressionRule, width: float) -> list[_Late]:
    starts = late_starts(rule, width)
    share = _late_share(rule, width) - _early_share(rule, width)
    weight = share / len(starts) if starts else 0.0
    return [_Late(index, offset, weight) for index, offset in starts]


@dataclass(slots=True)
class Watch:
    """What one rule has computed for one target's current watch (see the module notes)."""

    key: object = None
    reference: _Reference | None = None
    mixture: Mixture = field(default_factory=lambda: Mixture(1))
    done: int = 0  # buckets folded in
    counted: int = 0  # observations in them (a late arrival changes it: fold again)
    used: int = 0  # buckets that carried evidence
    peak: float = 0.0  # highest log e-value so far
    log_e: float | None = 0.0  # the current one (None: the mixture's, not summed yet)
    exact: bool = True  # False: ``log_e`` is an upper bound (two-sample, well below the bar)
    crossed: float | None = None  # end of the bucket where the e-value reached 1/alpha
    stats: list[float] = field(default_factory=list)  # bucket statistics (canary's)
    total: float = 0.0  # sum of the bucket statistics (rate: the count after the upgrade)
    exceeded: list[int] = field(default_factory=list)  # quantile: buckets above each threshold
    walked: list[list[int]] = field(default_factory=list)  # quantile: chains after (_step)
    peer_stats: list[float] = field(default_factory=list)  # cohort: the peers' medians
    matching: int = 0
    samples: int = 0
    lead: int = 0  # the component with the most evidence (for the summary)
    # Adaptive warm-up (against self, see the module notes). ``began``: the bucket (counted
    # from ``upgrade + grace``) where the test's current run began, None while held; why it
    # began there ("grace": nothing was held, "settled": the signal stopped falling, "cap":
    # held until ``settle_max``); ``trend_z``: the last trend statistic; ``carry``: the
    # log-wealth kept from runs before a hold (at most 0); how many buckets were held and
    # paused.
    began: int | None = None
    began_why: str = ""
    trend_z: float = 0.0
    carry: float = 0.0
    holds: int = 0
    pauses: int = 0
    # Cold start (see the module notes): decided at the first bucket after the grace (None
    # before), the grace buckets' median against the reference's level, the buckets held
    # for it.
    cold: bool | None = None
    cold_factor: float | None = None
    cold_holds: int = 0
    # Late starts (see the module notes): the fresh tests begun after the warm-up (made at
    # the first bucket folded), and the one whose crossing flagged the watch (None: the test
    # from the grace did, or none yet).
    late: list[_Late] | None = None
    fired: _Late | None = None
    # The early start (see the module notes): its test, once its first bucket closed.
    early: _Early | None = None
    outcome_key: object = None
    quick: object = None  # what the last full evaluation read (see judge_self)
    outcome: rules.Outcome | None = None
    # Tiers (see the module notes): the rule these were made for, its fast and slow tier as
    # rules of their own, the slow tier's watch (this one is the fast tier's), and the last
    # combined outcome with the two it was made from. Kept across restarts: a restart is
    # one tier's (its data changed), the tiers are the rule's.
    tiers: tuple[models.RegressionRule, models.RegressionRule, models.RegressionRule] | None = None
    slow: Watch | None = None
    combined: tuple[rules.Outcome, rules.Outcome, rules.Outcome] | None = None
    tier_seen: object = None  # the fast tier's (key, done, counted) when both were judged
    # The e-value after each bucket, (bucket end, log e), when asked for (a list: the fleet
    # veto's witness tests, ``witness_test``); None: not kept.
    trail: list[tuple[float, float]] | None = None
    # What the tiers read alike (see ``_Shared``): the fast tier's watch keeps it, the slow
    # tier reads it. Kept across restarts: it checks the window's contents itself.
    shared: _Shared | None = None
    # Request volume (``volume`` of the rule, ``rollsafe.judge.volume``): the target's rate
    # window as of this judgement; None: every bucket counts. ``ceiling``: the most requests
    # a bucket after the upgrade may rest on (``max_increase`` of the reference's busiest,
    # ``volumes.ceiling``), set when the reference is read; None: no ceiling.
    volume: volumes.Volume | None = None
    ceiling: float | None = None

    def restart(self, components: int) -> None:
        self.mixture = Mixture(components)
        self.done = self.counted = self.used = self.matching = self.samples = 0
        self.peak = self.total = 0.0
        self.log_e = 0.0
        self.exact = True
        self.exceeded = []
        self.walked = []
        self.lead = 0
        self.crossed = None
        self.stats = []
        self.peer_stats = []
        self.began = None
        self.began_why = ""
        self.trend_z = self.carry = 0.0
        self.holds = self.pauses = self.cold_holds = 0
        self.cold = self.cold_factor = None
        self.late = None
        self.fired = None
        self.early = None
        self.outcome_key = self.outcome = self.quick = None
        if self.trail is not None:
            self.trail = []


class _Shared:
    """What both tiers of one rule read from the same window (module notes, "Tiers"): each
    bucket's statistic and size, the reference period's buckets, the warm-up's trend inputs.
    The tiers differ only in their margin and alpha, so these are the same for both; the
    fast tier computes them and the slow tier, judged right after it, reads them.

    Valid while the window's series keeps its stamp (every change takes a new one, never
    reused: equal stamps, equal contents), so a bucket is never read stale; a stamp that
    moved clears the per-bucket entries. The reference period's buckets are keyed by the
    range's own identity (its stamp included): a pinned range keeps it across folds.
    """

    __slots__ = ("buckets", "reference", "stamp", "trends")

    def __init__(self) -> None:
        self.stamp = -1
        self.buckets: dict[tuple[float, float], tuple[int, _Bucket | None]] = {}
        self.trends: dict[tuple[float, float], tuple[list[float], float, list[float]]] = {}
        self.reference: tuple[object, list[_Bucket]] | None = None

    def check(self, window: windows.Window) -> None:
        stamp = window.series.stamp
        if stamp != self.stamp:
            self.stamp = stamp
            self.buckets.clear()
            self.trends.clear()


def _bucket_at(
    rule: models.RegressionRule,
    window: windows.Window,
    lo: float,
    hi: float,
    shared: _Shared | None,
    *,
    volume: volumes.Volume | None = None,
) -> tuple[int, _Bucket | None]:
    """The observations in ``[lo, hi)`` and their bucket (None: none carries the field, or
    it rests on too few requests: ``volume``), from ``shared`` when the other tier already
    computed them on the same contents."""
    if shared is not None:
        shared.check(window)
        known = shared.buckets.get((lo, hi))
        if known is not None:
            return known
    span = window.range(lo, hi, closed="left")
    skipped = volume is not None and volume.skipped(lo, hi)
    got = (len(span), None if skipped else _bucket(rule, span.values()))
    if shared is not None:
        shared.buckets[(lo, hi)] = got
    return got


def _width(rule: models.RegressionRule, floor: float | None) -> float:
    return max(rule.bucket, floor or 0.0)


def _closed(start: float, end: float, width: float) -> int:
    return max(0, int((end - start) // width))


def _two_sample(
    rule: models.RegressionRule,
    reference: _Reference,
    state: Watch,
    width: float,
    *,
    floor: float | None = None,
) -> tuple[float, bool]:
    """The two-sample log e-value after the buckets folded so far, and whether it is exact
    (not exact: an upper bound, known to change neither the peak nor the crossing)."""
    shrink = reference.scale
    if rule.aggregate == "ratio":
        after = (state.matching * shrink, state.samples * shrink)
        delta = rule.min_delta
    else:
        after = (state.total * shrink, state.used * shrink)
        delta = rule.min_delta * width / 60.0  # min_delta is per minute, counts per bucket
    # Below the peak so far and the threshold, the exact value changes nothing: skip it.
    if floor is None:
        floor = min(state.peak, -math.log(reference.alpha_test))
    return two_sample_log_e(
        kind=rule.aggregate,
        before=reference.counts,
        after=after,
        ratio=rule.min_ratio,
        delta=delta,
        floor=floor,
    )


def _note(state: Watch, bucket_end: float, log_e: float, *, exact: bool = True) -> None:
    """Record the e-value after one more bucket: the peak, and the first crossing (not
    ``exact``: an upper bound already known to be below both)."""
    state.log_e = log_e
    state.exact = exact
    if state.trail is not None:  # an upper bound when not exact: below the bar either way
        state.trail.append((bucket_end, log_e))
    if not exact:
        return
    state.peak = max(state.peak, log_e)
    reference = state.reference
    if state.crossed is None and reference is not None and log_e >= -math.log(reference.alpha_test):
        state.crossed = bucket_end


def _fold(
    state: Watch, rule: models.RegressionRule, bucket_end: float, ratios: Sequence[float]
) -> None:
    mixture = state.mixture
    for component, ratio in enumerate(ratios):
        mixture.bet(component, ratio)
    # The average wealth is at most the largest one: while no bettor holds more than the
    # peak so far, neither the peak nor the crossing can change, and the sum is skipped.
    if max(mixture.logs) <= state.peak:
        state.log_e = None  # not needed yet: computed when described
        return
    _note(state, bucket_end, mixture.log_e())


# --------------------------------------------------------------------------- tiers


def judge_self(
    rule: models.RegressionRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    reference_end: float | None = None,
    floor: float | None,
    state: Watch,
    volume: volumes.Volume | None = None,
) -> rules.Outcome:
    """The rule against the target's own ``before`` period, at ``now``: the period ends at
    ``reference_end`` (where the upgrade began, when its start was marked; None: at the
    ``upgrade`` mark ``reference_at``), the watch is timed from ``reference_at``. With a
    ``slow`` tier, both tiers' tests (module notes, "Tiers"). ``volume``: the target's
    request rate for a rule with ``volume`` (module notes, "Request volume")."""
    state.volume = volumes.capped(volume, state.ceiling)
    slow_tier = rule.slow
    if slow_tier is None:
        return _judge_self_tier(
            rule,
            window,
            now=now,
            reference_at=reference_at,
            reference_end=reference_end,
            floor=floor,
            state=state,
        )
    fast, slow, slow_state = _tiers(rule, slow_tier, state)
    slow_state.volume = volumes.capped(volume, slow_state.ceiling)
    shared = state.shared
    if shared is None:
        shared = state.shared = _Shared()
    fast_outcome = _judge_self_tier(
        fast,
        window,
        now=now,
        reference_at=reference_at,
        reference_end=reference_end,
        floor=floor,
        state=state,
        shared=shared,
    )
    # The common case, re-judging after an observation that closed no bucket: the fast tier
    # answered its last outcome from the same reference and the same folded buckets, so the
    # slow tier, which reads exactly those (its own margin aside), would answer its last too.
    seen = (state.key, state.done, state.counted)
    kept = state.combined
    if kept is not None and kept[0] is fast_outcome and state.tier_seen == seen:
        return kept[2]
    state.tier_seen = seen
    slow_outcome = _judge_self_tier(
        slow,
        window,
        now=now,
        reference_at=reference_at,
        reference_end=reference_end,
        floor=floor,
        state=slow_state,
        shared=shared,
    )
    return _combined(rule, state, fast_outcome, slow_outcome)


def judge_cohort(
    rule: models.RegressionRule,
    canary: windows.Window | None,
    peers: Sequence[tuple[str, windows.Window | None]],
    *,
    now: float,
    cohort: str | None,
    reference_at: float | None,
    floor: float | None,
    state: Watch,
) -> rules.Outcome:
    """The rule for a canary against the baseline cohort, bucket by bucket, at ``now``. With
    a ``slow`` tier, both tiers' tests (module notes, "Tiers")."""
    slow_tier = rule.slow
    if slow_tier is None:
        return _judge_cohort_tier(
            rule,
            canary,
            peers,
            now=now,
            cohort=cohort,
            reference_at=reference_at,
            floor=floor,
            state=state,
        )
    fast, slow, slow_state = _tiers(rule, slow_tier, state)
    outcomes = [
        _judge_cohort_tier(
            tier,
            canary,
            peers,
            now=now,
            cohort=cohort,
            reference_at=reference_at,
            floor=floor,
            state=tier_state,
        )
        for tier, tier_state in ((fast, state), (slow, slow_state))
    ]
    return _combined(rule, state, outcomes[0], outcomes[1])


def tiers(
    rule: models.RegressionRule,
) -> tuple[models.RegressionRule, models.RegressionRule | None]:
    """The rule's fast tier (its own margin, at ``alpha (1 - share)``) and slow tier (the
    smaller margin, at ``alpha share``) as rules of their own; without ``slow``, the rule
    itself and None."""
    if rule.slow is None:
        return rule, None
    return _split(rule, rule.slow)


def witness_test(
    rule: models.RegressionRule, *, tier: str | None, start_s: float | None, alpha: float
) -> models.RegressionRule:
    """One of ``rule``'s tests alone, as a rule of its own at ``alpha``: the ``tier``
    (``slow``, else the fast one) test from the grace (``start_s`` None) or the late start
    ``start_s`` seconds after the upgrade, with no late starts of its own (all of ``alpha``
    on it). The fleet veto asks a peer this: did the test that flagged the target gather
    evidence on the peer too, over the same buckets (module notes, "Late starts": a late
    start is a test begun at a fixed time, so beginning one there is the same test)?

    A late start begins after every warm-up hold (``late_starts``), so the test from
    ``start_s`` holds nothing either: no adaptive warm-up, no cold start."""
    fast, slow = tiers(rule)
    chosen = slow if tier == "slow" and slow is not None else fast
    update: dict[str, Any] = {"alpha": alpha, "slow": None}
    if start_s is not None:
        update.update(
            grace=start_s,
            settle_max=min(chosen.settle_max, start_s),
            cold_grace=min(chosen.cold_grace, start_s),
        )
    alone = chosen.model_copy(update=update)
    alone._late_share = 0.0  # no late starts: the one test gets all of ``alpha``
    alone._early_share = 0.0  # nor an early start
    return alone


def _split(
    rule: models.RegressionRule, slow: models.RegressionTier
) -> tuple[models.RegressionRule, models.RegressionRule]:
    share = slow.share
    # The fast tier's test from the start keeps what it has without tiers, ``alpha (1 -
    # LATE_SHARE)`` (a large step is flagged as fast as before); the slow tier's share comes
    # out of the late starts' (a slow tier's own late starts catch a late step too, at its
    # smaller margin), and out of the test from the start's only when it is larger.
    fast_total = 1.0 - share
    fast_rule = rule.model_copy(update={"alpha": rule.alpha * fast_total, "slow": None})
    fast_rule._late_share = max(0.0, fast_total - (1.0 - LATE_SHARE)) / fast_total
    # Its early start keeps the bar it has without tiers, ``1 / (alpha EARLY_SHARE)`` of the
    # rule's alpha (two buckets far above the reference's top still reach it), paid from the
    # fast tier's own alpha: from its late starts' share first, then from its test from the
    # grace (``_late_share``). With the default share 1/8: 0.725 + 0.15 (+ 0 late) of alpha
    # for the fast tier, 1/8 for the slow one.
    fast_rule._early_share = min(1.0, EARLY_SHARE / fast_total)
    slow_rule = rule.model_copy(
        update={
            "alpha": rule.alpha * share,
            "min_ratio": slow.min_ratio,
            "min_delta": slow.min_delta,
            # No test against the reference's highest bucket: "far above anything seen
            # before" is the fast tier's (its margin is larger); at the small margin it
            # would only dilute the quantiles' share, where a small shift shows.
            "top": False,
            "sustained": None,  # likewise: a large step that stays is the fast tier's
            "slow": None,
        }
    )
    return fast_rule, slow_rule


def _tiers(
    rule: models.RegressionRule, slow: models.RegressionTier, state: Watch
) -> tuple[models.RegressionRule, models.RegressionRule, Watch]:
    """The tiers of ``rule`` and the slow tier's watch, made once per watch state (a copy of
    the rule costs)."""
    made, slow_state = state.tiers, state.slow
    if made is None or made[0] is not rule or slow_state is None:
        fast_rule, slow_rule = _split(rule, slow)
        made = state.tiers = (rule, fast_rule, slow_rule)
        slow_state = state.slow = Watch()
        state.combined = None
    return made[1], made[2], slow_state


def _combined(
    rule: models.RegressionRule,
    state: Watch,
    fast: rules.Outcome,
    slow: rules.Outcome,
) -> rules.Outcome:
    """One outcome of the two tiers: the one that fired (the fast one first), else the one
    nearer its bar; the evidence says which, both tiers' margins, e-values and bars."""
    kept = state.combined
    if kept is not None and kept[0] is fast and kept[1] is slow:
        return kept[2]
    fast_e, slow_e = fast.evidence, slow.evidence
    fast_at, slow_at = _crossed(fast_e), _crossed(slow_e)
    if fast_at is not None or slow_at is not None:
        # The tier that crossed first flagged the watch (the fast one on a tie).
        slow_first = slow_at is not None and (fast_at is None or slow_at < fast_at)
    else:
        slow_first = _nearness(slow_e) > _nearness(fast_e)
    lead, lead_e, name = (slow, slow_e, "slow") if slow_first else (fast, fast_e, "fast")
    rows = [_tier_row("fast", fast_e), _tier_row("slow", slow_e)]
    evidence = {
        **lead_e,
        "alpha": rule.alpha,  # the rule's: the tiers' alphas add up to it
        "tier": name,
        "tier_alpha": lead_e.get("alpha"),
        "tiers": rows,
    }
    summary = lead.summary
    if "e_threshold" in lead_e:  # a test ran (not: no data, no mark, watch over)
        other = rows[1] if name == "fast" else rows[0]
        summary = f"{_tier_words(rule, name, lead_e)}: {summary}; {_other_words(other)}"
    outcome = rules.Outcome(lead.severity, summary, evidence, fast.pending or slow.pending)
    state.combined = (fast, slow, outcome)
    return outcome


def _crossed(evidence: dict[str, Any]) -> float | None:
    at = evidence.get("crossed_at")
    return at if isinstance(at, float) and evidence.get("breached") else None


def _nearness(evidence: dict[str, Any]) -> float:
    """How near a tier's e-value is to its bar, on a log scale (1: at the bar)."""
    e_value, bar = evidence.get("e_value_peak"), evidence.get("e_threshold")
    if not isinstance(e_value, float) or not isinstance(bar, float) or bar <= 1:
        return -math.inf
    return math.log(e_value) / math.log(bar) if e_value > 0 else -math.inf


def _tier_row(name: str, evidence: dict[str, Any]) -> dict[str, Any]:
    return {
        "tier": name,
        "min_ratio": evidence.get("min_ratio"),
        "min_delta": evidence.get("min_delta"),
        "alpha": evidence.get("alpha"),
        "e_value": evidence.get("e_value"),
        "e_value_peak": evidence.get("e_value_peak"),
        "e_threshold": evidence.get("e_threshold"),
        "breached": bool(evidence.get("breached")),
        "crossed_at": evidence.get("crossed_at"),
    }


def _margin_words(ratio: Any, delta: Any) -> str:
    parts = []
    if isinstance(ratio, float) and ratio > 1:
        parts.append(f"x{conditions.number(ratio)}")
    if isinstance(delta, float) and delta > 0:
        parts.append(f"+{conditions.number(delta)}")
    return " and ".join(parts) if parts else "any increase"


def _tier_words(rule: models.RegressionRule, name: str, evidence: dict[str, Any]) -> str:
    share = rule.slow.share if rule.slow is not None else 0.0
    part = share if name == "slow" else 1.0 - share
    margin_text = _margin_words(evidence.get("min_ratio"), evidence.get("min_delta"))
    speed = "small changes, more evidence" if name == "slow" else "large changes, fast"
    return (
        f"{name} tier ({speed}: worse than {margin_text} over the reference, "
        f"{part:g} of alpha {rule.alpha:g})"
    )


def _other_words(row: dict[str, Any]) -> str:
    margin_text = _margin_words(row.get("min_ratio"), row.get("min_delta"))
    e_value, bar = row.get("e_value_peak"), row.get("e_threshold")
    if not isinstance(e_value, float) or not isinstance(bar, float):
        return f"the {row['tier']} tier ({margin_text}) has no test yet"
    state = "reached" if row["breached"] else "below"
    return (
        f"the {row['tier']} tier ({margin_text}): highest e-value {_big(e_value)}, {state} "
        f"its bar {_big(bar)}"
    )


# --------------------------------------------------------------------------- against self


def _judge_self_tier(
    rule: models.RegressionRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    reference_end: float | None = None,
    floor: float | None,
    state: Watch,
    shared: _Shared | None = None,
) -> rules.Outcome:
    """The rule against the target's own ``before`` period, at ``now``: the period ends at
    ``reference_end`` (where the upgrade began, when its start was marked; None: at the
    ``upgrade`` mark ``reference_at``), the watch is timed from ``reference_at``. ``shared``:
    what the other tier of the same rule computed on the same window (see ``_Shared``)."""
    if reference_at is None or reference_at > now:
        return _kept(state, ("no mark",), lambda: _no_data(rule, "no upgrade mark yet"))
    if now > reference_at + rule.watch:
        return _kept(state, ("over", reference_at), lambda: _watch_over(rule, {}, reference_at))
    if window is None:
        return _kept(state, ("no data",), lambda: _no_data(rule, "no valid observation"))
    width = _width(rule, floor)
    start = reference_at + rule.grace
    closed = _closed(start, min(now, reference_at + rule.watch), width)
    # The common case, re-judging after an observation of another probe: nothing this rule
    # reads changed (any insert into the window, pins included, changes its identity).
    ref_end = reference_at if reference_end is None else min(reference_end, reference_at)
    quick = (
        reference_at,
        ref_end,
        width,
        closed,
        now < start,
        int((now - reference_at) // width),  # an early start's bucket closed (before start)
        window.range(-math.inf, now).identity,
    )
    if state.quick == quick and state.outcome is not None:
        return state.outcome
    ref_start = ref_end - rule.before
    pinned = window.pinned_range(ref_end, start=ref_start)
    ref_span = pinned if pinned is not None else window.range(ref_start, ref_end, closed="left")
    key = (
        reference_at,
        math.copysign(1.0, reference_at),
        ref_end,
        math.copysign(1.0, ref_end),
        width,
        ref_span.identity,
    )
    if state.key != key:
        # A new upgrade, or late data inside the reference period: start this watch afresh.
        state.key = key
        found = _shared_reference(
            rule,
            ref_span,
            start=ref_start,
            end=ref_end,
            width=width,
            key=key,
            shared=shared,
            volume=state.volume,
        )
        _start_watch(rule, state, found, start=ref_start, end=ref_end, width=width)
    reference = state.reference
    evidence: dict[str, Any] = {"upgrade_at": reference_at, "bucket_s": width}
    if ref_end != reference_at:
        evidence["reference_end"] = ref_end  # the upgrade's start: its restarts are not "before"
    if reference is None:
        state.outcome = _no_data(
            rule,
            f"fewer than {rule.min_baseline} buckets of {_duration(width)} with data in the "
            f"{_duration(rule.before)} before the upgrade",
            evidence,
        )
        state.outcome_key, state.quick = ("few",), quick
        return state.outcome
    settle_from = _settle_from(rule, start, width)
    if state.done > closed or (
        state.done
        and len(window.range(settle_from, start + state.done * width, closed="left"))
        != state.counted
    ):
        # Asked about an earlier time than last, or an observation arrived late in a folded
        # bucket: fold again from the start (rare; replays and the daemon go forward).
        state.restart(len(reference.levels))
    _fold_self(
        rule,
        state,
        window,
        reference,
        reference_at=reference_at,
        closed=closed,
        width=width,
        shared=shared,
    )
    if _early_flagged(
        rule,
        state,
        window,
        reference,
        reference_at=reference_at,
        now=now,
        width=width,
        shared=shared,
    ):
        phase = "watching"  # flagged by the early start, maybe before the grace's end
    elif now < start:
        phase = "warmup"
    elif state.began is None and state.holds:
        phase = "settling"
    else:
        phase = "watching"
    outcome_key = (state.done, state.counted, phase, state.early and state.early.key)
    if state.outcome is not None and state.outcome_key == outcome_key:
        return state.outcome
    if state.cold is not None:
        evidence.update(cold_start=state.cold, cold_factor=state.cold_factor)
    if state.began is not None:
        evidence.update(
            test_from=start + state.began * width,
            warmup=state.began_why,
            warmup_trend_z=state.trend_z,
        )
    elif phase == "settling":
        held = "cold" if state.holds == state.cold_holds else "falling"
        evidence.update(test_from=None, warmup=held, warmup_trend_z=state.trend_z)
    outcome = _describe(rule, state, evidence, phase=phase, width=width)
    state.outcome_key, state.outcome = outcome_key, outcome
    state.quick = quick
    return outcome


def _start_watch(
    rule: models.RegressionRule,
    state: Watch,
    found: list[_Bucket],
    *,
    start: float,
    end: float,
    width: float,
) -> None:
    """Start ``state`` afresh on the reference buckets ``found`` of ``[start, end)``, with
    the ceiling its request rate there sets (``volume.max_increase``: load matching)."""
    state.reference = _self_reference(rule, found, width)
    state.restart(len(state.reference.levels) if state.reference else 1)
    state.ceiling = volumes.ceiling(state.volume, start, end, width)
    state.volume = volumes.capped(state.volume, state.ceiling)


def _fold_self(
    rule: models.RegressionRule,
    state: Watch,
    window: windows.Window,
    reference: _Reference,
    *,
    reference_at: float,
    closed: int,
    width: float,
    shared: _Shared | None = None,
) -> None:
    """Fold the buckets closed since the last call (held ones are left out: warm-up)."""
    start = reference_at + rule.grace
    while state.done < closed:
        lo = start + state.done * width
        held = _hold(
            rule,
            state,
            window,
            reference=reference,
            upgrade_at=reference_at,
            lo=lo,
            width=width,
            shared=shared,
        )
        count, got = _bucket_at(rule, window, lo, lo + width, shared, volume=state.volume)
        state.done += 1
        state.counted += count
        if got is None:
            continue
        if held:
            continue  # warm-up: a trend input, never evidence
        state.used += 1
        state.stats.append(got.stat)
        state.samples += got.samples
        state.matching += got.matching
        state.total += got.stat
        if rule.aggregate == "quantile":
            _note(state, lo + width, state.carry + _exceedances(reference, state, got.stat))
        else:
            log_e, exact = _two_sample(rule, reference, state, width)
            _note(state, lo + width, state.carry + log_e, exact=exact)
        if state.late is None:
            state.late = _new_lates(rule, width)
        for late in state.late:
            if state.done - 1 >= late.start:
                _fold_late(rule, reference, state, late, got, bucket_end=lo + width, width=width)


def _fold_late(
    rule: models.RegressionRule,
    reference: _Reference,
    state: Watch,
    late: _Late,
    got: _Bucket,
    *,
    bucket_end: float,
    width: float,
) -> None:
    """One more bucket for one late start's test, and its crossing of ``1 / (alpha *
    weight)``. Computed only where it can cross: an exceedance test gains only on a bucket
    that exceeds one of its thresholds (a bucket below every one lowers every alternative's
    likelihood ratio), a two-sample one only above the cheap bound's floor."""
    late.used += 1
    late.samples += got.samples
    late.matching += got.matching
    late.total += got.stat
    bar = -math.log(rule.alpha * late.weight)
    if rule.aggregate == "quantile":
        if not late.exceeded:
            late.exceeded = [0] * len(reference.urns)
            late.walked = [[-1, 0, 0, 0, 0] for _ in reference.urns]
        gained = False
        for j, threshold in enumerate(reference.thresholds):
            above = threshold is not None and got.stat > threshold
            if above:
                late.exceeded[j] += 1
                gained = True
            _step(late.walked[j], above)
        if not gained:
            return
        logs = [
            _component_log_e(reference, j, late.exceeded[j], late.used, late.walked[j])
            for j in range(len(reference.urns))
        ]
        best = max(logs)
        log_e = best + math.log(math.fsum([math.exp(x - best) for x in logs]) / len(logs))
    else:
        shrink = reference.scale
        if rule.aggregate == "ratio":
            after = (late.matching * shrink, late.samples * shrink)
            delta = rule.min_delta
        else:
            after = (late.total * shrink, late.used * shrink)
            delta = rule.min_delta * width / 60.0
        log_e, exact = two_sample_log_e(
            kind=rule.aggregate,
            before=reference.counts,
            after=after,
            ratio=rule.min_ratio,
            delta=delta,
            floor=bar,
        )
        if not exact:
            return
    late.peak = max(late.peak, log_e)
    if log_e >= bar and late.crossed is None:
        late.crossed = bucket_end
        if state.crossed is None:
            state.crossed = bucket_end
            state.fired = late


# --------------------------------------------------------------------------- adaptive warm-up

# The warm-up's trend is judged on the last 8 buckets since the upgrade (4 minutes of 30 s
# buckets): long enough for a one-sided Mann-Kendall test at 5% to see a fall through
# lognormal noise, short enough that a signal which stopped falling is seen to have stopped
# within a few minutes (a partial recovery to a worse level is delayed by about that).
SETTLE_BUCKETS = 8
# "Clearly falling": Mann-Kendall z at most this (one-sided 2.5%). Its level costs no false
# alarms (the start is a stopping time, see the module notes); a looser one delays a step
# regression more often by a bucket or two, a stricter one starts a warm-up's test earlier.
FALLING_Z = -1.96
# ... and by at least a quarter of its level over those buckets: a fall that small is
# noise on a step (5% of windows pass the z alone), not a warm-up worth a hold.
MIN_FALL = 0.25
_TREND_POINTS = 48  # observations the trend reads at most (a quadratic count of pairs)
# A hold in a run older than this many buckets pauses it instead of ending it (see _hold).
PAUSE_AFTER = SETTLE_BUCKETS
_SETTLE_MIN = 4  # fewer buckets cannot show a fall at 5% (4 falling in a row: p = 1/24)


def trend_z(values: Sequence[float]) -> float:
    """Mann-Kendall trend statistic of a time-ordered series, as a normal score with the
    continuity correction: negative when later values tend to be smaller. Ties count as no
    change and the variance is that of a series without ties (conservative: a run of equal
    values is not a fall). 0 for fewer than 4 values."""
    n = len(values)
    if n < _SETTLE_MIN:
        return 0.0
    s = 0
    for i in range(n - 1):
        x = values[i]
        for y in values[i + 1 :]:
            s += (y > x) - (y < x)
    if s == 0:
        return 0.0
    sd = math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    return (s - 1) / sd if s > 0 else (s + 1) / sd


def fall(values: Sequence[float]) -> float:
    """How much a series fell over its span, as a share of its median: the Theil-Sen slope
    (the median of the pairwise slopes, per point) times the span. 0 when it did not fall or
    its median is not above 0."""
    n = len(values)
    middle = statistics.median(values) if values else 0.0
    if n < 2 or middle <= 0:
        return 0.0
    slopes = [(values[j] - values[i]) / (j - i) for i in range(n - 1) for j in range(i + 1, n)]
    return max(0.0, -statistics.median(slopes) * (n - 1) / middle)


def _adaptive(rule: models.RegressionRule) -> bool:
    return rule.against == "self" and rule.settle_max > rule.grace


def _cold_watch(rule: models.RegressionRule) -> bool:
    # Bucket medians only: the two-sample tests (ratio, rate) gather evidence slowly, and
    # every bucket held is evidence lost (3x error lines: 18 min to 23 min, the simulation).
    return rule.against == "self" and rule.aggregate == "quantile" and rule.cold_grace > rule.grace


def _settle_from(rule: models.RegressionRule, start: float, width: float) -> float:
    """Where the warm-up's first bucket starts: whole buckets inside the grace, aligned on
    the test's (without the adaptive warm-up and the cold start, nothing before ``upgrade +
    grace`` is read)."""
    if not (_adaptive(rule) or _cold_watch(rule)):
        return start
    return start - math.floor(rule.grace / width + 1e-9) * width


def _hold(
    rule: models.RegressionRule,
    state: Watch,
    window: windows.Window,
    *,
    reference: _Reference,
    upgrade_at: float,
    lo: float,
    width: float,
    shared: _Shared | None = None,
) -> bool:
    """Is the bucket starting at ``lo`` held out of the test (warm-up)? Decided from the
    buckets before ``lo`` only (predictable): held while the last ``SETTLE_BUCKETS`` since
    the upgrade are clearly falling, never at or after ``settle_max``. A hold ends the
    test's current run: its wealth above 1 is given up (the rest is carried), and the run
    after the hold starts afresh."""
    if not (_adaptive(rule) or _cold_watch(rule)):
        if state.began is None:
            state.began, state.began_why = state.done, "grace"
        return False
    if state.done == 0:
        # The whole buckets inside the grace are warm-up data the trend and the cold start
        # read: counted, so that a late arrival among them folds the watch again.
        settle_from = _settle_from(rule, lo, width)
        state.counted += len(window.range(settle_from, lo, closed="left"))
        if _cold_watch(rule):
            state.cold, state.cold_factor = _cold_start(
                rule,
                window,
                reference=reference,
                lo=settle_from,
                hi=lo,
                width=width,
                shared=shared,
                volume=state.volume,
            )
    if state.cold and lo < upgrade_at + min(rule.cold_grace, rule.watch - width):
        # A cold start: held until cold_grace. These are the watch's first buckets, so no
        # run has begun and none is ended.
        state.holds += 1
        state.cold_holds += 1
        return True
    if not _adaptive(rule) or lo >= upgrade_at + min(rule.settle_max, rule.watch - width):
        # From settle_max on nothing is held (and no trend is computed: it costs).
        if state.began is None:
            state.began, state.began_why = state.done, _began_why(state, "cap")
        return False
    # The trend reads the observations themselves (three times the points of bucket medians
    # with 10 s probes: a fall shows within the grace), and its z is shrunk by the
    # reference's correlation discount: a wandering signal drifts down for minutes on its
    # own, and every hold it causes would cost a real regression its evidence.
    first = max(_settle_from(rule, upgrade_at + rule.grace, width), lo - SETTLE_BUCKETS * width)
    known = None
    if shared is not None:  # the other tier's trend over the same values
        shared.check(window)
        known = shared.trends.get((first, lo))
    if known is None:
        values = _raw(rule, window.range(first, lo, closed="left").values())
        step = -(-len(values) // _TREND_POINTS)  # at most _TREND_POINTS, spread over the span
        points = values[::step] if step > 1 else values
        known = (points, trend_z(points), [])
        if shared is not None:
            shared.trends[(first, lo)] = known
    points, z, falls = known
    state.trend_z = z * math.sqrt(reference.scale)
    if state.trend_z <= FALLING_Z:
        if not falls:
            falls.append(fall(points))
        if falls[0] < MIN_FALL:
            state.trend_z = FALLING_Z / 2  # a significant but small fall: noise on a step
    if state.trend_z <= FALLING_Z:
        if state.used > PAUSE_AFTER:
            # The run is older than the falling stretch: its first buckets were not part of
            # it, so its evidence is kept and only this bucket is left out (a pause).
            state.pauses += 1
            return True
        if state.began is not None or state.used:
            _end_run(rule, reference, state, width)
        state.holds += 1
        state.began = None
        return True
    if state.began is None:
        state.began, state.began_why = state.done, _began_why(state, "settled")
    return False


def _began_why(state: Watch, falling: str) -> str:
    """Why the test's run begins where it does: nothing held (``grace``), only the cold
    start's holds (``cold``), or a fall held it too (``falling``: settled, cap)."""
    if not state.holds:
        return "grace"
    return "cold" if state.holds == state.cold_holds else falling


def _cold_start(
    rule: models.RegressionRule,
    window: windows.Window,
    *,
    reference: _Reference,
    lo: float,
    hi: float,
    width: float,
    shared: _Shared | None = None,
    volume: volumes.Volume | None = None,
) -> tuple[bool, float | None]:
    """Was the signal already worse than the margin during the grace (the whole buckets in
    ``[lo, hi)``)? More than half of those with data above the lowest threshold the test
    uses (``g`` of the lowest reference quantile): a restart's warm-up starts at its
    highest, at the upgrade. Also the factor of their median over that quantile, for the
    evidence. Decided from the grace alone, before any bucket is bet on (predictable: the
    bound holds whatever it says)."""
    stats = []
    count = max(0, round((hi - lo) / width))
    for index in range(count):
        _, got = _bucket_at(
            rule, window, lo + index * width, lo + (index + 1) * width, shared, volume=volume
        )
        if got is not None:
            stats.append(got.stat)
    if not stats:
        return False, None
    level = min(reference.levels)
    bar = margin(rule, level)
    above = sum(1 for x in stats if x > bar)
    middle = statistics.median(stats)
    return 2 * above > len(stats), (middle / level if level > 0 else None)


def _raw(rule: models.RegressionRule, values: Sequence[observations.Observation]) -> list[float]:
    if rule.aggregate == "ratio":
        when = rule.when
        return [float(conditions.meets(obs, when)) for obs in values] if when else []
    numbers = [conditions.field_of(obs, rule.field) for obs in values]
    return [x for x in numbers if x is not None]


def _end_run(
    rule: models.RegressionRule, reference: _Reference, state: Watch, width: float
) -> None:
    """A hold: keep ``min(e-value, 1)`` of the run so far (giving wealth up keeps a
    supermartingale one; restarting from 1 after a loss would not) and clear its counts."""
    log_e = state.log_e
    if not state.exact or log_e is None:
        # An upper bound is not what the run holds: the exact value, to carry no more.
        log_e = state.carry + _two_sample(rule, reference, state, width, floor=-math.inf)[0]
    state.carry = min(0.0, log_e) if state.used else state.carry
    state.used = state.matching = state.samples = 0
    state.total = 0.0
    state.exceeded = []
    state.walked = []
    state.stats = []
    state.log_e = state.carry
    state.exact = True


def steady_until(
    rule: models.RegressionRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    floor: float | None,
) -> float:
    """A later ``now`` before which :func:`judge_self` answers as it does at ``now``, as long
    as nothing is folded into ``window`` and the upgrade mark stays ``reference_at`` (the
    engine's severity-first replay skips the call until then). What moves with time alone:
    the watch's end, the end of the warm-up, the next bucket closing, the next value coming
    into ``now``. A little early (``windows.early``), never late.
    """
    if reference_at is None or reference_at > now:
        return math.inf  # until a mark comes into force, which the engine watches itself
    end = reference_at + rule.watch
    if now > end:
        return math.inf
    until = end
    if window is not None:
        width = _width(rule, floor)
        start = reference_at + rule.grace
        if now < start:
            until = min(until, start)
        closed = _closed(start, min(now, end), width)
        until = min(until, start + (closed + 1) * width, window.next_value_after(now))
    return windows.early(until)


def _reference_buckets(
    rule: models.RegressionRule,
    span: windows.Span,
    start: float,
    end: float,
    width: float,
    *,
    volume: volumes.Volume | None = None,
) -> list[_Bucket]:
    """The reference period's buckets, aligned to end at the upgrade (the last one is whole),
    without those resting on too few requests (``volume``)."""
    count = math.floor((end - start) / width)
    first = end - count * width
    groups: list[list[observations.Observation]] = [[] for _ in range(count)]
    for obs in span.values():
        index = math.floor((obs.time - first) / width)
        if 0 <= index < count:
            groups[index].append(obs)
    if volume is not None:
        groups = [
            [] if volume.thin(first + i * width, first + (i + 1) * width) else group
            for i, group in enumerate(groups)
        ]
    return [b for b in (_bucket(rule, group) for group in groups) if b is not None]


def _shared_reference(
    rule: models.RegressionRule,
    span: windows.Span,
    *,
    start: float,
    end: float,
    width: float,
    key: object,
    shared: _Shared | None,
    volume: volumes.Volume | None = None,
) -> list[_Bucket]:
    """:func:`_reference_buckets`, or the other tier's for the same ``key`` (the mark, the
    bucket width and the range's identity: the same values, bucketed the same way)."""
    known = shared.reference if shared is not None else None
    if known is not None and known[0] == key:
        return known[1]
    found = _reference_buckets(rule, span, start, end, width, volume=volume)
    if shared is not None:
        shared.reference = (key, found)
    return found


def _step(walk: list[int], above: bool) -> None:
    """One more bucket of a chain after the upgrade: ``walk`` is [last state (-1: none
    yet), onsets, calm trials, stays, episode trials]."""
    if walk[0] == 1:
        walk[4] += 1
        walk[3] += above
    elif walk[0] == 0:
        walk[2] += 1
        walk[1] += above
    walk[0] = int(above)


def _component_log_e(
    reference: _Reference, j: int, exceeded: int, used: int, walk: list[int]
) -> float:
    """One component's log e-value: its chain's where the reference's exceedances
    cluster, else its urn's (buckets after the upgrade weigh what the reference's did,
    ``scale``: a run of correlated exceedances is not that many independent ones)."""
    chain = reference.chains[j] if reference.chains else None
    if chain is not None:
        size = reference.scales[j]
        before = (chain[0] * size, chain[1] * size, chain[2] * size, chain[3] * size)
        return chain_log_e(before, (walk[1] * size, walk[2] * size, walk[3] * size, walk[4] * size))
    a0, b0 = reference.urns[j]
    return polya_log_e(
        exceeded * reference.scales[j],
        used * reference.scales[j],
        a0,
        b0,
        top=(reference.top and j == len(reference.urns) - 1)
        or (bool(reference.sharp) and reference.sharp[j]),
    )


def _exceedances(reference: _Reference, state: Watch, stat: float) -> float:
    """Count one more bucket against each threshold; the log e-value, mixed over quantiles."""
    if not state.exceeded:
        state.exceeded = [0] * len(reference.urns)
        state.walked = [[-1, 0, 0, 0, 0] for _ in reference.urns]
    logs = []
    for j, threshold in enumerate(reference.thresholds):
        if threshold is not None and stat > threshold:
            state.exceeded[j] += 1
        _step(state.walked[j], threshold is not None and stat > threshold)
        logs.append(_component_log_e(reference, j, state.exceeded[j], state.used, state.walked[j]))
    state.lead = max(range(len(logs)), key=lambda j: (logs[j], -j))
    top = max(logs)
    return top + math.log(math.fsum([math.exp(x - top) for x in logs]) / len(logs))


# --------------------------------------------------------------------------- against cohort


def _judge_cohort_tier(
    rule: models.RegressionRule,
    canary: windows.Window | None,
    peers: Sequence[tuple[str, windows.Window | None]],
    *,
    now: float,
    cohort: str | None,
    reference_at: float | None,
    floor: float | None,
    state: Watch,
) -> rules.Outcome:
    """The rule for a canary against the baseline cohort, bucket by bucket, at ``now``."""
    evidence: dict[str, Any] = {"cohort": cohort, "baseline_targets": len(peers)}
    if cohort != "canary":
        why = "no rollout is baking it" if cohort is None else f"it is in the {cohort} cohort"
        evidence.update(applies=False, no_data=True, breached=False)
        return rules.Outcome(
            verdicts.Severity.OK,
            f"{rule.probe}: not a canary ({why})",
            {**_base_evidence(rule), **evidence},
        )
    if reference_at is None or reference_at > now:
        return _no_data(rule, "no upgrade mark yet", evidence)
    if now > reference_at + rule.watch:
        return _watch_over(rule, evidence, reference_at)
    if canary is None:
        return _no_data(rule, "no valid observation on the canary", evidence)
    width = _width(rule, floor)
    windows_of_peers = [w for _, w in peers if w is not None]
    key = (reference_at, width, tuple(name for name, _ in peers))
    components = len(rule.quantiles)
    if state.key != key:
        state.key = key
        alpha = _main_alpha(rule, width)  # the rest of alpha is the late starts'
        state.reference = _Reference((None,) * components, (0.0,) * components, 0, 0, alpha)
        state.restart(components)
    start = reference_at + rule.grace
    watch_end = reference_at + rule.watch
    closed = _closed(start, min(now, watch_end), width)
    if state.done > closed:
        state.restart(components)  # asked about an earlier time than last: fold again
    if state.done:
        end = start + state.done * width
        seen = len(canary.range(start, end, closed="left")) + sum(
            len(w.range(start, end, closed="left")) for w in windows_of_peers
        )
        if seen != state.counted:
            state.restart(components)
    evidence.update(upgrade_at=reference_at, bucket_s=width)
    while state.done < closed:
        lo = start + state.done * width
        _fold_cohort_bucket(rule, state, canary, windows_of_peers, lo=lo, hi=lo + width)
    phase = "warmup" if now < start else "watching"
    outcome_key = (state.done, state.counted, phase)
    if state.outcome is not None and state.outcome_key == outcome_key:
        return state.outcome
    outcome = _describe(rule, state, evidence, phase=phase, width=width)
    state.outcome_key, state.outcome = outcome_key, outcome
    return outcome


def _fold_cohort_bucket(
    rule: models.RegressionRule,
    state: Watch,
    canary: windows.Window,
    peers: Sequence[windows.Window],
    *,
    lo: float,
    hi: float,
) -> None:
    """Fold one bucket: the canary's statistic against the peers' order statistics."""
    span = canary.range(lo, hi, closed="left")
    state.done += 1
    state.counted += len(span)
    own = _bucket(rule, span.values())
    others = []
    for peer in peers:
        peer_span = peer.range(lo, hi, closed="left")
        state.counted += len(peer_span)
        got = _bucket(rule, peer_span.values())
        if got is not None:
            others.append(got.stat)
    if own is None or not others:
        return
    state.used += 1
    state.stats.append(own.stat)
    state.samples += own.samples
    state.matching += own.matching
    others.sort()
    m = len(others)
    state.peer_stats.append(others[(m - 1) // 2])
    ratios = []
    for q in rule.quantiles:
        k = min(m, max(1, math.ceil(q * m)))
        null = (m - k + 1) / (m + 1)  # P(canary > k-th of m peers), exchangeable
        ratios.append(float(own.stat > margin(rule, others[k - 1])) / null)
    _fold(state, rule, hi, ratios)
    if state.late is None:
        state.late = _new_lates(rule, hi - lo)
    for late in state.late:
        if state.done - 1 >= late.start:
            _fold_late_cohort(rule, state, late, ratios, bucket_end=hi)


def _fold_late_cohort(
    rule: models.RegressionRule,
    state: Watch,
    late: _Late,
    ratios: Sequence[float],
    *,
    bucket_end: float,
) -> None:
    """One more bucket for one late start's cohort test: the same bets as the test from the
    grace, by bettors of its own who begin with this start's bucket (module notes)."""
    if late.mixture is None:
        late.mixture = Mixture(len(ratios))
    mixture = late.mixture
    late.used += 1
    for component, ratio in enumerate(ratios):
        mixture.bet(component, ratio)
    # As in ``_fold``: while no bettor holds more than the peak, the peak cannot move.
    if max(mixture.logs) <= late.peak:
        return
    log_e = mixture.log_e()
    late.peak = max(late.peak, log_e)
    if log_e >= -math.log(rule.alpha * late.weight) and late.crossed is None:
        late.crossed = bucket_end
        if state.crossed is None:
            state.crossed = bucket_end
            state.fired = late


# --------------------------------------------------------------------------- evidence


def _duration(seconds: float) -> str:
    return durations.format_duration(seconds)


def _base_evidence(rule: models.RegressionRule) -> dict[str, Any]:
    return {
        "probe": rule.probe,
        "aggregate": rule.aggregate,
        "field": rule.field,
        "when": None if rule.when is None else conditions.describe(rule.when),
        "against": rule.against,
        "alpha": rule.alpha,
        "min_ratio": rule.min_ratio,
        "min_delta": rule.min_delta,
        "before_s": rule.before,
        "grace_s": rule.grace,
        "settle_max_s": rule.settle_max,
        "cold_grace_s": rule.cold_grace,
        "watch_s": rule.watch,
        "quantiles": list(rule.quantiles),
        "top": rule.top,
        "sustained": rule.sustained,
    }


def _kept(state: Watch, key: object, make: Callable[[], rules.Outcome]) -> rules.Outcome:
    """An outcome that depends only on ``key`` (no data to fold): built once, then reused."""
    if state.outcome is None or state.outcome_key != key:
        state.outcome_key, state.outcome = key, make()
        state.quick = None
    return state.outcome


def _no_data(
    rule: models.RegressionRule, reason: str, evidence: dict[str, Any] | None = None
) -> rules.Outcome:
    evidence = {**_base_evidence(rule), **(evidence or {})}
    evidence.update(no_data=True, breached=False, reason=reason)
    return rules.Outcome(verdicts.Severity.OK, f"{rule.probe}: no data ({reason})", evidence)


def _watch_over(
    rule: models.RegressionRule, evidence: dict[str, Any], reference_at: float
) -> rules.Outcome:
    # Only the mark and the rule: windows trim the watch's data soon after it ends, so what
    # is said here must not depend on it (a fresh replay and a long-running judge agree).
    # The watch's verdict is in the decisions made while it ran.
    evidence = {
        **_base_evidence(rule),
        **evidence,
        "upgrade_at": reference_at,
        "phase": "over",
        "breached": False,
        "no_data": False,
    }
    summary = (
        f"{rule.probe}: the {_duration(rule.watch)} watch after the upgrade is over "
        "(its verdict is in the decisions made during it)"
    )
    return rules.Outcome(verdicts.Severity.OK, summary, evidence)


def _quantile(sorted_numbers: list[float], q: float) -> float:
    n = len(sorted_numbers)
    return sorted_numbers[min(n, max(1, math.ceil(q * n))) - 1]


def _effect(
    rule: models.RegressionRule, state: Watch, width: float
) -> tuple[str, float | None, float | None]:
    """What changed, in words: (what, now, reference) for the leading component."""
    reference = state.reference
    if reference is None:  # callers describe only a watch with a reference
        return "", None, None
    lead = state.mixture.best() if rule.against == "cohort" else state.lead
    # Against self, after the quantiles: the sustained one's (when set), the maximum.
    q = rule.quantiles[lead] if lead < len(rule.quantiles) else 1.0
    if rule.against == "self" and rule.sustained is not None and lead == len(rule.quantiles):
        q = rule.sustained
    if rule.aggregate == "quantile":
        label = f"p{q * 100:g} {rule.field}" if q < 1 else f"max {rule.field}"
    elif rule.aggregate == "ratio":
        label = f"share with {conditions.describe(rule.when) if rule.when else ''}"
    else:
        label = f"{rule.field} per 1m"
    if not state.stats:
        return label, None, None
    if rule.against == "cohort":
        ordered = sorted(state.stats)
        peers = sorted(state.peer_stats)
        if rule.aggregate == "quantile":
            return label, _quantile(ordered, q), _quantile(peers, q)
        scale = 60.0 / width if rule.aggregate == "rate" else 1.0
        mean = math.fsum(state.stats) / len(state.stats) * scale
        return label, mean, math.fsum(state.peer_stats) / len(state.peer_stats) * scale
    if rule.aggregate == "quantile":
        return label, _quantile(sorted(state.stats), q), reference.levels[lead]
    if rule.aggregate == "ratio":
        return label, state.matching / state.samples if state.samples else None, reference.levels[0]
    return label, math.fsum(state.stats) / len(state.stats) * 60.0 / width, reference.levels[0]


def _describe(
    rule: models.RegressionRule,
    state: Watch,
    evidence: dict[str, Any],
    *,
    phase: str,
    width: float,
) -> rules.Outcome:
    reference = state.reference
    if reference is None:  # callers describe only a watch with a reference
        return _no_data(rule, "no reference", evidence)
    log_e = state.mixture.log_e() if state.log_e is None else state.log_e
    e_value = math.exp(min(log_e, 700.0))
    peak = math.exp(min(state.peak, 700.0))
    bar = 1.0 / reference.alpha_test
    label, now_value, ref_value = _effect(rule, state, width)
    factor = now_value / ref_value if now_value is not None and ref_value else None
    breached = state.crossed is not None
    evidence = {
        **_base_evidence(rule),
        **evidence,
        "e_value": e_value,
        "e_value_exact": state.exact,  # False: e_value is an upper bound (far below the bar)
        "e_value_peak": peak,
        "e_threshold": bar,
        "alpha_test": reference.alpha_test,
        "crossed_at": state.crossed,
        "effect": label,
        "current": now_value,
        "baseline": ref_value,
        "increase": factor,
        "buckets": state.used,
        "samples": state.samples,
        "baseline_buckets": reference.buckets,
        "baseline_samples": reference.samples,
        "phase": phase,
        "breached": breached,
        "no_data": state.used == 0,
    }
    evidence.update(_late_evidence(rule, state, width))
    evidence.update(_early_evidence(rule, state))
    side = "the baseline cohort" if rule.against == "cohort" else "before the upgrade"
    if now_value is None:
        head = f"{rule.probe} {label}: no bucket after the upgrade yet"
    else:
        times = f" (x{conditions.number(factor)})" if factor is not None else ""
        head = (
            f"{rule.probe} {label} {conditions.number(now_value)} vs "
            f"{conditions.number(ref_value)} {side}{times}"
        )
    counts = f"{state.used} buckets of {_duration(width)} after the upgrade" + (
        f", {reference.buckets} before" if rule.against == "self" else ""
    )
    early = state.early
    if breached and state.fired is not None:
        verdict = _late_words(rule, state.fired, evidence)
    elif breached and early is not None and early.crossed == state.crossed:
        verdict = _early_words(rule, early)
    elif breached and reference.alpha_test >= rule.alpha:
        verdict = f"e-value {_big(peak)} reached 1/alpha = {_big(bar)} (alpha {rule.alpha:g})"
    elif breached:
        verdict = (
            f"e-value {_big(peak)} of the test from the start reached 1/(alpha x "
            f"{1 / (bar * rule.alpha):g}) = {_big(bar)} (alpha {rule.alpha:g}, the rest of it "
            "kept for the later starts)"
        )
    elif phase == "warmup":
        verdict = f"warming up ({_duration(rule.grace)} after the upgrade are not judged)"
    elif phase == "settling" and state.holds == state.cold_holds:
        verdict = (
            f"warming up: already worse during the {_duration(rule.grace)} grace "
            f"({_cold_words(state)}a cold start); the test starts "
            f"{_duration(rule.cold_grace)} after the upgrade"
        )
    elif phase == "settling":
        verdict = (
            f"warming up: still falling since the upgrade (trend z {state.trend_z:.2f} over "
            f"its last {SETTLE_BUCKETS} buckets); the test starts when it stops falling, at "
            f"the latest {_duration(rule.settle_max)} after the upgrade"
        )
    else:
        at = "" if state.exact else "at most "
        verdict = f"e-value {at}{_big(e_value)} < 1/alpha = {_big(bar)} (alpha {rule.alpha:g})"
    summary = f"{head}: {verdict}; {counts}{_warmup_words(rule, state, evidence)}"
    severity = verdicts.Severity.parse(rule.severity) if breached else verdicts.Severity.OK
    pending = not breached and phase == "watching" and log_e > 0
    return rules.Outcome(severity, summary, evidence, pending)


def _late_evidence(rule: models.RegressionRule, state: Watch, width: float) -> dict[str, Any]:
    """The late starts in the evidence: where they begin, their bar, the best one so far,
    and which test flagged the watch."""
    lates = state.late if state.late is not None else _new_lates(rule, width)
    fired = state.fired
    best = max(lates, key=lambda late: (late.peak, -late.start), default=None)
    early = state.early
    fired_by: str | None = None
    fired_start: float | None = None
    if fired is not None:
        fired_by, fired_start = "late", fired.offset
    elif early is not None and state.crossed is not None and early.crossed == state.crossed:
        fired_by, fired_start = "early", early.offset  # a test begun at a fixed time, too
    elif state.crossed is not None:
        fired_by = "start"
    return {
        "late_starts_s": [late.offset for late in lates],
        "late_e_threshold": 1.0 / (rule.alpha * lates[0].weight) if lates else None,
        "late_best_start_s": best.offset if best is not None and best.peak > 0 else None,
        "late_best_e_value": (
            math.exp(min(best.peak, 700.0)) if best is not None and best.peak > 0 else None
        ),
        "fired_by": fired_by,
        "fired_start_s": fired_start,
    }


def _late_words(rule: models.RegressionRule, late: _Late, evidence: dict[str, Any]) -> str:
    upgrade_at = evidence.get("upgrade_at")
    began = "" if upgrade_at is None else f" at {_clock(upgrade_at + late.offset)}"
    return (
        f"e-value {_big(math.exp(min(late.peak, 700.0)))} of the test started "
        f"{_duration(late.offset)} after the upgrade{began} (a late start: the buckets "
        f"before it do not count) reached 1/(alpha x {late.weight:.3g}) = "
        f"{_big(1.0 / (rule.alpha * late.weight))} (alpha {rule.alpha:g})"
    )


def _clock(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, tz=datetime.UTC).strftime("%H:%M:%S UTC")


def _warmup_words(rule: models.RegressionRule, state: Watch, evidence: dict[str, Any]) -> str:
    """When the test started and why, once the adaptive warm-up held it back."""
    test_from, upgrade_at = evidence.get("test_from"), evidence.get("upgrade_at")
    if test_from is None or upgrade_at is None or state.began_why not in _WHY_WORDS:
        return ""
    after = _duration(test_from - upgrade_at)
    if state.began_why == "cold":
        return (
            f"; already worse during the grace ({_cold_words(state)}a cold start): warm-up, "
            f"tested from {_clock(test_from)} ({after} after the upgrade)"
        )
    if state.began_why == "settled":
        return (
            f"; the signal fell until {_clock(test_from)} ({after} after the upgrade): "
            "warm-up, tested from then"
        )
    return (
        f"; the signal fell until settle_max, {_clock(test_from)} ({after} after the "
        "upgrade): warm-up, tested from then"
    )


_WHY_WORDS = ("settled", "cap", "cold")


def _cold_words(state: Watch) -> str:
    factor = state.cold_factor
    return "" if factor is None else f"x{conditions.number(factor)}, "


def _big(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


# --------------------------------------------------------------------------- early start

# The early start's share of the rule's alpha (module notes, "Early start"), taken from the
# late starts' quarter (their bars 2.5 times higher, 0.92 nats: a late start carries burns
# that begin far from the upgrade, already slow) and not from the test from the grace,
# which carries the moderate steps near its bar (the corpus's `fault-p99-cpu-real` crosses
# it 2% above 1/(0.75 alpha); at 0.65 of alpha it was flagged 9 minutes later). Its bar is
# 6,667 at 0.001, and two buckets above the reference's highest are worth up to 7,268
# against the urn's Beta(1, 120), with the alternative below: a step flagged at the grace's
# end, not two buckets after it.
EARLY_SHARE = 0.15
# The early start's one alternative, Beta(64, 1/2) (mean 0.99): "from its start, every
# bucket is above the reference's highest". Sharper than the top component's (8, 1/2): the
# early start has no other use, and two buckets of it must clear a bar 5 times the main
# test's (0.98 of the urn's odds against 0.89).
EARLY_ALTERNATIVE = (64.0, 0.5)


@dataclass(slots=True)
class _Early:
    """The early start's test for one watch (see ``_judge_early``): computed afresh whenever
    a bucket of its short span closes or an observation arrives in it."""

    key: tuple[int, int] = (-1, -1)  # (buckets closed, observations up to their end)
    offset: float = 0.0  # seconds from the upgrade to its first bucket
    why: str = ""  # "": it ran; else why it did not ("grace": the restart not seen calm)
    share: float = EARLY_SHARE  # of the rule's alpha (a fast tier's: see ``tiers``)
    used: int = 0
    exceeded: int = 0
    peak: float = -math.inf
    crossed: float | None = None


def early_start(rule: models.RegressionRule, width: float) -> float | None:
    """Where the early start's test begins, in seconds after the upgrade (None: the rule has
    none). Only a rule as configured (not a tier's or a witness's test, which the judge makes
    with their own share of alpha), against self, on quantiles with ``top``: halfway through
    the grace, on a bucket boundary, with at least one whole bucket of grace before it."""
    if rule.against != "self" or rule.aggregate != "quantile" or not rule.top:
        return None
    if rule._late_share is not None and not rule._early_share:
        return None  # a slow tier's or a witness's rule: no early start of their own
    buckets = int(rule.grace // width) // 2
    if buckets < 1:
        return None
    return rule.grace - buckets * width


def _early_share(rule: models.RegressionRule, width: float) -> float:
    """The share of the rule's alpha its early start is run at: ``EARLY_SHARE``, or what
    ``tiers`` gave a fast tier (the same share of the rule's alpha); 0 without one."""
    if early_start(rule, width) is None:
        return 0.0
    share = rule._early_share  # the judge's own setting, made in ``tiers``
    return EARLY_SHARE if share is None else share


def _judge_early(
    rule: models.RegressionRule,
    state: Watch,
    window: windows.Window,
    reference: _Reference,
    *,
    reference_at: float,
    now: float,
    width: float,
    shared: _Shared | None,
) -> _Early | None:
    """The early start's test at ``now`` (module notes, "Early start"): the reference's top
    component alone, on the buckets from ``early_start`` to two buckets after the grace, at
    ``alpha * EARLY_SHARE``; run only when every bucket before it since the upgrade has data
    and none is above the lowest threshold (the restart was seen, and seen calm)."""
    offset = early_start(rule, width)
    if offset is None or not reference.top:
        return None
    first = reference_at + offset
    span = round((rule.grace - offset) / width) + 2
    closed = min(span, _closed(first, min(now, reference_at + rule.watch), width))
    seen = len(window.range(reference_at, first + closed * width, closed="left"))
    early = state.early
    if early is not None and early.key == (closed, seen):
        return early
    early = state.early = _Early(key=(closed, seen), offset=offset, share=_early_share(rule, width))
    if closed == 0:
        return early
    bar = margin(rule, min(reference.levels))
    for index in range(round(offset / width)):
        lo = reference_at + index * width
        _, got = _bucket_at(rule, window, lo, lo + width, shared, volume=state.volume)
        if got is None or got.stat > bar:
            early.why = "grace"  # a restart not seen, or not calm: the grace's own holds
            return early
    a0, b0 = reference.urns[-1]
    threshold = reference.thresholds[-1]
    log_bar = -math.log(rule.alpha * early.share)
    for index in range(closed):
        lo = first + index * width
        _, got = _bucket_at(rule, window, lo, lo + width, shared, volume=state.volume)
        if got is None:
            continue
        early.used += 1
        if threshold is not None and got.stat > threshold:
            early.exceeded += 1
        log_e = _early_log_e(early.exceeded * reference.scale, early.used * reference.scale, a0, b0)
        early.peak = max(early.peak, log_e)
        if log_e >= log_bar and early.crossed is None:
            early.crossed = lo + width
    return early


def _early_log_e(exceeded: float, trials: float, a0: float, b0: float) -> float:
    """log e-value of the early start: :func:`polya_log_e`'s top component with the one
    alternative :data:`EARLY_ALTERNATIVE`, taken as ``a >= a0``, ``b <= b0`` (so the ratio
    grows with the exceedances, as the margin's argument needs)."""
    s, f = exceeded, trials - exceeded
    a, b = max(a0, EARLY_ALTERNATIVE[0]), min(b0, EARLY_ALTERNATIVE[1])
    alternative = _log_beta(s + a, f + b) - _log_beta(a, b)
    return alternative - (_log_beta(s + a0, f + b0) - _log_beta(a0, b0))


def _early_flagged(
    rule: models.RegressionRule,
    state: Watch,
    window: windows.Window,
    reference: _Reference,
    *,
    reference_at: float,
    now: float,
    width: float,
    shared: _Shared | None,
) -> bool:
    """Judge the early start and let it flag the watch when it crossed first; whether the
    watch is flagged by it."""
    early = _judge_early(
        rule,
        state,
        window,
        reference,
        reference_at=reference_at,
        now=now,
        width=width,
        shared=shared,
    )
    if early is None or early.crossed is None:
        return False
    if state.crossed is None or early.crossed < state.crossed:
        state.crossed, state.fired = early.crossed, None
    return early.crossed == state.crossed


def _early_evidence(rule: models.RegressionRule, state: Watch) -> dict[str, Any]:
    early = state.early
    if early is None:
        return {}
    return {
        "early_start_s": early.offset,
        "early_ran": early.why == "",
        "early_e_value": math.exp(min(early.peak, 700.0)) if early.used else None,
        "early_e_threshold": 1.0 / (rule.alpha * early.share),
    }


def _early_words(rule: models.RegressionRule, early: _Early) -> str:
    return (
        f"e-value {_big(math.exp(min(early.peak, 700.0)))} of the early start's test (from "
        f"{_duration(early.offset)} after the upgrade, the reference's highest bucket alone: "
        f"{early.exceeded} of {early.used} buckets above its margin) reached 1/(alpha x "
        f"{early.share:.3g}) = "
        f"{_big(1.0 / (rule.alpha * early.share))} (alpha {rule.alpha:g})"
    )
