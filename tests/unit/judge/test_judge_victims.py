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
    "mongos",
    "redis-server",
    "valkey-server",
    "keydb-server",
    "memcached",
    "influxd",
    "influxdb3",
    "etcd",
    "cockroach",
    "tidb-server",
    "tikv-server",
    "pd-server",
    "tiflash",
    "yb-tserver",
    "yb-master",
    "clickhouse-server",
    "clickhouse-keeper",
    "scylla",
    "palo_be",
    "doris_be",
    "starrocks_be",
    "postgresql.service",
    "postgresql@*.service",
    "postgresql-*.service",
    "mysql.service",
    "mysqld.service",
    "mysql@*.service",
    "mysqld@*.service",
    "mariadb.service",
    "mariadb@*.service",
    "mongod.service",
    "mongos.service",
    "redis.service",
    "redis-server.service",
    "redis@*.service",
    "redis-server@*.service",
    "valkey.service",
    "valkey-server.service",
    "valkey@*.service",
    "memcached.service",
    "influxdb.service",
    "etcd.service",
    "cockroachdb.service",
    "clickhouse-server.service",
    "clickhouse-keeper.service",
    "scylla-server.service",
    "elasticsearch.service",
    "opensearch.service",
    "cassandra.service",
    "kafka.service",
    "confluent-server.service",
    "rabbitmq-server.service",
    "couchdb.service",
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
        # The victim's memory cgroup names its unit too (here a login session's scope).
        ("stress-ng", "session-1.scope"),
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


# Kills of data stores' own processes, in the kernel's words.
STORES = [
    (
        # ClickHouse: the kernel keeps 15 characters of "clickhouse-server".
        "https://github.com/ClickHouse/ClickHouse/issues/9945",
        [
            "[2004280.553712] Out of memory: Killed process 28751 (clickhouse-serv) "
            "total-vm:9435880kB, anon-rss:2477208kB, file-rss:0kB, shmem-rss:0kB, UID:107 "
            "pgtables:16508kB oom_score_adj:0",
        ],
        ("clickhouse-serv",),
    ),
    (
        # ClickHouse in a container: its memory cgroup is a container's, not a unit.
        "https://github.com/ClickHouse/ClickHouse/pull/66869",
        [
            "[Mon Jul 22 17:53:59 2024] oom-kill:constraint=CONSTRAINT_MEMORY_POLICY,nodemask=0,"
            "cpuset=1c3dbe7d420309e6666b641b7e26a8855659bc8b687aa31e3943e75c540e8a2c,"
            "mems_allowed=0-1,global_oom,task_memcg=/docker/1c3dbe7d420309e6666b641b7e26a8855659"
            "bc8b687aa31e3943e75c540e8a2c,task=clickhouse-serv,pid=4321,uid=0",
            "[Mon Jul 22 17:53:59 2024] Out of memory: Killed process 4321 (clickhouse-serv) "
            "total-vm:62057180kB, anon-rss:16469552kB, file-rss:2004kB, shmem-rss:0kB, UID:0 "
            "pgtables:78896kB oom_score_adj:0",
        ],
        ("clickhouse-serv",),
    ),
    (
        # InfluxDB 1.7's daemon, "influxd" (older kernels' two lines).
        "https://github.com/influxdata/influxdb/issues/12479",
        [
            "Mar 10 21:04:02 KLMETIDB01 kernel: Out of memory: Kill process 23427 (influxd) "
            "score 924 or sacrifice child",
            "Mar 10 21:04:02 KLMETIDB01 kernel: Killed process 23427 (influxd) "
            "total-vm:370390408kB, anon-rss:75903056kB, file-rss:0kB, shmem-rss:0kB",
        ],
        ("influxd",),
    ),
]

# Kills the database's list must not take for the database's.
OTHERS = [
    (
        # A JVM killed at its container's limit: "java" is any Java program's name.
        "https://github.com/moby/moby/issues/15654",
        [
            "Aug 19 00:32:04 kernel: [ 9610.328722] Memory cgroup out of memory: Kill process "
            "17377 (java) score 495 or sacrifice child",
            "Aug 19 00:32:04 kernel: [ 9610.328772] Killed process 19715 (java) "
            "total-vm:3216536kB, anon-rss:299136kB, file-rss:6652kB",
        ],
        ("java",),
    ),
    (
        # PID 1 names the unit a kernel OOM kill hit (the quote wraps the first line in two).
        "https://github.com/openfoodfacts/openfoodfacts-infrastructure/issues/292",
        [
            "Jan 12 01:00:52 off systemd[1]: apache2.service: A process of this unit has been "
            "killed by the OOM killer.",
            "Jan 12 01:01:03 off systemd[1]: apache2.service: Failed with result 'oom-kill'.",
        ],
        ("apache2.service",),
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


@pytest.mark.parametrize(("source", "lines", "killed"), STORES, ids=[q[0] for q in STORES])
def test_a_data_store_s_own_process_is_guarded(source, lines, killed) -> None:
    text = _text(lines)
    assert victims.named(text) == killed
    assert victims.guards(text, DATABASE) == (True, killed)


@pytest.mark.parametrize(("source", "lines", "killed"), OTHERS, ids=[q[0] for q in OTHERS])
def test_a_shared_runtime_or_another_unit_is_not_the_database(source, lines, killed) -> None:
    text = _text(lines)
    assert victims.named(text) == killed
    assert victims.guards(text, DATABASE) == (False, killed)


def test_names_cut_by_the_kernel_match_the_whole_name_listed() -> None:
    # TASK_COMM_LEN: 15 characters kept; a listed name longer than that matches its cut.
    assert victims.matches("clickhouse-serv", "clickhouse-server")
    assert victims.matches("clickhouse-keep", "clickhouse-keeper")
    assert not victims.matches("clickhouse-serv", "clickhouse-keeper")
    assert not victims.matches("clickhouse", "clickhouse-server")  # not a cut: too short
    assert not victims.matches("clickhouse-serv", "clickhouse-serve?")  # globs: as written


@pytest.mark.parametrize(
    ("victim", "guarded"),
    [
        # A JVM or an Erlang VM is the database only by its unit (named by the kernel's
        # task_memcg on cgroup v2, or by PID 1's OOM lines).
        ("[killed: java, elasticsearch.service]", True),
        ("[killed: java, cassandra.service]", True),
        ("[killed: beam.smp, rabbitmq-server.service]", True),
        ("[killed: java, logstash.service]", False),
        ("[killed: java]", False),
        ("[killed: beam.smp]", False),
        # Units of the common packages, instances included.
        ("[killed: postgres, postgresql@15-main.service]", True),
        ("[killed: postgresql-16.service]", True),
        ("[killed: mysqld.service]", True),
        ("[killed: mongos]", True),
        ("[killed: valkey-server]", True),
        ("[killed: etcd]", True),
        ("[killed: cockroach]", True),
        ("[killed: tikv-server]", True),
        # Exporters and agents named after the database are not the database.
        ("[killed: mysqld_exporter]", False),
        ("[killed: redis_exporter]", False),
        ("[killed: mongodb_exporte]", False),  # mongodb_exporter, cut by the kernel
        ("[killed: postgres_exporter]", False),
        ("[killed: mysqld_exporter.service]", False),
        ("[killed: prometheus-redis-exporter.service]", False),
    ],
)
def test_the_default_list_guards_the_stores_and_not_their_neighbours(
    victim: str, guarded: bool
) -> None:
    assert victims.guards(victim, DATABASE)[0] is guarded
