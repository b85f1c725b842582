"""A real local-driver target on disk, its config file, and the ``rollsafe`` CLI to drive it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from rollsafe.config import loading
from rollsafe.domain import clocks, ids, runs
from rollsafe.execute.runs import FAULT_ENV
from rollsafe.runtime import assembly
from rollsafe.storage import sql
from rollsafe.verify import checkpoints

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))
TARGET = "web-1"


class Workspace:
    """``<root>/srv/web-1`` (the target), ``<root>/rollsafe.yaml``, ``<root>/state``.

    The restart command appends to ``restarts.log``. When the file ``block`` exists, its first
    run writes its pid to ``started`` and then sleeps (a step the test can kill mid-way); later
    runs (``started`` exists) go straight through.
    """

    def __init__(self, root: Path, *, policy: dict[str, Any] | None = None) -> None:
        self.root = root
        self.live = root / "srv" / TARGET
        self.state = root / "state"
        self.config = root / "rollsafe.yaml"
        self.started = root / "started"
        self.block = root / "block"
        self.restarts = root / "restarts.log"
        self.live.mkdir(parents=True)
        (self.live / "etc").mkdir()
        (self.live / "etc" / "app.conf").write_text("listen = 8080\nworkers = 4\n")
        (self.live / "bin").mkdir()
        (self.live / "bin" / "app").write_bytes(b"#!/bin/sh\necho v1\n")
        (self.live / "bin" / "app").chmod(0o755)
        (self.live / "data.bin").write_bytes(bytes(range(256)) * 16)
        (self.live / "current").symlink_to("bin/app")
        script = (
            f"if [ -e {self.block} ] && [ ! -e {self.started} ]; then "
            f"echo $$ > {self.started}.tmp && mv {self.started}.tmp {self.started}; "
            "exec sleep 60; fi; "
            f"echo restarted >> {self.restarts}"
        )
        settings = {"verify_timeout": "20s", "max_rollbacks_per_target": 50, **(policy or {})}
        policy_yaml = "\n".join(f"  {k}: {v}" for k, v in settings.items())
        self.config.write_text(
            f"""\
version: 1
state_dir: state
policy:
{policy_yaml}
targets:
  - id: {TARGET}
    driver: files
    vars:
      root: {root / "srv"}
probes:
  - name: conf
    kind: data
    file: "{{root}}/{{id}}/etc/app.conf"
drivers:
  - kind: local
    name: files
    directory: "{{root}}/{{id}}"
    upgrade: ["sh", "-c", "echo upgraded > {self.live}/etc/app.conf"]
    restart: ["sh", "-c", "{script}"]
"""
        )

    # ------------------------------------------------------------------ the target

    def snapshot(self) -> dict[str, tuple[int, bytes]]:
        """Every entry of the live directory: mode and content (or symlink target)."""
        out = {}
        for path in sorted(self.live.rglob("*")):
            rel = str(path.relative_to(self.live))
            st = path.lstat()
            if path.is_symlink():
                out[rel] = (st.st_mode, str(path.readlink()).encode())
            elif path.is_file():
                out[rel] = (st.st_mode, path.read_bytes())
            else:
                out[rel] = (st.st_mode, b"")
        return out

    def damage(self) -> None:
        """What a bad upgrade leaves behind."""
        (self.live / "etc" / "app.conf").write_text("listen = 9090\n")
        (self.live / "data.bin").unlink()
        (self.live / "new.txt").write_text("added by the upgrade\n")
        (self.live / "current").unlink()
        (self.live / "current").symlink_to("bin/app-v2")

    def restores(self) -> list[str]:
        log = self.state / "driver-journal" / "restores.log"
        return log.read_text().splitlines() if log.exists() else []

    # ------------------------------------------------------------------ rollsafe

    def checkpoint(self) -> None:
        loaded = loading.load(self.config)
        with sql.open_store(loaded.state_dir) as store:
            drivers = assembly.build_drivers(loaded.config, loaded.state_dir)
            asyncio.run(
                checkpoints.take_checkpoint(
                    config=loaded.config,
                    target_id=TARGET,
                    store=store,
                    driver=drivers["files"],
                    clock=clocks.SystemClock(),
                    actor="test",
                )
            )

    def env(self, fault: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
        env["COLUMNS"] = "200"
        if fault is not None:
            env[FAULT_ENV] = fault
        return env

    def cli(self, *args: str, fault: str | None = None, timeout: float = 60) -> Any:
        return subprocess.run(
            [ROLLSAFE, *args],
            cwd=self.root,
            env=self.env(fault),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )

    def popen(self, *args: str, fault: str | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [ROLLSAFE, *args],
            cwd=self.root,
            env=self.env(fault),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def rollback(self, *extra: str, fault: str | None = None) -> Any:
        return self.cli(
            "rollback",
            TARGET,
            "--reason",
            "crash-test",
            "-c",
            str(self.config),
            *extra,
            fault=fault,
        )

    def runs(self) -> list[runs.RollbackRun]:
        with sql.open_store(self.state) as store:
            return store.list_runs(target=ids.TargetId(TARGET), limit=1000)

    def steps(self, run_id: str) -> list[runs.StepRecord]:
        with sql.open_store(self.state) as store:
            return store.list_steps(ids.RunId(run_id))


def kill_group(pid: int) -> None:
    """SIGKILL a process group, if anything of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
