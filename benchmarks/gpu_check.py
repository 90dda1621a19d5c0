"""The one prepared GPU check: everything only an NVIDIA machine shows, in one call.

Run through ``bash scripts/gpu_check.sh [--cpu] [--out DIR]`` (which first
installs the wheels of ``scripts/gpu_wheels.sh`` when ``.whl/`` is there).

Sections, each under its own time budget and its own try/except, so that one
failure still lets the others run and print:

- ``environment``: Python, torch, CUDA, the GPU, ``nvidia-smi``;
- ``doctor``: ``yolo_lab.doctor()`` as the kernel would see it;
- ``telemetry``: samples from the sampler at 10 Hz (NVML where a driver answers);
- ``sample_cost``: ``benchmarks/sample_cost.py`` (what one sample costs);
- ``seed_comparison``: one epoch of a generated shapes set on all CPU cores,
  on the GPU, and on the GPU with AMP and a bigger batch: epoch time and
  speed-up against the CPU;
- ``stop_resume``: a run stopped mid-epoch, then resumed to the end;
- ``oom``: an absurd batch: the run's ``cuda_oom`` error and its message
  (and the refusal of a batch over the limit, before anything starts);
- ``sampler_overhead``: ``benchmarks/sampler_overhead.py`` on a GPU loop;
- ``train_speed``: YOLOv5n and YOLOv5s on cuda:0, AMP on and off, batch 16,
  64 and auto: images/s, peak GPU memory, GPU utilization, effective AMP and
  the batch autobatch chose, all from the run's own events.

``--cpu`` runs the same sections with tiny sizes on the CPU: every GPU row is
marked "absent (no GPU)", the CPU rows run for real. The JSON
(``gpu_check.json``) and the markdown tables (``gpu_check.md``) are rewritten
after every section, so a check cut short still leaves what it measured.
A check, not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ABSENT = "absent (no GPU)"
OUT_OF_TIME = "skipped (time budget spent)"

# Sizes: the GPU check must end well inside one 8-minute call on a 16-core H200
# host; --cpu must end in about 3 minutes on 2 busy cores.
GPU_SIZES = {
    "budget_s": 400.0,
    # The seed's epoch: about a minute on 16 CPU cores at 320 px (yolov5n did
    # 1-3 img/s on 2 busy cores here; a 16-core host, ~8x, then ~20 img/s).
    "images": 1280,
    "imgsz": 320,
    "steps": 30,  # batches per train_speed combination
    "workers": 8,
    "cpu_batch": 16,
    "gpu_batch": 16,
    "big_batch": 64,
    "cpu_row_cap_s": 80.0,  # past it the CPU epoch is extrapolated from its batches
    "run_cap_s": 45.0,
    "stop_after": 5,
    # 80 batches an epoch: at batch 64 an H200 ends the epoch's ~20 batches
    # before a stop (polled every 0.2 s) arrives, and a finished run is not
    # resumed.
    "resume_batch": 16,
    "resume_epochs": 1,
}
CPU_SIZES = {
    "budget_s": 260.0,
    "images": 32,
    "imgsz": 64,
    "steps": 3,
    "workers": 1,
    "cpu_batch": 8,
    "gpu_batch": 8,
    "big_batch": 16,
    "cpu_row_cap_s": 70.0,
    "run_cap_s": 70.0,
    "stop_after": 2,
    # 16 batches over 2 epochs: the stop after the second must land mid-run
    # even when a loaded machine delays it by a dozen batches (with 4 batches
    # the run could end before it, and a finished run is rightly not resumed).
    "resume_batch": 4,
    "resume_epochs": 2,
}
# The out-of-memory run: YOLOv5x's activations at 640 px are about 1 GiB an
# image, so batch 256 asks about 256 GiB, far past an H200's 139 GiB. No
# DataLoader workers: at 1280 px with 2 workers the batches first filled
# about 5 GB of /dev/shm, which may end the run with a bus error, not cuda_oom.
OOM = {"model": "yolov5x", "batch": 256, "imgsz": 640, "workers": 0}
OOM_GPU_GIB_PER_IMAGE = 1.0
# The logs of runs that failed go here, under --out: on a one-shot machine
# they are the only evidence.
LOGS = "logs"
REFUSED_BATCH = 100_000


class Section:
    """What one section measured; ``status`` is ok, failed, timed out, absent or skipped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.data: dict[str, Any] = {"status": "running"}

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value


class Check:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = dict(CPU_SIZES if args.cpu else GPU_SIZES)
        for key in ("images", "imgsz", "steps"):
            if getattr(args, key) is not None:
                self.sizes[key] = getattr(args, key)
        if args.budget_s is not None:
            self.sizes["budget_s"] = args.budget_s
        self.out = Path(args.out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.t0 = time.monotonic()
        self.deadline = self.t0 + float(self.sizes["budget_s"])
        self.tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
        self.runs_dir = self.tmp / "runs"
        self.data: Path | None = None
        self.active: list[Any] = []
        self.gpu = False
        self.cpus = os.cpu_count() or 1
        self.report: dict[str, Any] = {
            "v": 1,
            "mode": "cpu" if args.cpu else "gpu",
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "sizes": self.sizes,
            "sections": {},
        }

    # -- time and sections

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def section(self, name: str, budget_s: float, body: Callable[[Section], None]) -> None:
        section = Section(name)
        self.report["sections"][name] = section.data
        budget = min(budget_s, self.left())
        print(f"\n== {name} (budget {max(0.0, budget):.0f} s)", flush=True)
        if budget < 5:
            section["status"] = OUT_OF_TIME
            print(f"   {OUT_OF_TIME}", flush=True)
            self.save()
            return
        started = time.monotonic()
        errors: list[str] = []

        def target() -> None:
            try:
                body(section)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                traceback.print_exc()

        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        thread.join(budget)
        if thread.is_alive():
            section["status"] = "timed out"
            section["error"] = f"still running after {budget:.0f} s"
            self.stop_active()
            thread.join(15)
        elif errors:
            section["status"] = "failed"
            section["error"] = errors[0]
        elif section.data["status"] == "running":
            section["status"] = "ok"
        section["seconds"] = round(time.monotonic() - started, 1)
        shown = {k: v for k, v in section.data.items() if k not in ("text", "report")}
        print(f"-- {name}: {json.dumps(shown, default=str)[:1500]}", flush=True)
        self.save()

    def stop_active(self) -> None:
        for run in list(self.active):
            try:
                if run.running:
                    run.stop()
            except Exception:
                pass

    # -- training runs through the public API

    def train(self, **kwargs: Any) -> Any:
        from yolo_lab import training

        options = {
            "model": "yolov5n.yaml",
            "epochs": 1,
            "imgsz": self.sizes["imgsz"],
            "workers": self.sizes["workers"],
            "project": self.runs_dir,
            "noval": True,
            "noplots": True,
            "telemetry_interval_s": 0.5,
        }
        options.update(kwargs)
        run = training.train(self.data, **options)
        self.active.append(run)
        return run

    def finish(self, run: Any, steps: int, timeout_s: float) -> str:
        """Wait for the run, stopping it after ``steps`` batches (0: the whole
        epoch) or once ``timeout_s`` has passed; its final status."""
        deadline = time.monotonic() + max(1.0, timeout_s)
        while run.running and time.monotonic() < deadline:
            if steps and len(run.events("batch")) >= steps:
                break
            time.sleep(0.2)
        if run.running:
            run.stop()
        try:
            status = run.wait(timeout=60)
        except TimeoutError:
            status = f"{run.status} (did not end 60 s after the stop)"
        if run in self.active:
            self.active.remove(run)
        return status

    # -- output

    def save(self) -> None:
        self.report["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        text = json.dumps(self.report, indent=1, default=str)
        (self.out / "gpu_check.json").write_text(text + "\n", encoding="utf-8")
        (self.out / "gpu_check.md").write_text(markdown(self.report), encoding="utf-8")


# -- the sections -------------------------------------------------------------


def environment(check: Check, s: Section) -> None:
    s["python"] = f"{platform.python_version()} ({sys.executable})"
    s["machine"] = f"{platform.machine()} {platform.system()} {platform.release()}"
    s["cpus"] = check.cpus
    try:
        import torch

        s["torch"] = torch.__version__
        s["cuda_build"] = torch.version.cuda
        s["cuda_available"] = bool(torch.cuda.is_available())
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            s["gpu"] = props.name
            s["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
            s["gpu_count"] = torch.cuda.device_count()
            s["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    except Exception as exc:
        s["torch"] = f"not importable: {type(exc).__name__}: {exc}"
    smi = shutil.which("nvidia-smi")
    if smi:
        query = "--query-gpu=index,name,driver_version,memory.total"
        done = subprocess.run(
            [smi, query, "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
        s["nvidia_smi"] = (done.stdout or done.stderr).strip()
    else:
        s["nvidia_smi"] = "not found"
    check.gpu = bool(s.data.get("cuda_available")) and not check.args.cpu
    # For checking the GPU rows' own code where no GPU is (train() refuses them).
    check.gpu = check.gpu or os.environ.get("GPU_CHECK_PRETEND_GPU") == "1"
    s["gpu_rows"] = "run" if check.gpu else ABSENT
    for key in ("python", "torch", "cuda_available", "gpu", "nvidia_smi", "cpus"):
        print(f"   {key}: {s.data.get(key)}")


def _make_part(args: tuple[Path, int, int, int, int]) -> str:
    from yolo_lab import shapes

    root, train, val, size, seed = args
    return str(shapes.make_shapes_dataset(root, train=train, val=val, image_size=size, seed=seed))


def dataset(check: Check, s: Section) -> None:
    """The shapes set every run trains on, made in parallel parts (one yaml lists them)."""
    images, size = int(check.sizes["images"]), int(check.sizes["imgsz"])
    parts = max(1, min(check.cpus, images // 64))
    counts = [images // parts + (1 if i < images % parts else 0) for i in range(parts)]
    jobs = [
        (check.tmp / f"shapes{i}", n, 16 if i == 0 else 1, size, i) for i, n in enumerate(counts)
    ]
    if parts == 1:
        yamls = [_make_part(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(parts) as pool:
            yamls = pool.map(_make_part, jobs)
    roots = [Path(y).parent for y in yamls]
    names = (roots[0] / "data.yaml").read_text(encoding="utf-8").split("nc:", 1)[1]
    train = ", ".join(json.dumps(str(r / "images" / "train")) for r in roots)
    data = check.tmp / "data.yaml"
    data.write_text(
        f"path: {json.dumps(str(check.tmp))}\n"
        f"train: [{train}]\n"
        f"val: {json.dumps(str(roots[0] / 'images' / 'val'))}\n"
        f"nc:{names}",
        encoding="utf-8",
    )
    check.data = data
    s["images"] = images
    s["imgsz"] = size
    s["parts"] = parts
    s["yaml"] = str(data)


def doctor(check: Check, s: Section) -> None:
    import yolo_lab

    report = yolo_lab.doctor(workers=int(check.sizes["workers"]))
    text = report.to_text()
    print("\n".join("   " + line for line in text.splitlines()))
    s["ok"] = report.ok
    s["findings"] = [f"{f['severity']}: {f['id']}" for f in report.data.get("findings", [])]
    s["report"] = report.data
    s["text"] = text


def telemetry(check: Check, s: Section) -> None:
    from yolo_lab.telemetry import Sampler

    got: list[Any] = []
    sampler = Sampler(interval_s=0.1)

    def listener(kind: str, payload: Any) -> None:
        got.append((kind, payload))

    sampler.add_listener(listener)
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            if sum(len(p.samples) for k, p in got if k == "batch") >= 10:
                break
            time.sleep(0.05)
    finally:
        sampler.remove_listener(listener)
    batches = [p for k, p in got if k == "batch"]
    samples = [x for b in batches for x in b.samples]
    s["source"] = batches[-1].source if batches else None
    s["samples"] = len(samples)
    s["notices"] = [str(p) for k, p in got if k != "batch"]
    s["last_sample"] = samples[-1] if samples else None
    if samples:
        print(f"   source {s.data['source']}, {len(samples)} samples; last: {samples[-1]}")


def _script(check: Check, s: Section, argv: list[str], timeout_s: float) -> str:
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=max(5.0, timeout_s),
    )
    text = done.stdout + (f"\n[stderr]\n{done.stderr[-3000:]}" if done.returncode else "")
    print("\n".join("   " + line for line in text.rstrip().splitlines()))
    s["returncode"] = done.returncode
    s["text"] = text
    if done.returncode:
        s["status"] = "failed"
        s["error"] = f"exit status {done.returncode}"
    return done.stdout


def sample_cost(check: Check, s: Section) -> None:
    out = _script(check, s, ["benchmarks/sample_cost.py"], check.left() - 5)
    path = None
    costs: dict[str, dict[str, float]] = {}
    for line in out.splitlines():
        head = re.match(r"(\w+) path \(", line)
        if head:
            path = head.group(1)
            costs[path] = {}
        hit = re.search(r"sample, process tree cached\s+median\s+([\d.]+) ms", line)
        if hit and path:
            costs[path]["sample_ms"] = float(hit.group(1))
        hit = re.search(r"at\s+(\d+) Hz: ([\d.]+) ms of CPU per second", line)
        if hit and path:
            costs[path][f"cpu_ms_per_s_at_{hit.group(1)}hz"] = float(hit.group(2))
    s["paths"] = costs
    s["nvml"] = "nvml" in costs


def sampler_overhead(check: Check, s: Section) -> None:
    device = "cuda:0" if check.gpu else "cpu"
    reps, round_s = ("4", "1.0") if check.gpu else ("2", "0.4")
    argv = ["benchmarks/sampler_overhead.py", "--device", device, "--reps", reps]
    out = _script(check, s, [*argv, "--round-s", round_s], check.left() - 5)
    s["device"] = device
    s["note"] = "" if check.gpu else f"CPU loop; the GPU loop is {ABSENT}"
    for line in out.splitlines():
        hit = re.match(
            r"(1 Hz|10 Hz)\s+slowdown vs off: median ([+-][\d.]+) % .* (PASS|MISS)", line
        )
        if hit:
            s[f"slowdown_pct_{hit.group(1).replace(' ', '').lower()}"] = float(hit.group(2))
            s[f"verdict_{hit.group(1).replace(' ', '').lower()}"] = hit.group(3)


def summarize(run: Any, status: str, steps: int = 0) -> dict[str, Any]:
    """What the run itself reported, from its events."""
    events = run.events()
    batches = [e for e in events if e["kind"] == "batch"]
    counted = batches[:steps] if steps else batches
    # After the first batch, which pays for the warm-up; the first alone when
    # the run was cut before a second.
    rates = [b["imgs_per_s"] for b in counted[1:] if b.get("imgs_per_s")]
    rates = rates or [b["imgs_per_s"] for b in counted[:1] if b.get("imgs_per_s")]
    mem = [b["gpu_mem_gib"] for b in counted if b.get("gpu_mem_gib") is not None]
    amp = [e for e in events if e["kind"] == "amp"]
    auto = [e for e in events if e["kind"] == "autobatch"]
    errors = [e for e in events if e["kind"] == "error"]
    running = [e["t"] for e in events if e["kind"] == "status" and e.get("status") == "running"]
    util: list[float] = []
    gpu_used: list[int] = []
    if batches:
        first, last = batches[0]["t"], batches[-1]["t"]
        for e in events:
            if e["kind"] == "telemetry" and first <= e["t"] <= last:
                for gpu in e["sample"].get("gpus") or []:
                    if gpu.get("index") == 0 and gpu.get("util_pct") is not None:
                        util.append(float(gpu["util_pct"]))
                    if gpu.get("index") == 0 and gpu.get("mem_used_bytes") is not None:
                        gpu_used.append(int(gpu["mem_used_bytes"]))
    row: dict[str, Any] = {
        "status": status,
        "batches": len(batches),
        "batches_per_epoch": batches[-1].get("batches") if batches else None,
        "batch_size": batches[0].get("images") if batches else None,
        "imgs_per_s": round(statistics.median(rates), 1) if rates else None,
        "gpu_mem_gib": round(max(mem), 2) if mem else None,
        "gpu_util_pct": round(statistics.median(util), 1) if util else None,
        "gpu_util_max_pct": max(util) if util else None,
        "gpu_used_gib": round(max(gpu_used) / 2**30, 2) if gpu_used else None,
        "amp": ("on" if amp[-1].get("enabled") else "off") if amp else None,
        "amp_reason": amp[-1].get("reason") if amp else None,
        "amp_score_diff": amp[-1].get("score_diff") if amp else None,
        "autobatch": auto[-1]["batch_size"] if auto else None,
        "train_s": round(batches[-1]["t"] - running[0], 2) if batches and running else None,
        "run": str(run.dir),
    }
    if errors:
        row["error"] = {k: errors[-1].get(k) for k in ("code", "message", "fix")}
        row["status"] = f"{status}: {errors[-1].get('code')}"
        row["note"] = str(errors[-1].get("message"))[:160]
    return row


def seed_comparison(check: Check, s: Section) -> None:
    rows: list[dict[str, Any]] = []
    s["rows"] = rows
    sizes = check.sizes
    plan = [
        ("CPU, all cores", "cpu", sizes["cpu_batch"], False, max(1, min(8, check.cpus // 4))),
        ("GPU", "cuda:0", sizes["gpu_batch"], False, sizes["workers"]),
        ("GPU, AMP, bigger batch", "cuda:0", sizes["big_batch"], True, sizes["workers"]),
    ]
    for label, device, batch, amp, workers in plan:
        row: dict[str, Any] = {"row": label, "device": device, "batch": batch}
        row["amp_asked"] = "on" if amp else "off"
        row["workers"] = workers
        rows.append(row)
        if device != "cpu" and not check.gpu:
            row["status"] = ABSENT
            continue
        cap = sizes["cpu_row_cap_s"] if device == "cpu" else sizes["run_cap_s"]
        cap = min(cap, check.left() - 10)
        if cap < 10:
            row["status"] = OUT_OF_TIME
            continue
        try:
            run = check.train(
                device=device,
                batch_size=batch,
                amp=amp if device != "cpu" else False,
                workers=workers,
                name=f"seed-{device.replace(':', '')}-b{batch}",
            )
            row.update(summarize(run, check.finish(run, 0, cap)))
        except Exception as exc:  # one row failing leaves the others to run
            row["status"] = f"failed: {type(exc).__name__}"
            row["note"] = str(exc)[:160]
            continue
        done, total = row["batches"], row["batches_per_epoch"]
        row["epoch_s"] = row["train_s"]
        if row["train_s"] and total and done and done < total:
            # Cut by its time cap: the epoch time at the speed it had.
            row["epoch_s"] = round(row["train_s"] * total / done, 1)
            row["note"] = f"extrapolated from {done} of {total} batches"
        print(f"   {label}: {row['status']}, epoch {row['epoch_s']} s, {row['imgs_per_s']} img/s")
        check.save()
    base = rows[0].get("epoch_s")
    for row in rows:
        if base and row.get("epoch_s"):
            row["speedup"] = round(base / row["epoch_s"], 1)


def stop_resume(check: Check, s: Section) -> None:
    from yolo_lab import training

    device = "cuda:0" if check.gpu else "cpu"
    s["device"] = device
    if not check.gpu:
        s["note"] = f"run on the CPU; on the GPU: {ABSENT}"
    run = check.train(
        device=device,
        batch_size=check.sizes["resume_batch"],
        epochs=check.sizes["resume_epochs"],
        amp=None if check.gpu else False,
        name="stop-resume",
        # YOLOv5 7.0's noval fails a run of several epochs at its end
        # (UnboundLocalError: map50s); this one must end "finished".
        noval=False,
    )
    after = int(check.sizes["stop_after"])
    status = check.finish(run, after, min(check.sizes["run_cap_s"], check.left() / 2))
    stopped = len(run.events("batch"))
    s["stopped_status"] = status
    s["batches_before_stop"] = stopped
    s["last_after_stop"] = run.last is not None
    print(f"   stop after {stopped} batches: {status}, last.pt {run.last is not None}")
    if status != "stopped" or run.last is None:
        s["status"] = "failed"
        s["error"] = f"expected stopped with last.pt, got {status}"
        return
    resumed = training.resume(run)
    check.active.append(resumed)
    # The resumed run redoes one epoch: give it that even on a loaded machine.
    status = check.finish(resumed, 0, max(90.0, check.left() - 5))
    s["resumed_status"] = status
    s["batches_after_resume"] = len(resumed.events("batch")) - stopped
    s["last_after_resume"] = resumed.last is not None
    errors = resumed.events("error")
    if errors:
        s["error"] = errors[-1].get("message")
    print(f"   resumed: {status}, last.pt {resumed.last is not None}")
    if status != "finished" or resumed.last is None:
        s["status"] = "failed"


def oom_asked_gib() -> float:
    """About how much GPU memory the out-of-memory run asks for."""
    return OOM["batch"] * OOM_GPU_GIB_PER_IMAGE * (OOM["imgsz"] / 640) ** 2


def oom(check: Check, s: Section) -> None:
    from yolo_lab import training

    try:
        started = training.train(
            check.data,
            device="cuda:0" if check.gpu else "cpu",
            batch_size=REFUSED_BATCH,
            project=check.runs_dir,
            name="refused",
        )
        started.stop()
        s["refused"] = {"batch": REFUSED_BATCH, "code": None, "message": "not refused"}
    except training.TrainError as exc:
        s["refused"] = {"batch": REFUSED_BATCH, **exc.to_dict()}
    print(f"   batch {REFUSED_BATCH}: {s.data['refused']}")
    if not check.gpu:
        s["run"] = ABSENT
        return
    import torch

    gpu_gib = torch.cuda.get_device_properties(0).total_memory / 2**30
    s["asked_gib"], s["gpu_gib"] = round(oom_asked_gib(), 1), round(gpu_gib, 1)
    if oom_asked_gib() < 1.5 * gpu_gib:
        s["note"] = f"the batch asks about {oom_asked_gib():.0f} GiB: may fit in {gpu_gib:.0f} GiB"
    run = check.train(
        model=f"{OOM['model']}.yaml",
        device="cuda:0",
        batch_size=OOM["batch"],
        imgsz=OOM["imgsz"],
        amp=False,
        workers=OOM["workers"],
        name="oom",
    )
    status = check.finish(run, 0, min(90.0, check.left() - 5))
    row = summarize(run, status)
    s["run"] = {k: v for k, v in row.items() if k in ("status", "batches", "error", "run")}
    s["asked"] = dict(OOM)
    error = row.get("error") or {}
    print(f"   {OOM}: {status}, {error.get('code')}: {error.get('message')}")
    if error.get("code") != "cuda_oom":
        s["status"] = "failed"
        s["error"] = f"expected the cuda_oom error, got {status} {error.get('code')}"


def train_speed(check: Check, s: Section) -> None:
    rows: list[dict[str, Any]] = []
    s["rows"] = rows
    steps = int(check.sizes["steps"])
    s["steps"] = steps
    plan = [
        (model, batch, amp)
        for model in ("yolov5n", "yolov5s")
        for batch in (16, 64, "auto")
        for amp in (True, False)
    ]
    for model, batch, amp in plan:
        row: dict[str, Any] = {"model": model, "batch": batch, "amp_asked": "on" if amp else "off"}
        row["device"] = "cuda:0"
        rows.append(row)
        if not check.gpu:
            row["status"] = ABSENT
            continue
        cap = min(check.sizes["run_cap_s"], check.left() - 5)
        if cap < 15:
            row["status"] = OUT_OF_TIME
            continue
        # Autobatch may choose a batch near the whole set: fewer, bigger steps.
        row_steps = steps if batch != "auto" else max(3, steps // 5)
        try:
            run = check.train(
                model=f"{model}.yaml",
                device="cuda:0",
                batch_size=batch,
                amp=amp,
                epochs=50,  # stopped after row_steps batches, across epochs if need be
                name=f"speed-{model}-b{batch}-amp{int(amp)}",
            )
            row.update(summarize(run, check.finish(run, row_steps, cap), row_steps))
            if batch == "auto" and row.get("autobatch") == 16:
                row["note"] = "16: YOLOv5's autobatch falls back to 16 when its fit is past 1024"
        except Exception as exc:  # one row failing leaves the others to run
            row["status"] = f"failed: {type(exc).__name__}"
            row["note"] = str(exc)[:160]
            continue
        print(
            f"   {model} b{batch} amp {row['amp_asked']}->{row['amp']}: {row['status']}, "
            f"{row['imgs_per_s']} img/s, {row['gpu_mem_gib']} GiB, util {row['gpu_util_pct']} %"
        )
        check.save()
    # One CPU row: the same measurement where no GPU is, so --cpu exercises it.
    if not check.gpu:
        batch = int(check.sizes["cpu_batch"])
        row = {"model": "yolov5n", "batch": batch, "amp_asked": "off", "device": "cpu"}
        rows.append(row)
        run = check.train(device="cpu", batch_size=batch, amp=False, name="speed-cpu")
        cap = min(check.sizes["run_cap_s"], check.left() - 5)
        row.update(summarize(run, check.finish(run, steps, cap), steps))
        print(f"   yolov5n b{batch} on the CPU: {row['status']}, {row['imgs_per_s']} img/s")


# -- markdown -----------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "/").replace("\n", " ")


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> list[str]:
    lines = ["| " + " | ".join(title for _, title in columns) + " |"]
    lines.append("|" + "|".join(" --- " for _ in columns) + "|")
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(key)) for key, _ in columns) + " |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    sections = report["sections"]
    env = sections.get("environment", {})
    lines = [
        f"# yolo-lab GPU check ({report['mode']} mode, {report['started']})",
        "",
        f"GPU: {env.get('gpu', ABSENT)}; driver/nvidia-smi: {env.get('nvidia_smi')}; "
        f"torch {env.get('torch')}; python {env.get('python')}; {env.get('cpus')} CPUs; "
        f"{report.get('elapsed_s')} s in all.",
        "",
    ]
    summary = []
    for name, data in sections.items():
        keep = ("source", "samples", "nvml", "findings", "slowdown_pct_1hz", "slowdown_pct_10hz")
        keep += ("stopped_status", "resumed_status", "last_after_resume", "device", "run")
        what = {k: data[k] for k in keep if k in data}
        if name == "oom" and isinstance(data.get("run"), dict):
            what["run"] = (data["run"].get("error") or {}).get("message") or data["run"]["status"]
        if "refused" in data:
            what["refused"] = f"{data['refused'].get('code')}: {data['refused'].get('message')}"
        if data.get("error"):
            what["error"] = data["error"]
        summary.append(
            {
                "section": name,
                "status": data.get("status"),
                "seconds": data.get("seconds"),
                "what": "; ".join(f"{k} {_cell(v)}" for k, v in what.items()),
            }
        )
    lines += _table(
        summary,
        [("section", "section"), ("status", "status"), ("seconds", "s"), ("what", "what")],
    )
    seed = sections.get("seed_comparison", {}).get("rows")
    if seed:
        lines += ["", "## The seed's comparison: one epoch of the shapes set", ""]
        lines += _table(
            seed,
            [
                ("row", "where"),
                ("batch", "batch"),
                ("amp_asked", "AMP asked"),
                ("amp", "AMP effective"),
                ("workers", "workers"),
                ("status", "status"),
                ("epoch_s", "epoch s"),
                ("imgs_per_s", "images/s"),
                ("speedup", "speed-up vs CPU"),
                ("gpu_mem_gib", "GPU GiB"),
                ("note", "note"),
            ],
        )
    speed = sections.get("train_speed", {}).get("rows")
    if speed:
        lines += ["", f"## Training speed ({sections['train_speed'].get('steps')} batches)", ""]
        lines += _table(
            speed,
            [
                ("model", "model"),
                ("device", "device"),
                ("batch", "batch asked"),
                ("autobatch", "autobatch chose"),
                ("amp_asked", "AMP asked"),
                ("amp", "AMP effective"),
                ("status", "status"),
                ("imgs_per_s", "images/s (median)"),
                ("gpu_mem_gib", "GPU GiB (reserved)"),
                ("gpu_util_pct", "GPU util % (median)"),
                ("note", "note"),
            ],
        )
    return "\n".join(lines) + "\n"


# -- main ---------------------------------------------------------------------


def keep_failed_logs(runs_dir: Path, dest: Path) -> list[str]:
    """Copy the log of every run that did not finish or stop into ``dest``
    (as RUN.log); the copies' paths."""
    from yolo_lab.training.rundir import LOG_FILE, read_status

    kept = []
    for run_dir in sorted(runs_dir.glob("*")) if runs_dir.is_dir() else []:
        log = run_dir / LOG_FILE
        if not log.is_file():
            continue
        try:
            status = read_status(run_dir).get("status")
        except Exception:
            status = None
        if status in ("finished", "stopped"):
            continue
        dest.mkdir(parents=True, exist_ok=True)
        copy = dest / f"{run_dir.name}.log"
        shutil.copyfile(log, copy)
        kept.append(str(copy))
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cpu", action="store_true", help="tiny sizes, GPU rows marked absent")
    parser.add_argument("--out", default=os.environ.get("OUT") or "gpu-check-out")
    parser.add_argument("--budget-s", type=float, default=None, help="the whole check's budget")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--imgsz", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args(argv)
    check = Check(args)
    print(f"gpu_check: {check.report['mode']} mode, budget {check.sizes['budget_s']:.0f} s")
    print(f"writing {check.out / 'gpu_check.json'} and gpu_check.md", flush=True)
    sections: list[tuple[str, float, Callable[[Check, Section], None]]] = [
        ("environment", 30, environment),
        ("dataset", 90, dataset),
        ("doctor", 40, doctor),
        ("telemetry", 15, telemetry),
        ("sample_cost", 40, sample_cost),
        ("seed_comparison", 220, seed_comparison),
        ("stop_resume", 100, stop_resume),
        ("oom", 100, oom),
        ("sampler_overhead", 45, sampler_overhead),
        ("train_speed", 600, train_speed),
    ]
    try:
        for name, budget, body in sections:
            if name != "environment" and name != "dataset" and check.data is None:
                needs_data = name in ("seed_comparison", "stop_resume", "oom", "train_speed")
                if needs_data:
                    check.report["sections"][name] = {"status": "skipped (no dataset)"}
                    continue
            check.section(name, budget, lambda s, body=body: body(check, s))
    finally:
        check.stop_active()
        kept = keep_failed_logs(check.runs_dir, check.out / LOGS)
        check.report["failed_logs"] = kept
        check.save()
        shutil.rmtree(check.tmp, ignore_errors=True)
    print("\n" + markdown(check.report))
    print(f"written: {check.out / 'gpu_check.json'}, {check.out / 'gpu_check.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
