"""Fakes shipped for users and tests: a virtual clock, a fake driver, a recording notifier,
a fake verifier, fake transports (commands run here, or answered from a script), fake probes
and a fake log platform.

Each fake implements the same Protocol as the real part, so tests exercise real code paths.
"""

from rollsafe.testing.clocks import FakeClock
from rollsafe.testing.drivers import DriverCall, FakeDriver, Hang
from rollsafe.testing.log_platforms import FakeLogPlatform
from rollsafe.testing.notifiers import RecordingNotifier
from rollsafe.testing.probes import Blind, FakeProbe, probe_factory
from rollsafe.testing.transports import FakeTransport, ScriptedTransport
from rollsafe.testing.verifiers import FakeVerifier

__all__ = [
    "Blind",
    "DriverCall",
    "FakeClock",
    "FakeDriver",
    "FakeLogPlatform",
    "FakeProbe",
    "FakeTransport",
    "FakeVerifier",
    "Hang",
    "RecordingNotifier",
    "ScriptedTransport",
    "probe_factory",
]
