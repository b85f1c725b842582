"""The retention planner: what it deletes, what it keeps, and that protection always wins."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollsafe.domain import ids, restore_points, retention


def _point(target: str, n: int, *, at: float | None = None) -> restore_points.RestorePoint:
    return restore_points.RestorePoint(
        id=ids.RestorePointId(f"rp-{target}-{n}"),
        target=ids.TargetId(target),
        driver="files",
        created_at=float(n) if at is None else at,
    )


def test_keeps_the_newest_n_per_target_and_deletes_the_rest() -> None:
    points = [_point("db1", n) for n in range(6)] + [_point("web1", n) for n in range(2)]
    result = retention.plan(points, keep_last=3, protected={})
    assert [v.point.id for v in result.delete] == ["rp-db1-0", "rp-db1-1", "rp-db1-2"]
    assert {v.point.id for v in result.keep} == {
        "rp-db1-3",
        "rp-db1-4",
        "rp-db1-5",
        "rp-web1-0",
        "rp-web1-1",
    }
    assert "keep_last" in result.delete[0].reason
    assert "newest restore point of db1" in {v.reason for v in result.keep}


def test_a_protected_point_is_kept_with_its_reason() -> None:
    points = [_point("db1", n) for n in range(5)]
    protected = {ids.RestorePointId("rp-db1-0"): "used by open run run-1"}
    result = retention.plan(points, keep_last=1, protected=protected)
    assert [v.point.id for v in result.delete] == ["rp-db1-1", "rp-db1-2", "rp-db1-3"]
    kept = {v.point.id: v.reason for v in result.keep}
    assert kept == {"rp-db1-0": "used by open run run-1", "rp-db1-4": "newest restore point of db1"}


def test_keep_last_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        retention.plan([_point("db1", 0)], keep_last=0, protected={})


_points = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 50), st.integers(0, 5)),
    max_size=30,
    unique_by=lambda t: (t[0], t[1]),
).map(lambda raw: [_point(t, n, at=float(at)) for t, n, at in raw])


@given(points=_points, keep_last=st.integers(1, 6), data=st.data())
def test_properties(
    points: list[restore_points.RestorePoint], keep_last: int, data: st.DataObject
) -> None:
    chosen = data.draw(
        st.sets(st.sampled_from([p.id for p in points])) if points else st.just(set())
    )
    protected = dict.fromkeys(chosen, "pinned")
    result = retention.plan(points, keep_last=keep_last, protected=protected)
    deleted = {v.point.id for v in result.delete}
    kept = {v.point.id for v in result.keep}
    # Every point is in exactly one of the two lists.
    assert deleted | kept == {p.id for p in points}
    assert not deleted & kept
    # Protection always wins.
    assert not deleted & set(protected)
    for target in {p.target for p in points}:
        own = sorted((p for p in points if p.target == target), key=lambda p: (p.created_at, p.id))
        own_kept = [p for p in own if p.id in kept]
        # At least keep_last stay (or all there are), and the newest always stays.
        assert len(own_kept) >= min(keep_last, len(own))
        assert own[-1].id in kept
        # Nothing newer than a deleted point is deleted while fewer than keep_last are newer.
        for p in own:
            if p.id in deleted:
                newer = [q for q in own if (q.created_at, q.id) > (p.created_at, p.id)]
                assert len(newer) >= keep_last
