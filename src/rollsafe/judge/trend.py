"""Trend rules: is a resource, growing since the upgrade, heading for exhaustion? (judge).

A leak is a slope, not a level: memory that grows a few points an hour runs out hours after
the upgrade, long after a window mean or a "pinned for 10 minutes" threshold could tell a
leak from a release that simply holds more. This module answers, for one ``trend`` rule on
one target, in the spirit of Prometheus' ``predict_linear``: *at the rate it has grown
since the upgrade, when does the signal reach its capacity?* It is pure (values and times
in, a severity, a sentence and evidence out), like the other rule kinds.

How the rate is measured, and why:

* **Only after the upgrade.** The fit covers the values since the latest ``upgrade`` mark
  plus ``grace`` (a restart empties caches and refills them: the first minutes are warm-up,
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

The rule fires (its severity) when the projected time to ``capacity`` is at most
``within``. Evidence gives the rates (per hour), the level, the projection, and one sentence
a person reads: "memory grows 9.1%/h since the upgrade (0.4%/h before); at this rate it
reaches 100% in 5.1 h".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rollsafe.config import models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import conditions, windows

__all__ = ["Fit", "Z", "fit", "judge", "project"]

Z = 2.0
"""Standard errors by which a difference of slopes must exceed zero to count (about 95%)."""

HOUR = 3600.0
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
    n = len(points)
    if n < 3:
        return None
    mean_t = math.fsum(t for t, _ in points) / n
    mean_y = math.fsum(y for _, y in points) / n
    sxx = math.fsum((t - mean_t) ** 2 for t, _ in points)
    if sxx <= 0:
        return None
    slope = math.fsum((t - mean_t) * (y - mean_y) for t, y in points) / sxx
    residuals = [y - (mean_y + slope * (t - mean_t)) for t, y in points]
    squares = math.fsum(r * r for r in residuals)
    lagged = math.fsum(residuals[i] * residuals[i - 1] for i in range(1, n))
    rho = min(_MAX_AUTOCORRELATION, max(0.0, lagged / squares)) if squares > 0 else 0.0
    # Effective sample size after Nychka et al. (2000): the plain (1 + r) / (1 - r) factor
    # underestimates the error of a short, strongly autocorrelated series, whose lag-1
    # correlation estimated from residuals is biased low; the 0.68 / sqrt(n) term offsets it.
    bias = 0.68 / math.sqrt(n)
    effective = max(3.0, n * (1.0 - rho - bias) / (1.0 + rho + bias))
    variance = squares / (n - 2) / sxx * (n / effective if effective < n else 1.0)
    level = mean_y + slope * (points[-1][0] - mean_t)
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


def _points(
    values: Sequence[observations.Observation], field: models.Field_
) -> list[tuple[float, float]]:
    out = []
    for obs in values:
        x = conditions.field_of(obs, field)
        if x is not None and math.isfinite(x):
            out.append((obs.time, x))
    return out


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


def _before(rule: models.TrendRule, window: windows.Window, reference_at: float) -> Fit | None:
    """The slope of the ``before`` period ending at the mark (pinned there by the engine)."""
    start = reference_at - rule.before
    pinned = window.pinned_range(reference_at, start=start)
    values = pinned if pinned is not None else window.range(start, reference_at, closed="left")
    fitted = fit(_points(values.values(), rule.field))
    return None if fitted is None or fitted.samples < rule.min_samples else fitted


def _after(
    rule: models.TrendRule, window: windows.Window, now: float, span: float
) -> tuple[Fit, Fit, Fit] | str:
    """Fits of the last ``span`` seconds (whole, early half, late half), or why none."""
    half = now - span / 2.0
    whole = _points(window.range(now - span, now).values(), rule.field)
    early = [p for p in whole if p[0] <= half]
    late = [p for p in whole if p[0] > half]
    if min(len(early), len(late)) < rule.min_samples:
        return (
            f"{len(early)} and {len(late)} values in the two halves of the last "
            f"{_duration(span)}, {rule.min_samples} needed in each"
        )
    fitted, fitted_early, fitted_late = fit(whole), fit(early), fit(late)
    if fitted is None or fitted_early is None or fitted_late is None:
        return "values all at one time"
    return fitted, fitted_early, fitted_late


def judge(
    rule: models.TrendRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
) -> tuple[verdicts.Severity, str, dict[str, Any]]:
    """The trend of ``rule.probe`` since the upgrade at ``reference_at`` (see the module notes)."""
    evidence: dict[str, Any] = {
        "probe": rule.probe,
        "field": rule.field,
        "capacity": rule.capacity,
        "within_s": rule.within,
        "window_s": rule.window,
        "before_s": rule.before,
        "grace_s": rule.grace,
        "min_rate_per_h": rule.min_rate,
        "reference_end": reference_at,
    }
    if reference_at is None or reference_at > now:
        return _no_data(rule, "no upgrade mark to measure a trend from", evidence)
    # The fit covers everything since the grace, up to `window`; at least `min_window`.
    span = min(rule.window, now - reference_at - rule.grace)
    if span < rule.min_window:
        need = rule.grace + rule.min_window
        return _no_data(rule, f"it needs {_duration(need)} after the upgrade", evidence)
    if window is None:
        return _no_data(rule, "no valid observation", evidence)
    evidence["span_s"] = span
    fits = _after(rule, window, now, span)
    if isinstance(fits, str):
        return _no_data(rule, fits, evidence)
    fitted, early, late = fits
    before = _before(rule, window, reference_at)
    # A trend already there before the upgrade is not the upgrade's; noise is not a trend.
    rising_before = before is not None and before.rate > Z * before.stderr
    floor = before.rate if rising_before and before is not None else 0.0
    held = min(fitted.rate, late.rate)
    slowing = 0 < late.rate < early.rate and early.rate - late.rate > Z * math.hypot(
        early.stderr, late.stderr
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
    unit = rule.unit
    if before is None:
        before_text = "rate before the upgrade unknown"
    else:
        before_text = f"{_rate(before.rate, unit)} before" + (
            ", already rising" if rising_before else ""
        )
    if slowing:
        before_text = f"slowing from {_rate(early.rate, unit)}; {before_text}"
    grows = f"{rule.probe} grows {_rate(held, unit)} since the upgrade ({before_text})"
    # The growth must pass `min_rate`, and stand out of the fit's own noise (a short or
    # wandering series gives a loose slope).
    needed = floor + max(rule.min_rate, Z * fitted.stderr)
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
    eta, plateau = project(
        level=late.level,
        capacity=rule.capacity,
        rate=held,
        slowing=(late.rate / early.rate, span / 2.0 / HOUR) if slowing else None,
    )
    breached = eta is not None and eta <= rule.within
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
