"""The directory recipe: a copy of one directory on the host, taken and restored by shell.

Role in the loop (execute): the local driver's restore point, for hosts reached through a
transport. ``checkpoint`` copies ``path`` with ``cp -a --reflink=auto`` (instant on btrfs and
XFS) into ``<snapshots>/<point_id>/tree`` and records a manifest hash: one sha256 over every
entry's type, mode, owner, name and link target plus every file's content hash. The copy is
built under ``<point_id>.partial`` and renamed when complete, so a half-made copy never looks
usable.

``restore`` is idempotent: when the live directory's manifest already equals the recorded one
it does nothing. Otherwise it copies the snapshot into a temporary directory next to the live
one, moves the live one aside and renames the copy into place (renames on one file system),
then removes the old tree; a repeated step after a crash finds the state and carries on.
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

MANIFEST_FUNCTION = r"""
manifest() {
  ( cd "$1" && {
      LC_ALL=C find . -printf '%y %m %U %G %P -> %l\n' | LC_ALL=C sort
      LC_ALL=C find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    } | sha256sum | cut -d' ' -f1 )
}
"""
"""Shell function: ``manifest DIR`` prints the hash of DIR's names, modes, owners, contents."""

_COPY_UNCHANGED = (
    '[ "$(manifest "$C")" = "$W" ] || '
    '{ echo "the copy $C changed since it was taken" >&2; exit 4; }'
)
"""Shell line: the copy ``$C`` still has the manifest ``$W`` recorded when it was taken."""


class DirectoryRecipe(recipes.Stepped):
    """Implements ``recipes.Recipe`` for ``kind: directory``."""

    kind = "directory"

    def __init__(self, config: models.DirectoryRecipe) -> None:
        self.config = config

    def paths(self, target: models.Target) -> tuple[str, str]:
        """The live directory and the snapshots directory for ``target``, rendered."""
        path = checked.absolute_path(self.config.path, target, what="directory recipe")
        if not self.config.snapshots:
            return path, f"{path}.rollsafe-snapshots"
        return path, checked.rendered_path(self.config.snapshots, target, what="directory recipe")

    async def checkpoint(
        self, host: recipes.Host, *, point_id: str, limit_s: float
    ) -> Mapping[str, Any]:
        checked.safe_point_id(point_id)
        path, snapshots = self.paths(host.target)
        point_dir = posixpath.join(snapshots, point_id)
        script = checked.script(
            '[ -d "$L" ] || { echo "$L is not a directory" >&2; exit 3; }',
            'rm -rf "$D.partial"; mkdir -p "$D.partial"',
            'cp -a --reflink=auto "$L" "$D.partial/tree"',
            'm=$(manifest "$D.partial/tree")',
            'printf \'%s\\n\' "$m" > "$D.partial/manifest.sha256"',
            'rm -rf "$D"; mv "$D.partial" "$D"',
            'echo "$m"',
            functions=MANIFEST_FUNCTION,
            L=path,
            D=point_dir,
        )
        result = await checked.run(host, script, limit_s=limit_s, what=f"copying {path}")
        manifest = checked.last_line(result)
        if not re.fullmatch(r"[0-9a-f]{64}", manifest):
            raise errors.DriverError(
                f"{host.target.id}: copying {path} printed no manifest hash: {checked.why(result)}"
            )
        return {
            "path": path,
            "snapshots": snapshots,
            "copy": posixpath.join(point_dir, "tree"),
            "manifest_sha256": manifest,
        }

    async def precheck(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> None:
        path, copy, manifest = _recorded(data)
        script = checked.script(
            '[ -d "$C" ] || { echo "the copy $C is missing" >&2; exit 3; }',
            _COPY_UNCHANGED,
            '[ -d "$P" ] && [ -w "$P" ] || { echo "$P is missing or not writable" >&2; exit 5; }',
            functions=MANIFEST_FUNCTION,
            C=copy,
            P=posixpath.dirname(path),
            W=manifest,
        )
        what = f"checking the copy of {path}"
        await checked.run(host, script, limit_s=limit_s, what=what, error=errors.PrecheckFailed)

    def steps(self, data: Mapping[str, Any]) -> Mapping[str, recipes.Step]:
        return {STEP_RESTORE: self._restore}

    async def _restore(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        path, copy, manifest = _recorded(data)
        script = checked.script(
            'TMP="$L.rollsafe-restore"; OLD="$L.rollsafe-old"',
            'if [ -d "$L" ] && [ "$(manifest "$L")" = "$W" ]; then',
            '  rm -rf "$TMP" "$OLD"; echo "already restored: $L matches the copy"; exit 0',
            "fi",
            _COPY_UNCHANGED,
            'rm -rf "$TMP"; cp -a --reflink=auto "$C" "$TMP"',
            # A previous attempt may have moved the live tree aside already: keep that one.
            'if [ -e "$L" ]; then rm -rf "$OLD"; mv "$L" "$OLD"; fi',
            'mv "$TMP" "$L"',
            'rm -rf "$OLD"',
            'echo "restored $L from $C"',
            functions=MANIFEST_FUNCTION,
            L=path,
            C=copy,
            W=manifest,
        )
        result = await checked.run(host, script, limit_s=limit_s, what=f"restoring {path}")
        return checked.last_line(result)

    async def verify(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        path, _copy, manifest = _recorded(data)
        script = checked.script(
            '[ -d "$L" ] || { echo "$L is missing" >&2; exit 3; }',
            '[ "$(manifest "$L")" = "$W" ] || '
            '{ echo "$L differs from the restore point" >&2; exit 4; }',
            functions=MANIFEST_FUNCTION,
            L=path,
            W=manifest,
        )
        what = f"verifying {path}"
        await checked.run(host, script, limit_s=limit_s, what=what, error=errors.VerificationFailed)
        return f"{path} matches the restore point (manifest {manifest[:12]})"

    async def delete(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        """Remove ``<snapshots>/<point_id>`` (the copy and its manifest); gone already is fine."""
        _path, copy, _manifest = _recorded(data)
        point_dir = posixpath.dirname(copy)
        tree, point_id = posixpath.basename(copy), posixpath.basename(point_dir)
        if tree != "tree" or not checked.is_point_id(point_id):
            raise errors.DriverError(f"the recorded copy {copy!r} is not a restore point's tree")
        # The manifest goes first: a removal cut short leaves a copy no precheck accepts.
        script = checked.script(
            'if [ ! -e "$D" ]; then echo "$D already gone"; exit 0; fi',
            'rm -f "$D/manifest.sha256"; rm -rf "$D"',
            'echo "removed $D"',
            D=point_dir,
        )
        result = await checked.run(
            host, script, limit_s=limit_s, what=f"removing the copy {point_dir}"
        )
        return checked.last_line(result)


def _recorded(data: Mapping[str, Any]) -> tuple[str, str, str]:
    path, copy, manifest = data.get("path"), data.get("copy"), data.get("manifest_sha256")
    if not (isinstance(path, str) and isinstance(copy, str) and isinstance(manifest, str)):
        raise errors.PrecheckFailed("the restore point records no directory copy")
    return path, copy, manifest


def make(config: models.DirectoryRecipe) -> DirectoryRecipe:
    return DirectoryRecipe(config)
