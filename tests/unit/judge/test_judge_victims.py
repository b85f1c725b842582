"""OOM kills scoped to the processes a rule guards (``judge/victims.py``, rate ``processes``).

On a database host the first OOM kill of the database rolls back (``oom-kills``), while a kill
of another process (a monitoring agent at its cgroup's limit) rolls back only when kills repeat
(``oom-kills-repeated``). The log probe names each kill's victim in its observation's text;
every line below is quoted from the public report cited next to it, and goes through the same
event counter and ``describe`` the log probe and the backtest use.
"""

from __future__ import annotations

import pytest

from rollsafe.config import models
from rollsafe.config.presets import catalog, expanding
from rollsafe.detect.probes import logevents, logs
from rollsafe.domain import ids, observations
from rollsafe.judge import engine, victims

DATABASE = [
    "postgres",
    "postmaster",
    "mysqld",
    "mariadbd",
    "mongod",
    "redis-server",
    "postgresql*",
    "mysql*",
    "mariadb*",
    "mongod*",
    "redis*",
    "clickhouse*",
    "palo_be",
    "doris_be",
    "starrocks_be",
]

# (public source, lines of one read, the victims the observation must name)
QUOTED = [
    (
        # RHEL 6 wording: "Killed process N, UID U, (name)", alone.
        "https://github.com/cPanelSSP/SSP/issues/76",
        [
            "Killed process 11726, UID 498, (mysqld) total-vm:7823732kB, anon-rss:2539268kB, "
            "file-rss:768kB"
        ],
        ("mysqld",),
    ),
    (
        # cgroup v1: "Memory cgroup out of memory: Kill process N (x) score S or sacrifice child".
        "https://github.com/apache/doris/issues/3525",
        [
            "May  8 14:05:27 doris-03 kernel: Memory cgroup out of memory: Kill process 24984 "
            "(palo_be) score 968 or sacrifice child",
            "May  8 14:05:27 doris-03 kernel: Killed process 18177 (palo_be), UID 0, "
            "total-vm:70347780kB, anon-rss:45563572kB, file-rss:0kB, shmem-rss:0kB",
        ],
        ("palo_be",),
    ),
    (
        # 5.x: the oom-kill summary (task_memcg, task=) and "Out of memory: Killed process".
        "https://github.com/ColinIanKing/stress-ng/issues/177",
        [
            "[44178.537749] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
            "mems_allowed=0,global_oom,task_memcg=/user.slice/user-1000.slice/session-1.scope,"
            "task=stress-ng,pid=1811,uid=1000",
            "[44178.537897] Out of memory: Killed process 1811 (stress-ng) total-vm:43240kB, "
            "anon-rss:0kB, file-rss:64kB, shmem-rss:0kB, UID:1000 pgtables:104kB "
            "oom_score_adj:1000",
        ],
        ("stress-ng",),
    ),
    (
        # cgroup v2 memory cgroup OOM: "Memory cgroup out of memory: Killed process".
        "https://github.com/reportportal/kubernetes/issues/203",
        [
            "[ 7063.247407] Memory cgroup out of memory: Killed process 63214 (uwsgi) "
            "total-vm:3149468kB, anon-rss:164992kB, file-rss:52176kB, shmem-rss:92kB, UID:0 "
            "pgtables:1372kB oom_score_adj:986",
        ],
        ("uwsgi",),
    ),
    (
        # postgres asked for memory (the report's first line) but uwsgi was killed: the
        # first line names the wrong process, the victim is in the kill line.
        "https://github.com/inducer/relate/issues/1383",
        [
            "postgres invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO|"
            "__GFP_COMP), order=0, oom_score_adj=0",
            "Out of memory: Killed process 3581527 (uwsgi) total-vm:517892kB, "
            "anon-rss:263092kB, file-rss:29128kB, shmem-rss:0kB, UID:33 pgtables:740kB "
            "oom_score_adj:0",
        ],
        ("uwsgi",),
    ),
]


def _text(lines: list[str]) -> str | None:
    counter = logevents.Counter([logevents.PRESETS["oom"]])
    counter.feed(lines)
    return logs.describe(counter.take())


@pytest.mark.parametrize(("source", "lines", "killed"), QUOTED, ids=[q[0] for q in QUOTED])
def test_the_observation_names_each_kill_s_victim(source, lines, killed) -> None:
    text = _text(lines)
    assert victims.named(text) == killed
    guarded, _ = victims.guards(text, DATABASE)
    # mysqld and palo_be (Apache Doris's backend) are database servers; the others are not.
    assert guarded is (killed in {("mysqld",), ("palo_be",)})


def test_a_kill_whose_victim_is_not_named_counts() -> None:
    # A report cut between two reads, or a count from a metric: it cannot be placed.
    assert victims.guards("postgres invoked oom-killer: gfp_mask=0xcc0", DATABASE) == (True, ())
    assert victims.guards(None, DATABASE) == (True, ())
    # A log platform's single kernel line is read in the kernel's own wording.
    line = "oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/system.slice/x.service,task=postgres,"
    assert victims.guards(line + "pid=1,uid=26", DATABASE) == (True, ("postgres",))


def _kill(at: float, lines: list[str]) -> observations.Observation:
    return observations.Observation(
        at, ids.TargetId("db-1"), "kernel-log", value=1.0, text=_text(lines)
    )


def test_the_preset_s_default_is_the_list_tested_here() -> None:
    [param] = [
        p for name, p in catalog.get("database-host").params.items() if name == "oom_processes"
    ]
    assert [part.strip() for part in str(param.default).split(",")] == DATABASE


def _decisions(
    kills: list[observations.Observation], *, failed_check_at: float | None = None
) -> dict[str, str]:
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "db-1", "labels": {"role": "db"}}],
            "probes": [
                {
                    "name": "kernel-log",
                    "kind": "log",
                    "path": "/var/log/kern.log",
                    "presets": ["oom"],
                },
                {"name": "db-port", "kind": "tcp", "port": 5432},
            ],
            "presets": [
                {
                    "preset": "database-host",
                    "targets": {"labels": {"role": "db"}},
                    "signals": {"health": "db-port", "oom": "kernel-log"},
                }
            ],
        }
    )
    judge = engine.Engine(expanding.apply(config))
    quiet = [
        observations.Observation(float(t), ids.TargetId("db-1"), "kernel-log", value=0.0)
        for t in range(0, 3600, 30)  # an hour watched: no rate from a short span
    ]
    checks = [
        observations.Observation(
            float(t) + 5.0,
            ids.TargetId("db-1"),
            "db-port",
            value=0.0 if failed_check_at == float(t) + 5.0 else 1.0,
        )
        for t in range(0, 3600, 15)
    ]
    fed = sorted([*quiet, *checks, *kills], key=lambda o: (o.time, o.source))
    for obs in fed:
        judge.observe(obs)
    now = max(o.time for o in fed)
    return {
        str(d.rule).split(".")[-1]: d.severity.label
        for d in judge.evaluate("db-1", now=now)
        if str(d.rule).split(".")[-1] in {"oom-kills", "oom-kills-repeated", "oom-took-db-down"}
    }


def test_database_host_rolls_back_at_the_database_s_first_kill_and_at_repeated_others() -> None:
    mysqld = QUOTED[0][1]
    uwsgi = QUOTED[4][1]  # invoked by postgres, but uwsgi was killed
    ok = {"oom-kills": "ok", "oom-kills-repeated": "ok", "oom-took-db-down": "ok"}
    assert _decisions([_kill(3590.0, mysqld)]) == {**ok, "oom-kills": "critical"}
    # A monitoring agent's or a side job's single kill: the database answers, no rollback.
    assert _decisions([_kill(3590.0, uwsgi)]) == ok
    # ... unless kills repeat, or the database check fails with it.
    assert _decisions([_kill(3000.0, uwsgi), _kill(3590.0, uwsgi)]) == {
        **ok,
        "oom-kills-repeated": "critical",
    }
    assert _decisions([_kill(3590.0, uwsgi)], failed_check_at=3590.0) == {
        **ok,
        "oom-took-db-down": "critical",
    }
