"""kubectl's rollout undo, as a pure plan over Deployment and ReplicaSet dicts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollsafe.execute.kube import undo

UID = "d-uid"
REV = undo.REVISION_ANNOTATION


def template(image: str, *, pod_hash: str | None = None, **labels: str) -> dict[str, Any]:
    all_labels = {"app": "shop", **labels}
    if pod_hash is not None:
        all_labels[undo.HASH_LABEL] = pod_hash
    return {
        "metadata": {"labels": all_labels},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def deployment(image: str, *, revision: int | None, paused: bool = False, **annotations: str):
    meta: dict[str, Any] = {"name": "shop", "uid": UID, "annotations": dict(annotations)}
    if revision is not None:
        meta["annotations"][REV] = str(revision)
    return {"metadata": meta, "spec": {"paused": paused, "template": template(image)}}


def replicaset(
    name: str,
    image: str,
    revision: int | None,
    *,
    owner: str = UID,
    controller: bool = True,
    **annotations: str,
) -> dict[str, Any]:
    notes = dict(annotations)
    if revision is not None:
        notes[REV] = str(revision)
    return {
        "metadata": {
            "name": name,
            "annotations": notes,
            "ownerReferences": [
                {"kind": "Deployment", "name": "shop", "uid": owner, "controller": controller}
            ],
        },
        "spec": {"template": template(image, pod_hash=name.rsplit("-", 1)[-1])},
    }


HISTORY = [
    replicaset("shop-aaa", "shop:1", 1, note="one"),
    replicaset("shop-bbb", "shop:2", 2, note="two"),
    replicaset("shop-ccc", "shop:3", 3, note="three"),
]


def test_previous_revision_is_the_highest_below_the_current() -> None:
    plan = undo.plan(deployment("shop:3", revision=3), HISTORY)
    assert plan.outcome is undo.Outcome.PATCH
    assert plan.revision == 2
    assert plan.replicaset == "shop-bbb"
    assert plan.template_hash == "bbb"
    assert plan.template == template("shop:2")  # no pod-template-hash
    assert plan.reason == "rolled back to revision 2 (ReplicaSet shop-bbb)"


def test_previous_revision_skips_gaps_and_ignores_higher_ones() -> None:
    history = [HISTORY[0], HISTORY[2], replicaset("shop-eee", "shop:5", 5)]
    plan = undo.plan(deployment("shop:3", revision=3), history)
    assert plan.revision == 1


def test_explicit_revision() -> None:
    plan = undo.plan(deployment("shop:3", revision=3), HISTORY, to_revision=1)
    assert plan.replicaset == "shop-aaa"
    assert undo.json_patch(plan) == [
        {"op": "replace", "path": "/spec/template", "value": template("shop:1")},
        {"op": "add", "path": "/metadata/annotations", "value": {REV: "3", "note": "one"}},
    ]


def test_current_revision_falls_back_to_the_highest_replicaset() -> None:
    plan = undo.plan(deployment("shop:3", revision=None), HISTORY)
    assert plan.revision == 2
    assert undo.current_revision(deployment("x", revision=None), HISTORY) == 3
    assert undo.current_revision(deployment("x", revision=None), []) is None


def test_annotations_copy_the_replicaset_but_keep_the_deployments_bookkeeping() -> None:
    rs = replicaset(
        "shop-aaa",
        "shop:1",
        1,
        **{
            "deployment.kubernetes.io/revision-history": "4,6",
            "deployment.kubernetes.io/desired-replicas": "9",
            "deployment.kubernetes.io/max-replicas": "10",
            "kubectl.kubernetes.io/last-applied-configuration": "{old}",
            "team": "team-a",
        },
    )
    current = deployment(
        "shop:3",
        revision=3,
        team="team-b",
        extra="dropped",
        **{
            "kubectl.kubernetes.io/last-applied-configuration": "{new}",
            "deployment.kubernetes.io/desired-replicas": "3",
        },
    )
    plan = undo.plan(current, [rs, HISTORY[2]], to_revision=1)
    assert dict(plan.annotations) == {
        REV: "3",
        "kubectl.kubernetes.io/last-applied-configuration": "{new}",
        "deployment.kubernetes.io/desired-replicas": "3",
        "team": "team-a",
    }


def test_skipped_when_the_template_already_matches() -> None:
    plan = undo.plan(deployment("shop:2", revision=3), HISTORY, to_revision=2)
    assert plan.skipped
    assert plan.reason == "skipped rollback (current template already matches revision 2)"
    assert undo.json_patch(plan) == []


def test_template_equality_ignores_only_the_hash_label() -> None:
    assert undo.templates_equal(template("a", pod_hash="x"), template("a"))
    assert undo.templates_equal(template("a", pod_hash="x"), template("a", pod_hash="y"))
    assert not undo.templates_equal(template("a"), template("b"))
    assert not undo.templates_equal(template("a", tier="web"), template("a"))
    bare = {"metadata": {"labels": {undo.HASH_LABEL: "x"}}, "spec": {}}
    assert undo.templates_equal(bare, {"metadata": {}, "spec": {}})


def test_paused_deployment_is_refused() -> None:
    with pytest.raises(undo.UndoRefused, match="cannot rollback a paused deployment; resume"):
        undo.plan(deployment("shop:3", revision=3, paused=True), HISTORY)


@pytest.mark.parametrize("revision", [4, 7])
def test_unknown_revision_is_refused(revision: int) -> None:
    with pytest.raises(undo.UndoRefused, match=f"unable to find revision {revision}"):
        undo.plan(deployment("shop:3", revision=3), HISTORY, to_revision=revision)


def test_no_previous_revision_is_refused() -> None:
    with pytest.raises(undo.UndoRefused, match="no previous revision"):
        undo.plan(deployment("shop:1", revision=1), HISTORY[:1])
    with pytest.raises(undo.UndoRefused, match="0 or positive"):
        undo.plan(deployment("shop:1", revision=1), HISTORY, to_revision=-1)


def test_only_replicasets_the_deployment_controls_count() -> None:
    history = [
        replicaset("shop-xxx", "evil:1", 1, owner="someone-else"),
        replicaset("shop-yyy", "evil:2", 2, controller=False),
        {"metadata": {"name": "orphan", "annotations": {REV: "2"}}, "spec": {}},
        replicaset("shop-zzz", "shop:2", None),  # no revision: not in the history
        replicaset("shop-www", "shop:2", None, **{REV: "two"}),  # malformed
        HISTORY[2],
    ]
    assert undo.history(deployment("shop:3", revision=3), history) == {3: HISTORY[2]}
    with pytest.raises(undo.UndoRefused, match="no previous revision"):
        undo.plan(deployment("shop:3", revision=3), history)
    no_uid = deployment("shop:3", revision=3)
    del no_uid["metadata"]["uid"]
    assert undo.history(no_uid, HISTORY) == {}


def test_revision_of_finds_a_renumbered_replicaset_by_name_then_hash() -> None:
    renumbered = [replicaset("shop-aaa", "shop:1", 4), HISTORY[1], HISTORY[2]]
    current = deployment("shop:1", revision=4)
    assert undo.revision_of(current, renumbered, name="shop-aaa") == 4
    assert undo.revision_of(current, renumbered, name="gone", template_hash="bbb") == 2
    assert undo.revision_of(current, renumbered, name="gone", template_hash="zzz") is None
    foreign = [replicaset("shop-aaa", "shop:1", 1, owner="other")]
    assert undo.revision_of(current, foreign, name="shop-aaa", template_hash="aaa") is None


def test_plan_does_not_mutate_its_inputs() -> None:
    current = deployment("shop:3", revision=3)
    before = copy.deepcopy((current, HISTORY))
    plan = undo.plan(current, HISTORY)
    undo.json_patch(plan)[0]["value"]["metadata"]["labels"]["x"] = "y"
    assert (current, HISTORY) == before


# --------------------------------------------------------------------------- properties

images = st.sampled_from(["shop:1", "shop:2", "shop:3", "shop:4"])
owners = st.sampled_from([UID, "other-uid"])


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    count = draw(st.integers(min_value=0, max_value=6))
    revisions = draw(st.lists(st.integers(1, 12), min_size=count, max_size=count, unique=True))
    sets = [
        replicaset(
            f"shop-h{index}",
            draw(images),
            revision,
            owner=draw(owners),
            controller=draw(st.booleans()),
        )
        for index, revision in enumerate(revisions)
    ]
    current = deployment(
        draw(images),
        revision=draw(st.one_of(st.none(), st.integers(1, 12))),
        paused=draw(st.booleans()),
    )
    return current, sets, draw(st.integers(0, 12))


@given(histories())
def test_property_never_touches_the_hash_nor_a_foreign_replicaset(
    case: tuple[dict[str, Any], list[dict[str, Any]], int],
) -> None:
    current, sets, to_revision = case
    try:
        plan = undo.plan(current, sets, to_revision=to_revision)
    except undo.UndoRefused:
        return
    assert current["spec"]["paused"] is False
    chosen = next(rs for rs in sets if rs["metadata"]["name"] == plan.replicaset)
    assert undo.is_owned(chosen, current)
    owner = chosen["metadata"]["ownerReferences"][0]
    assert owner["uid"] == UID
    assert owner["controller"] is True
    assert int(chosen["metadata"]["annotations"][REV]) == plan.revision
    if to_revision:
        assert plan.revision == to_revision
    for op in undo.json_patch(plan):
        if op["path"] == "/spec/template":
            assert undo.HASH_LABEL not in op["value"]["metadata"]["labels"]
            assert undo.templates_equal(op["value"], chosen["spec"]["template"])
        else:
            assert op["path"] == "/metadata/annotations"
    if plan.skipped:
        assert undo.templates_equal(chosen["spec"]["template"], current["spec"]["template"])
    # Applying the patch makes a second plan to the same revision a no-op (idempotent).
    if not plan.skipped:
        applied = copy.deepcopy(current)
        applied["spec"]["template"] = copy.deepcopy(dict(plan.template))
        assert undo.plan(applied, sets, to_revision=plan.revision).skipped
