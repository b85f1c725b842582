"""Log probe: how many failure EVENTS did the new lines of a log file report?

One follower per (probe, target) keeps the file open between observations, the way
``tail -F`` does. Its lines, in file order, go through an event counter (``logevents``):
a kernel OOM report of three matching lines is one event, so is an oops that ends in a panic,
so is a systemd unit failure. Each observation reports:

- ``value``: the number of events that BEGAN in the new lines since the previous observation
  (an event whose later lines arrive in the next observation counts once, in the first);
- ``text``: the first line of the newest event that took a line, cut to 500 characters. When
  the events took more lines than there are events, it ends in ``[events=E lines=L]``: the
  events and the matching lines that went into them; when their lines named an OOM kill's
  victims, in ``[killed: postgres, node_exporter]`` (a rule's ``processes`` reads it); when
  other events than the newest named systemd units its line does not, ``[units: a.service,
  b.service]`` lists every unit the events' first lines named, before ``[killed: ...]`` (a
  rule's ``units`` reads it: two units giving up within one read are each placed).

With only ``patterns`` and no ``event_*`` settings, every matching line is one event: the
value is the matching line count, as before grouping existed. A line counts once, at the
first pattern set (``patterns``, then presets in order) that matches it.

By default the first observation starts at the END of the existing file: what was logged
before rollsafe started watching is history, not a symptom (``from_start: true`` counts it).
If the file then ends in a half-written line, the rest of that line is skipped too.
A file that appears after watching began is read from its first line.

The file may change under the follower:

- rotation (renamed or deleted, a new file created at the path: the inode changes): the old
  handle is read to its end first, then the new file is opened and read from the start;
- truncation in place (``copytruncate``; the size drops below our offset): reading restarts at
  offset 0;
- an incomplete last line is held back until its newline arrives (when the file rotates or is
  truncated, or the line grows past 256 KiB, it is counted as it is);
- a missing file is an error, ``file not found: PATH``: the detector is blind, which is not
  the same as the service being broken. The follower recovers when the file appears.

Reading happens in a worker thread (``asyncio.to_thread``) and at most ``max_read_bytes``
(4 MiB by default) per observation, so a huge backlog is worked off over several observations
instead of stalling the event loop. Known limit, shared with ``tail -F``: a truncation
followed, before the next observation, by more writes than the old size is not noticed.

Presets (their cues and grouping: ``logevents.PRESETS``; docs/configuration.md lists them):
``oom``, ``kernel_panic`` (panics, oops, BUG, kernel GPF), ``kernel_bug`` (the kernel's
non-fatal BUG reports: scheduling while atomic, bad page state, KASAN, list corruption),
``nic_hang`` (a network adapter's transmit path hung: the transmit watchdog, a driver's unit
hang report, the reset that follows it; never a link going down or up),
``lockup`` (soft and hard lockups, workqueue lockups, hung tasks, RCU stalls), ``segfault``
(process crashes: segfault, traps, systemd-coredump),
``db_crash`` (a database server's own crash reports: PostgreSQL, MySQL/MariaDB, MongoDB,
Redis), ``systemd_failure`` (failed units) and ``app_error``: a line whose LOG LEVEL is error-grade,
not a line that merely contains the word:

- the first level word of the line (``TRACE DEBUG INFO NOTICE WARN WARNING ERROR FATAL
  CRITICAL``, upper case, whole word) is ``ERROR``, ``FATAL`` or ``CRITICAL``: a WARN line
  that later prints ``status: ERROR`` is a WARN line;
- a bracketed lower-case level as Apache and nginx write it: ``[error]``, ``[crit]``,
  ``[alert]``, ``[emerg]``, also with a module prefix (``[proxy:error]``);
- logfmt ``level=error`` (also ``lvl``/``severity``; ``fatal``, ``critical``, ``crit``,
  ``panic``; any case) and JSON ``"level": "error"`` (same keys and values).

So syslog noise such as "authentication failure", "error state" in free text, or
``logrotate: ALERT exited abnormally`` is not counted; ``[error] mod_jk ...`` is.
"""

from __future__ import annotations

import asyncio
import errno
import os
import pathlib
import re
import threading

from rollsafe.config import models
from rollsafe.detect import probing
from rollsafe.detect.probes import logevents, outcomes
from rollsafe.domain import clocks, errors, ids, observations, unit_names

PRESETS: dict[str, tuple[re.Pattern[str], ...]] = {
    name: spec.patterns for name, spec in logevents.PRESETS.items()
}
"""Preset name -> every regex it matches with (its events: ``logevents.PRESETS``)."""

MAX_READ_BYTES = 4 * 1024 * 1024
_CHUNK = 256 * 1024
_MAX_LINE = 256 * 1024


def _compile(config: models.LogProbe, what: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise errors.ConfigError(
            f"probe {config.name}: {what} {pattern!r} is not a valid regex: {exc}"
        ) from exc


def compile_patterns(config: models.LogProbe) -> tuple[re.Pattern[str], ...]:
    """Every regex the probe matches lines with: its own ``event_start`` and ``patterns``,
    then its presets' (a line none of them matches never counts)."""
    compiled = [_compile(config, "event_start", pattern) for pattern in config.event_start]
    compiled += [_compile(config, "pattern", pattern) for pattern in config.patterns]
    for preset in config.presets:
        compiled.extend(PRESETS[preset])
    return tuple(compiled)


def event_specs(config: models.LogProbe) -> tuple[logevents.EventSpec, ...]:
    """The events the probe counts: its own ``patterns`` (grouped as ``event_*`` say; each
    line an event by default), then its presets', in the order listed."""
    specs: list[logevents.EventSpec] = []
    if config.patterns:
        key = None if config.event_key is None else _compile(config, "event_key", config.event_key)
        if key is not None and key.groups < 1:
            raise errors.ConfigError(
                f"probe {config.name}: event_key {config.event_key!r} needs a group: "
                "(?P<key>...) or (...), the part of the line that names the event"
            )
        starts = tuple(
            logevents.Cue(_compile(config, "event_start", p), starts=True)
            for p in config.event_start
        )
        cues = [logevents.Cue(_compile(config, "pattern", p), key=key) for p in config.patterns]
        specs.append(
            logevents.EventSpec(name="patterns", cues=(*starts, *cues), within=config.event_lines)
        )
    specs.extend(logevents.PRESETS[preset] for preset in config.presets)
    return tuple(specs)


def counter_for(config: models.LogProbe) -> logevents.Counter:
    """A fresh event counter for the probe's patterns and presets (see ``logevents``)."""
    return logevents.Counter(event_specs(config))


def describe(found: logevents.Found) -> str | None:
    """An observation's ``text``: the newest event's first line; when the events took more
    lines than there are events, followed by how many of each, e.g.
    ``... invoked oom-killer: gfp_mask=0xcc0 [events=1 lines=3]``.
    """
    if found.message is None:
        return None
    line = found.message.rstrip("\r")
    suffix = ""
    if found.lines != found.events:
        suffix = f" [events={found.events} lines={found.lines}]"
    if any(unit not in unit_names.named(line) for unit in found.units):
        # Other events of the look named other units (two units giving up in one read): all
        # of them, for a rule's ``units`` (judge/units.py). Before ``[killed: ...]``, which
        # ends the text (judge/victims.py reads it there).
        suffix += " " + outcomes.clip(f"[units: {', '.join(found.units)}]", limit=200)
    if found.names:
        # The victims of OOM kills: what a rule's ``processes`` reads (judge/victims.py).
        suffix += " " + outcomes.clip(f"[killed: {', '.join(found.names)}]", limit=200)
    if not suffix:
        return outcomes.clip(line)
    return outcomes.clip(line, limit=outcomes.TEXT_LIMIT - len(suffix)) + suffix


class Follower:
    """Follows one file across rotation and truncation, counting matching lines.

    ``poll`` does the blocking reads and runs in a worker thread; one poll at a time (a poll
    that outlived its observation's timeout finishes before the next starts). What it finds
    accumulates until ``take``, so lines read by a poll whose observation timed out are
    reported by the next observation instead of being lost.
    """

    def __init__(
        self,
        path: str,
        *,
        specs: tuple[logevents.EventSpec, ...],
        from_start: bool = False,
        max_read_bytes: int = MAX_READ_BYTES,
    ) -> None:
        self.path = path
        # Fed by polls only (one at a time); its tallies are moved under ``_found_lock``.
        self._counter = logevents.Counter(specs)
        self._now: float | None = None
        self._from_start = from_start
        self._max_read = max_read_bytes
        self._poll_lock = threading.Lock()
        self._found_lock = threading.Lock()  # held for microseconds; safe on the event loop
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._tail = b""
        self._skip_partial = False
        self._first_look = True
        self._closed = False
        self._found = logevents.Found()

    def poll(self, now: float | None = None) -> None:
        """Read what was appended since the last poll; CannotObserve when there is no file.

        ``now``: when this read happens; the lines read are taken as written then (events
        whose lines are further apart in time than their preset allows are separate).
        """
        with self._poll_lock:
            if self._closed:
                return
            self._now = now
            budget = self._max_read
            if self._fd is None:
                # Only a file that existed at our very first look is skipped to its end.
                at_end = self._first_look and not self._from_start
                self._first_look = False
                self._open(at_end=at_end)
            read, at_eof = self._drain(budget)
            budget -= read
            if not at_eof or self._same_file():
                return
            # Rotated: the writer may have added lines to the old file just before it moved;
            # read them, then switch to the new file (from its start) on this poll or a later.
            read, at_eof = self._drain(budget)
            budget -= read
            if not at_eof:
                return
            self._flush_tail()
            self._release()
            try:
                self._open(at_end=False)
            except outcomes.CannotObserve:
                return  # the old file was read to its end; the new one is not there yet
            self._drain(budget)

    def take(self) -> logevents.Found:
        """Events (and their lines) found since the previous ``take``."""
        with self._found_lock:
            found, self._found = self._found, logevents.Found()
        return found

    def close(self) -> None:
        with self._poll_lock:
            self._closed = True
            self._release()

    def _open(self, *, at_end: bool) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise outcomes.CannotObserve(f"file not found: {self.path}") from None
        except OSError as exc:
            raise outcomes.CannotObserve(_os_reason(exc, self.path)) from None
        try:
            stat = os.fstat(fd)
            # Starting at the end of a half-written line: its rest is not a line of its own.
            self._skip_partial = (
                at_end and stat.st_size > 0 and os.pread(fd, 1, stat.st_size - 1) != b"\n"
            )
        except OSError as exc:
            os.close(fd)
            raise outcomes.CannotObserve(_os_reason(exc, self.path)) from None
        self._fd = fd
        self._identity = (stat.st_dev, stat.st_ino)
        self._offset = stat.st_size if at_end else 0
        self._tail = b""

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._identity = None
        self._tail = b""

    def _same_file(self) -> bool:
        try:
            stat = pathlib.Path(self.path).stat()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise outcomes.CannotObserve(_os_reason(exc, self.path)) from None
        return (stat.st_dev, stat.st_ino) == self._identity

    def _drain(self, budget: int) -> tuple[int, bool]:
        """Read up to ``budget`` bytes from the open file: (bytes read, reached the end)."""
        fd = self._fd
        if fd is None:
            return 0, True
        try:
            if os.fstat(fd).st_size < self._offset:
                self._flush_tail()  # truncated in place: what we held is all there will be
                self._offset = 0
                self._skip_partial = False
            read = 0
            while read < budget:
                chunk = os.pread(fd, min(_CHUNK, budget - read), self._offset)
                if not chunk:
                    return read, True
                self._offset += len(chunk)
                read += len(chunk)
                self._feed(chunk)
        except OSError as exc:
            raise outcomes.CannotObserve(_os_reason(exc, self.path)) from None
        return read, False

    def _feed(self, chunk: bytes) -> None:
        if self._skip_partial:
            cut = chunk.find(b"\n")
            if cut < 0:
                return
            self._skip_partial = False
            chunk = chunk[cut + 1 :]
        data = self._tail + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._tail = data
            if len(data) > _MAX_LINE:
                self._flush_tail()
            return
        self._tail = data[cut + 1 :]
        # Splitting on b"\n" before decoding never cuts a UTF-8 sequence in two.
        self._match(data[:cut].decode("utf-8", errors="replace").split("\n"))

    def _flush_tail(self) -> None:
        if self._tail:
            tail, self._tail = self._tail, b""
            self._match([tail.decode("utf-8", errors="replace")])

    def _match(self, lines: list[str]) -> None:
        self._counter.feed(lines, time=self._now)
        new = self._counter.take()
        if new.lines:
            with self._found_lock:
                self._found = self._found.then(new)


class LogProbe:
    """Counts new matching lines of a templated file path, one follower per target."""

    def __init__(
        self,
        config: models.LogProbe,
        clock: clocks.Clock,
        *,
        max_read_bytes: int = MAX_READ_BYTES,
    ) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        self._specs = event_specs(config)
        self._max_read = max_read_bytes
        self._followers: dict[str, Follower] = {}

    async def observe(self, target: models.Target) -> observations.Observation:
        if self._config.path is None:  # the config allows no journal without a transport
            return outcomes.blind(
                time=self._clock.now(),
                target=target,
                source=self.name,
                reason="a journal is read through a transport",
            )
        try:
            path = outcomes.render(self._config.path, target, what="path")
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        follower = self._followers.get(target.id)
        if follower is None or follower.path != path:
            if follower is not None:
                await asyncio.to_thread(follower.close)
            follower = Follower(
                path,
                specs=self._specs,
                from_start=self._config.from_start,
                max_read_bytes=self._max_read,
            )
            self._followers[target.id] = follower
        try:
            async with asyncio.timeout(self._config.timeout):
                await asyncio.to_thread(follower.poll, self._clock.now())
        except TimeoutError:
            reason = outcomes.timeout_reason(self._config.timeout)
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=reason
            )
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        found = follower.take()
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=float(found.events),
            text=describe(found),
        )

    async def close(self) -> None:
        followers, self._followers = list(self._followers.values()), {}
        for follower in followers:
            await asyncio.to_thread(follower.close)


def _os_reason(exc: OSError, path: str) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: {path}"
    return f"cannot read {path}: {exc.strerror or exc}"


def create(config: models.Probe, clock: clocks.Clock) -> probing.Probe:
    """Factory registered under ``log``: remote (``remote.RemoteLogProbe``) with a transport."""
    if not isinstance(config, models.LogProbe):
        raise errors.ConfigError(f"probe {config.name}: not a log probe")
    if config.transport is not None:
        from rollsafe.detect.probes import remote  # remote imports this module

        return remote.RemoteLogProbe(config, clock)
    return LogProbe(config, clock)
