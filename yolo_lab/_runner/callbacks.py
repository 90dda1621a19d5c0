"""One run inside YOLOv5: the patches of its train module, its callbacks,
the stop flag and the save on stop."""

from __future__ import annotations

import os
import time
from copy import deepcopy
from datetime import datetime
from pathlib import Path
from typing import Any

from ..training.advisor import Advisor, shm_bytes
from ..training.rundir import EVENTS_FILE, spec_devices, stop_reason, write_status
from .amp import check_amp_offline
from .ddp import (
    StopAgreement,
    StoppingLoader,
    StopRequested,
    average_gradients,
    distributed,
    share_rank0_weights,
)
from .events import Events
from .process import IS_MAIN, LOCAL_RANK, RANK, WORLD

_GIB = 2**30
# On a GPU, every this-many batches is synchronised before its compute is read.
SYNC_EVERY = 10

__all__ = ["Runner", "StopRequested"]


def number(value: Any) -> float:
    """A plain float of one of YOLOv5's values: a float, a 0-d tensor, or a
    numpy array of one element (its fitness is ``shape (1,)``; ``float()`` of
    such an array is an error since numpy 2.4)."""
    item = getattr(value, "item", None)
    return float(item() if callable(item) else value)


def _fabricated(name: str) -> tuple[int, int] | None:
    """``YOLO_LAB_FABRICATED_HANG=RANK:BATCH`` (that rank sleeps there) or
    ``YOLO_LAB_FABRICATED_CRASH=RANK:BATCH`` (it raises): for tests."""
    text = os.environ.get(f"YOLO_LAB_FABRICATED_{name}", "")
    rank, _, batch = text.partition(":")
    if rank.isdigit() and batch.isdigit():
        return int(rank), int(batch)
    return None


def _shm_path() -> str:
    """Where the shared memory of the DataLoader workers is measured.

    /dev/shm, unless ``YOLO_LAB_SHM_PATH`` names another folder: for tests
    (a small tmpfs planted for one run) and for unusual containers whose
    shared memory is mounted elsewhere. Read by the runner only.
    """
    return os.environ.get("YOLO_LAB_SHM_PATH") or "/dev/shm"


def _atomic_torch_save() -> None:
    """torch.save to a path writes a temporary file and renames it.

    YOLOv5 saves last.pt and best.pt in place: a full disk mid-write left a
    truncated last.pt, losing the epoch saved before. Patched in the runner
    process only.
    """
    import torch

    original = torch.save
    if getattr(original, "_yolo_lab_atomic", False):
        return

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(f, (str, os.PathLike)):
            original(obj, f, *args, **kwargs)
            return
        path = Path(f)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            original(obj, tmp, *args, **kwargs)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    save._yolo_lab_atomic = True  # type: ignore[attr-defined]
    torch.save = save


class Runner:
    """One run: the callbacks, the stop flag and the save-on-stop."""

    def __init__(self, run_dir: Path, spec: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.spec = spec
        self.events = Events(run_dir / EVENTS_FILE, enabled=IS_MAIN)
        self.stop_reason: str | None = None
        self.model: Any = None
        self.optimizer: Any = None
        self.ema: Any = None
        self.opt: Any = None
        self.train_module: Any = None
        self.best_fitness = 0.0
        self.epoch = 0
        self.last_ni: int | None = None
        self.params = spec.get("params") or {}
        self.epochs = int(self.params.get("epochs") or 0)
        self.batches = 0
        self.batch_in_epoch = -1
        self.epoch_t0 = time.time()
        self.last_batch_t: float | None = None
        self.saved_last: str | None = None
        self.device_type = "cpu"
        self.cpu_ddp = distributed() and not spec_devices(spec)
        self.fake_oom_at = int(os.environ.get("YOLO_LAB_FABRICATED_OOM_AT_BATCH", "-1"))
        self.fake_hang = _fabricated("HANG")
        self.fake_crash = _fabricated("CRASH")
        self.loader: Any = None
        shm = _shm_path()
        self.advisor = Advisor(self.params, shm_bytes(shm), shm_path=shm)
        self.advice: list[dict[str, Any]] = []
        # An autotune probe (yolo_lab.autotune) ends after its batches, or once
        # those after its warm-up took its seconds (_end_probe).
        probe = spec.get("probe") or {}
        self.probe_batches = int(probe.get("batches") or 0)
        self.probe_warmup = int(probe.get("warmup") or 0)
        self.probe_s = float(probe.get("seconds") or 0.0)
        self.probe_min_measured = int(probe.get("min_measured") or 1)
        self.probed = 0
        self.probe_measured_s = 0.0

    # -- stop

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    def should_stop(self) -> bool:
        if self.stop_reason is None:
            asked = stop_reason(self.run_dir)
            if asked is not None:
                self.request_stop(asked)
        return self.stop_reason is not None

    def _stop_now(self) -> None:
        """Every rank agreed to stop before this batch: rank 0 saves."""
        self.request_stop("stop requested")
        if IS_MAIN and self.model is not None:
            self.save_on_stop(self.model, self.epoch)

    def _before_training(self) -> None:
        if self.model is not None:
            share_rank0_weights(self.model)

    def _before_batch(self, started: int) -> None:
        if self.fake_crash is not None and self.fake_crash == (max(RANK, 0), started):
            raise RuntimeError(
                f"fabricated crash of rank {max(RANK, 0)} at batch {started} "
                "(YOLO_LAB_FABRICATED_CRASH, for a test)"
            )
        if self.fake_hang is not None and self.fake_hang == (max(RANK, 0), started):
            while True:  # a rank that never reaches the next collective
                time.sleep(60)

    # -- patches of the train module

    def patch(self, t: Any) -> None:
        runner = self
        amp_request = self.params.get("amp")
        _atomic_torch_save()

        def check_amp(model: Any) -> bool:
            device = next(model.parameters()).device
            runner.device_type = device.type
            if amp_request is False:
                reason = "turned off by the run's amp=False"
                runner.events.emit("amp", enabled=False, requested=False, reason=reason)
                return False
            if device.type != "cuda":
                runner.events.emit(
                    "amp",
                    enabled=False,
                    requested=amp_request,
                    reason="YOLOv5 uses AMP on CUDA devices only",
                )
                return False
            # Never YOLOv5's own check: it downloads yolov5n.pt when unsure.
            verdict = check_amp_offline(model)
            runner.events.emit(
                "amp",
                enabled=verdict.ok,
                requested=amp_request,
                reason=verdict.reason,
                score_diff=verdict.score_diff,
                box_diff=verdict.box_diff,
            )
            if not verdict.ok and amp_request:
                runner.events.emit(
                    "notice", message=f"AMP was asked for but is off: {verdict.reason}"
                )
            return verdict.ok

        t.check_amp = check_amp

        original_optimizer = t.smart_optimizer

        def smart_optimizer(model: Any, *args: Any, **kwargs: Any) -> Any:
            runner.model = model
            if runner.cpu_ddp:
                average_gradients(model)
            runner.optimizer = original_optimizer(model, *args, **kwargs)
            return runner.optimizer

        t.smart_optimizer = smart_optimizer

        class CapturingEMA(t.ModelEMA):  # type: ignore[misc, name-defined]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                runner.ema = self

        t.ModelEMA = CapturingEMA

        if hasattr(t, "smart_resume"):
            original_resume = t.smart_resume

            def smart_resume(ckpt: Any, *args: Any, **kwargs: Any) -> Any:
                # A stop in the first epoch saves epoch -1 ("redo epoch 0"),
                # which YOLOv5's own check refuses; resume it at epoch 0.
                if ckpt.get("epoch") == -1:
                    best, _, epochs = original_resume(dict(ckpt, epoch=0), *args, **kwargs)
                    runner.epoch = 0
                    return best, 0, epochs
                best, start, epochs = original_resume(ckpt, *args, **kwargs)
                runner.epoch = int(start)
                return best, start, epochs

            t.smart_resume = smart_resume

        if hasattr(t, "create_dataloader"):
            original_create = t.create_dataloader

            def create_dataloader(*args: Any, **kwargs: Any) -> Any:
                loader, dataset = original_create(*args, **kwargs)
                if not kwargs.get("augment"):
                    return loader, dataset
                # The training loader: it fixes the batches per epoch, and
                # every rank asks it before each batch whether to stop.
                if not runner.batches:
                    runner.batches = len(loader)
                device = None
                if distributed() and not runner.cpu_ddp:
                    import torch

                    device = torch.device("cuda", LOCAL_RANK)
                wrapped = StoppingLoader(
                    loader,
                    StopAgreement(runner.should_stop, device),
                    runner._stop_now,
                    runner.run_dir,
                    runner._before_batch,
                    runner._before_training if runner.cpu_ddp else None,
                )
                runner.loader = wrapped
                return wrapped, dataset

            t.create_dataloader = create_dataloader

        if hasattr(t, "check_train_batch_size"):
            original_autobatch = t.check_train_batch_size

            def check_train_batch_size(*args: Any, **kwargs: Any) -> int:
                size = int(original_autobatch(*args, **kwargs))
                runner.events.emit("autobatch", batch_size=size)
                return size

            t.check_train_batch_size = check_train_batch_size

    # -- callbacks (YOLOv5 runs them on rank 0 only)

    def register(self, callbacks: Any) -> None:
        callbacks.register_action("on_train_start", "yolo_lab", self.on_train_start)
        callbacks.register_action("on_train_epoch_start", "yolo_lab", self.on_train_epoch_start)
        callbacks.register_action("on_train_batch_end", "yolo_lab", self.on_train_batch_end)
        callbacks.register_action("on_fit_epoch_end", "yolo_lab", self.on_fit_epoch_end)
        callbacks.register_action("on_model_save", "yolo_lab", self.on_model_save)
        callbacks.register_action("on_train_end", "yolo_lab", self.on_train_end)
        self.callbacks = callbacks

    def on_train_start(self, *args: Any) -> None:
        write_status(self.run_dir, status="running")
        self.events.emit("status", status="running")

    def on_train_epoch_start(self, *args: Any) -> None:
        if self.last_ni is not None and self.batches:
            self.epoch = (self.last_ni + 1) // self.batches
        self.epoch_t0 = time.time()
        self.last_batch_t = self.epoch_t0
        self.batch_in_epoch = -1

    def on_train_batch_end(
        self, model: Any, ni: int, imgs: Any, targets: Any, paths: Any, mloss: Any
    ) -> None:
        now = time.time()
        self.batch_in_epoch += 1
        # Every rank trains a batch of the same size at the same step.
        n = int(imgs.shape[0]) * WORLD
        dt = now - (self.last_batch_t or now)
        self.last_batch_t = now
        self.last_ni = int(ni)
        epoch = self._epoch_of(ni)
        self.epoch = epoch
        gpu_mem = None
        if self.device_type == "cuda":
            import torch

            gpu_mem = torch.cuda.memory_reserved() / _GIB
        box, obj, cls = (number(x) for x in mloss)
        split = self._time_split(int(ni))
        self.events.emit(
            "batch",
            epoch=epoch,
            epochs=self.epochs,
            batch=self.batch_in_epoch,
            batches=self.batches,
            ni=int(ni),
            box=box,
            obj=obj,
            cls=cls,
            images=n,
            ranks=WORLD,
            imgs_per_s=(n / dt) if dt > 0 else None,
            gpu_mem_gib=gpu_mem,
            imgsz=int(imgs.shape[-1]),
            **split,
        )
        self.advisor.add_batch(split)
        if self.fake_oom_at >= 0 and int(ni) >= self.fake_oom_at:
            import torch

            raise torch.cuda.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 20.00 MiB (fabricated by "
                "YOLO_LAB_FABRICATED_OOM_AT_BATCH for a test)"
            )
        self._end_probe(dt)

    def _end_probe(self, dt: float) -> None:
        """An autotune probe ends after its batches, right here; or sooner when
        its batches are slow: once those after the warm-up took its seconds,
        and at least ``min_measured`` of them (``dt``: this batch's).

        Raised from the batch-end callback, the stop skips what a stop
        through the loader would still do (save last.pt) and what an epoch's
        end does (validate, save): a probe measures speed, its weights are
        of no use. One process only: a DDP rank cannot leave alone.
        """
        if not self.probe_batches or distributed():
            return
        self.probed += 1
        measured = self.probed - self.probe_warmup
        if measured > 0:
            self.probe_measured_s += dt
        timed = (
            self.probe_s > 0
            and measured >= self.probe_min_measured
            and self.probe_measured_s >= self.probe_s
        )
        if self.probed >= self.probe_batches or timed:
            took = f" ({measured} measured in {self.probe_measured_s:.1f} s)" if timed else ""
            self.request_stop(f"probe done after {self.probed} batches{took}")
            raise StopRequested

    def _time_split(self, ni: int) -> dict[str, float | None]:
        """This batch's wait for data, compute (forward, backward, optimizer)
        and DDP stop collective, in seconds.

        On a GPU the host's clock runs ahead of queued kernels: every
        ``SYNC_EVERY``-th batch is synchronised first, so its compute is the
        device's (YOLOv5's loss logging syncs the others, at least on rank 0).
        """
        timing = getattr(self.loader, "timing", None)
        if timing is None:
            return {"data_s": None, "compute_s": None, "sync_s": None}
        if self.device_type == "cuda" and ni % SYNC_EVERY == 0:
            import torch

            torch.cuda.synchronize()
        compute = time.perf_counter() - timing.started
        return {"data_s": timing.data_s, "compute_s": compute, "sync_s": timing.sync_s}

    def _epoch_of(self, ni: int) -> int:
        # ni counts batches from the first epoch (resumed runs included).
        return int(ni) // self.batches if self.batches else self.epoch

    def on_fit_epoch_end(self, vals: Any, epoch: int, best_fitness: Any, fi: Any) -> None:
        vals = [number(v) for v in vals]
        self.best_fitness = number(best_fitness)
        box, obj, cls, p, r, map50, map_, vbox, vobj, vcls = vals[:10]
        self.events.emit(
            "epoch",
            epoch=int(epoch),
            epochs=self.epochs,
            box=box,
            obj=obj,
            cls=cls,
            precision=p,
            recall=r,
            map50=map50,
            map=map_,
            val_box=vbox,
            val_obj=vobj,
            val_cls=vcls,
            lr=vals[10:13],
            epoch_time_s=time.time() - self.epoch_t0,
            fitness=number(fi),
            best_fitness=self.best_fitness,
        )
        self.give_advice()

    def give_advice(self) -> None:
        """The advisor's verdicts, as an ``advice`` event when they changed."""
        verdicts = self.advisor.verdicts()
        if verdicts and verdicts != self.advice:
            self.advice = verdicts
            self.events.emit("advice", verdicts=verdicts, data_share=self.advisor.data_share)

    def on_model_save(
        self, last: Any, epoch: int, final_epoch: bool, best_fitness: Any, fi: Any
    ) -> None:
        self.saved_last = str(last)
        self.events.emit("saved", epoch=int(epoch), last=str(last), final=bool(final_epoch))
        # One process: stop at the epoch's end, its weights just saved. With
        # several, the others wait in YOLOv5's end-of-epoch broadcast: the
        # stop waits for the next batch, where every rank agrees on it.
        if not distributed() and self.should_stop() and not final_epoch:
            raise StopRequested

    def on_train_end(self, last: Any, best: Any, epoch: int, results: Any) -> None:
        self.events.emit(
            "summary",
            epoch=int(epoch),
            last=str(last) if Path(last).exists() else None,
            best=str(best) if Path(best).exists() else None,
            precision=number(results[0]),
            recall=number(results[1]),
            map50=number(results[2]),
            map=number(results[3]),
        )

    def save_on_stop(self, model: Any, epoch: int) -> None:
        """Save last.pt as YOLOv5 would at an epoch end, mid-epoch."""
        import torch

        t = self.train_module
        weights = self.run_dir / "weights"
        weights.mkdir(parents=True, exist_ok=True)
        last = weights / "last.pt"
        ckpt = {
            # Resume starts at epoch + 1: redo the interrupted epoch.
            "epoch": epoch - 1,
            "best_fitness": self.best_fitness,
            "model": deepcopy(t.de_parallel(model)).half(),
            "ema": deepcopy(self.ema.ema).half() if self.ema is not None else None,
            "updates": self.ema.updates if self.ema is not None else 0,
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "opt": vars(self.opt) if self.opt is not None else {},
            "date": datetime.now().isoformat(),
            "yolo_lab_stopped_in_epoch": epoch,
        }
        tmp = last.with_name(f".last.pt.{os.getpid()}.tmp")
        torch.save(ckpt, tmp)
        os.replace(tmp, last)
        self.saved_last = str(last)
        self.events.emit("saved", epoch=epoch, last=str(last), final=False, stopped=True)
