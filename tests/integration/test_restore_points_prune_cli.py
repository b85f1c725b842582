"""Retention through the real ``rollsafe`` executable: copies on disk deleted, audited, unlisted."""

from __future__ import annotations

import json
from pathlib import Path

from runs_workspace import TARGET, Workspace

from rollsafe.storage import sql


def _points(ws: Workspace) -> list[str]:
    listed = ws.cli("restore-points", TARGET, "--json", "-c", str(ws.config))
    assert listed.returncode == 0, listed.stderr
    return [p["id"] for p in json.loads(listed.stdout)]


def _usage(ws: Workspace) -> dict[str, int]:
    shown = ws.cli("status", "--json", "-c", str(ws.config))
    assert shown.returncode == 0, shown.stderr
    usage: dict[str, int] = json.loads(shown.stdout)["restore_points"]
    return usage


def _copies(ws: Workspace) -> set[str]:
    root = ws.state / "restore-points" / TARGET
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def test_prune_deletes_old_copies_and_the_store_forgets_them(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, policy={"retention": "{keep_last: 2}"})
    for n in range(4):
        taken = ws.cli("checkpoint", TARGET, "--label", f"n{n}", "-c", str(ws.config))
        assert taken.returncode == 0, taken.stderr
    points = _points(ws)
    assert len(points) == 4
    assert _copies(ws) == set(points)
    before = _usage(ws)
    assert (before["points"], before["measured"], before["unknown"]) == (4, 4, 0)
    # Each copy holds data.bin (4 KiB) and two small files: at least 4 x 4 KiB allocated.
    assert before["bytes"] >= 4 * 4096

    dry = ws.cli("restore-points", "prune", "--dry-run", "--json", "-c", str(ws.config))
    assert dry.returncode == 0, dry.stderr
    actions = {o["restore_point"]: o["action"] for o in json.loads(dry.stdout)}
    assert actions == {
        points[0]: "would delete",
        points[1]: "would delete",
        points[2]: "kept",
        points[3]: "kept",
    }
    assert _copies(ws) == set(points)  # a dry run touches nothing

    done = ws.cli("restore-points", "prune", TARGET, "--json", "-c", str(ws.config))
    assert done.returncode == 0, done.stdout + done.stderr
    deleted = [o["restore_point"] for o in json.loads(done.stdout) if o["action"] == "deleted"]
    assert sorted(deleted) == sorted(points[:2])
    assert _copies(ws) == set(points[2:])
    assert _points(ws) == points[2:]
    after = _usage(ws)
    assert (after["points"], after["measured"]) == (2, 2)
    assert after["bytes"] < before["bytes"]
    shown = ws.cli("status", "-c", str(ws.config))
    assert "restore points: 2 stored, " in shown.stdout
    assert "on disk for 2 (local copies, at most)" in shown.stdout

    with sql.open_store(ws.state) as store:
        events = [
            e.entry for e in store.list_audit_events() if e.entry.action == "restore_point.deleted"
        ]
    assert ws.cli("audit", "verify", "-c", str(ws.config)).returncode == 0
    assert sorted(e.details["restore_point"] for e in events) == sorted(points[:2])
    assert {e.result for e in events} == {"deleted"}
    assert all(e.actor.startswith("cli:") and "keep_last" in e.reason for e in events)

    # A deleted point is not a rollback target any more: refused before anything is written.
    refused = ws.cli("rollback", TARGET, "--reason", "r", "--to", points[0], "-c", str(ws.config))
    assert refused.returncode == 2
    assert f"no restore point {points[0]!r}" in refused.stderr

    # The old spelling, options first, still lists.
    old_spelling = ws.cli("restore-points", "-c", str(ws.config), "--json", TARGET)
    assert [p["id"] for p in json.loads(old_spelling.stdout)] == points[2:]

    again = ws.cli("restore-points", "prune", "--json", "-c", str(ws.config))
    assert again.returncode == 0
    assert {o["action"] for o in json.loads(again.stdout)} == {"kept"}


def test_prune_after_checkpoint_keeps_only_keep_last(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, policy={"retention": "{keep_last: 1, prune_after_checkpoint: true}"})
    for _ in range(3):
        taken = ws.cli("checkpoint", TARGET, "-c", str(ws.config))
        assert taken.returncode == 0, taken.stderr
    [kept] = _points(ws)
    assert _copies(ws) == {kept}


def test_prune_of_an_unknown_target_exits_2(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.cli("checkpoint", TARGET, "-c", str(ws.config)).returncode == 0
    wrong = ws.cli("restore-points", "prune", "web-9", "-c", str(ws.config))
    assert wrong.returncode == 2
    assert "unknown target 'web-9'" in wrong.stderr
