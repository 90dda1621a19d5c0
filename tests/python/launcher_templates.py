"""The class's host-side files (launcher/templates/), loaded as modules by their path:
they are written beside the Hub's config, not installed with yolo_lab."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

TEMPLATES = Path(__file__).resolve().parents[2] / "launcher" / "templates"


def load_template(name: str) -> ModuleType:
    """``launcher/templates/<name>.py`` as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
