"""What ``kubectl rollout undo --to-revision`` would do to a Deployment, computed without I/O.

Role in the loop (execute): the kubernetes driver reads a Deployment and its ReplicaSets
fresh from the API server and asks ``plan`` for the patch that rolls it back; the driver only
sends it. Keeping the algorithm pure lets it be tested exhaustively on plain dicts.

The behaviour follows kubectl's documented rollback for Deployments:

- only ReplicaSets the Deployment controls count (an ``ownerReferences`` entry with the
  Deployment's ``uid`` and ``controller: true``), keyed by their
  ``deployment.kubernetes.io/revision`` annotation;
- ``to_revision=0`` means the previous revision: the highest one below the current;
- a paused Deployment is refused, and so is a revision that is not in the history;
- when the ReplicaSet's pod template, without its ``pod-template-hash`` label, already equals
  the Deployment's template, nothing is done ("skipped rollback");
- otherwise the patch replaces ``spec.template`` with the ReplicaSet's template (without
  ``pod-template-hash``) and the Deployment's annotations with the ReplicaSet's, except the
  bookkeeping annotations kubectl skips, which keep the Deployment's own values.

After such a rollback the Deployment controller gives the restored ReplicaSet a NEW revision
(max + 1): a restore point must therefore be found again by ReplicaSet name or template hash
(``revision_of``), never by its old revision number alone.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "HASH_LABEL",
    "REVISION_ANNOTATION",
    "SKIPPED_ANNOTATIONS",
    "Outcome",
    "Plan",
    "UndoRefused",
    "current_revision",
    "history",
    "is_owned",
    "json_patch",
    "plan",
    "revision_of",
    "template_without_hash",
    "templates_equal",
]

HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
SKIPPED_ANNOTATIONS = frozenset(
    {
        REVISION_ANNOTATION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "kubectl.kubernetes.io/last-applied-configuration",
    }
)
"""Annotations a rollback never copies from the ReplicaSet (the Deployment keeps its own)."""


class UndoRefused(Exception):
    """The rollback cannot be planned (paused Deployment, revision not in the history)."""


class Outcome(enum.Enum):
    PATCH = "patch"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Plan:
    """The rollback to ``revision`` (ReplicaSet ``replicaset``): a patch to send, or nothing.

    ``template`` and ``annotations`` are the Deployment's new values; ``reason`` says in
    kubectl's words why nothing needs to be sent when ``outcome`` is SKIPPED.
    """

    outcome: Outcome
    revision: int
    replicaset: str
    template_hash: str | None
    reason: str = ""
    template: Mapping[str, Any] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        return self.outcome is Outcome.SKIPPED


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    annotations = _metadata(obj).get("annotations")
    return annotations if isinstance(annotations, Mapping) else {}


def _revision(obj: Mapping[str, Any]) -> int | None:
    raw = _annotations(obj).get(REVISION_ANNOTATION)
    try:
        return int(str(raw)) if raw is not None else None
    except ValueError:
        return None  # a malformed annotation is not a revision (kubectl skips it too)


def _template(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    return template if isinstance(template, Mapping) else {}


def is_owned(replicaset: Mapping[str, Any], deployment: Mapping[str, Any]) -> bool:
    """True when ``deployment`` is the controlling owner of ``replicaset`` (by uid)."""
    uid = _metadata(deployment).get("uid")
    if not uid:
        return False
    owners = _metadata(replicaset).get("ownerReferences") or []
    return any(
        isinstance(owner, Mapping) and owner.get("uid") == uid and owner.get("controller") is True
        for owner in owners
    )


def history(
    deployment: Mapping[str, Any], replicasets: Sequence[Mapping[str, Any]]
) -> dict[int, Mapping[str, Any]]:
    """revision -> owned ReplicaSet; ReplicaSets of other owners or without a revision ignored."""
    found: dict[int, Mapping[str, Any]] = {}
    for replicaset in replicasets:
        if not is_owned(replicaset, deployment):
            continue
        revision = _revision(replicaset)
        if revision is not None:
            found[revision] = replicaset
    return found


def current_revision(
    deployment: Mapping[str, Any], replicasets: Sequence[Mapping[str, Any]] = ()
) -> int | None:
    """The Deployment's revision annotation, else the highest revision of its ReplicaSets."""
    revision = _revision(deployment)
    if revision is not None:
        return revision
    revisions = history(deployment, replicasets)
    return max(revisions) if revisions else None


def revision_of(
    deployment: Mapping[str, Any],
    replicasets: Sequence[Mapping[str, Any]],
    *,
    name: str | None = None,
    template_hash: str | None = None,
) -> int | None:
    """The revision an owned ReplicaSet carries NOW, found by name or else by template hash."""
    owned = history(deployment, replicasets)
    if name:
        for revision, replicaset in owned.items():
            if _metadata(replicaset).get("name") == name:
                return revision
    if template_hash:
        for revision, replicaset in owned.items():
            if _labels(_template(replicaset)).get(HASH_LABEL) == template_hash:
                return revision
    return None


def _labels(template: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = _metadata(template).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def template_without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a pod template without the ``pod-template-hash`` label."""
    result = copy.deepcopy(dict(template))
    meta = result.get("metadata")
    if isinstance(meta, dict):
        labels = meta.get("labels")
        if isinstance(labels, dict):
            labels.pop(HASH_LABEL, None)
    return result


def _normalised(template: Mapping[str, Any]) -> dict[str, Any]:
    result = template_without_hash(template)
    meta = result.get("metadata")
    # An empty label map and no label map are the same template once the hash is gone.
    if isinstance(meta, dict) and meta.get("labels") == {}:
        del meta["labels"]
    return result


def templates_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Pod templates equal once both lose their ``pod-template-hash`` label."""
    return _normalised(a) == _normalised(b)


def plan(
    deployment: Mapping[str, Any],
    replicasets: Sequence[Mapping[str, Any]],
    *,
    to_revision: int = 0,
) -> Plan:
    """The rollback of ``deployment`` to ``to_revision`` (0: the previous one).

    Raises UndoRefused for a paused Deployment or a revision that is not in its history.
    """
    name = _metadata(deployment).get("name", "?")
    spec = deployment.get("spec")
    if isinstance(spec, Mapping) and spec.get("paused") is True:
        raise UndoRefused(
            f"deployment {name!r}: you cannot rollback a paused deployment; resume it first"
        )
    owned = history(deployment, replicasets)
    if to_revision < 0:
        raise UndoRefused(f"deployment {name!r}: revision must be 0 or positive, not {to_revision}")
    if to_revision == 0:
        current = current_revision(deployment, replicasets)
        earlier = [r for r in owned if current is None or r < current]
        if not earlier:
            raise UndoRefused(f"deployment {name!r}: no previous revision found in its history")
        to_revision = max(earlier)
    replicaset = owned.get(to_revision)
    if replicaset is None:
        known = ", ".join(str(r) for r in sorted(owned)) or "none"
        raise UndoRefused(
            f"deployment {name!r}: unable to find revision {to_revision} in its history "
            f"(revisions of its ReplicaSets: {known})"
        )
    rs_template = _template(replicaset)
    rs_name = str(_metadata(replicaset).get("name", ""))
    template_hash = _labels(rs_template).get(HASH_LABEL)
    hash_text = str(template_hash) if template_hash is not None else None
    if templates_equal(rs_template, _template(deployment)):
        return Plan(
            outcome=Outcome.SKIPPED,
            revision=to_revision,
            replicaset=rs_name,
            template_hash=hash_text,
            reason=f"skipped rollback (current template already matches revision {to_revision})",
        )
    annotations: dict[str, str] = {}
    deployment_annotations = _annotations(deployment)
    for key in SKIPPED_ANNOTATIONS:
        if key in deployment_annotations:
            annotations[key] = str(deployment_annotations[key])
    for key, value in _annotations(replicaset).items():
        if key not in SKIPPED_ANNOTATIONS:
            annotations[key] = str(value)
    return Plan(
        outcome=Outcome.PATCH,
        revision=to_revision,
        replicaset=rs_name,
        template_hash=hash_text,
        reason=f"rolled back to revision {to_revision} (ReplicaSet {rs_name})",
        template=template_without_hash(rs_template),
        annotations=annotations,
    )


def json_patch(result: Plan) -> list[dict[str, Any]]:
    """The JSON patch (RFC 6902) kubectl sends for ``result``; empty when it was skipped.

    The annotations use ``add`` rather than kubectl's ``replace``: the same effect on a
    Deployment that has annotations, and no failure on one that has none.
    """
    if result.skipped:
        return []
    return [
        {"op": "replace", "path": "/spec/template", "value": copy.deepcopy(dict(result.template))},
        {"op": "add", "path": "/metadata/annotations", "value": dict(result.annotations)},
    ]
