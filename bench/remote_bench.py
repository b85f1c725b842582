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
  It includes the remote login shell's start, without any rc file of the tester's (the
  hosts' sessions have a ``HOME`` of their own).

``ROLLSAFE_BENCH_REMOTE_HOSTS`` sets N (default 100), ``ROLLSAFE_BENCH_REMOTE_ROUNDS`` the
timed rounds (default 2: on a busy 2-core machine a round of 100 hosts takes about 50 s).
Needs root, ``ip``, sshd: without them the SSH part says so and measures nothing.

``cloud_rounds``: the cloud run-command transports (``aws_ssm``, ``aliyun_assistant``,
``tencent_tat``) against the local stand-ins of ``tests/support`` with the real SDKs, one
target with ``CLOUD_PROBES`` remote probes (two host, two log, two command). Per transport,
for one round with each probe sending its own command (``unbatched``, all at once, as
separately scheduled pairs would) and for one scheduler round (``batched``): the commands
sent, every API call (send and polls) and the wall time; both with the transport's default
``poll_interval`` (what a user gets) and with 50 ms polls (``api_round_trip``: the stand-in's
own cost, near zero; a real cloud adds its agent's pick-up and its API latency, see
docs/integrations.md). ``python -m bench.remote_bench cloud`` runs this part alone.
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
from rollsafe.detect import scheduling
from rollsafe.detect.probes import build
from rollsafe.domain import clocks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import (  # test support, on the path above
    aliyun_standin,
    netns_hosts,
    ssm_standin,
    system_tools,
    tencent_standin,
)

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


# ------------------------------------------------------------------ cloud run-command rounds

CLOUD_PROBES = 6
CLOUD_ROUNDS = 3
_TAT_ID, _TAT_KEY = "AKIDrollsafeBenchStandin1", "standin-bench-secret-key"


def _cloud_config(
    transport: dict[str, Any], instance_id: str, directory: Path
) -> models.RollsafeConfig:
    common = {"transport": "fleet", "timeout": 30}
    logs = [
        {"kind": "log", "name": f"log{i}", "path": str(directory / f"{i}.log")}
        | {"presets": ["app_error"], **common}
        for i in (1, 2)
    ]
    for i in (1, 2):
        (directory / f"{i}.log").write_text("INFO start\n")
    return models.RollsafeConfig.model_validate(
        {
            "transports": {"fleet": transport},
            "targets": [{"id": "web-1", "vars": {"instance_id": instance_id}}],
            "probes": [
                {"kind": "host", "name": "memory", "metric": "memory", **common},
                {"kind": "host", "name": "load", "metric": "load", **common},
                *logs,
                {"kind": "command", "name": "up", "command": "true", **common},
                {"kind": "command", "name": "depth", "command": "echo 3", "parse": "(\\d+)"}
                | common,
            ],
        }
    )


async def _cloud_rounds(
    transport: dict[str, Any], instance_id: str, sends: Any, directory: Path
) -> dict[str, Any]:
    config = _cloud_config(transport, instance_id, directory)
    target = config.targets[0]
    probes = [build(p, clocks.SystemClock()) for p in config.probes]
    scheduler = scheduling.Scheduler(config, clock=clocks.SystemClock(), sink=lambda _: None)
    try:
        await scheduler.observe_once("web-1")  # first looks: connections, offsets, samples
        alone_s, together_s, blind = [], [], 0
        alone_calls: list[tuple[int, int]] = []
        together_calls: list[tuple[int, int]] = []
        for _ in range(CLOUD_ROUNDS):
            before, t0 = sends(), time.monotonic()
            seen = await asyncio.gather(*(p.observe(target) for p in probes))
            alone_s.append(time.monotonic() - t0)
            alone_calls.append(_minus(sends(), before))
            before, t0 = sends(), time.monotonic()
            seen += await scheduler.observe_once("web-1")
            together_s.append(time.monotonic() - t0)
            together_calls.append(_minus(sends(), before))
            blind += sum(not o.ok for o in seen)
        return {
            "commands_per_round": {
                "unbatched": max(c for c, _ in alone_calls),
                "batched": max(c for c, _ in together_calls),
            },
            "api_calls_per_round": {
                "unbatched": max(a for _, a in alone_calls),
                "batched": max(a for _, a in together_calls),
            },
            "round_s": {
                "unbatched": round(statistics.median(alone_s), 2),
                "batched": round(statistics.median(together_s), 2),
            },
            "blind_observations": blind,
        }
    finally:
        await scheduler.close()
        for probe in probes:
            await probe.close()


def _minus(after: tuple[int, int], before: tuple[int, int]) -> tuple[int, int]:
    return after[0] - before[0], after[1] - before[1]


def _env(values: dict[str, str]) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    os.environ.update(values)


async def _each_cloud(poll: float | None, directory: Path) -> dict[str, Any]:
    polled = {} if poll is None else {"poll_interval": poll}
    results: dict[str, Any] = {}
    _env(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    with ssm_standin.running() as ssm:
        ssm.not_yet = 0  # answer the first poll: only the poll interval is measured
        transport = {"kind": "aws_ssm", "region": ssm_standin.REGION}
        results["aws_ssm"] = await _cloud_rounds(
            {**transport, "endpoint_url": ssm.endpoint, **polled},
            ssm.launch(),
            lambda: (ssm.count("SendCommand"), len(ssm.calls)),
            directory,
        )
    _env(
        {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": aliyun_standin.ACCESS_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": aliyun_standin.ACCESS_KEY_SECRET,
        }
    )
    ecs = aliyun_standin.EcsStandIn()
    ecs.real_shell = True
    async with ecs.serve() as endpoint:
        transport = {"kind": "aliyun_assistant", "region": aliyun_standin.REGION}
        results["aliyun_assistant"] = await _cloud_rounds(
            {**transport, "endpoint": f"http://{endpoint}", **polled},
            ecs.add_instance("web-1").instance_id,
            lambda: (len(ecs.calls_of("RunCommand")), len(ecs.calls)),
            directory,
        )
    _env({"TENCENTCLOUD_SECRET_ID": _TAT_ID, "TENCENTCLOUD_SECRET_KEY": _TAT_KEY})
    with tencent_standin.TencentStandin(secret_id=_TAT_ID, secret_key=_TAT_KEY) as tat:
        tat.add_instance("ins-bench001")
        transport = {"kind": "tencent_tat", "region": tat.region}
        results["tencent_tat"] = await _cloud_rounds(
            {**transport, "endpoint": f"http://{tat.endpoint('tat')}", **polled},
            "ins-bench001",
            lambda: (tat.count("RunCommand"), len(tat.calls)),
            directory,
        )
    return results


def run_cloud() -> dict[str, Any]:
    """Commands and wall time per round over the three cloud run-command stand-ins."""
    saved = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="rollsafe-cloud-bench-") as tmp:
            return {
                "probes_per_target": CLOUD_PROBES,
                "default_poll": asyncio.run(_each_cloud(None, Path(tmp))),
                "api_round_trip": asyncio.run(_each_cloud(0.05, Path(tmp))),
            }
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run() -> dict[str, Any]:
    cloud = run_cloud()
    why = system_tools.missing("root", "ip", "sshd", "ssh-keygen")
    if why is not None:
        return {"skipped": why, "cloud_rounds": cloud}
    with tempfile.TemporaryDirectory(prefix="rollsafe-remote-bench-") as tmp:
        made = time.monotonic()
        with netns_hosts.hosts(Path(tmp), HOSTS) as lab:
            setup = time.monotonic() - made
            result = asyncio.run(_measure(lab))
        result["setup_s"] = round(setup, 1)
        result["cloud_rounds"] = cloud
        return result


if __name__ == "__main__":
    print(run_cloud() if sys.argv[1:] == ["cloud"] else run())
