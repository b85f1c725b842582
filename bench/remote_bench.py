"""What reading targets over SSH costs: remote ``log`` and ``host`` probes on N real sshd hosts.

Each host is a network namespace with its own sshd (``tests/support/netns_hosts.py``), so every
observation is a real SSH command: the log probe's stat/tail script and the host probe's one
read of ``/proc``. Measured on the controller side:

- ``observations_per_s`` and ``observations_per_cpu_s``: every host's two probes observed at
  once, ``ROUNDS`` rounds after the first (the connections are made in the first round, which
  is timed on its own as ``first_round_s``); CPU is this process's (``time.process_time``),
  not sshd's, which runs on the same machine here and on the hosts in real life;
- ``added_delay_ms``: the median time of one remote observation minus the same probe reading
  the same file (or this machine's ``/proc``) locally, one at a time, over a warm connection.
  On this machine it includes the remote login shell's start (root's ``.bashrc`` runs
  ``pyenv init``), which a plain host does not pay.

``ROLLSAFE_BENCH_REMOTE_HOSTS`` sets N (default 100), ``ROLLSAFE_BENCH_REMOTE_ROUNDS`` the
timed rounds (default 2: on a busy 2-core machine a round of 100 hosts takes about 50 s).
Needs root, ``ip``, sshd: without them the suite says so and measures nothing.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rollsafe.config import models
from rollsafe.detect.probes import build
from rollsafe.domain import clocks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import netns_hosts, system_tools  # test support, on the path above

HOSTS = int(os.environ.get("ROLLSAFE_BENCH_REMOTE_HOSTS", "100"))
ROUNDS = int(os.environ.get("ROLLSAFE_BENCH_REMOTE_ROUNDS", "2"))
LATENCY_SAMPLES = 30


def _probes(transport: dict[str, object] | None) -> list[Any]:
    extra = {"transport": transport} if transport is not None else {}
    parsed = models.RollsafeConfig.model_validate(
        {
            "probes": [
                {
                    "kind": "log",
                    "name": "app",
                    "path": "{log}",
                    "presets": ["app_error"],
                    "timeout": 60,
                    **extra,
                },
                {"kind": "host", "name": "cpu", "metric": "cpu", "timeout": 60, **extra},
            ]
        }
    )
    return [build(p, clocks.SystemClock()) for p in parsed.probes]


async def _measure(lab: netns_hosts.Lab) -> dict[str, Any]:
    targets = []
    for host in lab.hosts:
        log = host.directory / "app.log"
        log.write_text("INFO start\n")
        targets.append(
            models.Target(id=host.namespace, address=host.address, vars={"log": str(log)})
        )
    remote = _probes(lab.transport(connect_timeout=30))
    local = _probes(None)
    try:
        started = time.monotonic()
        await asyncio.gather(*(p.observe(t) for t in targets for p in remote))
        first_round = time.monotonic() - started
        wall, cpu, blind = 0.0, 0.0, 0
        for _ in range(ROUNDS):
            for host in lab.hosts:
                with (host.directory / "app.log").open("a") as f:
                    f.write("ERROR bench line\nINFO fine\n")
            w0, c0 = time.monotonic(), time.process_time()
            seen = await asyncio.gather(*(p.observe(t) for t in targets for p in remote))
            wall += time.monotonic() - w0
            cpu += time.process_time() - c0
            blind += sum(not o.ok for o in seen)
        count = ROUNDS * len(targets) * len(remote)
        delays = {}
        for remote_probe, local_probe in zip(remote, local, strict=True):
            delays[remote_probe.name] = round(
                1000
                * (
                    await _median(remote_probe, targets[0]) - await _median(local_probe, targets[0])
                ),
                2,
            )
        return {
            "hosts": len(targets),
            "probes_per_host": len(remote),
            "first_round_s": round(first_round, 2),
            "observations_per_s": round(count / wall, 1),
            "observations_per_cpu_s": round(count / cpu, 1) if cpu > 0 else None,
            "blind_observations": blind,
            "added_delay_ms": delays,
        }
    finally:
        for probe in remote + local:
            await probe.close()


async def _median(probe: Any, target: models.Target) -> float:
    times = []
    for _ in range(LATENCY_SAMPLES):
        t0 = time.perf_counter()
        await probe.observe(target)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run() -> dict[str, Any]:
    why = system_tools.missing("root", "ip", "sshd", "ssh-keygen")
    if why is not None:
        return {"skipped": why}
    with tempfile.TemporaryDirectory(prefix="rollsafe-remote-bench-") as tmp:
        made = time.monotonic()
        with netns_hosts.hosts(Path(tmp), HOSTS) as lab:
            setup = time.monotonic() - made
            result = asyncio.run(_measure(lab))
        result["setup_s"] = round(setup, 1)
        return result


if __name__ == "__main__":
    print(run())
