"""Routing: which decisions and audit entries become messages, and what they say."""

from __future__ import annotations

import urllib.parse

import pytest

from rollsafe import testing
from rollsafe.domain import audit_events, ids, runs, verdicts
from rollsafe.notify import links, messages, routing

KEY = b"routing-test-key-0123456789"
NOW = 1_700_000_000.0


def _run(**overrides) -> runs.RollbackRun:
    values = {
        "id": ids.RunId("run-1"),
        "target": ids.TargetId("web-1"),
        "state": runs.RunState.AWAITING_APPROVAL,
        "trigger": "decision:http-5xx",
        "actor": "rollsafe",
        "reason": "5xx ratio 0.4 > 0.05",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return runs.RollbackRun(**values)


@pytest.fixture
def announcer():
    stored = {"run-1": _run()}
    return routing.Announcer(
        clock=testing.FakeClock(NOW),
        links=links.LinkMaker(KEY, public_url="https://rs.example.com", ttl=3600),
        public_url="https://rs.example.com",
        lookup=stored.get,
    )


def _entry(action: str, **overrides) -> audit_events.AuditEntry:
    values = {"time": NOW, "actor": "rollsafe", "action": action, "target": "web-1",
              "run_id": "run-1"}  # fmt: skip
    values.update(overrides)
    return audit_events.AuditEntry(**values)


def _decision(rule: str, severity: verdicts.Severity) -> verdicts.Decision:
    return verdicts.Decision(
        time=NOW,
        target=ids.TargetId("web-1"),
        rule=ids.RuleId(rule),
        severity=severity,
        summary=f"{rule} says so",
    )


def test_warnings_and_blindness_notify_critical_decisions_go_through_their_run(announcer):
    warning = announcer.for_decision(_decision("latency", verdicts.Severity.WARNING))
    assert (warning.event, warning.severity) == ("decision.warning", verdicts.Severity.WARNING)
    blind = announcer.for_decision(_decision("blind:http", verdicts.Severity.WARNING))
    assert blind.event == "detector.blind"
    assert blind.title == "web-1: detector blind (http)"
    assert blind.links[messages.DASHBOARD] == "https://rs.example.com/dashboard/#target=web-1"
    assert announcer.for_decision(_decision("http-5xx", verdicts.Severity.CRITICAL)) is None
    assert announcer.for_decision(_decision("http-5xx", verdicts.Severity.OK)) is None


def test_a_waiting_run_is_announced_with_links_that_work_until_the_deadline(announcer):
    entry = _entry(
        "run.state.awaiting_approval",
        details={"approval": "unless_rejected", "deadline": NOW + 600},
    )
    message = announcer.for_audit(entry)
    assert message.event == "run.announced"
    assert message.awaiting_approval
    assert message.title == "web-1: rollback waits for approval (http-5xx)"
    assert message.text.startswith("5xx ratio 0.4 > 0.05\nIt proceeds at 2023-11-14 22:23:20 UTC")
    assert message.fields["deadline"] == "2023-11-14 22:23:20 UTC"
    for action in ("approve", "reject"):
        parts = urllib.parse.urlsplit(message.links[action])
        assert parts.path == f"/links/run-1/{action}"
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        claim = links.verify(KEY, token, run_id="run-1", action=action, now=NOW)
        assert claim.expires == NOW + 600  # the deadline, sooner than the ttl


def test_require_approval_says_it_will_not_act_without_a_yes(announcer):
    entry = _entry(
        "run.state.awaiting_approval",
        details={"approval": "require_approval", "deadline": NOW + 900},
    )
    assert "without one it does not act" in announcer.for_audit(entry).text


@pytest.mark.parametrize(
    ("entry", "event", "words"),
    [
        (
            _entry("run.opened", reason="down", details={"approval": "auto", "trigger": "x"}),
            "run.announced",
            "rollback announced",
        ),
        (
            _entry("run.state.executing", details={"approved_by": "cli:alice"}),
            "run.started",
            "approved by cli:alice",
        ),
        (_entry("run.succeeded", reason="healthy"), "run.succeeded", "verified healthy again"),
        (_entry("run.failed", reason="step restart failed"), "run.failed", "quarantined"),
        (
            _entry("run.rejected", actor="slack:bob", reason="deploy in progress"),
            "run.rejected",
            "rejected by slack:bob",
        ),
        (_entry("run.blocked", reason="target is quarantined"), "run.blocked", "quarantined"),
        (
            _entry("governor.tripped", reason="2 rollbacks in 1d", details={"governor": "rate"}),
            "governor.tripped",
            "until a person releases it",
        ),
    ],
)
def test_run_events(announcer, entry, event, words):
    message = announcer.for_audit(entry)
    assert message.event == event
    assert message.severity is verdicts.Severity.CRITICAL
    assert words in message.title + "\n" + message.text
    assert not message.awaiting_approval


def test_quiet_entries_and_a_run_that_will_be_announced_when_it_waits(announcer):
    opened = _entry("run.opened", details={"approval": "require_approval", "trigger": "decision:x"})
    assert announcer.for_audit(opened) is None
    by_hand = _entry("run.opened", details={"approval": "require_approval", "trigger": "manual"})
    assert announcer.for_audit(by_hand).event == "run.announced"
    for action in ("run.step.started", "run.step.done", "run.state.prechecking", "daemon.started",
                   "run.approval.timeout", "target.quarantined"):  # fmt: skip
        assert announcer.for_audit(_entry(action)) is None


def test_without_key_or_public_url_messages_carry_no_links():
    plain = routing.Announcer(clock=testing.FakeClock(NOW))
    entry = _entry("run.state.awaiting_approval", details={"approval": "unless_rejected"})
    message = plain.for_audit(entry)
    assert message.awaiting_approval
    assert message.links == {}


def test_a_rule_that_only_feeds_a_composite_warns_nobody_but_its_composite_still_does():
    quiet = routing.Announcer(clock=testing.FakeClock(NOW), quiet_rules=frozenset({"leaf"}))
    assert quiet.for_decision(_decision("leaf", verdicts.Severity.WARNING)) is None
    message = quiet.for_decision(_decision("both", verdicts.Severity.WARNING))
    assert message is not None
    assert message.event == "decision.warning"


PRESETS = ("web-service", "database-host", "batch-host")


def test_the_presets_corroborating_leaves_are_quiet_and_the_rest_are_not():
    from pathlib import Path

    from rollsafe.config import loading

    corpus_config = Path(__file__).parents[3] / "corpus" / "rollsafe.yaml"
    config = loading.load(corpus_config).config
    quiet = {r.id for r in config.rules if not r.notify}
    # segfaults-30m and segfaults-up only feed segfaults-repeat (segfault warns of each crash)
    repeats = {f"{p}.{r}" for p in PRESETS for r in ("segfaults-30m", "segfaults-up")}
    # stall-hurt-service's leaves (and web-service's `any` of them) only corroborate a stall
    stalls = {
        f"{p}.{r}"
        for p in ("web-service", "database-host")
        for r in ("stall-now", "requests-slow-now")
    }
    stalls |= {"web-service.checks-slow-now", "web-service.service-hurt-now"}
    # unit-took-service-down's leaves only corroborate a give-up (unit-gave-up-other warns)
    units = {f"{p}.{r}" for p in PRESETS for r in ("unit-gave-up-now", "service-failing-now")}
    # unit-took-jobs-down (batch) and unit-took-requests-down (web): their give-up leaf only
    # corroborates error lines (which warn for themselves: job-errors-up, app-errors-up)
    units |= {"batch-host.unit-gave-up-recently", "web-service.unit-gave-up-recently"}
    # oom-took-service-down's (web) and oom-took-db-down's (database) leaves only corroborate
    # a kill
    oom = {f"{p}.{r}" for p in ("web-service", "database-host") for r in ("oom-kill-now",)}
    oom |= {"web-service.check-failed-now", "database-host.check-failed-now"}
    # segfaults-hour and segfaults-up-hour only feed segfaults-sparse
    sparse = {f"{p}.{r}" for p in PRESETS for r in ("segfaults-hour", "segfaults-up-hour")}
    # oom-kills-2h and oom-up-2h only feed oom-kills-sparse (batch; oom-kill warns of each kill)
    sparse |= {"batch-host.oom-kills-2h", "batch-host.oom-up-2h"}
    # memory-rising only feeds memory-leak (memory still rising while pinned: a page cache
    # that filled is flat); memory-trend warns of growth on its own
    rising = {f"{p}.memory-rising" for p in ("web-service", "batch-host")}
    # request-errors-sustained's (web) leaves only corroborate a sustained failure share
    sustained = {
        f"web-service.{r}"
        for r in (
            "request-errors-above-ceiling",
            "request-errors-above-ceiling-again",
            "request-errors-rose",
            "request-errors-over-ceiling",
        )
    }
    # requests-slower (web) only confirms latency-up's slow tier (latency-up warns itself)
    confirms = {"web-service.requests-slower"}
    # nic-hang-took-service-down's leaves only corroborate a hang (nic-hang warns of each)
    nic = {f"{p}.{r}" for p in PRESETS for r in ("nic-hang-now", "failing-at-nic-hang")}
    assert quiet == oom | repeats | stalls | units | sparse | rising | sustained | confirms | nic
    assert {
        "web-service.oom-kill",
        "web-service.oom-took-service-down",
        "web-service.stall-hurt-service",
        "database-host.stall-hurt-service",
        "database-host.oom-took-db-down",
        # a crash the database logged itself warns; repeated ones roll back
        "database-host.db-crash",
        "database-host.db-crashes",
        "web-service.unit-gave-up-other",
        "web-service.unit-took-service-down",
        "batch-host.job-errors-up",
        "batch-host.unit-took-jobs-down",
        "batch-host.latency-up",
        "web-service.app-errors-up",
        "web-service.unit-took-requests-down",
        "web-service.request-errors-sustained",
        "web-service.latency-up",
        *(f"{p}.{r}" for p in PRESETS for r in ("nic-hang", "nic-hangs")),
        *(f"{p}.nic-hang-took-service-down" for p in PRESETS),
    } <= {r.id for r in config.rules if r.notify}
