"""Shared-secret request signatures: rollsafe's HMAC scheme, and the helpers sources share.

Role in the loop (detect): the authentication of a webhook before anything it says is trusted.
rollsafe's own scheme, for any sender that can compute an HMAC::

    X-Rollsafe-Timestamp: <Unix seconds>
    X-Rollsafe-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

(the ``sha256=`` prefix is optional). The timestamp must be within the tolerance (300 s by
default) of the receiver's clock; remembering signatures already seen, to reject a replay
inside that window, is the caller's job (it needs memory; see ``interfaces/api/auth``).
Comparisons are constant-time (``hmac.compare_digest``).

Pure: no I/O, the clock's ``now`` is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from rollsafe.domain import errors

__all__ = [
    "PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Unauthenticated",
    "check_fresh",
    "hmac_hex",
    "same",
    "sign",
    "verify",
]

TIMESTAMP_HEADER = "X-Rollsafe-Timestamp"
SIGNATURE_HEADER = "X-Rollsafe-Signature"
PREFIX = "sha256="
"""The optional prefix of a signature header's value."""


class Unauthenticated(errors.PermanentError):
    """The request does not prove it comes from who it should (401)."""


def hmac_hex(secret: bytes, message: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` keyed with ``secret``."""
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time equality of two ASCII strings (False for non-ASCII input)."""
    try:
        return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))
    except UnicodeEncodeError:
        return False


def sign(secret: bytes, body: bytes, *, timestamp: int) -> str:
    """The ``X-Rollsafe-Signature`` value for ``body`` sent at ``timestamp``."""
    return PREFIX + hmac_hex(secret, str(timestamp).encode() + b"." + body)


def check_fresh(timestamp: str, *, now: float, tolerance: float) -> float:
    """The timestamp as a number; Unauthenticated if it is not one or too far from ``now``."""
    try:
        when = float(timestamp.strip())
    except ValueError:
        raise Unauthenticated("the timestamp is not Unix seconds") from None
    if not math.isfinite(when):
        raise Unauthenticated("the timestamp is not Unix seconds")
    if abs(now - when) > tolerance:
        raise Unauthenticated(
            f"stale timestamp: {abs(now - when):.0f}s from this server's clock "
            f"(tolerance {tolerance:.0f}s)"
        )
    return when


def verify(
    body: bytes,
    *,
    secret: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float,
    tolerance: float,
) -> None:
    """Raise Unauthenticated unless ``signature`` is rollsafe's HMAC of ``body`` at a fresh
    ``timestamp``."""
    if not timestamp:
        raise Unauthenticated(f"missing {TIMESTAMP_HEADER} header")
    if not signature:
        raise Unauthenticated(f"missing {SIGNATURE_HEADER} header")
    check_fresh(timestamp, now=now, tolerance=tolerance)
    given = signature.strip().lower().removeprefix(PREFIX)
    expected = hmac_hex(secret, timestamp.strip().encode() + b"." + body)
    if not same(expected, given):
        raise Unauthenticated("wrong signature")
