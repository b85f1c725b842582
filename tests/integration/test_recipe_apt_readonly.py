"""The apt recipe's reading side on this Debian machine, for real and READ-ONLY.

Only ``checkpoint`` and ``verify`` run here: they call dpkg-query and nothing else. The
rollback step is never called on a real system in tests (it would install and remove
packages); it is covered with recorded outputs in tests/unit/recipes.
"""

from __future__ import annotations

import subprocess

import pytest

from rollsafe.config import models
from rollsafe.execute.recipes import packages, recipes
from rollsafe.reach.transports import local, transporting

pytestmark = pytest.mark.requires("dpkg-query")
TARGET = models.Target(id="this-host")


def on(transport: transporting.Transport) -> recipes.Host:
    """``TARGET`` reached through ``transport``."""
    return recipes.Host(transport, TARGET)


def dpkg_version(name: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, check=True
    )
    return out.stdout


async def test_checkpoint_reads_the_real_package_set() -> None:
    recipe = packages.make(models.AptRecipe(kind="apt"))
    # The transports' default output limit: the list is read in pages that fit it.
    transport = local.LocalTransport()
    data = await recipe.checkpoint(on(transport), point_id="rp-1", limit_s=60)
    found = data["packages"]
    assert found["dpkg"] == dpkg_version("dpkg")
    assert found["qemu-utils"] == dpkg_version("qemu-utils")
    assert len(found) > 50
    assert all(version for version in found.values())
    assert "packages match" in await recipe.verify(on(transport), data, limit_s=60)


async def test_scoped_checkpoint_on_the_real_system() -> None:
    recipe = packages.make(
        models.AptRecipe(kind="apt", packages=["dpkg", "no-such-package-rollsafe"])
    )
    transport = local.LocalTransport()
    data = await recipe.checkpoint(on(transport), point_id="rp-1", limit_s=60)
    assert data["packages"] == {"dpkg": dpkg_version("dpkg")}
    assert "1 packages match" in await recipe.verify(on(transport), data, limit_s=60)
