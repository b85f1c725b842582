"""Every give-up in one read of the log probe is placed with its own unit.

The log probe's text is the newest event's first line; before round 11, when two units hit
their start limit within one read (15 s in the presets' setup), ``units`` placed only the
later: a guarded unit giving up just before another one was never counted. Now the text
lists every unit the read's events named (``[units: ...]``) when the newest line does not
name them all. The lines are the real systemd lines ``test_judge_units`` quotes (owfs/owfs
#116, coreos/bugs #478, brocaar/chirpstack-application-server #337), read through the probe's
own counter with the corpus's ``unit-gave-up`` patterns.
"""

from __future__ import annotations

from judge_helpers import CRITICAL, OK, config, decision, feed
from test_judge_units import GAVE_UP, LORA, MOTD, OWSERVER, PROBES

from rollsafe.config import models
from rollsafe.detect.probes import logs
from rollsafe.domain import ids, observations

# The corpus's unit-gave-up probe (corpus/rollsafe.yaml): each matching line is one event.
PROBE = models.LogProbe.model_validate(
    {
        "kind": "log",
        "name": "g",
        "path": "/var/log/syslog",
        "patterns": [
            "(?i)start request repeated too quickly",
            "Failed with result 'start-limit-hit'",
        ],
    }
)
NOISE = "Nov 14 23:15:51 db-1 CRON[2210]: (root) CMD (command -v debian-sa1 > /dev/null)"


def _read(*lines: str) -> observations.Observation:
    """One look of the probe at ``lines`` (file order), as the observation it reports."""
    counter = logs.counter_for(PROBE)
    counter.feed(lines, time=100.0)
    found = counter.take()
    return observations.Observation(
        time=100.0,
        target=ids.TargetId("web-1"),
        source="g",
        value=float(found.events),
        text=logs.describe(found),
    )


def test_a_guarded_unit_giving_up_before_another_in_the_same_read_is_rolled_back() -> None:
    observed = _read(OWSERVER, NOISE, MOTD)
    assert observed.value == 2
    assert observed.text == f"{MOTD} [units: owserver.service, motdgen.service]"
    got = decision(feed(config(GAVE_UP, probes=PROBES), [observed]), "gave-up", now=100.0)
    assert got.severity is CRITICAL
    assert got.evidence["named_units"] == ["motdgen.service", "owserver.service"]


def test_two_units_outside_the_guarded_ones_stay_unplaced_as_before() -> None:
    observed = _read(MOTD, LORA)
    assert observed.text == f"{LORA} [units: motdgen.service, loraserver.service]"
    got = decision(feed(config(GAVE_UP, probes=PROBES), [observed]), "gave-up", now=100.0)
    assert got.severity is OK
    assert "not a guarded unit" in got.summary


def test_a_read_of_one_units_lines_keeps_its_text_unchanged() -> None:
    assert _read(NOISE, OWSERVER).text == OWSERVER
    # A read whose newest line names every unit already: no list either.
    assert _read(OWSERVER, OWSERVER).text == f"{OWSERVER}"
