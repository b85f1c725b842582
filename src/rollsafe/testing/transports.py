"""Fake transports for tests of probes, recipes and rounds: real commands, or scripted answers.

``FakeTransport`` implements ``rollsafe.reach.transports.transporting.Transport`` by running
each script on this machine through the real ``LocalTransport`` (so scripts really run, exit
and print), while standing in for any kind of transport: give it ``kind="aws_ssm"`` and an
``aws_ssm`` transport ``config`` and the scheduler groups its probes into rounds as it would
for SSM::

    ssm = models.SsmTransport(kind="aws_ssm", region="eu-west-1")
    cloud = FakeTransport(kind="aws_ssm", config=ssm, cap=2500)   # SSM keeps 2500 chars
    result = await cloud.run(target, "echo hi", limit_s=5)
    assert cloud.calls[target.id] == 1 and cloud.scripts == ["echo hi"]
    cloud.fail = errors.DriverTemporaryError("throttled")          # every later call raises

``calls`` counts commands per target id and ``scripts`` lists every script in order, whether
the call then fails or not. ``fail`` (when set) is raised instead of running the script.
``cap`` (when set) keeps only the first ``cap`` characters of stdout and marks the result
``truncated``, as a cloud run-command API does with its output limit.

``ScriptedTransport`` runs nothing: it answers from rules, for code whose commands cannot run
on the test machine (snapper, LVM, apt, rpm-ostree ...), and records what it was sent::

    host = ScriptedTransport().on("lvs", CommandResult(0, LVS_OUTPUT, "", 0.01))
    host.on("reboot", ConnectionResetError())          # an answer may be an exception
    assert host.sent("lvcreate") == [...]

Rules are matched newest first by substring; each answers its results in turn and repeats the
last. A command no rule matches raises ``AssertionError`` naming it, so a test never passes
on a command it did not expect.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

from rollsafe.config import models
from rollsafe.reach.transports import local, transporting


class FakeTransport:
    """Implements ``transporting.Transport``; see the module docstring."""

    def __init__(
        self,
        *,
        kind: str = "local",
        config: models.Transport | None = None,
        fail: BaseException | None = None,
        cap: int | None = None,
        output_limit: int = 1 << 20,
    ) -> None:
        if cap is not None and cap < 0:
            raise ValueError(f"cap must be a number of characters >= 0, not {cap}")
        if config is not None and config.kind != kind:
            raise ValueError(f"kind {kind!r} does not match the config's kind {config.kind!r}")
        self.kind = kind
        self.config = config
        self.fail = fail
        self.cap = cap
        self.calls: collections.Counter[str] = collections.Counter()
        self.scripts: list[str] = []
        self.closed = False
        self._local = local.LocalTransport(output_limit=output_limit)

    async def run(
        self,
        target: models.Target,
        script: str,
        *,
        limit_s: float,
        env: Mapping[str, str] | None = None,
    ) -> transporting.CommandResult:
        self.calls[target.id] += 1
        self.scripts.append(script)
        if self.fail is not None:
            raise self.fail
        result = await self._local.run(target, script, limit_s=limit_s, env=env)
        if self.cap is None or len(result.stdout) <= self.cap:
            return result
        return transporting.CommandResult(
            exit_status=result.exit_status,
            stdout=result.stdout[: self.cap],
            stderr=result.stderr,
            duration=result.duration,
            truncated=True,
            invocation_id=result.invocation_id,
        )

    async def close(self) -> None:
        self.closed = True
        await self._local.close()


Answer = transporting.CommandResult | BaseException
"""What a ``ScriptedTransport`` rule answers: a result, or an exception to raise."""


class ScriptedTransport:
    """Implements ``transporting.Transport`` from scripted answers; see the module docstring."""

    kind = "scripted"

    def __init__(self) -> None:
        self._rules: list[tuple[str, list[Answer]]] = []
        self.commands: list[str] = []  # every script sent, in order
        self.limits: list[float] = []  # the time limit each came with

    def on(self, needle: str, *answers: Answer) -> ScriptedTransport:
        """Answer commands containing ``needle`` with ``answers`` in turn (last one repeats)."""
        if not answers:
            raise ValueError(f"the rule for {needle!r} needs at least one answer")
        self._rules.insert(0, (needle, list(answers)))
        return self

    def sent(self, needle: str) -> list[str]:
        """The commands sent that contain ``needle``, in order."""
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


_IMPLEMENTS: transporting.Transport = FakeTransport()
_IMPLEMENTS_TOO: transporting.Transport = ScriptedTransport()
