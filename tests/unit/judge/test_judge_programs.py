"""One program crashing at a steady pace (``judge/programs.py``, rate ``same_program``).

A rule a user writes beside a preset (docs/presets.md, round 9: measured, not shipped on by
default) rolls back at the third crash of ONE program within 30 minutes when the crashes come
at an even pace (a supervisor restarting a release that crashes again after a while), where
the preset's segfaults-repeat waits for a fourth crash of any. Every line below is quoted from
the public report cited next to it, and goes through the same event counter and ``describe``
the log probe and the backtest use.
"""

from __future__ import annotations

import pydantic
import pytest

from rollsafe.config import models
from rollsafe.config.presets import expanding
from rollsafe.detect.probes import logevents, logs
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine, programs
from support import presets_docs

# (public source, a crash report's line, the program it names)
QUOTED = [
    (
        "https://github.com/rspamd/rspamd/issues/665",
        "Nov 14 23:20:20 web-1 kernel: [1040820.000000] rspamd[26613]: segfault at 8995cf ip "
        "00007f7d59e4555a sp 00007ffe8d6b9080 error 7 in libc-2.19.so[7f7d59dc0000+1a2000]",
        "rspamd",
    ),
    (
        "https://github.com/netdata/netdata/issues/15802",  # a thread's own name, brackets in it
        "IPMI[sensors][7699]: segfault at 4 ip 000055f2ed932514 sp 00007fbcb9e0cde0 error 6 "
        "in freeipmi.plugin[55f2ed902000+63000] likely on CPU 1 (core 1, socket 0)",
        "IPMI[sensors]",
    ),
    (
        "https://github.com/netdata/netdata/issues/15802",
        "traps: IPMI[sel][7811] general protection fault ip:7f90aa200664 sp:7f90aa0697f8 "
        "error:0 in ld-musl-x86_64.so.1[7f90aa1ef000+4c000]",
        "IPMI[sel]",
    ),
    (
        "https://github.com/apple/cups/issues/5687",  # RHEL 6's wording, no "traps:"
        "cupsd[9073] general protection ip:7f3dd1338716 sp:7ffdadea62d8 error:0 in "
        "libc-2.12.so[7f3dd1210000+18b000]",
        "cupsd",
    ),
    (
        "https://github.com/kvspb/nginx-auth-ldap/issues/118",
        "nginx[1963] general protection ip:476661 sp:7fffd9f29a90 error:0 in nginx[400000+97000]",
        "nginx",
    ),
    (
        "https://github.com/SolDoesTech/HyprV3/issues/18",
        "archlinux systemd-coredump[835]: [🡕] Process 797 (swww) of user 1000 dumped core.",
        "swww",
    ),
]


def _text(line: str) -> str | None:
    counter = logevents.Counter([logevents.PRESETS["segfault"]])
    counter.feed([line])
    return logs.describe(counter.take())


@pytest.mark.parametrize(("source", "line", "name"), QUOTED, ids=[q[2] for q in QUOTED])
def test_the_observation_names_the_crashed_program(source: str, line: str, name: str) -> None:
    assert source.startswith("https://")
    assert programs.named(_text(line)) == name


def test_a_count_that_names_no_program_is_a_program_of_its_own() -> None:
    assert programs.named(None) == programs.UNNAMED
    assert programs.named("3 crashes in the last minute") == programs.UNNAMED


def test_steady_means_three_or_more_crashes_evenly_spaced() -> None:
    assert programs.steady([0.0, 500.0, 1000.0], 1.5)
    assert programs.steady([0.0, 420.0, 734.0], 1.5)  # 420 s, then 314 s: 1.34 times
    assert not programs.steady([0.0, 120.0, 1020.0], 1.5)  # 2 minutes, then 15
    assert not programs.steady([0.0, 500.0], 1.5)  # two crashes have no pace yet
    assert not programs.steady([0.0, 0.0, 500.0], 1.5)  # two in one read: a gap of 0


UPGRADE = 3600.0
RSPAMD, IPMI, _, CUPSD, NGINX, _ = (q[1] for q in QUOTED)


def _crash(at: float, line: str) -> observations.Observation:
    return observations.Observation(
        at, ids.TargetId("web-1"), "segfaults", value=1.0, text=_text(line)
    )


# The opt-in of docs/presets.md (round 9), as a user copies it: its own "pace is up" leaf,
# since a rule you write cannot list the preset's segfaults-up in a composite.
STEADY_LOOP = presets_docs.steady_loop()


def _judged(crashes: list[observations.Observation]) -> list[verdicts.Decision]:
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1", "labels": {"role": "web"}}],
            "probes": [
                {
                    "name": "segfaults",
                    "kind": "log",
                    "path": "/var/log/kern.log",
                    "presets": ["segfault"],
                },
                {"name": "health", "kind": "http", "url": "http://h/health"},
            ],
            "rules": STEADY_LOOP,
            "presets": [
                {
                    "preset": "web-service",
                    "targets": {"labels": {"role": "web"}},
                    "signals": {"health": "health", "segfaults": "segfaults"},
                }
            ],
        }
    )
    judge = engine.Engine(expanding.apply(config))
    judge.mark(observations.Mark(UPGRADE, ids.TargetId("web-1"), "upgrade"))
    at = {c.time for c in crashes}
    quiet = [
        observations.Observation(float(t), ids.TargetId("web-1"), "segfaults", value=0.0)
        for t in range(15, 7200, 15)
        if float(t) not in at
    ]
    checks = [
        observations.Observation(float(t) + 5.0, ids.TargetId("web-1"), "health", value=1.0)
        for t in range(0, 7200, 10)
    ]
    now = max(c.time for c in crashes)
    fed = sorted([*quiet, *checks, *crashes], key=lambda o: (o.time, o.source))
    for obs in fed:
        if obs.time <= now:
            judge.observe(obs)
    return judge.evaluate("web-1", now=now)


def _decisions(crashes: list[observations.Observation]) -> dict[str, str]:
    wanted = {"segfault-steady-loop", "segfaults-repeat", "segfault-loop"}
    return {
        str(d.rule).split(".")[-1]: d.severity.label
        for d in _judged(crashes)
        if str(d.rule).split(".")[-1] in wanted
    }


OK = {"segfault-steady-loop": "ok", "segfaults-repeat": "ok", "segfault-loop": "ok"}
STEADY = [UPGRADE + 300.0, UPGRADE + 825.0, UPGRADE + 1335.0]  # every 8.5 to 8.75 minutes


def test_one_program_crashing_at_a_steady_pace_rolls_back_at_its_third_crash() -> None:
    # The user's rule does; the preset's own rules (segfaults-repeat, segfault-loop) do not yet.
    assert _decisions([_crash(t, RSPAMD) for t in STEADY]) == {
        **OK,
        "segfault-steady-loop": "critical",
    }


def test_the_evidence_names_the_program_and_its_pace() -> None:
    [leaf] = [
        d for d in _judged([_crash(t, RSPAMD) for t in STEADY]) if d.rule.endswith("same-program")
    ]
    assert (leaf.evidence["program"], leaf.evidence["steady"], leaf.evidence["sum"]) == (
        "rspamd",
        1.5,
        3.0,
    )
    assert leaf.summary.endswith("; crashes of rspamd at a steady pace")


def test_crashes_of_several_programs_are_not_added_up() -> None:
    crashes = [_crash(t, line) for t, line in zip(STEADY, (RSPAMD, CUPSD, NGINX), strict=True)]
    assert _decisions(crashes) == OK


def test_crashes_of_one_program_at_an_uneven_pace_wait_for_the_count_rules() -> None:
    uneven = [UPGRADE + 300.0, UPGRADE + 420.0, UPGRADE + 1335.0]  # 2 minutes, then 15
    assert _decisions([_crash(t, RSPAMD) for t in uneven]) == OK


def test_a_program_that_crashed_as_often_before_the_upgrade_is_not_blamed_on_it() -> None:
    before = [UPGRADE - 1500.0, UPGRADE - 975.0, UPGRADE - 465.0]
    assert _decisions([_crash(t, RSPAMD) for t in (*before, *STEADY)]) == OK


def test_steady_needs_same_program_and_excludes_processes() -> None:
    base = {"id": "r", "kind": "rate", "probe": "p", "above": 2}
    with pytest.raises(pydantic.ValidationError, match="same_program"):
        models.RateRule.model_validate({**base, "steady": 1.5})
    with pytest.raises(pydantic.ValidationError, match="not both"):
        models.RateRule.model_validate({**base, "same_program": True, "processes": ["postgres"]})
    with pytest.raises(pydantic.ValidationError):
        models.RateRule.model_validate({**base, "same_program": True, "steady": 1.0})
