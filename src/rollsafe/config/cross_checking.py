"""Checks across sections that the models cannot make one entry at a time.

A target's driver must exist, a rule's probe must exist, composite rules must name existing
rules without loops, templates must render for every target they will be rendered for,
commands must split into words, regexes must compile, names must be unique. These run on every
entry that is valid by itself, so they are reported together with the models' own errors.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import typing
import urllib.parse
from typing import Any

import pydantic
import yaml

from rollsafe.config import explaining, locating, models

__all__ = ["Checker"]

PathPart = locating.PathPart
_TARGETS: pydantic.TypeAdapter[models.Target] = pydantic.TypeAdapter(models.Target)
_PROBES: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(models.Probe)
_DRIVERS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(models.Driver)
_PLANS: pydantic.TypeAdapter[models.RolloutPlan] = pydantic.TypeAdapter(models.RolloutPlan)
_NAME_KEYS = {
    "targets": "id",
    "probes": "name",
    "rules": "id",
    "drivers": "name",
    "notifiers": "name",
    "intake": "name",
    "rollouts": "name",
}
_TARGET_VARS: dict[str, tuple[str, ...]] = {
    # driver kind -> the `vars` every target of such a driver must have
    "aws": ("instance_id",),
    "aliyun": ("instance_id",),
    "tencent": ("instance_id",),
}
_WHAT = {
    "targets": "target id",
    "probes": "probe name",
    "rules": "rule id",
    "drivers": "driver name",
    "notifiers": "notifier name",
    "intake": "intake endpoint name",
    "rollouts": "rollout name",
}


class Checker:
    """Checks across sections, on every entry that is valid by itself.

    Names are taken from the raw data, so an entry with an unrelated mistake still counts as
    defined and does not cause a second, misleading "unknown name" error elsewhere.
    """

    def __init__(self, root: yaml.Node, data: dict[Any, Any]) -> None:
        self.root = root
        self.data = data
        self.problems: list[locating.Problem] = []
        self.duplicate_sections: set[str] = set()

    def run(self) -> None:
        names = {section: self._names(section) for section in _NAME_KEYS}
        # A repeated target id is reported as such; only the first one is checked further.
        by_id: dict[str, models.Target] = {}
        for _, target in self._valid("targets", _TARGETS):
            by_id.setdefault(target.id, target)
        targets = list(by_id.values())
        drivers: dict[str, tuple[int, Any]] = {}
        for index, driver in self._valid("drivers", _DRIVERS):
            drivers.setdefault(driver.name, (index, driver))
        # A section that is not a list at all is reported once by the models; checking
        # references against it would only add one misleading line per reference.
        usable = {s for s in _NAME_KEYS if isinstance(self.data.get(s, []), list)}
        if "drivers" in usable:
            self._target_drivers(names["drivers"])
        if "probes" in usable:
            sources = self._intake_sources() if "intake" in usable else []
            self._rule_probes(names["probes"], sources)
            self._planned_reboots(names["probes"])
        if "intake" in usable:
            self._intake_targets(names["targets"])
        if "rules" in usable:
            self._composites(names["rules"])
        for index, probe in self._valid("probes", _PROBES):
            self._commands(("probes", index), probe)
            port = probe.port if isinstance(probe, models.TcpProbe) else None
            if isinstance(port, int) and not 0 < port < 65536:
                self.add(("probes", index, "port"), f"{port} is not a port (expected 1 to 65535)")
            self._templates(("probes", index), probe, [t for t in targets if _picks(probe, t)])
            self._regexes(("probes", index), probe)
        self._target_vars(drivers)
        for index, driver in drivers.values():
            self._commands(("drivers", index), driver)
            users = [t for t in targets if t.driver == driver.name]
            self._templates(("drivers", index), driver, users)
        if "rollouts" in usable:
            for index, plan in self._valid("rollouts", _PLANS):
                self._rollout(index, plan, targets, drivers, names)

    def _rollout(
        self,
        index: int,
        plan: models.RolloutPlan,
        targets: list[models.Target],
        drivers: dict[str, tuple[int, Any]],
        names: dict[str, list[str]],
    ) -> None:
        """Bake rules and upgrade drivers exist; every selected target can be upgraded."""
        at: tuple[PathPart, ...] = ("rollouts", index)
        for position, rule in enumerate(plan.bake_rules):
            if rule not in names["rules"]:
                hint = explaining.did_you_mean(rule, names["rules"])
                self.add(
                    (*at, "bake_rules", position),
                    f"unknown rule {rule!r}{hint} "
                    f"(expected {_expected_name('rules', 'rules', names['rules'])})",
                )
        if not plan.bake_rules and not names["rules"]:
            self.add(
                (*at, "bake_rules"),
                "no rule could judge a bake (expected at least one entry in `rules`)",
            )
        for name, command in plan.upgrade.items():
            if name not in names["drivers"]:
                hint = explaining.did_you_mean(name, names["drivers"])
                self.add(
                    (*at, "upgrade", name),
                    f"unknown driver {name!r}{hint} "
                    f"(expected {_expected_name('drivers', 'drivers', names['drivers'])})",
                )
                continue
            try:
                words = shlex.split(command) if isinstance(command, str) else command
            except ValueError as exc:
                self.add(
                    (*at, "upgrade", name),
                    f"cannot be split into words: {str(exc).lower()} (expected shell-style "
                    "quoting, or a list of words)",
                )
                continue
            if not words:
                self.add(
                    (*at, "upgrade", name),
                    "the command is empty (expected a program and arguments)",
                )
                continue
            users = [t for t in targets if t.driver == name and models.selects(plan.targets, t)]
            for word in words:
                bad = _unrendered(word, users)
                if bad is not None:
                    self.add((*at, "upgrade", name), bad)
                    break
        for target in targets:
            if not models.selects(plan.targets, target):
                continue
            if target.driver is None:
                self.add(
                    (*at, "targets"),
                    f"selects target {target.id!r}, which has no driver (expected every "
                    "selected target to have a `driver` that can upgrade it)",
                )
                break
            found = drivers.get(target.driver)
            if found is None or target.driver in plan.upgrade:
                continue
            if getattr(found[1], "upgrade", None) is None:
                self.add(
                    (*at, "upgrade"),
                    f"driver {target.driver!r} of target {target.id!r} has no `upgrade` "
                    f"command (expected one here, under {target.driver!r}, or in the driver)",
                )
                break

    def _planned_reboots(self, probes: list[str]) -> None:
        """``policy.planned_reboots`` and ``planned_restarts`` name existing probes; a log
        probe named there counts nothing but its preset (a unit failure counted with the
        shutdowns would open a hold)."""
        self._planned(
            probes,
            "planned_reboots",
            (
                ("shutdowns", "shutdown"),
                ("boots", "boot"),
                ("expected", "reboot_expected"),
                ("host", None),  # any kind: its value says whether the host answers
            ),
        )
        self._planned(
            probes,
            "planned_restarts",
            (
                ("stops", "unit_stop"),
                ("starts", "unit_start"),
                ("failures", None),  # anything it counts may end a hold: never unsafe
            ),
        )

    def _planned(
        self, probes: list[str], section: str, fields: tuple[tuple[str, str | None], ...]
    ) -> None:
        policy = self.data.get("policy")
        planned = policy.get(section) if isinstance(policy, dict) else None
        if not isinstance(planned, dict):
            return
        by_name = {
            item["name"]: item
            for _, item in self._entries("probes")
            if isinstance(item.get("name"), str)
        }
        for key, preset in fields:
            name = planned.get(key)
            if not isinstance(name, str):
                continue
            at = ("policy", section, key)
            if name not in probes:
                hint = explaining.did_you_mean(name, probes)
                self.add(
                    at,
                    f"unknown probe {name!r}{hint} "
                    f"(expected {_expected_name('probes', 'probes', probes)})",
                )
                continue
            item = by_name.get(name, {})
            if preset is None:
                continue
            if item.get("kind") == "log" and (
                item.get("presets") != [preset] or item.get("patterns")
            ):
                self.add(
                    at,
                    f"log probe {name!r} must count only its preset (expected `presets: "
                    f"[{preset}]` and no `patterns`)",
                )

    def add(self, path: typing.Sequence[PathPart], message: str) -> None:
        self.problems.append(locating.problem(self.root, path, message))

    def _entries(self, section: str) -> list[tuple[int, dict[Any, Any]]]:
        items = self.data.get(section)
        if not isinstance(items, list):
            return []
        return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]

    def _valid(self, section: str, adapter: pydantic.TypeAdapter[Any]) -> list[tuple[int, Any]]:
        out = []
        for index, item in self._entries(section):
            try:
                out.append((index, adapter.validate_python(item)))
            except pydantic.ValidationError:
                continue  # already reported, with its line, by the whole-file validation
        return out

    def _names(self, section: str) -> list[str]:
        """Defined names of ``section`` in order; reports the second of any duplicate."""
        key = _NAME_KEYS[section]
        first: dict[str, int] = {}
        for index, item in self._entries(section):
            name = item.get(key)
            if not isinstance(name, str):
                continue
            if name in first:
                line, _ = locating.locate(self.root, (section, first[name], key))
                self.duplicate_sections.add(section)
                self.add(
                    (section, index, key),
                    f"duplicate {_WHAT[section]} {name!r} (expected each {key} once;"
                    f" {section}[{first[name]}] at line {line} has it already)",
                )
            else:
                first[name] = index
        return list(first)

    def _target_drivers(self, drivers: list[str]) -> None:
        for index, item in self._entries("targets"):
            driver = item.get("driver")
            if isinstance(driver, str) and driver not in drivers:
                hint = explaining.did_you_mean(driver, drivers)
                self.add(
                    ("targets", index, "driver"),
                    f"unknown driver {driver!r}{hint} "
                    f"(expected {_expected_name('drivers', 'drivers', drivers)})",
                )

    def _target_vars(self, drivers: dict[str, tuple[int, Any]]) -> None:
        """A cloud driver finds a target's instance in its ``vars``: it must be there."""
        for index, item in self._entries("targets"):
            name = item.get("driver")
            found = drivers.get(name) if isinstance(name, str) else None
            if found is None:
                continue
            given = item.get("vars")
            for var in _TARGET_VARS.get(found[1].kind, ()):
                if not isinstance(given, dict) or not given.get(var):
                    self.add(
                        ("targets", index),
                        f"`vars.{var}` is missing (expected it: driver {name!r} finds the "
                        "target's instance by it)",
                    )

    def _intake_sources(self) -> list[str]:
        """Sources of the intake endpoints' observations: ``source``, or else ``name``."""
        found: list[str] = []
        for _, item in self._entries("intake"):
            source = item.get("source") or item.get("name")
            if isinstance(source, str) and source not in found:
                found.append(source)
        return found

    def _intake_targets(self, targets: list[str]) -> None:
        for index, item in self._entries("intake"):
            matches = item.get("match")
            if not isinstance(matches, list):
                continue
            for position, entry in enumerate(matches):
                target = entry.get("target") if isinstance(entry, dict) else None
                if isinstance(target, str) and target not in targets:
                    hint = explaining.did_you_mean(target, targets)
                    self.add(
                        ("intake", index, "match", position, "target"),
                        f"unknown target {target!r}{hint} "
                        f"(expected {_expected_name('target ids', 'targets', targets)})",
                    )

    def _rule_probes(self, probes: list[str], sources: list[str] | None = None) -> None:
        """A rule reads a probe, or (alerts are observations too) an intake endpoint's source."""
        sources = sources or []
        for index, item in self._entries("rules"):
            if item.get("kind") == "alert":
                source = item.get("source")
                if isinstance(source, str) and source not in sources:
                    hint = explaining.did_you_mean(source, sources)
                    self.add(
                        ("rules", index, "source"),
                        f"unknown intake source {source!r}{hint} (expected "
                        f"{_expected_name('intake sources', 'intake', sources)})",
                    )
                continue
            probe = item.get("probe")
            if _is_composite(item) or not isinstance(probe, str):
                continue
            if probe not in probes and probe not in sources:
                hint = explaining.did_you_mean(probe, [*probes, *sources])
                self.add(
                    ("rules", index, "probe"),
                    f"unknown probe {probe!r}{hint} "
                    f"(expected {_expected_name('probes', 'probes', probes)})",
                )
            volume = item.get("volume")
            rate = volume.get("probe") if isinstance(volume, dict) else None
            if isinstance(rate, str) and rate not in probes:
                hint = explaining.did_you_mean(rate, probes)
                self.add(
                    ("rules", index, "volume", "probe"),
                    f"unknown probe {rate!r}{hint} (expected "
                    f"{_expected_name('probes', 'probes', probes)}: the requests per second)",
                )

    def _composites(self, rules: list[str]) -> None:
        graph: dict[str, list[tuple[int, int, str]]] = {}  # id -> (rule index, item, member)
        for index, item in self._entries("rules"):
            members = item.get("rules")
            if not _is_composite(item) or not isinstance(members, list):
                continue
            rule_id = item.get("id")
            edges = graph.setdefault(rule_id, []) if isinstance(rule_id, str) else []
            for position, member in enumerate(members):
                if not isinstance(member, str):
                    continue
                if member not in rules:
                    hint = explaining.did_you_mean(member, rules)
                    self.add(
                        ("rules", index, "rules", position),
                        f"unknown rule {member!r}{hint} "
                        f"(expected {_expected_name('rules', 'rules', rules)})",
                    )
                edges.append((index, position, member))
        for index, item in self._entries("rules"):
            slow = item.get("slow")
            confirm = slow.get("confirm") if isinstance(slow, dict) else None
            others = [rule for rule in rules if rule != item.get("id")]
            if isinstance(confirm, str) and confirm not in others:
                hint = explaining.did_you_mean(confirm, others)
                self.add(
                    ("rules", index, "slow", "confirm"),
                    f"unknown rule {confirm!r}{hint} (expected "
                    f"{_expected_name('other rules', 'rules', others)}: the rule that "
                    "confirms this slow tier)",
                )
        reported: set[frozenset[str]] = set()
        for start, edges_out in graph.items():
            cycle = _cycle(start, graph)
            if cycle is None or frozenset(cycle) in reported:
                continue
            reported.add(frozenset(cycle))
            index, position, _ = next(e for e in edges_out if e[2] == cycle[1])
            loop = " -> ".join(cycle)
            self.add(
                ("rules", index, "rules", position),
                f"composite rules refer to each other in a loop: {loop} (expected every "
                "composite to be built only from rules that do not depend on it)",
            )

    def _commands(self, at: tuple[PathPart, ...], item: Any) -> None:
        """Commands run without a shell: a string is split into words with shell rules."""
        for name in _command_fields(item):
            command = getattr(item, name)
            if command is None:
                continue
            try:
                words = shlex.split(command) if isinstance(command, str) else command
            except ValueError as exc:
                self.add(
                    (*at, name),
                    f"cannot be split into words: {str(exc).lower()} (expected shell-style "
                    "quoting, or a list of words)",
                )
                continue
            if not words:
                self.add((*at, name), "the command is empty (expected a program and arguments)")

    def _templates(self, at: tuple[PathPart, ...], item: Any, targets: list[models.Target]) -> None:
        # One line per template and unknown variable, naming every target it fails for.
        missing: dict[tuple[tuple[PathPart, ...], str], list[models.Target]] = {}
        for relative, template in _template_fields(item):
            # PromQL and LogQL are full of braces, so they take $name placeholders instead.
            dollar = (isinstance(item, models.PromqlProbe) and relative == ("query",)) or (
                isinstance(item, models.LokiProbe) and relative in (("selector",), ("pipeline",))
            )
            render = models.render_dollar if dollar else models.render
            for target in targets:
                try:
                    rendered = render(template, target)
                except KeyError as exc:
                    name = str(exc.args[0])
                    shown = f"${name}" if dollar else f"{{{name}}}"
                    missing.setdefault(((*at, *relative), shown), []).append(target)
                except (ValueError, IndexError, AttributeError, TypeError) as exc:
                    expected = (
                        "expected $name or ${name} placeholders; write $$ for a literal $"
                        if dollar
                        else "expected {name} placeholders; write {{ and }} for literal braces"
                    )
                    self.add(
                        (*at, *relative),
                        f"not a valid template: {explaining.lower_first(str(exc))} ({expected})",
                    )
                    break
                else:
                    wrong = _rendered_wrong(item, relative, rendered)
                    if wrong is not None:
                        self.add((*at, *relative), f"for target {target.id!r}: {wrong}")
                        break
        for (path, variable), failing in missing.items():
            ids = ", ".join(repr(t.id) for t in failing)
            noun = "target" if len(failing) == 1 else "targets"
            known = sorted(models.template_vars(failing[0]))
            self.add(
                path,
                f"unknown template variable {variable} for {noun} {ids} (expected one of "
                f"the variables of {failing[0].id!r}: {', '.join(known)})",
            )

    def _regexes(self, at: tuple[PathPart, ...], probe: Any) -> None:
        fields: list[tuple[tuple[PathPart, ...], str]] = []
        if isinstance(probe, models.HttpProbe) and probe.body_match is not None:
            fields.append((("body_match",), probe.body_match))
        if isinstance(probe, models.LogProbe):
            fields.extend((("patterns", i), p) for i, p in enumerate(probe.patterns))
        if isinstance(probe, models.CommandProbe) and probe.parse is not None:
            fields.append((("parse",), probe.parse))
        for relative, pattern in fields:
            try:
                re.compile(pattern)
            except re.error as exc:
                where = f" at position {exc.pos}" if exc.pos is not None else ""
                self.add(
                    (*at, *relative),
                    f"not a valid regular expression: {exc.msg}{where} (expected a Python "
                    "regular expression)",
                )


def _unrendered(word: str, targets: list[models.Target]) -> str | None:
    """Why ``word`` does not render for one of ``targets``; None when it renders for all."""
    for target in targets:
        try:
            models.render(word, target)
        except KeyError as exc:
            known = ", ".join(sorted(models.template_vars(target)))
            return (
                f"unknown template variable {{{exc.args[0]}}} for target {target.id!r} "
                f"(expected one of the variables of {target.id!r}: {known})"
            )
        except (ValueError, IndexError, AttributeError, TypeError) as exc:
            return (
                f"not a valid template: {explaining.lower_first(str(exc))} (expected {{name}} "
                "placeholders; write {{ and }} for literal braces)"
            )
    return None


def _expected_name(what: str, section: str, choices: typing.Sequence[str]) -> str:
    if not choices:
        return f"the name of an entry in {section}, and none is defined"
    return f"one of the {what}: {explaining.listed(choices)}"


def _is_composite(rule: dict[Any, Any]) -> bool:
    kind = rule.get("kind")
    return isinstance(kind, str) and kind in models.COMPOSITE_KINDS


def _command_fields(item: Any) -> tuple[str, ...]:
    if isinstance(item, models.CommandProbe):
        return ("command",)
    if isinstance(item, models.LocalDriver):
        return ("upgrade", "checkpoint", "rollback", "restart")
    if isinstance(item, models.AwsDriver):
        return ("upgrade",)
    return ()


def _picks(probe: Any, target: models.Target) -> bool:
    return models.selects(probe.targets, target)


def _rendered_wrong(item: Any, relative: tuple[PathPart, ...], rendered: str) -> str | None:
    """What the probe would refuse in a rendered value, found now rather than at run time."""
    if (
        isinstance(item, models.TcpProbe)
        and relative == ("port",)
        and not (rendered.isdigit() and 0 < int(rendered) < 65536)
    ):
        return f"the port renders to {rendered!r} (expected a number from 1 to 65535)"
    if isinstance(
        item,
        models.HttpProbe | models.PromqlProbe | models.ElasticsearchProbe | models.LokiProbe,
    ) and relative == ("url",):
        # The URL itself is not shown: it may carry credentials.
        parts = urllib.parse.urlsplit(rendered)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return "not an absolute http(s) URL (expected e.g. http://{address}:{port}/health)"
    return None


def _template_fields(item: Any) -> list[tuple[tuple[PathPart, ...], str]]:
    """The fields of a probe or driver rendered per target, as (path inside item, text)."""
    names: tuple[str, ...] = ()
    if isinstance(item, models.HttpProbe | models.DataProbe):
        names = ("url", "file")
    elif isinstance(item, models.TcpProbe):
        names = ("host", "port")
    elif isinstance(item, models.LogProbe):
        names = ("path",)
    elif isinstance(item, models.LocalDriver):
        names = ("directory",)
    elif isinstance(item, models.PromqlProbe):
        names = ("url", "query")
    elif isinstance(item, models.CloudwatchProbe):
        names = ("region", "endpoint_url")
    elif isinstance(item, models.AliyunCmsProbe | models.TencentMonitorProbe):
        names = ("region", "endpoint")
    elif isinstance(item, models.ElasticsearchProbe):
        names = ("url", "index", "query", "host_value")
    elif isinstance(item, models.LokiProbe):
        names = ("url", "selector", "pipeline", "tenant")
    elif isinstance(item, models.SlsProbe):
        names = ("query", "topic")
    elif isinstance(item, models.ClsProbe):
        names = ("topic_id", "query")
    out: list[tuple[tuple[PathPart, ...], str]] = []
    for name in names:
        value = getattr(item, name, None)
        if isinstance(value, str):
            out.append(((name,), value))
    for name in _command_fields(item):
        command = getattr(item, name)
        if isinstance(command, list):
            out.extend(((name, i), word) for i, word in enumerate(command))
        elif isinstance(command, str):
            # Probes and drivers split a string with shell rules first, then render each word.
            with contextlib.suppress(ValueError):  # reported by _Checker._commands
                out.extend(((name,), word) for word in shlex.split(command))
    if isinstance(item, models.HttpProbe | models.PromqlProbe):
        out.extend((("headers", key), value) for key, value in item.headers.items())
    if isinstance(
        item, models.CloudwatchProbe | models.AliyunCmsProbe | models.TencentMonitorProbe
    ):
        out.extend((("dimensions", key), value) for key, value in item.dimensions.items())
    return out


def _cycle(start: str, graph: dict[str, list[tuple[int, int, str]]]) -> list[str] | None:
    """The shortest loop of composite references from ``start`` back to it, if any."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for current in frontier:
            for _, _, member in graph.get(current, []):
                if member == start:
                    path = [current]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if member not in came_from and member in graph:
                    came_from[member] = current
                    following.append(member)
        frontier = following
    return None
