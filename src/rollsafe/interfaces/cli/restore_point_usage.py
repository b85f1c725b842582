"""How much disk the stored restore points take, for the one line ``rollsafe status`` prints.

Role in the loop (execute, housekeeping, read only): retention (``restore-points prune``)
exists because copies pile up; this tells an operator how much. Only points whose files are
on this machine can be measured: the local driver's copies (``point_dir``) and, through the
host driver with the ``local`` transport, directory-recipe copies and btrfs snapshots. The
size is the files' allocated blocks, each inode once; extents a reflink or a btrfs snapshot
shares with the live data are counted in full, so it is an upper bound. Cloud snapshots,
qcow2 internal snapshots, LVM/snapper snapshots and anything on a remote host are "unknown".

Imports nothing beyond the standard library: ``status`` must stay light.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Usage", "human", "local_path", "measure"]


@dataclass(frozen=True, slots=True)
class Usage:
    points: int
    measured: int
    bytes: int
    unknown: int

    def to_json(self) -> dict[str, int]:
        return {
            "points": self.points,
            "measured": self.measured,
            "bytes": self.bytes,
            "unknown": self.unknown,
        }

    def line(self) -> str:
        if not self.points:
            return "restore points: none stored"
        text = f"restore points: {self.points} stored"
        if self.measured:
            text += f", {human(self.bytes)} on disk for {self.measured} (local copies, at most)"
        if self.unknown:
            text += f", {self.unknown} of unknown size (cloud or remote snapshots)"
        return text


def local_path(data: Mapping[str, Any]) -> str | None:
    """The directory holding a point's files on this machine, or None when not knowable."""
    point_dir = data.get("point_dir")
    if isinstance(point_dir, str):
        return point_dir
    if data.get("transport") != "local":
        return None
    recipe = data.get("recipe")
    recipe_data = data.get("recipe_data")
    if not isinstance(recipe_data, Mapping):
        return None
    if recipe == "directory" and isinstance(recipe_data.get("copy"), str):
        return posixpath.dirname(str(recipe_data["copy"]))
    if recipe == "btrfs" and isinstance(recipe_data.get("snapshot"), str):
        return str(recipe_data["snapshot"])
    return None


def measure(points_data: Iterable[Mapping[str, Any]]) -> Usage:
    """Sum the allocated size of every measurable point; count the others as unknown."""
    seen: set[tuple[int, int]] = set()
    points = measured = total = unknown = 0
    for data in points_data:
        points += 1
        path = local_path(data)
        if path is None or not os.path.lexists(path):
            unknown += 1
            continue
        measured += 1
        total += _allocated(path, seen)
    return Usage(points=points, measured=measured, bytes=total, unknown=unknown)


def _allocated(path: str, seen: set[tuple[int, int]]) -> int:
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            st = os.lstat(current)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a hard link, or a point nested in another's directory
            continue
        seen.add(key)
        total += st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode):  # lstat: a link to a directory is not followed
            try:
                with os.scandir(current) as entries:
                    stack.extend(entry.path for entry in entries)
            except OSError:
                continue
    return total


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
