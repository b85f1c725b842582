"""A threshold's ``units``: an event about a unit the rule does not guard does not breach.

systemd names the unit in each failure message; the log probe passes the event's first line
on as ``text``. The lines below are real systemd lines quoted in public bug reports:
https://github.com/owfs/owfs/issues/116 (owserver), https://github.com/coreos/bugs/issues/478
(motdgen, older systemd's wording), https://github.com/brocaar/chirpstack-application-server/issues/337
(loraserver, start-limit-hit).
"""

from __future__ import annotations

import pydantic
import pytest
from judge_helpers import CRITICAL, OK, config, decision, feed

from rollsafe.domain import ids, observations
from rollsafe.judge import engine, units

OWSERVER = "Nov 14 23:15:50 db-1 systemd[1]: owserver.service: Start request repeated too quickly."
MOTD = "Nov 14 23:19:20 web-1 systemd[1]: start request repeated too quickly for motdgen.service"
LORA = (
    "Jul 12 08:48:45 ubuntu systemd[1]: loraserver.service: Failed with result 'start-limit-hit'."
)
TEMPLATE = "systemd[1]: app@2.service: Start request repeated too quickly."


def test_unit_names_are_read_from_systemds_wordings() -> None:
    assert units.named(OWSERVER) == ("owserver.service",)
    assert units.named(MOTD) == ("motdgen.service",)
    assert units.named(LORA) == ("loraserver.service",)
    assert units.named(TEMPLATE) == ("app@2.service",)
    assert units.named("Unit ssh.socket entered failed state.") == ("ssh.socket",)
    assert units.named("Failed to start Bitcoin daemon.") == ()
    assert units.named(None) == ()


@pytest.mark.parametrize(
    ("text", "patterns", "guarded"),
    [
        (OWSERVER, ["owserver"], True),  # `.service` implied, as systemctl reads it
        (OWSERVER, ["owserver.service"], True),
        (OWSERVER, ["ow*"], True),
        (OWSERVER, ["owserver.socket"], False),
        (MOTD, ["nginx", "php8.2-fpm"], False),
        (MOTD, [], False),
        (TEMPLATE, ["app@.service"], True),  # a template covers its instances
        (TEMPLATE, ["app@*"], True),
        (TEMPLATE, ["app"], False),
        ("gave up", ["nginx"], True),  # names no unit: cannot be placed, counts
        (None, [], True),
    ],
)
def test_a_unit_is_guarded_when_a_pattern_matches_its_full_name(
    text: str | None, patterns: list[str], guarded: bool
) -> None:
    assert units.guards(text, patterns)[0] is guarded


GAVE_UP = {
    "id": "gave-up",
    "kind": "threshold",
    "severity": "critical",
    "probe": "g",
    "op": ">=",
    "value": 1,
    "units": "owserver, postgresql@*",
}
PROBES = [{"kind": "log", "name": "g", "path": "/var/log/syslog", "patterns": ["repeated"]}]


def _line(time: float, text: str | None, value: float = 1.0) -> observations.Observation:
    return observations.Observation(
        time=time, target=ids.TargetId("web-1"), source="g", value=value, text=text
    )


def test_only_a_guarded_units_event_breaches_and_the_decision_says_which_unit() -> None:
    cfg = config(GAVE_UP, probes=PROBES)
    judge = feed(cfg, [_line(100.0, MOTD)])
    got = decision(judge, "gave-up", now=100.0)
    assert got.severity is OK
    assert "about motdgen.service, not a guarded unit (owserver, postgresql@*)" in got.summary
    assert got.evidence["named_units"] == ["motdgen.service"]
    judge.observe(_line(115.0, OWSERVER))
    got = decision(judge, "gave-up", now=115.0)
    assert got.severity is CRITICAL
    assert got.evidence["units"] == ["owserver", "postgresql@*"]
    # Replay (severity first, running state) agrees with the daemon's path.
    replayed = engine.replay(cfg, [_line(100.0, MOTD), _line(115.0, OWSERVER)], [])
    assert [(d.time, d.severity) for d in replayed if d.rule == "gave-up"] == [(115.0, CRITICAL)]


def test_units_accept_a_list_or_text_and_refuse_what_is_no_unit_name() -> None:
    rule = config({**GAVE_UP, "units": ["nginx", "php8.2-fpm.service"]}, probes=PROBES).rules[0]
    assert rule.units == ["nginx", "php8.2-fpm.service"]  # type: ignore[union-attr]
    rule = config({**GAVE_UP, "units": ""}, probes=PROBES).rules[0]
    assert rule.units == []  # type: ignore[union-attr]
    with pytest.raises(pydantic.ValidationError, match="'app/x' is not a systemd unit name"):
        config({**GAVE_UP, "units": ["app/x"]}, probes=PROBES)
