"""Named transports: probes and the host driver name one, the example loads, mistakes are clear."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rollsafe.config import loading, models
from rollsafe.detect.probes import build, remote
from rollsafe.execute.drivers import host as host_driver
from rollsafe.reach.transports import shared
from rollsafe.testing import FakeClock

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "remote-ssh" / "rollsafe.yaml"
SSH = {"kind": "ssh", "known_hosts": "/nonexistent/known_hosts", "identity_file": "/k"}


def test_the_remote_ssh_example_passes_config_check():
    done = subprocess.run(
        [sys.executable, "-m", "rollsafe", "config", "check", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 targets, 6 probes" in done.stdout


async def test_probes_and_the_driver_of_the_example_share_one_transport(tmp_path):
    config = loading.load(EXAMPLE).config
    # Other tests' host drivers may still hold leases of their own (the count is per process).
    before = shared.active()
    probes = [build(p, FakeClock(start=0.0)) for p in config.probes]
    driver_config = config.driver("web-hosts")
    assert isinstance(driver_config, models.HostDriver)
    driver = host_driver.HostDriver(driver_config, tmp_path)
    try:
        remote_probes = [
            p for p in probes if isinstance(p, remote.RemoteLogProbe | remote.RemoteHostProbe)
        ]
        assert len(remote_probes) == 5
        assert shared.active() == before + 1  # one transport: one SSH connection per host
    finally:
        for probe in probes:
            await probe.close()
        await driver.close()
    assert shared.active() == before


def _config(**probe: Any) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {"transports": {"web": SSH}, "probes": [{"name": "p", **probe}]}
    )


def test_a_probe_names_a_transport_and_gets_its_settings():
    probe = _config(kind="host", metric="load", transport="web").probes[0]
    assert isinstance(probe, models.HostProbe)
    assert isinstance(probe.transport, models.SshTransport)
    assert probe.transport.known_hosts == SSH["known_hosts"]


def test_an_unknown_transport_name_is_a_clear_error():
    with pytest.raises(
        ValidationError, match=r"probe 'p': transport 'nope' is not in `transports` \(known: web\)"
    ):
        _config(kind="host", metric="cpu", transport="nope")


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        (
            {"journal": {"kernel": True}, "presets": ["oom"]},
            "`journal` is read through a transport",
        ),
        (
            {"path": "/x", "journal": {}, "presets": ["oom"], "transport": "web"},
            "give exactly one of `path` or `journal`",
        ),
    ],
)
def test_log_sources_are_checked(probe, message):
    with pytest.raises(ValidationError, match=message):
        _config(kind="log", **probe)


def test_the_journal_command_quotes_and_filters():
    journal = models.JournalSource(unit="shop web.service", kernel=False)
    first = remote.journal_command(journal, cursor=None, lines=50, first=True)
    assert first.endswith("-u 'shop web.service' -n 1")
    after = remote.journal_command(journal, cursor="s=1;i=2", lines=50)
    assert "'--after-cursor=s=1;i=2' -n 50" in after
    again = remote.journal_command(journal, cursor="s=1;i=2", lines=50, inclusive=True)
    assert "'--cursor=s=1;i=2'" in again
    assert remote.parse_journal("a\n-- No entries --\n-- cursor: s=9\n") == (["a"], "s=9")
