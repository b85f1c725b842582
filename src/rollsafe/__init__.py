"""rollsafe: watch hosts after an upgrade, roll the upgrade back when monitoring shows it failed.

The package is one closed loop, detect -> judge -> execute -> verify, with every step audited.
See docs/architecture.md for the map of modules.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
