"""A transport that answers commands from a script of outputs and records what it was sent.

The recipes for snapper, LVM, apt, dnf, rpm-ostree and bootc cannot run on the test machine,
so their tests feed them the outputs those tools print (files under ``outputs/``, written in
the tools' documented formats or captured from the real tools: see outputs/README.md) and
assert on the exact command texts they send.

Rules are matched newest first by substring; each rule answers its results in order and
repeats the last one. An answer may be an exception (the connection lost during a reboot).
A command no rule matches fails the test loudly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rollsafe.config import models
from rollsafe.reach.transports import transporting

OUTPUTS = Path(__file__).parent / "outputs"

Answer = transporting.CommandResult | BaseException


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


class ScriptedTransport:
    kind = "scripted"

    def __init__(self) -> None:
        self._rules: list[tuple[str, list[Answer]]] = []
        self.commands: list[str] = []
        self.limits: list[float] = []

    def on(self, needle: str, *answers: Answer) -> ScriptedTransport:
        """Answer commands containing ``needle`` with ``answers`` in turn (last one repeats)."""
        assert answers, "a rule needs at least one answer"
        self._rules.insert(0, (needle, list(answers)))
        return self

    def sent(self, needle: str) -> list[str]:
        return [command for command in self.commands if needle in command]

    async def run(
        self,
        target: models.Target,
        script: str,
        *,
        limit_s: float,
        env: Mapping[str, str] | None = None,
    ) -> transporting.CommandResult:
        self.commands.append(script)
        self.limits.append(limit_s)
        for needle, answers in self._rules:
            if needle in script:
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if isinstance(answer, BaseException):
                    raise answer
                return answer
        raise AssertionError(f"unscripted command: {script!r}")

    async def close(self) -> None:
        return None
