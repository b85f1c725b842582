"""Whatever a file holds, loading either succeeds or raises ConfigError with FILE:LINE lines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollsafe.config import loading
from rollsafe.domain import errors

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "rollsafe.yaml"
BASE = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10_000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["5 minutes", "30s", "{id}", "{nope}", "(", "web-1", "http", "all", "a"]),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["kind", "id", "name", "rules", "x", "url"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


PATHS = [p for p in _paths(BASE) if p]


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[head] = _replaced(data[head], tuple(rest), value)
    return copy


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_any_edit_of_the_example_is_loaded_or_explained(tmp_path, edits):
    data = BASE
    for path, value in edits:
        try:
            data = _replaced(data, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this place
    file = tmp_path / "rollsafe.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        loading.load(file)
    except errors.ConfigError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    for line in problems:
        assert re.match(rf"{re.escape(str(file))}:\d+: \S+: \S", line), line
