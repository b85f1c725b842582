"""Upgrade marks made by other tools: the start of the judge's close watch and baselines.

Role in the loop (detect): the judge compares a target with its own past "before the upgrade",
and the daemon watches a target closely right after one, so it must know *when* each upgrade
happened. ``rollsafe upgrade`` and rollouts record that themselves; upgrades done by
unattended-upgrades, Ansible, a cloud patch manager or a CI job report it here, through
``rollsafe mark upgrade`` or ``POST /api/v1/targets/{id}/upgrades``.

A tool that can also say when it *begins* (a pre-invoke hook, the first task of a playbook)
reports that too (``started``): the same ``mark:upgrade_started`` ``rollsafe upgrade`` leaves
before its driver runs, so the judge knows that a restart or a reboot inside the upgrade is
the upgrade's own (``judge.engine``: failing checks made while an upgrade runs do not count
towards ``down``) and "one rollback per upgrade" counts from it.

A mark is the same ``mark:upgrade`` observation ``rollsafe upgrade`` leaves, written with the
store's ``add_observations`` (the running daemon polls the store for new marks, so it sees one
whichever process wrote it), preceded by an ``upgrade.marked`` audit entry naming who reported
it, how, and what changed (note, version, packages). The mark's time is the moment it is
recorded: the daemon reads marks newer than the last one it saw, so a back-dated mark would
slip past a running daemon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rollsafe.domain import audit_events, ids
from rollsafe.execute import upgrading
from rollsafe.storage import repositories

__all__ = [
    "ACTION",
    "MAX_NOTE",
    "MAX_PACKAGES",
    "STARTED_ACTION",
    "PackageChange",
    "record_upgrade",
]

ACTION = "upgrade.marked"
STARTED_ACTION = "upgrade.start_marked"
SOURCE = upgrading.FINISHED
MAX_NOTE = 2000
MAX_VERSION = 200
MAX_PACKAGES = 5000  # a dist-upgrade changes a few hundred; the bound keeps one entry small


@dataclass(frozen=True, slots=True)
class PackageChange:
    """One package the upgrade changed (``old``/``new`` None: installed / removed)."""

    name: str
    old: str | None = None
    new: str | None = None
    action: str = "upgrade"  # install | upgrade | downgrade | reinstall | remove

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "old": self.old, "new": self.new, "action": self.action}


def record_upgrade(
    store: repositories.Store,
    target: ids.TargetId,
    *,
    actor: str,
    at: float,
    via: str,
    note: str = "",
    version: str | None = None,
    packages: Sequence[PackageChange] = (),
    started: bool = False,
) -> audit_events.AuditEntry:
    """Audit the reported upgrade, then leave its ``mark:upgrade``; the audit entry written.

    ``via`` says which door it came through (``cli``, ``api``). ``started``: the upgrade
    begins now (``mark:upgrade_started``, audited ``upgrade.started``) rather than ended.
    Bounds are the caller's to check (they answer bad input in their own terms); this only
    writes.
    """
    entry = audit_events.AuditEntry(
        time=at,
        actor=actor,
        action=STARTED_ACTION if started else ACTION,
        target=target,
        reason=note,
        details={
            "via": via,
            "version": version,
            "packages": [p.to_json() for p in packages],
        },
        result="marked",
    )
    store.append_audit(entry)
    if started:
        upgrading.started(store, target, at=at)
    else:
        upgrading.finished(store, target, at=at)
    return entry
