"""Where things are in ``rollsafe.yaml``: the YAML node tree, lines and field paths.

Loading parses the text once into both a node tree (which remembers where each key and value
was written) and plain data (which the models validate). Every problem found later, by the
models or by cross-checks, is placed on a line by walking a field path down this tree.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any

import yaml

from rollsafe.domain import errors

__all__ = [
    "Document",
    "PathPart",
    "Problem",
    "config_error",
    "format_path",
    "locate",
    "parse",
    "problem",
]

PathPart = str | int
_EMPTY_EXPECTED = "expected a mapping with targets, probes, rules and drivers"
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
# A {template} where YAML reads `{` as the start of a mapping: first in a value, or in [...].
_UNQUOTED_TEMPLATE = re.compile(r"(?:[:-]\s+|[\[,]\s*)\{\w+\}|\[[^\]]*\{\w+\}")


@dataclasses.dataclass(frozen=True, order=True)
class Problem:
    """One mistake: the line it is on, the field path a person wrote, what is wrong."""

    line: int
    path: str
    message: str

    def format(self, file: str) -> str:
        return f"{file}:{self.line}: {self.path}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Document:
    """One parsed YAML document: its node tree, its plain data, and keys written twice."""

    root: yaml.Node
    data: Any
    duplicate_keys: list[Problem]


def config_error(name: str, problems: list[str]) -> errors.ConfigError:
    """The error ``load`` raises: a count as its message, every line in ``problems``."""
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    return errors.ConfigError(f"{name}: {count} {noun}", problems=problems)


def parse(name: str, text: str) -> Document:
    """The document in ``text``; ConfigError (syntax, or empty) names ``name`` and the line."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # the reader checks the whole text at once: NUL and the like
        raise config_error(name, [f"{name}:1: (yaml): {exc}"]) from exc
    fast = _compose_fast(text)
    if fast is not None:
        loader.dispose()
        node, data, duplicates = fast
        if node is None or data is None:
            raise config_error(name, [f"{name}:1: (file): the file is empty ({_EMPTY_EXPECTED})"])
        return Document(root=node, data=data, duplicate_keys=duplicates)
    node = None
    data = None
    duplicates = []
    try:
        node = loader.get_single_node()
        if node is not None:
            duplicates = _duplicate_keys(node)
            data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise config_error(name, [_yaml_problem(name, text, exc)]) from exc
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        raise config_error(name, [f"{name}:1: (yaml): {exc}"]) from exc
    except RecursionError as exc:
        # PyYAML composes nested collections recursively: `[[[[...` thousands deep (or a
        # block list of lists as deep) overflows the stack. Report it where it was reached.
        line = loader.get_mark().line + 1
        problem = f"{name}:{line}: (yaml): nested too deeply (expected a configuration file)"
        raise config_error(name, [problem]) from exc
    finally:
        loader.dispose()
    if node is None or data is None:
        raise config_error(name, [f"{name}:1: (file): the file is empty ({_EMPTY_EXPECTED})"])
    return Document(root=node, data=data, duplicate_keys=duplicates)


def _compose_fast(text: str) -> tuple[yaml.Node | None, Any, list[Problem]] | None:
    """The node tree and data through libyaml (C), or None to take the pure-Python path.

    libyaml composes a thousand-target file in a fraction of the pure-Python time, and every
    CLI call that reads the file pays for it. Any failure (and a PyYAML built without libyaml)
    falls back to the pure-Python loader, which words the error as before.
    """
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None:
        return None
    loader = c_loader(text)
    duplicates: list[Problem] = []
    data: Any = None
    try:
        node = loader.get_single_node()
        if node is not None:
            # Before construction, which flattens `<<` merge keys into the tree.
            duplicates = _duplicate_keys(node)
            data = loader.construct_document(node)
    except Exception:  # noqa: BLE001 - the pure-Python path reports the error precisely
        return None
    finally:
        loader.dispose()
    return node, data, duplicates


def _yaml_problem(name: str, text: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        where = f", line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
        problem = f"{problem} ({exc.context}{where})"
    marks = [m for m in (exc.problem_mark, exc.context_mark) if m is not None]
    source = text.splitlines()
    if any(
        _UNQUOTED_TEMPLATE.search(_QUOTED.sub("", source[m.line]))
        for m in marks
        if m.line < len(source)
    ):
        # The classic one: `url: {address}:{port}/health` starts a YAML flow mapping.
        problem += '; quote a value that starts with a {template} or has one in [...], e.g. "{id}"'
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


def _duplicate_keys(root: yaml.Node) -> list[Problem]:
    """Keys written twice in one mapping: YAML would silently keep only the last.

    Read from the tree before construction, which flattens ``<<`` merge keys into their
    mappings (legitimately repeating keys there).
    """
    return [
        Problem(
            second.start_mark.line + 1,
            format_path(path),
            f"duplicate key (expected each key once; it is first set at line "
            f"{first.start_mark.line + 1}, and YAML would silently keep only the last)",
        )
        for path, first, second in _walk_duplicates(root, (), set())
    ]


def locate(root: yaml.Node, path: typing.Sequence[PathPart]) -> tuple[int, yaml.Node | None]:
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


def format_path(path: typing.Sequence[PathPart]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "(root)"


def problem(root: yaml.Node, path: typing.Sequence[PathPart], message: str) -> Problem:
    """A problem about ``path``, placed on its line."""
    line, _ = locate(root, path)
    return Problem(line, format_path(path), message)
