"""The classroom's GPU share (YOLO_LAB_GPU_MEMORY_FRACTION).

Setting a real cap needs a GPU; the "fabricated two GPUs" case records the
calls torch would get on a machine we do not have, and the CPU case runs the
real torch here.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from yolo_lab.gpu_share import ENV, apply_memory_fraction, memory_fraction


@pytest.mark.parametrize(
    ("value", "share"),
    [("0.25", 0.25), (" 1 ", 1.0), ("0", None), ("1.5", None), ("a", None), ("", None)],
)
def test_memory_fraction_reads_only_a_share_between_0_and_1(value: str, share: Any) -> None:
    assert memory_fraction({ENV: value}) == share
    assert memory_fraction({}) is None


def test_fabricated_two_gpus_each_capped_at_the_share() -> None:
    calls: list[tuple[float, int]] = []
    cuda = SimpleNamespace(
        is_available=lambda: True,
        device_count=lambda: 2,
        set_per_process_memory_fraction=lambda share, device: calls.append((share, device)),
    )
    assert apply_memory_fraction({ENV: "0.2"}, SimpleNamespace(cuda=cuda)) == 0.2
    assert calls == [(0.2, 0), (0.2, 1)]


def test_real_torch_without_a_gpu_applies_nothing_and_does_not_raise() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert apply_memory_fraction({ENV: "0.2"}) is None
    assert apply_memory_fraction({}) is None
