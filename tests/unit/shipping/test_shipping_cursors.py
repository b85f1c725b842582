"""Shipping cursors in the store (real SQLite, file and memory) and the async Cursor over them."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from rollsafe.shipping import cursors
from rollsafe.storage import sql


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    opened = sql.open_store(tmp_path / "state", None if request.param == "file" else "sqlite://")
    yield opened
    opened.close()


def test_an_unknown_sink_starts_at_zero_and_each_sink_has_its_own_cursor(store):
    assert store.get_cursor("es") == 0
    store.set_cursor("es", 41, at=1000.0)
    store.set_cursor("loki", 7, at=1000.0)
    store.set_cursor("es", 42, at=1001.0)
    assert (store.get_cursor("es"), store.get_cursor("loki")) == (42, 7)


def test_a_cursor_can_be_set_back_to_ship_again(store):
    store.set_cursor("es", 100)
    store.set_cursor("es", 10)
    assert store.get_cursor("es") == 10


def test_cursors_survive_a_reopen_with_the_time_they_moved(tmp_path):
    with sql.open_store(tmp_path) as store:
        store.set_cursor("siem", 5, at=1234.5)
    with sql.open_store(tmp_path) as store:
        assert store.get_cursor("siem") == 5
    with contextlib.closing(sqlite3.connect(tmp_path / sql.DB_FILE)) as raw:
        rows = raw.execute("SELECT name, seq, updated_at FROM shipping_cursors").fetchall()
    assert rows == [("siem", 5, 1234.5)]


async def test_the_async_cursor_loads_advances_and_wakes_waiters(store):
    store.set_cursor("es", 3)
    cursor = cursors.Cursor(store, "es")
    assert await cursor.load() == 3
    waiter = asyncio.create_task(cursor.reached(5))
    await cursor.advance(4)
    await asyncio.sleep(0)
    assert not waiter.done()
    await cursor.advance(5)
    async with asyncio.timeout(10):
        await waiter
    await cursor.advance(2)  # never backwards on its own
    assert (cursor.seq, store.get_cursor("es")) == (5, 5)
