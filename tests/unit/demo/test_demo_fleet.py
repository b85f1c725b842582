"""Building, starting and stopping the demo fleet, with real processes."""

from __future__ import annotations

import sqlite3

import yaml

from rollsafe.config import loading, models
from rollsafe.demo import fleet, layout, releases


def test_build_lays_out_each_host_with_its_own_port_data_and_release(tmp_path):
    built = fleet.build(tmp_path / "work", hosts=3, rows=7)

    assert [h.id for h in built.hosts] == ["web-1", "web-2", "web-3"]
    assert len({h.port for h in built.hosts}) == 3
    assert len({h.root for h in built.hosts}) == 3
    for host in built.hosts:
        assert layout.read_host(host.root).port == host.port
        assert releases.read(host.root / layout.RELEASE_DIR).version == releases.GOOD.version
        with sqlite3.connect(host.root / layout.DATA_FILE) as db:
            assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 7
        assert (host.root / layout.LOG_FILE).read_text() == ""


def test_generated_config_is_valid_and_renders_per_host(tmp_path):
    built = fleet.build(tmp_path / "work", hosts=2)

    config = models.RollsafeConfig.model_validate(yaml.safe_load(built.config_path.read_text()))

    assert [t.id for t in config.targets] == ["web-1", "web-2"]
    critical = [r for r in config.rules if r.severity == "critical"]
    assert [(r.id, r.kind) for r in critical] == [(fleet.CRITICAL_RULE, "all")]
    driver = config.driver(fleet.DRIVER)
    target = config.target("web-2")
    assert driver.directory is not None
    assert models.render(driver.directory, target) == str(built.host("web-2").root / "release")
    http = next(p for p in config.probes if p.name == fleet.HTTP_PROBE)
    assert isinstance(http, models.HttpProbe)
    assert models.render(http.url, target) == f"http://127.0.0.1:{built.host('web-2').port}/health"


def test_generated_config_passes_the_loader_with_state_inside_the_workdir(tmp_path):
    built = fleet.build(tmp_path / "work", hosts=5)

    loaded = loading.load(built.config_path)

    assert loaded.state_dir == built.state_dir
    assert len(loaded.config.targets) == 5


def test_start_then_stop_leaves_no_process_behind(tmp_path):
    built = fleet.build(tmp_path / "work", hosts=3)
    try:
        fleet.start(built)
        assert fleet.wait_healthy(built.hosts) == []
        assert len(fleet.leftover_processes(built.workdir)) == 3
    finally:
        stopped = fleet.stop(built)
    assert len(stopped) == 3
    assert fleet.leftover_processes(built.workdir) == []
    assert all(fleet.health(h, timeout=0.5) is None for h in built.hosts)
