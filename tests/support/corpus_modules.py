"""The corpus's own Python modules (``corpus/*.py``: the builder, the quoted real events) and
other scripts the tests read, loaded by path: they are not packages."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def load(path: Path) -> ModuleType:
    """The module at ``path``, loaded afresh (a test's changes to it stay its own)."""
    spec = importlib.util.spec_from_file_location(f"_rollsafe_{path.parent.name}_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def corpus_module(name: str) -> ModuleType:
    """``corpus/NAME.py``."""
    return load(CORPUS / f"{name}.py")


def quoted() -> ModuleType:
    """``corpus/quoted.py``: the real kernel and systemd events the corpus quotes (cited
    there), as ``EVENTS`` by key."""
    return corpus_module("quoted")
