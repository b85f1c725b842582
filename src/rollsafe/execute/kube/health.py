"""Rollout health of a Deployment and its pods, computed without I/O.

Role in the loop (execute, and what a probe can read): the kubernetes driver's ``wait`` step
polls ``rollout_status`` until a rollback has rolled out, and ``status()`` reports
``pod_failures`` so that a command or HTTP probe can tell a failed rollout.

``rollout_status`` judges like ``kubectl rollout status``: nothing is concluded before the
controller has observed the latest spec (``status.observedGeneration >= metadata.generation``);
then a ``Progressing`` condition with reason ``ProgressDeadlineExceeded`` is a failure, and the
rollout is complete once every replica is updated, no old replica is left and every updated
replica is available.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BAD_WAITING_REASONS",
    "DEADLINE_EXCEEDED",
    "PodFailure",
    "Rollout",
    "RolloutState",
    "condition",
    "failed_rollout",
    "pod_failures",
    "rollout_status",
]

DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
BAD_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
"""Container waiting reasons that mean the pod will not come up by itself."""


class RolloutState(enum.Enum):
    PENDING = "pending"  # still rolling out, or the spec is not observed yet
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Rollout:
    state: RolloutState
    message: str

    @property
    def done(self) -> bool:
        return self.state is not RolloutState.PENDING


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _section(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def condition(deployment: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The status condition of ``type`` ``kind``, if the Deployment has one."""
    for item in _section(deployment, "status").get("conditions") or []:
        if isinstance(item, Mapping) and item.get("type") == kind:
            return item
    return None


def rollout_status(deployment: Mapping[str, Any]) -> Rollout:
    """Where the Deployment's rollout stands, as ``kubectl rollout status`` would say."""
    name = _section(deployment, "metadata").get("name", "?")
    generation = _int(_section(deployment, "metadata").get("generation"))
    status = _section(deployment, "status")
    if _int(status.get("observedGeneration"), -1) < generation:
        return Rollout(
            RolloutState.PENDING, "waiting for the deployment spec update to be observed"
        )
    progressing = condition(deployment, "Progressing")
    if progressing is not None and progressing.get("reason") == DEADLINE_EXCEEDED:
        detail = progressing.get("message") or ""
        return Rollout(
            RolloutState.FAILED,
            f"deployment {name!r} exceeded its progress deadline ({DEADLINE_EXCEEDED})"
            + (f": {detail}" if detail else ""),
        )
    wanted = _int(_section(deployment, "spec").get("replicas"), 1)
    replicas = _int(status.get("replicas"))
    updated = _int(status.get("updatedReplicas"))
    available = _int(status.get("availableReplicas"))
    if updated < wanted:
        return Rollout(
            RolloutState.PENDING,
            f"{updated} out of {wanted} new replicas have been updated",
        )
    if replicas > updated:
        return Rollout(
            RolloutState.PENDING, f"{replicas - updated} old replicas are pending termination"
        )
    if available < updated:
        return Rollout(
            RolloutState.PENDING, f"{available} of {updated} updated replicas are available"
        )
    return Rollout(RolloutState.COMPLETE, f"deployment {name!r} successfully rolled out")


@dataclass(frozen=True, slots=True)
class PodFailure:
    pod: str
    container: str
    reason: str
    message: str = ""


def pod_failures(pods: Sequence[Mapping[str, Any]]) -> list[PodFailure]:
    """Containers (init containers included) stuck waiting for a reason that will not heal."""
    found: list[PodFailure] = []
    for pod in pods:
        pod_name = str(_section(pod, "metadata").get("name", "?"))
        status = _section(pod, "status")
        for key in ("initContainerStatuses", "containerStatuses"):
            for container in status.get(key) or []:
                if not isinstance(container, Mapping):
                    continue
                waiting = _section(_section(container, "state"), "waiting")
                reason = waiting.get("reason")
                if reason in BAD_WAITING_REASONS:
                    found.append(
                        PodFailure(
                            pod=pod_name,
                            container=str(container.get("name", "?")),
                            reason=str(reason),
                            message=str(waiting.get("message") or ""),
                        )
                    )
    return found


def failed_rollout(deployment: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> list[str]:
    """Reasons to call the Deployment's rollout failed now; empty when none is seen.

    A failure is a progress deadline exceeded, or pods stuck in a bad waiting state while
    fewer replicas are ready than wanted. Pods in a bad state while every replica is ready
    (an old pod being replaced, say) are not a failure of the rollout.
    """
    reasons: list[str] = []
    rollout = rollout_status(deployment)
    if rollout.state is RolloutState.FAILED:
        reasons.append(rollout.message)
    wanted = _int(_section(deployment, "spec").get("replicas"), 1)
    ready = _int(_section(deployment, "status").get("readyReplicas"))
    if ready < wanted:
        failures = pod_failures(pods)
        if failures:
            kinds = sorted({f.reason for f in failures})
            reasons.append(
                f"{ready} of {wanted} replicas ready; pods failing: {', '.join(kinds)} "
                f"({len(failures)} container(s), e.g. {failures[0].pod}/{failures[0].container})"
            )
    return reasons
