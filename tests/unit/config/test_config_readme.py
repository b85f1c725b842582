"""The configuration shown in the README is valid: documentation that is checked cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

from rollsafe.config import loading

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_yaml_block_of_the_readme_loads(tmp_path):
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README shows a configuration"
    for number, block in enumerate(blocks):
        path = tmp_path / f"readme-{number}.yaml"
        path.write_text(block)
        loaded = loading.load(path)
        assert loaded.config.targets
