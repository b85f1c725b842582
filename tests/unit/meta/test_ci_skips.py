"""The test suite's own guard: in CI a skip fails, and a missing machine tool fails naming it.

Runs pytest in a subprocess on a small test file, with this suite's conftest hooks loaded as a
plugin, once with ``CI=true`` and once without, and with ``CI=true`` in two pytest-xdist
workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]

SAMPLE = """
import pytest

def test_skips():
    pytest.skip("no such server here")

@pytest.mark.may_skip
def test_may_skip():
    pytest.skip("root can write anywhere")

@pytest.mark.requires("snapper")
def test_needs_a_tool():
    pass
"""


def _pytest(tmp_path: Path, *, ci: bool, path: str, workers: int = 0) -> str:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "markers =\n    requires(*tools): tools\n    may_skip: allowed\n"
    )
    env = {**os.environ, "PYTHONPATH": str(TESTS), "CI": "true" if ci else "", "PATH": path}
    parallel = ["-n", str(workers)] if workers else []
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "conftest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            *parallel,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout + done.stderr


def test_in_ci_a_skip_fails_unless_marked_may_skip(tmp_path: Path) -> None:
    out = _pytest(tmp_path, ci=True, path=os.environ["PATH"])
    assert "FAILED test_sample.py::test_skips" in out
    assert "skipped in CI, where no test of a real component may skip: no such server here" in out
    assert "SKIPPED [1] test_sample.py" in out  # test_may_skip


def test_in_ci_a_skip_fails_in_xdist_workers_too(tmp_path: Path) -> None:
    # `make test` runs the suite in pytest-xdist workers: the hooks must hold there as well.
    out = _pytest(tmp_path, ci=True, path=os.environ["PATH"], workers=2)
    assert "bringing up nodes" in out  # xdist started its workers
    assert "FAILED test_sample.py::test_skips" in out
    assert "skipped in CI, where no test of a real component may skip: no such server here" in out
    assert "SKIPPED [1] test_sample.py" in out  # test_may_skip


def test_outside_ci_a_skip_is_a_skip(tmp_path: Path) -> None:
    out = _pytest(tmp_path, ci=False, path=os.environ["PATH"])
    assert "SKIPPED [1] test_sample.py:5: no such server here" in out
    assert "FAILED test_sample.py::test_skips" not in out


def test_a_missing_tool_fails_the_test_naming_the_install_command(tmp_path: Path) -> None:
    # An empty PATH stands for a machine without snapper (Debian puts it in /usr/bin).
    out = _pytest(tmp_path, ci=False, path=str(tmp_path / "empty-bin"))
    assert "ERROR test_sample.py::test_needs_a_tool" in out
    assert "snapper is not installed: run scripts/install-system-deps" in out
    assert "apt-get install -y snapper" in out
