"""Batching: the remote probe commands of one target's round sent as ONE cloud command.

Role in the loop (reach): over AWS Systems Manager, Alibaba Cloud Assistant and Tencent TAT
every command costs a send call, an agent pick-up and polls, seconds in all, and each call
counts against the API's rate limit. When the scheduler observes the remote probes of one
target that share such a transport, it opens a ``Round`` for them (``opened``); each probe's
command (``remote.run`` in ``detect``) is then handed to the round instead of the transport,
and the round sends them all in one script once every member of the round has either handed
its command in or finished without one. Nothing waits on a timer: the round knows how many
members it has.

The batch script (``script``) runs every part in parallel on the host, each in its own
``sh -c`` under ``timeout`` with its stdout and stderr in files, then prints, per part, a
header with its exit status, its stdout cut to the part's byte budget, a separator and its
stderr (cut to ``ERR_BUDGET``), all framed by a mark drawn at random for this batch so no
output can forge a frame. ``split`` reads that back into one ``CommandResult`` per part:

- a part's exit status is its own: a failing part makes only its probe blind (or its value,
  for a command probe);
- a part whose frame is missing (the cloud cut the batch's output) is an error for that part;
- a failed call (throttled, agent offline, timed out) is the error of every part: each probe
  is blind, never a failure value.

The clouds take a bounded script (``SCRIPT_CAPS``: a round whose parts outgrow it goes as
several commands, as few as fit) and return a bounded output (``OUTPUT_CAPS``), so each part
gets ``part_budget`` bytes:
a probe reading a log asks for it before it builds its command and reads at most that much,
working a backlog off over rounds, instead of having bytes cut after it moved its offset.
Identical commands in one round (every ``host`` probe of a target reads the same ``/proc``
files) are sent once and their result handed to each.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import re
import secrets
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach.transports import transporting

OUTPUT_CAPS: dict[str, int] = {
    "aws_ssm": 24_000,  # GetCommandInvocation: the first 24,000 characters of stdout
    "aliyun_assistant": 24 * 1024,  # DescribeInvocationResults: Output is cut at 24 KB
    "tencent_tat": 24 * 1024,  # DescribeInvocationTasks: TaskResult.Output, its last 24 KB
}
"""Output each cloud returns for one command; the kinds whose probes are batched."""

SCRIPT_CAPS: dict[str, int] = {
    # RunCommand: CommandContent at most 16 KB once Base64-encoded (3 bytes -> 4 characters).
    "aliyun_assistant": 16 * 1024 * 3 // 4 - 512,
    # RunCommand: Content, Base64, at most 64 KB.
    "tencent_tat": 64 * 1024 * 3 // 4 - 512,
}
"""Script bytes one command may carry, where the cloud says; a longer round goes as several."""

ERR_BUDGET = 512
"""Bytes of a part's stderr kept: enough for its reason, never at the others' expense."""

_FRAME = 160  # bytes of frame lines per part, and of the batch's own lines
_MIN_BUDGET = 512


def batched(config: models.Transport | None) -> bool:
    """Whether the probes reading a target through ``config`` are sent in rounds."""
    return config is not None and getattr(config, "kind", None) in OUTPUT_CAPS


def part_budget(kind: str, parts: int) -> int:
    """Bytes of stdout each of ``parts`` parts may print for the batch to fit the output cap."""
    cap = OUTPUT_CAPS.get(kind, 0)
    if parts < 1 or not cap:
        return 0
    share = (cap - _FRAME) // parts - _FRAME - ERR_BUDGET
    return max(_MIN_BUDGET, share)


# ------------------------------------------------------------------------------- the script

_RUNNER = r"""
d=$(mktemp -d 2>/dev/null || { mkdir -p "/tmp/rollsafe.$$" && echo "/tmp/rollsafe.$$"; }) \
  || exit 90
trap 'rm -rf "$d"' EXIT
command -v timeout >/dev/null 2>&1 || timeout() { shift; "$@"; }
part() { timeout "$2" sh -c "$3" >"$d/$1.o" 2>"$d/$1.e" </dev/null; echo $? >"$d/$1.s"; }
show() {
  printf '%s %s %s %s\n' "$m" "$1" "$(cat "$d/$1.s" 2>/dev/null || echo 255)" \
    "$(wc -c <"$d/$1.o" | tr -d ' ')"
  head -c "$2" "$d/$1.o"
  printf '\n%s %s err\n' "$m" "$1"
  head -c "$3" "$d/$1.e"
  printf '\n'
}
"""


@dataclass(frozen=True, slots=True)
class Part:
    """One probe's command in a batch: the script, its time limit and its stdout budget."""

    script: str
    limit_s: float
    budget: int


def script(parts: list[Part], *, mark: str) -> str:
    """The POSIX sh running ``parts`` in parallel and printing each in its frame."""
    lines = [f"m={shlex.quote(mark)}", _RUNNER]
    for index, one in enumerate(parts):
        seconds = max(1, math.ceil(one.limit_s))
        lines.append(f"part {index} {seconds} {shlex.quote(one.script)} &")
    lines.append("wait")
    lines.extend(f"show {index} {one.budget} {ERR_BUDGET}" for index, one in enumerate(parts))
    lines.append("printf '%s done\\n' \"$m\"")
    return "\n".join(lines) + "\n"


def packed(parts: list[Part], *, kind: str) -> list[list[Part]]:
    """``parts`` in as few batches as the cloud's script size allows (in order, greedily)."""
    cap = SCRIPT_CAPS.get(kind)
    if cap is None:
        return [parts]
    batches: list[list[Part]] = [[]]
    for one in parts:
        trial = [*batches[-1], one]
        if batches[-1] and len(script(trial, mark=new_mark()).encode()) > cap:
            batches.append([one])
        else:
            batches[-1] = trial
    return batches


def new_mark() -> str:
    return "@@rollsafe-batch-" + secrets.token_hex(8) + "@@"


class PartMissing(errors.DriverError):
    """The batch's output did not carry this part (the cloud cut it, or the batch died)."""


def split(
    output: str, *, mark: str, parts: list[Part], duration: float, invocation_id: str = ""
) -> list[transporting.CommandResult | PartMissing]:
    """The result of each part from the batch's ``output``, in the order of ``parts``."""
    frame = re.compile(
        rf"^{re.escape(mark)} (\d+) (-?\d+) (\d+)\n(.*?)\n{re.escape(mark)} \1 err\n(.*?)\n"
        rf"(?={re.escape(mark)} )",
        re.S | re.M,
    )
    found: dict[int, transporting.CommandResult] = {}
    for match in frame.finditer(output):
        index, status, size = int(match[1]), int(match[2]), int(match[3])
        if index >= len(parts) or index in found:
            continue
        found[index] = transporting.CommandResult(
            exit_status=status,
            stdout=match[4],
            stderr=match[5],
            duration=duration,
            truncated=size > parts[index].budget,
            invocation_id=invocation_id,
        )
    return [
        found.get(index)
        or PartMissing(
            f"the batched command's output ({invocation_id or 'no id'}) lacks part {index}: "
            "the cloud cut it or the batch did not finish"
        )
        for index in range(len(parts))
    ]


# -------------------------------------------------------------------------------- the round


@dataclass(eq=False)
class _Waiting:
    part: Part
    futures: list[asyncio.Future[transporting.CommandResult]] = field(default_factory=list)


class Round:
    """The remote commands of ``members`` probe observations of one target, sent as one.

    The scheduler opens a round for the probes of ``target_id`` reading through ``config``
    and calls ``leave`` when each member's observation ends. A member hands its command in
    with ``submit``; the batch goes when every member still in the round is waiting in
    ``submit``. After that the round is spent: a member's later command (a journal's second
    look on its first round) runs on its own.
    """

    def __init__(self, *, config: models.Transport | None, target_id: str, members: int) -> None:
        self.config = config
        self.target_id = target_id
        self.calls = 0  # commands sent (one, unless the parts outgrew the script size cap)
        self._kind = str(getattr(config, "kind", ""))
        self._members = members
        self._live = members
        self._waiting = 0
        self._parts: dict[tuple[str, float], _Waiting] = {}
        self._sent = False
        self._via: tuple[transporting.Transport, models.Target] | None = None
        self._task: asyncio.Task[None] | None = None

    def takes(self, transport: transporting.Transport, target: models.Target) -> bool:
        """Whether a command for ``target`` through ``transport`` goes into this round."""
        return (
            not self._sent
            and target.id == self.target_id
            and getattr(transport, "config", None) == self.config
        )

    def budget(self) -> int:
        """Stdout bytes one member's command may print in this round."""
        return part_budget(self._kind, self._members)

    async def submit(
        self,
        transport: transporting.Transport,
        target: models.Target,
        command: str,
        *,
        limit_s: float,
    ) -> transporting.CommandResult:
        """The result of ``command``'s part once the round's batch has come back."""
        future: asyncio.Future[transporting.CommandResult] = (
            asyncio.get_running_loop().create_future()
        )
        waiting = self._parts.get((command, limit_s))
        if waiting is None:
            part = Part(script=command, limit_s=limit_s, budget=self.budget())
            waiting = self._parts[(command, limit_s)] = _Waiting(part)
        # A member cancelled meanwhile leaves its future unread: read its error for it.
        future.add_done_callback(_consumed)
        waiting.futures.append(future)
        self._via = self._via or (transport, target)
        self._waiting += 1
        try:
            self._maybe_send()
            return await asyncio.shield(future)
        finally:
            self._waiting -= 1

    def leave(self) -> None:
        """One member's observation ended (with or without a command in the round)."""
        self._live -= 1
        self._maybe_send()

    async def close(self) -> None:
        """After every member left: stop a batch nobody waits for any more, and reap it."""
        if self._task is None:
            return
        if not self._task.done():
            self._task.cancel()  # every member gave up (timed out, or the scheduler stops)
        await asyncio.gather(self._task, return_exceptions=True)

    def _maybe_send(self) -> None:
        if self._sent or self._via is None or self._waiting < self._live:
            return
        self._sent = True
        transport, target = self._via
        waiting = list(self._parts.values())
        self._task = asyncio.get_running_loop().create_task(
            self._send(transport, target, waiting), name=f"probe-batch:{self.target_id}"
        )

    async def _send(
        self,
        transport: transporting.Transport,
        target: models.Target,
        waiting: list[_Waiting],
    ) -> None:
        batches = packed([one.part for one in waiting], kind=self._kind)
        start = 0
        sends = []
        for parts in batches:
            sends.append(self._send_one(transport, target, waiting[start : start + len(parts)]))
            start += len(parts)
        await asyncio.gather(*sends)

    async def _send_one(
        self,
        transport: transporting.Transport,
        target: models.Target,
        waiting: list[_Waiting],
    ) -> None:
        parts = [one.part for one in waiting]
        mark = new_mark()
        started = time.monotonic()
        self.calls += 1
        try:
            # The parts run in parallel on the host, each under its own `timeout`; a second
            # more lets the batch print what they left.
            result = await transport.run(
                target, script(parts, mark=mark), limit_s=max(p.limit_s for p in parts) + 1
            )
        except BaseException as exc:  # every member learns why the call failed, then re-raise
            for one in waiting:
                _settle(one, exc)
            if not isinstance(exc, Exception):
                raise
            return
        outcomes = split(
            result.stdout,
            mark=mark,
            parts=parts,
            duration=time.monotonic() - started,
            invocation_id=result.invocation_id,
        )
        for one, outcome in zip(waiting, outcomes, strict=True):
            _settle(one, outcome)


def _settle(waiting: _Waiting, outcome: transporting.CommandResult | BaseException) -> None:
    for future in waiting.futures:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(
                outcome
                if isinstance(outcome, Exception)
                else errors.DriverTemporaryError("the batched command was cancelled")
            )
        else:
            future.set_result(outcome)


def _consumed(future: asyncio.Future[transporting.CommandResult]) -> None:
    if not future.cancelled():
        future.exception()


_current: contextvars.ContextVar[Round | None] = contextvars.ContextVar(
    "rollsafe_probe_round", default=None
)


@contextlib.contextmanager
def opened(round_: Round) -> Iterator[Round]:
    """Tasks created inside see ``round_`` (the members' observations are such tasks)."""
    token = _current.set(round_)
    try:
        yield round_
    finally:
        _current.reset(token)


def joining(transport: transporting.Transport, target: models.Target) -> Round | None:
    """The open round a command for ``target`` through ``transport`` goes into, if any."""
    found = _current.get()
    return found if found is not None and found.takes(transport, target) else None
