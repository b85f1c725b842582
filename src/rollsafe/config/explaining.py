"""Pydantic's validation errors, explained as ``field: what is wrong (what was expected)``.

A pydantic error location (``loc``) is walked along the models, not only along the data: that
is how the tags pydantic inserts for unions (``probes, 2, 'http', 'interval'``) are told apart
from keys a person wrote, and how each message can say what was expected at that place.
Values of fields named like secrets, passwords or tokens are never echoed.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import functional_validators

from rollsafe.config import durations, locating, models

__all__ = ["did_you_mean", "explain", "listed", "lower_first"]

PathPart = locating.PathPart
_SECRET_NAME = re.compile(
    r"secret|passw|passphrase|pwd|token|api_?key|credential|authorization|private_?key",
    re.IGNORECASE,
)
_MAX_LISTED = 12  # longer "expected one of" lists hide the hint instead of giving it


def explain(root: yaml.Node, raw_errors: list[Any]) -> list[locating.Problem]:
    """One problem per mistake in ``raw_errors`` (``ValidationError.errors()``), placed."""
    found: list[locating.Problem] = []
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
        _, node = locating.locate(root, union_path)
        secret = _is_secret(union_path)
        shown = _shown(error.get("input"), node, secret=secret)
        expected = _expected_with_hint(walked.union, error.get("input"), node, secret=secret)
        found.append(locating.problem(root, union_path, f"got {shown} (expected {expected})"))
    return found


def _problem(root: yaml.Node, error: Any, walked: _Walked) -> locating.Problem:
    secret = _is_secret(walked.path)
    _, node = locating.locate(root, walked.path)
    path, message = _message(error, walked, node, secret=secret)
    return locating.problem(root, path, message)


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
            metadata = list(info.metadata)
            if info.discriminator is not None:
                # pydantic moves a field's own Field(discriminator=...) out of the metadata.
                metadata.append(pydantic.Field(discriminator=info.discriminator))
            if metadata:
                return typing.Annotated[(info.annotation, *metadata)]
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


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _literal_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _shown(value: Any, node: yaml.Node | None, *, secret: bool) -> str:
    """The offending input, as the person wrote it (never a secret's value)."""
    if isinstance(value, dict):
        if (
            isinstance(node, yaml.MappingNode)
            and node.flow_style
            and value
            and all(v is None for v in value.values())
        ):
            # `- {id}` is YAML for the mapping {id: null}, not the template "{id}".
            return 'a mapping (an unquoted {name} is YAML for a mapping: quote it, "{name}")'
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    # Plain scalars: style None from PyYAML's own parser, '' from libyaml's.
    text = node.value if isinstance(node, yaml.ScalarNode) and not node.style else None
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
    # Every value of an `env:` mapping is one (the drivers mask them all in command output),
    # whatever its name: `env: {MYSQL_PWD: 20240101}` must not be echoed as "the number ...".
    if "env" in path[:-1]:
        return True
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


def did_you_mean(word: str, choices: typing.Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def listed(choices: typing.Sequence[str]) -> str:
    more = ", ..." if len(choices) > _MAX_LISTED else ""
    return ", ".join(choices[:_MAX_LISTED]) + more


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
        note = ""
        if path and path[0] == "drivers":
            # docs/drivers.md once promised plug-ins by entry point; the schema has only the
            # built-in kinds, so whoever installed one is told so rather than left guessing.
            note = "; drivers from other packages (plug-ins) are not supported, see docs/drivers.md"
        return [*path, "kind"], (
            f"unknown kind {ctx.get('tag')!r} (expected one of: {kinds}{note})"
        )
    if kind == "extra_forbidden":
        names = _field_names(walked.model) if walked.model is not None else []
        hint = did_you_mean(str(path[-1]), names) if path else ""
        return path, f"unknown field{hint} (expected one of: {listed(names)})"
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
