"""What of a command's output reaches the audit: cut to a size limit, secrets masked.

Role in the loop (reach): every transport passes stdout and stderr through ``keep`` before
building its ``CommandResult``, so a chatty upgrade cannot bloat the audit trail and a
password a script echoes never lands there. The tail is kept rather than the head, because
the end of an output is where a failing command says why.
"""

from __future__ import annotations

from collections.abc import Iterable

from rollsafe.audit import redacting

TRUNCATION_MARK = "[... {dropped} bytes cut ...]\n"


def keep(raw: bytes | str, *, limit: int, secrets: Iterable[str] = ()) -> tuple[str, bool]:
    """``raw`` decoded, redacted, and cut to its last ``limit`` bytes; (text, was_cut).

    ``secrets`` are literal values (from the driver's env, a passphrase) masked wherever they
    appear, on top of the audit's own key=value redaction.
    """
    data = raw.encode(errors="replace") if isinstance(raw, str) else raw
    cut = len(data) > limit
    if cut:
        data = data[-limit:]
    text = data.decode(errors="replace")
    for secret in secrets:
        if len(secret) >= 4:  # masking "a" everywhere would destroy the output, not protect
            text = text.replace(secret, redacting.MASK)
    text = redacting.redact_text(text)
    if cut:
        text = TRUNCATION_MARK.format(dropped=len(raw) - limit) + text
    return text, cut
