"""A restart of the service's own unit asked for waits; a crash never does
(``policy.planned_restarts``, ``judge/restarts.py``).

Recordings built here replay through the backtest's own path (``backtest.replaying``: syslog
lines go through the log probes' event counters in 15 s buckets, the checks every 10 s) with
the shipped ``web-service`` preset; the upgrade is marked only at the end of its run, after the
restart, so marks cannot hold it. The job lines are systemd's real wordings, quoted from public
reports: older systemd (the Description= alone) from
https://github.com/YunoHost-Apps/gotosocial_ynh/issues/48, newer (``NAME - DESCRIPTION``, the
combined format of v252 on: https://github.com/flatcar/mantle/pull/411) from
https://github.com/mother-of-all-self-hosting/mash-playbook/issues/124, the failed start from
https://github.com/myguard-labs/deb.myguard.nl/issues/36; the crash lines are the corpus's
quoted systemd failures (``corpus/quoted.py``, each cited there).
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollsafe.backtest import recordings, replaying
from rollsafe.config import loading, models
from rollsafe.domain import errors, ids, observations
from rollsafe.judge import engine, restarts
from support import corpus_modules

START = 1_700_000_000.0
END = START + 3600.0
STOP = 1200.0  # offsets from START
MARK = 1500.0

# Newer systemd, as quoted (host name and unit as in the report).
NEW_STOP = (
    "Dec 03 05:10:40 roundcube systemd[1]: Stopping mash-postgres.service - Postgres server "
    "(mash-postgres)..."
)
# Its start, in the same wording (the report's own start line is cut off).
NEW_START = (
    "Dec 03 05:10:55 roundcube systemd[1]: Started mash-postgres.service - Postgres server "
    "(mash-postgres)."
)
NEW_FAILED = [
    "May 27 12:31:05 erfurt64 systemd[1]: nginx.service: Control process exited, "
    "code=exited, status=1/FAILURE",
    "May 27 12:31:05 erfurt64 systemd[1]: nginx.service: Failed with result 'exit-code'.",
    "May 27 12:31:05 erfurt64 systemd[1]: Failed to start nginx.service - A high performance "
    "web server and a reverse proxy server.",
]
NGINX_STOP = (
    "systemd[1]: Stopping nginx.service - A high performance web server and a reverse proxy "
    "server..."
)
# Older systemd: the description alone.
OLD_STOP = "Sep 18 19:37:10 systemd[1]: Stopping PostgreSQL Cluster 11-main..."
OLD_DONE = [
    "Sep 18 19:37:11 systemd[1]: postgresql@11-main.service: Succeeded.",
    "Sep 18 19:37:11 systemd[1]: Stopped PostgreSQL Cluster 11-main.",
    "Sep 18 19:37:11 systemd[1]: Starting PostgreSQL Cluster 11-main...",
]
OLD_START = "Sep 18 19:37:15 systemd[1]: Started PostgreSQL Cluster 11-main."


# Every quoted systemd unit failure the corpus knows: crashes, kills, exits, start limits.
UNIT_CRASHES = [
    tuple(e.lines) for e in corpus_modules.quoted().EVENTS.values() if e.family == "systemd"
]


def _load(data: dict[str, Any]) -> models.RollsafeConfig:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rollsafe.yaml"
        path.write_text(json.dumps(data), encoding="utf-8")
        return loading.load(path).config


@functools.cache
def _config(
    *,
    units: tuple[str, ...] | None = ("mash-postgres", "nginx"),
    descriptions: tuple[str, ...] = (),
    starts: bool = True,
    failures: bool = True,
) -> models.RollsafeConfig:
    syslog = {"kind": "log", "path": "/var/log/syslog", "interval": "15s"}
    data: dict[str, Any] = {
        "targets": [{"id": "web-1"}],
        "probes": [
            {"kind": "http", "name": "health", "url": "http://web-1/health", "interval": "10s"},
            {**syslog, "name": "syslog", "presets": ["systemd_failure"]},
            {**syslog, "name": "unit-stops", "presets": ["unit_stop"]},
            {**syslog, "name": "unit-starts", "presets": ["unit_start"]},
        ],
        "presets": [
            {
                "preset": "web-service",
                "signals": {"health": "health", "unit_failures": "syslog"},
            }
        ],
    }
    if units is not None:
        policy: dict[str, Any] = {"stops": "unit-stops", "units": list(units)}
        if descriptions:
            policy["descriptions"] = list(descriptions)
        if starts:
            policy["starts"] = "unit-starts"
        if failures:
            policy["failures"] = "syslog"
        data["policy"] = {"planned_restarts": policy}
    return _load(data)


def _recording(
    *, down: list[tuple[float, float]], syslog: list[tuple[float, str]]
) -> recordings.Recording:
    """web-1: a health check every 10 s (offset 3 s), failing inside ``down`` (offsets);
    syslog lines at their offsets; one ``upgrade`` mark at ``MARK``."""
    items: list[dict[str, Any]] = [
        {
            "type": "header",
            "format": "rollsafe-recording",
            "version": 1,
            "start": START,
            "end": END,
            "name": "planned-restart-test",
            "labels": {"faults": []},
            "logs": [{"target": "web-1", "source": "syslog"}],
        }
    ]
    for step in range(int((END - START) // 10)):
        t = 3.0 + 10 * step
        failing = any(a <= t <= b for a, b in down)
        items.append({"t": t, "target": "web-1", "source": "health", "value": 0 if failing else 1})
    for t, line in syslog:
        items.append({"type": "log", "t": t, "target": "web-1", "source": "syslog", "line": line})
    items.append({"type": "mark", "t": MARK, "target": "web-1", "name": "upgrade"})
    return recordings.parse([json.dumps(item) for item in items])


def _lines(at: float, lines: list[str] | tuple[str, ...]) -> list[tuple[float, str]]:
    return [(at + 0.1 * i, line) for i, line in enumerate(lines)]


def _criticals(cfg: models.RollsafeConfig, rec: recordings.Recording) -> list[tuple[str, float]]:
    return [
        (d.rule, round(d.time - START, 3))
        for d in replaying.replay(cfg, rec).decisions
        if d.severity.name == "CRITICAL"
    ]


OFF = _config(units=None)


def test_a_restart_asked_for_is_not_an_outage() -> None:
    # Down 60 s while the database replays its journal; "Started" when it answers again.
    rec = _recording(
        down=[(STOP + 1, STOP + 60)],
        syslog=[(STOP, NEW_STOP), (STOP + 61, NEW_START)],
    )
    assert _criticals(OFF, rec) == [("web-service.down", STOP + 33)]
    assert _criticals(_config(), rec) == []
    assert _criticals(_config(starts=False), rec) == []  # held to the grace instead


def test_older_systemd_is_placed_by_the_description_it_logs() -> None:
    rec = _recording(
        down=[(STOP + 1, STOP + 60)],
        syslog=[(STOP, OLD_STOP), *_lines(STOP + 1, OLD_DONE), (STOP + 61, OLD_START)],
    )
    # The line names no unit: a unit glob cannot place it, so it holds nothing...
    assert _criticals(_config(units=("postgresql@*",)), rec) == _criticals(OFF, rec)
    # ... its description listed does.
    listed = _config(units=("postgresql@*",), descriptions=("PostgreSQL Cluster *",))
    assert _criticals(listed, rec) == []


def test_a_restart_that_never_completes_is_rolled_back_after_the_grace() -> None:
    rec = _recording(down=[(STOP + 1, 3600.0)], syslog=[(STOP, NEW_STOP)])
    rule, at = _criticals(_config(), rec)[0]
    assert rule == "web-service.down"
    # The hold ends 120 s after the stop's log observation (at most 15 s after its line);
    # then three failing checks spanning 30 s (the mark at +300 s restarts the count).
    assert STOP + 120 + 30 <= at <= MARK + 30 + 10
    assert _criticals(OFF, rec)[0] == ("web-service.down", STOP + 33)


def test_a_stop_of_a_unit_not_listed_holds_nothing() -> None:
    rec = _recording(
        down=[(STOP + 1, STOP + 60)],
        syslog=[(STOP, NEW_STOP), (STOP + 61, NEW_START)],
    )
    assert _criticals(_config(units=("app",)), rec) == _criticals(OFF, rec)


def test_a_failure_of_the_unit_ends_the_hold_at_once() -> None:
    # The new release cannot start: systemd logs the failure 20 s after the stop.
    rec = _recording(
        down=[(STOP + 1, 3600.0)],
        syslog=[(STOP, NGINX_STOP), *_lines(STOP + 20, NEW_FAILED)],
    )

    def down(cfg: models.RollsafeConfig) -> float:
        return next(at for rule, at in _criticals(cfg, rec) if rule == "web-service.down")

    at = down(_config())
    assert STOP + 30 + 30 <= at <= STOP + 30 + 30 + 10  # judged from the failure's look
    assert down(_config(failures=False)) > at + 60  # without it, only the grace ends it
    assert down(OFF) == STOP + 33


@pytest.mark.parametrize("lines", UNIT_CRASHES, ids=lambda lines: lines[0][:40])
def test_a_crash_and_its_restart_open_no_hold(lines: tuple[str, ...]) -> None:
    # Every unit guarded ("*"): what a crash logs (the death, Restart='s "Stopped" and
    # "Starting", a start limit) never opens a hold; the outage is judged as without it.
    rec = _recording(
        down=[(STOP + 1, STOP + 90)],
        syslog=[*_lines(STOP, lines), (STOP + 91, "systemd[1]: Started app.service - App.")],
    )
    assert _criticals(_config(units=("*",)), rec) == _criticals(OFF, rec)


def test_a_restart_after_the_upgrade_holds_the_same_way() -> None:
    # A config manager restarts the service 20 minutes after the upgrade.
    at = MARK + 1200
    rec = _recording(down=[(at + 1, at + 45)], syslog=[(at, NGINX_STOP), (at + 46, NEW_START)])
    assert _criticals(OFF, rec)[0][0] == "web-service.down"
    assert _criticals(_config(), rec) == []


def test_job_lines_name_their_unit_or_description() -> None:
    assert restarts.subject(NEW_STOP) == (
        ("mash-postgres.service",),
        "Postgres server (mash-postgres)",
    )
    assert restarts.subject(OLD_STOP) == ((), "PostgreSQL Cluster 11-main")
    assert restarts.subject(OLD_START) == ((), "PostgreSQL Cluster 11-main")
    assert restarts.subject("systemd[1]: Stopping kiwix-serve.service...") == (
        ("kiwix-serve.service",),
        None,
    )
    # The log probe's tally after the line does not change it.
    assert restarts.subject(NEW_START + " [events=2 lines=2]")[0] == ("mash-postgres.service",)
    assert restarts.subject(None) == ((), None)
    # A line that is no job (a failure counted by a probe that counts more) names nothing.
    assert restarts.subject("app.service: Main process exited, code=killed, status=9/KILL") == (
        (),
        None,
    )


def test_config_check_names_unknown_probes_and_mixed_log_probes(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "targets": [{"id": "web-1"}],
        "probes": [
            {"kind": "http", "name": "health", "url": "http://web-1/health"},
            {
                "kind": "log",
                "name": "unit-stops",
                "path": "/var/log/syslog",
                "presets": ["unit_stop", "systemd_failure"],
            },
        ],
        "policy": {
            "planned_restarts": {"stops": "unit-stops", "starts": "unit-start", "units": ["a"]}
        },
    }
    path = tmp_path / "rollsafe.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(errors.ConfigError) as raised:
        loading.load(path)
    message = "\n".join(raised.value.problems)
    assert "planned_restarts.starts" in message
    assert "unknown probe 'unit-start'" in message
    assert "must count only its preset (expected `presets: [unit_stop]`" in message


def test_stops_without_units_and_unknown_probes_are_refused() -> None:
    with pytest.raises(ValueError, match="needs `units`"):
        models.PlannedRestarts(stops="unit-stops")
    plan = models.PlannedRestarts(stops="nope", units=["app"])
    with pytest.raises(errors.ConfigError, match="unknown probe 'nope'"):
        restarts.Plan.of(plan, {"unit-stops": 15.0})


def test_fold_order_of_simultaneous_observations_changes_nothing() -> None:
    # A stop and a start counted in the same look: the hold covers that look, whichever of
    # the two observations is folded first.
    cfg = _config()
    target = ids.TargetId("web-1")
    at = START + STOP + 15
    stop = observations.Observation(
        time=at, target=target, source="unit-stops", value=1.0, text=NEW_STOP
    )
    start = observations.Observation(
        time=at, target=target, source="unit-starts", value=1.0, text=NEW_START
    )
    holds = []
    for order in ((stop, start), (start, stop)):
        judge = engine.Engine(cfg)
        for obs in order:
            judge.observe(obs)
        holds.append(judge._holds[target].intervals)  # the state under test
    assert holds[0] == holds[1] == ((at - 15.0, at),)


_OTHER_JOBS = [
    "systemd[1]: Stopping Session 5 of user deploy...",
    "systemd[1]: Stopping kiwix-serve.service...",
    "systemd[1]: Started Session 7 of user deploy.",
    "systemd[1]: Stopping PostgreSQL Cluster 11-main...",  # a description nobody listed
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    outages=st.lists(st.tuples(st.integers(0, 3300), st.integers(5, 300)), min_size=1, max_size=3),
    jobs=st.lists(st.tuples(st.integers(0, 3500), st.sampled_from(_OTHER_JOBS)), max_size=4),
    crash=st.sampled_from(UNIT_CRASHES),
    crash_at=st.integers(0, 3500),
)
def test_without_a_listed_stop_the_policy_changes_no_decision(
    outages: list[tuple[int, int]],
    jobs: list[tuple[int, str]],
    crash: tuple[str, ...],
    crash_at: int,
) -> None:
    # Any outages, stops and starts of units not listed, a quoted unit failure anywhere:
    # the same decisions as without the policy (only a listed unit's stop opens a hold).
    rec = _recording(
        down=[(float(a), float(a + n)) for a, n in outages],
        syslog=sorted([(float(t), line) for t, line in jobs] + _lines(float(crash_at), crash)),
    )
    assert _criticals(_config(units=("mash-postgres", "nginx")), rec) == _criticals(OFF, rec)
