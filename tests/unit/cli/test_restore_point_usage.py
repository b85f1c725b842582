"""The disk-usage line of ``rollsafe status``: what is measured, once, and what is unknown."""

from __future__ import annotations

import os
from pathlib import Path

from rollsafe.interfaces.cli import restore_point_usage as usage


def test_local_copies_are_measured_each_inode_once_clouds_are_unknown(tmp_path: Path) -> None:
    copy = tmp_path / "rp-1"
    (copy / "tree").mkdir(parents=True)
    (copy / "tree" / "big").write_bytes(os.urandom(64 * 1024))
    os.link(copy / "tree" / "big", copy / "tree" / "same")  # a hard link is not counted twice
    (copy / "tree" / "loop").symlink_to(copy)  # a link back up is not followed
    recipe_copy = tmp_path / "snaps" / "rp-2"
    (recipe_copy / "tree").mkdir(parents=True)
    (recipe_copy / "tree" / "f").write_bytes(b"x" * 10_000)
    found = usage.measure(
        [
            {"point_dir": str(copy)},
            {
                "transport": "local",
                "recipe": "directory",
                "recipe_data": {"copy": str(recipe_copy / "tree")},
            },
            {"snapshot_id": "snap-1"},  # a cloud snapshot
            {"transport": "ssh", "recipe": "directory", "recipe_data": {"copy": "/x/rp/tree"}},
            {"point_dir": str(tmp_path / "gone")},  # deleted behind rollsafe's back
        ]
    )
    assert (found.points, found.measured, found.unknown) == (5, 2, 3)
    assert 64 * 1024 + 10_000 <= found.bytes < 2 * 64 * 1024 + 64 * 1024
    line = found.line()
    assert line.startswith("restore points: 5 stored, ")
    assert "for 2 (local copies, at most)" in line
    assert line.endswith("3 of unknown size (cloud or remote snapshots)")


def test_no_points_and_sizes() -> None:
    assert usage.measure([]).line() == "restore points: none stored"
    assert usage.human(512) == "512 B"
    assert usage.human(3 * 1024 * 1024) == "3.0 MiB"
