"""rollsafe: watch hosts after an upgrade, roll the upgrade back when monitoring shows it failed.

The package is one closed loop, detect -> judge -> execute -> verify, with every step audited.
See docs/architecture.md for the map of modules.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # The version is written once, in pyproject.toml; the installed metadata carries it.
    # Read on first use only: importing rollsafe must not cost a metadata lookup.
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("rollsafe")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'rollsafe' has no attribute {name!r}")
