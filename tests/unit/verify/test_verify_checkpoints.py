"""take_checkpoint: the driver's point plus the data facts that will verify a rollback."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from rollsafe import testing
from rollsafe.config import models
from rollsafe.domain import ids
from rollsafe.storage import sql
from rollsafe.verify import checkpoints


@pytest.fixture
def store(tmp_path):
    s = sql.open_store(tmp_path / "state")
    yield s
    s.close()


def config(probes) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [
                {"id": "web-1", "driver": "fake", "labels": {"role": "web"}},
                {"id": "web-2", "driver": "fake", "labels": {"role": "web"}},
            ],
            "probes": probes,
        }
    )


async def test_records_every_data_probe_selecting_the_target(store, tmp_path):
    conf = tmp_path / "app.conf"
    conf.write_bytes(b"workers=4\n")
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (x)")
        conn.executemany("insert into t values (?)", [(i,) for i in range(100)])
    cfg = config(
        [
            {"name": "conf", "kind": "data", "file": str(conf)},
            {
                "name": "rows",
                "kind": "data",
                "url": f"sqlite:///{db}",
                "query": "select count(*) from t",
            },
            {
                "name": "other",
                "kind": "data",
                "file": "/nonexistent",
                "targets": {"ids": ["web-2"]},
            },
            {"name": "http", "kind": "http", "url": "http://127.0.0.1:1/"},
        ]
    )
    clock = testing.FakeClock()
    driver = testing.FakeDriver(clock=clock)

    point = await checkpoints.take_checkpoint(
        config=cfg,
        target_id="web-1",
        store=store,
        driver=driver,
        clock=clock,
        label="before 2.0",
        actor="cli:alice",
    )

    assert point.checks == {"conf": hashlib.sha256(b"workers=4\n").hexdigest(), "rows": 100.0}
    assert point.label == "before 2.0"
    assert store.list_restore_points(ids.TargetId("web-1")) == [point]
    [event] = [e for e in store.list_audit_events() if e.entry.action == "restore_point.created"]
    assert event.entry.actor == "cli:alice"
    assert event.entry.details["restore_point"] == point.id


async def test_a_blind_data_probe_fails_the_checkpoint(store, tmp_path):
    cfg = config([{"name": "conf", "kind": "data", "file": str(tmp_path / "missing")}])
    clock = testing.FakeClock()

    with pytest.raises(checkpoints.CheckpointFailed, match="data conf: file not found"):
        await checkpoints.take_checkpoint(
            config=cfg,
            target_id="web-1",
            store=store,
            driver=testing.FakeDriver(clock=clock),
            clock=clock,
            actor="t",
        )

    assert store.list_restore_points(ids.TargetId("web-1")) == []


async def test_a_driver_failure_is_not_hidden(store):
    clock = testing.FakeClock()
    driver = testing.FakeDriver(clock=clock)
    driver.fail("checkpoint")

    with pytest.raises(Exception, match="scripted failure"):
        await checkpoints.take_checkpoint(
            config=config([]),
            target_id="web-1",
            store=store,
            driver=driver,
            clock=clock,
            actor="t",
        )
    assert store.list_restore_points(ids.TargetId("web-1")) == []
