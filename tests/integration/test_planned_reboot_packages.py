"""A reboot the package run announced, as the daemon sees it: real dpkg, real log probes.

Real ``dpkg`` installs a throwaway package into a temporary root (``--root``, ``--admindir``,
its own ``--log``: the machine's packages are untouched) and writes its real log; the log
probe (``detect.probes.logs``) follows that file every 15 s with the ``reboot_expected``
preset, another one a syslog file with the ``boot`` preset; the engine holds ``down`` while
the host itself is gone (its node exporter's ``up`` reads 0) after the kernel install it
counted (``policy.planned_reboots.expected``), with no shutdown logged at all. A run that
installed no kernel announces nothing: the same outage is rolled back as before.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rollsafe.config import models
from rollsafe.detect.probes import logs
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine
from rollsafe.testing import FakeClock
from support import shipped_rules

START = 1_700_000_000.0
TARGET = models.Target(id="web-1")
BOOTED = (
    "Feb 07 10:40:42 web-1 systemd[1]: Startup finished in 6.665s (kernel) + 1min 31.684s "
    "(userspace) = 1min 38.349s.\n"  # openbmc-test-automation #357
)


def _dpkg_install(folder: Path, package: str) -> None:
    """Install an empty package named ``package`` into ``folder``'s own root with real dpkg,
    logging to ``folder/dpkg.log``."""
    build = folder / "build"
    (build / "DEBIAN").mkdir(parents=True)
    (build / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0-1\nArchitecture: all\n"
        "Maintainer: rollsafe tests <tests@example.com>\nDescription: throwaway\n",
        encoding="utf-8",
    )
    admin = folder / "root" / "var" / "lib" / "dpkg"
    for sub in ("updates", "info"):
        (admin / sub).mkdir(parents=True)
    (admin / "status").touch()
    deb = folder / "package.deb"
    subprocess.run(["dpkg-deb", "--build", str(build), str(deb)], check=True, capture_output=True)
    subprocess.run(
        [
            "dpkg",
            "--force-not-root",
            "--force-script-chrootless",
            f"--root={folder / 'root'}",
            f"--admindir={admin}",
            f"--log={folder / 'dpkg.log'}",
            "-i",
            str(deb),
        ],
        check=True,
        capture_output=True,
    )


def _config(folder: Path) -> models.RollsafeConfig:
    def log(name: str, path: Path, preset: str) -> dict[str, Any]:
        return {"kind": "log", "name": name, "path": str(path), "presets": [preset]}

    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1"}],
            "probes": [
                {"kind": "http", "name": "health", "url": "http://web-1/", "interval": "10s"},
                {
                    "kind": "promql",
                    "name": "node-up",
                    "url": "http://prometheus:9090",
                    "query": 'up{instance="$address:9100"}',
                    "interval": "15s",
                },
                log("packages", folder / "dpkg.log", "reboot_expected"),
                log("boots", folder / "syslog", "boot"),
            ],
            "rules": [
                shipped_rules.HEALTH_DOWN,
            ],
            "policy": {
                "planned_reboots": {"expected": "packages", "host": "node-up", "boots": "boots"}
            },
        }
    )


async def _run(folder: Path, *, package: str) -> list[tuple[float, verdicts.Severity]]:
    """dpkg installs ``package`` at +1 s; the host reboots: gone (its exporter's ``up`` 0)
    from +20 s to +100 s, its syslog gains the boot line at +100 s, its service answers from
    +111 s. Log probes and ``up`` every 15 s, health every 10 s, the engine judges every
    second. The severities of ``down`` that changed, with their times."""
    (folder / "dpkg.log").touch()
    (folder / "syslog").touch()
    clock = FakeClock(start=START)
    cfg = _config(folder)
    probes = [logs.LogProbe(p, clock) for p in cfg.probes if isinstance(p, models.LogProbe)]
    judge = engine.Engine(cfg)
    changes: list[tuple[float, verdicts.Severity]] = []
    last = verdicts.Severity.OK
    try:
        for probe in probes:  # the first look: what the files held before is history
            judge.observe(await probe.observe(TARGET))
        for tick in range(1, 301):
            clock.set(START + tick)
            if tick == 1:
                _dpkg_install(folder, package)
            if tick == 100:
                with (folder / "syslog").open("a", encoding="utf-8") as handle:
                    handle.write(BOOTED)
            if tick % 15 == 0:
                for probe in probes:
                    judge.observe(await probe.observe(TARGET))
            if tick % 15 == 7:
                judge.observe(
                    observations.Observation(
                        time=START + tick,
                        target=ids.TargetId("web-1"),
                        source="node-up",
                        value=0.0 if 20 <= tick <= 100 else 1.0,
                    )
                )
            if tick % 10 == 3:
                judge.observe(
                    observations.Observation(
                        time=START + tick,
                        target=ids.TargetId("web-1"),
                        source="health",
                        value=0.0 if 20 <= tick <= 110 else 1.0,
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


@pytest.mark.may_skip  # dpkg is the Debian family's; elsewhere there is no dpkg.log to read
async def test_a_kernel_install_announces_the_reboot_and_a_library_does_not(
    tmp_path: Path,
) -> None:
    if shutil.which("dpkg") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg is not on this machine")
    (tmp_path / "kernel").mkdir()
    (tmp_path / "library").mkdir()
    assert await _run(tmp_path / "kernel", package="linux-image-9.9.9-rollsafe") == []
    log = (tmp_path / "kernel" / "dpkg.log").read_text(encoding="utf-8")
    assert " status installed linux-image-9.9.9-rollsafe:all 1.0-1" in log  # dpkg's own line
    assert await _run(tmp_path / "library", package="libexample-rollsafe") == [
        (53.0, verdicts.Severity.CRITICAL),  # failing checks 23 .. 53: 30 s
        (113.0, verdicts.Severity.OK),
    ]
