"""``rollsafe config check`` and ``rollsafe config schema``: exit codes, output, the schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import typer
import yaml
from typer.testing import CliRunner

from rollsafe.interfaces.cli import config_commands

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "rollsafe.yaml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_check_a_valid_file(runner):
    result = runner.invoke(config_commands.app, ["check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 3 targets, 7 probes, 5 rules, 1 driver\n"
    assert result.stderr == ""


def test_check_prints_every_problem_to_stderr_and_exits_2(runner, tmp_path):
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        "targets:\n  - id: a\n    driver: nope\nprobes:\n  - kind: host\n    name: cpu\n"
        "    metric: gpu\n",
        encoding="utf-8",
    )
    result = runner.invoke(config_commands.app, ["check", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        f"{path}:3: targets[0].driver: unknown driver 'nope' "
        "(expected the name of an entry in drivers, and none is defined)",
        f"{path}:7: probes[0].metric: 'gpu' is not allowed "
        "(expected one of: cpu, memory, disk_io, load)",
        "2 problems: nothing was started",
    ]


def test_check_a_missing_file_exits_2(runner, tmp_path):
    result = runner.invoke(config_commands.app, ["check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read: No such file or directory" in result.stderr


def test_summary_counts_in_the_singular_and_plural(tmp_path):
    path = tmp_path / "rollsafe.yaml"
    path.write_text("targets: [{id: a}]\n", encoding="utf-8")
    loaded = config_commands.load_or_exit(path)
    assert config_commands.summary(loaded.config) == "ok: 1 target, 0 probes, 0 rules, 0 drivers"


def test_load_or_exit_raises_exit_2(tmp_path, capsys):
    path = tmp_path / "rollsafe.yaml"
    path.write_text("probes: {}\n", encoding="utf-8")
    with pytest.raises(typer.Exit) as caught:
        config_commands.load_or_exit(path)
    assert caught.value.exit_code == 2
    assert f"{path}:1: probes: got a mapping (expected a list)" in capsys.readouterr().err


def test_schema_is_json_with_the_top_level_properties(runner):
    result = runner.invoke(config_commands.app, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"].startswith("rollsafe")
    core = {"version", "state_dir", "store", "policy", "targets", "probes", "rules", "drivers"}
    assert core <= set(schema["properties"])
    # every top-level section of the model is in the schema, under the name written in YAML
    from rollsafe.config import models

    written = {f.alias or name for name, f in models.RollsafeConfig.model_fields.items()}
    assert set(schema["properties"]) == written
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_accepts_the_example_and_rejects_a_typo(runner):
    schema = json.loads(runner.invoke(config_commands.app, ["schema"]).stdout)
    validator = jsonschema.Draft202012Validator(schema)
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert list(validator.iter_errors(example)) == []
    example["probes"][0]["intervall"] = "5s"
    assert list(validator.iter_errors(example)) != []


def test_schema_to_a_file(runner, tmp_path):
    out = tmp_path / "rollsafe.schema.json"
    result = runner.invoke(config_commands.app, ["schema", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == config_commands.json_schema()


def test_the_group_is_mounted_as_rollsafe_config(runner):
    from rollsafe.interfaces.cli import main

    result = runner.invoke(main.app, ["config", "check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 3 targets")
