"""Pure readers of what the OS tools print, and the package-set diff the recipes act on.

Role in the loop (execute): the snapper, LVM, apt, dnf, rpm-ostree/bootc and qcow2 recipes
send commands and read their output here. Everything in this module is pure (text in, frozen
values out) so it is tested against recorded outputs of the real tools without a host, and a
format the parser does not understand is a ``DriverError`` naming the tool, never a guess.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollsafe.domain import errors
from rollsafe.reach.transports import transporting

_TAIL_LINES = 12
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9+_.-]")


def tail(text: str, *, lines: int = _TAIL_LINES) -> str:
    """The last lines of a command's output, for an error message."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def require_ok(result: transporting.CommandResult, *, what: str) -> str:
    """The stdout of a command that must succeed; ``DriverError`` with its stderr tail if not."""
    if result.ok:
        return result.stdout
    detail = tail(result.stderr) or tail(result.stdout) or "no output"
    raise errors.DriverError(f"{what} failed with exit code {result.exit_status}: {detail}")


def require_complete(result: transporting.CommandResult, *, what: str) -> str:
    """Like ``require_ok``, for output that is parsed: a cut output is refused, never read.

    A package list cut at the transport's output limit would look like packages were
    removed, and a rollback "restoring" it would remove them for real.
    """
    out = require_ok(result, what=what)
    if result.truncated:
        raise errors.DriverError(
            f"the output of {what} was cut at the transport's output limit; raise the host "
            "driver's output_limit"
        )
    return out


def snapshot_name(point_id: str) -> str:
    """``rollsafe-<id>``, reduced to characters every tool accepts in a name (LVM is strictest)."""
    # Restore point ids are "rp-<hex>" today, but the name must stay valid for any id.
    return ("rollsafe-" + _NAME_UNSAFE.sub("_", point_id))[:120]


def quote_all(words: Iterable[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)


def load_json(text: str, *, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise errors.DriverError(
            f"{what} did not print JSON: {exc}: {tail(text, lines=3)}"
        ) from exc


# ----------------------------------------------------------------------------- snapper


@dataclass(frozen=True, slots=True)
class SnapperSnapshot:
    number: int
    type: str  # "single", "pre", "post"
    default: bool  # the snapshot booted next ("*" or "+" after the number)
    active: bool  # the snapshot mounted now ("-" or "+" after the number)
    description: str


_SNAPPER_NUMBER = re.compile(r"^(\d+)([*+-]?)$")


def parse_snapper_list(text: str) -> list[SnapperSnapshot]:
    """Rows of ``snapper list`` (ASCII ``|`` or Unicode ``│`` table) or ``snapper --csvout list``.

    The number column carries the markers: ``*`` default, ``-`` active, ``+`` both.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    # snapper 0.10 puts ``config,subvolume`` before ``number`` in its CSV header.
    if lines and "number" in [name.strip() for name in lines[0].split(",")]:
        return _parse_snapper_csv(lines)
    header: list[str] | None = None
    rows: list[SnapperSnapshot] = []
    for line in lines:
        # The column separators of snapper's table styles (``--table-style`` 0 to 5).
        cells = [cell.strip() for cell in re.split(r"[|│┃║┆┇]", line)]
        if header is None:
            if cells and cells[0] == "#":
                header = [cell.lower() for cell in cells]
            continue
        if len(cells) < 2:
            continue  # the "---+---" or "─┼─" rule
        match = _SNAPPER_NUMBER.match(cells[0])
        if match is None:
            continue
        marker = match.group(2)
        by_name = dict(zip(header, cells, strict=False))
        rows.append(
            SnapperSnapshot(
                number=int(match.group(1)),
                type=by_name.get("type", ""),
                default=marker in ("*", "+"),
                active=marker in ("-", "+"),
                description=by_name.get("description", ""),
            )
        )
    if header is None:
        raise errors.DriverError(f"snapper list printed no table: {tail(text, lines=3)}")
    return rows


def _parse_snapper_csv(lines: Sequence[str]) -> list[SnapperSnapshot]:
    return [
        SnapperSnapshot(
            number=int(row["number"]),
            type=row.get("type") or "",
            default=(row.get("default") or "no") == "yes",
            active=(row.get("active") or "no") == "yes",
            description=row.get("description") or "",
        )
        for row in csv.DictReader(lines)
    ]


def parse_print_number(text: str, *, what: str) -> int:
    """The number ``snapper create --print-number`` printed (its last non-empty line)."""
    last = tail(text, lines=1)
    if not last.isdigit():
        raise errors.DriverError(f"{what} did not print a snapshot number: {last!r}")
    return int(last)


_SNAPPER_NEW_DEFAULT = re.compile(r"Setting default subvolume to snapshot (\d+)")


def parse_snapper_rollback(text: str) -> int | None:
    """The new default snapshot number ``snapper rollback`` announced, if it printed one."""
    found = _SNAPPER_NEW_DEFAULT.findall(text)
    return int(found[-1]) if found else None


def snapper_rollback_description(number: int) -> str:
    # snapper describes the read-write snapshot that ``rollback N`` creates and makes default
    # like this; it is how a repeated step and the verification recognise it.
    return f"writable copy of #{number}"


# --------------------------------------------------------------------------------- lvm


@dataclass(frozen=True, slots=True)
class LogicalVolume:
    name: str
    vg: str
    attr: str
    origin: str
    data_percent: float | None
    merging: bool

    @property
    def invalid(self) -> bool:
        """An overflowed (full) or failed snapshot: it can no longer restore anything."""
        state = self.attr[4:5]
        return state in ("I", "S", "m", "M") or (
            self.data_percent is not None and self.data_percent >= 100.0
        )

    @property
    def active(self) -> bool:
        return self.attr[4:5] == "a"

    @property
    def open(self) -> bool:
        return self.attr[5:6] == "o"


def parse_lvs(text: str) -> list[LogicalVolume]:
    """``lvs --reportformat json -o lv_name,vg_name,lv_attr,origin,data_percent,lv_merging``."""
    doc = load_json(text, what="lvs")
    try:
        reports = doc["report"]
        entries = [lv for report in reports for lv in report.get("lv", [])]
    except (KeyError, TypeError, AttributeError) as exc:
        raise errors.DriverError(f"lvs printed JSON without report[].lv[]: {exc}") from exc
    out = []
    for lv in entries:
        percent = str(lv.get("data_percent", "")).strip()
        out.append(
            LogicalVolume(
                name=str(lv.get("lv_name", "")).strip("[]"),
                vg=str(lv.get("vg_name", "")),
                attr=str(lv.get("lv_attr", "")),
                origin=str(lv.get("origin", "")).strip("[]"),
                data_percent=float(percent) if percent else None,
                # Binary fields print "merging"/"" by default and 1/0 with --binary.
                merging=str(lv.get("lv_merging", "")).strip().lower() in ("1", "merging", "yes"),
            )
        )
    return out


# ---------------------------------------------------------------------------- packages

DPKG_FORMAT = r"${binary:Package}\t${Version}\t${db:Status-Abbrev}\n"
RPM_FORMAT = r"%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}.%{ARCH}\n"
# Keys imported by an upgrade show up as packages; they are not software to roll back.
_RPM_PSEUDO = frozenset({"gpg-pubkey", "gpg-pubkey-release"})


def parse_dpkg_query(text: str) -> dict[str, str]:
    """Installed packages -> version, from ``dpkg-query -W -f=DPKG_FORMAT``.

    A package counts as installed when its current state (second status letter) is
    installed or only waiting for triggers; removed ones with config files left do not.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[0]:
            continue
        name, version, status = parts[0], parts[1], parts[2]
        if status[1:2] in ("i", "W", "t") and version:
            out[name] = version
    return out


def parse_rpm_qa(text: str) -> dict[str, list[str]]:
    """Installed packages -> sorted versions (a name may be installed twice: kernels)."""
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0] or parts[0] in _RPM_PSEUDO:
            continue  # "package x is not installed" lines of `rpm -q` land here too
        name, version = parts
        if version.startswith("(none):"):
            version = "0:" + version.removeprefix("(none):")
        found.setdefault(name, set()).add(version)
    return {name: sorted(versions) for name, versions in sorted(found.items())}


def parse_dnf_last_transaction(text: str) -> int | None:
    """The newest transaction id in ``dnf history list`` (dnf 4 table or dnf 5 columns)."""
    ids = []
    for line in text.splitlines():
        first = line.split("|")[0].strip().split()
        if first and first[0].isdigit():
            ids.append(int(first[0]))
    return max(ids) if ids else None


@dataclass(frozen=True, slots=True)
class PackageDiff:
    install: tuple[tuple[str, str], ...]  # (name, recorded version) missing or changed now
    remove: tuple[str, ...]  # installed now, absent from the record

    @property
    def empty(self) -> bool:
        return not self.install and not self.remove

    def describe(self, *, limit: int = 10) -> str:
        parts = [f"{name} -> {version}" for name, version in self.install[:limit]]
        parts += [f"{name} (remove)" for name in self.remove[:limit]]
        more = len(self.install) + len(self.remove) - len(parts)
        return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def package_diff(recorded: Mapping[str, str], current: Mapping[str, str]) -> PackageDiff:
    """What to change so that ``current`` equals ``recorded`` again."""
    install = tuple(
        (name, version)
        for name, version in sorted(recorded.items())
        if current.get(name) != version
    )
    remove = tuple(sorted(name for name in current if name not in recorded))
    return PackageDiff(install=install, remove=remove)


def rpm_set_diff(
    recorded: Mapping[str, Sequence[str]], current: Mapping[str, Sequence[str]]
) -> list[str]:
    """Human lines for every name whose installed versions differ from the record."""
    lines = []
    for name in sorted(set(recorded) | set(current)):
        before, now = sorted(recorded.get(name, [])), sorted(current.get(name, []))
        if before != now:
            lines.append(f"{name}: {', '.join(before) or 'absent'} -> {', '.join(now) or 'absent'}")
    return lines


# ------------------------------------------------------------------ rpm-ostree and bootc


@dataclass(frozen=True, slots=True)
class Deployment:
    """One bootable deployment; ``ident`` is what a restore point compares."""

    ident: str  # ostree checksum (rpm-ostree) or image digest (bootc)
    checksum: str  # the ostree commit, "" when unknown
    version: str


@dataclass(frozen=True, slots=True)
class DeploymentStatus:
    booted: Deployment | None
    next_boot: Deployment | None  # the default: what a reboot boots into
    rollback: Deployment | None  # what `rollback` would make the default
    all: tuple[Deployment, ...]


def parse_rpm_ostree_status(text: str) -> DeploymentStatus:
    """``rpm-ostree status --json``: deployments in boot order, the first is the default."""
    doc = load_json(text, what="rpm-ostree status")
    try:
        raw = list(doc["deployments"])
    except (KeyError, TypeError) as exc:
        raise errors.DriverError("rpm-ostree status printed no deployments[]") from exc
    deployments = [
        Deployment(
            ident=str(d["checksum"]), checksum=str(d["checksum"]), version=str(d.get("version", ""))
        )
        for d in raw
        if isinstance(d, dict) and d.get("checksum")
    ]
    booted_index = next((i for i, d in enumerate(raw) if d.get("booted")), None)
    booted = deployments[booted_index] if booted_index is not None else None
    # `rpm-ostree rollback` makes the booted deployment the default when another one is
    # pending, and otherwise the one after the booted one.
    rollback: Deployment | None = None
    if booted_index is not None:
        if booted_index > 0:
            rollback = booted
        elif len(deployments) > 1:
            rollback = deployments[1]
    return DeploymentStatus(
        booted=booted,
        next_boot=deployments[0] if deployments else None,
        rollback=rollback,
        all=tuple(deployments),
    )


def _bootc_entry(entry: Any) -> Deployment | None:
    if not isinstance(entry, dict):
        return None
    image = entry.get("image") or {}
    digest = str(image.get("imageDigest") or "")
    checksum = str((entry.get("ostree") or {}).get("checksum") or "")
    if not digest and not checksum:
        return None
    return Deployment(
        ident=digest or checksum, checksum=checksum, version=str(image.get("version") or "")
    )


def parse_bootc_status(text: str) -> DeploymentStatus:
    """``bootc status --json``: ``status.booted/staged/rollback`` and ``rollbackQueued``."""
    doc = load_json(text, what="bootc status")
    status = doc.get("status") if isinstance(doc, dict) else None
    if not isinstance(status, dict):
        raise errors.DriverError("bootc status printed no status object")
    booted = _bootc_entry(status.get("booted"))
    staged = _bootc_entry(status.get("staged"))
    rollback = _bootc_entry(status.get("rollback"))
    queued = bool(status.get("rollbackQueued")) or (
        (doc.get("spec") or {}).get("bootOrder") == "rollback"
    )
    if queued:
        next_boot, rollback_target = rollback, booted
    else:
        next_boot, rollback_target = (staged or booted), rollback
    return DeploymentStatus(
        booted=booted,
        next_boot=next_boot,
        rollback=rollback_target,
        all=tuple(d for d in (staged, booted, rollback) if d is not None),
    )


# ------------------------------------------------------------------------------- qcow2


@dataclass(frozen=True, slots=True)
class ImageInfo:
    virtual_size: int
    format: str
    snapshots: tuple[str, ...]  # tags (names) of the internal snapshots


def parse_qemu_img_info(text: str) -> ImageInfo:
    """``qemu-img info --output json``."""
    doc = load_json(text, what="qemu-img info")
    try:
        return ImageInfo(
            virtual_size=int(doc["virtual-size"]),
            format=str(doc.get("format", "")),
            snapshots=tuple(str(s["name"]) for s in doc.get("snapshots", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.DriverError(f"qemu-img info printed unexpected JSON: {exc}") from exc
