"""The shipped presets: default rollback policies read from the YAML files next to this module.

A preset is a named set of rules written against *signals* (``health``, ``app_errors``,
``memory`` ...) instead of probe names, with *parameters* for its thresholds. A configuration
uses one by binding its signals to its own probes (see ``expanding``); the judge then sees
ordinary rules. Each parameter carries ``why``: the reason for its default, which
docs/presets.md repeats, so the policy can be reviewed without reading code.

Definition files (``<name>.yaml``)::

    name: web-service
    summary: one line
    signals:   {<signal>: {required: bool, kinds: [probe kinds] (absent: any source), means}}
    params:    {<param>: {default: number or string, why: text}}
    rules:     [rule mappings as in rollsafe.yaml; "$signal" / "$param" placeholders;
                optional `needs: [signals]`: kept only when these are bound too; a
                regression's `slow.confirm` names a rule of the preset; its `volume:
                {probe: $signal}` is dropped when that signal is not bound]

A placeholder that is a whole value (``probe: $health``, ``consecutive: $down_checks``)
takes the bound probe name or the parameter's value with its type; inside longer text it is
substituted as text. A rule is left out when a signal it reads is not bound; ``needs`` names
signals it does not read but is pointless without: a leaf that exists only to corroborate
another signal in a composite (``check-failed-now`` of web-service is there for
``oom-took-service-down``; without an OOM signal it would only warn on every failed check).
Definitions are checked when loaded (unique ids, known placeholders,
composites listing rules of the same preset), and a test expands every preset.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from rollsafe.domain import errors

__all__ = ["Param", "Preset", "PresetRule", "Signal", "get", "names", "placeholders"]

ParamValue = int | float | str
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_PLACEHOLDER = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True, slots=True)
class Signal:
    """What a preset needs to see; bound to one probe (or alert source) by the config."""

    name: str
    required: bool
    kinds: tuple[str, ...] | None  # probe kinds that can provide it; None: any source name
    means: str


@dataclass(frozen=True, slots=True)
class Param:
    """A threshold of the preset, with its default and the reason for it."""

    name: str
    default: ParamValue
    why: str


@dataclass(frozen=True, slots=True)
class PresetRule:
    """One rule of a preset, still with placeholders; ``body`` is everything but ``id``."""

    id: str
    body: Mapping[str, Any]
    needs: tuple[str, ...] = ()  # signals it does not read but is kept only with

    @property
    def confirm(self) -> str | None:
        """The rule a regression rule's slow tier needs to confirm it (``slow.confirm``)."""
        slow = self.body.get("slow")
        found = slow.get("confirm") if isinstance(slow, Mapping) else None
        return found if isinstance(found, str) else None

    @property
    def volume(self) -> str | None:
        """The signal a regression rule's ``volume`` reads (optional: left out unbound)."""
        found = self.body.get("volume")
        probe = found.get("probe") if isinstance(found, Mapping) else None
        match = _PLACEHOLDER.match(str(probe)) if probe is not None else None
        return match.group(1) if match else None

    @property
    def children(self) -> tuple[str, ...]:
        """Rule ids a composite lists (empty for a leaf rule)."""
        listed = self.body.get("rules")
        return tuple(listed) if isinstance(listed, list) else ()

    @property
    def signals(self) -> tuple[str, ...]:
        """Signals that must be bound for the rule to be kept: placeholders used as its
        ``probe`` (or an alert rule's ``source``), then its ``needs``."""
        found = []
        for key in ("probe", "source"):
            match = _PLACEHOLDER.match(str(self.body.get(key, "")))
            if match:
                found.append(match.group(1))
        return (*found, *self.needs)


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    summary: str
    signals: Mapping[str, Signal]
    params: Mapping[str, Param]
    rules: tuple[PresetRule, ...]


def names() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(_catalog())


def get(name: str) -> Preset:
    """The preset called ``name``; KeyError when there is none."""
    return _catalog()[name]


def placeholders(value: Any) -> Iterator[str]:
    """Every ``$name`` used anywhere inside ``value`` (strings, lists, mappings)."""
    if isinstance(value, str):
        for match in string.Template.pattern.finditer(value):
            found = match.group("named") or match.group("braced")
            if found:
                yield found
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from placeholders(item)
    elif isinstance(value, list):
        for item in value:
            yield from placeholders(item)


@functools.cache
def _catalog() -> dict[str, Preset]:
    found: dict[str, Preset] = {}
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".yaml"):
            preset = _parse(entry.name, yaml.safe_load(entry.read_text(encoding="utf-8")))
            found[preset.name] = preset
    return found


def _parse(file: str, data: Any) -> Preset:
    """A preset from its definition; ConfigError on a broken definition (a bug in rollsafe)."""

    def broken(message: str) -> errors.ConfigError:
        return errors.ConfigError(f"shipped preset {file} is broken: {message}")

    if not isinstance(data, dict):
        raise broken("not a mapping")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or f"{name}.yaml" != file:
        raise broken("`name` must be the file name without .yaml")
    signals = {
        key: Signal(
            name=key,
            required=bool(spec.get("required", False)),
            kinds=tuple(spec["kinds"]) if "kinds" in spec else None,
            means=str(spec.get("means", "")),
        )
        for key, spec in (data.get("signals") or {}).items()
    }
    params = {
        key: Param(name=key, default=spec["default"], why=" ".join(str(spec["why"]).split()))
        for key, spec in (data.get("params") or {}).items()
    }
    if set(signals) & set(params):
        raise broken(f"names used as both signal and parameter: {set(signals) & set(params)}")
    rules: list[PresetRule] = []
    for raw in data.get("rules") or []:
        rule_id = raw.get("id")
        body = {k: v for k, v in raw.items() if k not in {"id", "needs"}}
        if not isinstance(rule_id, str) or any(r.id == rule_id for r in rules):
            raise broken(f"rule id {rule_id!r} missing or repeated")
        unknown = set(placeholders(body)) - set(signals) - set(params)
        if unknown:
            raise broken(f"rule {rule_id} uses unknown placeholders {sorted(unknown)}")
        needs = raw.get("needs", [])
        if not isinstance(needs, list) or not set(needs) <= set(signals):
            raise broken(f"rule {rule_id}: `needs` must list signals of the preset")
        rules.append(PresetRule(id=rule_id, body=body, needs=tuple(needs)))
    ids = {r.id for r in rules}
    for rule in rules:
        if set(rule.children) - ids:
            raise broken(f"rule {rule.id} lists rules that are not in the preset")
        if rule.confirm is not None and (rule.confirm not in ids or rule.confirm == rule.id):
            raise broken(f"rule {rule.id}: slow.confirm must name another rule of the preset")
    return Preset(
        name=name,
        summary=" ".join(str(data.get("summary", "")).split()),
        signals=signals,
        params=params,
        rules=tuple(rules),
    )
