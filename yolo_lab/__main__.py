"""``python -m yolo_lab doctor [--json] [--workers N] [--check]`` and
``python -m yolo_lab stop-runs ROOT... [--wait S] [--json]`` and
``python -m yolo_lab bench [--data YAML] [--json] ...``.

The doctor is the same as the ``yolo-lab-doctor`` command the wheel
installs, for a Python whose scripts folder is not on PATH; ``stop-runs``
stops every live run under the folders (the launcher's ``down`` runs it);
``bench`` prints the course's speed table for this machine.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .environment import main as doctor_main

USAGE = (
    "usage: python -m yolo_lab doctor [--json] [--workers N] [--check]\n"
    "       python -m yolo_lab stop-runs ROOT... [--wait S] [--json]\n"
    "       python -m yolo_lab bench [--data YAML] [--batch-size N] [--imgsz N] [--json]\n"
    "(the shapes dataset: python -m yolo_lab.shapes OUT)\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "stop-runs":
        from .training.stopall import main as stop_main

        return stop_main(args[1:])
    if args and args[0] == "bench":
        from .bench import main as bench_main

        return bench_main(args[1:])
    if not args or args[0] != "doctor":
        sys.stderr.write(USAGE)
        return 2
    return doctor_main(args[1:], prog="python -m yolo_lab doctor")


if __name__ == "__main__":
    sys.exit(main())
