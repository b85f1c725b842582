"""Every exception class rollsafe defines joins the error tree of ``rollsafe.domain.errors``.

A caller (the CLI, the API, a plug-in) decides what to do from the branch an error sits on:
fix the config, retry later, escalate, re-read. An exception class deriving from bare
``Exception`` says none of that, so each one defined under ``src/rollsafe`` derives from
``RollsafeError`` unless it is listed in ``OUTSIDE`` below with the reason it may not.

Every module is imported (lazily, inside the test) and none is skipped silently: one that
cannot be imported fails the test with its error.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import rollsafe
from rollsafe.domain import errors

NOT_IMPORTED = {
    # Importing it runs the command line (it is `python -m rollsafe`); it defines nothing.
    "rollsafe.__main__": "runs the CLI on import",
}

# Allowed outside the tree, each with its reason. A private signal raised and caught inside
# one module never reaches a caller, so it has no branch to say anything to.
_PRIVATE = "private signal, raised and caught inside its own module"
# Built-in-typed errors that callers catch as the built-in (ValueError, LookupError,
# RuntimeError). Joining them would also make every `except RollsafeError` on their way
# catch them (a programming error such as an invalid state transition would become a step
# failure), so each needs its raise sites reviewed first: not part of this change.
_BUILTIN_TYPED = "built-in typed, caught as the built-in; joining needs a review of its raisers"
# Signals of the HTTP layer turned into a status code inside interfaces.api; no plug-in or
# other layer sees them.
_HTTP = "HTTP request signal, answered with a status code inside interfaces.api"
OUTSIDE: dict[str, str] = {
    "rollsafe.backtest.recordings._Invalid": _PRIVATE,
    "rollsafe.detect.probes.data._Stopped": _PRIVATE,
    "rollsafe.execute.drivers.tencent._NotFound": _PRIVATE,
    "rollsafe.interfaces.api.intake_routes._Refused": _PRIVATE,
    "rollsafe.interfaces.api.operator_routes._Refused": _PRIVATE,
    "rollsafe.interfaces.api.views_routes._Bad": _PRIVATE,
    "rollsafe.rollouts.conducting._Closing": _PRIVATE,
    "rollsafe.detect.probes.hoststats.Unreadable": _BUILTIN_TYPED,
    "rollsafe.domain.rollouts.InvalidTransition": _BUILTIN_TYPED,
    "rollsafe.domain.runs.InvalidTransition": _BUILTIN_TYPED,
    "rollsafe.execute.approvals.RunNotFound": _BUILTIN_TYPED,
    "rollsafe.execute.breaker.NotTripped": _BUILTIN_TYPED,
    "rollsafe.runtime.daemon.ControllerBusy": _BUILTIN_TYPED,
    "rollsafe.execute.kube.undo.UndoRefused": "caught as itself by the kubernetes driver, "
    "which turns it into PrecheckFailed or DriverError; not yet joined (outside this change)",
    "rollsafe.interfaces.api.bodies.BodyTooLarge": _HTTP,
    "rollsafe.interfaces.api.bodies.BodyCutShort": _HTTP,
    "rollsafe.interfaces.api.bodies.UnsupportedMedia": _HTTP,
    "rollsafe.interfaces.api.roles.Denied": _HTTP,
    "rollsafe.interfaces.api.limits.BodyOverCeiling": "must be the web framework's "
    "HTTPException so the framework answers 413 itself",
}


def _exception_classes() -> dict[str, type[BaseException]]:
    failed: list[str] = []

    def record(name: str) -> None:
        failed.append(name)

    names = [
        info.name for info in pkgutil.walk_packages(rollsafe.__path__, "rollsafe.", onerror=record)
    ]
    found: dict[str, type[BaseException]] = {}
    for name in names:
        if name in NOT_IMPORTED:
            continue
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # every module must import; say which did not and why
            failed.append(f"{name}: {exc!r}")
            continue
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{attr}"] = value
    assert not failed, f"modules that could not be walked or imported: {failed}"
    return found


def test_every_exception_class_derives_from_rollsafe_error_or_is_listed_with_a_reason() -> None:
    found = _exception_classes()
    assert len(found) > 40  # the walk saw the whole package, not an empty corner of it
    outside = sorted(
        name
        for name, cls in found.items()
        if not issubclass(cls, errors.RollsafeError) and name not in OUTSIDE
    )
    assert outside == [], "join the tree in rollsafe.domain.errors, or list it in OUTSIDE"
    # A listed class that joined the tree or is gone leaves the list too, so it stays true.
    stale = sorted(
        name
        for name in OUTSIDE
        if name not in found or issubclass(found[name], errors.RollsafeError)
    )
    assert stale == [], "these are in the tree (or gone) now: drop them from OUTSIDE"


def test_the_store_and_demo_errors_sit_on_the_branch_that_says_what_to_do() -> None:
    from rollsafe.demo import fleet, servicectl
    from rollsafe.storage import migrating, repositories

    for conflict in (
        repositories.OpenRunExistsError,
        repositories.StaleRunError,
        repositories.ActiveRolloutExistsError,
    ):
        assert issubclass(conflict, errors.ConflictError)
        assert not issubclass(conflict, errors.StoreError)  # the store worked; it said no
    assert issubclass(migrating.MigrationError, errors.StoreError)
    assert issubclass(fleet.FleetError, errors.PermanentError)
    assert issubclass(servicectl.ServiceControlError, errors.PermanentError)
    # What callers read off them still works.
    assert repositories.StaleRunError("run-1").run_id == "run-1"  # type: ignore[arg-type]
    assert repositories.ActiveRolloutExistsError("ro-1").rollout_id == "ro-1"
