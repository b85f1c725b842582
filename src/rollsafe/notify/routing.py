"""Routing: which moments of the loop become messages, and at what severity.

The daemon hands every decision that changed and every audit entry the executor writes to an
``Announcer``; it answers with a message, or None for what people need not hear about.

========================  ==========  ================================================
event                     severity    when
========================  ==========  ================================================
``decision.warning``      warning     a rule warns (notify only, nothing is done)
``detector.blind``        warning     a probe keeps failing: rollsafe cannot see
``run.announced``         critical    a rollback was opened; when it waits for a
                                      person: the mode, the deadline and the signed
                                      approve/reject links
``run.started``           critical    the driver's steps begin (who approved, if anyone)
``run.succeeded``         critical    verified healthy again
``run.failed``            critical    failed; the target is quarantined (escalation)
``run.rejected``          critical    a person said no
``run.blocked``           critical    a governor refused (quarantine, rate limit)
``run.dry_run``           warning     policy dry_run: decided, nothing done
``governor.tripped``      critical    a safety governor quarantined a target
``breaker.tripped``       critical    too much of the fleet turned critical at once:
                                      automatic rollbacks wait for a person
``breaker.reset``         warning     an operator closed the circuit breaker
========================  ==========  ================================================

Critical decisions are not announced on their own: the run they open is (``run.announced``),
so a chat channel hears about a failed upgrade once, with what to do about it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from rollsafe.domain import audit_events, clocks, runs, verdicts
from rollsafe.notify import links, messages

__all__ = ["BLIND_PREFIX", "Announcer", "dashboard_url"]

BLIND_PREFIX = "blind:"
"""Rule ids of the judge's blindness decisions start with this (``rollsafe.judge.blindness``)."""

_CRITICAL = verdicts.Severity.CRITICAL
_WARNING = verdicts.Severity.WARNING


def dashboard_url(public_url: str, *, run_id: str | None = None, target: str | None = None) -> str:
    """Where the dashboard shows a run (or a target)."""
    base = public_url.rstrip("/") + "/dashboard/"
    if run_id:
        return f"{base}#run={run_id}"
    if target:
        return f"{base}#target={target}"
    return base


class Announcer:
    """Turns decisions and audit entries into messages.

    ``links`` mints the approve/reject links of waiting runs (None: messages carry none);
    ``public_url`` adds dashboard links; ``lookup`` reads a run from the store so messages can
    say why it was opened (None: only what the audit entry says).
    """

    def __init__(
        self,
        *,
        clock: clocks.Clock,
        links: links.LinkMaker | None = None,
        public_url: str | None = None,
        lookup: Callable[[str], runs.RollbackRun | None] | None = None,
        quiet_rules: frozenset[str] = frozenset(),
    ) -> None:
        self._clock = clock
        self._quiet_rules = quiet_rules
        self._links = links
        self._public_url = public_url
        self._lookup = lookup

    # ------------------------------------------------------------------ decisions

    def for_decision(self, decision: verdicts.Decision) -> messages.Message | None:
        """A message for a decision whose severity changed; None for ok and critical ones."""
        if decision.severity is not _WARNING or decision.rule in self._quiet_rules:
            return None
        blind = decision.rule.startswith(BLIND_PREFIX)
        if blind:
            probe = decision.rule.removeprefix(BLIND_PREFIX)
            title = f"{decision.target}: detector blind ({probe})"
        else:
            title = f"{decision.target}: warning ({decision.rule})"
        return messages.Message(
            event="detector.blind" if blind else "decision.warning",
            severity=_WARNING,
            title=title,
            text=decision.summary,
            target=decision.target,
            details={"rule": decision.rule, "evidence": dict(decision.evidence)},
            links=self._dashboard(target=decision.target),
            fields={"rule": decision.rule, "reason": decision.summary},
        )

    # ------------------------------------------------------------------ audit entries

    def for_audit(self, entry: audit_events.AuditEntry) -> messages.Message | None:
        """A message for an audit entry people should hear about; None otherwise."""
        action = entry.action
        details = entry.details
        if action == "run.opened":
            manual = str(details.get("trigger", "")).startswith("manual")
            if details.get("approval", "auto") != "auto" and not manual:
                return None  # announced when it starts waiting, with the links to decide
            return self._run_message(entry, "run.announced", "rollback announced", entry.reason)
        if action == "run.state.awaiting_approval":
            return self._waiting(entry)
        if action == "run.state.executing":
            return self._run_message(entry, "run.started", "rollback started", self._gate(entry))
        if action == "run.approval.timeout":
            return None  # run.state.executing follows at once and says it
        if action == "run.succeeded":
            text = f"verified healthy again: {entry.reason}" if entry.reason else "verified"
            return self._run_message(entry, "run.succeeded", "rollback succeeded", text)
        if action == "run.failed":
            text = f"{entry.reason}\nThe target is quarantined: a person must look."
            return self._run_message(entry, "run.failed", "rollback FAILED", text)
        if action == "run.rejected":
            text = f"rejected by {entry.actor}: {entry.reason}"
            return self._run_message(entry, "run.rejected", "rollback rejected", text)
        if action == "run.blocked":
            return self._run_message(entry, "run.blocked", "rollback blocked", entry.reason)
        if action == "run.dry_run":
            text = f"dry run, nothing done: {details.get('request_reason', entry.reason)}"
            return self._run_message(
                entry, "run.dry_run", "rollback decided (dry run)", text, severity=_WARNING
            )
        if action == "governor.tripped":
            return messages.Message(
                event="governor.tripped",
                severity=_CRITICAL,
                title=f"{entry.target}: safety governor tripped ({details.get('governor')})",
                text=f"{entry.reason}\nThe target is quarantined until a person releases it.",
                target=entry.target,
                run_id=entry.run_id,
                details=dict(details),
                links=self._dashboard(target=entry.target),
                fields={"reason": entry.reason, "actor": entry.actor},
            )
        if action == "breaker.tripped":
            targets = ", ".join(str(t) for t in details.get("targets") or ())
            return messages.Message(
                event="breaker.tripped",
                severity=_CRITICAL,
                title="circuit breaker tripped: automatic rollbacks stopped",
                text=(
                    f"{entry.reason}\nCritical: {targets}\nCheck the monitoring, the network "
                    "and shared dependencies; approve or reject each waiting run, then "
                    "`rollsafe breaker reset --reason ...`."
                ),
                details=dict(details),
                links=self._dashboard(),
                fields={"reason": entry.reason, "actor": entry.actor},
            )
        if action == "run.not_requested":
            return messages.Message(
                event="run.not_requested",
                severity=_CRITICAL,
                title=f"{entry.target}: still failing after a verified rollback",
                text=(
                    f"{entry.reason}\nrollsafe does not roll back twice for one upgrade: "
                    "a person must look (`rollsafe rollback` still works)."
                ),
                target=entry.target,
                details=dict(details),
                links=self._dashboard(target=entry.target),
                fields={"reason": entry.reason, "actor": entry.actor},
            )
        if action == "breaker.reset":
            return messages.Message(
                event="breaker.reset",
                severity=_WARNING,
                title=f"circuit breaker reset by {entry.actor}",
                text=f"{entry.reason}\nAutomatic rollbacks act on their own again.",
                details=dict(details),
                links=self._dashboard(),
                fields={"reason": entry.reason, "actor": entry.actor},
            )
        return None

    def _gate(self, entry: audit_events.AuditEntry) -> str:
        """How the run passed its approval gate, in words."""
        approved_by = entry.details.get("approved_by")
        run = self._run(entry.run_id)
        if run is not None and run.approval.decision is not None:
            if run.approval.decision == "timeout":
                return f"nobody decided before the deadline: {run.approval.reason}"
            approved_by = run.approval.decided_by
        if approved_by:
            return f"approved by {approved_by}"
        return "no approval needed"

    def _waiting(self, entry: audit_events.AuditEntry) -> messages.Message:
        mode = str(entry.details.get("approval", ""))
        deadline = entry.details.get("deadline")
        when = _format_time(deadline)
        if entry.details.get("breaker") is not None:
            rule = (
                "The circuit breaker is open (much of the fleet failed at once): this run waits "
                "for a person, without a deadline."
            )
        elif mode == runs.ApprovalMode.UNLESS_REJECTED.value:
            rule = f"It proceeds at {when} unless a person rejects it; approving starts it now."
        else:
            rule = f"It needs a person's approval by {when}; without one it does not act."
        run = self._run(entry.run_id)
        why = run.reason if run is not None else ""
        text = f"{why}\n{rule}" if why else rule
        message = self._run_message(
            entry,
            "run.announced",
            "rollback waits for approval",
            text,
            extra={"mode": mode, "deadline": when},
        )
        actions: dict[str, str] = {}
        if self._links is not None and entry.run_id:
            now = self._clock.now()
            until = float(deadline) if isinstance(deadline, int | float) else None
            for action in (messages.APPROVE, messages.REJECT):
                actions[action] = self._links.url(entry.run_id, action, now=now, until=until)
        return messages.Message(
            event=message.event,
            severity=message.severity,
            title=message.title,
            text=message.text,
            target=message.target,
            run_id=message.run_id,
            details=message.details,
            links={**message.links, **actions},
            fields=message.fields,
            awaiting_approval=True,
        )

    def _run_message(
        self,
        entry: audit_events.AuditEntry,
        event: str,
        what: str,
        text: str,
        *,
        severity: verdicts.Severity = _CRITICAL,
        extra: Mapping[str, str] | None = None,
    ) -> messages.Message:
        run = self._run(entry.run_id)
        rule = _rule_of(run.trigger) if run is not None else ""
        title = f"{entry.target}: {what}" + (f" ({rule})" if rule else "")
        state = run.state.value if run is not None else ""
        fields = {
            "rule": rule,
            "state": state,
            "actor": entry.actor,
            "reason": entry.reason,
            "error": (run.error or "") if run is not None else "",
            **(extra or {}),
        }
        details: dict[str, Any] = {"action": entry.action, **dict(entry.details)}
        if run is not None:
            details.setdefault("trigger", run.trigger)
        return messages.Message(
            event=event,
            severity=severity,
            title=title,
            text=text,
            target=entry.target,
            run_id=entry.run_id,
            details=details,
            links=self._dashboard(run_id=entry.run_id, target=entry.target),
            fields=fields,
        )

    def _run(self, run_id: str | None) -> runs.RollbackRun | None:
        if run_id is None or self._lookup is None:
            return None
        try:
            return self._lookup(run_id)
        except Exception:  # noqa: BLE001 - a message without the run's reason beats none
            return None

    def _dashboard(self, *, run_id: str | None = None, target: str | None = None) -> dict[str, str]:
        if self._public_url is None:
            return {}
        return {messages.DASHBOARD: dashboard_url(self._public_url, run_id=run_id, target=target)}


def _rule_of(trigger: str) -> str:
    return trigger.split(":", 1)[1] if trigger.startswith("decision:") else ""


def _format_time(value: Any) -> str:
    if not isinstance(value, int | float):
        return "the deadline"
    moment = datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
