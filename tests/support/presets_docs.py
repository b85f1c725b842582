"""Rules docs/presets.md shows a user to copy, read from the docs themselves: the tests that
measure them read the very block a user copies, so the two cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PRESETS_MD = Path(__file__).resolve().parents[2] / "docs" / "presets.md"


def steady_loop(probe: str = "segfaults") -> list[dict[str, Any]]:
    """The opt-in steady-loop rules (docs/presets.md, segfault-loop, round 9): one program
    crashing at a steady pace, with its own "pace is up" leaf (rules you write cannot list
    the preset's ``segfaults-up``); their probe is named ``probe`` (the docs: ``segfaults``)."""
    docs = PRESETS_MD.read_text("utf-8")
    [block] = [b.split("\n", 1)[1] for b in docs.split("```")[1:] if "same_program: true" in b]
    rules: list[dict[str, Any]] = yaml.safe_load(block)["rules"]
    return [{**r, "probe": probe} if "probe" in r else r for r in rules]
