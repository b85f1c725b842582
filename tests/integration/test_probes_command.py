"""The command probe runs real processes: exit codes, parsed numbers, absence, timeouts."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import psutil
import pytest

from rollsafe.config import models
from rollsafe.detect.probes import command
from rollsafe.domain import errors
from rollsafe.testing import FakeClock

TARGET = models.Target(id="svc-1", vars={"unit": "my app", "depth": 42})
PY = sys.executable


def _probe(cmd: str | list[str], **options: object) -> command.CommandProbe:
    config = models.CommandProbe.model_validate(
        {"kind": "command", "name": "check", "command": cmd, **options}
    )
    return command.CommandProbe(config, FakeClock(start=5.0))


async def test_exit_zero_is_up() -> None:
    seen = await _probe("true").observe(TARGET)
    assert seen.ok, seen.error
    assert (seen.value, seen.status, seen.text, seen.source, seen.time) == (
        1.0,
        0,
        None,
        "check",
        5.0,
    )
    assert seen.latency_s is not None


async def test_non_zero_exit_is_down_with_the_last_stderr_line() -> None:
    script = (
        "import sys; print('checking'); print('warm', file=sys.stderr);"
        " print('unit failed', file=sys.stderr); sys.exit(3)"
    )
    seen = await _probe([PY, "-c", script]).observe(TARGET)
    assert seen.ok
    assert (seen.value, seen.status, seen.text) == (0.0, 3, "unit failed")


async def test_words_are_split_first_then_rendered() -> None:
    # A label with a space stays one argument: no shell ever sees it.
    script = "import sys; print(len(sys.argv) - 1, sys.argv[1])"
    seen = await _probe(f"{PY} -c '{script}' {{unit}}", parse=r"^(\d+) my app$").observe(TARGET)
    assert seen.ok, seen.error
    assert seen.value == 1.0


async def test_parse_reads_the_first_group_from_stdout() -> None:
    seen = await _probe(["echo", "queue depth: {depth} items"], parse=r"depth: (\d+)").observe(
        TARGET
    )
    assert seen.ok, seen.error
    assert (seen.value, seen.status) == (42.0, 0)


async def test_parse_without_group_takes_the_whole_match() -> None:
    seen = await _probe(["echo", "load 0.75"], parse=r"\d+\.\d+").observe(TARGET)
    assert seen.value == 0.75


async def test_parse_without_match_is_an_error() -> None:
    seen = await _probe(["echo", "nothing here"], parse=r"depth: (\d+)").observe(TARGET)
    assert (seen.error, seen.value) == ("parse found no match in the output (exit 0)", None)


async def test_parse_that_is_not_a_number_is_an_error() -> None:
    seen = await _probe(["echo", "depth: many"], parse=r"depth: (\w+)").observe(TARGET)
    assert seen.error == "parse matched 'many', not a number"


async def test_command_not_found_is_an_error() -> None:
    seen = await _probe("rollsafe-no-such-command --flag").observe(TARGET)
    assert (seen.error, seen.value, seen.status) == (
        "command not found: rollsafe-no-such-command",
        None,
        None,
    )


async def test_unknown_template_variable_is_an_error() -> None:
    seen = await _probe("echo {nope}").observe(TARGET)
    assert seen.error == "command: unknown template variable 'nope' for target svc-1"


async def test_timeout_is_an_error_and_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # The shell starts a grandchild that would outlive a kill of the shell alone.
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    probe = _probe(["sh", "-c", script], timeout="500ms")
    seen = await probe.observe(TARGET)
    assert (seen.error, seen.value) == ("timeout after 500ms", None)
    grandchild = int(pid_file.read_text())
    await asyncio.wait_for(_gone(grandchild), timeout=10)


async def _gone(pid: int) -> None:
    # No event tells us another process died; poll its state (a zombie awaiting reaping by
    # a container's init counts as dead).
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        await asyncio.sleep(0.02)


async def test_huge_output_is_capped() -> None:
    script = "import sys; sys.stdout.write('x' * (3 * 1024 * 1024)); print(); print('value 7')"
    seen = await _probe([PY, "-c", script], parse=r"value (\d+)").observe(TARGET)
    # The number came after the first MiB, so it is beyond what is kept.
    assert seen.error == "parse found no match in the output (exit 0)"


@pytest.mark.parametrize(
    ("cmd", "parse", "match"),
    [("echo 'unbalanced", None, "cannot be split"), ("echo ok", "(bad", "not a valid regex")],
)
def test_construction_mistakes_are_config_errors(cmd: str, parse: str | None, match: str) -> None:
    with pytest.raises(errors.ConfigError, match=match):
        _probe(cmd, parse=parse)
