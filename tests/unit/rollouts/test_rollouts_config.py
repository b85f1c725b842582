"""``rollouts:`` in rollsafe.yaml: plans load, and mistakes are named by line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollsafe.config import loading
from rollsafe.domain import errors

BASE = """\
targets:
  - id: web-1
    labels: {role: web}
    driver: app
  - id: web-2
    labels: {role: web}
    driver: app
probes:
  - kind: http
    name: health
    url: http://{address}:8080/health
rules:
  - kind: ratio
    id: http-5xx
    severity: critical
    probe: health
    when: {field: status, op: ">=", value: 500}
    above: 0.2
  - kind: cohort
    id: canary-worse
    severity: critical
    probe: health
    aggregate: ratio
    when: {field: status, op: ">=", value: 500}
    window: 5m
    max_increase: 2
drivers:
  - kind: local
    name: app
    directory: /srv/{id}
    upgrade: [apt-get, install, -y, shop-api]
rollouts:
  - name: shop-api
    targets: {labels: {role: web}}
    waves: [1, 10%, 50%, 100%]
    bake: 10m
    bake_rules: [http-5xx, canary-worse]
    budget:
      per_wave: {max_failure_ratio: 0.1}
      overall: {max_failures: 2}
    on_halt: rollback_all
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "rollsafe.yaml"
    path.write_text(text, encoding="utf-8")
    return loading.load(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(errors.ConfigError) as caught:
        load(tmp_path, text)
    prefix = f"{tmp_path / 'rollsafe.yaml'}:"
    return [p.removeprefix(prefix) for p in caught.value.problems]


def edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def test_a_plan_loads(tmp_path):
    plan = load(tmp_path, BASE).config.rollout("shop-api")
    assert plan.wave_sizes() == [1, "10%", "50%", "100%"]
    assert plan.bake == 600.0
    assert plan.budget.per_wave.max_failure_ratio == 0.1
    assert plan.budget.overall.max_failures == 2
    assert plan.on_halt == "rollback_all"
    assert plan.max_parallel == 10


def test_defaults_halt_at_the_first_failure(tmp_path):
    text = BASE[: BASE.index("    bake: 10m")]
    plan = load(tmp_path, text).config.rollout("shop-api")
    assert plan.budget.overall.max_failures == 0
    assert plan.budget.per_wave.max_failures is None
    assert plan.on_halt == "rollback_failed"
    assert plan.bake_rules == []


def test_unknown_bake_rule(tmp_path):
    (problem,) = problems(tmp_path, edit("[http-5xx, canary-worse]", "[http-5xxx]"))
    assert problem.startswith("37: rollouts[0].bake_rules[0]: unknown rule 'http-5xxx'")
    assert "did you mean 'http-5xx'" in problem


def test_upgrade_override_for_an_unknown_driver(tmp_path):
    text = edit("    bake: 10m\n", "    bake: 10m\n    upgrade: {ap: [x]}\n")
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("37: rollouts[0].upgrade.ap: unknown driver 'ap'")


def test_upgrade_override_with_an_unknown_template_variable(tmp_path):
    text = edit("    bake: 10m\n", "    bake: 10m\n    upgrade: {app: [x, '{release}']}\n")
    (problem,) = problems(tmp_path, text)
    assert "rollouts[0].upgrade.app: unknown template variable {release}" in problem


def test_a_selected_target_that_cannot_be_upgraded(tmp_path):
    text = edit("    upgrade: [apt-get, install, -y, shop-api]\n", "")
    (problem,) = problems(tmp_path, text)
    assert "driver 'app' of target 'web-1' has no `upgrade` command" in problem


def test_the_plan_may_give_the_upgrade_command_itself(tmp_path):
    text = edit("    upgrade: [apt-get, install, -y, shop-api]\n", "")
    text = text.replace("    bake: 10m\n", "    bake: 10m\n    upgrade: {app: 'deploy {id}'}\n")
    assert load(tmp_path, text).config.rollout("shop-api").upgrade == {"app": "deploy {id}"}


@pytest.mark.parametrize(
    ("waves", "message"),
    [
        ("[10, 5]", "wave sizes are cumulative and must grow: 10 is followed by 5"),
        ("[50%, 10%]", "must grow: 50% is followed by 10%"),
        ("[0%]", "a wave of 0% is not a share of the fleet"),
        ("[]", "has 0 items (expected at least 1)"),
    ],
)
def test_bad_waves(tmp_path, waves, message):
    found = problems(tmp_path, edit("[1, 10%, 50%, 100%]", waves))
    assert any(message in p for p in found), found


def test_duplicate_plan_names(tmp_path):
    text = BASE + "  - name: shop-api\n    waves: [100%]\n"
    found = problems(tmp_path, text)
    assert any("duplicate rollout name 'shop-api'" in p for p in found), found
