"""A real local fleet for rollout tests: demo services, fast probes, plans, and the CLI.

Each host runs the demo's shop-api service. The plans upgrade through a small shell wrapper
that appends the host's id to ``upgrades.log`` before running the demo's ``servicectl
upgrade``, so a test can count how many times each host was really upgraded. Which release a
host gets is its ``next`` variable: 1.4.3 (good) unless the test names it bad (1.5.0, which
answers every third request with a 500 and logs an ERROR line).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from rollsafe.demo import fleet, layout, releases
from rollsafe.domain import ids, rollouts
from rollsafe.execute.runs import FAULT_ENV
from rollsafe.storage import sql

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))


class RolloutFleet:
    def __init__(
        self,
        root: Path,
        *,
        hosts: int,
        bad: set[str] | frozenset[str] = frozenset(),
        plans: list[dict[str, Any]],
    ) -> None:
        self.fleet = fleet.build(root / "fleet", hosts=hosts)
        self.started: list[subprocess.Popen[str]] = []
        self.root = self.fleet.workdir
        self.log = self.root / "upgrades.log"
        doc = fleet.config_document(self.fleet)
        for target in doc["targets"]:
            bad_one = target["id"] in bad
            target["vars"]["next"] = releases.BAD.version if bad_one else releases.NEXT.version
        for probe in doc["probes"]:
            probe["interval"] = {"health": "250ms", "app-log": "250ms", "port": "500ms"}.get(
                probe["name"], "1s"
            )
        for rule in doc["rules"]:
            if rule["kind"] in ("ratio", "rate"):
                rule["window"] = "2s"
            if rule["kind"] == "ratio":
                rule["min_samples"] = 4
        doc["policy"].update({"verify_timeout": "20s", "step_timeout": "20s"})
        for driver in doc["drivers"]:
            # A driver's own command limit must fit the executor's limit of a step.
            driver["step_timeout"] = "20s"
        wrapper = (
            f"echo {{id}} >> {self.log} && "
            f"exec {sys.executable} -m {layout.CTL_MODULE} upgrade {{root}} {{next}}"
        )
        doc["rollouts"] = [
            {
                "upgrade": {fleet.DRIVER: ["sh", "-c", wrapper]},
                "bake_rules": [fleet.CRITICAL_RULE],
                **plan,
            }
            for plan in plans
        ]
        self.config = self.fleet.config_path
        self.config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        self.good = {h.id: releases.fingerprint(h.root / layout.RELEASE_DIR) for h in self.hosts}
        fleet.start(self.fleet)

    @property
    def hosts(self) -> tuple[fleet.Host, ...]:
        return self.fleet.hosts

    def stop(self) -> None:
        # A controller a failed test left running is killed and reaped here, so that its pipes
        # and process are not garbage-collected (a ResourceWarning) in some later test.
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        fleet.stop(self.fleet)

    # ------------------------------------------------------------------ the hosts

    def upgrades(self) -> Counter[str]:
        """How many times each host's upgrade command really ran."""
        if not self.log.exists():
            return Counter()
        return Counter(self.log.read_text().split())

    def version(self, host_id: str) -> str | None:
        answer = fleet.health(self.fleet.host(host_id))
        return None if answer is None else str(answer.get("version"))

    def release_unchanged(self, host_id: str) -> bool:
        host = self.fleet.host(host_id)
        return releases.fingerprint(host.root / layout.RELEASE_DIR) == self.good[host_id]

    # ------------------------------------------------------------------ rollsafe

    def env(self, fault: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
        env["COLUMNS"] = "200"
        if fault is not None:
            env[FAULT_ENV] = fault
        return env

    def cli(self, *args: str, fault: str | None = None, timeout: float = 120) -> Any:
        return subprocess.run(
            [ROLLSAFE, *args],
            cwd=self.root,
            env=self.env(fault),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [ROLLSAFE, *args],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started.append(proc)
        return proc

    def start(self, plan: str, *extra: str, fault: str | None = None) -> Any:
        return self.cli("rollout", "start", plan, "-c", str(self.config), *extra, fault=fault)

    def status(self) -> dict[str, Any]:
        done = self.cli("rollout", "status", "-c", str(self.config), "--json")
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def store(self) -> sql.SqlStore:
        return sql.open_store(self.fleet.state_dir)

    def rollout(self) -> tuple[rollouts.Rollout, dict[str, rollouts.RolloutTarget]]:
        with self.store() as store:
            found = store.list_rollouts(limit=1)
            assert found, "no rollout in the store"
            rows = store.list_rollout_targets(found[-1].id)
        return found[-1], {row.target: row for row in rows}

    def runs(self, host_id: str | None = None) -> list[Any]:
        with self.store() as store:
            return store.list_runs(
                target=None if host_id is None else ids.TargetId(host_id), limit=1000
            )

    def pinned(self) -> dict[str, str | None]:
        with self.store() as store:
            return {r.id: r.pin_reason for r in store.list_targets() if r.pinned}


def states(summary: dict[str, Any]) -> dict[str, str]:
    return {t["target"]: t["state"] for t in summary["targets"]}
