"""Loading ``rollsafe.yaml``: the edge where a file a person wrote becomes typed models.

Everything the loop does starts from this file, so a mistake in it must be caught here, before
anything runs, and reported so precisely that it can be fixed without guessing. ``load``
therefore reports *every* problem it can find, each as one line::

    rollsafe.yaml:14: probes[2].interval: '5 minutes' is not a duration (expected e.g. ...)

The text is parsed once into a node tree that remembers lines (``locating``); the data goes
through the models, whose errors are explained field by field (``explaining``); then the checks
across sections run (``cross_checking``), and every kind whose optional extra is not installed
is named with its pip command (``extras``). All problems are sorted by line and raised together.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic

from rollsafe.config import cross_checking, explaining, extras, locating, models, presets

__all__ = ["LoadedConfig", "load"]


@dataclasses.dataclass(frozen=True)
class LoadedConfig:
    """A configuration that passed every check, with where it came from.

    ``path`` is absolute; ``state_dir`` is the configured one, resolved against the directory
    of the configuration file (not against the directory rollsafe was started from).
    """

    config: models.RollsafeConfig
    path: Path
    state_dir: Path


def load(
    path: Path, *, require_secrets: bool = False, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Read, validate and cross-check the configuration file at ``path``.

    Raises ``rollsafe.domain.errors.ConfigError`` whose ``problems`` holds every mistake
    found, one ``FILE:LINE: field.path: what is wrong (what was expected)`` line each.
    ``require_secrets``: also a problem, every ``*_env`` field naming a variable that is not
    set (or empty) in ``environ`` (default ``os.environ``): what ``config check`` and
    ``rollsafe run`` need, unlike commands that only read the store.
    """
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problem = f"{name}: (file): not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise locating.config_error(name, [problem]) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        problem = f"{name}: (file): cannot read: {reason} (expected a readable YAML file)"
        raise locating.config_error(name, [problem]) from exc

    document = locating.parse(name, text)
    found = list(document.duplicate_keys)
    config: models.RollsafeConfig | None = None
    try:
        config = models.RollsafeConfig.model_validate(document.data)
    except pydantic.ValidationError as exc:
        found.extend(explaining.explain(document.root, exc.errors()))
    if isinstance(document.data, dict):
        checker = cross_checking.Checker(document.root, document.data)
        checker.run()
        # The models report a duplicate id on the whole list; the checker names the entry.
        found = [
            p
            for p in found
            if not (p.path in checker.duplicate_sections and p.message.startswith("duplicate "))
        ]
        found.extend(checker.problems)
        found.extend(presets.problems(document.root, document.data))
        if require_secrets:
            found.extend(_unset_secrets(document, os.environ if environ is None else environ))
    if config is not None:
        # A kind whose optional extra is missing would fail later inside its driver.
        found.extend(extras.problems(config, document.root))

    if found or config is None:
        raise locating.config_error(name, [p.format(name) for p in sorted(set(found))])

    # Presets become ordinary rules here, so everything downstream sees plain rules.
    config = presets.apply(config)
    absolute = path.absolute()
    state_dir = (absolute.parent / config.state_dir.expanduser()).resolve()
    return LoadedConfig(config=config, path=absolute, state_dir=state_dir)


def _unset_secrets(
    document: locating.Document, environ: Mapping[str, str]
) -> list[locating.Problem]:
    """Every ``*_env`` field whose variable is not set or empty, placed on its line."""
    found: list[locating.Problem] = []

    def walk(node: Any, at: tuple[locating.PathPart, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key.endswith("_env") and isinstance(value, str):
                    if not environ.get(value):
                        found.append(
                            locating.problem(
                                document.root,
                                (*at, key),
                                f"environment variable {value} is not set or empty "
                                "(expected the secret it names, in the environment)",
                            )
                        )
                else:
                    walk(value, (*at, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*at, index))

    walk(document.data, ())
    return found
