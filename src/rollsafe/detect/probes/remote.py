"""Probes reading the TARGET, not this machine: ``host``, ``log``, ``command`` over a transport.

Role in the loop (detect): a controller guarding cloud hosts must see their kernel log, their
application log and their CPU/memory/disk, agentless. A probe with ``transport:`` sends one
small POSIX sh command per observation through the transport the host driver uses (the
``shared`` lease: one SSH connection per host for every probe and the driver), and computes
the same figures as the local probe from what comes back.

- ``RemoteHostProbe``: ``hoststats.READ_SCRIPT`` (``cat`` of ``/proc/stat``, ``/proc/meminfo``,
  ``/proc/diskstats``, ``/proc/loadavg`` and ``ls /sys/block``) in ONE command; CPU and disk
  rates use the previous sample of the same target, kept here. The first CPU or disk look of a
  target is an error ("warming up: first sample"), never a made-up figure.
- ``RemoteLogProbe`` with ``path``: follows the file by inode and offset kept here; each look
  runs ``FILE_SCRIPT`` (``stat``, ``find -inum``, ``tail -c``, ``head -c``). Rotation (the inode
  at the path changed): the rest of the old file is read if it is still in the same directory
  (found by its inode), then the new file from its start; truncation (size below our offset):
  from offset 0. At most ``max_bytes`` per look (the old file's rest and the new one together;
  in a batched round, the round's part budget): a backlog is worked off over looks.
  A partial last line is held here until its newline arrives (flushed on rotation/truncation).
- ``RemoteLogProbe`` with ``journal``: ``journalctl -o short-iso --show-cursor`` after the
  cursor of the previous look (``--after-cursor``), at most ``max_lines`` entries per look;
  the first look takes the cursor of the newest entry and counts nothing (unless
  ``from_start``: then the newest ``max_lines`` entries count).
- lines are counted into events by ``logevents`` exactly as the local ``log`` probe does.

A host that cannot be reached (connection refused, timed out, authentication refused) is a
blind observation whose error says so, never a failure value: the judge treats it as "no
data". At most ``MAX_CALLS`` remote probe commands are in flight at once (process-wide), so
a scheduler firing hundreds of probes at one instant does not open hundreds of channels.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shlex
import time
from dataclasses import dataclass

from rollsafe.config import models
from rollsafe.detect.probes import hoststats, logevents, logs, outcomes
from rollsafe.domain import clocks, errors, ids, observations
from rollsafe.reach.transports import batching, shared, transporting

logger = logging.getLogger(__name__)

MAX_CALLS = 64
"""Remote probe commands in flight at once, whatever the number of hosts."""

MAX_BYTES = 256 * 1024
"""Bytes of a followed file read per look (a rotated file's rest and the new one together)."""

_GRACE = 2.0  # seconds beyond the probe's timeout for the transport's own answer

_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


def _slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        for old in [known for known in _slots if known.is_closed()]:
            del _slots[old]
        slot = _slots[loop] = asyncio.Semaphore(MAX_CALLS)
    return slot


async def run(
    transport: transporting.Transport, target: models.Target, script: str, *, limit_s: float
) -> transporting.CommandResult:
    """``script`` on the target; ``CannotObserve`` when the host cannot be reached.

    Inside a round (``batching.opened``, the scheduler's) for this target and transport, the
    script is one part of the round's single command.
    """
    # The probe's own timeout holds even when a dead link leaves the transport waiting for
    # its keepalives (the transport then drops the channel); a first look may also connect.
    config = getattr(transport, "config", None)
    allowed = limit_s + _GRACE + float(getattr(config, "connect_timeout", 0.0))
    joined = batching.joining(transport, target)
    try:
        if joined is not None:
            # One command per round for the target: the scheduler's round sends it.
            async with asyncio.timeout(allowed):
                return await joined.submit(transport, target, script, limit_s=limit_s)
        async with _slot():
            async with asyncio.timeout(allowed):
                return await transport.run(target, script, limit_s=limit_s)
    except TimeoutError:
        raise outcomes.CannotObserve(
            f"cannot reach {target.id}: no answer within {allowed:g}s"
        ) from None
    except batching.PartMissing as exc:
        raise outcomes.CannotObserve(str(exc)) from None
    except (errors.DriverError, errors.DriverTemporaryError) as exc:
        raise outcomes.CannotObserve(f"cannot reach {target.id}: {exc}") from None


def budget(transport: transporting.Transport, target: models.Target) -> int | None:
    """Bytes of output one command may print now (in a round), or None: no bound of its own."""
    joined = batching.joining(transport, target)
    return None if joined is None else joined.budget()


def _lease(config: models.HostProbe | models.LogProbe) -> transporting.Transport:
    if config.transport is None:
        raise errors.ConfigError(f"probe {config.name}: a remote probe needs a transport")
    return lease_for(config.transport)


def lease_for(config: models.Transport) -> transporting.Transport:
    """A lease on the shared transport for ``config``, keeping a whole bounded read."""
    return shared.lease(config, output_limit=shared.PROBE_OUTPUT_LIMIT)


# ------------------------------------------------------------------------------------ host


class RemoteHostProbe:
    """One metric of the target, read from its ``/proc`` through a transport."""

    def __init__(
        self,
        config: models.HostProbe,
        clock: clocks.Clock,
        transport: transporting.Transport | None = None,
    ) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        self._transport = transport or _lease(config)
        self._previous: dict[str, hoststats.Sample] = {}

    async def observe(self, target: models.Target) -> observations.Observation:
        try:
            value = await self._measure(target)
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        return observations.Observation(
            time=self._clock.now(), target=ids.TargetId(target.id), source=self.name, value=value
        )

    async def _measure(self, target: models.Target) -> float:
        # The host probes of one target (cpu, memory, disk_io, load) share one reading when
        # they look within FRESH seconds of each other: one remote command per round, which
        # matters over the cloud run-command transports where a call costs seconds. A probe
        # never gets the same reading twice.
        if batching.joining(self._transport, target) is not None:
            # In a round the batch sends one /proc reading for all host probes of the target
            # (identical commands are sent once), and each round reads anew.
            sample = await _read_host(self._transport, target, limit_s=self._config.timeout)
            return metric_of(self._config.metric, self._previous, target.id, sample)
        key = (asyncio.get_running_loop(), self._config.transport, target.address, target.id)
        pending = _readings.get(key)
        if (
            pending is None
            or (pending.done() and _stale(pending))
            # This probe has used that reading already: it looks again, so it reads again.
            or (pending.done() and pending.result() is self._previous.get(target.id))
        ):
            pending = asyncio.ensure_future(
                _read_host(self._transport, target, limit_s=self._config.timeout)
            )
            _readings[key] = pending
        try:
            sample = await asyncio.shield(pending)
        finally:
            if pending.done() and _readings.get(key) is pending and _stale(pending):
                del _readings[key]
        return metric_of(self._config.metric, self._previous, target.id, sample)

    async def close(self) -> None:
        await self._transport.close()


FRESH = 1.0
"""Seconds a host reading is shared by the other host probes of the same target."""

_readings: dict[tuple[object, object, str, str], asyncio.Future[hoststats.Sample]] = {}


def _stale(done: asyncio.Future[hoststats.Sample]) -> bool:
    if done.cancelled() or done.exception() is not None:
        return True  # a failed reading is never reused: the next probe asks again
    return time.monotonic() - done.result().at > FRESH


async def _read_host(
    transport: transporting.Transport, target: models.Target, *, limit_s: float
) -> hoststats.Sample:
    result = await run(transport, target, hoststats.READ_SCRIPT, limit_s=limit_s)
    if not result.ok:
        raise outcomes.CannotObserve(
            f"reading /proc on {target.id} failed (exit {result.exit_status}): "
            f"{outcomes.clip(result.stderr.strip(), 200)}"
        )
    # The sample's time is taken here, after the answer: the round trip is a few ms on SSH,
    # small next to any probe interval, and the remote clock is never trusted.
    try:
        return hoststats.sample_from(hoststats.split_reading(result.stdout), at=time.monotonic())
    except hoststats.Unreadable as exc:
        raise outcomes.CannotObserve(str(exc)) from None


def metric_of(
    metric: str, previous: dict[str, hoststats.Sample], target_id: str, sample: hoststats.Sample
) -> float:
    """The figure ``metric`` of ``sample``; rates against ``previous[target_id]`` (updated)."""
    before = previous.get(target_id)
    previous[target_id] = sample
    try:
        if metric == "memory" and sample.memory_percent is not None:
            return sample.memory_percent
        if metric == "load" and sample.load1 is not None:
            return sample.load1
        if before is None:
            raise outcomes.CannotObserve("warming up: first sample")
        if metric == "cpu" and before.cpu is not None and sample.cpu is not None:
            return hoststats.cpu_percent(before.cpu, sample.cpu)
        if metric == "disk_io":
            return hoststats.disk_rate(before, sample)
    except hoststats.Unreadable as exc:
        raise outcomes.CannotObserve(str(exc)) from None
    raise outcomes.CannotObserve(f"no {metric} in this sample")


# ------------------------------------------------------------------------------------- log


FILE_SCRIPT = r"""
f=$1; ino=$2; off=$3; max=$4; mark=$5
if [ ! -e "$f" ]; then echo "$mark missing - 0 0"; exit 0; fi
set -- $(stat -L -c '%i %s' -- "$f") || exit 3
cur=$1; size=$2; state=same; old=
if [ -z "$ino" ]; then
  state=new; if [ "$off" = end ]; then off=$size; else off=0; fi
elif [ "$cur" != "$ino" ]; then
  state=rotated
  old=$(find "$(dirname -- "$f")" -maxdepth 1 -inum "$ino" -type f 2>/dev/null | head -n 1)
elif [ "$size" -lt "$off" ]; then
  state=truncated; off=0
fi
if [ "$state" = rotated ]; then
  oldn=0
  if [ -n "$old" ]; then oldn=$(( $(stat -c %s -- "$old") - off )); fi
  [ "$oldn" -gt "$max" ] && oldn=$max
  [ "$oldn" -lt 0 ] && oldn=0
  n=$size; [ "$n" -gt $((max - oldn)) ] && n=$((max - oldn))
  echo "$mark rotated $cur $n $size"
  [ "$oldn" -gt 0 ] && tail -c +$((off + 1)) -- "$old" | head -c "$oldn"
  printf '\n%s cur\n' "$mark"
  [ "$n" -gt 0 ] && head -c "$n" -- "$f"
  exit 0
fi
n=$((size - off)); [ "$n" -gt "$max" ] && n=$max
echo "$mark $state $cur $((off + n)) $size"
[ "$n" -gt 0 ] && tail -c +$((off + 1)) -- "$f" | head -c "$n"
exit 0
"""
"""Reads what is new in a file: ``sh -c FILE_SCRIPT sh PATH INODE OFFSET MAX MARK``.

Prints ``MARK STATE INODE NEW_OFFSET SIZE`` then the bytes; on rotation the rest of the old file,
a ``MARK cur`` line, then the new file from its start. ``INODE`` empty: first look, ``OFFSET``
is ``end`` or ``start``.
"""


@dataclass
class _FileState:
    inode: str = ""
    offset: str = "end"  # a byte offset, or "end"/"start" before the first look
    pending: str = ""  # a last line whose newline has not arrived yet
    behind: bool = False  # bytes were left unread at the last look (said once in the log)
    unread: int = 0  # how many (``rollsafe_log_backlog_bytes``)


@dataclass
class _JournalState:
    cursor: str | None = None
    started: bool = False
    inclusive: bool = False  # the cursor was taken without the unit/kernel filter


class RemoteLogProbe:
    """Counts events in the new lines of a target's file or journal, read through a transport."""

    def __init__(
        self,
        config: models.LogProbe,
        clock: clocks.Clock,
        transport: transporting.Transport | None = None,
        *,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        self._transport = transport or _lease(config)
        self._max_bytes = max_bytes
        self._specs = logs.event_specs(config)
        self._counters: dict[str, logevents.Counter] = {}
        self._files: dict[tuple[str, str], _FileState] = {}
        self._journals: dict[str, _JournalState] = {}

    async def observe(self, target: models.Target) -> observations.Observation:
        counter = self._counters.get(target.id)
        if counter is None:
            counter = self._counters[target.id] = logevents.Counter(self._specs)
        try:
            if self._config.journal is not None:
                await self._journal(target, self._config.journal, counter)
            else:
                path = outcomes.render(self._config.path or "", target, what="path")
                await self._file(target, path, counter)
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        found = counter.take()
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=float(found.events),
            text=logs.describe(found),
        )

    async def _file(self, target: models.Target, path: str, counter: logevents.Counter) -> None:
        state = self._files.get((target.id, path))
        if state is None:
            start = "start" if self._config.from_start else "end"
            state = self._files[(target.id, path)] = _FileState(offset=start)
        mark = "@@rollsafe-" + secrets.token_hex(8) + "@@"
        most = self._max_bytes
        room = budget(self._transport, target)
        if room is not None:
            most = max(1, min(most, room - 200))  # 200: the header lines
        script = "sh -c " + shlex.join(
            [FILE_SCRIPT, "sh", path, state.inode, state.offset, str(most), mark]
        )
        result = await run(self._transport, target, script, limit_s=self._config.timeout)
        header, _, body = result.stdout.partition("\n")
        fields = header.split()
        if not result.ok or len(fields) != 5 or fields[0] != mark:
            raise outcomes.CannotObserve(
                f"reading {path} on {target.id} failed (exit {result.exit_status}): "
                f"{outcomes.clip((result.stderr or header).strip(), 200)}"
            )
        _, status, inode, offset, size = fields
        if status == "missing":
            # Blind until it appears; then it is read from its first line.
            self._files[(target.id, path)] = _FileState(offset="start")
            raise outcomes.CannotObserve(f"file not found: {path}")
        if status == "rotated":
            old, _, body = body.partition(f"\n{mark} cur\n")
            self._feed(state, old, counter)
            self._flush(state, counter)
        elif status == "truncated":
            self._flush(state, counter)
        self._feed(state, body, counter)
        state.inode, state.offset = inode, offset
        self._say_backlog(state, target, path, unread=int(size) - int(offset), most=most)

    def _say_backlog(
        self, state: _FileState, target: models.Target, path: str, *, unread: int, most: int
    ) -> None:
        """A log growing faster than a look may read (``max_bytes``, or a cloud round's share)
        is counted late: say so when it starts and when it has caught up, not at every look."""
        if unread > 0 and not state.behind:
            logger.warning(
                "log probe %s on %s: %d bytes of %s left unread at this look (at most %d per "
                "look); its events are counted late until it catches up",
                self.name,
                target.id,
                unread,
                path,
                most,
            )
        elif unread <= 0 and state.behind:
            logger.info("log probe %s on %s: caught up with %s", self.name, target.id, path)
        state.behind = unread > 0
        state.unread = max(0, unread)

    def backlog(self) -> tuple[int, int]:
        """Bytes written to the followed files and not read yet, over every target, and how
        many files that is (``rollsafe_log_backlog_bytes`` / ``rollsafe_log_files_behind``)."""
        behind = [state.unread for state in self._files.values() if state.unread > 0]
        return sum(behind), len(behind)

    def _feed(self, state: _FileState, text: str, counter: logevents.Counter) -> None:
        text = state.pending + text
        lines = text.split("\n")
        state.pending = lines.pop()
        if len(state.pending) > self._max_bytes:  # a "line" with no end: count it as it is
            lines.append(state.pending)
            state.pending = ""
        counter.feed(lines, time=self._clock.now())

    def _flush(self, state: _FileState, counter: logevents.Counter) -> None:
        if state.pending:
            counter.feed([state.pending], time=self._clock.now())
            state.pending = ""

    async def _journal(
        self, target: models.Target, journal: models.JournalSource, counter: logevents.Counter
    ) -> None:
        state = self._journals.setdefault(target.id, _JournalState())
        first = not state.started and not self._config.from_start
        entries, cursor = await self._journalctl(
            target,
            journal_command(
                journal,
                cursor=state.cursor,
                lines=self._config.max_lines,
                first=first,
                inclusive=state.inclusive,
                fit=budget(self._transport, target),
            ),
        )
        if first and cursor is None and (journal.unit or journal.kernel):
            # Nothing passes the filter yet: start from the newest entry of the whole journal.
            _, cursor = await self._journalctl(
                target, journal_command(journal, cursor=None, lines=1, first=True, unfiltered=True)
            )
            state.inclusive = cursor is not None
        elif cursor is not None:
            state.inclusive = False
        if not first:
            counter.feed(entries, time=self._clock.now())
        state.started = True
        if cursor is not None:
            state.cursor = cursor

    async def _journalctl(self, target: models.Target, script: str) -> tuple[list[str], str | None]:
        result = await run(self._transport, target, script, limit_s=self._config.timeout)
        # journalctl exits 1, saying nothing on stderr, when no entry matches at all.
        nothing = result.exit_status == 1 and not result.stderr.strip()
        if not result.ok and not nothing:
            raise outcomes.CannotObserve(
                f"journalctl on {target.id} failed (exit {result.exit_status}): "
                f"{outcomes.clip(result.stderr.strip(), 200)}"
            )
        return parse_journal(result.stdout)

    async def close(self) -> None:
        await self._transport.close()


def journal_command(
    journal: models.JournalSource,
    *,
    cursor: str | None,
    lines: int,
    first: bool = False,
    inclusive: bool = False,
    unfiltered: bool = False,
    since: str | None = None,
    until: str | None = None,
    fit: int | None = None,
) -> str:
    """The ``journalctl`` command line reading what is new after ``cursor``.

    ``first``: only the newest entry, for its cursor (the look that starts at the end);
    ``unfiltered``: without ``-k``/``-u`` (a starting cursor when no entry passes them yet);
    ``inclusive``: ``cursor`` came from an unfiltered look; ``fit``: the output must fit in
    so many bytes (a batched round): fewer entries are read (``JOURNAL_FIT``).
    """
    argv = ["journalctl", "--no-pager", "-q", "-o", "short-iso", "--show-cursor"]
    if journal.file is not None:
        argv += ["--file", journal.file]
    if journal.kernel and not unfiltered:
        argv.append("-k")
    if journal.unit is not None and not unfiltered:
        argv += ["-u", journal.unit]
    if since is not None:
        argv += ["--since", since]
    if until is not None:
        argv += ["--until", until]
    if cursor is not None:
        # After a cursor, -n counts FORWARD from it: the oldest `lines` new entries.
        # --after-cursor skips one entry past where the cursor lands, which is right only when
        # the cursor's entry passes the filter; a cursor taken unfiltered uses --cursor (the
        # entry itself does not pass the filter, so it is not shown again).
        where = "--cursor" if inclusive else "--after-cursor"
        argv += [f"{where}={cursor}", "-n", str(lines)]
    else:
        argv += ["-n", "1" if first else str(lines)]
    if fit is None:
        return shlex.join(argv)
    return "sh -c " + shlex.join([JOURNAL_FIT, "sh", str(fit), argv[-1], *argv[:-2]])


JOURNAL_FIT = r"""
max=$1; n=$2; shift 2
t=$(mktemp) || exit 90
trap 'rm -f "$t"' EXIT
while :; do
  "$@" -n "$n" >"$t"; rc=$?
  size=$(wc -c <"$t")
  if [ "$rc" -gt 1 ] || [ "$size" -le "$max" ] || [ "$n" -le 1 ]; then break; fi
  n=$((n / 2))
done
if [ "$size" -le "$max" ]; then cat "$t"; exit "$rc"; fi
head -c "$((max - 400))" "$t"; echo; tail -n 1 "$t"
exit "$rc"
"""
"""Runs ``journalctl ... -n N`` with fewer entries (halving) until its output fits ``MAX``.

``sh -c JOURNAL_FIT sh MAX N journalctl ARGS``. After a cursor ``-n`` counts the OLDEST new
entries, so the rest is read at the next look; one entry larger than MAX is cut, its cursor
line (the last) kept, so following goes on.
"""


CURSOR_PREFIX = "-- cursor: "


def parse_journal(output: str) -> tuple[list[str], str | None]:
    """(entry lines, cursor of the last one) from ``journalctl --show-cursor`` output."""
    entries: list[str] = []
    cursor = None
    for line in output.splitlines():
        if line.startswith(CURSOR_PREFIX):
            cursor = line[len(CURSOR_PREFIX) :].strip()
        elif line.startswith("-- ") and line.endswith(" --"):
            continue  # "-- No entries --", "-- Boot ... --"
        elif line:
            entries.append(line)
    return entries, cursor


# --------------------------------------------------------------------------------- factory


def needs_transport(config: models.Probe) -> models.Transport | None:
    """The transport a probe reads its target through, or None for this machine."""
    return getattr(config, "transport", None)
