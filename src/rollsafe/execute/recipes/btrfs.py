"""The btrfs recipe: a read-only snapshot of a subvolume; rollback makes a writable copy active.

Role in the loop (execute): ``checkpoint`` runs ``btrfs subvolume snapshot -r SUBVOL
SNAPDIR/rollsafe-<point_id>`` and records the snapshot's UUID. ``restore`` moves the broken
active subvolume aside to ``SNAPDIR/rollsafe-broken-<point_id>`` and makes a writable
snapshot of the restore point the active subvolume; ``verify`` proves the active subvolume's
``Parent UUID`` is the snapshot's UUID.

Idempotency of ``restore`` (a killed controller repeats it): the step keeps two small files in
SNAPDIR named for the restore point and the attempt (``data["attempt"]``, set by the host
driver from the step key): ``.moving`` holds the UUID of the subvolume being moved aside,
written before the move; ``.done`` holds the UUID of the new active subvolume, written after
it is made. A repeat finds one of these states:

- ``.done`` names the active subvolume: nothing to do;
- the active subvolume is not the one ``.moving`` names and its parent is the snapshot: the
  new subvolume was made just before the crash, record it;
- no active subvolume: it was moved aside, make the new one;
- otherwise (nothing started, or the move did not happen): move aside and make it.

The UUID of ``.moving`` is what tells "the broken subvolume" from "our fresh copy" even when
the broken one is itself an earlier restore of the same snapshot (both have that parent).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import checked, recipes

STEP_RESTORE = "restore"
_ATTEMPT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_UUID = re.compile(r"^[0-9a-f-]{36}$")

FUNCTIONS = r"""
field() { btrfs subvolume show "$1" | sed -n "s/^[[:space:]]*$2:[[:space:]]*//p" | head -n 1; }
uuid_of() { field "$1" UUID; }
parent_of() { field "$1" 'Parent UUID'; }
"""
"""Shell functions reading ``btrfs subvolume show``: ``uuid_of PATH``, ``parent_of PATH``."""


class BtrfsRecipe(recipes.Stepped):
    """Implements ``recipes.Recipe`` for ``kind: btrfs``."""

    kind = "btrfs"

    def __init__(self, config: models.BtrfsRecipe) -> None:
        self.config = config

    def paths(self, target: models.Target) -> tuple[str, str]:
        """The active subvolume and the snapshots directory, rendered for ``target``."""
        return (
            checked.absolute_path(self.config.subvolume, target, what="btrfs recipe"),
            checked.absolute_path(self.config.snapshots, target, what="btrfs recipe"),
        )

    async def checkpoint(
        self, host: recipes.Host, *, point_id: str, limit_s: float
    ) -> Mapping[str, Any]:
        checked.safe_point_id(point_id)
        subvolume, snapshots = self.paths(host.target)
        snapshot = posixpath.join(snapshots, f"rollsafe-{point_id}")
        script = checked.script(
            'btrfs subvolume show "$SUB" >/dev/null',
            'mkdir -p "$DIR"',
            # A repeated checkpoint finds its snapshot made: keep it rather than fail.
            'if [ ! -e "$SNAP" ]; then',
            '  btrfs subvolume snapshot -r "$SUB" "$SNAP" >/dev/null',
            "fi",
            'echo "uuid=$(uuid_of "$SNAP")"',
            'echo "origin=$(uuid_of "$SUB")"',
            functions=FUNCTIONS,
            SUB=subvolume,
            SNAP=snapshot,
            DIR=snapshots,
        )
        result = await checked.run(host, script, limit_s=limit_s, what=f"snapshotting {subvolume}")
        values = _values(result.stdout)
        uuid = values.get("uuid", "")
        if not _UUID.match(uuid):
            raise errors.DriverError(
                f"{host.target.id}: the snapshot {snapshot} reports no UUID: {checked.why(result)}"
            )
        return {
            "subvolume": subvolume,
            "snapshots": snapshots,
            "snapshot": snapshot,
            "uuid": uuid,
            "origin_uuid": values.get("origin", ""),
            "point_id": point_id,
        }

    async def precheck(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> None:
        subvolume, snapshot, uuid, _point = _recorded(data)
        script = checked.script(
            '[ -d "$SNAP" ] || { echo "snapshot $SNAP is missing" >&2; exit 3; }',
            '[ "$(uuid_of "$SNAP")" = "$WANT" ] || '
            '{ echo "$SNAP is not the snapshot taken (its UUID changed)" >&2; exit 4; }',
            'field "$SNAP" Flags | grep -q readonly || '
            '{ echo "$SNAP is no longer read-only" >&2; exit 5; }',
            '[ -w "$P" ] || { echo "$P is not writable" >&2; exit 6; }',
            functions=FUNCTIONS,
            SNAP=snapshot,
            P=posixpath.dirname(subvolume),
            WANT=uuid,
        )
        what = f"checking snapshot {snapshot}"
        await checked.run(host, script, limit_s=limit_s, what=what, error=errors.PrecheckFailed)

    def steps(self, data: Mapping[str, Any]) -> Mapping[str, recipes.Step]:
        return {STEP_RESTORE: self._restore}

    async def _restore(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        subvolume, snapshot, uuid, point_id = _recorded(data)
        attempt = str(data.get("attempt") or "default")
        if not _ATTEMPT.match(attempt):
            raise errors.DriverError(f"btrfs recipe: attempt id {attempt!r} is not a safe name")
        snapshots = posixpath.dirname(snapshot)
        script = checked.script(
            '[ "$(uuid_of "$SNAP")" = "$WANT" ] || '
            '{ echo "$SNAP is not the snapshot taken (its UUID changed)" >&2; exit 3; }',
            'record() { printf \'%s\\n\' "$2" > "$1.tmp"; mv "$1.tmp" "$1"; }',
            'if [ -e "$SUB" ]; then',
            '  cur=$(uuid_of "$SUB")',
            '  if [ -f "$M.done" ] && [ "$(cat "$M.done")" = "$cur" ]; then',
            '    echo "already restored: $SUB ($cur) is a writable snapshot of $SNAP"; exit 0',
            "  fi",
            '  if [ -f "$M.moving" ] && [ "$(cat "$M.moving")" != "$cur" ] '
            '&& [ "$(parent_of "$SUB")" = "$WANT" ]; then',
            '    record "$M.done" "$cur"',
            '    echo "already restored: $SUB ($cur) is a writable snapshot of $SNAP"; exit 0',
            "  fi",
            '  record "$M.moving" "$cur"',
            '  aside="$BROKEN"; [ ! -e "$aside" ] || aside="$BROKEN-$ATTEMPT"',
            '  [ ! -e "$aside" ] || aside="$BROKEN-$ATTEMPT-$(date +%s)"',
            '  mv "$SUB" "$aside"',
            '  echo "moved the broken subvolume aside to $aside"',
            "fi",
            'btrfs subvolume snapshot "$SNAP" "$SUB" >/dev/null',
            'new=$(uuid_of "$SUB")',
            'record "$M.done" "$new"',
            'echo "restored $SUB ($new) as a writable snapshot of $SNAP"',
            functions=FUNCTIONS,
            SUB=subvolume,
            SNAP=snapshot,
            WANT=uuid,
            M=posixpath.join(snapshots, f".rollsafe-restore-{point_id}-{attempt}"),
            BROKEN=posixpath.join(snapshots, f"rollsafe-broken-{point_id}"),
            ATTEMPT=attempt,
        )
        result = await checked.run(host, script, limit_s=limit_s, what=f"restoring {subvolume}")
        return " ".join(result.stdout.strip().splitlines()[-2:])

    async def verify(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        subvolume, snapshot, uuid, _point = _recorded(data)
        script = checked.script(
            'p=$(parent_of "$SUB"); [ "$p" = "$WANT" ] || '
            '{ echo "$SUB has parent UUID $p, not the snapshot $WANT" >&2; exit 4; }',
            functions=FUNCTIONS,
            SUB=subvolume,
            WANT=uuid,
        )
        what = f"verifying {subvolume}"
        await checked.run(host, script, limit_s=limit_s, what=what, error=errors.VerificationFailed)
        return f"{subvolume} is a snapshot of {snapshot} (parent UUID {uuid})"

    async def delete(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        """``btrfs subvolume delete`` the read-only snapshot (the active copy is independent)."""
        _subvolume, snapshot, uuid, _point = _recorded(data)
        # Only the snapshot taken (same UUID) is deleted: a path reused by something else stays.
        script = checked.script(
            'if [ ! -e "$SNAP" ]; then echo "$SNAP already gone"; exit 0; fi',
            'if [ "$(uuid_of "$SNAP")" != "$WANT" ]; then',
            '  echo "$SNAP is not the snapshot taken (its UUID changed): left alone" >&2; exit 3',
            "fi",
            'btrfs subvolume delete "$SNAP" >/dev/null',
            'echo "deleted subvolume $SNAP"',
            functions=FUNCTIONS,
            SNAP=snapshot,
            WANT=uuid,
        )
        result = await checked.run(
            host, script, limit_s=limit_s, what=f"deleting snapshot {snapshot}"
        )
        return checked.last_line(result)


def _values(stdout: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            out[name.strip()] = value.strip()
    return out


def _recorded(data: Mapping[str, Any]) -> tuple[str, str, str, str]:
    values = [data.get(k) for k in ("subvolume", "snapshot", "uuid", "point_id")]
    if not all(isinstance(v, str) and v for v in values):
        raise errors.PrecheckFailed("the restore point records no btrfs snapshot")
    subvolume, snapshot, uuid, point_id = (str(v) for v in values)
    checked.safe_point_id(point_id, error=errors.PrecheckFailed)
    return subvolume, snapshot, uuid, point_id


def make(config: models.BtrfsRecipe) -> BtrfsRecipe:
    return BtrfsRecipe(config)
