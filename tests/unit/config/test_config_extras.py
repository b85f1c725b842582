"""A kind whose optional extra is missing is refused at load, naming the extra and pip command.

The core install carries no kubernetes client, psycopg, asyncssh or cloud SDK. The unit tests
ask ``extras.problems`` with an injected "is it installed" answer; the end-to-end test runs
``rollsafe config check`` in a fresh interpreter where an import blocker on ``sys.meta_path``
makes the package really unimportable, as on a machine without the extra.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from rollsafe.config import extras, loading, locating, models

ROOT = Path(__file__).resolve().parents[3]

CONFIG = """\
version: 1
store: {url: "postgresql://rollsafe@db.internal/rollsafe"}
targets:
  - {id: web-1, driver: kube, vars: {deployment: web}}
  - {id: db-1, driver: hosts}
drivers:
  - name: kube
    kind: kubernetes
  - name: hosts
    kind: host
    transport:
      kind: ssh
      user: root
      known_hosts: /etc/rollsafe/known_hosts
    recipe: {kind: directory, path: /srv/app}
  - {name: local, kind: local, rollback: "true"}
"""


def problems(text: str, absent: set[str]) -> list[str]:
    document = locating.parse("rollsafe.yaml", text)
    config = models.RollsafeConfig.model_validate(document.data)
    found = extras.problems(config, document.root, is_installed=lambda m: m not in absent)
    return [p.format("rollsafe.yaml") for p in sorted(found)]


def test_each_missing_extra_is_named_on_the_line_of_its_kind():
    assert problems(CONFIG, {"kubernetes", "asyncssh", "psycopg"}) == [
        "rollsafe.yaml:2: store.url: 'postgresql' needs the extra: "
        "pip install 'rollsafe[postgres]' (not installed: psycopg)",
        "rollsafe.yaml:8: drivers[0].kind: 'kubernetes' needs the extra: "
        "pip install 'rollsafe[kubernetes]' (not installed: kubernetes)",
        "rollsafe.yaml:12: drivers[1].transport.kind: 'ssh' needs the extra: "
        "pip install 'rollsafe[ssh]' (not installed: asyncssh)",
    ]


def test_nothing_is_reported_when_every_extra_is_installed():
    assert problems(CONFIG, set()) == []


def test_the_core_kinds_need_no_extra():
    core = "drivers:\n  - {name: local, kind: local, rollback: 'true'}\n"
    assert problems(core, {"kubernetes", "asyncssh", "psycopg", "boto3", "cryptography"}) == []


@pytest.mark.parametrize(
    ("snippet", "path", "kind", "extra"),
    [
        (
            "probes:\n  - {name: cw, kind: cloudwatch, namespace: AWS/EC2, metric: CPU}\n",
            "probes[0].kind",
            "cloudwatch",
            "aws",
        ),
        ("drivers:\n  - {name: d, kind: aws}\n", "drivers[0].kind", "aws", "aws"),
        (
            "drivers:\n  - {name: d, kind: tencent, region: ap-guangzhou}\n",
            "drivers[0].kind",
            "tencent",
            "tencent",
        ),
        (
            "drivers:\n  - {name: d, kind: aliyun, region_id: cn-hangzhou}\n",
            "drivers[0].kind",
            "aliyun",
            "aliyun",
        ),
    ],
)
def test_cloud_kinds_name_their_extra(snippet, path, kind, extra):
    document = locating.parse("f.yaml", snippet)
    config = models.RollsafeConfig.model_validate(document.data)
    found = extras.problems(config, document.root, is_installed=lambda _m: False)
    assert [(p.path, p.message.split(" (")[0]) for p in found] == [
        (path, f"{kind!r} needs the extra: pip install 'rollsafe[{extra}]'")
    ]


def test_every_named_extra_exists_in_pyproject_and_the_core_stays_light():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    for extra in extras.EXTRAS.values():
        assert extra.name in optional, extra
    assert extras.POSTGRES.name in optional
    core = " ".join(project["dependencies"])
    for heavy in ("kubernetes", "psycopg", "asyncssh", "bcrypt", "boto3", "tencentcloud"):
        assert heavy not in core, heavy
    assert "rollsafe[all]" in optional["test"]
    everything = " ".join(optional["all"])
    for name in ("postgres", "ssh", "kubernetes", "aws", "tencent", "aliyun"):
        assert name in everything, name


BLOCKED_RUN = """
import sys

class Blocker:
    # Makes the named top-level packages unimportable, as when their extra is not installed.
    blocked = {blocked!r}

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
sys.argv = ["rollsafe", "config", "check", {path!r}]
from rollsafe.interfaces.cli.main import main
main()
"""


def run_blocked(path: Path, blocked: set[str]) -> subprocess.CompletedProcess[str]:
    code = BLOCKED_RUN.format(blocked=blocked, path=str(path))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "300"},
    )


def test_config_check_names_the_extra_when_the_package_is_really_missing(tmp_path):
    path = tmp_path / "rollsafe.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    result = run_blocked(path, {"kubernetes", "psycopg"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"{path}:8: drivers[0].kind: 'kubernetes' needs the extra: "
        "pip install 'rollsafe[kubernetes]' (not installed: kubernetes)"
    ) in result.stderr
    assert "pip install 'rollsafe[postgres]'" in result.stderr
    assert "rollsafe[ssh]" not in result.stderr  # asyncssh is importable here
    # Unblocked, the same file is fine: the blocker, not the file, made the difference.
    assert run_blocked(path, set()).returncode == 0


def test_loading_reports_the_missing_extra_with_other_problems(tmp_path):
    # Through loading.load: the extras check runs after the models accepted the file.
    path = tmp_path / "rollsafe.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    assert loading.load(path).config.drivers[0].kind == "kubernetes"  # all installed here
