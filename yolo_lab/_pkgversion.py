"""The package version, kept apart from ``__init__`` so that submodules can
import it without a circular import.

Not ``_version.py``: the hatch version hook generates that file at build
time and it is not tracked, so a source checkout would not have it.
"""

from __future__ import annotations

from importlib import metadata

_FALLBACK_VERSION = "0.1.0"


def _read_version() -> str:
    # A source checkout on PYTHONPATH has no distribution metadata; the
    # fallback keeps the hello handshake meaningful there.
    try:
        return metadata.version("yolo-lab")
    except metadata.PackageNotFoundError:
        return _FALLBACK_VERSION


__version__: str = _read_version()
