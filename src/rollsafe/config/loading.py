"""Loading ``rollsafe.yaml``: the edge where a file a person wrote becomes typed models.

Everything the loop does starts from this file, so a mistake in it must be caught here, before
anything runs, and reported so precisely that it can be fixed without guessing. ``load``
therefore reports *every* problem it can find, each as one line::

    rollsafe.yaml:14: probes[2].interval: '5 minutes' is not a duration (expected e.g. ...)

How: the text is parsed once with PyYAML into a node tree (which remembers lines) and into
plain data. The data goes through the pydantic models; each pydantic error location is walked
along the models (to strip the union tags pydantic inserts, and to learn what was expected)
and along the node tree (to find the line). Then cross-reference checks that the models cannot
do on their own run on every entry that is valid by itself: references between sections,
composite rule cycles, templates against the targets they will be rendered for, regexes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
import shlex
import types
import typing
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import functional_validators

from rollsafe.config import durations, models
from rollsafe.domain import errors

__all__ = ["LoadedConfig", "load"]

PathPart = str | int
_SECRET_NAME = re.compile(
    r"secret|passw|token|api_?key|credential|authorization|private_?key", re.IGNORECASE
)
_MAX_LISTED = 12  # longer "expected one of" lists hide the hint instead of giving it
_EMPTY_EXPECTED = "expected a mapping with targets, probes, rules and drivers"


@dataclasses.dataclass(frozen=True)
class LoadedConfig:
    """A configuration that passed every check, with where it came from."""

    config: models.RollsafeConfig
    path: Path
    state_dir: Path


@dataclasses.dataclass(frozen=True, order=True)
class _Problem:
    line: int
    path: str
    message: str


def load(path: Path) -> LoadedConfig:
    """Read, validate and cross-check the configuration file at ``path``.

    Raises ``ConfigError`` whose ``problems`` holds every mistake found, one
    ``FILE:LINE: field: what is wrong (what was expected)`` line each.
    """
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problem = f"{name}: (file): not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise _error(name, [problem]) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        problem = f"{name}: (file): cannot read: {reason} (expected a readable YAML file)"
        raise _error(name, [problem]) from exc

    root, data, found = _parse(name, text)
    config: models.RollsafeConfig | None = None
    try:
        config = models.RollsafeConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        found.extend(_from_pydantic(root, exc.errors()))
    if isinstance(data, dict):
        checker = _Checker(root, data)
        checker.run()
        found = _drop_unplaced_duplicates(found, checker.duplicate_sections)
        found.extend(checker.problems)

    if found or config is None:
        lines = [f"{name}:{p.line}: {p.path}: {p.message}" for p in sorted(set(found))]
        raise _error(name, lines)

    absolute = path.absolute()
    state_dir = (absolute.parent / config.state_dir.expanduser()).resolve()
    return LoadedConfig(config=config, path=absolute, state_dir=state_dir)


def _error(name: str, problems: list[str]) -> errors.ConfigError:
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    return errors.ConfigError(f"{name}: {count} {noun}", problems=problems)


# --------------------------------------------------------------------------- YAML


def _parse(name: str, text: str) -> tuple[yaml.Node, Any, list[_Problem]]:
    """The node tree (for lines), the plain data (for pydantic), and duplicate keys."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            duplicates = _duplicate_keys(node)
            data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _error(name, [_yaml_problem(name, exc)]) from exc
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        raise _error(name, [f"{name}:1: (yaml): {exc}"]) from exc
    finally:
        loader.dispose()
    if node is None or data is None:
        raise _error(name, [f"{name}:1: (file): the file is empty ({_EMPTY_EXPECTED})"])
    return node, data, duplicates


def _yaml_problem(name: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        where = f", line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
        problem = f"{problem} ({exc.context}{where})"
    return f"{name}:{line}: (yaml): {problem}"


def _walk_duplicates(
    node: yaml.Node, path: tuple[PathPart, ...], seen: set[int]
) -> typing.Iterator[tuple[tuple[PathPart, ...], yaml.Node, yaml.Node]]:
    if id(node) in seen:  # aliases may point back up the tree
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                yield from _walk_duplicates(value, path, seen)
                continue
            if key.value in first:
                yield (*path, key.value), first[key.value], key
            else:
                first[key.value] = key
            yield from _walk_duplicates(value, (*path, key.value), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk_duplicates(item, (*path, index), seen)


def _duplicate_keys(root: yaml.Node) -> list[_Problem]:
    """Keys written twice in one mapping: YAML would silently keep only the last.

    Read from the tree before construction, which flattens ``<<`` merge keys into their
    mappings (legitimately repeating keys there).
    """
    return [
        _Problem(
            second.start_mark.line + 1,
            _format_path(path),
            f"duplicate key (expected each key once; it is first set at line "
            f"{first.start_mark.line + 1}, and YAML would silently keep only the last)",
        )
        for path, first, second in _walk_duplicates(root, (), set())
    ]


def _locate(root: yaml.Node, path: typing.Sequence[PathPart]) -> tuple[int, yaml.Node | None]:
    """The 1-based line of ``path`` in the tree, and its value node if it exists.

    A key's line is where the key is written; a missing key's line is its parent mapping's.
    """
    node: yaml.Node = root
    line = root.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):  # YAML keeps the last duplicate
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return node.start_mark.line + 1, None
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line, None
    return line, node


def _format_path(path: typing.Sequence[PathPart]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "(root)"


# --------------------------------------------------------------------------- pydantic errors


@dataclasses.dataclass
class _Walked:
    """A pydantic ``loc`` seen through the models: the path a person wrote, and types."""

    path: list[PathPart]
    annotation: Any  # what was expected at ``path``; None when unknown
    model: type[pydantic.BaseModel] | None  # the model holding the last field
    union_path: tuple[PathPart, ...] | None = None  # where a plain union was entered
    union: Any = None
    deeper_than_union: bool = False


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip ``Annotated`` and a lone ``| None``; return the type and its metadata."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            base, *extra = typing.get_args(annotation)
            metadata.extend(extra)
            annotation = base
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation, metadata


def _discriminated(metadata: list[Any]) -> bool:
    return any(
        isinstance(m, pydantic.fields.FieldInfo) and m.discriminator is not None for m in metadata
    )


def _kind_members(union: Any) -> list[tuple[str, type[pydantic.BaseModel]]]:
    members = typing.get_args(union) or (union,)
    return [
        (str(tag), member)
        for member in members
        for tag in typing.get_args(member.model_fields["kind"].annotation)
    ]


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _member_tag(member: Any) -> str:
    return member.__name__ if isinstance(member, type) else str(member)


def _walk(loc: tuple[PathPart, ...]) -> _Walked:
    walked = _Walked(path=[], annotation=models.RollsafeConfig, model=None)
    for part in loc:
        annotation, metadata = _unwrap(walked.annotation)
        if annotation is None:
            walked.path.append(part)
            continue
        if _discriminated(metadata):
            # pydantic puts the `kind` tag into loc; a person never wrote it as a key.
            chosen = dict(_kind_members(annotation)).get(str(part))
            walked.annotation = chosen
            continue
        if _is_union(annotation):
            members = {_member_tag(m): m for m in typing.get_args(annotation)}
            walked.union_path = tuple(walked.path)
            walked.union = annotation
            walked.annotation = members.get(str(part))
            continue
        if walked.union_path is not None:
            walked.deeper_than_union = True
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            walked.model = annotation
            walked.path.append(part)
            walked.annotation = _field_annotation(annotation, str(part))
        elif origin is list and isinstance(part, int):
            walked.path.append(part)
            walked.annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            key_type, value_type = typing.get_args(annotation)
            if part == "[key]":  # pydantic's marker for an invalid key (path already has it)
                walked.annotation = key_type
            else:
                walked.path.append(part)
                walked.annotation = value_type
        else:
            walked.path.append(part)
            walked.annotation = None
    return walked


def _field_annotation(model: type[pydantic.BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            if info.metadata:
                return typing.Annotated[(info.annotation, *info.metadata)]
            return info.annotation
    return None


def _field_names(model: type[pydantic.BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _describe(annotation: Any) -> str:
    """What a person should write for ``annotation``, in words."""
    annotation, metadata = _unwrap(annotation)
    if any(
        isinstance(m, functional_validators.BeforeValidator) and m.func is durations.parse_duration
        for m in metadata
    ):
        return "a duration such as 500ms, 30s, 5m, 1h30m or 7d"
    if _discriminated(metadata):
        kinds = ", ".join(tag for tag, _ in _kind_members(annotation))
        return f"a mapping with a kind: one of {kinds}"
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        choices = [_literal_text(a) for a in typing.get_args(annotation)]
        return choices[0] if len(choices) == 1 else "one of: " + ", ".join(choices)
    if _is_union(annotation):
        members = [_describe(a) for a in typing.get_args(annotation) if a is not type(None)]
        return ", ".join(members[:-1]) + " or " + members[-1]
    if origin is list:
        item = _describe(typing.get_args(annotation)[0])
        plural = {"a string": "strings", "a whole number": "whole numbers", "a number": "numbers"}
        return f"a list of {plural[item]}" if item in plural else "a list"
    if origin is dict or (
        isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)
    ):
        return "a mapping"
    simple = {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        Path: "a path",
    }
    return simple.get(annotation, "a value of another type")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _literal_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _shown(value: Any, node: yaml.Node | None, *, secret: bool) -> str:
    """The offending input, as the person wrote it (never a secret's value)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    text = node.value if isinstance(node, yaml.ScalarNode) and node.style is None else None
    if secret:
        return "a hidden value"
    if isinstance(value, bool):
        written = text if text is not None else str(value).lower()
        if written.lower() not in ("true", "false"):
            return f"{written} (which YAML reads as {str(value).lower()})"
        return written
    if isinstance(value, int | float):
        return f"the number {text if text is not None else repr(value)}"
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "...'"


def _is_secret(path: typing.Sequence[PathPart]) -> bool:
    return any(isinstance(p, str) and _SECRET_NAME.search(p) for p in path)


def _hide(message: str, value: Any) -> str:
    if isinstance(value, str) and value:
        return message.replace(repr(value), "'***'").replace(value, "***")
    return message


def _expected_with_hint(
    annotation: Any, value: Any, node: yaml.Node | None, *, secret: bool
) -> str:
    """``_describe`` plus how to fix the classic YAML trap: a number or yes/no meant as text."""
    expected = _describe(annotation)
    wants_text = expected == "a string" or expected.startswith("a string,")
    wants_text = wants_text or expected.startswith("a string or")
    if (
        wants_text
        and not secret
        and isinstance(value, bool | int | float)
        and isinstance(node, yaml.ScalarNode)
    ):
        return f'{expected}: quote it, "{node.value}"'
    return expected


def _did_you_mean(word: str, choices: typing.Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def _listed(choices: typing.Sequence[str]) -> str:
    more = ", ..." if len(choices) > _MAX_LISTED else ""
    return ", ".join(choices[:_MAX_LISTED]) + more


def _expected_name(what: str, section: str, choices: typing.Sequence[str]) -> str:
    if not choices:
        return f"the name of an entry in {section}, and none is defined"
    return f"one of the {what}: {_listed(choices)}"


_TYPE_ERRORS = frozenset(
    {
        "string_type",
        "int_type",
        "float_type",
        "bool_type",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "path_type",
        "string_sub_type",
        "is_instance_of",
        "none_required",
    }
)


def _message(
    error: Any, walked: _Walked, node: yaml.Node | None, *, secret: bool
) -> tuple[list[PathPart], str]:
    """The path a person wrote and the ``what is wrong (what was expected)`` text."""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    path = walked.path
    shown = _shown(value, node, secret=secret)
    if kind == "missing":
        return path, f"required field is missing (expected {_describe(walked.annotation)})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        annotation, _ = _unwrap(walked.annotation)
        kinds = ", ".join(tag for tag, _ in _kind_members(annotation)) if annotation else ""
        if kind == "union_tag_not_found":
            return [*path, "kind"], f"required field is missing (expected one of: {kinds})"
        return [*path, "kind"], f"unknown kind {ctx.get('tag')!r} (expected one of: {kinds})"
    if kind == "extra_forbidden":
        names = _field_names(walked.model) if walked.model is not None else []
        hint = _did_you_mean(str(path[-1]), names) if path else ""
        return path, f"unknown field{hint} (expected one of: {_listed(names)})"
    if kind == "literal_error":
        expected = _describe(walked.annotation)
        return path, f"{shown} is not allowed (expected {expected})"
    if kind == "string_pattern_mismatch":
        if path and path[-1] in ("id", "name"):
            return path, (
                f"{shown} is not a valid name (expected letters, digits, '_', '.', ':' and '-',"
                " starting with a letter or digit)"
            )
        return path, f"{shown} does not match (expected text matching {ctx.get('pattern')})"
    bounds = {
        "greater_than_equal": ("too small", "ge", "or more"),
        "greater_than": ("too small", "gt", None),
        "less_than_equal": ("too large", "le", "or less"),
        "less_than": ("too large", "lt", None),
    }
    if kind in bounds:
        what, key, suffix = bounds[kind]
        limit = ctx.get(key)
        expected = (
            f"{limit} {suffix}" if suffix else f"{'more' if key == 'gt' else 'less'} than {limit}"
        )
        return path, f"{shown} is {what} (expected {expected})"
    if kind == "too_short":
        least = ctx.get("min_length")
        return path, f"has {ctx.get('actual_length')} items (expected at least {least})"
    if kind == "too_long":
        most = ctx.get("max_length")
        return path, f"has {ctx.get('actual_length')} items (expected at most {most})"
    if kind in ("int_parsing", "float_parsing", "int_from_float", "bool_parsing"):
        expected = _describe(walked.annotation)
        what = "a whole number" if kind == "int_from_float" else expected
        return path, f"{shown} is not {what} (expected {expected})"
    if kind in _TYPE_ERRORS:
        expected = _expected_with_hint(walked.annotation, value, node, secret=secret)
        return path, f"got {shown} (expected {expected})"
    message = str(error.get("msg", ""))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if secret:
        message = _hide(message, value)
    return path, message


def _from_pydantic(root: yaml.Node, raw_errors: list[Any]) -> list[_Problem]:
    found: list[_Problem] = []
    # A value that fits no member of a plain union (``str | list[str]``) produces one error
    # per member; they are merged into one line, unless one member got further (the value
    # had its outer shape), in which case only that member's deeper errors are useful.
    unions: dict[tuple[PathPart, ...], list[tuple[Any, _Walked]]] = {}
    for error in raw_errors:
        walked = _walk(tuple(error["loc"]))
        if walked.union_path is not None:
            unions.setdefault(walked.union_path, []).append((error, walked))
            continue
        found.append(_problem(root, error, walked))
    for union_path, group in unions.items():
        deeper = [(e, w) for e, w in group if w.deeper_than_union]
        if deeper:
            found.extend(_problem(root, e, w) for e, w in deeper)
            continue
        error, walked = group[0]
        line, node = _locate(root, union_path)
        secret = _is_secret(union_path)
        shown = _shown(error.get("input"), node, secret=secret)
        expected = _expected_with_hint(walked.union, error.get("input"), node, secret=secret)
        found.append(_Problem(line, _format_path(union_path), f"got {shown} (expected {expected})"))
    return found


def _problem(root: yaml.Node, error: Any, walked: _Walked) -> _Problem:
    secret = _is_secret(walked.path)
    _, node = _locate(root, walked.path)
    path, message = _message(error, walked, node, secret=secret)
    line, _ = _locate(root, path)
    return _Problem(line, _format_path(path), message)


def _drop_unplaced_duplicates(found: list[_Problem], sections: set[str]) -> list[_Problem]:
    """The models report duplicate ids on the whole list; the checker names the exact entry."""
    return [p for p in found if not (p.path in sections and p.message.startswith("duplicate "))]


# --------------------------------------------------------------------------- cross-references

_TARGETS: pydantic.TypeAdapter[models.Target] = pydantic.TypeAdapter(models.Target)
_PROBES: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(models.Probe)
_DRIVERS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(models.Driver)
_NAME_KEYS = {"targets": "id", "probes": "name", "rules": "id", "drivers": "name"}
_NAME_KEYS["notifiers"] = "name"
_WHAT = {"targets": "target id", "probes": "probe name", "rules": "rule id"}
_WHAT |= {"drivers": "driver name", "notifiers": "notifier name"}


class _Checker:
    """Checks across sections, on every entry that is valid by itself.

    Names are taken from the raw data, so an entry with an unrelated mistake still counts as
    defined and does not cause a second, misleading "unknown name" error elsewhere.
    """

    def __init__(self, root: yaml.Node, data: dict[Any, Any]) -> None:
        self.root = root
        self.data = data
        self.problems: list[_Problem] = []
        self.duplicate_sections: set[str] = set()

    def run(self) -> None:
        names = {section: self._names(section) for section in _NAME_KEYS}
        targets = [t for _, t in self._valid("targets", _TARGETS)]
        drivers = {d.name: (i, d) for i, d in self._valid("drivers", _DRIVERS)}
        # A section that is not a list at all is reported once by the models; checking
        # references against it would only add one misleading line per reference.
        usable = {s for s in _NAME_KEYS if isinstance(self.data.get(s, []), list)}
        if "drivers" in usable:
            self._target_drivers(names["drivers"])
        if "probes" in usable:
            self._rule_probes(names["probes"])
        if "rules" in usable:
            self._composites(names["rules"])
        for index, probe in self._valid("probes", _PROBES):
            self._commands(("probes", index), probe)
            self._templates(("probes", index), probe, [t for t in targets if _picks(probe, t)])
            self._regexes(("probes", index), probe)
        for index, driver in drivers.values():
            self._commands(("drivers", index), driver)
            users = [t for t in targets if t.driver == driver.name]
            self._templates(("drivers", index), driver, users)

    def add(self, path: typing.Sequence[PathPart], message: str) -> None:
        line, _ = _locate(self.root, path)
        self.problems.append(_Problem(line, _format_path(path), message))

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
                line, _ = _locate(self.root, (section, first[name], key))
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
                hint = _did_you_mean(driver, drivers)
                self.add(
                    ("targets", index, "driver"),
                    f"unknown driver {driver!r}{hint} "
                    f"(expected {_expected_name('drivers', 'drivers', drivers)})",
                )

    def _rule_probes(self, probes: list[str]) -> None:
        for index, item in self._entries("rules"):
            probe = item.get("probe")
            if _is_composite(item) or not isinstance(probe, str):
                continue
            if probe not in probes:
                hint = _did_you_mean(probe, probes)
                self.add(
                    ("rules", index, "probe"),
                    f"unknown probe {probe!r}{hint} "
                    f"(expected {_expected_name('probes', 'probes', probes)})",
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
                    hint = _did_you_mean(member, rules)
                    self.add(
                        ("rules", index, "rules", position),
                        f"unknown rule {member!r}{hint} "
                        f"(expected {_expected_name('rules', 'rules', rules)})",
                    )
                edges.append((index, position, member))
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
            for target in targets:
                try:
                    models.render(template, target)
                except KeyError as exc:
                    missing.setdefault(((*at, *relative), str(exc.args[0])), []).append(target)
                except (ValueError, IndexError, AttributeError, TypeError) as exc:
                    self.add(
                        (*at, *relative),
                        f"not a valid template: {_lower_first(str(exc))} (expected {{name}} "
                        "placeholders; write "
                        "{{ and }} for literal braces)",
                    )
                    break
        for (path, variable), failing in missing.items():
            ids = ", ".join(repr(t.id) for t in failing)
            noun = "target" if len(failing) == 1 else "targets"
            known = sorted(models.template_vars(failing[0]))
            self.add(
                path,
                f"unknown template variable {{{variable}}} for {noun} {ids} (expected one of "
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


def _is_composite(rule: dict[Any, Any]) -> bool:
    kind = rule.get("kind")
    return isinstance(kind, str) and kind in models.COMPOSITE_KINDS


def _command_fields(item: Any) -> tuple[str, ...]:
    if isinstance(item, models.CommandProbe):
        return ("command",)
    if isinstance(item, models.LocalDriver):
        return ("upgrade", "checkpoint", "rollback", "restart")
    return ()


def _picks(probe: Any, target: models.Target) -> bool:
    return models.selects(probe.targets, target)


def _template_fields(item: Any) -> list[tuple[tuple[PathPart, ...], str]]:
    """The fields of a probe or driver rendered per target, as (path inside item, text)."""
    names: tuple[str, ...] = ()
    if isinstance(item, models.HttpProbe | models.DataProbe):
        names = ("url", "file")
    elif isinstance(item, models.TcpProbe):
        names = ("host", "port")
    elif isinstance(item, models.LogProbe):
        names = ("path",)
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
    if isinstance(item, models.HttpProbe):
        out.extend((("headers", key), value) for key, value in item.headers.items())
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
