"""Real SSH hosts for tests: one network namespace per host, each with its own sshd.

``hosts(root, count)`` creates ``count`` namespaces (``ip netns add rs-<random>-<n>``), links
each to the root namespace by a veth pair on its own ``10.x.y.z/30`` (the host side in the
root namespace), and starts ``/usr/sbin/sshd -D`` inside it with its own configuration, host
key and ``authorized_keys``, listening only on the namespace's address; its sessions get a
``HOME`` of their own (``<host>/home``, empty), so the shell rc of whoever runs the tests does
not run in them. It waits for each
sshd's "Server listening" line (an event, not a sleep), writes a ``known_hosts`` for the
client, and tears everything down (sshd and its sessions, veths, namespaces) even when the
test or the setup failed.

Needs root, ``ip`` and ``/usr/sbin/sshd``; ``require()`` fails the calling test naming what
is missing and how to install it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from support import system_tools

SSHD = "/usr/sbin/sshd"
START_TIMEOUT = 15.0


def require() -> None:
    """Fail the calling test when these hosts cannot be made here (root, ip, sshd)."""
    system_tools.require("root", "ip", "ssh-keygen", "sshd")


@dataclass
class Host:
    namespace: str
    address: str
    veth: str
    directory: Path
    sshd: subprocess.Popen[bytes] | None = None
    log: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None
    port: int = 22


@dataclass
class Lab:
    root: Path
    hosts: list[Host]
    client_key: Path  # authorized on every host
    other_key: Path  # a valid key no host authorizes
    locked_key: Path  # authorized, protected by PASSPHRASE
    known_hosts: Path  # every host's key
    passphrase: str = "correct horse battery"

    def transport(self, **overrides: object) -> dict[str, object]:
        """An ``ssh`` transport config (as YAML/dict) that reaches these hosts."""
        return {
            "kind": "ssh",
            "user": "root",
            "known_hosts": str(self.known_hosts),
            "identity_file": str(self.client_key),
            "connect_timeout": 5,
            **overrides,
        }


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


def _keygen(path: Path, *, passphrase: str = "") -> None:
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name, "-f", str(path))


@contextlib.contextmanager
def hosts(root: Path, count: int = 1) -> Iterator[Lab]:
    """``count`` SSH hosts in network namespaces, for the duration of the ``with`` block."""
    root.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(3)
    made: list[Host] = []
    try:
        client_key, other_key, locked_key = root / "id_client", root / "id_other", root / "id_lock"
        _keygen(client_key)
        _keygen(other_key)
        lab_passphrase = "correct horse battery"
        _keygen(locked_key, passphrase=lab_passphrase)
        authorized = (
            client_key.with_suffix(".pub").read_text() + locked_key.with_suffix(".pub").read_text()
        )
        # The privilege separation directory sshd insists on (absent in slim images).
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        second = secrets.randbelow(200) + 20
        third = secrets.randbelow(256)
        for n in range(count):
            # One /30 per host; past 63 hosts the /30s continue in the next /24.
            base = 4 * (n % 64)
            block = (third + n // 64) % 256
            host = Host(
                namespace=f"rs-{token}-{n}",
                address=f"10.{second}.{block}.{base + 2}",
                veth=f"rs{token}{n}h",
                directory=root / f"host{n}",
            )
            made.append(host)
            _make_namespace(host, host_address=f"10.{second}.{block}.{base + 1}")
            _start_sshd(host, authorized=authorized)
        known_hosts = root / "known_hosts"
        known_hosts.write_text(
            "".join(
                f"{h.address} {(h.directory / 'host_key.pub').read_text().split(' ')[0]} "
                f"{(h.directory / 'host_key.pub').read_text().split(' ')[1]}\n"
                for h in made
            )
        )
        yield Lab(
            root=root,
            hosts=made,
            client_key=client_key,
            other_key=other_key,
            locked_key=locked_key,
            known_hosts=known_hosts,
            passphrase=lab_passphrase,
        )
    finally:
        for host in made:
            _remove(host)


def _make_namespace(host: Host, *, host_address: str) -> None:
    peer = host.veth[:-1] + "n"
    _run("ip", "netns", "add", host.namespace)
    _run("ip", "link", "add", host.veth, "type", "veth", "peer", "name", peer)
    _run("ip", "link", "set", peer, "netns", host.namespace)
    _run("ip", "addr", "add", f"{host_address}/30", "dev", host.veth)
    _run("ip", "link", "set", host.veth, "up")
    inside = ("ip", "netns", "exec", host.namespace)
    _run(*inside, "ip", "addr", "add", f"{host.address}/30", "dev", peer)
    _run(*inside, "ip", "link", "set", peer, "up")
    _run(*inside, "ip", "link", "set", "lo", "up")


def _start_sshd(host: Host, *, authorized: str) -> None:
    d = host.directory
    d.mkdir(parents=True)
    _keygen(d / "host_key")
    (d / "authorized_keys").write_text(authorized)
    # sshd runs each command through the user's login shell, and bash started by sshd reads
    # ~/.bashrc even when not interactive: root's here runs `pyenv init` (a fifth of a second
    # per command, and whatever else a developer's rc prints). Sessions get a HOME of their
    # own, empty, so the lab's commands run as on a host with a plain shell. SetEnv overrides
    # the HOME sshd sets from the password entry (sshd still starts the shell in /root).
    home = d / "home"
    home.mkdir()
    (d / "sshd_config").write_text(
        f"Port {host.port}\n"
        f"ListenAddress {host.address}\n"
        f"HostKey {d / 'host_key'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\n"
        "UsePAM no\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "StrictModes no\n"
        "MaxSessions 30\n"
        "MaxStartups 30\n"
        "LogLevel INFO\n"
        f'SetEnv "HOME={home}"\n'
    )
    proc = subprocess.Popen(
        ["ip", "netns", "exec", host.namespace, SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
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
        listening.set()  # sshd ended: stop waiting, the check below reports it

    host.reader = threading.Thread(target=drain, daemon=True)
    host.reader.start()
    if not listening.wait(START_TIMEOUT) or proc.poll() is not None:
        raise RuntimeError(f"sshd in {host.namespace} did not start: {host.log[-5:]}")


def _remove(host: Host) -> None:
    with contextlib.suppress(Exception):
        if host.sshd is not None and host.sshd.poll() is None:
            host.sshd.terminate()
            try:
                host.sshd.wait(5)
            except subprocess.TimeoutExpired:
                host.sshd.kill()
                host.sshd.wait(5)
    # Sessions (and commands a test left running) live in the namespace too.
    pids = subprocess.run(
        ["ip", "netns", "pids", host.namespace], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    if host.reader is not None:
        host.reader.join(5)  # EOF once sshd and its sessions are gone
    if host.sshd is not None and host.sshd.stderr is not None:
        host.sshd.stderr.close()
    subprocess.run(["ip", "link", "del", host.veth], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True, check=False)
