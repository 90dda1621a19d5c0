"""The installed package as a user gets it: the prebuilt extension, no Node needed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import yolo_lab


@pytest.mark.kernel
def test_labextension_is_enabled_and_ok() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # jupyter prints the list on stderr; strip the colour codes.
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    line = next((row for row in text.splitlines() if "yolo-lab" in row), None)
    assert line is not None, text
    assert re.search(rf"yolo-lab v{re.escape(yolo_lab.__version__)}\s+enabled\s+OK", line), line


def test_installed_labextension_carries_the_built_bundle() -> None:
    share = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "yolo-lab"
    package = json.loads((share / "package.json").read_text())
    assert package["name"] == "yolo-lab"
    entry = share / package["jupyterlab"]["_build"]["load"]
    assert entry.is_file() and entry.stat().st_size > 0
    assert (share / "schemas" / "yolo-lab" / "panel.json").is_file()
    assert (share / "schemas" / "yolo-lab" / "bridge.json").is_file()
