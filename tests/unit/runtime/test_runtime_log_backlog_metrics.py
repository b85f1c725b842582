"""``/metrics`` says when a remote log falls behind: ``rollsafe_log_backlog_bytes{probe}``.

The scheduler runs a real remote log probe (the follower script run by ``sh`` through
``FakeTransport``) on a real file larger than one look may read; the controller's metrics read
the scheduler's backlog at scrape time, as the daemon wires them.
"""

from __future__ import annotations

from pathlib import Path

from rollsafe.config import models
from rollsafe.detect import scheduling
from rollsafe.detect.probes import remote
from rollsafe.domain import observations
from rollsafe.runtime import metrics
from rollsafe.testing import FakeClock, FakeTransport


def _config(log: Path) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1", "address": "10.0.0.1"}, {"id": "web-2"}],
            "probes": [
                {
                    "kind": "log",
                    "name": "app-errors",
                    "path": str(log),
                    "patterns": ["ERROR"],
                    "from_start": True,
                    "transport": {"kind": "ssh", "known_hosts": str(log.parent / "known_hosts")},
                },
                {"kind": "command", "name": "ok", "command": ["true"]},
            ],
        }
    )


def _sample(text: str, name: str, probe: str) -> float | None:
    wanted = f'{name}{{probe="{probe}"}} '
    for line in text.splitlines():
        if line.startswith(wanted):
            return float(line[len(wanted) :])
    return None


async def test_the_backlog_of_a_remote_log_shows_in_metrics_until_it_catches_up(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"ERROR request {i:04d} failed\n" for i in range(40)))  # 1,040 bytes
    clock = FakeClock(start=0.0)

    def factory(config: models.Probe, clock: object) -> object:
        if isinstance(config, models.LogProbe):
            return remote.RemoteLogProbe(
                config, FakeClock(start=0.0), FakeTransport(), max_bytes=300
            )
        from rollsafe.detect import probes

        return probes.build(config, FakeClock(start=0.0))

    seen: list[observations.Observation] = []
    scheduler = scheduling.Scheduler(
        _config(log),
        clock=clock,
        sink=seen.append,
        probe_factory=factory,  # type: ignore[arg-type]
    )
    controller = metrics.Metrics(probes=["app-errors", "ok"], log_backlog=scheduler.log_backlog)
    try:
        before = controller.render().decode()
        assert _sample(before, "rollsafe_log_backlog_bytes", "app-errors") == 0.0
        await scheduler.observe_once("web-1")
        behind = controller.render().decode()
        assert _sample(behind, "rollsafe_log_backlog_bytes", "app-errors") == 740.0
        assert _sample(behind, "rollsafe_log_files_behind", "app-errors") == 1.0
        await scheduler.observe_once("web-2")  # the same file, followed for another target
        assert (
            _sample(controller.render().decode(), "rollsafe_log_files_behind", "app-errors") == 2.0
        )
        for _ in range(3):
            await scheduler.observe_once()
        caught_up = controller.render().decode()
        assert _sample(caught_up, "rollsafe_log_backlog_bytes", "app-errors") == 0.0
        assert _sample(caught_up, "rollsafe_log_files_behind", "app-errors") == 0.0
        # A probe that follows no remote file has no backlog series at all.
        assert _sample(caught_up, "rollsafe_log_backlog_bytes", "ok") is None
    finally:
        await scheduler.close()
    counted = [o.value for o in seen if o.source == "app-errors" and o.target == "web-1"]
    assert sum(v or 0 for v in counted) == 40
