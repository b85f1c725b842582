"""A float pre-check of a trend's slope test, with a proven error bound (judge).

``trend._surely_ok`` asks, at nearly every value of a memory series, whether a least-squares
slope per hour is under ``min_rate``; the exact answer (``trend._line``) needs the exact
integer sums of ``windows.Moments``, whose cursors cost a few microseconds per value moved.
Most of those questions are far from the line (a flat host's slope is near zero), so this
module keeps plain float sums of the same range, bounds their rounding error, and answers
only when the float slope is further from the threshold than that bound: then the exact test
gives the same answer, bit for bit. Otherwise it says "unknown" and the caller asks the exact
sums. A decision therefore never depends on the float path; only its cost does.

**The running sums.** :class:`Running` keeps, over the finite values of one field at the
series positions ``[lo, hi)``, the count ``n`` (an integer, exact) and four float sums with
``d = fl(t - t0)`` (``t0`` the time of the first value when the sums were started afresh):
``T = sum d``, ``Y = sum y``, ``TT = sum fl(d*d)``, ``TY = sum fl(d*y)``. A range moves one
value at a time, adding what enters and subtracting what leaves. ``u = 2**-53`` is the unit
roundoff (round to nearest): ``fl(a op b) = (a op b)(1 + e)``, ``|e| <= u``, for normal
results; below the normal range (``2**-1022``) an operation errs by at most ``2**-1075``
instead, which the absolute slacks below cover: each update adds ``2**-1019`` to ``M`` (so
``u M`` grows by ``2**-1072`` for the update and its term), ``E_D`` and ``E_N`` carry
``2**-1000`` more, and the margin ``1e-300``. Values so small are not memory readings; the
argument covers them all the same.

*Each term's error.* With ``tau = t - t0`` (real), ``d = tau(1 + e0)``, so
``|d - tau| <= u|tau| <= u(1 + 2u)|d|``. A value ``y`` is used as the float it is (the exact path
scales the same float to an integer without loss), so ``Y``'s terms are exact. A product
term ``p = fl(d*y)`` differs from ``tau*y`` by at most ``u|d y| + |d - tau||y| <= 4u|p|``
(with ``|d y| <= |p|(1 + 2u)``); ``fl(d*d)`` from ``tau**2`` by at most
``u d**2 + |d - tau||d + tau| <= (3u + 6u**2) d**2 <= 4u fl(d*d)`` likewise. So every term
(``d`` itself too) is within ``4u|term|`` of its real value.

*Each update's error.* ``S' = fl(S +- term)`` adds at most ``u|S'| (1 + 2u)``. Summing over
every update since the sums were started afresh, the float sum differs from the real sum of
the real terms of the values in range by at most ``u * M``, with
``M = (1 + 2u) sum(|S'| + 4|term|)`` over those updates; :class:`Running` keeps ``M`` for each
sum (``mt``, ``my``, ``mtt``, ``mty``). ``M`` is itself a float sum of non-negative numbers,
``k`` of them since the start, so it is low by at most a factor ``1 - k u``; the sums are
started afresh after at most ``_FRESH`` updates (sooner: after eight times as many updates as
the range holds, which keeps ``t0`` near the range and ``M`` near its sums, and whenever the
range moves by more than it holds), so ``k u < 2**-30`` and ``E = 1.01 u M`` is a sound
bound for every sum.

**The slope and its test.** The exact test is ``fl(fl(N / D) * 3600) < m`` with
``D = n TT - T**2`` and ``N = n TY - T Y`` the real centred sums (they do not depend on the
origin ``t0``: ``trend._line``'s integers are the same ``N`` and ``D`` scaled by powers of
two, and its one rounding is the division's). From the floats, ``D^ = fl(fl(n TT^) -
fl(T^**2))`` and
``|D^ - D| <= n E_TT + (2|T^| + E_T) E_T + 3u(n|TT^| + T^**2) = E_D``, and
``|N^ - N| <= n E_TY + |T^| E_Y + |Y^| E_T + E_T E_Y + 3u(n|TY^| + |T^ Y^|) = E_N``
(the first terms carry the sums' errors, ``|ab - a^b^| <= |a^|e_b + |b^|e_a + e_a e_b``; the
last the three roundings of the evaluation: two products and a difference, each at most
``u`` of a magnitude at most ``(1 + u)`` times the sum shown). The code evaluates ``E_D`` and
``E_N`` in floats, a dozen operations on non-negative numbers (each rounding up to ``u``,
the products read from their rounded values), and multiplies them by 1.001, far more than
those roundings: so ``D^ > E_D`` proves ``D > 0``, and then
``|N / D - N^ / D^| <= (E_N + |N^ / D^| E_D) / (D^ - E_D) = B`` (``(N D^ - N^ D) / (D D^)``,
with ``D >= D^ - E_D``; the difference ``D^ - E_D`` is exact when ``E_D > D^ / 2``,
Sterbenz, and rounds by ``u`` otherwise). The float rate ``r = fl(fl(N^ / D^) * 3600)`` and
the exact one each carry two more roundings, at most ``2.01u`` of their size each, so
``|r - exact| <= 3600 B + 5u(|r| + 3600 B)``. That is doubled, with ``4u|m|`` for the
rounding of ``m -+ margin`` and ``1e-300`` for subnormal results:
``margin = 2 (3600 B + 5u(|r| + 3600 B) + 4u|m|) + 1e-300``, and the test answers only when
``r < m - margin`` (the exact rate is then under ``m``) or ``r > m + margin`` (it is not).
Anything else (a non-finite number, ``n < 3``, ``D^ <= E_D``, a rate within the margin) is
"unknown", and the caller asks the exact sums.

The property test ``tests/unit/judge/test_quick_slope.py`` draws values whose slope sits
within a few units in the last place of the threshold and checks that every answer given
agrees with the exact one.
"""

from __future__ import annotations

import math

from rollsafe.config import models
from rollsafe.domain import observations
from rollsafe.judge import conditions, windows

__all__ = ["HOUR", "Running", "below"]

HOUR = 3600.0
_U = 2.0**-53  # the unit roundoff of a binary64 float, round to nearest
_FRESH = 1 << 20  # updates at most before the sums start afresh (see the module notes)
_TINY = 2.0**-1019  # times ``u``: more than an update's rounding below the normal range
_FLOOR = 2.0**-1000  # added to E_D and E_N: more than their evaluation's, down there


def below(
    n: int,
    sums: tuple[float, float, float, float],
    errors: tuple[float, float, float, float],
    rate: float,
) -> bool | None:
    """Whether the least-squares slope of the points summed in ``sums`` (``T, Y, TT, TY``, each
    within its entry of ``errors`` of the real sum), per hour and rounded as ``trend._line``
    and ``trend._surely_ok`` round it, is under ``rate``; None when the floats cannot tell."""
    if n < 3:
        return None
    t, y, tt, ty = sums
    et, ey, ett, ety = errors
    nt, ny = n * tt, n * ty
    d = nt - t * t
    # Each bound times 1.001: more than its own evaluation's rounding (a dozen operations on
    # non-negative numbers), so that ``d > e_d`` below proves ``D > 0``.
    e_d = (n * ett + (2.0 * abs(t) + et) * et + 3.0 * _U * (abs(nt) + t * t)) * 1.001 + _FLOOR
    if not d > e_d:  # also false for a NaN
        return None
    ty_ = t * y
    num = ny - ty_
    e_n = (
        n * ety + abs(t) * ey + abs(y) * et + et * ey + 3.0 * _U * (abs(ny) + abs(ty_))
    ) * 1.001 + _FLOOR
    slope = num / d
    r = slope * HOUR
    bound = HOUR * (e_n + abs(slope) * e_d) / (d - e_d)
    margin = 2.0 * (bound + 5.0 * _U * (abs(r) + bound) + 4.0 * _U * abs(rate)) + 1e-300
    if not math.isfinite(margin) or not math.isfinite(r):
        return None
    if r < rate - margin:
        return True
    if r > rate + margin:
        return False
    return None


class Running:
    """Float sums over the finite ``field`` values at positions ``[lo, hi)`` of one series,
    with the bounds of their rounding (see the module notes). Positions are counted so that
    they stay with their values while the series only appends and trims its front; a value
    placed inside it (out of order) or another series starts the sums afresh."""

    __slots__ = (
        "field",
        "hi",
        "lo",
        "mt",
        "mtt",
        "mty",
        "my",
        "n",
        "origin",
        "placed",
        "series",
        "t",
        "tt",
        "ty",
        "updates",
        "y",
    )

    def __init__(self, field: models.Field_) -> None:
        self.field = field
        self.series: windows.Series | None = None
        self.placed = -1
        self.lo = self.hi = 0
        self.origin = 0.0
        self._clear()

    def _clear(self) -> None:
        self.n = self.updates = 0
        self.t = self.y = self.tt = self.ty = 0.0
        self.mt = self.my = self.mtt = self.mty = 0.0

    def below(
        self, series: windows.Series, lo: int, hi: int, rate: float
    ) -> tuple[int, bool | None]:
        """(how many finite values ``[lo, hi)`` of ``series`` hold, :func:`below` for their
        slope against ``rate``), the sums moved there first."""
        self.move(series, lo, hi)
        scale = 1.01 * _U * (1.0 + 2.0 * _U)
        errors = (scale * self.mt, scale * self.my, scale * self.mtt, scale * self.mty)
        return self.n, below(self.n, (self.t, self.y, self.tt, self.ty), errors, rate)

    def move(self, series: windows.Series, lo: int, hi: int) -> None:
        """Move the range to the series positions ``[lo, hi)`` (indices of ``series.items``)."""
        items = series.items
        # Where position 0 of ``items`` is, counted from a fixed start: an append adds to
        # both ``appended`` and the length, a trim removes from the length only.
        offset = series.appended + series.placed - len(items)
        lo_at, hi_at = lo + offset, hi + offset
        moved = abs(lo_at - self.lo) + abs(hi_at - self.hi)
        if (
            series is not self.series
            or series.placed != self.placed
            or hi_at <= self.lo
            or lo_at >= self.hi
            or moved > hi - lo
            or self.updates > min(_FRESH, 8 * (hi - lo) + 64)
            or self.lo < offset  # a value the range holds was trimmed (cannot subtract it)
        ):
            self.series, self.placed = series, series.placed
            self._clear()
            self.lo = self.hi = lo_at
            self.origin = items[lo].time if lo < len(items) else 0.0
        old_lo, old_hi = self.lo - offset, self.hi - offset
        entering = items[old_hi:hi] if hi > old_hi else []
        if lo < old_lo:
            entering += items[lo:old_lo]
        leaving = items[old_lo:lo] if lo > old_lo else []
        if hi < old_hi:
            leaving += items[hi:old_hi]
        self.lo, self.hi = lo_at, hi_at
        self._fold(entering, leaving)

    def _fold(
        self, entering: list[observations.Observation], leaving: list[observations.Observation]
    ) -> None:
        """Add the terms of the values ``entering``, subtract those ``leaving``, and add the
        bounds of their rounding (one call for both: a slide moves one value at each end)."""
        field, origin = self.field, self.origin
        n, t, s, tt, ty = self.n, self.t, self.y, self.tt, self.ty
        mt, my, mtt, mty = self.mt, self.my, self.mtt, self.mty
        updates = self.updates
        for values, sign in ((entering, 1.0), (leaving, -1.0)):
            for obs in values:
                # The value as ``windows._MomentTotals`` reads it: the field, finite, a float.
                raw = obs.value if field == "value" else conditions.field_of(obs, field)
                if raw is None:
                    continue
                y = float(raw)
                if not math.isfinite(y):
                    continue
                d = obs.time - origin
                dd = d * d
                dy = d * y
                n += 1 if sign > 0 else -1
                updates += 1
                t += sign * d
                s += sign * y
                tt += sign * dd
                ty += sign * dy
                mt += abs(t) + 4.0 * abs(d) + _TINY
                my += abs(s) + 4.0 * abs(y) + _TINY
                mtt += abs(tt) + 4.0 * dd + _TINY
                mty += abs(ty) + 4.0 * abs(dy) + _TINY
        self.n, self.updates = n, updates
        self.t, self.y, self.tt, self.ty = t, s, tt, ty
        self.mt, self.my, self.mtt, self.mty = mt, my, mtt, mty
