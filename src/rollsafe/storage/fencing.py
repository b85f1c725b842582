"""The leader term a write belongs to: its fencing token travels with the task (storage).

Role in the loop: with replicas, only the leader acts, and a leader paused past its lease
(GC, a frozen VM) must not write when it wakes. The daemon binds the term's token with
``bind`` in the task that starts the term; every task the term starts inherits it (a context
variable is copied into each new task and into ``asyncio.to_thread``), and the store checks
it in the same transaction as every write made from there: runs and steps, rollouts and their
targets, observations, inbox processing, decisions, restore points, audit, shipping cursors.
A write whose token is older than the lease's raises ``FencedOut`` and writes nothing.

Why a context variable rather than one more ``fence=`` argument per call: every leader-only
write must carry it, and a write that forgets it is exactly the defect this prevents (rollout
writes once carried none). Code outside a term (the API serving a follower's webhooks, the
CLI) has no token bound and writes as before. Stores still take an explicit ``fence=``
where a caller wants to name it; the explicit one wins.
"""

from __future__ import annotations

import contextvars

__all__ = ["bind", "current", "unbind"]

_TOKEN: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "rollsafe_fencing_token", default=None
)


def current() -> int | None:
    """The fencing token of the leader term this code runs in; None outside any term."""
    return _TOKEN.get()


def bind(token: int | None) -> contextvars.Token[int | None]:
    """Make ``token`` the fence of this task and of every task it starts from now on.

    A context variable set in a task stays in that task's context, so the binding ends with
    the task; ``unbind`` ends it earlier (a term that ends while its task goes on).
    """
    return _TOKEN.set(token)


def unbind(bound: contextvars.Token[int | None]) -> None:
    """Undo ``bind``: tasks started meanwhile keep the token they were started with."""
    _TOKEN.reset(bound)
