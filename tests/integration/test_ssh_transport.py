"""The SSH transport against real sshd servers in network namespaces (tests/support/netns_hosts).

Needs root, ``ip`` and openssh-server; fails naming what is missing otherwise.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach.transports import building, ssh
from support import netns_hosts


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[netns_hosts.Lab]:
    netns_hosts.require()
    with netns_hosts.hosts(tmp_path_factory.mktemp("ssh-lab"), 2) as made:
        yield made


def _transport(
    lab: netns_hosts.Lab, *, limit: int = 16384, **overrides: object
) -> ssh.SshTransport:
    config = models.SshTransport.model_validate(lab.transport(**overrides))
    transport = building.build(config, output_limit=limit)
    assert isinstance(transport, ssh.SshTransport)
    return transport


def _target(host: netns_hosts.Host) -> models.Target:
    return models.Target(id=host.namespace, address=host.address)


def _logins(host: netns_hosts.Host) -> int:
    return sum("Accepted publickey" in line for line in host.log)


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline:
                found.append(int(entry.name))
    return found


async def test_runs_commands_and_reports_exit_status_and_output(lab):
    transport = _transport(lab)
    try:
        for host in lab.hosts:
            result = await transport.run(
                _target(host), "echo out; echo err >&2; hostname -I; exit 7", limit_s=10
            )
            assert result.exit_status == 7
            assert not result.ok
            assert result.stdout.split()[:2] == ["out", host.address]
            assert result.stderr.strip() == "err"
        ok = await transport.run(_target(lab.hosts[0]), "true", limit_s=10)
        assert ok.ok
        assert ok.invocation_id == ""
    finally:
        await transport.close()


async def test_sessions_have_the_lab_s_home_not_the_tester_s_shell_rc(lab):
    # bash started by sshd reads ~/.bashrc: with root's HOME, a developer's rc (pyenv init
    # here) ran before every command. The lab gives sessions their own, empty HOME.
    host, transport = lab.hosts[1], _transport(lab)
    try:
        shown = await transport.run(_target(host), 'echo "$HOME ${PYENV_ROOT-unset}"', limit_s=10)
    finally:
        await transport.close()
    assert (shown.stdout.split(), shown.stderr) == ([str(host.directory / "home"), "unset"], "")


async def test_env_is_exported_and_masked_in_output(lab):
    transport = _transport(lab)
    try:
        result = await transport.run(
            _target(lab.hosts[0]),
            'echo "token is $API_TOKEN"; echo "quote: $ODD"',
            limit_s=10,
            env={"API_TOKEN": "s3cr3t-value", "ODD": "it's $(not run)"},
        )
    finally:
        await transport.close()
    assert result.ok
    assert "s3cr3t-value" not in result.stdout
    assert "token is ***" in result.stdout
    assert "quote: ***" in result.stdout  # exported literally, then masked as a value


async def test_long_output_keeps_the_tail_within_the_limit(lab):
    transport = _transport(lab, limit=300)
    try:
        result = await transport.run(
            _target(lab.hosts[0]),
            "head -c 5000 /dev/zero | tr '\\0' x; echo; echo LAST",
            limit_s=10,
        )
    finally:
        await transport.close()
    assert result.truncated
    assert result.stdout.rstrip().endswith("LAST")
    assert "bytes cut" in result.stdout
    assert len(result.stdout.encode()) < 400


async def test_a_timeout_kills_the_remote_command(lab, tmp_path):
    marker = "41.2718"
    done = tmp_path / "finished"
    transport = _transport(lab)
    try:
        with pytest.raises(errors.DriverError, match="timed out after 1s"):
            await transport.run(_target(lab.hosts[0]), f"sleep {marker}; touch {done}", limit_s=1)
        assert _processes_with(f"sleep {marker}") == []
        assert not done.exists()
        # The connection is still good for the next command.
        assert (await transport.run(_target(lab.hosts[0]), "true", limit_s=10)).ok
    finally:
        await transport.close()


async def test_an_unknown_host_key_is_refused_without_running_anything(lab, tmp_path):
    host = lab.hosts[1]
    known = tmp_path / "known_hosts"
    # Host 0's key under host 1's address: a changed key, as in a man-in-the-middle.
    line = lab.known_hosts.read_text().splitlines()[0].split(" ", 1)[1]
    known.write_text(f"{host.address} {line}\n")
    touched = tmp_path / "touched"
    transport = _transport(lab, known_hosts=str(known))
    try:
        with pytest.raises(errors.DriverError) as caught:
            await transport.run(_target(host), f"touch {touched}", limit_s=10)
    finally:
        await transport.close()
    assert "ssh-keyscan" in str(caught.value)
    assert "fingerprint" in str(caught.value)
    assert not isinstance(caught.value, errors.TemporaryError)
    assert not touched.exists()

    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    transport = _transport(lab, known_hosts=str(empty))
    try:
        with pytest.raises(errors.DriverError, match="not in"):
            await transport.run(_target(host), f"touch {touched}", limit_s=10)
    finally:
        await transport.close()
    assert not touched.exists()


async def test_a_missing_known_hosts_file_is_a_permanent_error(lab, tmp_path):
    transport = _transport(lab, known_hosts=str(tmp_path / "nope"))
    with pytest.raises(errors.DriverError, match="does not exist"):
        await transport.run(_target(lab.hosts[0]), "true", limit_s=10)


async def test_a_key_the_host_does_not_authorize_is_refused(lab):
    transport = _transport(lab, identity_file=str(lab.other_key))
    try:
        with pytest.raises(errors.DriverError, match="authorized_keys") as caught:
            await transport.run(_target(lab.hosts[0]), "true", limit_s=10)
    finally:
        await transport.close()
    assert not isinstance(caught.value, errors.TemporaryError)


async def test_a_passphrase_protected_key_uses_passphrase_env(lab):
    config = models.SshTransport.model_validate(
        lab.transport(identity_file=str(lab.locked_key), passphrase_env="RS_TEST_PASSPHRASE")
    )
    good = ssh.SshTransport(config, environ={"RS_TEST_PASSPHRASE": lab.passphrase})
    try:
        assert (await good.run(_target(lab.hosts[0]), "true", limit_s=10)).ok
    finally:
        await good.close()
    bad = ssh.SshTransport(config, environ={"RS_TEST_PASSPHRASE": "wrong"})
    with pytest.raises(errors.DriverError, match="passphrase"):
        await bad.run(_target(lab.hosts[0]), "true", limit_s=10)
    unset = ssh.SshTransport(config, environ={})
    with pytest.raises(errors.DriverError, match="RS_TEST_PASSPHRASE"):
        await unset.run(_target(lab.hosts[0]), "true", limit_s=10)


async def test_a_refused_connection_is_temporary(lab):
    transport = _transport(lab, port=2222)
    with pytest.raises(errors.DriverTemporaryError, match="cannot connect"):
        await transport.run(_target(lab.hosts[0]), "true", limit_s=10)


async def test_max_sessions_is_respected_over_one_connection(lab, tmp_path):
    host = lab.hosts[1]
    logins_before = _logins(host)
    transport = _transport(lab, max_sessions=2)
    d = tmp_path
    enter = (
        f"c=$(cat {d}/count 2>/dev/null || echo 0); c=$((c+1)); echo $c > {d}/count; "
        f"m=$(cat {d}/max 2>/dev/null || echo 0); if [ $c -gt $m ]; then echo $c > {d}/max; fi"
    )
    leave = f"c=$(cat {d}/count); echo $((c-1)) > {d}/count"
    script = f"flock {d}/lock sh -c '{enter}'; sleep 0.3; flock {d}/lock sh -c '{leave}'"
    try:
        results = await asyncio.gather(
            *(transport.run(_target(host), script, limit_s=20) for _ in range(6))
        )
    finally:
        await transport.close()
    assert all(r.ok for r in results), [r.stderr for r in results]
    assert int((d / "max").read_text()) == 2
    assert int((d / "count").read_text()) == 0
    assert _logins(host) == logins_before + 1  # one pooled connection for all six


async def test_a_dropped_connection_is_replaced(lab):
    host = lab.hosts[0]
    transport = _transport(lab)
    try:
        assert (await transport.run(_target(host), "true", limit_s=10)).ok
        before = _logins(host)
        # Kill the connection's sshd processes (not the listener) inside the namespace.
        pids = subprocess.run(
            ["ip", "netns", "pids", host.namespace], capture_output=True, text=True, check=True
        ).stdout.split()
        assert host.sshd is not None
        for pid in pids:
            if int(pid) != host.sshd.pid:
                os.kill(int(pid), signal.SIGKILL)
        result = await transport.run(_target(host), "echo again", limit_s=10)
        assert result.stdout.strip() == "again"
        assert _logins(host) == before + 1
    finally:
        await transport.close()
