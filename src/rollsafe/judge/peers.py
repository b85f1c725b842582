"""Peers: after an upgrade, is the target worse than its peers that were not upgraded, at the
same moments? (the regression rule's ``against: peers``; pure)

The target's own hour before the upgrade is a poor reference for a regression that shows
only at the day's peak, hours after a night upgrade: the peak is a load the reference never
saw. Peers of the same role that were not upgraded see the same traffic at the same time; a
slowdown the whole fleet shares (the peak, a slow dependency) moves them too, one only the
upgraded host shows does not. This module compares the two, bucket by bucket, with an
anytime-valid sequential test, outside any rollout.

**The comparison.** Observations are summarised one value per bucket (``bucket`` seconds, at
least the probe's interval; the regression rule's statistic: the median of ``field``, the
share meeting ``when``, or the sum), on the target and on each peer. A bucket is evidence
when the target has a value and at least ``min_peers`` peers have one; the peers' aggregate
is their *upper median* (the ``m // 2``-th smallest of ``m``, counting from 0: the larger of
two, the middle of three), so up to ``m // 2`` quiet peers (drained, idle, cached) do not
lower it. The target *exceeds* in a bucket when its value is above ``g`` of the aggregate,
``g(y) = max(y * min_ratio, y + min_delta)`` (strictly: a tie, all zeros say, is not above).
A peer counts in a bucket when it has no upgrade mark (started or ended) in the
``not_upgraded_for`` (``policy.fleet_veto``) before the bucket's end; with ``volume``, a peer
whose bucket rests on fewer than ``min_requests`` requests is left out of the aggregate, and
a target's thin bucket is no evidence.

**The null.** Hosts are not exchangeable (one may always be a little slower), so the test
does not ask whether the target exceeds more than a peer would, but whether it exceeds more
often than it did itself *before* the upgrade, against the same peers: the exceedance
indicators of the ``before`` period (``n0`` buckets, ``x0`` above) and of the watch
(``n1``, ``x1``), and the null "the share after is at most ``max(2 p0, p0 + 0.1)``"
(:data:`RATE_RATIO`, :data:`RATE_DELTA`: the peak may make a healthy host a little more
often slower than its peers than the night did; a regression at the peak makes it exceed in
nearly every peak bucket). The e-value is ``sequential.two_sample_log_e`` on these counts:
the likelihood mixed over both shares divided by the likelihood maximised over the null, a
test supermartingale under every null pair of independent Bernoulli shares, so Ville's
inequality bounds the chance it ever reaches ``1 / alpha`` during the watch. Indicators that
cluster in the reference (a host slower than its peers for stretches) are worth less: both
samples' counts are scaled by the reference indicators' effective size over their number
(``sequential.exceedance_size``, the lag-1 correlation of the indicator).

**Why peers that fail cannot cause a rollback.** A fault shared by the fleet (a dependency,
the network) makes every host worse: the aggregate rises with the target and it does not
exceed. A single peer failing raises the aggregate or, as one of ``m``, leaves it where it
was: either way the target exceeds less, never more. Fewer than ``min_peers`` peers with a
value in a bucket: the bucket is no evidence; none in the whole watch: the rule says "no
peers" and abstains (ok, never critical).

**Late starts, and a watch longer than two hours.** A regression that appears at the peak,
hours into the watch, first meets hundreds of night buckets where the target does not
exceed; a test from the upgrade counts them against it. So fresh tests begin at fixed times,
every ``sequential.LATE_EVERY`` (10 minutes) from the grace on while 10 minutes of the watch
are left, each on the buckets from its start on with the same reference: a test begun at a
fixed time is a test supermartingale in its own right. The test from the grace gets
:data:`START_SHARE` of alpha and the ``K`` late ones share the rest equally; the rule
breaches when any one reaches its own bar, and the union bound gives ``alpha`` for the whole
watch however long it is (a 24-hour watch has 143 late starts, each at
``alpha / 286``: a bar of 286,000 at 0.001, 12.6 nats, against 7.6 for the test from the
grace). A regression that starts between two starts carries at most 10 minutes of healthy
buckets into the next one.

What it assumes: indicators independent given their share (clustering is discounted as
seen in the reference, not beyond), and peers that were not upgraded are a fair witness of
the traffic (the same role, behind the same balancer). What it does not do: judge a target
with no peers, or peers all upgraded (the last wave of a rollout): the rule abstains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rollsafe.config import durations, models
from rollsafe.domain import verdicts
from rollsafe.judge import conditions, rules, sequential, windows
from rollsafe.judge import volume as volumes

__all__ = [
    "RATE_DELTA",
    "RATE_RATIO",
    "START_SHARE",
    "Compared",
    "Peer",
    "Watch",
    "aggregate",
    "compare",
    "judge",
    "starts",
    "too_few",
]

# The null's margin on the share of buckets above the peers: at most twice the share before
# the upgrade, and 10 points more (a peak may set a healthy host above its peers a little
# more often than the night did; a regression at the peak sets it above nearly every time).
RATE_RATIO = 2.0
RATE_DELTA = 0.1
# The share of alpha of the test from the grace; the late starts share the rest.
START_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Peer:
    """A peer as the comparison reads it: its name, its window of the rule's probe, and its
    request rate (``volume``; None: every bucket of it counts)."""

    name: str
    window: windows.Window | None
    volume: volumes.Volume | None = None


@dataclass(frozen=True, slots=True)
class Compared:
    """One bucket compared: the target's value, the peers' aggregate, ``g`` of it (the bar),
    how many peers, and whether the target was above the bar."""

    end: float
    own: float
    aggregate: float
    bar: float
    peers: int
    above: bool


def aggregate(stats: Sequence[float]) -> float:
    """The peers' upper median: ``m // 2`` quiet peers do not lower it."""
    ordered = sorted(stats)
    return ordered[len(ordered) // 2]


def compare(
    rule: models.RegressionRule, end: float, own: float | None, stats: Sequence[float]
) -> Compared | None:
    """The bucket ending at ``end`` compared; None when it is no evidence (no value on the
    target, or fewer than ``min_peers`` peers with one)."""
    if own is None or len(stats) < rule.min_peers:
        return None
    agg = aggregate(stats)
    bar = sequential.margin(rule, agg)
    return Compared(end, own, agg, bar, len(stats), own > bar)


@dataclass(slots=True)
class _Test:
    """One test of the watch: the buckets from ``start`` on against the reference; its
    counts are the watch's totals less what they were at its start (``offset``)."""

    start: float
    log_bar: float
    offset: tuple[int, int] = (0, 0)
    above: int = 0
    seen: int = 0
    log_e: float = -math.inf


def starts(rule: models.RegressionRule, upgrade_at: float, width: float) -> list[_Test]:
    """The watch's tests: from the grace, then every ``LATE_EVERY`` (on a bucket boundary)
    while ``LATE_EVERY`` of the watch is left; alpha split as the module notes say."""
    first = upgrade_at + rule.grace
    end = upgrade_at + rule.watch
    times = [first]
    j = 1
    while True:
        at = first + math.ceil(j * sequential.LATE_EVERY / width) * width
        if at + sequential.LATE_EVERY > end:
            break
        times.append(at)
        j += 1
    late = len(times) - 1
    if late == 0:
        return [_Test(first, -math.log(rule.alpha))]
    main = -math.log(rule.alpha * START_SHARE)
    each = -math.log(rule.alpha * (1.0 - START_SHARE) / late)
    return [_Test(at, main if at == first else each) for at in times]


@dataclass(frozen=True, slots=True)
class _Crossed:
    """Where the watch was flagged: the bucket, and its test as it stood then."""

    bucket: Compared
    test: _Test
    log_e: float


@dataclass(slots=True)
class Watch:
    """The comparison's state for one target and rule: the reference counts (``begin``),
    the tests, and what was folded (a cache: decisions depend only on the data)."""

    mark: float | None = None
    before_above: int = 0
    before_seen: int = 0
    factor: float = 1.0
    tests: list[_Test] = field(default_factory=list)
    next_end: float = math.inf
    folded: int = 0
    total_above: int = 0
    started: int = 0
    peers_seen: int = 0
    last: Compared | None = None
    crossed: _Crossed | None = None

    def begin(self, reference: Sequence[Compared | None], tests: list[_Test]) -> None:
        """Start a watch on the reference period's buckets (oldest first)."""
        seen = [c for c in reference if c is not None]
        self.before_seen = len(seen)
        self.before_above = sum(c.above for c in seen)
        indicators = [1.0 if c.above else 0.0 for c in seen]
        # How many independent buckets the reference is worth: the indicator's own
        # clustering, or the wander of the target's excess over the peers' bar (its lag-1
        # rank correlation), whichever is worth less: a host that drifts above its peers for
        # stretches need not have crossed the bar in the reference to do so in the watch.
        excess = [c.own - c.bar for c in seen]
        size = min(sequential.exceedance_size(indicators, 0.5), sequential.effective_size(excess))
        self.factor = size / len(seen) if seen else 1.0
        self.tests = tests
        self.folded = self.total_above = self.started = 0
        self.peers_seen = 0
        self.last = None
        self.crossed = None

    def fold(self, start: float, bucket: Compared | None) -> None:
        """One bucket after the grace, beginning at ``start`` (None: no evidence)."""
        tests = self.tests
        while self.started < len(tests) and tests[self.started].start <= start:
            tests[self.started].offset = (self.total_above, self.folded)
            self.started += 1
        if bucket is None:
            return
        self.folded += 1
        self.total_above += bucket.above
        self.peers_seen = max(self.peers_seen, bucket.peers)
        self.last = bucket
        if not bucket.above:
            return  # a bucket below lowers every test's evidence: no crossing
        f = self.factor
        before = (self.before_above * f, self.before_seen * f)
        p0 = self.before_above / self.before_seen if self.before_seen else 0.0
        null = max(p0 * RATE_RATIO, p0 + RATE_DELTA)
        for test in tests[: self.started]:
            test.above = self.total_above - test.offset[0]
            test.seen = self.folded - test.offset[1]
            if test.above <= null * test.seen:
                test.log_e = 0.0  # both shares within the null: the e-value is at most 1
                continue
            log_e, exact = sequential.two_sample_log_e(
                kind="ratio",
                before=before,
                after=(test.above * f, test.seen * f),
                ratio=RATE_RATIO,
                delta=RATE_DELTA,
                floor=test.log_bar,
            )
            test.log_e = log_e if exact else min(log_e, test.log_bar)
            if exact and log_e >= test.log_bar and self.crossed is None:
                snapshot = _Test(test.start, test.log_bar, test.offset, test.above, test.seen)
                self.crossed = _Crossed(bucket, snapshot, log_e)

    def nearest(self) -> _Test | None:
        """The test nearest to its bar (for evidence), its counts brought up to date."""
        for test in self.tests[: self.started]:
            test.above = self.total_above - test.offset[0]
            test.seen = self.folded - test.offset[1]
        ran = [t for t in self.tests if t.seen]
        return max(ran, key=lambda t: (t.log_e - t.log_bar, -t.start)) if ran else None


def _stat(
    rule: models.RegressionRule,
    window: windows.Window | None,
    found: volumes.Volume | None,
    lo: float,
    hi: float,
) -> float | None:
    if window is None or (found is not None and found.thin(lo, hi)):
        return None
    return sequential.bucket_statistic(rule, window.range(lo, hi, closed="left").values())


def _bucket(
    rule: models.RegressionRule,
    own: tuple[windows.Window | None, volumes.Volume | None],
    peers: Sequence[Peer],
    counts: Callable[[str, float], bool],
    span: tuple[float, float],
) -> Compared | None:
    lo, hi = span
    stats = [
        x
        for peer in peers
        if counts(peer.name, hi)
        and (x := _stat(rule, peer.window, peer.volume, lo, hi)) is not None
    ]
    return compare(rule, hi, _stat(rule, own[0], own[1], lo, hi), stats)


def judge(
    rule: models.RegressionRule,
    window: windows.Window | None,
    peers: Sequence[Peer],
    *,
    now: float,
    reference_at: float | None,
    reference_end: float | None,
    floor: float | None,
    state: Watch,
    counts: Callable[[str, float], bool],
    volume: volumes.Volume | None = None,
) -> rules.Outcome:
    """The rule for ``window``'s target against ``peers`` at ``now``. ``counts(peer, end)``:
    the peer counts in the bucket ending at ``end`` (not upgraded lately)."""
    evidence: dict[str, Any] = _base(rule)
    if reference_at is None:
        return _ok(rule, "no upgrade mark yet", evidence, no_data=True)
    width = max(rule.bucket, floor or 0.0)
    if state.mark != reference_at:
        state.mark = reference_at
        end = reference_at if reference_end is None else reference_end
        count = math.floor(rule.before / width)
        first = end - count * width
        reference = [
            _bucket(
                rule, (window, volume), peers, counts, (first + i * width, first + (i + 1) * width)
            )
            for i in range(count)
        ]
        state.begin(reference, starts(rule, reference_at, width))
        state.next_end = reference_at + rule.grace + width
    watch_end = reference_at + rule.watch
    evidence.update(upgrade_at=reference_at, peers=len(peers))
    if now >= watch_end + width:
        evidence["phase"] = "over"
        return _ok(rule, f"the {_duration(rule.watch)} watch after the upgrade is over", evidence)
    if state.before_seen < rule.min_baseline:
        why = (
            "no peers"
            if not peers
            else f"{state.before_seen} buckets before the upgrade with {rule.min_peers} peers "
            f"or more, {rule.min_baseline} needed"
        )
        return _ok(rule, why, evidence, no_data=True)
    while state.next_end <= min(now, watch_end):
        hi = state.next_end
        state.fold(hi - width, _bucket(rule, (window, volume), peers, counts, (hi - width, hi)))
        state.next_end = hi + width
    return _verdict(rule, state, evidence, now=now)


def too_few(rule: models.RegressionRule, count: int) -> rules.Outcome:
    """The rule's outcome for a target with fewer than ``min_peers`` possible peers at all
    (a fleet too small): it abstains, whatever the target does."""
    evidence = {**_base(rule), "peers": count}
    why = "no peers" if count == 0 else f"{count} peer, {rule.min_peers} needed"
    return _ok(rule, why, evidence, no_data=True)


def _verdict(
    rule: models.RegressionRule, state: Watch, evidence: dict[str, Any], *, now: float
) -> rules.Outcome:
    evidence.update(
        before_above=state.before_above,
        before_buckets=state.before_seen,
        discount=state.factor,
        buckets=state.folded,
        starts=len(state.tests),
    )
    if state.last is None:
        return _ok(rule, "no bucket with peers since the grace", evidence, no_data=True)
    fired = state.crossed if state.crossed and state.crossed.bucket.end <= now else None
    last = state.last if fired is None else fired.bucket
    evidence.update(own=last.own, aggregate=last.aggregate, peers_in_bucket=last.peers)
    test = fired.test if fired is not None else state.nearest()
    log_e = fired.log_e if fired is not None else (test.log_e if test else -math.inf)
    if test is not None:
        evidence.update(
            test_from=test.start,
            above=test.above,
            seen=test.seen,
            e_value=_exp(log_e),
            e_threshold=_exp(test.log_bar),
        )
    head = (
        f"{rule.probe} {_what(rule)} {conditions.number(last.own)} vs "
        f"{conditions.number(last.aggregate)} on {last.peers} peers not upgraded (upper median"
        f", margin x{conditions.number(rule.min_ratio)} +{conditions.number(rule.min_delta)})"
    )
    if test is None:
        return _ok(rule, head, evidence, no_data=False)
    since = durations.format_duration(test.start - (state.mark or 0.0))
    counted = (
        f"above them in {test.above} of {test.seen} buckets from {since} after the upgrade "
        f"vs {state.before_above} of {state.before_seen} before it; e-value "
        f"{conditions.number(_exp(log_e))}"
    )
    bar = f"1/alpha {conditions.number(_exp(test.log_bar))} (alpha {rule.alpha:g} over the watch)"
    if fired is not None:
        evidence.update(breached=True, no_data=False, crossed_at=fired.bucket.end)
        summary = f"{head}: {counted} reached {bar}"
        return rules.Outcome(verdicts.Severity.parse(rule.severity), summary, evidence)
    evidence.update(breached=False, no_data=False)
    pending = last.above and log_e > test.log_bar - math.log(10.0)
    return rules.Outcome(
        verdicts.Severity.OK, f"{head}: {counted}, below {bar}", evidence, pending=pending
    )


def _what(rule: models.RegressionRule) -> str:
    if rule.aggregate == "ratio":
        return f"share with {conditions.describe(rule.when) if rule.when else ''}"
    return f"{'sum' if rule.aggregate == 'rate' else 'median'} {rule.field}"


def _exp(log_e: float) -> float:
    return math.exp(min(log_e, 700.0)) if log_e > -math.inf else 0.0


def _duration(seconds: float) -> str:
    return durations.format_duration(seconds)


def _base(rule: models.RegressionRule) -> dict[str, Any]:
    return {
        "probe": rule.probe,
        "aggregate": rule.aggregate,
        "field": rule.field,
        "against": "peers",
        "alpha": rule.alpha,
        "min_ratio": rule.min_ratio,
        "min_delta": rule.min_delta,
        "min_peers": rule.min_peers,
        "before_s": rule.before,
        "watch_s": rule.watch,
    }


def _ok(
    rule: models.RegressionRule, why: str, evidence: dict[str, Any], *, no_data: bool = False
) -> rules.Outcome:
    evidence.update(breached=False, no_data=no_data, applies=True)
    return rules.Outcome(verdicts.Severity.OK, f"{rule.probe} against peers: {why}", evidence)
