"""Read-only commands take ``state_dir`` and ``store`` from ``-c`` without the whole loader.

Whatever the quick read cannot take for certain falls back to the full loader, so the
location found is always the one the loader would find.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rollsafe.config import loading
from rollsafe.interfaces.cli import context

FLEET = "targets:\n" + "".join(f"  - {{id: t{i}}}\n" for i in range(3))


@pytest.mark.parametrize(
    "text",
    [
        "state_dir: ./data\nstore:\n  url: sqlite:////tmp/x.db\n  password_env: PW\n" + FLEET,
        "# comment\n---\nversion: 1\nstore: {}\n" + FLEET,
        FLEET + "state_dir: ~/rs  # home\n",
        "version: 1\n",
    ],
)
def test_the_quick_read_finds_what_the_loader_finds(tmp_path, text):
    config = tmp_path / "rollsafe.yaml"
    config.write_text(text, encoding="utf-8")
    loaded = loading.load(config)
    quick = context._read_location(config)
    assert quick == context.StoreLocation(
        state_dir=loaded.state_dir,
        url=loaded.config.store.url,
        password_env=loaded.config.store.password_env,
    )


@pytest.mark.parametrize(
    "text",
    [
        "{state_dir: ./data, targets: []}\n",  # flow style at the top
        '"state_dir": ./data\n',  # a quoted key
        "state_dir: ./a\nstate_dir: ./b\n",  # written twice
        "defaults: &d {url: 'sqlite:////tmp/x.db'}\nstore: *d\n",  # an alias into another key
        "state_dir: [./a]\n",  # not a path
        "store: {url: 5}\n",  # not a URL
        "state_dir: [unclosed\n",  # not YAML
    ],
)
def test_anything_unusual_goes_to_the_loader(tmp_path, text):
    config = tmp_path / "rollsafe.yaml"
    config.write_text(text, encoding="utf-8")
    assert context._read_location(config) is None


def test_an_unreadable_file_goes_to_the_loader(tmp_path):
    assert context._read_location(Path(tmp_path / "missing.yaml")) is None
