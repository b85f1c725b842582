"""Fixtures and checks shared by every test area.

* A throwaway PostgreSQL server for the store's tests: it starts once per session, on first
  use only; each test that asks for ``postgres_url`` gets a fresh, empty database on it.
* ``@pytest.mark.requires("sshd", "root", ...)``: a test of a real component names the machine
  tools it needs (``support/system_tools.py``); a missing one *fails* the test with the command
  that installs it. A silently skipped back end would look like a passing one.
* With ``CI=true`` no test may skip at all, unless it is marked ``may_skip`` (a skip that says
  something about the machine, not a missing component, e.g. root writing a read-only
  directory): a skip becomes a failure naming its reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from support import postgres, system_tools

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("requires"):
        system_tools.require(*marker.args)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if (
        IN_CI
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("may_skip") is None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where no test of a real component may skip: {reason}"


@pytest.hookimpl(tryfirst=True)  # before an xdist worker sends the report to the controller
def pytest_collectreport(report: pytest.CollectReport) -> None:
    if IN_CI and report.skipped:
        report.outcome = "failed"


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
