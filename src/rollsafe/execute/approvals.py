"""Approvals: a person's yes or no on a run that waits for one, written to the durable run.

A run waits in ``awaiting_approval`` with its mode and deadline stored
(``rollsafe.domain.runs.Approval``). A decision is one store write: the run's approval (who,
what, why) together with its audit entry (``run.approved``, or ``run.rejected`` which also
ends the run), so it works from any process: the daemon's API, a ``rollsafe approve`` while
the daemon runs (the daemon notices within its poll interval) or while it does not (the
daemon acts on it when it resumes the run). Only a run that waits and has no decision yet can
be decided; anything else raises ``InvalidTransition`` and changes nothing.

A signed link (``rollsafe.notify.links``) is single-use: ``decide`` with ``link=<nonce>``
first records the nonce (``Store.use_link``); a second use raises ``LinkAlreadyUsed``.
``via`` (cli, api, dashboard, link, slack) and any ``details`` (a Slack user id) are recorded in
the audit entry's details.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal, TypedDict

from rollsafe.domain import audit_events, errors, ids, runs
from rollsafe.storage import repositories

__all__ = [
    "APPROVED",
    "REJECTED",
    "TIMEOUT",
    "LinkAlreadyUsed",
    "RunNotFound",
    "decide",
    "waiting_for_person",
]

APPROVED = "approved"
REJECTED = "rejected"
TIMEOUT = "timeout"

Verdict = Literal["approve", "reject"]


class How(TypedDict, total=False):
    """How a person's decision reached rollsafe: the channel, a signed link's nonce, extras."""

    via: str
    link: str | None
    details: Mapping[str, object] | None


class RunNotFound(LookupError):
    """No run with this id in the store."""


class LinkAlreadyUsed(errors.PermanentError):
    """A single-use approval link was used before."""


def waiting_for_person(store: repositories.Store, run_id: str) -> runs.RollbackRun:
    """The run ``run_id`` if it waits for a person's decision; raises otherwise."""
    run = store.get_run(ids.RunId(run_id))
    if run is None:
        raise RunNotFound(run_id)
    if run.state is not runs.RunState.AWAITING_APPROVAL or run.approval.decision is not None:
        raise runs.InvalidTransition(
            f"{run.id} is {run.state.value}"
            + (f" ({run.approval.decision})" if run.approval.decision else "")
            + ", not waiting for approval"
        )
    return run


def decide(
    store: repositories.Store,
    run_id: str,
    verdict: Verdict,
    *,
    actor: str,
    reason: str,
    now: float,
    via: str = "api",
    link: str | None = None,
    details: Mapping[str, object] | None = None,
) -> tuple[runs.RollbackRun, audit_events.AuditEntry]:
    """Approve or reject the waiting run ``run_id`` as ``actor``; the stored run and its entry.

    Raises RunNotFound, InvalidTransition (not waiting, or already decided) and, for a
    ``link`` nonce seen before, LinkAlreadyUsed.
    """
    run = waiting_for_person(store, run_id)
    if link is not None and not store.use_link(
        link, run_id=run.id, action=verdict, used_by=actor, at=now
    ):
        raise LinkAlreadyUsed("this link was already used")
    recorded: dict[str, object] = {**(details or {}), "via": via, "mode": run.approval.mode.value}
    if run.approval.deadline is not None:
        recorded["deadline"] = run.approval.deadline
        recorded["before_deadline"] = now < run.approval.deadline
    if link is not None:
        recorded["link"] = link
    if verdict == "approve":
        decision = APPROVED
        decided = dataclasses.replace(run, updated_at=now)
    else:
        decision = REJECTED
        decided = run.moved(runs.RunState.REJECTED, at=now, error=f"rejected by {actor}: {reason}")
    approval = dataclasses.replace(run.approval, decided_by=actor, decision=decision, reason=reason)
    decided = dataclasses.replace(decided, approval=approval)
    entry = audit_events.AuditEntry(
        time=now,
        actor=actor,
        action=f"run.{decision}",
        target=run.target,
        run_id=run.id,
        reason=reason,
        details=recorded,
        result=decision,
    )
    try:
        store.save_run(decided, audit=entry, expected=run)
    except repositories.StaleRunError:
        fresh = store.get_run(run.id)
        now_is = fresh.state.value if fresh is not None else "gone"
        raise runs.InvalidTransition(
            f"{run.id} was decided meanwhile (now {now_is}); nothing changed"
        ) from None
    return decided, entry
