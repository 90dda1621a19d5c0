"""``python -m yolo_lab stop-runs ROOT... [--wait S] [--json]``: stop every live run.

The launcher runs it inside a container before ``yolo-lab down`` removes it,
so a training there saves ``last.pt`` and ends cleanly instead of being
killed with the container. Each live run under the roots (its status not
final and its process still there) is asked to stop after its batch, then
waited for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .launch import run_status, stop_run
from .rundir import STATUS_FILE, TERMINAL

__all__ = ["live_runs", "main", "stop_runs"]

_MAX_DEPTH = 4


def _run_folders(root: Path, depth: int = 0) -> Iterator[Path]:
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return
    if (root / STATUS_FILE).is_file():
        yield root
        return  # a run folder holds no runs
    if depth < _MAX_DEPTH:
        for child in children:
            if not child.name.startswith("."):
                yield from _run_folders(child, depth + 1)


def live_runs(roots: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The run folders under ``roots`` whose status is not final and whose process lives.

    A run on Slurm is left out: its processes are on the cluster, which the
    container's end does not touch.
    """
    found = []
    for root in roots:
        for folder in _run_folders(Path(root).expanduser().resolve()):
            status = run_status(folder)
            if status.get("status") not in TERMINAL | {None} and not status.get("slurm"):
                found.append(folder)
    return found


def stop_runs(
    roots: Sequence[str | os.PathLike[str]], wait_s: float = 120.0
) -> list[dict[str, Any]]:
    """Stop every live run under ``roots`` and wait for each to end (or ``wait_s``)."""
    runs = live_runs(roots)
    for folder in runs:
        stop_run(folder)
    deadline = time.monotonic() + wait_s
    pending = set(runs)
    while pending and time.monotonic() < deadline:
        pending = {f for f in pending if run_status(f).get("status") not in TERMINAL}
        if pending:
            time.sleep(0.5)
    out = []
    for folder in runs:
        status = run_status(folder)
        out.append(
            {
                "run": str(folder),
                "status": status.get("status"),
                "last": status.get("last"),
                "ended": folder not in pending,
            }
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m yolo_lab stop-runs",
        description="Stop every live yolo-lab run under the folders, saving last.pt.",
    )
    parser.add_argument("roots", nargs="+", help="folders holding run folders (searched 4 deep)")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait (default 120)")
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    args = parser.parse_args(argv)
    if args.wait < 0:
        parser.error("--wait must be 0 or more")
    results = stop_runs(args.roots, args.wait)
    if args.json:
        json.dump(results, sys.stdout)
        sys.stdout.write("\n")
    else:
        for r in results:
            state = r["status"] if r["ended"] else f"still running after {args.wait:.0f} s"
            saved = f" (last.pt: {r['last']})" if r.get("last") else ""
            sys.stdout.write(f"{r['run']}: {state}{saved}\n")
        if not results:
            sys.stdout.write("no live runs\n")
    return 0 if all(r["ended"] for r in results) else 1
