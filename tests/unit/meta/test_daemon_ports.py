"""The test suite's own guard: a test that starts ``rollsafe run`` never takes the default port.

``make test`` runs test files in several pytest-xdist workers at once. A daemon started on the
API's default port (8787) while another test's daemon holds it cannot serve its API: round 12's
fresh-clone run lost ``test_daemon_restart_marks`` that way (its daemon never judged). Every
test file that starts a daemon therefore names its port: ``server:`` in its configuration (a
free port, ``port: 0``, or ``enabled: false``) or ``--port`` on the command line.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
STARTS_A_DAEMON = re.compile(r'ROLLSAFE\]?,\s*"run",')
NAMES_ITS_PORT = re.compile(r"server:|\"server\":|\"--port\"")


def _starting_a_daemon() -> list[Path]:
    return [
        path
        for path in sorted(TESTS.rglob("*.py"))
        if STARTS_A_DAEMON.search(path.read_text(encoding="utf-8"))
    ]


def test_the_guard_finds_the_tests_that_start_a_daemon() -> None:
    found = {path.name for path in _starting_a_daemon()}
    assert {"test_daemon_restart_marks.py", "test_daemon_loop.py", "test_intake_cli.py"} <= found


def test_every_test_that_starts_a_daemon_names_its_port() -> None:
    unnamed = [
        str(path.relative_to(TESTS))
        for path in _starting_a_daemon()
        if not NAMES_ITS_PORT.search(path.read_text(encoding="utf-8"))
    ]
    assert unnamed == [], f"start `rollsafe run` on a free port (server: {{port: 0}}): {unnamed}"
