"""Group commit of webhook bodies: every caller gets its own receipt, after the commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rollsafe.domain import errors
from rollsafe.storage import group_commit, repositories, sql


def _entry(body: bytes, *, at: float = 100.0) -> repositories.InboxEntry:
    return repositories.InboxEntry(
        received_at=at, endpoint="am", headers={}, body=body, dedupe_key=f"am:{body!r}"
    )


async def test_concurrent_bodies_are_all_committed_with_their_own_receipts(
    tmp_path: Path,
) -> None:
    store = sql.open_store(tmp_path)
    writer = group_commit.InboxWriter(store)
    bodies = [f"body-{i}".encode() for i in range(300)]
    receipts = await asyncio.gather(*(writer.add(_entry(b), dedupe_since=0.0) for b in bodies))
    assert len({r.id for r in receipts}) == 300
    assert not any(r.duplicate for r in receipts)
    stored = {r.id: r.body for r in store.list_inbox(limit=1000)}
    assert {stored[r.id] for r in receipts} == set(bodies)


async def test_a_body_repeated_inside_one_batch_is_a_duplicate_of_its_first_copy(
    tmp_path: Path,
) -> None:
    store = sql.open_store(tmp_path)
    writer = group_commit.InboxWriter(store)
    first, again, other = await asyncio.gather(
        writer.add(_entry(b"same"), dedupe_since=0.0),
        writer.add(_entry(b"same"), dedupe_since=0.0),
        writer.add(_entry(b"other"), dedupe_since=0.0),
    )
    assert not first.duplicate
    assert not other.duplicate
    assert again.duplicate
    assert again.id == first.id
    assert len(store.list_inbox(limit=10)) == 2
    # Outside the dedupe window (dedupe_since after the first copy) it is stored again.
    (late,) = store.add_inbox_many([(_entry(b"same", at=200.0), 150.0)])
    assert not late.duplicate


async def test_a_failed_commit_fails_every_caller_of_its_batch_and_stores_nothing(
    tmp_path: Path,
) -> None:
    store = sql.open_store(tmp_path)

    class Broken:
        def add_inbox_many(self, entries: object) -> list[repositories.InboxReceipt]:
            raise errors.StoreError("disk full")

    writer = group_commit.InboxWriter(Broken())  # type: ignore[arg-type]
    results = await asyncio.gather(
        *(writer.add(_entry(f"b{i}".encode())) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, errors.StoreError) for r in results)
    assert store.list_inbox(limit=10) == []
    # The writer recovers: the next body is committed normally.
    good = group_commit.InboxWriter(store)
    receipt = await good.add(_entry(b"after"))
    assert [r.id for r in store.list_inbox(limit=10)] == [receipt.id]


def test_add_inbox_many_of_nothing_commits_nothing(tmp_path: Path) -> None:
    store = sql.open_store(tmp_path)
    assert store.add_inbox_many([]) == []
    assert store.list_inbox(limit=10) == []
