"""Fakes shipped for users and tests: a virtual clock, a fake driver, a recording notifier.

Each fake implements the same Protocol as the real part, so tests exercise real code paths.
"""

from rollsafe.testing.clocks import FakeClock

__all__ = ["FakeClock"]
