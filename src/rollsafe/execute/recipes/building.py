"""Which recipe turns a snapshot mechanism into commands, by ``recipe.kind``.

Role in the loop (execute): the host driver asks here for its recipe once. Modules are
imported only in their own branch, so one recipe's problem cannot break the others.
"""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import recipes


def build(config: models.Recipe) -> recipes.Recipe:
    """The recipe ``config`` describes; ConfigError for a kind nobody provides."""
    if isinstance(config, models.DirectoryRecipe):
        from rollsafe.execute.recipes import directory

        return directory.make(config)
    if isinstance(config, models.BtrfsRecipe):
        from rollsafe.execute.recipes import btrfs

        return btrfs.make(config)
    if isinstance(config, models.ScriptRecipe):
        from rollsafe.execute.recipes import script

        return script.make(config)
    if isinstance(config, models.SnapperRecipe):
        from rollsafe.execute.recipes import snapper

        return snapper.make(config)
    if isinstance(config, models.LvmRecipe):
        from rollsafe.execute.recipes import lvm

        return lvm.make(config)
    if isinstance(config, models.AptRecipe | models.DnfRecipe):
        from rollsafe.execute.recipes import packages

        return packages.make(config)
    if isinstance(config, models.OstreeRecipe):
        from rollsafe.execute.recipes import ostree

        return ostree.make(config)
    if isinstance(config, models.Qcow2Recipe):
        from rollsafe.execute.recipes import qcow2

        return qcow2.make(config)
    raise errors.ConfigError(f"no recipe of kind {getattr(config, 'kind', config)!r}")
