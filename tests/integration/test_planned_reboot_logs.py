"""A planned reboot as the daemon sees it: real log probes on a real syslog file, the engine.

The log probe (``detect.probes.logs``) follows a real file every 15 s and stamps what it read
with the time of the read; the engine holds ``down`` from the shutdown it counted until the
boot it counted (``policy.planned_reboots``). The shutdown and boot lines are real, quoted
from public reports (cited in ``tests/unit/detect/test_detect_log_events.py``). The same
outage with no shutdown logged (a crash, a power loss) is rolled back as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollsafe.config import models
from rollsafe.detect.probes import logs
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine
from rollsafe.testing import FakeClock
from support import shipped_rules

START = 1_700_000_000.0
TARGET = models.Target(id="web-1")
SHUTDOWN = (
    "Jul 08 05:30:00 web-1 systemd-logind[1445]: System is rebooting.\n"  # Ubuntu 20.04
    "Sep 02 19:55:29 web-1 systemd[1]: Stopped target Multi-User System.\n"  # Qubes #1581
    "Sep 02 19:55:29 web-1 systemd[1]: Stopping Command Scheduler...\n"
)
BOOTED = (
    "Feb 07 10:40:42 web-1 systemd[1]: Startup finished in 6.665s (kernel) + 1min 31.684s "
    "(userspace) = 1min 38.349s.\n"  # openbmc-test-automation #357
)
NOISE = "Jul 08 05:29:58 web-1 CRON[4411]: (root) CMD (command -v debian-sa1 > /dev/null)\n"


def _config(syslog: Path) -> models.RollsafeConfig:
    def log(name: str, preset: str) -> dict[str, Any]:
        return {
            "kind": "log",
            "name": name,
            "path": str(syslog),
            "presets": [preset],
            "interval": "15s",
        }

    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1"}],
            "probes": [
                {"kind": "http", "name": "health", "url": "http://web-1/", "interval": "10s"},
                log("reboots", "shutdown"),
                log("boots", "boot"),
            ],
            "rules": [
                shipped_rules.HEALTH_DOWN,
            ],
            "policy": {"planned_reboots": {"shutdowns": "reboots", "boots": "boots"}},
        }
    )


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


async def _run(tmp_path: Path, *, logged: bool) -> list[tuple[float, verdicts.Severity]]:
    """A host down from +2 s to +95 s; its syslog gains the shutdown lines at +1 s (when
    ``logged``) and the boot line at +85 s. Probes read the log every 15 s; health every 10 s;
    the engine judges after each observation, as the daemon does. The severities of ``down``
    that changed, with their times (offsets)."""
    syslog = tmp_path / "syslog"
    syslog.write_text(NOISE, encoding="utf-8")
    clock = FakeClock(start=START)
    cfg = _config(syslog)
    probes = [logs.LogProbe(p, clock) for p in cfg.probes if isinstance(p, models.LogProbe)]
    judge = engine.Engine(cfg)
    changes: list[tuple[float, verdicts.Severity]] = []
    last = verdicts.Severity.OK
    try:
        for probe in probes:  # the first look: what the file held before is history
            judge.observe(await probe.observe(TARGET))
        for tick in range(1, 301):  # one second at a time, 5 minutes
            clock.set(START + tick)
            if tick == 1 and logged:
                _append(syslog, SHUTDOWN)
            if tick == 85:
                _append(syslog, BOOTED)
            if tick % 15 == 0:
                for probe in probes:
                    judge.observe(await probe.observe(TARGET))
            if tick % 10 == 3:
                judge.observe(
                    observations.Observation(
                        time=START + tick,
                        target=ids.TargetId("web-1"),
                        source="health",
                        value=0.0 if 2 <= tick <= 95 else 1.0,
                    )
                )
            (down,) = [d for d in judge.evaluate("web-1", now=START + tick) if d.rule == "down"]
            if down.severity is not last:
                changes.append((float(tick), down.severity))
                last = down.severity
    finally:
        for probe in probes:
            await probe.close()
    return changes


async def test_a_logged_reboot_is_waited_through_and_a_silent_one_is_not(tmp_path: Path) -> None:
    (tmp_path / "logged").mkdir()
    (tmp_path / "silent").mkdir()
    assert await _run(tmp_path / "logged", logged=True) == []
    assert await _run(tmp_path / "silent", logged=False) == [
        (33.0, verdicts.Severity.CRITICAL),
        (103.0, verdicts.Severity.OK),
    ]
