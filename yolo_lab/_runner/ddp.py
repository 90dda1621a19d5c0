"""What a run with several processes needs beyond YOLOv5: a stop every rank
agrees on, a heartbeat, and DDP on the CPU.

**The stop.** YOLOv5 runs its callbacks on rank 0 only, so a stop noticed
there alone left the other ranks waiting in the next collective. Here every
rank asks, at the start of each training batch, whether any rank wants to
stop (one all-reduce of one number); all see the same answer at the same
batch, rank 0 saves ``last.pt`` and every rank leaves the loop.

**DDP on the CPU** (``train(device="cpu", nproc=N)``): YOLOv5's ``main()``
refuses DDP without CUDA devices and its ``train()`` wraps the model in
``DistributedDataParallel`` only on CUDA. yolo-lab joins the process group
itself (gloo), makes every rank start from rank 0's weights and buffers
when the first epoch starts (as DDP's constructor would there: rank 0 alone
has by then run AutoAnchor and rounded the weights to fp16 precision), and averages
the gradients across ranks after each backward, with one all-reduce per
parameter as it is accumulated: the same update DDP would make (YOLOv5
multiplies the loss by the world size for DDP's averaging). What differs
from GPU DDP: no gradient bucketing or overlap with the backward pass, and
BatchNorm statistics stay per rank (DDP broadcasts rank 0's buffers each
forward). It is for showing DDP on a laptop, not for speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..training.rundir import write_rank
from .process import RANK, WORLD


class StopRequested(Exception):
    """Raised from the training loop to leave YOLOv5's train() after a save."""


def distributed() -> bool:
    return WORLD > 1 and RANK >= 0


def join_cpu_group() -> None:
    """Join the run's process group over gloo (torchrun set the rendezvous)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")


def leave_group() -> None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    except Exception:
        pass  # the process is ending; a peer already gone is no error here


def share_rank0_weights(model: Any) -> None:
    """Every rank starts from rank 0's parameters and buffers, as DDP does."""
    import torch.distributed as dist

    for tensor in list(model.parameters()) + list(model.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_gradients(model: Any) -> int:
    """Average each parameter's gradient across ranks once it is accumulated.

    Returns the number of parameters hooked. The hooks fire in the same order
    on every rank (the same graph), so the all-reduces pair up.
    """
    import torch.distributed as dist

    def hook(param: Any) -> None:
        if param.grad is not None:
            dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
            param.grad.div_(WORLD)

    hooked = 0
    for param in model.parameters():
        if param.requires_grad:
            param.register_post_accumulate_grad_hook(hook)
            hooked += 1
    return hooked


class StopAgreement:
    """Whether any rank wants to stop, agreed on by all at the same batch."""

    def __init__(self, wants_stop: Callable[[], bool], device: Any = None) -> None:
        self._wants_stop = wants_stop
        self._device = device

    def agreed(self) -> bool:
        local = self._wants_stop()
        if not distributed():
            return local
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1.0 if local else 0.0], device=self._device or "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)


class BatchTiming:
    """Where the current batch's time went, as far as the loader sees it.

    ``data_s``: waiting for the DataLoader; ``sync_s``: the stop agreement's
    collective (DDP only, else None); ``started``: ``perf_counter()`` when the
    batch was handed to the training loop, so the step's compute is the time
    from then to the batch-end callback.
    """

    __slots__ = ("data_s", "started", "sync_s")

    def __init__(self, data_s: float, sync_s: float | None, started: float) -> None:
        self.data_s = data_s
        self.sync_s = sync_s
        self.started = started


class StoppingLoader:
    """The training DataLoader, asking before each batch whether to stop.

    On an agreed stop it calls ``on_stop`` (rank 0 saves there) and raises
    :class:`StopRequested` on every rank. It also writes this rank's
    heartbeat (the batches it has started) for the supervisor's hang watch,
    and times each batch's wait for data (``timing``).
    """

    def __init__(
        self,
        loader: Any,
        agreement: StopAgreement,
        on_stop: Callable[[], None],
        run_dir: Path | None = None,
        before_batch: Callable[[int], None] | None = None,
        before_first: Callable[[], None] | None = None,
    ) -> None:
        self._loader = loader
        self._agreement = agreement
        self._on_stop = on_stop
        self._run_dir = run_dir
        self._before_batch = before_batch
        self._before_first = before_first
        self._started = 0
        self.timing: BatchTiming | None = None

    def __len__(self) -> int:
        return len(self._loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def __iter__(self) -> Iterator[Any]:
        if self._before_first is not None:
            first, self._before_first = self._before_first, None
            first()
        batches = iter(self._loader)
        while True:
            asked = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                return
            got = time.perf_counter()
            agreed = self._agreement.agreed()
            started = time.perf_counter()
            self.timing = BatchTiming(
                got - asked, (started - got) if distributed() else None, started
            )
            if agreed:
                self._on_stop()
                raise StopRequested
            self._started += 1
            if self._run_dir is not None and distributed():
                write_rank(
                    self._run_dir, RANK, "beat", {"batches": self._started, "t": time.time()}
                )
            if self._before_batch is not None:
                self._before_batch(self._started)
            yield batch
