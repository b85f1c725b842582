"""The configuration reference, written from the models so that it cannot drift from them.

Role: documentation of the edge (``rollsafe.yaml``). ``reference()`` walks ``RollsafeConfig``
and every model it reaches, every member of each discriminated union (``kind``) included, and
writes one markdown section per model: each field's YAML name, type, default, whether it is
required, its description and the values it allows. ``rollsafe config reference`` prints it;
``docs/configuration-reference.md`` is its output, and a test fails when the committed file
differs from what this module writes, or when a field has no description.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import annotated_types
import pydantic
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from rollsafe.config import durations, models

__all__ = ["REGENERATE", "FieldDoc", "ModelDoc", "fields_without_description", "reference", "walk"]

REGENERATE = "rollsafe config reference --output docs/configuration-reference.md"
"""The command that rewrites the committed reference (run it after changing the models)."""

_DISCRIMINATOR = "kind"


@dataclasses.dataclass(frozen=True, slots=True)
class FieldDoc:
    """One field as the reference shows it."""

    name: str
    type: str
    default: str
    required: bool
    description: str
    allowed: str


@dataclasses.dataclass(frozen=True, slots=True)
class ModelDoc:
    """One model: where it appears in the file (``path``) and its fields."""

    model: type[pydantic.BaseModel]
    path: str
    kind: str | None
    summary: str
    fields: tuple[FieldDoc, ...]

    @property
    def anchor(self) -> str:
        return self.model.__name__.lower()


def walk() -> list[ModelDoc]:
    """Every model reachable from ``RollsafeConfig``, each once, in the order first met."""
    found: dict[type[pydantic.BaseModel], ModelDoc] = {}
    queue: list[tuple[type[pydantic.BaseModel], str]] = [(models.RollsafeConfig, "(top level)")]
    while queue:
        model, path = queue.pop(0)
        if model in found:
            continue
        kind = _kind_of(model)
        found[model] = ModelDoc(
            model=model,
            path=path,
            kind=kind,
            summary=_summary(model),
            fields=tuple(_field(name, info) for name, info in model.model_fields.items()),
        )
        for name, info in model.model_fields.items():
            yaml_name = info.alias or name
            child_path = yaml_name if path == "(top level)" else f"{path}.{yaml_name}"
            if _is_list(info.annotation):
                child_path += "[]"
            queue.extend((child, child_path) for child in _models_in(info.annotation))
    return list(found.values())


def fields_without_description() -> list[str]:
    """``Model.field`` for every field with no description (a ``kind`` discriminator excepted:
    its section says what it selects)."""
    return [
        f"{doc.model.__name__}.{field.name}"
        for doc in walk()
        for field in doc.fields
        if not field.description and not (field.name == _DISCRIMINATOR and doc.kind is not None)
    ]


def reference() -> str:
    """The whole reference, as markdown."""
    docs = walk()
    anchors = {doc.model: doc.anchor for doc in docs}
    out = [
        "# Configuration reference (`rollsafe.yaml`)",
        "",
        "<!-- Generated from rollsafe.config.models by rollsafe.config.documenting: do not edit.",
        f"     Regenerate with: {REGENERATE} -->",
        "",
        "Every field of the configuration file, generated from the models that validate it, so",
        "it is complete and current. How the pieces fit together, with examples, is in",
        "[configuration.md](configuration.md). Durations are written `500ms`, `30s`, `5m`,",
        "`1h30m`, `7d` (or a number of seconds). A list of several kinds (`probes`, `rules`,",
        "`drivers`, ...) takes entries of any of the kinds listed, chosen by their `kind`.",
        "",
        "## Sections",
        "",
    ]
    out.extend(f"- [{_title(doc)}](#{doc.anchor})" for doc in docs)
    for doc in docs:
        out += ["", f'<a id="{doc.anchor}"></a>', "", f"## {_title(doc)}", ""]
        if doc.summary:
            out += [doc.summary, ""]
        out.append(f"Appears at `{doc.path}`.")
        out += [
            "",
            "| field | type | default | required | description | allowed values |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for field in doc.fields:
            if field.name == _DISCRIMINATOR and doc.kind is not None:
                kinds = ", ".join(f"`{kind}`" for kind in doc.kind.split(" or "))
                row = (f"`{field.name}`", "string", "", "yes", "Selects this kind", kinds)
            else:
                row = (
                    f"`{field.name}`",
                    _linked(field.type, anchors),
                    field.default,
                    "yes" if field.required else "no",
                    field.description,
                    field.allowed,
                )
            out.append("| " + " | ".join(_cell(part) for part in row) + " |")
    return "\n".join(out) + "\n"


def write(path: Path) -> None:
    """Write the reference to ``path`` (``docs/configuration-reference.md``)."""
    path.write_text(reference(), encoding="utf-8")


# --------------------------------------------------------------------------- one field


def _field(name: str, info: FieldInfo) -> FieldDoc:
    return FieldDoc(
        name=info.alias or name,
        type=_type_name(info.annotation, info.metadata),
        default=_default(info),
        required=info.is_required(),
        description=" ".join((info.description or "").split()),
        allowed=_allowed(info),
    )


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return ""
    factory = info.default_factory
    value = info.default if factory is None else factory()  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return ""
    if isinstance(value, pydantic.BaseModel):
        return "(see its section)"
    if value is None:
        return "none"
    if isinstance(value, Path):
        return f"`{value}`"
    if isinstance(value, float) and _is_duration(info.annotation, info.metadata):
        return f"`{durations.format_duration(value)}`"
    if isinstance(value, enum.Enum):
        value = value.value
    return f"`{json.dumps(value, sort_keys=True, default=str)}`"


def _allowed(info: FieldInfo) -> str:
    parts: list[str] = []
    literals = list(_literals(info.annotation))
    if literals:
        parts.append(", ".join(f"`{value}`" for value in literals))
    for item in info.metadata:
        for attribute, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(item, attribute, None)
            if bound is not None and isinstance(
                item, annotated_types.BaseMetadata | annotated_types.Interval
            ):
                parts.append(f"{sign} {bound}")
        if isinstance(item, annotated_types.MinLen) and item.min_length:
            parts.append(f"at least {item.min_length} entries")
        if isinstance(item, annotated_types.MaxLen):
            parts.append(f"at most {item.max_length} entries")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            parts.append(f"matches `{pattern}`")
    return "; ".join(parts)


# --------------------------------------------------------------------------- types


def _type_name(annotation: Any, metadata: list[Any] | None = None) -> str:
    if _is_duration(annotation, metadata or []):
        return "duration"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0], list(getattr(annotation, "__metadata__", ())))
    if origin is Literal:
        kinds = {type(value) for value in args}
        return "string" if kinds == {str} else " or ".join(sorted(k.__name__ for k in kinds))
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(arg) for arg in args if arg is not type(None)]
        unique = list(dict.fromkeys(names))
        text = " or ".join(unique)
        return f"{text} (or none)" if type(None) in args else text
    if origin in (list, tuple, set, frozenset):
        inner = _type_name(args[0]) if args else "any"
        return f"list of {inner}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}" if args else "map"
    if isinstance(annotation, type):
        if issubclass(annotation, pydantic.BaseModel):
            return f"[{annotation.__name__}]"
        if issubclass(annotation, enum.Enum):
            return "string"
        return _PLAIN.get(annotation, annotation.__name__)
    return str(annotation)


_PLAIN: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
}


def _is_duration(annotation: Any, metadata: list[Any]) -> bool:
    def marks(items: Any) -> bool:
        return any(getattr(item, "func", None) is durations.parse_duration for item in items)

    if marks(metadata):
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return marks(getattr(annotation, "__metadata__", ()))
    return False


def _literals(annotation: Any) -> Iterator[object]:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        yield from typing.get_args(annotation)
    elif origin in (typing.Union, types.UnionType, typing.Annotated):
        args = typing.get_args(annotation)
        for arg in args[:1] if origin is typing.Annotated else args:
            yield from _literals(arg)
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        yield from (member.value for member in annotation)


def _models_in(annotation: Any) -> Iterator[type[pydantic.BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_list(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return origin in (list, tuple)


def _kind_of(model: type[pydantic.BaseModel]) -> str | None:
    """The ``kind`` a union member is selected by (None for a model that is no union member)."""
    info = model.model_fields.get(_DISCRIMINATOR)
    if info is None or typing.get_origin(info.annotation) is not Literal:
        return None
    return " or ".join(str(value) for value in typing.get_args(info.annotation))


def _summary(model: type[pydantic.BaseModel]) -> str:
    doc = model.__doc__ or ""
    if doc.startswith(f"{model.__name__}(") or not doc.strip():
        return ""  # pydantic's generated signature, not a docstring someone wrote
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.replace("``", "`").split())


def _title(doc: ModelDoc) -> str:
    if doc.kind is not None:
        return f"{doc.model.__name__} (`{doc.path}` with `kind: {doc.kind}`)"
    return f"{doc.model.__name__} (`{doc.path}`)"


def _linked(type_text: str, anchors: dict[type[pydantic.BaseModel], str]) -> str:
    by_name = {model.__name__: anchor for model, anchor in anchors.items()}
    return re.sub(
        r"\[(\w+)\]",
        lambda m: f"[{m.group(1)}](#{by_name[m.group(1)]})" if m.group(1) in by_name else m[0],
        type_text,
    )


def _cell(text: str) -> str:
    # A table cell is one line, and a pipe in it would end the cell.
    return " ".join(text.split()).replace("|", "\\|")
