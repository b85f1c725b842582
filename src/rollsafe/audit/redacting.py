"""Keeping secrets out of the audit log.

The audit log is append-only and exported to other systems, so a secret written there can
never be taken back. The store runs every event's details through ``redact`` before hashing
and saving them. It errs on the side of masking: a hidden value costs a little context, a
leaked credential costs a rotation and an incident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MASK", "is_secret_key", "redact", "redact_text"]

MASK = "***"

# Words that make a key secret wherever they appear in it ("db_password", "X-Auth-Token").
_SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "token",
        "tokens",
        "authorization",
        "auth",
        "credential",
        "credentials",
        "cookie",
        "apikey",
        "privatekey",
    }
)
# Keys that end in "key" are secret ("api_key", "access_key", "key") except these, which
# rollsafe itself records and which identify things rather than unlock them.
_HARMLESS_KEYS = frozenset(
    {"step_key", "idempotency_key", "public_key", "dedup_key", "cache_key", "sort_key"}
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# user:password@ in URLs such as postgresql://rollsafe:hunter2@db/rollsafe
_URL_PASSWORD = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+(?=@)")
# "Bearer abc.def", "Basic dXNlcjpwYXNz" in header values that slipped into free text
_AUTH_SCHEME = re.compile(r"(?P<scheme>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]+")
# "password=hunter2", "DB_TOKEN: abc", "api_key = 'x'" in command output and error texts
_ASSIGNMENT = re.compile(
    r"(?P<key>\b[A-Za-z_][A-Za-z0-9_.-]*)(?P<sep>[ \t]*[=:][ \t]*)"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s,;]+)"
)


def is_secret_key(key: str) -> bool:
    """True when a value stored under ``key`` should be treated as a secret."""
    words = [word.lower() for word in _WORD.findall(key)]
    if not words:
        return False
    if any(word in _SECRET_WORDS for word in words):
        return True
    if words[-1].endswith(("key", "keys")):  # "api_key", "accessKey", "secretkey"
        return "_".join(words) not in _HARMLESS_KEYS
    return False


def redact(details: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``details`` with secret values masked, at any depth.

    A value whose key looks secret is replaced by ``MASK`` whatever its type; inside other
    strings, passwords in URLs and bearer/basic credentials are masked.
    """
    return {str(key): _redacted_item(str(key), value) for key, value in details.items()}


def redact_text(text: str) -> str:
    """``text`` with URL passwords, authorization credentials and ``secret=value`` masked."""
    text = _URL_PASSWORD.sub(lambda match: match.group("prefix") + MASK, text)
    text = _AUTH_SCHEME.sub(lambda match: match.group("scheme") + MASK, text)
    return _ASSIGNMENT.sub(_masked_assignment, text)


def _masked_assignment(match: re.Match[str]) -> str:
    value = match.group("value")
    # "Authorization: Bearer ***" was masked by _AUTH_SCHEME already; keep the scheme visible.
    if not is_secret_key(match.group("key")) or value in (MASK, "Bearer", "Basic", "Token"):
        return match.group(0)
    return match.group("key") + match.group("sep") + MASK


def _redacted_item(key: str, value: Any) -> Any:
    if is_secret_key(key) and value not in (None, ""):  # an absent secret reveals nothing
        return MASK
    return _redacted_value(value)


def _redacted_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redacted_value(item) for item in value]
    return value
