"""Whatever text the configuration file holds: a valid config, or ConfigError with FILE:LINE.

The example-edit fuzz (``test_config_loading_fuzz``) starts from a good file; this one starts
from nothing: arbitrary text, arbitrary YAML structures, and hostile YAML (deep nesting, alias
bombs, tags, binary), which must never escape as another exception.
"""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollsafe.config import loading
from rollsafe.domain import errors

FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
_yaml_bits = st.sampled_from(
    [
        "targets:",
        "- id: web-1",
        "  ",
        "\n",
        ": ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "!!binary ",
        "!!python/object:os.system ",
        "'",
        '"',
        "#",
        "---",
        "...",
        "\t",
        "policy: {dry_run: .nan}",
        "probes:",
        "kind: http",
        "{id}",
        "\x00",
        "\ufeff",
    ]
)
_texts = st.text(max_size=200) | st.lists(_yaml_bits | st.text(max_size=5), max_size=30).map(
    "".join
)
_keys = st.sampled_from(
    ["targets", "probes", "rules", "policy", "intake", "server", "id", "kind", "x", "state_dir"]
)
_structures = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys | st.text(), inner),
    max_leaves=15,
)


def _load_or_explained(file) -> None:
    try:
        loading.load(file)
    except errors.ConfigError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    for line in problems:
        assert re.match(rf"{re.escape(str(file))}:\d+: .+: \S", line), line


@FUZZ
@given(text=_texts)
def test_any_text(tmp_path, text):
    file = tmp_path / "rollsafe.yaml"
    file.write_text(text, encoding="utf-8", errors="surrogatepass")
    _load_or_explained(file)


@FUZZ
@given(data=_structures)
def test_any_structure(tmp_path, data):
    file = tmp_path / "rollsafe.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    _load_or_explained(file)


_BOMB = "a: &a [x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)
)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "{a: " * 50_000,
        "- " * 5_000 + "x",
        "targets: " + "[" * 300 + "]" * 300,
        "targets:\n" + "".join("  " * i + "- \n" for i in range(2_000)),
        _BOMB + "targets: *h\n",
        b"\xff\xfe\x00".decode("latin-1"),
        "targets: !!python/object/apply:os.system [true]",
        "policy: {dry_run: .nan, max_concurrent_runs: 1e999}",
    ],
    ids=[
        "flow-100k",
        "mappings-50k",
        "block-5k",
        "deep-value",
        "indent-2k",
        "bomb",
        "binary",
        "tag",
        "nan",
    ],
)
def test_hostile_yaml(tmp_path, text):
    file = tmp_path / "rollsafe.yaml"
    file.write_text(text, encoding="utf-8")
    _load_or_explained(file)
