"""Windows: the judge's bounded memory of what one source saw on one target.

The engine keeps one :class:`Window` per ``(target, source)`` and folds every observation into
it; rules then read time ranges and "the last N values" out of it. Three things are kept, each
bounded:

* **values**: valid observations (no ``error``) in time order, trimmed to ``span`` seconds
  behind the newest one (plus the one value just before that horizon), but never fewer than
  ``keep`` of them (a ``consecutive: N`` threshold needs the last N values however old they
  are), and never more than ``max_samples``. With ``span`` = the longest history a rule reads
  plus a margin, every rule computes exactly what it would with unbounded memory, as long as
  it is evaluated at a ``now`` no more than the margin before the newest value;
* **errors**: probe errors newer than the newest value, at most ``error_memory`` of them. They
  are not values and no rule computes with them; they only tell whether the detector is blind;
* **pins**: copies of the values in a reference period before an ``upgrade`` mark, so a
  baseline rule can still compare against "before the upgrade" long after the period slid out
  of ``span``. Observations arriving later inside a pinned period are added to it too.

Rules read aggregates (how many values, how many meet a condition, the sum of a field) over a
time range through :meth:`Window.range` and :meth:`Window.pinned_range`. Each series of values
keeps running prefix totals for the fields and conditions rules have asked about, kept up to
date as values are folded in, so an aggregate costs two binary searches and a subtraction
instead of a pass over the range: a daemon re-judging a target after every observation, or a
backtest replaying a week, does not re-read an hour of values each time. The totals are exact
(integer counts; sums as integers in units of a power of two fine enough for every value), so
every aggregate is exactly what :func:`math.fsum` over the range gives, whatever order values
arrived in. A ``trend`` rule's field also gets exact sums of squares and products
(:class:`Moments`) for the few ranges it reads, moved value by value as those ranges slide
(constant memory, not a prefix per value), so a least-squares line over them is fitted
without reading them.

Everything is ordered by :func:`order_key`, a total order on observations (time first, then
their content), and trimming always keeps the same *set* whatever the insertion order. That is
what makes the judge deterministic: the same observations, fed in any order, leave the same
windows and so produce the same decisions.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from rollsafe.config import models
from rollsafe.domain import observations
from rollsafe.judge import conditions, daily

__all__ = [
    "EMPTY",
    "NO_MOMENTS",
    "UNIT",
    "Holds",
    "Moments",
    "OrderKey",
    "Series",
    "Span",
    "Streak",
    "Window",
    "early",
    "moments_of",
    "order_key",
]

_NumberKey = tuple[int, float]
OrderKey = tuple[float, int, str, _NumberKey, _NumberKey, _NumberKey, str, str]


def _number_key(x: float | None) -> _NumberKey:
    # None and NaN are not orderable as floats; give them fixed places before real numbers.
    if x is None:
        return (0, 0.0)
    if math.isnan(x):
        return (1, 0.0)
    return (2, float(x))


def order_key(obs: observations.Observation) -> OrderKey:
    """A total order on one source's observations: time, then content, errors after values.

    Two observations with the same key are interchangeable for every rule, so ties cannot make
    two evaluations of the same data differ.
    """
    return (
        obs.time,
        0 if obs.error is None else 1,
        obs.error or "",
        _number_key(obs.value),
        _number_key(None if obs.status is None else float(obs.status)),
        _number_key(obs.latency_s),
        obs.text or "",
        "" if obs.alert_state is None else str(obs.alert_state),
    )


# Sums are kept as integers counting units of 2**-bits, ``bits`` the finest any value held
# needs (0 for whole numbers, 47 for 45.3, at most 1074: the smallest positive float): every
# finite float is a whole number of them, so sums and differences of sums are exact, and one
# correctly rounded division by ``2**bits`` turns a sum back into the float fsum would give.
# A value needing finer units shifts the sums kept (rare: the first values settle them); units
# fitted to the values keep the integers small (about 64 bits for a percentage, not 1,100).
_UNIT_BITS = 1074
UNIT = 1 << _UNIT_BITS  # the finest unit there is (``_FieldTotals.unit`` is the one in use)
# Values this large could overflow a float sum; fsum raises then and the judge saturates (see
# ``conditions.exact_sum``). Ranges holding one are summed the slow way to keep that behaviour.
_LARGE = 2.0**960

_ConditionKey = tuple[models.Field_, models.Op, float]
# Every change to any series takes a fresh stamp, never reused: equal stamps mean equal contents.
_STAMPS = itertools.count()


class _FieldTotals:
    """Prefix totals of one numeric field: how many values have it, their exact sum (in units
    of ``1 / unit``, see above), and how many of them are too large for the exact path. Entry
    ``i`` covers the series' first ``i``.
    """

    __slots__ = ("bits", "field", "large", "present", "unit", "units")

    def __init__(self, field: models.Field_, items: Sequence[observations.Observation]) -> None:
        self.field = field
        self.bits = 0
        self.unit = 1  # ``2**bits``: a sum of units divided by it is the float sum
        self.present = [0]
        self.units = [0]
        self.large = [0]
        for obs in items:
            self.append(obs)

    def _refine(self, bits: int) -> None:
        # Finer units for a value that needs them: every sum kept, shifted (in place: running
        # states hold these lists, see ``rules.BaselineState``).
        shift = bits - self.bits
        self.units[:] = [u << shift for u in self.units]
        self.bits = bits
        self.unit = 1 << bits

    def _scaled(self, x: float) -> int:
        numerator, denominator = x.as_integer_ratio()  # denominator: a power of two
        bits = denominator.bit_length() - 1
        if bits > self.bits:
            self._refine(bits)
        return numerator << (self.bits - bits)

    def _parts(self, obs: observations.Observation) -> tuple[int, int, int]:
        x = conditions.field_of(obs, self.field)
        if x is None:
            return 0, 0, 0
        if x == 1.0:  # the usual up/down and one-line values, without converting them
            return 1, self.unit, 0
        if abs(x) > _LARGE:
            return 1, 0, 1
        return 1, self._scaled(x), 0

    def append(self, obs: observations.Observation) -> None:
        # ``_parts``, inlined (every value folded in passes here once per total kept).
        field = self.field
        raw = obs.value if field == "value" else conditions.field_of(obs, field)
        present, units, large = self.present, self.units, self.large
        if raw is None or not math.isfinite(raw):
            present.append(present[-1])
            units.append(units[-1])
            large.append(large[-1])
            return
        x = float(raw)
        present.append(present[-1] + 1)
        if x == 1.0:  # the usual up/down and one-line values, without converting them
            units.append(units[-1] + self.unit)
            large.append(large[-1])
        elif x == 0.0:  # no lines, a failed check: no units (``_scaled`` gives 0 in any unit)
            units.append(units[-1])
            large.append(large[-1])
        elif abs(x) > _LARGE:
            units.append(units[-1])
            large.append(large[-1] + 1)
        else:
            # ``_scaled``, inlined (a gauge's every value passes here).
            numerator, denominator = x.as_integer_ratio()  # denominator: a power of two
            bits = denominator.bit_length() - 1
            if bits > self.bits:
                self._refine(bits)  # shifts ``units`` first
            units.append(units[-1] + (numerator << (self.bits - bits)))
            large.append(large[-1])

    def insert(self, index: int, obs: observations.Observation) -> None:
        # Rare (an out-of-order arrival): shift every later prefix by the new value's part.
        parts = self._parts(obs)
        for prefix, part in zip((self.present, self.units, self.large), parts, strict=True):
            prefix.insert(index + 1, prefix[index] + part)
            if part:
                for j in range(index + 2, len(prefix)):
                    prefix[j] += part

    def drop_front(self, count: int) -> None:
        # Differences between the remaining entries stay right; entry 0 need not be zero.
        del self.present[:count]
        del self.units[:count]
        del self.large[:count]


class Moments(NamedTuple):
    """Exact sums over the points ``(t, x)`` of a span, for a least-squares line (``trend``).

    Times are integers in units of ``2**-time_bits`` less a fixed origin, values integers in
    units of ``2**-value_bits``: every finite float is a whole number of such units, so the
    sums are exact and any formula computed from them in integers depends on the set of points
    only, not on the order they were added or removed in. ``lag_*`` sum the products of
    neighbours (each point with the previous one), ``first``/``last`` are the end points.
    """

    n: int
    time_bits: int
    value_bits: int
    t: int
    y: int
    tt: int
    ty: int
    yy: int
    lag_tt: int
    lag_ty: int
    lag_yy: int
    first: tuple[int, int]
    last: tuple[int, int]


NO_MOMENTS = Moments(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (0, 0), (0, 0))


def _bits(x: float) -> int:
    return x.as_integer_ratio()[1].bit_length() - 1


def _scaled(x: float, bits: int) -> int:
    numerator, denominator = x.as_integer_ratio()
    return numerator << (bits + 1 - denominator.bit_length())


def _finite(obs: observations.Observation, field: models.Field_) -> float | None:
    x = conditions.field_of(obs, field)
    return x if x is not None and math.isfinite(x) else None


def moments_of(points: Sequence[tuple[float, float]]) -> Moments:
    """The :class:`Moments` of ``points`` (time order), computed from scratch."""
    if not points:
        return NO_MOMENTS
    kt = max(_bits(t) for t, _ in points)
    ky = max(_bits(y) for _, y in points)
    origin = _scaled(points[0][0], kt)
    ts = [_scaled(t, kt) - origin for t, _ in points]
    ys = [_scaled(y, ky) for _, y in points]
    pairs = list(zip(ts, ys, strict=True))
    return Moments(
        n=len(pairs),
        time_bits=kt,
        value_bits=ky,
        t=sum(ts),
        y=sum(ys),
        tt=sum(t * t for t in ts),
        ty=sum(t * y for t, y in pairs),
        yy=sum(y * y for y in ys),
        lag_tt=sum(ts[i] * ts[i - 1] for i in range(1, len(ts))),
        lag_ty=sum(ts[i] * ys[i - 1] + ts[i - 1] * ys[i] for i in range(1, len(ts))),
        lag_yy=sum(ys[i] * ys[i - 1] for i in range(1, len(ys))),
        first=pairs[0],
        last=pairs[-1],
    )


# Cursors: how many ranges a series keeps sums for at once. A trend reads three (its span and
# the span's halves) plus the period before the mark; one more spares a refit when a range
# jumps (a new mark) while the others stay.
_CURSORS = 5
_POINTS = 8  # scaled points a ``_MomentTotals`` keeps at most (``_point``)


class _Cursor:
    """Exact sums for :class:`Moments` over the values at positions ``[lo, hi)`` of a series,
    counted from the first value the series ever held (dropping the front moves no cursor).

    ``head`` and ``tail`` are the range's first and last points (values having the field),
    at positions ``head_at`` and ``tail_at`` (-1 when the range has none).
    """

    __slots__ = (
        "head",
        "head_at",
        "hi",
        "lag_tt",
        "lag_ty",
        "lag_yy",
        "lo",
        "n",
        "t",
        "tail",
        "tail_at",
        "tt",
        "ty",
        "y",
        "yy",
    )

    def __init__(self, at: int) -> None:
        self.lo = self.hi = at
        self.clear()

    def clear(self) -> None:
        self.n = self.t = self.y = self.tt = self.ty = self.yy = 0
        self.lag_tt = self.lag_ty = self.lag_yy = 0
        self.head: tuple[int, int] | None = None
        self.tail: tuple[int, int] | None = None
        self.head_at = self.tail_at = -1

    def copy(self) -> _Cursor:
        other = _Cursor(self.lo)
        for name in _Cursor.__slots__:
            setattr(other, name, getattr(self, name))
        return other

    def add(self, ti: int, yi: int, sign: int) -> None:
        self.n += sign
        self.t += sign * ti
        self.y += sign * yi
        self.tt += sign * ti * ti
        self.ty += sign * ti * yi
        self.yy += sign * yi * yi

    def link(self, a: tuple[int, int], b: tuple[int, int], sign: int) -> None:
        # The neighbour products of two consecutive points ``a`` then ``b``.
        ta, ya = a
        tb, yb = b
        self.lag_tt += sign * tb * ta
        self.lag_ty += sign * (tb * ya + ta * yb)
        self.lag_yy += sign * yb * ya


class _MomentTotals:
    """Exact sums for :class:`Moments` of one field over a few ranges of a series: count, t,
    y, tt, ty, yy and the neighbour products tt, ty, yy.

    Memory is bounded by the number of ranges, not the values: each range (a :class:`_Cursor`)
    keeps its own sums and moves its ends one value at a time, adding what enters and
    subtracting what leaves, exactly (integers), so its sums are those of the set of points
    it holds, whatever path it took. A query takes the cursor nearest its range (a trend asks
    for ranges that moved by a value or two since it last asked); one far from all of them is
    summed from scratch. Values without the field (or not finite) are skipped: neighbours are
    the nearest points that have it. A value needing finer units than those in use (rare:
    the first few values settle them) or an out-of-order arrival drops the cursors.
    """

    __slots__ = (
        "base",
        "cursors",
        "field",
        "items",
        "kt",
        "ky",
        "origin",
        "origin_time",
        "points",
    )

    def __init__(self, field: models.Field_, items: list[observations.Observation]) -> None:
        self.field = field
        self.items = items  # the series' own list
        self.base = 0  # the position of ``items[0]``, counted from the first value ever held
        self.cursors: list[_Cursor] = []  # least recently used first
        # The scaled points worked out lately, by position (``_point``): every range's end
        # takes the newest value, and each range's start passes the same values in turn.
        self.points: dict[int, tuple[int, int] | None] = {}
        self.kt = self.ky = 0
        self.origin_time: float | None = None
        self.origin = 0
        self._units()

    def _units(self) -> None:
        # Units fine enough for every point held; the origin stays where the first point set
        # it (a fit does not depend on it, nor on the units: see ``trend.fit_moments``).
        present = [(o.time, x) for o in self.items if (x := _finite(o, self.field)) is not None]
        self.kt = max([self.kt, *(_bits(t) for t, _ in present)])
        self.ky = max([self.ky, *(_bits(x) for _, x in present)])
        if self.origin_time is None and present:
            self.origin_time = present[0][0]
        if self.origin_time is not None:
            self.kt = max(self.kt, _bits(self.origin_time))
            self.origin = _scaled(self.origin_time, self.kt)
        self.cursors.clear()
        self.points.clear()  # other units or other positions: worked out again

    def append(self, obs: observations.Observation) -> None:
        # ``_finite``, inlined for the usual field (every value of a trend's source passes).
        field = self.field
        x = obs.value if field == "value" else conditions.field_of(obs, field)
        if x is not None:
            x = float(x)
            if not math.isfinite(x):
                x = None
        if x is not None and (
            self.origin_time is None
            or obs.time.as_integer_ratio()[1].bit_length() > self.kt + 1
            or x.as_integer_ratio()[1].bit_length() > self.ky + 1
        ):
            self._units()  # the first point sets the origin, or finer units

    def insert(self, index: int, obs: observations.Observation) -> None:
        # Rare (an out-of-order arrival): positions after ``index`` moved; start afresh.
        self._units()

    def drop_front(self, count: int) -> None:
        # Called before the series drops its first ``count`` values: ranges reaching into
        # them give those values up first.
        base = self.base + count
        cursors = self.cursors
        for cursor in cursors:
            if cursor.lo < base:
                break
        else:  # the usual trim: no range reaches the values dropped (one loop, no search)
            self.base = base
            return
        if any(cursor.hi <= base for cursor in cursors):
            # A range that slid out of the window entirely is not read again: forget it.
            cursors[:] = [cursor for cursor in cursors if cursor.hi > base]
        for cursor in cursors:
            while cursor.lo < base:
                self._pop_front(cursor)
        self.base = base

    def _point(self, at: int) -> tuple[int, int] | None:
        # The scaled point of the value at position ``at``, worked out when a range's end
        # passes it rather than stored for every value (a window holds hours of them): kept
        # for the few ranges passing the same value soon after (``points``, emptied when it
        # grows: positions only ever move on).
        points = self.points
        if at in points:
            return points[at]
        if len(points) >= _POINTS:
            points.clear()
        point = points[at] = self._scaled_point(at)
        return point

    def _scaled_point(self, at: int) -> tuple[int, int] | None:
        # (``_finite`` and ``_scaled``, inlined: this runs for every value entering or leaving
        # a range.)
        obs = self.items[at - self.base]
        field = self.field
        raw = obs.value if field == "value" else conditions.field_of(obs, field)
        if raw is None:
            return None
        x = float(raw)
        if not math.isfinite(x):
            return None
        tn, td = obs.time.as_integer_ratio()
        yn, yd = x.as_integer_ratio()
        return (
            (tn << (self.kt + 1 - td.bit_length())) - self.origin,
            yn << (self.ky + 1 - yd.bit_length()),
        )

    def _push_back(self, cursor: _Cursor) -> None:
        at = cursor.hi
        cursor.hi = at + 1
        point = self._point(at)
        if point is None:
            return
        ti, yi = point
        tail = cursor.tail
        if tail is None:
            cursor.head, cursor.head_at = point, at
        else:
            tp, yp = tail
            cursor.lag_tt += ti * tp
            cursor.lag_ty += ti * yp + tp * yi
            cursor.lag_yy += yi * yp
        cursor.tail, cursor.tail_at = point, at
        cursor.n += 1
        cursor.t += ti
        cursor.y += yi
        cursor.tt += ti * ti
        cursor.ty += ti * yi
        cursor.yy += yi * yi

    def _push_front(self, cursor: _Cursor) -> None:
        at = cursor.lo - 1
        cursor.lo = at
        point = self._point(at)
        if point is None:
            return
        if cursor.head is None:
            cursor.tail, cursor.tail_at = point, at
        else:
            cursor.link(point, cursor.head, 1)
        cursor.head, cursor.head_at = point, at
        cursor.add(point[0], point[1], 1)

    def _pop_front(self, cursor: _Cursor) -> None:
        at = cursor.lo
        cursor.lo = at + 1
        head = cursor.head
        if at != cursor.head_at or head is None:
            return  # not a point
        if cursor.tail_at == at:  # its only point
            cursor.clear()
            return
        after = at + 1
        following = self._point(after)
        while following is None:  # ends at ``tail_at`` at the latest
            after += 1
            following = self._point(after)
        ti, yi = head
        tn, yn = following
        cursor.lag_tt -= tn * ti
        cursor.lag_ty -= tn * yi + ti * yn
        cursor.lag_yy -= yn * yi
        cursor.n -= 1
        cursor.t -= ti
        cursor.y -= yi
        cursor.tt -= ti * ti
        cursor.ty -= ti * yi
        cursor.yy -= yi * yi
        cursor.head, cursor.head_at = following, after

    def _pop_back(self, cursor: _Cursor) -> None:
        at = cursor.hi - 1
        cursor.hi = at
        tail = cursor.tail
        if at != cursor.tail_at or tail is None:
            return
        if cursor.head_at == at:
            cursor.clear()
            return
        cursor.add(tail[0], tail[1], -1)
        before = at - 1
        preceding = self._point(before)
        while preceding is None:  # ends at ``head_at`` at the latest
            before -= 1
            preceding = self._point(before)
        cursor.link(preceding, tail, -1)
        cursor.tail, cursor.tail_at = preceding, before

    def _move(self, cursor: _Cursor, lo: int, hi: int) -> None:
        if hi <= cursor.lo or lo >= cursor.hi:  # no overlap: start empty at ``lo``
            cursor.lo = cursor.hi = lo
            cursor.clear()
        while cursor.hi < hi:
            self._push_back(cursor)
        while cursor.lo > lo:
            self._push_front(cursor)
        while cursor.lo < lo:
            self._pop_front(cursor)
        while cursor.hi > hi:
            self._pop_back(cursor)

    def moments(self, lo: int, hi: int) -> Moments:
        lo += self.base
        hi += self.base
        cursors = self.cursors
        if cursors:
            # The usual query: a range read before, moved by a value or two since (its end
            # took the new value, its start gave up the oldest). Newest cursors first.
            for index in range(len(cursors) - 1, -1, -1):
                cursor = cursors[index]
                if abs(lo - cursor.lo) + abs(hi - cursor.hi) <= 2:
                    self._move(cursor, lo, hi)
                    if index != len(cursors) - 1:
                        del cursors[index]
                        cursors.append(cursor)
                    return self._read(cursor)
            difference = self._difference(lo, hi)
            if difference is not None:
                return difference
        nearest: _Cursor | None = None
        distance = hi - lo  # what summing from scratch costs
        for cursor in cursors:
            moved = abs(lo - cursor.lo) + abs(hi - cursor.hi)
            if moved < distance or (moved == 0 and nearest is None):
                nearest, distance = cursor, moved
        if nearest is None:
            nearest = _Cursor(lo)
            self._move(nearest, lo, hi)
        else:
            cursors.remove(nearest)
            if distance > 8 and 4 * distance > hi - lo:
                # A far range (the other half of a span, say): keep the cursor where it is,
                # for the range it follows, and move a copy.
                cursors.append(nearest)
                nearest = nearest.copy()
            self._move(nearest, lo, hi)
        cursors.append(nearest)
        if len(cursors) > _CURSORS:
            del cursors[0]
        return self._read(nearest)

    def _difference(self, lo: int, hi: int) -> Moments | None:
        """The sums of ``[lo, hi)`` as those of a cursor on ``[lo, end)`` less those of one on
        ``[hi, end)`` (a trend's early half: its whole span less its late half); None when no
        two cursors fit."""
        cursors = self.cursors
        whole = next((c for c in cursors if c.lo == lo and c.hi > hi), None)
        if whole is None:
            return None
        rest = next((c for c in cursors if c.lo == hi and c.hi == whole.hi), None)
        if rest is None:
            return None
        n = whole.n - rest.n
        if n == 0:
            return NO_MOMENTS
        # The last point before ``hi``: the difference's tail, linked to ``rest``'s head.
        at = hi - 1
        tail = self._point(at)
        while tail is None:  # ends at ``whole``'s head at the latest (``n`` > 0)
            at -= 1
            tail = self._point(at)
        head = whole.head
        if head is None:
            return None  # cannot be (``n`` > 0); read the long way
        lag_tt, lag_ty, lag_yy = whole.lag_tt, whole.lag_ty, whole.lag_yy
        lag_tt -= rest.lag_tt
        lag_ty -= rest.lag_ty
        lag_yy -= rest.lag_yy
        following = rest.head
        if following is not None:
            ta, ya = tail
            tb, yb = following
            lag_tt -= tb * ta
            lag_ty -= tb * ya + ta * yb
            lag_yy -= yb * ya
        return Moments(
            n,
            self.kt,
            self.ky,
            whole.t - rest.t,
            whole.y - rest.y,
            whole.tt - rest.tt,
            whole.ty - rest.ty,
            whole.yy - rest.yy,
            lag_tt,
            lag_ty,
            lag_yy,
            head,
            tail,
        )

    def _read(self, c: _Cursor) -> Moments:
        if c.head is None or c.tail is None:
            return NO_MOMENTS
        return Moments(
            c.n,
            self.kt,
            self.ky,
            c.t,
            c.y,
            c.tt,
            c.ty,
            c.yy,
            c.lag_tt,
            c.lag_ty,
            c.lag_yy,
            c.head,
            c.tail,
        )


class _Matches:
    """Prefix counts of the values meeting one condition (entry ``i``: the first ``i``)."""

    __slots__ = ("counts", "field", "op", "value")

    def __init__(self, key: _ConditionKey, items: Sequence[observations.Observation]) -> None:
        self.field, self.op, self.value = key
        self.counts = [0]
        for obs in items:
            self.append(obs)

    def _hit(self, obs: observations.Observation) -> int:
        return int(conditions.compare(conditions.field_of(obs, self.field), self.op, self.value))

    def append(self, obs: observations.Observation) -> None:
        # ``_hit``, inlined: ``conditions.compare`` of the field, which is never met when absent.
        counts = self.counts
        x = conditions.field_of(obs, self.field)
        hit = conditions.compare(x, self.op, self.value)
        counts.append(counts[-1] + 1 if hit else counts[-1])

    def insert(self, index: int, obs: observations.Observation) -> None:
        hit = self._hit(obs)
        counts = self.counts
        counts.insert(index + 1, counts[index] + hit)
        if hit:
            for j in range(index + 2, len(counts)):
                counts[j] += 1

    def drop_front(self, count: int) -> None:
        del self.counts[:count]


class _Series:
    """Observations in :func:`order_key` order, their times, and running totals over them.

    Totals are built the first time a rule asks for them and kept up to date from then on.
    """

    __slots__ = (
        "appended",
        "fields",
        "items",
        "matches",
        "moments",
        "placed",
        "prefixes",
        "ranged",
        "stamp",
        "times",
        "totals",
    )

    def __init__(self, items: list[observations.Observation] | None = None) -> None:
        self.stamp = next(_STAMPS)
        self.items: list[observations.Observation] = items or []
        self.times = [obs.time for obs in self.items]
        self.fields: dict[models.Field_, _FieldTotals] = {}
        self.matches: dict[_ConditionKey, _Matches] = {}
        self.moments: dict[models.Field_, _MomentTotals] = {}
        # Every kept total, fields and conditions alike (what an append updates).
        self.totals: list[_FieldTotals | _Matches | _MomentTotals] = []
        # What trimming the front touches, flat: every prefix list of the field totals and
        # condition counts (deleted with the values, in one loop and no call per total: a
        # replay trims one value per value folded in), and the moment totals, whose ranges
        # may have to give dropped values up first.
        self.prefixes: list[list[int]] = []
        self.ranged: list[_MomentTotals] = []
        # Values appended at the end, and values placed inside (out of order), ever: while
        # ``placed`` stays the same, the values appended since a look are the newest
        # ``appended`` minus the count then (what a rule's running state reads, see ``rules``).
        self.appended = 0
        self.placed = 0

    def __len__(self) -> int:
        return len(self.items)

    def insert(self, obs: observations.Observation) -> None:
        self.stamp = next(_STAMPS)
        items = self.items
        if (
            not items
            or items[-1].time < obs.time  # then its key is smaller too: time comes first
            or order_key(items[-1]) <= order_key(obs)
        ):
            # Observations almost always arrive in order: append without searching.
            items.append(obs)
            self.times.append(obs.time)
            self.appended += 1
            for totals in self.totals:
                totals.append(obs)
            return
        self.placed += 1
        index = bisect.bisect_right(items, order_key(obs), key=order_key)
        items.insert(index, obs)
        self.times.insert(index, obs.time)
        for totals in self.totals:
            totals.insert(index, obs)

    def drop_front(self, count: int) -> None:
        self.stamp = next(_STAMPS)
        for moments in self.ranged:  # before the values go: a range may still give them up
            moments.drop_front(count)
        for prefix in self.prefixes:  # ``_FieldTotals.drop_front``, ``_Matches.drop_front``
            del prefix[:count]
        del self.items[:count]
        del self.times[:count]

    def field_totals(self, field: models.Field_) -> _FieldTotals:
        totals = self.fields.get(field)
        if totals is None:
            totals = self.fields[field] = _FieldTotals(field, self.items)
            self.totals.append(totals)
            # The lists themselves: ``_FieldTotals`` only ever changes them in place.
            self.prefixes.extend((totals.present, totals.units, totals.large))
        return totals

    def moment_totals(self, field: models.Field_) -> _MomentTotals:
        totals = self.moments.get(field)
        if totals is None:
            totals = self.moments[field] = _MomentTotals(field, self.items)
            self.totals.append(totals)
            self.ranged.append(totals)
        return totals

    def match_counts(self, condition: models.Condition) -> _Matches:
        key = (condition.field, condition.op, condition.value)
        matches = self.matches.get(key)
        if matches is None:
            matches = self.matches[key] = _Matches(key, self.items)
            self.totals.append(matches)
            self.prefixes.append(matches.counts)  # changed in place only, like the above
        return matches


Series = _Series  # for a rule's running state (``rules``), which reads the totals directly


class Span:
    """The values of one series in a time range, and aggregates over them (see module notes).

    A view, valid until the window is next folded into: read it and let it go.
    """

    __slots__ = ("_hi", "_lo", "_series")

    def __init__(self, series: _Series, lo: int, hi: int) -> None:
        self._series = series
        self._lo = lo
        self._hi = hi

    def __len__(self) -> int:
        return self._hi - self._lo

    @property
    def identity(self) -> tuple[int, int, int]:
        """Equal for two spans only when they hold the same values (for memoising outcomes)."""
        return (self._series.stamp, self._lo, self._hi)

    @property
    def first_time(self) -> float | None:
        return self._series.times[self._lo] if self._hi > self._lo else None

    @property
    def last_time(self) -> float | None:
        return self._series.times[self._hi - 1] if self._hi > self._lo else None

    def values(self) -> list[observations.Observation]:
        """The observations themselves, oldest first (a copy)."""
        return self._series.items[self._lo : self._hi]

    def present(self, field: models.Field_) -> int:
        """How many values have ``field`` (finite: see ``conditions.field_of``)."""
        if self._hi <= self._lo:
            return 0
        prefix = self._series.field_totals(field).present
        return prefix[self._hi] - prefix[self._lo]

    def total(self, field: models.Field_) -> float:
        """Sum of ``field`` over the values having it: exactly ``conditions.exact_sum``'s."""
        if self._hi <= self._lo:
            return 0.0
        totals = self._series.field_totals(field)
        lo, hi = self._lo, self._hi
        if totals.large[hi] != totals.large[lo]:
            numbers = [conditions.field_of(o, field) for o in self._series.items[lo:hi]]
            return conditions.exact_sum([x for x in numbers if x is not None])
        return (totals.units[hi] - totals.units[lo]) / totals.unit

    def moments(self, field: models.Field_) -> Moments:
        """Exact sums for a least-squares line through the finite ``field`` values (trend)."""
        if self._hi <= self._lo:
            return NO_MOMENTS
        return self._series.moment_totals(field).moments(self._lo, self._hi)

    def matching(self, condition: models.Condition) -> int:
        """How many values meet ``condition``."""
        if self._hi <= self._lo:
            return 0
        counts = self._series.match_counts(condition).counts
        return counts[self._hi] - counts[self._lo]


EMPTY = Span(_Series(), 0, 0)  # no values at all (a source that never spoke)


@dataclass(frozen=True, slots=True)
class Streak:
    """Probe errors since the newest valid observation (the detector's blindness)."""

    count: int
    saturated: bool  # True when more errors may have happened than ``count`` remembers
    first: observations.Observation | None
    last: observations.Observation | None


@dataclass(slots=True)
class _Pin:
    start: float
    end: float
    values: _Series


def early(at: float) -> float:
    """``at`` less a margin far above the rounding of a time plus or minus a duration (a few
    units in the last place; a millisecond for times near 2**31 s), for :meth:`Window.steady`.
    """
    return at - (abs(at) * 1e-12 + 1e-9)


def _insort(items: list[observations.Observation], obs: observations.Observation) -> None:
    # Observations almost always arrive in order: append without searching.
    key = order_key(obs)
    if not items or order_key(items[-1]) <= key:
        items.append(obs)
    else:
        bisect.insort_right(items, obs, key=order_key)


class Holds:
    """A target's upgrades, as lasting rules read them; shared by its windows.

    ``intervals``: when it was being upgraded, ``[start, end)`` from ``upgrade_started`` to
    ``upgrade`` marks; ``ends``: its ``upgrade`` marks, in time order. Kept by the engine
    (``engine.mark``); duration rules do not count failing checks made inside an interval,
    and a run of failing checks never spans an ``upgrade`` mark (``rules.threshold``).
    ``version`` changes whenever either does, so what was read under the old ones is read
    again.
    """

    __slots__ = ("ends", "intervals", "version")

    def __init__(self) -> None:
        self.intervals: tuple[tuple[float, float], ...] = ()
        self.ends: tuple[float, ...] = ()
        self.version = 0

    def set(self, intervals: Sequence[tuple[float, float]], ends: Sequence[float] = ()) -> None:
        wanted, marks = tuple(intervals), tuple(ends)
        if wanted != self.intervals or marks != self.ends:
            self.intervals = wanted
            self.ends = marks
            self.version += 1

    def covers(self, time: float) -> bool:
        return any(start <= time < end for start, end in self.intervals)

    def cut(self, at: float) -> float:
        """The latest ``upgrade`` mark at or before ``at`` (minus infinity: none): a lasting
        rule's run of failing checks whose newest check is at ``at`` starts at or after it."""
        index = bisect.bisect_right(self.ends, at)
        return self.ends[index - 1] if index else -math.inf


def keep_time(kept: list[float], at: float, limit: int, holds: Callable[[], object]) -> bool:
    """Insert ``at`` into ``kept`` (sorted, at most ``limit`` times: the oldest goes); True when
    the holds the times give (``holds()``, read before and after) changed. A time kept
    already changes nothing. How ``restarts`` and ``reboots`` fold the events they time."""
    if at in kept:
        return False
    before = holds()
    bisect.insort(kept, at)
    if len(kept) > limit:
        del kept[0]
    return holds() != before


NO_HOLDS = Holds()  # a window no engine gave its target's holds to: nothing held


class Window:
    """Bounded, time-ordered observations of one source on one target (see module notes)."""

    def __init__(
        self,
        *,
        span: float,
        keep: int = 1,
        error_memory: int = 50,
        max_samples: int = 100_000,
    ) -> None:
        if span < 0 or keep < 1 or error_memory < 1 or max_samples < keep:
            raise ValueError("window bounds must be positive and max_samples >= keep")
        self.span = span
        self.keep = keep
        self.error_memory = error_memory
        self.max_samples = max_samples
        self._series = _Series()
        self._values = self._series.items  # the same list: read-only outside ``_series``
        self._times = self._series.times
        self._errors: list[observations.Observation] = []
        self._pins: dict[float, _Pin] = {}
        self._pinned_until = -math.inf  # the latest end of a pinned period
        self._first_value_time: float | None = None
        self._seen = False
        self.changes = 0  # counts folds: equal counts, same contents (see ``steady``)
        self.holds = NO_HOLDS  # the target's upgrades in progress (set by the engine)
        # Block means kept a day and more, fed before values are trimmed (``judge/daily.py``);
        # set by the engine for the sources a steady trend rule reads.
        self.profiles: tuple[daily.Profile, ...] = ()

    # ------------------------------------------------------------------ folding in

    def insert(self, obs: observations.Observation) -> None:
        """Fold ``obs`` in at its place in time; out-of-order arrivals are placed correctly."""
        self._seen = True
        self.changes += 1
        if obs.error is not None:
            self._insert_error(obs)
            return
        when = obs.time
        series = self._series
        times = self._times
        if times and times[-1] < when:
            # In order (almost always): ``_Series.insert``'s append, without the call.
            series.stamp = next(_STAMPS)
            series.items.append(obs)
            times.append(when)
            series.appended += 1
            for totals in series.totals:
                totals.append(obs)
        else:
            series.insert(obs)
            if self._first_value_time is None or when < self._first_value_time:
                self._first_value_time = when
        for profile in self.profiles:
            profile.add(obs)
        if when < self._pinned_until:  # rare: late data inside a reference period
            for pin in self._pins.values():
                if pin.start <= when < pin.end:
                    pin.values.insert(obs)
                    if len(pin.values) > self.max_samples:
                        pin.values.drop_front(1)
        count = len(times)
        # Nothing to trim while the second value is not older than the horizon (the first
        # one is kept: see ``_trim_values``) and the bounds hold: skip the search.
        if count > 1 and (times[1] < times[-1] - self.span or count > self.max_samples):
            if (
                count > 2
                and times[2] >= times[-1] - self.span
                and count - 1 >= self.keep
                and count <= self.max_samples
            ):
                # The usual step: the one value before the one kept behind the horizon.
                self._series.drop_front(1)
            else:
                self._trim_values()
        if self._errors:
            self._drop_errors_before_newest_value()

    def _insert_error(self, obs: observations.Observation) -> None:
        if self._values and order_key(obs) <= order_key(self._values[-1]):
            return  # older than the newest value: it cannot be part of the current streak
        _insort(self._errors, obs)
        if len(self._errors) > self.error_memory:
            del self._errors[0]

    def _trim_values(self) -> None:
        times = self._times
        horizon = times[-1] - self.span
        # Keep the newest value older than the horizon too: a streak that reaches it is known
        # to have started at or before the horizon, so ``for`` needs no more history than span.
        cut = bisect.bisect_left(times, horizon) - 1
        cut = min(cut, len(times) - self.keep)
        cut = max(cut, len(times) - self.max_samples)
        if cut > 0:
            self._series.drop_front(cut)

    def _drop_errors_before_newest_value(self) -> None:
        newest = order_key(self._values[-1])
        cut = 0
        while cut < len(self._errors) and order_key(self._errors[cut]) <= newest:
            cut += 1
        if cut:
            del self._errors[:cut]

    def pin(self, at: float, *, start: float) -> None:
        """Remember the values in ``[start, at)`` (and later arrivals there) for a baseline."""
        lo = bisect.bisect_left(self._times, start)
        hi = bisect.bisect_left(self._times, at)
        kept = self._values[lo:hi][-self.max_samples :]
        self._pins[at] = _Pin(start=start, end=at, values=_Series(kept))
        self._pinned_until = max(self._pinned_until, at)

    def unpin(self, at: float) -> None:
        self._pins.pop(at, None)
        self._pinned_until = max((pin.end for pin in self._pins.values()), default=-math.inf)

    # ------------------------------------------------------------------ reading out

    @property
    def seen(self) -> bool:
        """True once any observation, value or error, has been folded in."""
        return self._seen

    @property
    def first_value_time(self) -> float | None:
        """Time of the oldest valid observation ever folded in (kept even after trimming)."""
        return self._first_value_time

    @property
    def retained(self) -> int:
        """How many observations the window holds in memory, pins included."""
        return (
            len(self._values) + len(self._errors) + sum(len(p.values) for p in self._pins.values())
        )

    def range(
        self, start: float, end: float, *, closed: Literal["right", "left"] = "right"
    ) -> Span:
        """The values :meth:`between` returns, as a :class:`Span` with fast aggregates."""
        times = self._times
        if closed == "right":
            lo = bisect.bisect_right(times, start)
            hi = bisect.bisect_right(times, end)
        else:
            lo = bisect.bisect_left(times, start)
            hi = bisect.bisect_left(times, end)
        return Span(self._series, lo, max(lo, hi))

    def steady(
        self, now: float, back: float, lag: float = 0.0, *, closed: Literal["right", "left"]
    ) -> float:
        """A later ``now`` before which ``range(now - back, now - lag, closed=closed)`` keeps
        holding the values it holds at ``now``, as long as nothing is folded in (see
        :attr:`changes`): time alone changes a range only when a value slides out of its
        start or into its end. A little early (by more than any rounding of ``now - back``),
        never late: judging again a little early costs a recomputation, never a decision.
        """
        times = self._times
        count = len(times)
        if closed == "right":
            lo = bisect.bisect_right(times, now - back)
            hi = bisect.bisect_right(times, now - lag)
        else:
            lo = bisect.bisect_left(times, now - back)
            hi = bisect.bisect_left(times, now - lag)
        until = math.inf
        if lo < count:
            until = early(times[lo] + back)
        if hi < count:
            until = min(until, early(times[hi] + lag))
        return until

    def next_value_after(self, now: float) -> float:
        """Time of the oldest value newer than ``now`` (infinity when there is none)."""
        times = self._times
        hi = bisect.bisect_right(times, now)
        return times[hi] if hi < len(times) else math.inf

    def between(
        self, start: float, end: float, *, closed: Literal["right", "left"] = "right"
    ) -> list[observations.Observation]:
        """Values with time in ``(start, end]`` (``closed="right"``) or ``[start, end)``."""
        return self.range(start, end, closed=closed).values()

    def pinned_range(self, at: float, *, start: float) -> Span | None:
        """:meth:`pinned` as a :class:`Span`; None if nothing was pinned at ``at``."""
        pin = self._pins.get(at)
        if pin is None:
            return None
        series = pin.values
        return Span(series, bisect.bisect_left(series.times, start), len(series))

    def pin_series(self, at: float) -> _Series | None:
        """The values pinned for the mark at ``at`` (read-only); None if nothing was pinned."""
        pin = self._pins.get(at)
        return None if pin is None else pin.values

    def pinned(self, at: float, *, start: float) -> list[observations.Observation] | None:
        """Pinned values in ``[start, at)`` for the mark at ``at``; None if nothing was pinned."""
        span = self.pinned_range(at, start=start)
        return None if span is None else span.values()

    def last(self, count: int, *, until: float) -> list[observations.Observation]:
        """The newest ``count`` values with time <= ``until``, oldest first."""
        hi = bisect.bisect_right(self._times, until)
        return self._values[max(0, hi - count) : hi]

    def newest_first(self, *, until: float) -> Iterator[observations.Observation]:
        """Values with time <= ``until``, newest first (for walking back a streak)."""
        hi = bisect.bisect_right(self._times, until)
        for i in range(hi - 1, -1, -1):
            yield self._values[i]

    @property
    def errors(self) -> int:
        """How many probe errors are newer than the newest value (``streak().count``)."""
        return len(self._errors)

    @property
    def series(self) -> _Series:
        """The values and their running totals, for a rule's running state (read-only)."""
        return self._series

    def streak(self) -> Streak:
        """Probe errors newer than the newest value: the detector's current blindness."""
        errors = self._errors
        return Streak(
            count=len(errors),
            saturated=len(errors) >= self.error_memory,
            first=errors[0] if errors else None,
            last=errors[-1] if errors else None,
        )
