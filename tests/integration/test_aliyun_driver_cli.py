"""The aliyun driver as an operator uses it: a YAML file and the real ``rollsafe`` executable.

The stand-in runs in a thread of the test; ``rollsafe`` runs as a separate process with the
credentials in its environment, exactly as it would against ECS.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from support import aliyun_standin as standins

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))

CONFIG = """\
version: 1
state_dir: state
policy:
  verify_timeout: 20s
targets:
  - id: web-1
    driver: ecs
    vars:
      instance_id: {instance_id}
      port: {port}
probes:
  - name: health
    kind: http
    url: "http://127.0.0.1:{{port}}/instances/{{instance_id}}/health"
drivers:
  - kind: aliyun
    name: ecs
    region_id: {region}
    endpoint: "{endpoint}"
    protocol: http
    poll_interval: 50ms
    max_poll_interval: 200ms
    upgrade: "echo 'release 2.1 BROKEN' > /srv/app/release"
"""


def rollsafe(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = standins.ACCESS_KEY_ID
    env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = standins.ACCESS_KEY_SECRET
    env["COLUMNS"] = "200"
    return subprocess.run(
        [ROLLSAFE, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_upgrade_then_rollback_from_the_command_line(tmp_path):
    ecs = standins.EcsStandIn()
    web = ecs.add_instance("web-1", tags={"app": "web"})
    healthy = list(ecs.system_disk(web.instance_id).content)
    with ecs.serve_in_thread() as endpoint:
        config = tmp_path / "rollsafe.yaml"
        config.write_text(
            CONFIG.format(
                instance_id=web.instance_id, port=ecs.port, region=ecs.region, endpoint=endpoint
            )
        )

        checked = rollsafe(tmp_path, "config", "check", str(config))
        upgraded = rollsafe(tmp_path, "upgrade", "web-1", "-c", str(config))
        broken = list(ecs.system_disk(web.instance_id).content)
        rolled = rollsafe(tmp_path, "rollback", "web-1", "--reason", "2.1 broke", "-c", str(config))

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert broken[-1] == "echo 'release 2.1 BROKEN' > /srv/app/release"
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    for step in ("stop-instance", "reset-system-disk", "start-instance", "run.succeeded"):
        assert step in rolled.stdout
    assert ecs.system_disk(web.instance_id).content == healthy
    assert web.status == "Running"
    assert [len(ecs.effects_of(a)) for a in ("StopInstance", "ResetDisk", "StartInstance")] == [
        1,
        1,
        1,
    ]
    # No credential ever reaches the output.
    assert standins.ACCESS_KEY_SECRET not in upgraded.stdout + rolled.stdout + rolled.stderr


def test_targets_discover_prints_entries_for_tagged_instances(tmp_path):
    ecs = standins.EcsStandIn()
    web = ecs.add_instance("web-1", tags={"app": "web", "env": "prod"})
    other = ecs.add_instance("web-2", tags={"app": "web", "env": "staging"})
    ecs.add_instance("db-1", tags={"app": "db", "env": "prod"})
    with ecs.serve_in_thread() as endpoint:
        config = tmp_path / "rollsafe.yaml"
        config.write_text(
            CONFIG.format(
                instance_id=web.instance_id, port=ecs.port, region=ecs.region, endpoint=endpoint
            )
        )
        found = rollsafe(
            tmp_path, "target", "discover", "-c", str(config), "--driver", "ecs", "--tag",
            "app=web", "--tag", "env",
        )  # fmt: skip

    assert found.returncode == 0, found.stdout + found.stderr
    entries = yaml.safe_load(found.stdout)
    assert [(e["id"], e["vars"]["instance_id"]) for e in entries] == [
        ("web-1", web.instance_id),
        ("web-2", other.instance_id),
    ]
    assert entries[1] == {
        "id": "web-2",
        "address": other.private_ip,
        "driver": "ecs",
        "labels": {"app": "web", "env": "staging"},
        "vars": {"instance_id": other.instance_id},
    }
    assert "# already configured as target web-1" in found.stdout
    assert "2 target(s)" in found.stderr
