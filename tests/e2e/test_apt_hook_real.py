"""The shipped APT hook, for real: real ``apt-get`` and ``dpkg`` install and upgrade a tiny
``.deb`` built here, with a test-only apt configuration (``-c``) holding the shipped snippets;
the hook checkpoints the target first (``DPkg::Pre-Invoke``), then reports the package changes
to a real controller's API (``DPkg::Post-Invoke``), and the marks are in the store.

Needs root, apt-get and dpkg-deb (Debian, Ubuntu); the package is purged at the end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rollsafe.config import loading
from rollsafe.domain import ids
from rollsafe.interfaces.api import hosting
from rollsafe.runtime import daemon

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hooks" / "apt"
HOOK = EXAMPLES / "rollsafe-apt-hook"
INSTALLED_AS = "/usr/local/lib/rollsafe/rollsafe-apt-hook"
PACKAGE = "rollsafe-hook-test"
TOKEN = "o" * 32
ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires("root", "apt-get", "dpkg-deb"),
]


def build_deb(root: Path, version: str) -> Path:
    tree = root / f"pkg-{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        textwrap.dedent(
            f"""\
            Package: {PACKAGE}
            Version: {version}
            Architecture: all
            Maintainer: rollsafe tests <tests@example.com>
            Description: a package rollsafe's APT hook test installs and purges
            """
        )
    )
    doc = tree / "usr" / "share" / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "VERSION").write_text(version + "\n")
    deb = root / f"{PACKAGE}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", str(tree), str(deb)], check=True, capture_output=True)
    return deb


def apt_config(tmp_path: Path) -> Path:
    """The shipped snippets, pointing at the hook in the source tree instead of /usr/local."""
    text = "".join(
        (EXAMPLES / name).read_text().replace(INSTALLED_AS, str(HOOK))
        for name in ("98rollsafe-checkpoint", "99rollsafe")
    )
    path = tmp_path / "apt-test.conf"
    path.write_text(text)
    return path


@pytest.fixture
def loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> loading.LoadedConfig:
    monkeypatch.setenv("OPERATOR_TOKEN", TOKEN)
    live = tmp_path / "srv" / "web-1"
    live.mkdir(parents=True)
    (live / "app.conf").write_text("version = 1\n")
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            state_dir: state
            server: {{address: 127.0.0.1, port: 0}}
            access:
              tokens:
                - {{name: apt-hook, role: operator, token_env: OPERATOR_TOKEN}}
            targets:
              - id: web-1
                driver: files
                vars: {{root: {tmp_path / "srv"}}}
            drivers:
              - kind: local
                name: files
                directory: "{{root}}/{{id}}"
            """
        )
    )
    return loading.load(config)


async def apt_get(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=600", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


async def test_apt_installs_and_upgrades_are_checkpointed_and_reported(tmp_path, loaded):
    first, second = build_deb(tmp_path, "1.0"), build_deb(tmp_path, "1.1")
    conf = apt_config(tmp_path)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    controller = daemon.Daemon(loaded)
    stop = asyncio.Event()
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        hosting.run_controller(controller, stop, listening=lambda h, p: listening.set_result(p))
    )
    try:
        port = await asyncio.wait_for(listening, 60)
        env = {
            "PATH": os.environ["PATH"],
            "DEBIAN_FRONTEND": "noninteractive",
            "ROLLSAFE_HOOK_ENV": str(tmp_path / "no-such.env"),
            "ROLLSAFE_TARGET": "web-1",
            "ROLLSAFE_URL": f"http://127.0.0.1:{port}",
            "ROLLSAFE_TOKEN_FILE": str(token_file),
            "ROLLSAFE_SPOOL": str(tmp_path / "spool" / "pending.json"),
            "ROLLSAFE_CONFIG": str(loaded.path),
            "ROLLSAFE_BIN": ROLLSAFE,
        }
        for deb in (first, second):
            code, out = await apt_get(["-c", str(conf), "install", str(deb)], env)
            assert code == 0, out
            assert "restore point taken of web-1" in out
            assert "reported 1 package change(s) on web-1" in out

        store = controller.store
        marked = [e.entry for e in store.list_audit_events() if e.entry.action == "upgrade.marked"]
        assert [(e.actor, e.details["via"]) for e in marked] == [("api:apt-hook", "api")] * 2
        assert [e.details["packages"] for e in marked] == [
            [{"name": PACKAGE, "old": None, "new": "1.0", "action": "install"}],
            [{"name": PACKAGE, "old": "1.0", "new": "1.1", "action": "upgrade"}],
        ]
        assert f"{PACKAGE} 1.0 -> 1.1" in marked[1].reason
        marks = store.list_observations(target=ids.TargetId("web-1"), source="mark:upgrade")
        assert len(marks) == 2
        # Each apt run also said when it began (pre-install), before dpkg touched anything:
        # a service restarted by the upgrade is the upgrade's own, not an outage.
        starts = store.list_observations(
            target=ids.TargetId("web-1"), source="mark:upgrade_started"
        )
        assert len(starts) == 2
        assert starts[0].time < marks[0].time < starts[1].time < marks[1].time
        begun = [e for e in store.list_audit_events() if e.entry.action == "upgrade.start_marked"]
        assert [e.entry.actor for e in begun] == ["api:apt-hook"] * 2
        points = store.list_restore_points(ids.TargetId("web-1"))
        assert [p.label for p in points] == ["before apt", "before apt"]
        # Each restore point was taken before the change it guards was reported.
        assert points[0].created_at < marked[0].time < points[1].created_at < marked[1].time
        assert not (tmp_path / "spool" / "pending.json").exists()  # reported, so forgotten
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True, check=False)
