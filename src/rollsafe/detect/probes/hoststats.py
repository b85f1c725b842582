"""Host figures from the text of ``/proc``: the arithmetic the local and remote host probes share.

Role in the loop (detect): the ``host`` probe reads CPU, memory, disk I/O and load either on
this machine or on a target through a transport. Both read the same files
(``/proc/stat``, ``/proc/meminfo``, ``/proc/diskstats``, ``/proc/loadavg``, and the names in
``/sys/block`` to tell whole disks from partitions) and hand the text here, so a figure means
the same thing wherever it was read. Pure functions: no I/O, no clock.

- CPU: busy share of the jiffies between two samples of the ``cpu`` line of ``/proc/stat``.
  ``guest`` and ``guest_nice`` are already inside ``user``/``nice``; ``idle`` and ``iowait``
  are not busy.
- memory: ``(MemTotal - MemAvailable) / MemTotal`` in percent (what psutil calls percent).
- disk I/O: bytes read plus written per second between two samples, summed over whole disks
  (names in ``/sys/block``, not partitions, so a byte is not counted twice; loop and ram
  devices excluded), sectors of 512 bytes as the kernel counts them in ``/proc/diskstats``.
- load: the 1-minute load average.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's sector size


class Unreadable(ValueError):
    """The text is not what the kernel writes there: say which file and why."""


@dataclass(frozen=True, slots=True)
class CpuSample:
    busy: float
    total: float


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of a host; ``at`` is a monotonic time on the reading side's clock."""

    at: float
    cpu: CpuSample | None = None
    memory_percent: float | None = None
    disk_bytes: int | None = None
    load1: float | None = None


def parse_cpu(stat: str) -> CpuSample:
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            try:
                values = [float(v) for v in fields[1:]]
            except ValueError as exc:
                raise Unreadable(f"/proc/stat: bad cpu line {line!r}") from exc
            if len(values) < 4:
                raise Unreadable(f"/proc/stat: short cpu line {line!r}")
            values += [0.0] * (10 - len(values))
            user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice = values[:10]
            del guest, guest_nice  # already counted in user and nice
            total = user + nice + system + idle + iowait + irq + softirq + steal
            return CpuSample(busy=total - idle - iowait, total=total)
    raise Unreadable("/proc/stat: no cpu line")


def parse_memory_percent(meminfo: str) -> float:
    values: dict[str, int] = {}
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0])
    total = values.get("MemTotal")
    if not total:
        raise Unreadable("/proc/meminfo: no MemTotal")
    available = values.get("MemAvailable")
    if available is None:  # kernels before 3.14: the estimate psutil makes too
        available = values.get("MemFree", 0) + values.get("Buffers", 0) + values.get("Cached", 0)
    return max(0.0, min(100.0, 100.0 * (total - available) / total))


def parse_disk_bytes(diskstats: str, disks: Iterable[str] | None) -> int:
    """Bytes read + written since boot on whole disks (``disks``: names in /sys/block)."""
    wanted = None if disks is None else {d for d in disks if d}
    moved = 0
    for line in diskstats.splitlines():
        fields = line.split()
        if len(fields) < 10:
            continue
        name = fields[2]
        if name.startswith(("loop", "ram", "zram")):
            continue
        if wanted is not None and name not in wanted:
            continue
        try:
            moved += (int(fields[5]) + int(fields[9])) * SECTOR
        except ValueError as exc:
            raise Unreadable(f"/proc/diskstats: bad line {line!r}") from exc
    return moved


def parse_load1(loadavg: str) -> float:
    try:
        return float(loadavg.split(maxsplit=1)[0])
    except (IndexError, ValueError) as exc:
        raise Unreadable(f"/proc/loadavg: unreadable {loadavg[:40]!r}") from exc


def cpu_percent(before: CpuSample, now: CpuSample) -> float:
    """Busy percent between two samples; Unreadable when no CPU time passed."""
    total = now.total - before.total
    if total <= 0:
        raise Unreadable("no CPU time elapsed since the previous sample")
    busy = max(0.0, now.busy - before.busy)
    return min(100.0, 100.0 * busy / total)


def disk_rate(before: Sample, now: Sample) -> float:
    """Bytes per second between two samples; Unreadable when there is no honest rate."""
    if before.disk_bytes is None or now.disk_bytes is None:
        raise Unreadable("no disk counters in one of the samples")
    elapsed = now.at - before.at
    if elapsed <= 0:
        raise Unreadable("no time elapsed since the previous sample")
    moved = now.disk_bytes - before.disk_bytes
    if moved < 0:
        # A disk vanished or the host rebooted: this interval has no honest rate.
        raise Unreadable("disk counters went backwards; sampling again")
    return moved / elapsed


SECTIONS = ("stat", "meminfo", "diskstats", "loadavg", "block")
"""The parts of one reading, in the order ``READ_SCRIPT`` prints them."""

MARK = "@@rollsafe-host@@"

READ_SCRIPT = (
    # One remote command: every file with a mark line before it; `ls` of /sys/block last.
    # Only the lines the figures use of /proc/stat and /proc/meminfo: the `intr` line of a
    # big host is kilobytes, and over a cloud run-command the output of a round is bounded.
    f"echo '{MARK}'; grep '^cpu ' /proc/stat || exit 3; "
    f"echo '{MARK}'; grep -E '^(MemTotal|MemAvailable|MemFree|Buffers|Cached):' /proc/meminfo"
    " || exit 3; "
    f"for f in /proc/diskstats /proc/loadavg; do echo '{MARK}'; "
    'cat "$f" || exit 3; done; '
    f"echo '{MARK}'; ls /sys/block 2>/dev/null; exit 0"
)
"""POSIX sh printing the five sections, each after a ``MARK`` line (nothing to install)."""


def split_reading(output: str) -> dict[str, str]:
    """The sections of ``READ_SCRIPT``'s output by name; Unreadable when some are missing."""
    parts = output.split(MARK + "\n")
    if len(parts) != len(SECTIONS) + 1:
        raise Unreadable(f"host reading has {len(parts) - 1} sections, expected {len(SECTIONS)}")
    return dict(zip(SECTIONS, parts[1:], strict=True))


def sample_from(sections: dict[str, str], *, at: float) -> Sample:
    """A full sample from the five sections (``block`` empty: all non-loop devices)."""
    block = sections["block"].split()
    return Sample(
        at=at,
        cpu=parse_cpu(sections["stat"]),
        memory_percent=parse_memory_percent(sections["meminfo"]),
        disk_bytes=parse_disk_bytes(sections["diskstats"], block or None),
        load1=parse_load1(sections["loadavg"]),
    )
