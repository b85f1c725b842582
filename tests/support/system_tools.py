"""The machine tools that tests of real components need, and what to do when one is missing.

``make test`` runs ``scripts/install-system-deps`` first, which installs every Debian package
listed here. Where that could not run (not root, not Debian), a test that needs a missing tool
*fails* naming the tool and the command that installs it: a silently skipped test of a real
component would look like a passing one. Tests declare their needs with the marker
``@pytest.mark.requires("sshd", "root")`` (checked in ``tests/conftest.py``) or call
:func:`require` from a fixture.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL = "scripts/install-system-deps (as root), or: apt-get install -y {package}"


@dataclass(frozen=True)
class Tool:
    package: str
    present: Callable[[], bool]


def _on_path(name: str) -> Callable[[], bool]:
    return lambda: (
        shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") is not None
    )


def _executable(path: str) -> Callable[[], bool]:
    return lambda: os.access(path, os.X_OK)


def _rsyslog_tls() -> bool:
    return (
        any(Path("/usr/lib").glob("*/rsyslog/lmnsd_ossl.so"))
        or Path("/usr/lib/rsyslog/lmnsd_ossl.so").exists()
    )


TOOLS: dict[str, Tool] = {
    "mkfs.btrfs": Tool("btrfs-progs", _on_path("mkfs.btrfs")),
    "filefrag": Tool("e2fsprogs", _on_path("filefrag")),
    "rsyslogd": Tool("rsyslog", _on_path("rsyslogd")),
    "rsyslog-tls": Tool("rsyslog-openssl", _rsyslog_tls),
    "openssl": Tool("openssl", _on_path("openssl")),
    "prometheus": Tool("prometheus", _executable("/usr/bin/prometheus")),
    "alertmanager": Tool(
        "prometheus-alertmanager", _executable("/usr/bin/prometheus-alertmanager")
    ),
    "chromium": Tool("chromium", _executable("/usr/bin/chromium")),
    "sshd": Tool("openssh-server", _executable("/usr/sbin/sshd")),
    "ssh-keygen": Tool("openssh-client", _on_path("ssh-keygen")),
    "ip": Tool("iproute2", _on_path("ip")),
    "qemu-img": Tool("qemu-utils", _on_path("qemu-img")),
    "qemu-io": Tool("qemu-utils", _on_path("qemu-io")),
    "snapper": Tool("snapper", _on_path("snapper")),
    "dpkg-query": Tool("dpkg", _on_path("dpkg-query")),
    "dpkg-deb": Tool("dpkg", _on_path("dpkg-deb")),
    "apt-get": Tool("apt", _on_path("apt-get")),
    "systemd-analyze": Tool("systemd", _on_path("systemd-analyze")),
    "journalctl": Tool("systemd", _on_path("journalctl")),
    "systemd-journal-remote": Tool(
        "systemd-journal-remote", _executable("/lib/systemd/systemd-journal-remote")
    ),
    "postgres": Tool("postgresql-15", _executable("/usr/lib/postgresql/15/bin/postgres")),
}


def missing(*names: str) -> str | None:
    """Why the named tools cannot be used here (with the fix), or None when all are present."""
    for name in names:
        if name == "root":
            if os.geteuid() != 0:
                return (
                    "needs root (network namespaces, loop devices, mounts): run `make test` as root"
                )
            continue
        tool = TOOLS[name]  # a KeyError here is a typo in a test's marker
        if not tool.present():
            return f"{name} is not installed: run " + INSTALL.format(package=tool.package)
    return None


def require(*names: str) -> None:
    """Fail the calling test, naming the missing tool and how to install it."""
    why = missing(*names)
    if why is not None:
        pytest.fail(why, pytrace=False)
