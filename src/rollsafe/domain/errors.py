"""Errors, classified by what the caller should do next.

::

    RollsafeError
    ├── ConfigError            fix the configuration file; nothing was started
    │   └── (config.models.NotConfigured: a target, driver or rollout name it lacks; also
    │        a KeyError for the callers that handle an absent name themselves)
    ├── TemporaryError         try again later (``retry_after`` seconds, if known)
    │   └── DriverTemporaryError
    ├── PermanentError         retrying will not help; escalate to a person
    │   ├── DriverError        a driver step failed for good (cloud API refused, command failed)
    │   │   └── (reach.clouds.aws.ApiError, reach.clouds.tencent.Failure, aws InstanceUnusable)
    │   ├── PrecheckFailed     the restore point is not usable: never start the rollback
    │   ├── GovernorTripped    a safety governor refused to act (rate limit, quarantine ...)
    │   ├── FencedOut          a deposed leader's write: another replica leads now
    │   └── (demo.fleet.FleetError, demo.servicectl.ServiceControlError)
    ├── ConflictError          the write contradicts what is stored now; nothing was written:
    │   │                      read again and decide again, never retry the same write blindly
    │   └── (storage.repositories: OpenRunExistsError, StaleRunError, ActiveRolloutExistsError)
    ├── VerificationFailed     the rollback ran but health or data did not come back
    └── StoreError             the durable store could not be read or written
        └── (storage.migrating.MigrationError)

Names in parentheses are defined next to the code that raises them. Every exception class
defined under ``rollsafe`` sits in this tree, except the few listed with their reason in
``tests/unit/meta/test_error_tree.py`` (private signals caught in their own module, an HTTP
framework's exception type, built-in-typed errors not yet joined).

Third-party exceptions are translated at the boundary (``raise DriverError(...) from exc``) so
that nothing above a driver ever sees a cloud SDK's exception type.
"""

from __future__ import annotations

# Part of the plug-in surface (drivers, probes, notifiers raise these): pinned by
# tests/unit/meta/test_public_surface.py.
__all__ = [
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
]


class RollsafeError(Exception):
    """Base of every error rollsafe raises on purpose."""


class ConfigError(RollsafeError):
    """The configuration is invalid. ``problems`` holds one line per mistake."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class TemporaryError(RollsafeError):
    """Retrying later may succeed."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DriverTemporaryError(TemporaryError):
    """A driver step hit a transient condition (throttling, resource busy)."""


class PermanentError(RollsafeError):
    """Retrying will not help; a person must look."""


class DriverError(PermanentError):
    """A driver step failed for good."""


class PrecheckFailed(PermanentError):
    """A restore point cannot be used: missing, incomplete, or not this target's."""


class GovernorTripped(PermanentError):
    """A safety governor refused the action."""


class FencedOut(PermanentError):
    """A write carried a fencing token older than the leader lease's: another replica took
    over, so this process must stop acting. Nothing was written."""


class ConflictError(RollsafeError):
    """The store refused a write because what is stored now contradicts it (a run already
    open, a row changed since it was read). Nothing was written; the caller reads again."""


class VerificationFailed(RollsafeError):
    """The rollback finished but the target did not prove healthy and consistent."""


class StoreError(RollsafeError):
    """The durable store failed."""
