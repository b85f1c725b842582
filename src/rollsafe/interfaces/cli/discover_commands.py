"""``rollsafe targets discover``: target entries for the configuration, found in a cloud by tag.

A fleet of cloud instances is listed from the cloud, not typed by hand: this command asks the
driver named by ``--driver`` for the instances carrying every ``--tag`` and prints one YAML
``targets`` entry per instance (id, address, labels, driver, and the ``vars`` the driver needs,
such as ``instance_id``), ready to paste under ``targets:``, or writes them to a file with
``--write``. It changes nothing in the cloud and nothing in the configuration file.

How a driver discovers is its own business: ``rollsafe.execute.registry.discoverer(kind)``
finds the ``discover(config, *, tags)`` function of the driver's module. Entries whose
instance is already a target of the configuration are marked with a comment, so pasting
everything again does not duplicate them silently.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import registry
from rollsafe.interfaces.cli import config_commands, context

EXIT_FAILED = 1  # the cloud could not be asked (permission, network): not a usage mistake

app = typer.Typer(no_args_is_help=True, help="Find targets in a cloud.")


@app.command("discover")
def discover(
    config: Path = typer.Option(
        ..., "--config", "-c", help="rollsafe.yaml holding the driver to ask"
    ),
    driver: str = typer.Option(
        ..., "--driver", help="Name of an entry of drivers: in the configuration, e.g. ec2"
    ),
    tag: list[str] = typer.Option(
        [],
        "--tag",
        help="KEY=VALUE the instances must carry (repeatable; KEY alone: any value)",
    ),
    write: Path | None = typer.Option(
        None, "--write", help="Write the entries to this file instead of printing them"
    ),
) -> None:
    """Print a targets: entry for every instance the driver finds with all the tags."""
    loaded = config_commands.load_or_exit(config)
    try:
        driver_config = loaded.config.driver(driver)
    except KeyError:
        known = ", ".join(d.name for d in loaded.config.drivers) or "none"
        context.fail(f"no driver named {driver!r} in {config} (its drivers: {known})")
    tags = parse_tags(tag)
    try:
        find = registry.discoverer(driver_config.kind)
    except errors.ConfigError as exc:
        context.fail(f"driver {driver!r}: {exc}")
    try:
        found = asyncio.run(find(driver_config, tags=tags))
    except errors.RollsafeError as exc:
        context.fail(f"discovery with driver {driver!r} failed: {exc}", code=EXIT_FAILED)
    text = render(found, configured=loaded.config.targets)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    shown = ", ".join(f"{k}={v}" if v else k for k, v in sorted(tags.items())) or "no tag"
    if write is not None:
        _write_atomic(write, text)
        err.print(f"{len(found)} target(s) with {shown} written to {write}")
    else:
        typer.echo(text, nl=False)
        err.print(f"{len(found)} target(s) with {shown}")


def parse_tags(given: list[str]) -> dict[str, str]:
    """``["env=prod", "team"]`` -> ``{"env": "prod", "team": ""}``; exits on a bad one."""
    tags: dict[str, str] = {}
    for item in given:
        key, _, value = item.partition("=")
        key = key.strip()
        if not key:
            context.fail(f"--tag {item!r}: expected KEY=VALUE or KEY")
        if key in tags:
            context.fail(f"--tag {key!r} is given twice")
        tags[key] = value
    return tags


def render(found: list[models.Target], *, configured: list[models.Target]) -> str:
    """YAML list entries, one per target; an already configured instance gets a comment."""
    by_instance = {str(t.vars["instance_id"]): t.id for t in configured if "instance_id" in t.vars}
    by_id = {t.id for t in configured}
    chunks: list[str] = []
    for target in found:
        entry = _entry(target)
        text = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True)
        instance = target.vars.get("instance_id")
        notes: list[str] = []
        if instance is not None and str(instance) in by_instance:
            notes.append(f"# already configured as target {by_instance[str(instance)]}")
        elif target.id in by_id:
            notes.append(f"# the id {target.id} is already used by another target")
        chunks.append("".join(f"{n}\n" for n in notes) + text)
    return "".join(chunks)


def _entry(target: models.Target) -> Mapping[str, Any]:
    dumped = target.model_dump(exclude_defaults=True)
    # Always in the same order, the id first: the entries are read by people.
    order = ("id", "address", "driver", "labels", "vars")
    return {k: dumped[k] for k in order if k in dumped}


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        Path(tmp).replace(path)
    except OSError as exc:
        context.fail(f"cannot write {path}: {exc.strerror or exc}")
