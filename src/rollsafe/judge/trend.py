"""Trend rules: is a resource, growing since the upgrade, heading for exhaustion? (judge).

A leak is a slope, not a level: memory that grows a few points an hour runs out hours after
the upgrade, long after a window mean or a "pinned for 10 minutes" threshold could tell a
leak from a release that simply holds more. This module answers, for one ``trend`` rule on
one target, in the spirit of Prometheus' ``predict_linear``: *at the rate it has grown
since the upgrade, when does the signal reach its capacity?* It is pure (values and times
in, a severity, a sentence and evidence out), like the other rule kinds.

How the rate is measured, and why:

* **Only after the upgrade.** The fit covers the values since the ``upgrade`` mark that
  opened the watch (a later mark within the watch joins it: :func:`watch_start`) plus
  ``grace`` (a restart empties caches and refills them: the first minutes are warm-up,
  not trend), the last ``window`` seconds of them at most, and needs ``min_window`` at
  least: a fast leak is judged after an hour, a slow one on two hours of growth. Without a
  mark the rule has no data: a trend is judged against an upgrade.
* **A rate that held.** Least-squares slopes over the whole window and over its later half;
  the rate taken is the smaller of the two, so growth that has slowed down counts at its
  recent pace, and growth that is only an early step (a cache filled in ten minutes, then
  flat) does not count at all.
* **Faster than before the upgrade.** The slope over ``before`` seconds ending at the mark
  is measured too. Where it is clearly positive (more than :data:`Z` standard errors: a
  host whose page cache or daily load was already rising), the growth must exceed it by
  ``min_rate``; otherwise by ``min_rate`` over zero. Growth slower than ``min_rate`` per
  hour is never a trend, nor is growth within :data:`Z` standard errors of the whole fit's
  slope (a short or wandering series gives a loose one).
* **Slowing down is a plateau.** When the window's early half grew clearly faster than its
  later half (more than :data:`Z` standard errors apart), the growth is projected as
  slowing at the same pace (an exponential approach: a cache warming up): it then reaches
  capacity later, or levels off below it and never does.
* **Noise that wanders.** Memory readings are autocorrelated (a value is close to the one a
  minute before), so the standard errors come from the residuals with an AR(1)
  effective sample size (Nychka et al. 2000: ``n (1 - r - 0.68/sqrt(n)) / (1 + r +
  0.68/sqrt(n))``, ``r`` the residuals' lag-1 autocorrelation): otherwise a
  minute-by-minute series would look far more certain than it is.

How it stays cheap: a fit is formed from exact integer sums that the window keeps running
(:class:`windows.Moments`), so it costs the same whatever its length and depends on the set
of points alone; :func:`decide` answers a replay how long its severity holds (until a value
enters, leaves or crosses the middle of the span), and a :class:`Cache` per rule and target
keeps the pre-upgrade fit for the mark.

A steady rule (``steady: true``) is the slow leak's: a leak of 1 to 3 points an hour runs
out a day later, and a projection over ``within`` of a day cannot tell it, on one slope, from
a cache filling up or the morning half of a daily cycle, so its growth must show the shape
of a leak as well, which a leak has and those do not:

* **Since the upgrade.** The fit covers every value since the grace, not a sliding window:
  a leak starts with the release, so it has grown all along; the rule judges from
  ``min_window`` after the grace until ``window`` after it, then stops (a daily cycle's
  rising half many hours after the upgrade is not judged against it).
* **Steady.** The means of the span's three thirds rise in turn, each by at least half of
  what ``min_rate`` adds over a third (:data:`STEADY_SHARE`), and the last rise is at least
  half the first (:data:`LEVELLING`): a cache that fills and levels off rises less and less,
  a daily cycle or a saw-tooth gives memory back; a leak never does.
* **Above the slope before, whatever its significance.** The growth must exceed the slope of
  the ``before`` period by ``min_rate`` even when that slope is within its noise (a slow
  wander already rising is the same wander after the upgrade), and a slope that was clearly
  rising before rules a steady trend out altogether (page cache filling through the upgrade).
  Both only when the values before cover the whole ``before`` period: over a shorter
  history (a host monitored from an hour before its upgrade) the slope's error is
  understated, so it rules nothing out and sets the floor at its lower bound
  (:data:`BEFORE_SLACK`).

The rule fires (its severity) when the projected time to ``capacity`` is at most
``within``. Evidence gives the rates (per hour), the level, the projection, and one sentence
a person reads: "memory grows 9.1%/h since the upgrade (0.4%/h before); at this rate it
reaches 100% in 5.1 h".
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rollsafe.config import models
from rollsafe.domain import verdicts
from rollsafe.judge import conditions, daily, quick_slope, windows

__all__ = [
    "BEFORE_SLACK",
    "LEVELLING",
    "STEADY_SHARE",
    "Cache",
    "Fit",
    "Z",
    "decide",
    "fit",
    "fit_moments",
    "judge",
    "project",
    "watch_start",
]

Z = 2.0
"""Standard errors by which a difference of slopes must exceed zero to count (about 95%)."""

STEADY_SHARE = 0.5
"""A steady rule: each third's mean must exceed the previous one by at least this share of
what ``min_rate`` adds over a third (a leak at ``min_rate`` adds all of it)."""

LEVELLING = 0.5
"""A steady rule: the rise from the second third to the last must be at least this share of
the rise from the first to the second. A leak's two rises are equal but for noise; a cache
filling with a time constant ``tau`` gives a share of ``exp(-third / tau)``, under a half
for every cache that fills within about 1.4 thirds of the span (2 h of a 4 h span)."""

BEFORE_SLACK = 0.1
"""A steady rule: a slope before the upgrade rules a slow leak out (page cache filling
through the upgrade) only when its values cover the whole ``before`` period but this share;
over less, it sets the floor at its lower bound (:data:`Z` standard errors under it). A
shorter history gives a slope whose error the fit understates (the lag-1 autocorrelation of
an hour's residuals is biased low): in the corpus, memory of 54 of 687 targets with less
than the whole 2 hours before their upgrade (7.9%, most of them flat by construction)
measured "clearly rising" (over 2 standard errors: 2.3% expected), against 2 of 81 (2.5%)
with the whole 2 hours."""

HOUR = 3600.0
_Thirds = tuple[float, float, float]
_MAX_AUTOCORRELATION = 0.95  # a residual correlation estimate is never trusted beyond this


@dataclass(frozen=True, slots=True)
class Fit:
    """A least-squares line through ``(time, value)`` points, rates per hour."""

    rate: float  # slope, field units per hour
    stderr: float  # its standard error, corrected for autocorrelation, per hour
    level: float  # the line's value at the last point's time
    samples: int


def fit(points: Sequence[tuple[float, float]]) -> Fit | None:
    """The least-squares line through ``points`` (time in seconds, value); None under 3."""
    return fit_moments(windows.moments_of(points))


def _line(sums: windows.Moments) -> tuple[float, int, int] | None:
    """(slope per second, n times the centred sums of squares of times and of products):
    the part of :func:`fit_moments` a rule can often decide on alone (see :func:`decide`)."""
    n = sums.n
    if n < 3:
        return None
    sum_t = sums.t
    # n times the centred sums (times and values scaled by 2**kt and 2**ky; see Moments).
    dxx = n * sums.tt - sum_t * sum_t
    if dxx <= 0:
        return None
    dxy = n * sums.ty - sum_t * sums.y
    shift = sums.time_bits - sums.value_bits
    return ((dxy << shift) / dxx if shift >= 0 else dxy / (dxx << -shift)), dxx, dxy


def fit_moments(sums: windows.Moments) -> Fit | None:
    """The least-squares line from the exact sums of its points (see :class:`windows.Moments`).

    Every quantity is formed in integers, exactly, and rounded to a float once: the slope, the
    spread of the times, the residuals' sum of squares and lag-1 correlation, the line's last
    level. So the fit is a function of the set of points alone, and the same whether its sums
    were added up from scratch or read as differences of a window's running totals (which is
    what makes it cheap to keep up to date). It differs from a two-pass floating-point fit
    only in the last bits, where that one loses them to rounding.
    """
    line = _line(sums)
    if line is None:
        return None
    slope, dxx, dxy = line
    n, sum_t, sum_y = sums.n, sums.t, sums.y
    dyy = n * sums.yy - sum_y * sum_y
    kt, ky = sums.time_bits, sums.value_bits
    sxx = dxx / (n << (2 * kt))
    unexplained = dyy * dxx - dxy * dxy  # n * dxx * 4**ky * (sum of squared residuals)
    squares = unexplained / ((n * dxx) << (2 * ky))
    rho = 0.0
    if unexplained > 0:
        # Residual i times n * 2**ky * dxx is dxx * u_i - dxy * v_i, with u_i = n * y_i - sum_y
        # and v_i = n * t_i - sum_t; the sums over neighbours below expand the products.
        (t_first, y_first), (t_last, y_last) = sums.first, sums.last
        ends_t = 2 * sum_t - t_first - t_last  # each neighbour pair's t_i + t_(i-1), summed
        ends_y = 2 * sum_y - y_first - y_last
        uu = n * n * sums.lag_yy - n * sum_y * ends_y + (n - 1) * sum_y * sum_y
        vv = n * n * sums.lag_tt - n * sum_t * ends_t + (n - 1) * sum_t * sum_t
        uv = n * n * sums.lag_ty - n * sum_y * ends_t - n * sum_t * ends_y
        uv += 2 * (n - 1) * sum_y * sum_t
        lagged = dxx * dxx * uu - dxx * dxy * uv + dxy * dxy * vv
        rho = min(_MAX_AUTOCORRELATION, max(0.0, lagged / (n * dxx * unexplained)))
    # Effective sample size after Nychka et al. (2000): the plain (1 + r) / (1 - r) factor
    # underestimates the error of a short, strongly autocorrelated series, whose lag-1
    # correlation estimated from residuals is biased low; the 0.68 / sqrt(n) term offsets it.
    bias = 0.68 / math.sqrt(n)
    effective = max(3.0, n * (1.0 - rho - bias) / (1.0 + rho + bias))
    variance = squares / (n - 2) / sxx * (n / effective if effective < n else 1.0)
    level = (sum_y * dxx + dxy * (n * sums.last[0] - sum_t)) / ((n * dxx) << ky)
    return Fit(slope * HOUR, math.sqrt(variance) * HOUR, level, n)


def project(
    *, level: float, capacity: float, rate: float, slowing: tuple[float, float] | None
) -> tuple[float | None, float | None]:
    """(seconds until ``level`` reaches ``capacity``, or None if never; the plateau, if any).

    ``rate`` is per hour. ``slowing`` is ``(ratio, hours)``: the rate is multiplied by
    ``ratio`` (< 1) every ``hours``, an exponential approach whose total further growth is
    ``rate * tau`` with ``tau = hours / ln(1 / ratio)``.
    """
    gap = capacity - level
    if gap <= 0:
        return 0.0, None
    if rate <= 0:
        return None, None
    if slowing is None:
        return gap / rate * HOUR, None
    ratio, hours = slowing
    tau = hours / math.log(1.0 / ratio)
    plateau = level + rate * tau
    if rate * tau <= gap:
        return None, plateau
    return -tau * math.log(1.0 - gap / (rate * tau)) * HOUR, plateau


def watch_start(
    rule: models.TrendRule, window: windows.Window | None, reference_at: float, *, now: float
) -> float:
    """The first ``upgrade`` mark of the watch that the mark at ``reference_at`` belongs to.

    A watch opens at an ``upgrade`` mark and lasts ``grace`` plus the longest span the rule
    fits (``window``, ``min_window``); a later mark within it (a hotfix, a second package
    run while the first release is still watched) joins it instead of opening a watch of its
    own, so the fit still starts at the first mark's grace and the slope "before" is still
    read before the first mark. Measured from the later mark, a leak that began with the
    first release would have no span long enough to fit (the watch starts over) and a
    "before" that already rises (the leak itself), and would never be rolled back. A later
    release that fixes the leak stops the growth: the span's late half then grows no more,
    and the rate that held (the smaller of the two) no longer counts. A mark after the watch
    has ended opens a new one. The marks are the target's, as the engine keeps them
    (``window.holds.ends``), remembered ones only (``engine.MAX_MARKS``).

    A steady rule judges a watch only until ``window`` after its grace: once the watch of
    the first mark is over at ``now`` (not fired: a leak of its release would have been
    caught in it), the next mark opens a watch of its own, so a slow leak that a later
    release brings is still watched from that release. A sliding rule's span never ends,
    and its watch stays with the first mark.
    """
    if window is None:
        return reference_at
    ends = window.holds.ends
    if len(ends) < 2:  # one mark or none: nothing to join
        return reference_at
    length = rule.grace + max(rule.window, rule.min_window)
    start = -math.inf
    for at in ends:
        if at > reference_at:
            break
        if at - start > length or (rule.steady and now - start > length):
            start = at  # opens a watch of its own
    return reference_at if start == -math.inf else start


def _no_data(
    rule: models.TrendRule, reason: str, evidence: dict[str, Any]
) -> tuple[verdicts.Severity, str, dict[str, Any]]:
    evidence = {**evidence, "no_data": True, "reason": reason, "breached": False}
    return verdicts.Severity.OK, f"{rule.probe}: no trend yet ({reason})", evidence


def _rate(x: float, unit: str, digits: int = 1) -> str:
    return f"{conditions.number(round(x, digits))}{unit}/h"


def _level(x: float, unit: str) -> str:
    return f"{conditions.number(round(x, 1))}{unit}"


def _duration(seconds: float) -> str:
    """Hours with one decimal from an hour up ("6.1 h"), whole minutes below ("45 min")."""
    if seconds >= HOUR:
        return f"{conditions.number(round(seconds / HOUR, 1))} h"
    return f"{max(1, round(seconds / 60.0))} min"


class Cache:
    """The fits one trend rule on one target computed last, kept in its ``rules.Memo``.

    The pre-upgrade fit cannot change after the mark (unless a late value lands in the
    period); the fits since the upgrade change only when a value enters or leaves their span
    or crosses its middle. Both are keyed by what their ranges hold (``Span.identity``).
    """

    __slots__ = ("after", "after_key", "before", "before_key", "quick", "start", "start_key")

    def __init__(self) -> None:
        self.before_key: object = None
        self.before: Fit | None = None
        self.after_key: object = None
        self.after: tuple[Fit, Fit, Fit] | tuple[int, int] | None = None
        # A sliding rule's ``watch_start``, by the marks' tuple (the same object while the
        # marks stay: ``windows.Holds`` makes a new one when they change) and the mark.
        self.start_key: tuple[tuple[float, ...], float] | None = None
        self.start = 0.0
        # Float sums of the span and of its late half, for :func:`_surely_ok`'s pre-check.
        self.quick: tuple[quick_slope.Running, quick_slope.Running] | None = None


def _watch_start(
    rule: models.TrendRule, window: windows.Window, reference_at: float, now: float, cache: Cache
) -> float:
    """``watch_start`` of a sliding rule (it does not depend on ``now``), kept in ``cache``."""
    key = cache.start_key
    ends = window.holds.ends
    if key is None or key[0] is not ends or key[1] != reference_at:
        cache.start = watch_start(rule, window, reference_at, now=now)
        cache.start_key = (ends, reference_at)
    return cache.start


def _before(
    rule: models.TrendRule, window: windows.Window, reference_at: float, cache: Cache | None
) -> Fit | None:
    """The slope of the ``before`` period ending at the mark (pinned there by the engine)."""
    values = _before_values(rule, window, reference_at)
    key = (reference_at, values.identity, rule.field, rule.min_samples)
    if cache is not None and cache.before_key == key:
        return cache.before
    fitted = fit_moments(values.moments(rule.field))
    fitted = None if fitted is None or fitted.samples < rule.min_samples else fitted
    if cache is not None:
        cache.before_key, cache.before = key, fitted
    return fitted


def _before_values(
    rule: models.TrendRule, window: windows.Window, reference_at: float
) -> windows.Span:
    """The values of the ``before`` period ending at the mark (pinned there by the engine)."""
    start = reference_at - rule.before
    pinned = window.pinned_range(reference_at, start=start)
    return pinned if pinned is not None else window.range(start, reference_at, closed="left")


def _whole_before(rule: models.TrendRule, window: windows.Window, reference_at: float) -> bool:
    """Whether the values before the mark reach back over the whole ``before`` period (up to
    :data:`BEFORE_SLACK` of it): only then may a steady rule take a rise before the upgrade
    for one that goes on through it (see :data:`BEFORE_SLACK`)."""
    first = _before_values(rule, window, reference_at).first_time
    return first is not None and first <= reference_at - rule.before * (1.0 - BEFORE_SLACK)


def _after(
    rule: models.TrendRule, window: windows.Window, now: float, span: float, cache: Cache | None
) -> tuple[Fit, Fit, Fit] | tuple[int, int] | None:
    """Fits of the last ``span`` seconds (whole, early half, late half); too few values in a
    half: how many each holds; None: the values are all at one time."""
    half = now - span / 2.0
    whole = window.range(now - span, now)
    late = window.range(half, now)
    # The early half lies between their starts; the rule's own inputs, should it change.
    key = (whole.identity, late.identity, rule.field, rule.min_samples)
    if cache is not None and cache.after_key == key:
        return cache.after
    early = window.range(now - span, half)
    # The whole span and its late half first: their sums move by a value or two from where
    # the last call left them, and the early half's are then their difference (whereas asked
    # first, they are summed again from a cursor far off: ``windows._MomentTotals``).
    sums_whole, sums_late = whole.moments(rule.field), late.moments(rule.field)
    sums_early = early.moments(rule.field)
    result: tuple[Fit, Fit, Fit] | tuple[int, int] | None
    if min(sums_early.n, sums_late.n) < rule.min_samples:
        result = (sums_early.n, sums_late.n)
    else:
        fitted = fit_moments(sums_whole)
        fitted_early, fitted_late = fit_moments(sums_early), fit_moments(sums_late)
        if fitted is None or fitted_early is None or fitted_late is None:
            result = None
        else:
            result = (fitted, fitted_early, fitted_late)
    if cache is not None:
        cache.after_key, cache.after = key, result
    return result


@dataclass(frozen=True, slots=True)
class _Assessment:
    """What the fits say against the rule: shared by :func:`judge` and :func:`decide`."""

    rising_before: bool
    floor: float  # the pre-upgrade rate the growth must exceed (0 unless clearly rising)
    held: float  # the rate that held: the smaller of the whole and the late half's
    slowing: bool
    needed: float  # the rate that counts as a trend
    eta: float | None  # seconds to capacity (None: never, or under ``needed``)
    plateau: float | None
    breached: bool
    unsteady: str | None = None  # a steady rule: why the growth is not a leak's shape


def _thirds(
    rule: models.TrendRule, window: windows.Window, now: float, span: float
) -> tuple[float, float, float] | None:
    """The means of the three thirds of ``(now - span, now]`` (None: a third is empty)."""
    start, third = now - span, span / 3.0
    # The thirds share their boundaries (``start + k * third`` for k = 1, 2 is the float
    # ``start + third``, ``start + 2.0 * third``): four searches, not six, for the ranges
    # ``Window.range`` gives (closed on the right).
    times = window.series.times
    edges = [
        bisect.bisect_right(times, bound)
        for bound in (start, start + third, start + 2.0 * third, now)
    ]
    means = []
    for k in range(3):
        # Sums and counts from the window's running totals: a mean needs no moments, and
        # asking for three more ranges' would move the fits' cursors far and often.
        lo = edges[k]
        values = windows.Span(window.series, lo, max(lo, edges[k + 1]))
        count = values.present(rule.field)
        if count == 0:
            return None
        means.append(values.total(rule.field) / count)
    return means[0], means[1], means[2]


def _day_before(
    rule: models.TrendRule, window: windows.Window, now: float, span: float
) -> tuple[float, float, float] | None:
    """The means of the same thirds a day earlier, from the window's profile of the rule's
    field (``judge/daily.py``); None when it has no profile or too little of that day."""
    profile = next((p for p in window.profiles if p.field == rule.field), None)
    if profile is None:
        return None
    start, third = now - span - daily.DAY, span / 3.0
    means = []
    for k in range(3):
        mean = profile.mean(start + k * third, start + (k + 1) * third)
        if mean is None:
            return None
        means.append(mean)
    return means[0], means[1], means[2]


def _shape(
    rule: models.TrendRule, window: windows.Window, now: float, span: float
) -> tuple[tuple[float, float, float] | None, tuple[float, float, float] | None]:
    """A steady rule's thirds' means, and the day before's (both None for another rule)."""
    if not rule.steady:
        return None, None
    return _thirds(rule, window, now, span), _day_before(rule, window, now, span)


def _profile_edges(
    rule: models.TrendRule, window: windows.Window, now: float, start: float
) -> float:
    """When one of the day-before thirds' ends, ``start + k (now - start) / 3 - DAY``, next
    reaches a block's edge: the day-before means change then, with no value folded."""
    if not any(p.field == rule.field for p in window.profiles):
        return math.inf
    until = math.inf
    for k in (1, 2, 3):
        end = start + k * (now - start) / 3.0 - daily.DAY
        edge = (math.floor(end / daily.BLOCK) + 1) * daily.BLOCK
        until = min(until, windows.early(start + 3.0 * (edge + daily.DAY - start) / k))
    return until


def _unsteady(
    rule: models.TrendRule,
    thirds: tuple[float, float, float] | None,
    span: float,
    *,
    rising_before: bool,
    day_before: tuple[float, float, float] | None = None,
) -> str | None:
    """Why growth that a steady rule would project is not a leak's shape (None: it is).

    With the day before known, the growth beyond it at the same hours must rise in every
    third too: a daily cycle climbs the same way on both days, a leak adds to it. (Its
    levelling is not tested on the difference: the day before's wander would double the
    noise of a test a cache already fails on the day itself.)
    """
    if rising_before:
        return "already rising before the upgrade"
    fault = _thirds_fault(rule, thirds, span)
    if thirds is None:  # fault "empty"
        return "a third of the span holds no value"
    if fault == "flat":
        return f"not rising in every third ({_rises(rule, thirds)})"
    if fault == "levelling":
        return f"rising less and less, levelling off ({_rises(rule, thirds)})"
    if day_before is not None:
        step = STEADY_SHARE * rule.min_rate * span / 3.0 / HOUR
        beyond = [today - then for today, then in zip(thirds, day_before, strict=True)]
        if beyond[1] - beyond[0] < step or beyond[2] - beyond[1] < step:
            before = ", ".join(_level(m, rule.unit) for m in day_before)
            return (
                "not rising beyond the day before at the same hours "
                f"({_rises(rule, thirds)}; then {before})"
            )
    return None


def _thirds_fault(
    rule: models.TrendRule, thirds: tuple[float, float, float] | None, span: float
) -> Literal["empty", "flat", "levelling"] | None:
    """What rules a steady trend out on the span's thirds alone (None: nothing): a third
    with no value, a third not rising by ``step`` on the one before, or a levelling off.
    Without words: ``decide`` asks at every value whether there is one, and formatting the
    three means cost more than the test (:func:`_unsteady` words it)."""
    if thirds is None:
        return "empty"
    step = STEADY_SHARE * rule.min_rate * span / 3.0 / HOUR
    first, second, last = thirds
    if second - first < step or last - second < step:
        return "flat"
    if last - second < LEVELLING * (second - first):
        return "levelling"
    return None


def _rises(rule: models.TrendRule, thirds: tuple[float, float, float]) -> str:
    return f"means of its thirds {', '.join(_level(m, rule.unit) for m in thirds)}"


def _assess(
    rule: models.TrendRule,
    fits: tuple[Fit, Fit, Fit],
    before: Fit | None,
    span: float,
    *,
    thirds: tuple[float, float, float] | None = None,
    day_before: tuple[float, float, float] | None = None,
    whole_before: bool = True,
) -> _Assessment:
    fitted, early, late = fits
    # A trend already there before the upgrade is not the upgrade's; noise is not a trend.
    rising_before = before is not None and before.rate > Z * before.stderr
    floor = before.rate if rising_before and before is not None else 0.0
    if rule.steady and before is not None:
        # A slow rate is judged above the slope before, significant or not: a wander that
        # was rising before the upgrade rises at the same pace after it. Measured over part
        # of the period only, the slope is taken at the least it may be (Z standard errors
        # under it): its error is understated there (see BEFORE_SLACK).
        floor = max(0.0, before.rate - (0.0 if whole_before else Z * before.stderr))
    held = min(fitted.rate, late.rate)
    slowing = 0 < late.rate < early.rate and early.rate - late.rate > Z * math.hypot(
        early.stderr, late.stderr
    )
    # The growth must pass `min_rate`, and stand out of the fit's own noise (a short or
    # wandering series gives a loose slope).
    needed = floor + max(rule.min_rate, Z * fitted.stderr)
    if held < needed:
        return _Assessment(rising_before, floor, held, slowing, needed, None, None, False)
    if rule.steady:
        unsteady = _unsteady(
            rule, thirds, span, rising_before=rising_before and whole_before, day_before=day_before
        )
        if unsteady is not None:
            return _Assessment(
                rising_before, floor, held, slowing, needed, None, None, False, unsteady
            )
    eta, plateau = project(
        level=late.level,
        capacity=rule.capacity,
        rate=held,
        slowing=(late.rate / early.rate, span / 2.0 / HOUR) if slowing else None,
    )
    breached = eta is not None and eta <= rule.within
    return _Assessment(rising_before, floor, held, slowing, needed, eta, plateau, breached)


def _verdict(
    rule: models.TrendRule,
    window: windows.Window,
    fits: tuple[Fit, Fit, Fit],
    span: float,
    *,
    now: float,
    reference_at: float,
    cache: Cache | None,
) -> tuple[_Assessment, Fit | None, _Thirds | None, _Thirds | None]:
    """:func:`_assess` of ``fits`` against the slope before the mark and, for a steady rule,
    the thirds' shape, told whether the values before cover the whole ``before`` period
    (:func:`_whole_before`); with the slope before, the thirds and the day before's."""
    before = _before(rule, window, reference_at, cache)
    thirds, day_before = _shape(rule, window, now, span)
    whole = not rule.steady or _whole_before(rule, window, reference_at)
    verdict = _assess(
        rule, fits, before, span, thirds=thirds, day_before=day_before, whole_before=whole
    )
    return verdict, before, thirds, day_before


def _span(rule: models.TrendRule, now: float, reference_at: float) -> float:
    # The fit covers everything since the grace, up to `window`; at least `min_window`. A
    # steady rule's span never slides: it is judged only while it is at most `window`.
    if rule.steady:
        return now - reference_at - rule.grace
    return min(rule.window, now - reference_at - rule.grace)


def judge(
    rule: models.TrendRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    cache: Cache | None = None,
) -> tuple[verdicts.Severity, str, dict[str, Any]]:
    """The trend of ``rule.probe`` since the upgrade at ``reference_at`` (see the module notes).

    ``cache``, kept by the caller per (target, rule), saves refitting what has not changed.
    """
    evidence: dict[str, Any] = {
        "probe": rule.probe,
        "field": rule.field,
        "capacity": rule.capacity,
        "within_s": rule.within,
        "window_s": rule.window,
        "before_s": rule.before,
        "grace_s": rule.grace,
        "min_rate_per_h": rule.min_rate,
        "steady": rule.steady,
        "reference_end": reference_at,
    }
    if reference_at is None or reference_at > now:
        return _no_data(rule, "no upgrade mark to measure a trend from", evidence)
    reference_at, since = _watched(rule, window, reference_at, evidence, now=now)
    span = _span(rule, now, reference_at)
    if span < rule.min_window:
        need = rule.grace + rule.min_window
        return _no_data(rule, f"it needs {_duration(need)} after the upgrade", evidence)
    if rule.steady and span > rule.window:
        over = rule.grace + rule.window
        return _no_data(rule, f"its watch ended {_duration(over)} after the upgrade", evidence)
    if window is None:
        return _no_data(rule, "no valid observation", evidence)
    evidence["span_s"] = span
    fits = _after(rule, window, now, span, cache)
    if fits is None:
        return _no_data(rule, "values all at one time", evidence)
    if len(fits) == 2:
        return _no_data(
            rule,
            f"{fits[0]} and {fits[1]} values in the two halves of the last "
            f"{_duration(span)}, {rule.min_samples} needed in each",
            evidence,
        )
    fitted, early, late = fits
    verdict, before, thirds, day_before = _verdict(
        rule, window, fits, span, now=now, reference_at=reference_at, cache=cache
    )
    rising_before, floor, held, slowing = (
        verdict.rising_before,
        verdict.floor,
        verdict.held,
        verdict.slowing,
    )
    evidence.update(
        samples=fitted.samples,
        rate_per_h=fitted.rate,
        rate_stderr_per_h=fitted.stderr,
        early_rate_per_h=early.rate,
        late_rate_per_h=late.rate,
        held_rate_per_h=held,
        before_rate_per_h=None if before is None else before.rate,
        before_samples=0 if before is None else before.samples,
        rising_before=rising_before,
        level=late.level,
        slowing=slowing,
        no_data=False,
    )
    if rule.steady:
        evidence.update(thirds_means=thirds and list(thirds))
        evidence.update(day_before_means=day_before and list(day_before))
    unit = rule.unit
    before_text = _before_text(before, unit, rising=rising_before)
    if slowing:
        before_text = f"slowing from {_rate(early.rate, unit)}; {before_text}"
    grows = f"{rule.probe} grows {_rate(held, unit)} since {since} ({before_text})"
    needed = verdict.needed
    if held < needed:
        digits = 2 if round(held, 1) == round(needed, 1) else 1
        grows = grows.replace(_rate(held, unit), _rate(held, unit, digits), 1)
        summary = f"{grows}: under the {_rate(needed, unit, digits)} that counts as a trend"
        evidence.update(
            exhausted_in_s=None,
            plateau=None,
            breached=False,
            closeness=max(0.0, min(0.99, (held - floor) / (needed - floor))),
            detail=summary,
        )
        return verdicts.Severity.OK, summary, evidence
    if verdict.unsteady is not None:
        return _unsteady_outcome(grows, verdict.unsteady, evidence)
    if rule.steady:
        grows = f"{grows}, steadily ({_steadily(thirds, day_before, unit)})"
    eta, plateau, breached = verdict.eta, verdict.plateau, verdict.breached
    cap = _level(rule.capacity, unit)
    if eta is None:
        summary = f"{grows}: levels off near {_level(plateau or late.level, unit)}, under {cap}"
    elif eta == 0:
        summary = f"{grows}: already at {_level(late.level, unit)}, capacity {cap}"
    else:
        pace = "at this slowing pace" if slowing else "at this rate"
        summary = f"{grows}; {pace} it reaches {cap} in {_duration(eta)}"
        if not breached:
            summary += f", beyond {_duration(rule.within)}"
    evidence.update(
        exhausted_in_s=eta,
        plateau=plateau,
        breached=breached,
        # How near it came, for `backtest --data` on a miss: 1 when it fires.
        closeness=0.0 if eta is None else min(1.0, rule.within / max(eta, 1.0)),
        detail=summary,
    )
    severity = verdicts.Severity.parse(rule.severity) if breached else verdicts.Severity.OK
    return severity, summary, evidence


def _watched(
    rule: models.TrendRule,
    window: windows.Window | None,
    latest: float,
    evidence: dict[str, Any],
    *,
    now: float,
) -> tuple[float, str]:
    """(the first mark of the watch the ``latest`` mark is in, "since" words for it): a
    later mark of the same watch does not start the trend over (:func:`watch_start`); the
    evidence says which marks joined it."""
    first = watch_start(rule, window, latest, now=now)
    if first == latest or window is None:
        return latest, "the upgrade"
    later = [at for at in window.holds.ends if first < at <= latest]
    evidence.update(reference_end=first, watch_from=first, later_marks=later)
    return first, f"the first of {len(later) + 1} upgrades"


def _before_text(before: Fit | None, unit: str, *, rising: bool) -> str:
    if before is None:
        return "rate before the upgrade unknown"
    return f"{_rate(before.rate, unit)} before" + (", already rising" if rising else "")


def _steadily(
    thirds: tuple[float, float, float] | None,
    day_before: tuple[float, float, float] | None,
    unit: str,
) -> str:
    text = "" if thirds is None else ", ".join(_level(m, unit) for m in thirds)
    if day_before is not None:
        text += f"; the day before {', '.join(_level(m, unit) for m in day_before)}"
    return f"means of its thirds {text}"


def _unsteady_outcome(
    grows: str, unsteady: str, evidence: dict[str, Any]
) -> tuple[verdicts.Severity, str, dict[str, Any]]:
    summary = f"{grows}: not a steady leak, {unsteady}"
    evidence.update(
        exhausted_in_s=None,
        plateau=None,
        breached=False,
        unsteady=unsteady,
        closeness=0.5,  # the rate was there; the shape was not a leak's
        detail=summary,
    )
    return verdicts.Severity.OK, summary, evidence


def _slack(*times: float) -> float:
    """More than the rounding of a sum or difference of ``times`` (see ``windows.early``)."""
    return sum(abs(t) for t in times) * 1e-12 + 1e-9


def _surely_ok(
    rule: models.TrendRule,
    series: windows.Series,
    lo: int,
    mid: int,
    hi: int,
    *,
    cache: Cache | None = None,
) -> bool:
    """True when the slopes alone settle the rule at OK, as :func:`judge` would: too few
    values in a half, or a held rate (the smaller of the whole span's and its late half's)
    under ``min_rate``, which every rate that counts as a trend is at least. A shortcut for
    :func:`decide`: a flat host's memory is settled on one slope or two, without errors.
    ``[lo, hi)`` and ``[mid, hi)``: the positions of the span ``(now - span, now]`` and of its
    late half (``Window.range``'s bounds), found once for the horizon too.

    With a ``cache``, each slope is first tested on float sums (``quick_slope``), and on the
    exact sums only when the floats cannot tell (within their proven rounding of the line):
    the answer is the exact test's either way."""
    if hi <= lo:
        return True  # no values: fewer than ``min_samples`` in each half
    if cache is None:
        return _surely_ok_exact(rule, series, lo, mid, hi)
    quick = cache.quick
    if quick is None or quick[0].field != rule.field:
        quick = cache.quick = (quick_slope.Running(rule.field), quick_slope.Running(rule.field))
    count, under = quick[0].below(series, lo, hi, rule.min_rate)
    if count < 2 * rule.min_samples:
        return True  # one of the halves has fewer than ``min_samples``
    if under is None:
        under = _under(rule, series.moment_totals(rule.field).moments(lo, hi))
    if under:
        return True  # judge: "values all at one time", or a held rate under ``min_rate``
    count_late, under = quick[1].below(series, mid, hi, rule.min_rate) if hi > mid else (0, True)
    if min(count - count_late, count_late) < rule.min_samples:
        return True
    if under is None:
        under = _under(rule, series.moment_totals(rule.field).moments(mid, hi))
    return under


def _under(rule: models.TrendRule, sums: windows.Moments) -> bool:
    """The exact test: no line through ``sums``, or its slope per hour under ``min_rate``."""
    line = _line(sums)
    return line is None or line[0] * HOUR < rule.min_rate


def _surely_ok_exact(
    rule: models.TrendRule, series: windows.Series, lo: int, mid: int, hi: int
) -> bool:
    """:func:`_surely_ok` on the exact sums alone (``hi > lo``)."""
    totals = series.moment_totals(rule.field)
    sums = totals.moments(lo, hi)
    if sums.n < 2 * rule.min_samples:
        return True  # one of the halves has fewer than ``min_samples``
    if _under(rule, sums):
        return True  # judge: "values all at one time", or a held rate under ``min_rate``
    sums_late = totals.moments(mid, hi) if hi > mid else windows.NO_MOMENTS
    if min(sums.n - sums_late.n, sums_late.n) < rule.min_samples:
        return True
    return _under(rule, sums_late)


def decide(
    rule: models.TrendRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    cache: Cache | None = None,
) -> tuple[verdicts.Severity, float]:
    """The severity :func:`judge` gives at ``now``, and until when it holds (a later ``now``
    before which it stays the same, as long as nothing is folded into ``window`` and the
    mark stays): what ``rules.decide`` answers for a trend rule (see :func:`decide_reading`).
    """
    severity, until, _ = decide_reading(
        rule, window, now=now, reference_at=reference_at, cache=cache
    )
    return severity, until


def decide_reading(
    rule: models.TrendRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    cache: Cache | None = None,
) -> tuple[verdicts.Severity, float, bool]:
    """:func:`decide`'s severity and ``until``, and whether that answer read ``window``'s
    values. False: it read only the marks (no mark in force, the fit not ready yet, a steady
    rule's watch over), so it holds until ``until`` or the next mark whatever is folded
    into ``window`` meanwhile (``engine.Engine._decide`` then skips the rule's folds). The
    marks are read from ``window`` (``watch_start``): with no window yet, True.

    Time alone changes the fits only when a value enters the span, leaves its start, or
    crosses its middle. Until the span is whole (``window`` after the grace) it starts at
    the grace and grows, and its middle moves at half the pace of ``now``; then it slides.
    Near a boundary (within rounding of one of those instants), and while a projection that
    slows down depends on the growing span's length, it holds for one instant only.
    """
    ok = verdicts.Severity.OK
    if reference_at is None or reference_at > now:
        return ok, math.inf if reference_at is None else reference_at, False
    if window is not None and cache is not None and not rule.steady:
        reference_at = _watch_start(rule, window, reference_at, now, cache)
    else:
        reference_at = watch_start(rule, window, reference_at, now=now)
    reads = window is None  # the marks ``watch_start`` reads are the window's, if any
    ready = windows.early(reference_at + rule.grace + rule.min_window)
    if now < ready:
        return ok, ready, reads
    instant = math.nextafter(now, math.inf)
    span = _span(rule, now, reference_at)
    if span < rule.min_window:
        return ok, instant, reads  # within rounding of the first instant the fit can start
    if rule.steady and span > rule.window:
        return ok, math.inf, reads  # the watch is over until the next mark
    if window is None:
        return ok, math.inf, True
    severity, by_length = ok, False
    times = window.series.times
    lo = bisect.bisect_right(times, now - span)
    hi = bisect.bisect_right(times, now)
    mid = bisect.bisect_right(times, now - span / 2.0)
    # A steady rule's thirds come from running sums, cheaper than the fits: memory that does
    # not rise in every third (most hosts, most of the time) is settled without them, as
    # judge would settle it (not steady: OK whatever the rates). The thirds change with time
    # alone only when a boundary passes a value, and a rise under ``step`` stays under it
    # as the span (and ``step``) grows.
    shapeless = rule.steady and (
        _thirds_fault(rule, _thirds(rule, window, now, span), span) is not None
    )
    if not shapeless and not _surely_ok(rule, window.series, lo, mid, hi, cache=cache):
        fits = _after(rule, window, now, span, cache)
        if fits is not None and len(fits) == 3:
            verdict = _verdict(
                rule, window, fits, span, now=now, reference_at=reference_at, cache=cache
            )[0]
            if verdict.breached:
                severity = verdicts.Severity.parse(rule.severity)
            # A slowing projection's pace is set by the span's length (see ``_assess``), and
            # so is the rise a steady rule's thirds need.
            by_length = (verdict.slowing or rule.steady) and verdict.held >= verdict.needed
    if span >= rule.window and not rule.steady:  # whole: the span and its halves slide
        # ``min(window.steady(now, rule.window), window.steady(now, rule.window / 2))``
        # (closed on the right), from the bounds found above: ``span`` is ``rule.window``.
        count = len(times)
        until = math.inf
        if lo < count:
            until = windows.early(times[lo] + rule.window)
        if mid < count:
            until = min(until, windows.early(times[mid] + rule.window / 2.0))
        if hi < count:
            until = min(until, windows.early(times[hi]))
        return severity, max(until, instant), True
    if by_length:
        return severity, instant, True
    start = reference_at + rule.grace  # the growing span's start, up to rounding
    slack = _slack(now, start)
    half = now - span / 2.0
    # ``Window.range``'s searches, done once: a value within rounding of the start; the
    # newest value of the early half ``(now - span, half]``, whose end is ``mid`` above.
    if bisect.bisect_right(times, start + slack) > bisect.bisect_right(times, start - slack):
        return severity, instant, True  # a value within rounding of the start
    if mid > lo and times[mid - 1] > half - slack:
        return severity, instant, True  # a value within rounding of the middle
    until = _growing_until(rule, window, now=now, span=span, start=start, slack=slack, lo=lo, hi=hi)
    return severity, max(until, instant), True


def _growing_until(
    rule: models.TrendRule,
    window: windows.Window,
    *,
    now: float,
    span: float,
    start: float,
    slack: float,
    lo: int,
    hi: int,
) -> float:
    """:func:`decide`'s ``until`` while the span grows from ``start`` (``now`` itself when a
    value lies within rounding of a third's boundary). ``[lo, hi)``: the span's positions,
    as :func:`decide` found them."""
    until = min(window.next_value_after(now), windows.early(start + rule.window))
    if rule.steady:
        until = min(until, _profile_edges(rule, window, now, start))
    # A boundary at the share ``f`` of the span, start + f (now - start), passes the oldest
    # value after it, at ``t``, when now reaches start + (t - start) / f: the middle for
    # every rule, the thirds' boundaries for a steady one.
    # The positions ``Window.range`` would find, with one search per boundary.
    times = window.series.times
    for share in (0.5, 1.0 / 3.0, 2.0 / 3.0) if rule.steady else (0.5,):
        boundary = now - (1.0 - share) * span
        at = min(max(bisect.bisect_right(times, boundary), lo), hi)
        if share != 0.5 and at > lo and times[at - 1] > boundary - slack:
            return now  # a value within rounding of a third's boundary
        if at < hi:  # the oldest value after the boundary
            until = min(until, windows.early(start + (times[at] - start) / share))
    return until
