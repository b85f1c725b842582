"""Remote ``log``, ``host`` and ``command`` probes against real sshd in network namespaces.

The "remote" files live in each host's directory (namespaces share the filesystem, not the
network): every read goes through a real SSH session, the probe never opens them itself.
Needs root, ``ip``, sshd and ssh-keygen (``tests/support/netns_hosts.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rollsafe.config import models
from rollsafe.detect.probes import build, remote
from rollsafe.reach.transports import shared
from rollsafe.testing import FakeClock
from support import journals, netns_hosts

pytestmark = pytest.mark.requires("root", "ip", "sshd", "ssh-keygen")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[netns_hosts.Lab]:
    netns_hosts.require()
    with netns_hosts.hosts(tmp_path_factory.mktemp("remote-probes"), 2) as made:
        yield made


def _target(host: netns_hosts.Host) -> models.Target:
    return models.Target(id=host.namespace, address=host.address)


def _probe(lab: netns_hosts.Lab, **config: Any) -> Any:
    parsed = models.RollsafeConfig.model_validate(
        {"transports": {"lab": lab.transport()}, "probes": [{"transport": "lab", **config}]}
    )
    return build(parsed.probes[0], FakeClock(start=100.0))


def _logins(host: netns_hosts.Host) -> int:
    return sum("Accepted publickey" in line for line in host.log)


async def test_host_probe_reads_the_targets_proc(lab):
    host = lab.hosts[0]
    probes = {m: _probe(lab, kind="host", name=m, metric=m) for m in ("cpu", "memory", "load")}
    disk = _probe(lab, kind="host", name="disk", metric="disk_io")
    try:
        memory = await probes["memory"].observe(_target(host))
        assert memory.ok, memory.error
        assert 0.0 < memory.value <= 100.0
        load = await probes["load"].observe(_target(host))
        assert load.ok, load.error
        assert load.value >= 0.0
        first_cpu = await probes["cpu"].observe(_target(host))
        assert first_cpu.error == "warming up: first sample"
        assert (await disk.observe(_target(host))).error == "warming up: first sample"
        sum(i * i for i in range(300_000))  # let the CPU counters tick
        values = []
        for _ in range(20):
            cpu = await probes["cpu"].observe(_target(host))
            if cpu.error == "no CPU time elapsed since the previous sample":
                continue
            assert cpu.ok, cpu.error
            values.append(cpu.value)
            break
        assert values
        assert 0.0 <= values[0] <= 100.0
        rate = await disk.observe(_target(host))
        assert rate.ok, rate.error
        assert rate.value >= 0.0
    finally:
        for probe in [*probes.values(), disk]:
            await probe.close()
    assert shared.active() == 0  # the last lease closed the shared transport


async def test_log_follows_rotation_and_truncation_on_the_remote_side(lab):
    host = lab.hosts[1]
    log = host.directory / "app.log"
    log.write_text("ERROR before watching\n")
    probe = _probe(lab, kind="log", name="app", path=str(log), presets=["app_error"])
    target = _target(host)
    try:
        first = await probe.observe(target)
        assert first.ok
        assert first.value == 0

        with log.open("a") as f:
            f.write("INFO fine\nERROR one\nERROR tw")  # the last line is not finished
        seen = await probe.observe(target)
        assert seen.value == 1
        assert "ERROR one" in seen.text
        with log.open("a") as f:
            f.write("o\n")
        seen = await probe.observe(target)
        assert seen.value == 1
        assert "ERROR two" in seen.text

        # logrotate's default: rename, the writer finishes in the old file, a new file appears.
        rotated = host.directory / "app.log.1"
        log.rename(rotated)
        with rotated.open("a") as f:
            f.write("ERROR late in the old file\n")
        log.write_text("ERROR first of the new file\nINFO ok\n")
        seen = await probe.observe(target)
        assert seen.value == 2, seen.text
        assert "first of the new file" in seen.text

        # copytruncate: same inode, size drops below our offset.
        with log.open("r+") as f:
            f.truncate(0)
        with log.open("a") as f:
            f.write("ERROR after truncation\n")
        seen = await probe.observe(target)
        assert seen.value == 1
        assert "after truncation" in seen.text

        quiet = await probe.observe(target)
        assert quiet.ok
        assert quiet.value == 0

        log.unlink()
        rotated.unlink()
        gone = await probe.observe(target)
        assert gone.error == f"file not found: {log}"
        log.write_text("ERROR in the file that came back\n")
        back = await probe.observe(target)
        assert back.value == 1  # a file that appears later is read from its first line
    finally:
        await probe.close()


async def test_a_backlog_is_read_in_bounded_pieces(lab):
    host = lab.hosts[1]
    log = host.directory / "big.log"
    log.write_text("")
    config = models.RollsafeConfig.model_validate(
        {
            "transports": {"lab": lab.transport()},
            "probes": [
                {
                    "kind": "log",
                    "name": "big",
                    "path": str(log),
                    "patterns": ["^E "],
                    "transport": "lab",
                }
            ],
        }
    ).probes[0]
    assert isinstance(config, models.LogProbe)
    probe = remote.RemoteLogProbe(config, FakeClock(start=1.0), max_bytes=4096)
    try:
        await probe.observe(_target(host))
        line = "E " + "x" * 97 + "\n"  # 100 bytes
        log.write_text(line * 100)  # 10,000 bytes: three looks of at most 4096
        counts = [(await probe.observe(_target(host))).value for _ in range(4)]
        # 4096 bytes a look: 40 lines and a partial one held, then 41, then the 19 left.
        assert counts == [40, 41, 19, 0]
    finally:
        await probe.close()


async def test_command_probe_runs_on_the_target(lab):
    host = lab.hosts[0]
    probe = _probe(lab, kind="command", name="ns", command="cat /proc/self/net/dev", parse=r"(\d+)")
    ok = _probe(lab, kind="command", name="ok", command=["sh", "-c", "exit 3"])
    try:
        seen = await probe.observe(_target(host))
        assert seen.ok, seen.error
        failed = await ok.observe(_target(host))
        assert (failed.status, failed.value) == (3, 0.0)
    finally:
        await probe.close()
        await ok.close()


def _kill_host(host: netns_hosts.Host) -> None:
    """sshd and every session in the namespace: the host is gone."""
    assert host.sshd is not None
    host.sshd.send_signal(signal.SIGKILL)
    host.sshd.wait(10)
    pids = subprocess.run(
        ["ip", "netns", "pids", host.namespace], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in pids:
        os.kill(int(pid), signal.SIGKILL)
    if host.reader is not None:
        host.reader.join(5)  # EOF once sshd and its sessions are gone
    if host.sshd.stderr is not None:
        host.sshd.stderr.close()


def _restart_sshd(host: netns_hosts.Host) -> None:
    d = host.directory
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            host.namespace,
            netns_hosts.SSHD,
            "-D",
            "-e",
            "-f",
            str(d / "sshd_config"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    host.sshd = proc
    listening = threading.Event()

    def drain() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            host.log.append(line)
            if "Server listening" in line:
                listening.set()
        listening.set()

    host.reader = threading.Thread(target=drain, daemon=True)
    host.reader.start()
    assert listening.wait(netns_hosts.START_TIMEOUT), host.log[-5:]
    assert proc.poll() is None, host.log[-5:]


async def test_a_host_that_goes_away_makes_the_probe_blind_then_it_recovers(tmp_path):
    netns_hosts.require()
    with netns_hosts.hosts(tmp_path / "lab", 1) as lab:
        host = lab.hosts[0]
        probe = _probe(lab, kind="host", name="memory", metric="memory")
        try:
            assert (await probe.observe(_target(host))).ok
            _kill_host(host)
            blind = await probe.observe(_target(host))
            assert blind.value is None
            assert blind.error is not None
            assert blind.error.startswith(f"cannot reach {host.namespace}"), blind.error
            _restart_sshd(host)
            again = await probe.observe(_target(host))
            assert again.ok, again.error

            # The link going down: the probe times out into blindness, not a value.
            subprocess.run(["ip", "link", "set", host.veth, "down"], check=True)
            down = await probe.observe(_target(host))
            assert down.value is None
            assert down.error, down
            subprocess.run(["ip", "link", "set", host.veth, "up"], check=True)
            for _ in range(30):
                up = await probe.observe(_target(host))
                if up.ok:
                    break
            assert up.ok, up.error
        finally:
            await probe.close()


HOSTS = int(os.environ.get("ROLLSAFE_TEST_REMOTE_HOSTS", "50"))


async def test_fifty_hosts_at_once_one_connection_each(tmp_path):
    netns_hosts.require()
    started = time.monotonic()
    with netns_hosts.hosts(tmp_path / "lab", HOSTS) as lab:
        made = time.monotonic() - started
        for host in lab.hosts:
            (host.directory / "app.log").write_text("")
        # Generous timeouts: 100 handshakes at once on a loaded 2-core machine take seconds.
        log = _probe(lab, kind="log", name="app", path="{log}", presets=["app_error"], timeout=60)
        mem = _probe(lab, kind="host", name="memory", metric="memory", timeout=60)
        targets = [
            models.Target(
                id=h.namespace, address=h.address, vars={"log": str(h.directory / "app.log")}
            )
            for h in lab.hosts
        ]
        try:
            for round_ in range(2):
                seen = await asyncio.gather(*(p.observe(t) for t in targets for p in (log, mem)))
                assert all(o.ok for o in seen), [o.error for o in seen if not o.ok][:3]
                if round_ == 0:
                    for host in lab.hosts:
                        with (host.directory / "app.log").open("a") as f:
                            f.write("ERROR boom\n")
            assert sum(o.value for o in seen if o.source == "app") == HOSTS
            assert shared.active() == 1
            # One SSH connection per host for both probes and both rounds.
            assert [_logins(h) for h in lab.hosts] == [1] * HOSTS
        finally:
            await log.close()
            await mem.close()
    print(f"{HOSTS} namespaces with sshd made in {made:.1f}s")


@pytest.mark.requires("journalctl", "systemd-journal-remote")
async def test_journal_is_followed_by_cursor_kernel_and_unit(lab):
    host = lab.hosts[0]
    journal = host.directory / "system.journal"
    journals.append(journal, [("kernel", "Out of memory: Killed process 1 (old) total-vm:1kB")])
    kernel = _probe(
        lab,
        kind="log",
        name="kernel",
        journal={"file": str(journal), "kernel": True},
        presets=["oom"],
    )
    app = _probe(
        lab,
        kind="log",
        name="app",
        journal={"file": str(journal), "unit": "app.service"},
        presets=["app_error"],
        max_lines=2,
    )
    target = _target(host)
    try:
        assert (await kernel.observe(target)).value == 0  # the old OOM is history
        assert (await app.observe(target)).value == 0
        journals.append(
            journal,
            [
                ("kernel", "Out of memory: Killed process 4242 (java) total-vm:100kB"),
                ("app", "ERROR one"),
                ("app", "ERROR two"),
                ("app", "ERROR three"),
            ],
        )
        oom = await kernel.observe(target)
        assert oom.value == 1
        assert "4242" in oom.text
        # -u app.service, at most two entries a look: 2, then the third, then nothing.
        looks = [await app.observe(target) for _ in range(3)]
        counts = [o.value for o in looks]
        assert counts == [2, 1, 0]
        assert (await kernel.observe(target)).value == 0
    finally:
        await kernel.close()
        await app.close()


@pytest.mark.requires("journalctl", "systemd-journal-remote")
def test_record_reads_a_remote_journal_over_a_time_range(lab, tmp_path):
    from rollsafe.backtest import capturing

    host = lab.hosts[1]
    journal = host.directory / "record.journal"
    before = time.time()
    journals.append(
        journal,
        [("kernel", "Out of memory: Killed process 7 (db) total-vm:1kB"), ("app", "INFO ok")],
    )
    after = time.time() + 1
    config = models.RollsafeConfig.model_validate(
        {
            "transports": {"lab": lab.transport()},
            "targets": [{"id": "db-1", "address": host.address}],
            "probes": [
                {
                    "kind": "log",
                    "name": "oom",
                    "transport": "lab",
                    "journal": {"file": str(journal)},
                    "presets": ["oom"],
                },
                {
                    "kind": "log",
                    "name": "file",
                    "transport": "lab",
                    "path": "/var/log/x",
                    "presets": ["oom"],
                },
            ],
        }
    )
    got = capturing.record(config, start=before - 1, end=after)
    assert [(line.target, line.source) for line in got.log_lines] == [("db-1", "oom")]
    assert "Killed process 7" in got.log_lines[0].line
    assert ("db-1", "oom") in got.followed_logs
    assert any("a remote file is not recorded" in note for note in got.notes)
    empty = capturing.record(config, start=after + 10, end=after + 20)
    assert empty.log_lines == []


async def test_a_refused_key_is_a_blind_observation_that_says_how_to_fix_it(lab):
    parsed = models.RollsafeConfig.model_validate(
        {
            "probes": [
                {
                    "kind": "log",
                    "name": "app",
                    "path": "/var/log/app.log",
                    "presets": ["app_error"],
                    "transport": lab.transport(identity_file=str(lab.other_key)),
                }
            ]
        }
    )
    probe = build(parsed.probes[0], FakeClock(start=1.0))
    try:
        seen = await probe.observe(_target(lab.hosts[0]))
    finally:
        await probe.close()
    assert seen.value is None
    assert seen.error is not None
    assert "refused key" in seen.error
    assert "authorized_keys" in seen.error
