"""Rewrites the signal, rule and parameter tables of docs/presets.md from the preset files.

    .venv/bin/python corpus/preset_tables.py          # rewrite docs/presets.md in place
    .venv/bin/python corpus/preset_tables.py --check  # exit 1 if the tables are stale

The tables of each ``## `<preset>``` section are generated from
``src/rollsafe/config/presets/<preset>.yaml`` (signals, rules with their severity and
description, parameters with their default and ``why``), so the docs never drift from what
ships. The prose around them is left alone.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "presets.md"
PRESETS = ROOT / "src" / "rollsafe" / "config" / "presets"
_PLACEHOLDER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _text(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def _described(text: str) -> str:
    return _PLACEHOLDER.sub(lambda m: f"`{m.group(1)}`", _text(text))


def tables(name: str) -> str:
    data = yaml.safe_load((PRESETS / f"{name}.yaml").read_text(encoding="utf-8"))
    out = ["| signal | required | probe kinds | means |", "|---|---|---|---|"]
    for signal, spec in data["signals"].items():
        kinds = ", ".join(spec.get("kinds", [])) or "an intake source"
        required = "yes" if spec.get("required") else "no"
        out.append(f"| `{signal}` | {required} | {kinds} | {_text(spec['means'])} |")
    out += ["", "| rule | kind | severity | fires when |", "|---|---|---|---|"]
    for rule in data["rules"]:
        out.append(
            f"| `{rule['id']}` | {rule['kind']} | {rule['severity']} | "
            f"{_described(rule.get('description', ''))} |"
        )
    out += ["", "| parameter | default | why |", "|---|---|---|"]
    for param, spec in data["params"].items():
        out.append(f"| `{param}` | `{spec['default']}` | {_text(spec['why'])} |")
    return "\n".join(out) + "\n"


def rewrite(text: str) -> str:
    for name in ("web-service", "database-host", "batch-host"):
        head = f"## `{name}`\n"
        start = text.index(head)
        end = text.index("\n## ", start + len(head))
        section = text[start:end]
        first = section.index("\n|")
        # The tables run from the first table line to the last one of the section.
        lines = section.splitlines(keepends=True)
        table_lines = [i for i, line in enumerate(lines) if line.startswith("|")]
        before = "".join(lines[: table_lines[0]])
        after = "".join(lines[table_lines[-1] + 1 :])
        del first
        text = text[:start] + before + tables(name) + after + text[end:]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    current = DOCS.read_text(encoding="utf-8")
    wanted = rewrite(current)
    if args.check:
        return 0 if wanted == current else 1
    DOCS.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
