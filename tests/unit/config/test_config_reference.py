"""The configuration reference is generated from the models, complete, and committed current.

If ``test_the_committed_reference_is_current`` fails, the models changed: regenerate with
``rollsafe config reference --output docs/configuration-reference.md`` and commit the file.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pydantic
from typer.testing import CliRunner

from rollsafe.config import documenting, models
from rollsafe.interfaces.cli import config_commands

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "configuration-reference.md"


def test_every_field_has_a_description():
    assert documenting.fields_without_description() == []


def test_the_committed_reference_is_current():
    assert COMMITTED.read_text(encoding="utf-8") == documenting.reference(), (
        f"docs/configuration-reference.md is stale: run `{documenting.REGENERATE}`"
    )


def test_the_command_writes_what_the_generator_writes(tmp_path):
    out = tmp_path / "reference.md"
    result = CliRunner().invoke(config_commands.app, ["reference", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == documenting.reference()


def concrete_models() -> set[type[pydantic.BaseModel]]:
    """Every model class of rollsafe.config.models that a YAML entry can be (no bases).

    The package re-exports the classes of its section modules, so they are picked by module.
    """
    found = {
        value
        for value in vars(models).values()
        if inspect.isclass(value)
        and issubclass(value, pydantic.BaseModel)
        and value.__module__.startswith(models.__name__ + ".")
    }
    bases = {base for model in found for base in model.__mro__[1:]}
    return found - bases


def test_every_model_and_every_kind_is_in_the_reference():
    walked = {doc.model for doc in documenting.walk()}
    assert concrete_models() - walked == set()
    text = documenting.reference()
    # The sections that docs/configuration.md lacked before the reference existed.
    for section in ("(`access`)", "(`audit_shipping[]`", "(`rollouts[]`)", "(`presets[]`)"):
        assert section in text, section
    assert "`rules[]` with `kind: cohort`" in text
    notifier_kinds = {
        typing.get_args(member.model_fields["kind"].annotation)[0]
        for member in typing.get_args(typing.get_args(models.Notifier)[0])
    }
    for kind in notifier_kinds:
        assert f"`notifiers[]` with `kind: {kind}`" in text, kind
    store = text.split("## Store (`store`)")[1].split("\n## ")[0]
    for field in models.Store.model_fields:
        assert f"| `{field}` |" in store, field


def test_a_field_row_shows_type_default_required_and_allowed_values():
    text = documenting.reference()
    threshold = text.split("## ThresholdRule")[1].split("\n## ")[0]
    # `for` is the YAML name of `for_`; durations read as durations; literals are listed.
    assert "| `for` | duration (or none) | none | no |" in threshold
    assert "| `op` | string |  | yes |" in threshold
    assert "`>`, `>=`, `<`, `<=`, `==`, `!=`" in threshold
    policy = text.split("## Policy (`policy`)")[1].split("\n## ")[0]
    assert "| `step_timeout` | duration | `5m` | no |" in policy


def test_a_driver_kind_that_is_not_built_in_is_refused_and_the_docs_say_so(tmp_path):
    # Decided: the schema accepts built-in driver kinds only; plug-ins are not promised.
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        "targets: [{id: web-1, driver: files}]\n"
        "drivers:\n"
        "  - {name: files, kind: file, path: /srv}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(config_commands.app, ["check", "-c", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{path}:3: drivers[0].kind: unknown kind 'file' (expected one of: local, aws, tencent, "
        "aliyun, host, kubernetes; drivers from other packages (plug-ins) are not supported, "
        "see docs/drivers.md)"
    )
    drivers_doc = (ROOT / "docs" / "drivers.md").read_text(encoding="utf-8")
    assert '[project.entry-points."rollsafe.drivers"]' not in drivers_doc
    assert "**Third party: not supported.**" in drivers_doc
