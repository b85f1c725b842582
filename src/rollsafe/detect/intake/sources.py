"""Which parser reads which endpoint ``kind``, what each accepts, and the inbox dedupe key.

Role in the loop (detect): the API and the inbox processor both turn a stored body into alerts
through :func:`parse`, so a body accepted at the door is read the same way when processed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from rollsafe.config import models
from rollsafe.detect.intake import (
    alertmanager,
    aliyun,
    generic,
    grafana,
    payloads,
    sns,
    tencent,
)

__all__ = ["CONTENT_TYPES", "PARSERS", "dedupe_key", "parse"]

Parser = Callable[..., list[payloads.Alert]]

PARSERS: dict[str, Parser] = {
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "sns": sns.parse,
    "aliyun": aliyun.parse,
    "tencent": tencent.parse,
    "generic": generic.parse,
}
"""``kind`` -> pure parser ``(body, *, headers, received_at) -> alerts``."""

_JSON = ("application/json",)
CONTENT_TYPES: dict[str, tuple[str, ...]] = {
    "alertmanager": _JSON,
    "grafana": _JSON,
    # SNS sends its JSON envelope as text/plain.
    "sns": ("text/plain", "application/json"),
    "aliyun": ("application/x-www-form-urlencoded", "application/json"),
    "tencent": _JSON,
    "generic": _JSON,
}
"""Media types accepted per ``kind`` (parameters such as ``charset`` are ignored)."""


def parse(
    endpoint: models.IntakeBase,
    body: bytes,
    *,
    headers: Mapping[str, str],
    received_at: float,
) -> list[payloads.Alert]:
    """The alerts in ``body`` for ``endpoint``; Malformed when it is not its source's form.

    ``headers`` have lower-case names.
    """
    kind: str = getattr(endpoint, "kind", "")
    if isinstance(endpoint, models.TencentIntake):
        return tencent.parse(
            body, headers=headers, received_at=received_at, utc_offset_hours=endpoint.utc_offset
        )
    parser = PARSERS.get(kind)
    if parser is None:
        raise payloads.Malformed(f"no parser for intake kind {kind!r}")
    return parser(body, headers=headers, received_at=received_at)


def dedupe_key(endpoint: str, body: bytes) -> str:
    """The inbox's key for exact resends: SHA-256 of the endpoint name and the body."""
    digest = hashlib.sha256(endpoint.encode() + b"\n")
    digest.update(body)
    return digest.hexdigest()
