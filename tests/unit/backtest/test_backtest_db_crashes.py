"""database-host's db-crashes, replayed: a database's own crash reports, read through the
db_crash log preset, judged by the shipped preset as ``rollsafe backtest`` judges them.

The lines are real (each case cites its public source; tests/unit/detect/
test_detect_log_events.py tests the preset on them line by line); their times are this test's.
A crash loop the database logs itself is rolled back at its second crash; one crash, one crash
recovery after a power cut, and orderly restarts are not.
"""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.config import presets as preset_catalog
from rollsafe.detect.probes import logevents
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine

TARGET = ids.TargetId("db-1")
UP = 3600.0  # the upgrade mark
CRITICAL = verdicts.Severity.CRITICAL
WARNING = verdicts.Severity.WARNING

# https://github.com/sclorg/postgresql-container/issues/396: a backend SIGKILLed, recovery.
PG_KILLED = [
    "LOG:  server process (PID 24643) was terminated by signal 9: Killed",
    "LOG:  terminating any other active server processes",
    "WARNING:  terminating connection because of crash of another server process",
    "LOG:  all server processes terminated; reinitializing",
    "LOG:  database system was interrupted; last known up at 2021-11-26 16:51:16 UTC",
    "LOG:  database system was not properly shut down; automatic recovery in progress",
    "LOG:  redo is not required",
    "LOG:  database system is ready to accept connections",
]
# https://github.com/kubedb/docs/issues/125: PostgreSQL's start after a power cut.
PG_POWER_CUT = [
    "LOG:  database system was interrupted; last known up at 2017-10-30 05:56:04 UTC",
    "FATAL:  the database system is starting up",
    "LOG:  database system was not properly shut down; automatic recovery in progress",
    "LOG:  redo is not required",
]
# https://github.com/CrunchyData/postgres-operator/issues/3798: a fast shutdown and a start.
PG_FAST_RESTART = [
    "LOG:  received fast shutdown request",
    "LOG:  aborting any active transactions",
    "FATAL:  terminating connection due to administrator command",
    "LOG:  shutting down",
    'LOG:  listening on IPv4 address "0.0.0.0", port 5432',
]
# https://github.com/mariadb-corporation/mysql-wsrep/issues/352: MySQL 5.7's crash report.
MYSQL_SIGNAL_11 = [
    "11:40:21 UTC - mysqld got signal 11 ;",
    "This could be because you hit a bug. It is also possible that this binary",
    "/usr/sbin/mysqld(handle_fatal_signal+0x479)[0x55f48c268309]",
]
# https://github.com/redis/redis/issues/1054: Redis stopped by SIGTERM (orderly).
REDIS_SIGTERM = [
    "[1752 | signal handler] (1365998382) Received SIGTERM, scheduling shutdown...",
    "[1752] 15 Apr 12:59:42.800 # User requested shutdown...",
    "[1752] 15 Apr 12:59:42.800 # Redis is now ready to exit, bye bye...",
]


def _config() -> models.RollsafeConfig:
    return preset_catalog.apply(
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": TARGET}],
                "probes": [
                    {"kind": "tcp", "name": "port", "host": "db-1", "port": 5432},
                    {"kind": "log", "name": "crashes", "path": "/l", "presets": ["db_crash"]},
                ],
                "presets": [
                    {
                        "preset": "database-host",
                        "signals": {"health": "port", "db_crashes": "crashes"},
                    }
                ],
            }
        )
    )


def _decisions(reports: list[tuple[float, list[str]]]) -> dict[str, list[tuple[float, str]]]:
    """The preset's db-crash and db-crashes decisions for ``reports`` (each a time and the
    lines logged from then on, 10 ms apart), the log read every 15 s as the probe reads it
    (the lines of a read stamped with its time), the port answering throughout."""
    timed = sorted((t + 0.01 * i, line) for t, lines in reports for i, line in enumerate(lines))
    counter = logevents.Counter([logevents.PRESETS["db_crash"]])
    seen: list[observations.Observation] = []
    for tick in range(0, int(UP + 2 * 3600) + 1, 15):
        counter.feed((line for t, line in timed if tick - 15 < t <= tick), time=float(tick))
        found = counter.take()
        seen.append(observations.Observation(float(tick), TARGET, "crashes", value=found.events))
        seen.append(observations.Observation(float(tick), TARGET, "port", value=1.0))
    marks = [observations.Mark(time=UP, target=TARGET, name="upgrade")]
    out: dict[str, list[tuple[float, str]]] = {"db-crash": [], "db-crashes": []}
    for d in engine.replay(_config(), seen, marks):
        rule = d.rule.removeprefix("database-host.")
        if rule in out:
            out[rule].append((d.time, d.severity.name))
    return out


def _first(decisions: list[tuple[float, str]], severity: str) -> float | None:
    return next((t for t, s in decisions if s == severity), None)


def test_a_postgres_backend_killed_every_six_minutes_rolls_back_at_the_second_kill() -> None:
    kills = [UP + 420 + 360 * n for n in range(6)]
    got = _decisions([(t, PG_KILLED) for t in kills])
    assert _first(got["db-crash"], WARNING.name) is not None
    fired = _first(got["db-crashes"], CRITICAL.name)
    assert fired is not None
    assert kills[1] <= fired <= kills[1] + 15  # the read after the second kill


def test_one_kill_warns_and_does_not_roll_back() -> None:
    got = _decisions([(UP + 2100, PG_KILLED)])
    assert _first(got["db-crash"], WARNING.name) is not None
    assert _first(got["db-crashes"], CRITICAL.name) is None


def test_a_recovery_after_a_power_cut_and_orderly_restarts_do_not_roll_back() -> None:
    # The crash recovery of an unclean reboot just before the mark, then restarts asked for
    # (PostgreSQL's fast shutdown, Redis's SIGTERM) every 10 minutes: no crash among them.
    restarts = [(UP + 600 * n, PG_FAST_RESTART) for n in range(1, 8)]
    restarts += [(UP + 300 + 600 * n, REDIS_SIGTERM) for n in range(1, 8)]
    got = _decisions([(UP - 12, PG_POWER_CUT), *restarts])
    assert _first(got["db-crashes"], CRITICAL.name) is None
    assert _first(got["db-crash"], WARNING.name) is not None  # the recovery itself warns


def test_a_mysqld_crash_loop_ten_minutes_apart_rolls_back_at_its_second_crash() -> None:
    crashes = [UP + 900 + 600 * n for n in range(4)]
    fired = _first(_decisions([(t, MYSQL_SIGNAL_11) for t in crashes])["db-crashes"], "CRITICAL")
    assert fired is not None
    assert crashes[1] <= fired <= crashes[1] + 15
