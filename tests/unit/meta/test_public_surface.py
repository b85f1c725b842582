"""The plug-in surface is explicit and pinned: third-party drivers, probes and tests use it.

A name added to or dropped from these modules' ``__all__`` fails here, so a change of the
surface a plug-in author sees is a deliberate edit of this file, never a side effect. The
driver protocol's own members are pinned too: a new required method breaks every driver
written outside this repository.
"""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import rollsafe.testing
from rollsafe.domain import errors
from rollsafe.execute import driving

SURFACE: list[tuple[ModuleType, list[str]]] = [
    (
        rollsafe.testing,
        [
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
        ],
    ),
    (
        errors,
        [
            "ConfigError",
            "ConflictError",
            "DriverError",
            "DriverTemporaryError",
            "FencedOut",
            "GovernorTripped",
            "PermanentError",
            "PrecheckFailed",
            "RollsafeError",
            "StoreError",
            "TemporaryError",
            "VerificationFailed",
        ],
    ),
    (
        driving,
        [
            "ApiCallRecorder",
            "Deleting",
            "Driver",
            "DriverFactory",
            "deleter",
            "point_taken",
            "record_api_call",
            "recording_api_calls",
            "require_own_point",
            "require_step",
            "reset_api_calls",
        ],
    ),
]


@pytest.mark.parametrize(("module", "names"), SURFACE, ids=lambda v: getattr(v, "__name__", ""))
def test_the_public_names_are_exactly_these(module: ModuleType, names: list[str]) -> None:
    assert sorted(module.__all__) == sorted(names)
    for name in names:
        assert hasattr(module, name), f"{module.__name__}.__all__ names a missing {name}"


@pytest.mark.parametrize("module", [m for m, _ in SURFACE], ids=lambda m: m.__name__)
def test_every_public_class_and_function_is_in_all(module: ModuleType) -> None:
    # A class or function defined here without a leading underscore is surface; forgetting
    # it in __all__ would hide it from `import *` and from this pin.
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith(module.__name__)
    }
    assert defined <= set(module.__all__)


def test_the_driver_protocol_members_are_pinned() -> None:
    members = {
        name
        for name in {*vars(driving.Driver), *driving.Driver.__annotations__}
        if not name.startswith("_")
    }
    assert members == {
        "name",
        "kind",
        "checkpoint",
        "precheck",
        "rollback_steps",
        "rollback",
        "upgrade",
        "status",
    }
    assert {n for n in vars(driving.Deleting) if not n.startswith("_")} == {"delete"}


def test_every_fake_implements_the_protocol_it_stands_in_for() -> None:
    # mypy checks the structure statically (each fake module assigns itself to its
    # Protocol); this catches a fake whose signatures drifted to keyword names mypy allows.
    checks = [(rollsafe.testing.FakeDriver, driving.Driver)]
    for fake, protocol in checks:
        wanted = {
            n for n in vars(protocol) if not n.startswith("_") and callable(vars(protocol)[n])
        }
        for name in wanted:
            assert inspect.signature(getattr(fake, name)).parameters.keys() == (
                inspect.signature(getattr(protocol, name)).parameters.keys()
            ), f"{fake.__name__}.{name} differs from {protocol.__name__}.{name}"
