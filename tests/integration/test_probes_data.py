"""The data probe against a real SQLite file and real files: counts, strings, hashes, errors."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.detect.probes import data
from rollsafe.testing import FakeClock

TARGET = models.Target(id="db-1", vars={"db": "shop"})


def _probe(**options: object) -> data.DataProbe:
    config = models.DataProbe.model_validate({"kind": "data", "name": "rows", **options})
    return data.DataProbe(config, FakeClock(start=11.0))


@pytest.fixture
def shop_db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL, ref TEXT)")
        connection.executemany(
            "INSERT INTO orders (total, ref) VALUES (?, ?)",
            [(9.5, "a1"), (20.0, "b2"), (1.25, "c3")],
        )
    connection.close()
    return path


async def test_row_count_of_a_real_sqlite_file(shop_db: Path) -> None:
    probe = _probe(
        url=f"sqlite:///{shop_db.parent}/{{db}}.sqlite", query="SELECT count(*) FROM orders"
    )
    seen = await probe.observe(TARGET)
    assert seen.ok, seen.error
    assert (seen.value, seen.text, seen.time, seen.source) == (3.0, None, 11.0, "rows")
    with sqlite3.connect(shop_db) as connection:
        connection.execute("INSERT INTO orders (total, ref) VALUES (1, 'd4')")
    connection.close()
    assert (await probe.observe(TARGET)).value == 4.0  # the cached engine sees new data
    await probe.close()


async def test_decimal_sum_is_a_value_and_a_string_is_text(shop_db: Path) -> None:
    total = _probe(url=f"sqlite:///{shop_db}", query="SELECT sum(total) FROM orders")
    ref = _probe(url=f"sqlite:///{shop_db}", query="SELECT group_concat(ref, ',') FROM orders")
    assert (await total.observe(TARGET)).value == 30.75
    seen = await ref.observe(TARGET)
    assert (seen.value, seen.text) == (None, "a1,b2,c3")
    await total.close()
    await ref.close()


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("SELECT count(*) FROM missing_table", "query failed: no such table: missing_table"),
        ("SELECT id FROM orders WHERE id < 0", "query returned no rows"),
        ("SELECT NULL", "query returned NULL"),
    ],
)
async def test_query_that_cannot_answer_is_an_error(shop_db: Path, query: str, reason: str) -> None:
    probe = _probe(url=f"sqlite:///{shop_db}", query=query)
    seen = await probe.observe(TARGET)
    assert (seen.error, seen.value) == (reason, None)
    await probe.close()


async def test_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "gone.sqlite"
    probe = _probe(url=f"sqlite:///{path}", query="SELECT 1")
    seen = await probe.observe(TARGET)
    assert seen.error == f"file not found: {path}"
    assert not path.exists()
    await probe.close()


async def test_unusable_database_url_is_an_error() -> None:
    probe = _probe(url="nosuchdb://user@host/db", query="SELECT 1")
    seen = await probe.observe(TARGET)
    assert seen.error is not None
    assert seen.error.startswith("cannot use database url")
    await probe.close()


async def test_sha256_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.conf"
    content = b"listen 8080\n" * 200_000  # several hash chunks
    path.write_bytes(content)
    probe = _probe(file=str(tmp_path / "{db}.conf"))
    seen = await probe.observe(TARGET)
    assert seen.ok, seen.error
    assert (seen.value, seen.text) == (None, hashlib.sha256(content).hexdigest())
    path.write_bytes(content + b"x")
    assert (await probe.observe(TARGET)).text != seen.text
    await probe.close()


async def test_missing_file_is_an_error(tmp_path: Path) -> None:
    seen = await _probe(file=str(tmp_path / "nope.conf")).observe(TARGET)
    assert (seen.error, seen.text) == (f"file not found: {tmp_path / 'nope.conf'}", None)


async def test_directory_is_not_a_file(tmp_path: Path) -> None:
    seen = await _probe(file=str(tmp_path)).observe(TARGET)
    assert seen.error == f"not a file: {tmp_path}"
