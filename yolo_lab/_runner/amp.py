"""Whether mixed precision is safe for the model being trained, offline.

YOLOv5's own ``check_amp`` compares detections of the model in fp32 and
under autocast, and when that is inconclusive (a model built from a yaml has
random weights) loads ``yolov5n.pt``: a download. Offline the download fails
and YOLOv5 turns AMP off, so a run asked for AMP trained without it.

This check needs nothing from outside: it runs the model being trained on a
fixed synthetic batch in fp32 and under autocast and compares the raw head
outputs (boxes in pixels, objectness and class scores). AMP stays on unless
reduced precision breaks the model: non-finite outputs, or scores (0 to 1)
that move by more than ``SCORE_LIMIT``, or boxes by more than
``BOX_LIMIT`` of the image size.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Final

SCORE_LIMIT: Final = 0.05
BOX_LIMIT: Final = 0.02
CHECK_SIZE: Final = 256


@dataclass(frozen=True)
class AmpVerdict:
    """The check's outcome: whether AMP is safe, the measured differences, why."""

    ok: bool
    score_diff: float | None
    box_diff: float | None
    reason: str


def _head_output(out: Any) -> Any:
    # YOLOv5's Detect in eval mode returns (predictions, per-level maps).
    return out[0] if isinstance(out, (tuple, list)) else out


def check_amp_offline(
    model: Any, dtype: Any = None, size: int = CHECK_SIZE, seed: int = 0, device: Any = None
) -> AmpVerdict:
    """Run ``model`` in fp32 and under autocast on ``device``; compare.

    ``device`` is the model's own unless given; ``dtype`` is autocast's
    dtype, float16 by default, as YOLOv5 trains. The model is copied; the
    one being trained is untouched.
    """
    import torch

    dtype = torch.float16 if dtype is None else dtype
    device = torch.device(device) if device is not None else next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand((1, 3, size, size), generator=generator).to(device)
    probe = deepcopy(model).float().to(device).eval()
    try:
        with torch.no_grad():
            full = _head_output(probe(image)).float()
            with torch.autocast(device_type=device.type, dtype=dtype):
                reduced = _head_output(probe(image)).float()
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
        return AmpVerdict(False, None, None, f"the model fails under {dtype} autocast: {failure}")
    finally:
        del probe
    name = str(dtype).replace("torch.", "")
    if full.shape != reduced.shape:
        return AmpVerdict(
            False,
            None,
            None,
            f"{name} changes the output shape ({tuple(full.shape)} vs {tuple(reduced.shape)})",
        )
    if not bool(torch.isfinite(reduced).all()):
        return AmpVerdict(False, None, None, f"{name} gives non-finite outputs (overflow)")
    if full.dim() == 3 and full.shape[-1] > 5:
        box = float((full[..., :4] - reduced[..., :4]).abs().max()) / size
        score = float((full[..., 4:] - reduced[..., 4:]).abs().max())
    else:  # not a YOLOv5 head: compare relative to the output's scale
        scale = float(full.abs().max()) or 1.0
        box = None
        score = float((full - reduced).abs().max()) / scale
    measured = f"scores differ by at most {score:.4f} (limit {SCORE_LIMIT})" + (
        f", boxes by {box:.4f} of the image (limit {BOX_LIMIT})" if box is not None else ""
    )
    ok = score <= SCORE_LIMIT and (box is None or box <= BOX_LIMIT)
    if ok:
        return AmpVerdict(True, score, box, f"offline check passed: {name} {measured}")
    return AmpVerdict(False, score, box, f"offline check failed: {name} {measured}")
