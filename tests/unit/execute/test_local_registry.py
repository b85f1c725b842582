"""The driver registry: built-in kinds by name, third-party kinds through entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import registry
from rollsafe.execute.drivers import local


class PluginConfig(models.Model):
    """What a third-party driver's config looks like to the registry: a kind and a name."""

    kind: str
    name: str


def install_plugin(root: Path, *, kind: str, module: str, module_body: str) -> None:
    """A real installed distribution (dist-info + module) on a sys.path entry."""
    dist = root / f"{module}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[rollsafe.drivers]\n{kind} = {module}:make_driver\n")
    (root / f"{module}.py").write_text(textwrap.dedent(module_body))


def test_builds_the_local_driver(tmp_path):
    config = models.LocalDriver(kind="local", name="files", rollback="true")

    driver = registry.build(config, tmp_path)

    assert isinstance(driver, local.LocalDriver)
    assert (driver.name, driver.kind) == ("files", "local")
    assert driver.state_dir == tmp_path.absolute()
    assert registry.FACTORIES["local"] is registry._local  # cloud kinds sit beside it


def test_importing_the_registry_does_not_import_any_driver():
    code = (
        "import sys, rollsafe.execute.registry; "
        "print('rollsafe.execute.drivers.local' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"


def test_a_third_party_kind_is_found_through_its_entry_point(tmp_path, monkeypatch):
    install_plugin(
        tmp_path / "site",
        kind="demo-plug",
        module="rollsafe_plugin_demo",
        module_body="""
            class Driver:
                kind = "demo-plug"

                def __init__(self, config, state_dir):
                    self.name = config.name
                    self.state_dir = state_dir

            def make_driver(config, state_dir):
                return Driver(config, state_dir)
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "rollsafe_plugin_demo", raising=False)

    driver = registry.build(PluginConfig(kind="demo-plug", name="p1"), tmp_path / "state")

    assert type(driver).__module__ == "rollsafe_plugin_demo"
    assert driver.name == "p1"
    assert driver.state_dir == tmp_path / "state"


def test_an_unknown_kind_is_a_config_error_naming_the_known_ones(tmp_path):
    with pytest.raises(errors.ConfigError, match=r"no driver of kind 'nope'.*local"):
        registry.build(PluginConfig(kind="nope", name="x"), tmp_path)


def test_a_plugin_that_fails_to_import_is_a_config_error(tmp_path, monkeypatch):
    install_plugin(
        tmp_path / "site",
        kind="broken-plug",
        module="rollsafe_plugin_broken",
        module_body="raise ImportError('needs the vendor SDK')\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    with pytest.raises(errors.ConfigError, match="failed to load: needs the vendor SDK"):
        registry.build(PluginConfig(kind="broken-plug", name="b"), tmp_path)
