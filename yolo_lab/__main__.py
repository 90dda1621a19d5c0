"""``python -m yolo_lab doctor [--json] [--workers N] [--check]``.

The same as the ``yolo-lab-doctor`` command the wheel installs, for a Python
whose scripts folder is not on PATH.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .doctor import main as doctor_main

USAGE = (
    "usage: python -m yolo_lab doctor [--json] [--workers N] [--check]\n"
    "(the shapes dataset: python -m yolo_lab.shapes OUT)\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "doctor":
        sys.stderr.write(USAGE)
        return 2
    return doctor_main(args[1:], prog="python -m yolo_lab doctor")


if __name__ == "__main__":
    sys.exit(main())
