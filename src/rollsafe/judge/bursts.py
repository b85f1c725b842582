"""Bursts: after an upgrade, does a signal go bad in bursts more often than before it? (pure)

The ``bursts`` rule kind, for failures that come in bursts, not as a level shift: a
connection pool too small for traffic peaks, a lock leak, GC pauses, a retry storm. The
release fails 8% of requests for a minute every few minutes and 0.2% as before in between;
the error ratio's median and p90 hardly move, so the ``regression`` rule
(``judge/sequential.py``), which tests quantiles, never sees it.

How. The watch (``watch`` after the target's latest ``upgrade`` mark, from ``grace`` on) and
the reference (``before``, ending where the upgrade began) are cut into ``bucket``-second
buckets, one median of ``field`` each (order-free: simultaneous observations in any order give
the same bucket). A bucket is **bad** when its median is worse than ``g(y) = max(y *
min_ratio, y + min_delta)``, ``y`` the ``quantile`` of the reference's bucket medians (its
``k``-th smallest, ``k = ceil(quantile n)``): "far above what this host usually does", with an
absolute floor ``min_delta`` so that 0.1% -> 0.3% is never bad.

The test's unit is the **block** (``block`` seconds, 5 minutes: a whole number of buckets,
aligned on ``upgrade + grace`` after the upgrade and on the reference's start before it): a
block is bad when one of its buckets is. Before the upgrade ``r`` of ``n`` blocks were bad
(12 in an hour), after it ``s`` of ``t`` so far. The test: two Bernoulli shares, "after is
worse than before plus ``rate_delta``" (``p1 > p0 + rate_delta``), by
``sequential.two_sample_log_e`` (the likelihood mixed over both shares with Jeffreys priors
over the likelihood maximised over the whole null ``p1 <= p0 + rate_delta``: for every null
pair at most a mixture likelihood ratio, a test martingale in the blocks after the upgrade).
The reference's estimation uncertainty is in it: ``r`` of ``n`` is data, not a known rate (0
of 12 does not mean "never"). Ville's inequality: a healthy watch reaches ``1 / alpha`` at
some block with probability at most ``alpha``, however often it is judged. The rule fires at
the first block end where the e-value is at least ``1 / alpha`` *and* the bad buckets after
the upgrade came in at least ``min_bursts`` separate runs (a bucket with data that is not bad
between them); it stays fired until the watch ends.

Why blocks, not buckets. The Bernoulli model needs independent trials, and bad buckets of a
healthy host are not: one dependency blip of 5 minutes is 10 bad buckets in a row. Counted in
buckets, the same test flagged 27 of 2,000 simulated healthy watches of a host that blips
twice an hour and 6 of 2,000 with AR(1) wander, at alpha 0.00025 (50 and 12 times the
bound); counted in 5-minute blocks, longer than such blips, none. A block holds a whole
blip, so a blip is one or two bad blocks; a release that bursts every few minutes makes
nearly every block bad. Why the burst count too: it is a second requirement on top of a
crossing that alone happens with probability at most ``alpha`` (so it only lowers the
false-alarm rate), and it says in words what the rule is about: bursts again and again, not
one long blip (which a ``regression`` rule judges).

Alpha. The rule has its own ``alpha``; the false-alarm bound of a signal watched by several
rules is the sum of theirs (a union bound, whatever their dependence). The ``web-service``
preset gives its request-error bursts rule a quarter of ``regression_alpha`` (0.00025 with
the default 0.001, a bar of 4,000), on top of the request-error regression rule's own alpha:
the request error ratio's whole bound is ``1.25 * regression_alpha``.

Assumptions (stated because real monitoring breaks them by degrees):

* healthy blocks before and after the upgrade are independent draws of one process: the
  share of bad blocks is the same before and after. Bursty healthy errors (cron jobs, a
  pooler failing over now and then) are in the reference too, and raise ``r``; wander
  correlated over much more than a block breaks independence by degrees;
  ``tests/unit/judge/test_bursts_simulation.py`` measures false alarms on heavy tails,
  bursty baselines, AR(1) wander, blips and warm-ups.
* the bar ``g(y)`` is set from the same reference buckets that are then counted against it:
  a reference bucket above it is above it whether or not it is left out of ``y`` (``y`` is
  the ``k``-th smallest and the bar is above it), so each reference bucket is judged as
  against the bar of the others, a ``k``-th smallest of ``n - 1`` rather than of ``n``: one
  order statistic higher. ``rate_delta`` covers that optimism;
* an hour of reference is 12 blocks: it cannot rule out much, so only a share of bad blocks
  far above it reaches the bar (bursts every few minutes make most blocks bad: flagged 30 to
  55 minutes after the first; bursts every 10 minutes make half of them bad: not flagged
  within two hours). A longer ``before`` is more power, where the monitoring keeps it.
* "worse" is "higher" (errors, latency).

The judge stays pure and deterministic: a decision is a function of the observations with
time <= ``now`` and the marks. :class:`State` only saves work: it is checked against the
window (the mark, the reference's identity, the number of observations in folded buckets)
and folded again from the start when they differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rollsafe.config import durations, models
from rollsafe.domain import verdicts
from rollsafe.judge import conditions, rules, sequential, windows
from rollsafe.judge import volume as volumes

__all__ = ["State", "bar", "judge", "steady_until"]


def bar(rule: models.BurstRule, level: float) -> float:
    """The value a bucket's median must exceed to be bad: ``max(y * min_ratio, y + min_delta)``."""
    scaled = level * rule.min_ratio if level >= 0 else level
    return max(scaled, level + rule.min_delta)


def _median(numbers: list[float]) -> float:
    numbers.sort()
    n = len(numbers)
    mid = n // 2
    return numbers[mid] if n % 2 else (numbers[mid - 1] + numbers[mid]) / 2


def _bucket(rule: models.BurstRule, span: windows.Span) -> float | None:
    present = [
        x for x in (conditions.field_of(obs, rule.field) for obs in span.values()) if x is not None
    ]
    return _median(present) if present else None


@dataclass(slots=True)
class State:
    """What the rule has folded for one target's current watch (see the module notes)."""

    key: object = None
    level: float | None = None  # the reference's quantile (None: too few buckets)
    threshold: float = math.inf
    before_bad: int = 0
    before_buckets: int = 0
    before_bad_blocks: int = 0
    before_blocks: int = 0
    before_bursts: int = 0
    done: int = 0  # buckets after the grace folded in
    counted: int = 0  # observations in them (a late arrival changes it: fold again)
    bad: int = 0
    used: int = 0  # buckets with data
    bursts: int = 0
    last_bad: bool = False  # the last bucket with data was bad (a burst is running)
    blocks: int = 0  # blocks closed with data after the grace
    bad_blocks: int = 0
    block_data: bool = False  # the block being filled has a bucket with data ...
    block_bad: bool = False  # ... and a bad one
    log_e: float = 0.0
    peak: float = 0.0
    crossed: float | None = None
    quick: object = None
    outcome: rules.Outcome | None = None

    def restart(self) -> None:
        self.done = self.counted = self.bad = self.used = self.bursts = 0
        self.blocks = self.bad_blocks = 0
        self.last_bad = self.block_data = self.block_bad = False
        self.log_e = self.peak = 0.0
        self.crossed = None
        self.quick = self.outcome = None


def judge(
    rule: models.BurstRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    reference_end: float | None,
    floor: float | None,
    state: State,
    volume: volumes.Volume | None = None,
) -> rules.Outcome:
    """The rule at ``now`` on one target: the watch is timed from the ``upgrade`` mark
    ``reference_at``; the reference ends at ``reference_end`` (the upgrade's start when one
    was marked; None: at the mark). ``floor``: the probe's interval (a bucket is never
    shorter). ``volume``: the target's request rate for a rule with ``volume`` (a bucket
    resting on too few requests is neither bad nor clean, before the upgrade and after)."""
    if reference_at is None or reference_at > now:
        return _no_data(rule, "no upgrade mark yet")
    if now > reference_at + rule.watch:
        return _watch_over(rule, reference_at)
    if window is None:
        return _no_data(rule, "no valid observation")
    width = max(rule.bucket, floor or 0.0)
    start = reference_at + rule.grace
    closed = max(0, int((min(now, reference_at + rule.watch) - start) // width))
    ref_end = reference_at if reference_end is None else min(reference_end, reference_at)
    quick = (
        reference_at,
        ref_end,
        width,
        closed,
        now < start,
        window.range(-math.inf, now).identity,
    )
    if state.quick == quick and state.outcome is not None:
        return state.outcome
    ref_start = ref_end - rule.before
    pinned = window.pinned_range(ref_end, start=ref_start)
    ref_span = pinned if pinned is not None else window.range(ref_start, ref_end, closed="left")
    key = (reference_at, ref_end, width, ref_span.identity)
    if state.key != key:
        state.key = key
        _reference(
            rule,
            state,
            ref_span,
            ref_start,
            width,
            per_block=_per_block(rule, width),
            volume=volume,
        )
        state.restart()
    if state.level is None:
        outcome = _no_data(
            rule,
            f"fewer than {rule.min_baseline} buckets of {_duration(width)} with data in the "
            f"{_duration(rule.before)} before the upgrade",
            {"upgrade_at": reference_at, "bucket_s": width},
        )
        state.quick, state.outcome = quick, outcome
        return outcome
    if state.done > closed or (
        state.done
        and len(window.range(start, start + state.done * width, closed="left")) != state.counted
    ):
        state.restart()  # an earlier ``now`` than last, or a late arrival in a folded bucket
    per_block = _per_block(rule, width)
    while state.done < closed:
        lo = start + state.done * width
        span = window.range(lo, lo + width, closed="left")
        state.done += 1
        state.counted += len(span)
        stat = None if volume is not None and volume.thin(lo, lo + width) else _bucket(rule, span)
        if stat is not None:  # no data: neither bad nor clean, and no burst ends here
            _fold(state, stat > state.threshold)
        if state.done % per_block == 0:
            _close_block(rule, state, block_end=lo + width)
    phase = "warmup" if now < start else "watching"
    outcome = _describe(rule, state, phase=phase, upgrade_at=reference_at, width=width)
    state.quick, state.outcome = quick, outcome
    return outcome


def steady_until(
    rule: models.BurstRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    floor: float | None,
) -> float:
    """A later ``now`` before which :func:`judge` answers as it does at ``now``, as long as
    nothing is folded into ``window`` and the upgrade mark stays ``reference_at`` (the
    engine's severity-first replay skips the call until then, as for a regression rule:
    ``sequential.steady_until``). What moves with time alone: the watch's end, the end of
    the grace, the next bucket closing (a block closes with its last bucket), the next value
    coming into ``now``. A little early (``windows.early``), never late.
    """
    if reference_at is None or reference_at > now:
        return math.inf  # until a mark comes into force, which the engine watches itself
    end = reference_at + rule.watch
    if now > end:
        return math.inf  # over until another mark comes
    until = end
    if window is not None:
        width = max(rule.bucket, floor or 0.0)
        start = reference_at + rule.grace
        if now < start:
            until = min(until, start)
        closed = max(0, int((min(now, end) - start) // width))
        until = min(until, start + (closed + 1) * width, window.next_value_after(now))
    return windows.early(until)


def _reference(
    rule: models.BurstRule,
    state: State,
    ref_span: windows.Span,
    ref_start: float,
    width: float,
    *,
    per_block: int,
    volume: volumes.Volume | None = None,
) -> None:
    """The reference's buckets: the bar a bad bucket must pass, how many buckets and blocks
    were bad."""
    values = ref_span.values()
    stats: list[float] = []
    buckets: dict[int, list[float]] = {}
    if values:
        for obs in values:
            x = conditions.field_of(obs, rule.field)
            if x is not None:
                buckets.setdefault(int((obs.time - ref_start) // width), []).append(x)
    if volume is not None:
        buckets = {
            i: found
            for i, found in buckets.items()
            if not volume.thin(ref_start + i * width, ref_start + (i + 1) * width)
        }
    indices = sorted(buckets) if values else []
    stats = [_median(buckets[i]) for i in indices]
    n = len(stats)
    state.before_buckets = n
    if n < rule.min_baseline:
        state.level = None
        state.threshold = math.inf
        state.before_bad = state.before_bursts = 0
        return
    ordered = sorted(stats)
    k = min(n, max(1, math.ceil(rule.quantile * n - 1e-9)))
    state.level = ordered[k - 1]
    state.threshold = bar(rule, state.level)
    flags = [x > state.threshold for x in stats]
    state.before_bad = sum(flags)
    state.before_bursts = sum(1 for i, b in enumerate(flags) if b and (i == 0 or not flags[i - 1]))
    # Whole blocks only, aligned on the reference's start (a partial last block is left out).
    whole = round(rule.before / width) // per_block
    blocks: dict[int, bool] = {}
    for index, flag in zip(indices, flags, strict=True):
        block = index // per_block
        if block < whole:
            blocks[block] = blocks.get(block, False) or flag
    state.before_blocks = len(blocks)
    state.before_bad_blocks = sum(blocks.values())


def _per_block(rule: models.BurstRule, width: float) -> int:
    """Buckets per block (at least one)."""
    return max(1, round(rule.block / width))


def _fold(state: State, bad: bool) -> None:
    """One more bucket with data after the grace: its counts and bursts."""
    state.used += 1
    state.block_data = True
    if bad:
        state.bad += 1
        state.block_bad = True
        if not state.last_bad:
            state.bursts += 1
    state.last_bad = bad


def _close_block(rule: models.BurstRule, state: State, *, block_end: float) -> None:
    """A block closed: the shares of bad blocks, the e-value, the crossing."""
    had, bad = state.block_data, state.block_bad
    state.block_data = state.block_bad = False
    if not had:
        return  # a block without data carries no evidence
    state.blocks += 1
    state.bad_blocks += bad
    if state.crossed is not None:
        return  # fired: stays fired until the watch ends
    log_e, exact = sequential.two_sample_log_e(
        kind="ratio",
        before=(float(state.before_bad_blocks), float(state.before_blocks)),
        after=(float(state.bad_blocks), float(state.blocks)),
        ratio=1.0,
        delta=rule.rate_delta,
        floor=min(state.peak, -math.log(rule.alpha)),
    )
    state.log_e = log_e
    if not exact:
        return  # an upper bound below both the peak and the bar: neither moves
    state.peak = max(state.peak, log_e)
    if log_e >= -math.log(rule.alpha) and state.bursts >= rule.min_bursts:
        state.crossed = block_end


# --------------------------------------------------------------------------- evidence


def _duration(seconds: float) -> str:
    return durations.format_duration(seconds)


def _base(rule: models.BurstRule) -> dict[str, Any]:
    return {
        "probe": rule.probe,
        "field": rule.field,
        "alpha": rule.alpha,
        "quantile": rule.quantile,
        "min_ratio": rule.min_ratio,
        "min_delta": rule.min_delta,
        "rate_delta": rule.rate_delta,
        "min_bursts": rule.min_bursts,
        "before_s": rule.before,
        "grace_s": rule.grace,
        "watch_s": rule.watch,
    }


def _no_data(
    rule: models.BurstRule, reason: str, evidence: dict[str, Any] | None = None
) -> rules.Outcome:
    found = {**_base(rule), **(evidence or {}), "no_data": True, "breached": False}
    found["reason"] = reason
    return rules.Outcome(verdicts.Severity.OK, f"{rule.probe}: no data ({reason})", found)


def _watch_over(rule: models.BurstRule, reference_at: float) -> rules.Outcome:
    # Only the mark and the rule: the watch's data is trimmed soon after it ends, and its
    # verdict is in the decisions made while it ran (as the regression rule says).
    evidence = {
        **_base(rule),
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


def _share(bad: int, total: int) -> float | None:
    return bad / total if total else None


def _percent(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.3g}%"


def _big(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


def _describe(
    rule: models.BurstRule, state: State, *, phase: str, upgrade_at: float, width: float
) -> rules.Outcome:
    level = state.level if state.level is not None else math.nan
    e_value = math.exp(min(state.log_e, 700.0))
    peak = math.exp(min(state.peak, 700.0))
    threshold = 1.0 / rule.alpha
    breached = state.crossed is not None
    before_share = _share(state.before_bad, state.before_buckets)
    after_share = _share(state.bad, state.used)
    evidence = {
        **_base(rule),
        "upgrade_at": upgrade_at,
        "bucket_s": width,
        "phase": phase,
        "reference_level": state.level,
        "bad_above": state.threshold,
        "bad_before": state.before_bad,
        "buckets_before": state.before_buckets,
        "bursts_before": state.before_bursts,
        "share_before": before_share,
        "bad_after": state.bad,
        "buckets_after": state.used,
        "bursts_after": state.bursts,
        "share_after": after_share,
        "block_s": rule.block,
        "bad_blocks_before": state.before_bad_blocks,
        "blocks_before": state.before_blocks,
        "bad_blocks_after": state.bad_blocks,
        "blocks_after": state.blocks,
        "e_value": e_value,
        "e_value_peak": peak,
        "e_threshold": threshold,
        "crossed_at": state.crossed,
        "breached": breached,
        "no_data": state.used == 0,
    }
    q = "highest" if rule.quantile >= 1 else f"p{rule.quantile * 100:g}"
    head = (
        f"{rule.probe} bad buckets (median above {conditions.number(state.threshold)}: "
        f"x{conditions.number(rule.min_ratio)} and +{conditions.number(rule.min_delta)} over "
        f"the {q} {conditions.number(level)} before the upgrade): {state.bad} of {state.used} "
        f"after the upgrade ({_percent(after_share)}, {state.bursts} separate bursts) vs "
        f"{state.before_bad} of {state.before_buckets} before ({_percent(before_share)}); "
        f"blocks of {_duration(rule.block)} with a bad bucket: {state.bad_blocks} of "
        f"{state.blocks} after vs {state.before_bad_blocks} of {state.before_blocks} before"
    )
    if breached:
        verdict = (
            f'e-value {_big(peak)} for "more bad blocks than before plus '
            f'{_percent(rule.rate_delta)}" reached 1/alpha = {_big(threshold)} (alpha '
            f"{rule.alpha:g}) with at least {rule.min_bursts} bursts: the signal now goes bad "
            "in bursts"
        )
    elif phase == "warmup":
        verdict = f"warming up ({_duration(rule.grace)} after the upgrade are not judged)"
    else:
        verdict = (
            f"e-value {_big(e_value)} (highest {_big(peak)}) < 1/alpha = {_big(threshold)} "
            f"(alpha {rule.alpha:g})"
        )
        if peak >= threshold:
            verdict += f", {state.bursts} of the {rule.min_bursts} separate bursts needed"
    summary = f"{head}: {verdict}; buckets of {_duration(width)}"
    severity = verdicts.Severity.parse(rule.severity) if breached else verdicts.Severity.OK
    pending = not breached and phase == "watching" and state.bad > 0
    return rules.Outcome(severity, summary, evidence, pending)
