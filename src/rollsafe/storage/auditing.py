"""Checking the stored audit chain end to end (what ``rollsafe audit verify`` runs).

The chain head is read *before* the events: appends that land while the events are being
read come after the head and are simply checked too, while events removed from the end of
the log leave it shorter than the head, which ``chain.verify`` reports.
"""

from __future__ import annotations

from rollsafe.audit import chain
from rollsafe.storage import repositories

__all__ = ["verify_store"]


def verify_store(store: repositories.Store) -> chain.VerifyResult:
    """Verify every audit event in ``store`` against the chain and the chain head."""
    head = store.audit_head()
    if head is None:
        # The head is created with the schema and only ever updated: its absence is tampering.
        counted = chain.verify(store.list_audit_events())
        if not counted.ok:
            return counted
        return chain.VerifyResult(
            ok=False,
            count=counted.count,
            first_bad_seq=counted.count + 1,
            reason="the chain head record is missing, so removed newest events cannot be ruled out",
        )
    return chain.verify(store.list_audit_events(), head=head)
