"""Directory restore points for the local driver: copy a tree, describe it, swap it back in.

Role in the loop (execute): before an upgrade, the local driver takes a copy of the target's
directory together with a manifest (every entry's type, mode, size, SHA-256 and link target);
a rollback rebuilds the directory from that copy next to the live one, proves it matches the
manifest, and swaps it in with two renames.

Layout of one restore point::

    <point_dir>/tree            the copy (reflinked where the file system allows)
    <point_dir>/manifest.json   relative path -> entry, written after the copy
    <point_dir>/complete        written last and atomically: without it the point is unusable

Layout of one restore, next to the live directory ``<parent>/<name>``::

    <parent>/.rollsafe-build-<slug>    being copied from the point (never trusted)
    <parent>/.rollsafe-staging-<slug>  copied and verified against the manifest
    <parent>/.rollsafe-old-<slug>      the tree that was live before the swap

Every state an interruption can leave behind is recognised by ``restore`` and completed, so a
re-run with the same slug converges on the restored tree. Only ``local.py`` imports this
module; the functions are synchronous and meant to run in a worker thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rollsafe.domain import errors

TREE = "tree"
MANIFEST = "manifest.json"
COMPLETE = "complete"
MANIFEST_VERSION = 1
_CHUNK = 1 << 20
_MAX_PROBLEMS_SHOWN = 5

EntryType = Literal["file", "dir", "symlink", "other"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One path of a tree as the manifest records it; equality is "restored correctly"."""

    type: EntryType
    mode: int | None = None  # permission bits (with setuid/setgid/sticky); not for symlinks
    size: int | None = None  # files only
    sha256: str | None = None  # files only
    target: str | None = None  # symlinks only: the link text, never followed

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in ("mode", "size", "sha256", "target"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Entry:
        return cls(
            type=raw["type"],
            mode=raw.get("mode"),
            size=raw.get("size"),
            sha256=raw.get("sha256"),
            target=raw.get("target"),
        )

    def describe(self) -> str:
        if self.type == "file":
            return f"file mode {self.mode:o} size {self.size} sha256 {str(self.sha256)[:12]}"
        if self.type == "dir":
            return f"dir mode {self.mode:o}"
        if self.type == "symlink":
            return f"symlink -> {self.target}"
        return "unsupported file type"


Manifest = dict[str, Entry]
"""Relative POSIX path (``.`` is the root directory itself) -> entry."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What ``take`` produced: the copy and the totals recorded in the restore point."""

    copy: Path
    manifest_sha256: str
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class SwapPaths:
    """The sibling directories one restore (one step key) uses next to the live tree."""

    build: Path
    staging: Path
    old: Path


def swap_paths(live: Path, slug: str) -> SwapPaths:
    """Where a restore identified by ``slug`` builds, stages and parks trees."""
    parent = live.parent
    return SwapPaths(
        build=parent / f".rollsafe-build-{slug}",
        staging=parent / f".rollsafe-staging-{slug}",
        old=parent / f".rollsafe-old-{slug}",
    )


# --------------------------------------------------------------------------- describing trees


def scan(root: Path) -> Manifest:
    """Describe every entry under ``root`` (symlinks are recorded, never followed)."""
    root_stat = root.lstat()
    if not stat.S_ISDIR(root_stat.st_mode):
        raise NotADirectoryError(str(root))
    out: Manifest = {".": Entry(type="dir", mode=stat.S_IMODE(root_stat.st_mode))}
    for rel, path, st in _walk(root, ""):
        out[rel] = _entry(path, st)
    return out


def _walk(directory: Path, prefix: str) -> Iterator[tuple[str, Path, os.stat_result]]:
    with os.scandir(directory) as it:
        children = sorted(it, key=lambda e: e.name)
    for child in children:
        rel = f"{prefix}{child.name}"
        st = child.stat(follow_symlinks=False)
        yield rel, Path(child.path), st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(Path(child.path), f"{rel}/")


def _entry(path: Path, st: os.stat_result) -> Entry:
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return Entry(type="symlink", target=str(path.readlink()))
    if stat.S_ISDIR(st.st_mode):
        return Entry(type="dir", mode=mode)
    if stat.S_ISREG(st.st_mode):
        return Entry(type="file", mode=mode, size=st.st_size, sha256=file_sha256(path))
    return Entry(type="other", mode=mode)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def diff(expected: Manifest, actual: Manifest) -> list[str]:
    """Human-readable differences, one per path, in path order (empty when identical)."""
    problems: list[str] = []
    for rel in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(rel), actual.get(rel)
        if want == got:
            continue
        if got is None:
            problems.append(f"missing {rel}")
        elif want is None:
            problems.append(f"unexpected {rel}")
        else:
            problems.append(f"{rel}: expected {want.describe()}, found {got.describe()}")
    return problems


def summarize(problems: list[str]) -> str:
    shown = "; ".join(problems[:_MAX_PROBLEMS_SHOWN])
    more = len(problems) - _MAX_PROBLEMS_SHOWN
    return f"{shown}; and {more} more" if more > 0 else shown


def manifest_bytes(manifest: Manifest) -> bytes:
    """The canonical serialisation whose SHA-256 the restore point records."""
    body = {
        "version": MANIFEST_VERSION,
        "entries": {rel: manifest[rel].to_json() for rel in sorted(manifest)},
    }
    # ensure_ascii keeps undecodable file names (surrogate escapes) representable.
    return json.dumps(body, sort_keys=True, ensure_ascii=True).encode("ascii")


# --------------------------------------------------------------------------- taking a point


def take(source: Path, point_dir: Path) -> Snapshot:
    """Copy ``source`` into ``point_dir`` and seal it; any previous content there is replaced."""
    check_live_directory(source, must_exist=True)
    if os.path.lexists(point_dir):
        # A point id is taken at most once; leftovers are from an interrupted attempt.
        remove_tree(point_dir)
    point_dir.mkdir(parents=True)
    copy = point_dir / TREE
    copy_tree(source, copy)
    manifest = scan(copy)
    odd = [rel for rel, entry in manifest.items() if entry.type == "other"]
    if odd:
        raise errors.DriverError(
            f"{source} holds entries that are not files, directories or symlinks "
            f"(sockets, FIFOs, devices cannot be restored): {', '.join(odd[:5])}"
        )
    body = manifest_bytes(manifest)
    write_atomic(point_dir / MANIFEST, body)
    # The copy must be on disk before the marker says the point is usable.
    sync_filesystem(copy)
    files = [e for e in manifest.values() if e.type == "file"]
    snapshot = Snapshot(
        copy=copy,
        manifest_sha256=hashlib.sha256(body).hexdigest(),
        files=len(files),
        bytes=sum(e.size or 0 for e in files),
    )
    marker = {"manifest_sha256": snapshot.manifest_sha256, "source": str(source)}
    write_atomic(point_dir / COMPLETE, json.dumps(marker, sort_keys=True).encode())
    return snapshot


def check_live_directory(live: Path, *, must_exist: bool) -> None:
    """Refuse directories the rename-based restore cannot manage."""
    if live.is_symlink():
        raise errors.DriverError(
            f"{live} is a symlink (to {live.readlink()}); point `directory` at the real "
            "directory, a restore replaces the directory itself"
        )
    if not live.exists():
        if must_exist:
            raise errors.DriverError(f"directory {live} does not exist")
        return
    if not live.is_dir():
        raise errors.DriverError(f"{live} is not a directory")
    if os.path.ismount(live):
        raise errors.DriverError(
            f"{live} is a mount point; a restore swaps the directory with renames, which "
            "cannot move a mount point: point `directory` at a directory inside it"
        )


# --------------------------------------------------------------------------- checking a point


def read_manifest(point_dir: Path, *, manifest_sha256: str) -> Manifest:
    """The sealed manifest of a point; PrecheckFailed when it is incomplete or altered."""
    if not (point_dir / COMPLETE).is_file():
        raise errors.PrecheckFailed(
            f"restore point {point_dir} is incomplete (no `{COMPLETE}` marker): "
            "it was interrupted while being taken"
        )
    try:
        body = (point_dir / MANIFEST).read_bytes()
    except OSError as exc:
        raise errors.PrecheckFailed(f"cannot read the manifest of {point_dir}: {exc}") from exc
    actual = hashlib.sha256(body).hexdigest()
    if actual != manifest_sha256:
        raise errors.PrecheckFailed(
            f"manifest of {point_dir} was altered: sha256 {actual[:12]} differs from "
            f"{manifest_sha256[:12]} recorded when the point was taken"
        )
    try:
        raw = json.loads(body)
        return {rel: Entry.from_json(e) for rel, e in raw["entries"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.PrecheckFailed(f"manifest of {point_dir} is unreadable: {exc}") from exc


def verify_point(point_dir: Path, *, manifest_sha256: str) -> Manifest:
    """Full verification: the manifest is sealed and every byte of the copy matches it."""
    manifest = read_manifest(point_dir, manifest_sha256=manifest_sha256)
    copy = point_dir / TREE
    if not copy.is_dir() or copy.is_symlink():
        raise errors.PrecheckFailed(f"the copy {copy} is missing")
    problems = diff(manifest, scan(copy))
    if problems:
        raise errors.PrecheckFailed(
            f"the copy {copy} does not match its manifest ({len(problems)} differences): "
            + summarize(problems)
        )
    return manifest


# --------------------------------------------------------------------------- restoring


def restore(*, copy: Path, manifest: Manifest, live: Path, slug: str, marker: Path) -> None:
    """Make ``live`` the tree described by ``manifest``, rebuilt from ``copy``.

    ``marker`` (outside the tree, in the driver's journal) is written just before the first
    rename; it tells "swap finished" apart from "swap not started" when nothing else does.
    Safe to call again after an interruption anywhere, with the same ``slug``.
    """
    check_live_directory(live, must_exist=False)
    paths = swap_paths(live, slug)
    if os.path.lexists(paths.old):
        # Interrupted after the first rename (live -> old).
        if os.path.lexists(paths.staging) or not os.path.lexists(live):
            _ensure_staging(copy, manifest, paths)
            _rename(paths.staging, live)
        # else: the second rename happened too; only the old tree is left to remove.
        remove_tree(paths.old)
        return
    if marker.exists() and not os.path.lexists(paths.staging) and os.path.lexists(live):
        return  # swapped and cleaned up; only the journal entry was missing
    _ensure_staging(copy, manifest, paths)
    write_atomic(marker, json.dumps({"live": str(live), "slug": slug}).encode())
    if os.path.lexists(live):
        _rename(live, paths.old)
    _rename(paths.staging, live)
    remove_tree(paths.old)


def _ensure_staging(copy: Path, manifest: Manifest, paths: SwapPaths) -> None:
    if os.path.lexists(paths.staging):
        if not diff(manifest, scan(paths.staging)):
            return
        remove_tree(paths.staging)  # damaged (or not ours): build it again
    if os.path.lexists(paths.build):
        remove_tree(paths.build)
    copy_tree(copy, paths.build)
    problems = diff(manifest, scan(paths.build))
    if problems:
        remove_tree(paths.build)
        raise errors.DriverError(
            f"the tree rebuilt from {copy} does not match the manifest ({len(problems)} "
            f"differences), nothing was swapped: {summarize(problems)}"
        )
    sync_filesystem(paths.build)
    _rename(paths.build, paths.staging)


def _rename(src: Path, dst: Path) -> None:
    try:
        src.rename(dst)
    except OSError as exc:
        raise errors.DriverError(f"cannot rename {src} to {dst}: {exc.strerror}") from exc
    fsync_directory(dst.parent)


# --------------------------------------------------------------------------- file primitives


def copy_tree(src: Path, dst: Path) -> None:
    """Copy ``src`` to the new path ``dst`` keeping modes, mtimes, symlinks and empty dirs.

    GNU ``cp --reflink=auto`` shares extents on btrfs/XFS (instant, no extra space) and falls
    back to a real copy elsewhere; without GNU cp, Python's copy does the same minus reflinks.
    """
    cp = _gnu_cp()
    if cp is not None:
        result = subprocess.run(
            [cp, "-a", "--reflink=auto", "--", str(src), str(dst)],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            tail = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise errors.DriverError(f"copying {src} to {dst} failed: {' | '.join(tail)}")
        return
    python_copy_tree(src, dst)


def python_copy_tree(src: Path, dst: Path) -> None:
    """The portable copy (no reflinks, no ownership): used where GNU cp is missing."""
    try:
        shutil.copytree(src, dst, symlinks=True, copy_function=shutil.copy2)
    except (OSError, shutil.Error) as exc:
        raise errors.DriverError(f"copying {src} to {dst} failed: {exc}") from exc


@functools.cache
def _gnu_cp() -> str | None:
    cp = shutil.which("cp")
    if cp is None:
        return None
    try:
        out = subprocess.run([cp, "--version"], capture_output=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return cp if b"GNU coreutils" in out.stdout else None


def remove_tree(path: Path) -> None:
    """Remove ``path`` (a tree, a file or a link), even when it holds read-only directories."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    try:
        shutil.rmtree(path)
    except PermissionError:
        # Without root, a directory restored with mode 0555 blocks removal of its children.
        for directory, _dirs, _files in os.walk(path):
            with contextlib.suppress(OSError):
                Path(directory).chmod(0o700)
        shutil.rmtree(path)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or all of the new."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fsync_directory(path.parent)


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _syncfs() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    return getattr(libc, "syncfs", None)


def sync_filesystem(path: Path) -> None:
    """Flush the file system holding ``path`` (a copy made by cp is not fsynced by cp)."""
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
