"""``rollsafe config``: check a configuration file; print its JSON Schema, or its reference.

Every other command that reads ``rollsafe.yaml`` goes through ``load_or_exit``, so a broken
file is always reported the same way (every problem, one ``FILE:LINE: field: ...`` line each,
on stderr) and always stops the command with exit code 2 before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from rollsafe.config import loading, models
from rollsafe.domain import errors

__all__ = ["EXIT_INVALID", "app", "check", "load_or_exit", "reference", "schema", "summary"]

EXIT_INVALID = 2  # like a usage error: the input is wrong, nothing was started
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

app = typer.Typer(
    no_args_is_help=True,
    help="Check a configuration file; print its JSON Schema or its reference.",
)


def load_or_exit(path: Path, *, require_secrets: bool = False) -> loading.LoadedConfig:
    """The loaded configuration, or every problem printed to stderr and exit code 2.

    ``require_secrets``: every ``*_env`` variable the file names must be set (``config
    check`` and ``run``); commands that only read the store do not need the secrets.
    """
    try:
        return loading.load(path, require_secrets=require_secrets)
    except errors.ConfigError as exc:
        _print_problems(exc)
        raise typer.Exit(EXIT_INVALID) from exc


def summary(config: models.RollsafeConfig) -> str:
    """One line describing a valid configuration: ``ok: 3 targets, 4 probes, ...``."""
    counts = (
        (len(config.targets), "target"),
        (len(config.probes), "probe"),
        (len(config.rules), "rule"),
        (len(config.drivers), "driver"),
    )
    return "ok: " + ", ".join(f"{n} {noun}{'' if n == 1 else 's'}" for n, noun in counts)


@app.command("check")
def check(
    file: Path | None = typer.Argument(None, help="The configuration file, e.g. rollsafe.yaml"),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="The configuration file (as every other command takes it)"
    ),
) -> None:
    """Validate FILE (or -c FILE): exit 0 with a summary, or print every problem and exit 2.

    Includes the environment: a secret variable the file names (token_env, secret_env,
    password_env ...) that is not set here is a problem too."""
    # Both spellings: every other command takes -c, and the positional form is the short one.
    if file is not None and config is not None and file != config:
        raise typer.BadParameter(
            f"two different files given ({file} and -c {config}): check one at a time"
        )
    chosen = file if file is not None else config
    if chosen is None:
        raise typer.BadParameter("give the file to check: rollsafe config check -c FILE")
    loaded = load_or_exit(chosen, require_secrets=True)
    typer.echo(summary(loaded.config))


@app.command("schema")
def schema(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of stdout"
    ),
) -> None:
    """Print the JSON Schema of rollsafe.yaml (for editor completion and validation)."""
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@app.command("reference")
def reference(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of stdout"
    ),
) -> None:
    """Print the reference of every configuration field (markdown), generated from the models."""
    from rollsafe.config import documenting

    text = documenting.reference()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def json_schema() -> dict[str, object]:
    """The JSON Schema of the configuration file, keyed by the names written in YAML."""
    body = models.RollsafeConfig.model_json_schema(by_alias=True)
    body.pop("title", None)
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "rollsafe configuration (rollsafe.yaml)",
        **body,
    }


def _print_problems(exc: errors.ConfigError) -> None:
    # Problem lines are printed verbatim: no markup (``probes[2]`` is not a Rich tag), no
    # wrapping, so that editors and CI annotations can parse FILE:LINE from each line.
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for problem in exc.problems:
        console.print(problem, markup=False)
    count = len(exc.problems)
    noun = "problem" if count == 1 else "problems"
    console.print(f"[bold red]{count} {noun}[/]: nothing was started")
