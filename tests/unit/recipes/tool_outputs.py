"""The answers the recipe tests script into ``rollsafe.testing.ScriptedTransport``.

The recipes for snapper, LVM, apt, dnf, rpm-ostree and bootc cannot run on the test machine,
so their tests feed them the outputs those tools print (files under ``outputs/``, written in
the tools' documented formats or captured from the real tools: see outputs/README.md) through
the shipped ``ScriptedTransport``, and assert on the exact command texts they send.
"""

from __future__ import annotations

from pathlib import Path

from rollsafe.reach.transports import transporting

OUTPUTS = Path(__file__).parent / "outputs"


def output(name: str) -> str:
    return (OUTPUTS / name).read_text()


def ok(stdout: str = "", stderr: str = "") -> transporting.CommandResult:
    return transporting.CommandResult(exit_status=0, stdout=stdout, stderr=stderr, duration=0.01)


def fail(status: int, stderr: str = "", stdout: str = "") -> transporting.CommandResult:
    return transporting.CommandResult(
        exit_status=status, stdout=stdout, stderr=stderr, duration=0.01
    )


def from_file(name: str) -> transporting.CommandResult:
    return ok(output(name))
