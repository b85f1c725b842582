"""Expanding ``presets:`` entries of ``rollsafe.yaml`` into ordinary rules.

A ``presets`` entry names a shipped preset (``catalog``), the targets it applies to, which of
the file's probes provide the preset's signals, and optional parameter overrides and exclusions.
Loading (``rollsafe.config.loading``) expands every entry into rules with ids
``<prefix>.<rule>`` (the prefix is the entry's ``id``, by default the preset's name) and appends
them to ``rules``, so everything downstream (the judge live, ``rollsafe backtest``, ``config
check``) sees plain rules. Nothing else changes: a preset cannot touch probes, drivers or policy.

What is left out, on purpose, instead of failing:

* a rule reading a signal the entry does not bind (optional signals: bind only what you have);
* a rule listed in ``exclude``;
* a composite that no longer has enough rules (``all``: every listed rule must be kept;
  ``any``: one; ``at_least``: ``count``), others keep the rules that are left;
* a regression rule's ``slow.confirm`` naming a rule left out: that slow tier judges alone;
* a regression rule's ``volume`` whose rate signal is not bound: every bucket counts.

``problems`` reports mistakes with their line for ``loading``; ``apply`` expands a validated
configuration (and is idempotent: applying twice adds nothing the second time).
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic
import yaml

from rollsafe.config import explaining, locating, models
from rollsafe.config.presets import catalog
from rollsafe.domain import errors

__all__ = ["apply", "expand", "problems"]

PathPart = locating.PathPart
Found = list[tuple[tuple[PathPart, ...], str]]  # (path in the file, message)
_RULES: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(models.Rule)
_USES: pydantic.TypeAdapter[models.PresetUse] = pydantic.TypeAdapter(models.PresetUse)


def expand(
    use: models.PresetUse,
    *,
    index: int,
    probes: Mapping[str, str],
    taken: set[str],
) -> tuple[list[Any], Found]:
    """The rules ``use`` adds, and what is wrong with it (paths under ``presets[index]``).

    ``probes`` maps probe names to their kinds; ``taken`` holds the rule ids already used (it
    is updated with the new ones, so that two entries cannot add the same id).
    """
    at: tuple[PathPart, ...] = ("presets", index)
    found: Found = []
    try:
        preset = catalog.get(use.preset)
    except KeyError:
        names = catalog.names()
        hint = explaining.did_you_mean(use.preset, names)
        found.append(
            (
                (*at, "preset"),
                f"unknown preset {use.preset!r}{hint} (expected one of: {', '.join(names)})",
            )
        )
        return [], found

    _check_signals(use, preset, at=at, probes=probes, found=found)
    _check_params(use, preset, at=at, found=found)
    rule_ids = [rule.id for rule in preset.rules]
    for position, name in enumerate(use.exclude):
        if name not in rule_ids:
            hint = explaining.did_you_mean(name, rule_ids)
            found.append(
                (
                    (*at, "exclude", position),
                    f"preset {preset.name} has no rule {name!r}{hint} "
                    f"(expected one of: {', '.join(rule_ids)})",
                )
            )
    if found:
        return [], found

    kept = _kept(preset, bound=set(use.signals), excluded=set(use.exclude))
    prefix = use.id or preset.name
    values: dict[str, Any] = {name: param.default for name, param in preset.params.items()}
    values.update(use.params)
    values.update(use.signals)
    out: list[Any] = []
    for rule in preset.rules:
        if rule.id not in kept:
            continue
        rule_id = f"{prefix}.{rule.id}"
        raw = {key: _substitute(value, values) for key, value in rule.body.items()}
        raw["id"] = rule_id
        raw["targets"] = use.targets.model_dump()
        if rule.children:
            raw["rules"] = [f"{prefix}.{child}" for child in rule.children if child in kept]
        _optional_parts(rule, raw, kept=kept, prefix=prefix, bound=set(use.signals))
        if rule_id in taken:
            found.append(
                (
                    (*at, "id") if use.id else at,
                    f"rule id {rule_id!r} is already used (expected a unique `id` prefix for "
                    "this preset entry)",
                )
            )
            continue
        try:
            out.append(_RULES.validate_python(raw))
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            loc = list(first["loc"])
            if loc and loc[0] == raw.get("kind"):
                loc = loc[1:]  # the union's tag: the kind is known, the field is what matters
            where = locating.format_path([p for p in loc if isinstance(p, str | int)])
            found.append(
                (
                    _param_path(rule, loc, use, at=at),
                    f"rule {rule.id} of preset {preset.name} is not valid with these "
                    f"parameters: {where}: {explaining.lower_first(str(first['msg']))}",
                )
            )
            continue
        taken.add(rule_id)
    return out, found


def apply(config: models.RollsafeConfig) -> models.RollsafeConfig:
    """``config`` with the rules of its ``presets`` appended; ConfigError on a mistake."""
    if not config.presets:
        return config
    probes = {probe.name: probe.kind for probe in config.probes}
    existing = {rule.id: rule for rule in config.rules}
    added: list[Any] = []
    found: Found = []
    taken: set[str] = set()
    for index, use in enumerate(config.presets):
        rules, problems_found = expand(use, index=index, probes=probes, taken=taken)
        found.extend(problems_found)
        for rule in rules:
            if rule.id not in existing:
                added.append(rule)
            elif existing[rule.id] != rule:
                found.append((("presets", index), f"rule id {rule.id!r} is already used"))
            # An identical rule is there already: this configuration was expanded before.
    if found:
        lines = [f"{locating.format_path(path)}: {message}" for path, message in found]
        raise errors.ConfigError(lines[0], problems=lines)
    if not added:
        return config
    return models.RollsafeConfig.model_validate(
        {**config.model_dump(by_alias=True, exclude={"rules"}), "rules": [*config.rules, *added]}
    )


def problems(root: yaml.Node, data: Mapping[Any, Any]) -> list[locating.Problem]:
    """Mistakes in the ``presets`` section of a raw document, each placed on its line.

    Entries that are not valid by themselves are skipped (the models report them); probes and
    rule ids are taken from the raw data, like the other cross-section checks.
    """
    entries = data.get("presets")
    if not isinstance(entries, list):
        return []
    probes: dict[str, str] = {}
    for item in _mappings(data.get("probes")):
        name, kind = item.get("name"), item.get("kind")
        if isinstance(name, str):
            probes.setdefault(name, kind if isinstance(kind, str) else "")
    taken = {item["id"] for item in _mappings(data.get("rules")) if isinstance(item.get("id"), str)}
    out: list[locating.Problem] = []
    for index, item in enumerate(entries):
        try:
            use = _USES.validate_python(item)
        except pydantic.ValidationError:
            continue
        _, found = expand(use, index=index, probes=probes, taken=taken)
        out.extend(locating.problem(root, path, message) for path, message in found)
    return out


# --------------------------------------------------------------------------- internals


def _check_signals(
    use: models.PresetUse,
    preset: catalog.Preset,
    *,
    at: tuple[PathPart, ...],
    probes: Mapping[str, str],
    found: Found,
) -> None:
    known = list(preset.signals)
    for name, probe in use.signals.items():
        signal = preset.signals.get(name)
        path = (*at, "signals", name)
        if signal is None:
            hint = explaining.did_you_mean(name, known)
            found.append(
                (
                    path,
                    f"preset {preset.name} has no signal {name!r}{hint} "
                    f"(expected one of: {', '.join(known)})",
                )
            )
            continue
        if signal.kinds is None:
            continue  # an alert source: named by an intake endpoint, not a probe
        if probe not in probes:
            hint = explaining.did_you_mean(probe, list(probes))
            choices = ", ".join(probes) if probes else "none is defined"
            found.append((path, f"unknown probe {probe!r}{hint} (expected one of: {choices})"))
        elif probes[probe] not in signal.kinds:
            found.append(
                (
                    path,
                    f"probe {probe!r} is a {probes[probe] or 'kindless'} probe (expected a "
                    f"probe of kind {', '.join(signal.kinds)} for {name}: "
                    f"{signal.means.rstrip('.')})",
                )
            )
    for name, signal in preset.signals.items():
        if signal.required and name not in use.signals:
            found.append(
                (
                    (*at, "signals"),
                    f"signal {name!r} is required by preset {preset.name} (expected "
                    f"`{name}: <probe name>`: {signal.means.rstrip('.')})",
                )
            )


def _check_params(
    use: models.PresetUse, preset: catalog.Preset, *, at: tuple[PathPart, ...], found: Found
) -> None:
    known = list(preset.params)
    for name, value in use.params.items():
        param = preset.params.get(name)
        path = (*at, "params", name)
        if param is None:
            hint = explaining.did_you_mean(name, known)
            found.append(
                (
                    path,
                    f"preset {preset.name} has no parameter {name!r}{hint} "
                    f"(expected one of: {', '.join(known)})",
                )
            )
        elif isinstance(param.default, str) != isinstance(value, str):
            wanted = "text" if isinstance(param.default, str) else "a number"
            found.append((path, f"got {value!r} (expected {wanted}, like {param.default!r})"))


def _param_path(
    rule: catalog.PresetRule,
    loc: Sequence[Any],
    use: models.PresetUse,
    *,
    at: tuple[PathPart, ...],
) -> tuple[PathPart, ...]:
    """Where a rule made invalid by the entry's parameters is reported: the parameter the
    failing field takes whole (``units: $units``) when the entry sets it, else ``params``."""
    field = rule.body.get(loc[0]) if loc and isinstance(loc[0], str) else None
    if isinstance(field, str) and field.startswith("$") and field[1:] in use.params:
        return (*at, "params", field[1:])
    return (*at, "params") if use.params else at


def _optional_parts(
    rule: catalog.PresetRule, raw: dict[str, Any], *, kept: set[str], prefix: str, bound: set[str]
) -> None:
    """Drop from ``raw`` what reads a rule or a signal left out: a slow tier confirmed by a
    rule left out judges alone; a ``volume`` whose rate is not bound counts every bucket."""
    if rule.confirm is not None:
        slow = dict(raw["slow"])
        slow.pop("confirm")
        if rule.confirm in kept:
            slow["confirm"] = f"{prefix}.{rule.confirm}"
        raw["slow"] = slow
    if rule.volume is not None and rule.volume not in bound:
        raw.pop("volume")


def _kept(preset: catalog.Preset, *, bound: set[str], excluded: set[str]) -> set[str]:
    """Ids of the preset's rules that apply: signals bound, not excluded, composites whole."""
    kept = {
        rule.id
        for rule in preset.rules
        if not rule.children
        and rule.id not in excluded
        and all(signal in bound for signal in rule.signals)
    }
    composites = [rule for rule in preset.rules if rule.children and rule.id not in excluded]
    changed = True
    while changed:  # composites of composites: settle in as many rounds as they are deep
        changed = False
        for rule in composites:
            if rule.id in kept:
                continue
            have = [child for child in rule.children if child in kept]
            if len(have) >= _needed(rule, len(rule.children)):
                kept.add(rule.id)
                changed = True
    return kept


def _needed(rule: catalog.PresetRule, listed: int) -> int:
    kind = rule.body.get("kind")
    if kind == "any":
        return 1
    if kind == "at_least":
        count = rule.body.get("count")
        return count if isinstance(count, int) else listed
    return listed


def _substitute(value: Any, values: Mapping[str, Any]) -> Any:
    """``$name`` placeholders: a whole value keeps its type, inside text it becomes text."""
    if isinstance(value, str):
        whole = value[1:] if value.startswith("$") else None
        if whole is not None and whole in values:
            return values[whole]
        return string.Template(value).safe_substitute({k: str(v) for k, v in values.items()})
    if isinstance(value, Mapping):
        return {key: _substitute(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    return value


def _mappings(section: Any) -> Sequence[Mapping[Any, Any]]:
    if not isinstance(section, list):
        return []
    return [item for item in section if isinstance(item, dict)]
