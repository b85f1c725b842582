"""``rollsafe target discover`` with the aws driver, against moto's EC2 server."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from rollsafe.config import loading
from rollsafe.interfaces.cli import main
from support import aws_ec2_standin
from support.aws_ec2_standin import REGION


@pytest.fixture(scope="module")
def standin():
    with aws_ec2_standin.running() as server:
        yield server


@pytest.fixture
def ec2(standin, monkeypatch):
    return aws_ec2_standin.prepared(standin, monkeypatch)


def _config(tmp_path, ec2, targets: str = "") -> str:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        f"""\
targets:
{targets or "  []"}
drivers:
  - kind: aws
    name: ec2
    region: {REGION}
    endpoint_url: {ec2.endpoint}
    api_attempts: 1
  - kind: local
    name: files
    directory: /srv/app
"""
    )
    return str(path)


def test_prints_entries_for_the_tagged_instances(tmp_path, ec2):
    web = ec2.launch("web 1", env="prod", role="web")
    db = ec2.launch("db-1", env="prod", role="db")
    ec2.launch("stage-1", env="stage")
    ec2.client().terminate_instances(InstanceIds=[ec2.launch("old", env="prod")["InstanceId"]])
    config = _config(tmp_path, ec2)

    result = CliRunner().invoke(
        main.app, ["target", "discover", "-c", config, "--driver", "ec2", "--tag", "env=prod"]
    )

    assert result.exit_code == 0, result.output
    entries = yaml.safe_load(result.stdout)
    assert [e["id"] for e in entries] == ["db-1", "web-1"]
    by_id = {e["id"]: e for e in entries}
    assert by_id["web-1"]["vars"] == {
        "instance_id": web["InstanceId"],
        "region": REGION,
        "availability_zone": f"{REGION}b",
    }
    assert by_id["web-1"]["labels"] == {"env": "prod", "role": "web"}
    assert by_id["web-1"]["driver"] == "ec2"
    assert by_id["db-1"]["address"] == db["PrivateIpAddress"]
    assert "2 target(s) with env=prod" in result.stderr
    assert ec2.count("DescribeInstances") == 1


def test_written_entries_load_as_targets_and_known_ones_are_marked(tmp_path, ec2):
    web = ec2.launch("web-1", env="prod")
    ec2.launch("web-2", env="prod")
    known = f"  - id: frontend\n    driver: ec2\n    vars: {{instance_id: {web['InstanceId']}}}"
    config = _config(tmp_path, ec2, targets=known)
    out = tmp_path / "found" / "targets.yaml"

    result = CliRunner().invoke(
        main.app,
        ["target", "discover", "-c", config, "--driver", "ec2", "--tag", "env", "--write", out],
    )

    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "# already configured as target frontend\n- id: web-1" in text
    # pasted under `targets:`, the entries make a valid configuration
    indented = "".join(f"  {line}\n" for line in text.splitlines())
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(
        f"targets:\n{indented}drivers:\n  - kind: aws\n    name: ec2\n    region: {REGION}\n"
    )
    loaded = loading.load(fresh)
    assert [t.id for t in loaded.config.targets] == ["web-1", "web-2"]


def test_mistakes_and_failures_exit_non_zero(tmp_path, ec2):
    config = _config(tmp_path, ec2)
    runner = CliRunner()

    unknown = runner.invoke(main.app, ["target", "discover", "-c", config, "--driver", "nope"])
    local = runner.invoke(main.app, ["target", "discover", "-c", config, "--driver", "files"])
    bad_tag = runner.invoke(
        main.app, ["target", "discover", "-c", config, "--driver", "ec2", "--tag", "=x"]
    )
    ec2.fail("DescribeInstances", "UnauthorizedOperation", message="not for you")
    denied = runner.invoke(main.app, ["target", "discover", "-c", config, "--driver", "ec2"])

    assert unknown.exit_code == 2
    assert "no driver named 'nope'" in unknown.stderr
    assert local.exit_code == 2
    assert "cannot discover targets" in local.stderr
    assert bad_tag.exit_code == 2
    assert denied.exit_code == 1
    assert "not permitted: UnauthorizedOperation" in denied.stderr
