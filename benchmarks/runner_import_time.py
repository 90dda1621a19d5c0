"""What a training process pays to import yolo-lab's runner, in two checkouts.

    python benchmarks/runner_import_time.py OTHER_CHECKOUT [--repeat 15]

Runs ``python -X importtime -c "import yolo_lab._runner"`` in this checkout
and in OTHER_CHECKOUT (e.g. ``git worktree add /tmp/before <rev>``),
interleaved, and prints the median of yolo-lab's own modules' cumulative
import time and how many modules the import loads. Each run, autotune probe
and DDP rank starts with this import.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def once(checkout: Path) -> tuple[float, int]:
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import yolo_lab._runner"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    total_us, modules = 0, 0
    for line in err.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        modules += 1
        # Top-level entries only (one space of nesting): their cumulative
        # time already holds what they imported.
        if match.group(4).startswith("yolo_lab") and len(match.group(3)) == 1:
            total_us += int(match.group(2))
    return total_us / 1000, modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="another checkout of yolo-lab")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, int]]] = {"other": [], "this": []}
    for _ in range(args.repeat):
        runs["other"].append(once(args.other.resolve()))
        runs["this"].append(once(HERE))
    for name, where in (("other", args.other.resolve()), ("this", HERE)):
        ms = statistics.median(t for t, _ in runs[name])
        print(f"{name:5} {where}: {ms:.1f} ms median, {runs[name][0][1]} modules")


if __name__ == "__main__":
    main()
