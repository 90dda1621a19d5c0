"""The offline AMP check: real YOLOv5 models under autocast, no download.

This machine has no GPU: the check runs here under the CPU's autocast
(float16 and bfloat16), which exercises the same comparison the runner makes
on a CUDA device. The runner's choice on a CUDA device is tested in
test_training.py on a fabricated CUDA model (named so).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
# Every test here builds a YOLOv5 model.
pytestmark = pytest.mark.yolov5

from yolo_lab._runner.amp import SCORE_LIMIT, check_amp_offline  # noqa: E402


def _model(cfg: str = "yolov5n.yaml", seed: int = 0) -> Any:
    """A model built from its yaml, with the weights of torch's ``seed``: a
    verdict on random weights must not depend on an unseeded draw. Forked, so
    the other tests' random state is left as it was."""
    import yolov5
    from yolov5.models.yolo import Model

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return Model(str(Path(yolov5.__file__).parent / "models" / cfg), nc=3)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every socket connection attempt is recorded and refused."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network refused by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_random_yolov5n_passes_without_any_download(no_network: list[Any], dtype: str) -> None:
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    verdict = check_amp_offline(model, dtype=getattr(torch, dtype))
    assert verdict.ok, verdict.reason
    assert verdict.score_diff is not None and verdict.score_diff <= SCORE_LIMIT
    assert verdict.reason.startswith(f"offline check passed: {dtype}")
    assert no_network == [], "the check must not reach for the network"
    # The model being trained is untouched (the check runs on a copy).
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


class _Overflowing(torch.nn.Module):
    """A planted model whose activations overflow float16 (max 65504)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        y = self.conv(x).mean(dim=(2, 3))
        return (y * 0 + 1.0) @ torch.full((4, 6), 40000.0)


class _Imprecise(torch.nn.Module):
    """A planted model whose scores move under reduced precision, every time.

    Its matmul yields 1 + 2**-12: float32 holds it, float16 and bfloat16 round
    it to 1.0, and the head magnifies the lost bit into a score of 0.98
    against 0.5. No random weights decide the outcome.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x: Any) -> Any:
        ones = self.conv(x).mean(dim=(2, 3)) * 0 + 1.0  # (1, 4), follows autocast
        y = ones @ torch.full((4, 1), (1.0 + 2.0**-12) / 4)
        scores = torch.sigmoid((y.float() - 1.0) * 2.0**14)
        return torch.cat([torch.zeros(1, 4), scores.expand(1, 2)], dim=1).unsqueeze(1)


def test_a_model_that_overflows_in_float16_is_refused_with_why(no_network: list[Any]) -> None:
    verdict = check_amp_offline(_Overflowing(), dtype=torch.float16)
    assert not verdict.ok and "non-finite" in verdict.reason
    assert no_network == []


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_model_whose_scores_move_is_refused_with_the_difference(dtype: str) -> None:
    verdict = check_amp_offline(_Imprecise(), dtype=getattr(torch, dtype))
    assert not verdict.ok, verdict
    assert verdict.score_diff is not None and verdict.score_diff > SCORE_LIMIT
    assert f"limit {SCORE_LIMIT}" in verdict.reason
