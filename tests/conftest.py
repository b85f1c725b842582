"""Fixtures shared by every test area: a throwaway PostgreSQL server for the store's tests.

The server starts once per session, on first use only; each test that asks for
``postgres_url`` gets a fresh, empty database on it. Missing PostgreSQL binaries fail the
test (CI installs them): a silently skipped back end would look like a passing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from support import postgres


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[postgres.Server]:
    if not postgres.available():
        pytest.fail(
            f"PostgreSQL 15 binaries not found in {postgres.BIN_DIR}: install postgresql-15 "
            "to run the tests marked 'postgres'",
            pytrace=False,
        )
    server = postgres.start(tmp_path_factory.mktemp("postgres"))
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: postgres.Server) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """The store's URL, once per back end: None (SQLite in the state dir) and PostgreSQL."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return None
