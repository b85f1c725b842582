"""The executor tests' shared set-up: a fake clock, the real SQLite store, the FakeDriver.

A test module that needs another driver (other steps) overrides ``driver`` in itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runs_helpers import open_store

from rollsafe import testing
from rollsafe.storage import sql


@pytest.fixture
def clock() -> testing.FakeClock:
    return testing.FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sql.SqlStore]:
    opened = open_store(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def driver(clock: testing.FakeClock) -> testing.FakeDriver:
    return testing.FakeDriver(clock=clock)
