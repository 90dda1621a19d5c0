"""A weights file is a pickle: train() loads a user's .pt without running
code it carries unless the user trusts that file (yolo_lab/_runner/weights.py).

Real trainings on the shapes set; the "attacker" is a .pt file whose pickle
calls a function that writes a marker file when it is loaded in full.
"""

from __future__ import annotations

import pathlib
import shutil
from pathlib import Path

import pytest

import yolo_lab
from yolo_lab import shapes, training
from yolo_lab.training import TrainError

IMGSZ = 64


class _Planted:
    """Unpickling this calls ``Path.touch(marker)``: code, run on load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[pathlib.Path]]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.fixture(scope="module")
def data_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shapes")
    return shapes.make_shapes_dataset(out / "shapes", train=8, val=4, image_size=IMGSZ, seed=2)


def _train(data: Path, project: Path, **kw: object) -> training.Run:
    options: dict[str, object] = dict(
        device="cpu", batch_size=4, epochs=1, imgsz=IMGSZ, workers=0, project=project
    )
    options.update(kw)
    return training.train(data, **options)  # type: ignore[arg-type]


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    """A .pt shaped like a checkpoint whose pickle runs code; and its marker."""
    import torch

    marker = tmp_path / "the-file-ran-code"
    path = tmp_path / "downloads" / "yolov5s.pt"
    path.parent.mkdir()
    torch.save({"epoch": -1, "model": None, "hook": _Planted(marker)}, path)
    return path, marker


@pytest.mark.yolov5
def test_a_weights_file_that_runs_code_is_refused_before_it_runs(
    data_yaml: Path, tmp_path: Path, planted: tuple[Path, Path]
) -> None:
    path, marker = planted
    run = _train(data_yaml, tmp_path / "runs", weights=str(path), model="")
    assert run.wait(timeout=300) == "failed", run.log.read_text()[-3000:]
    error = run.events("error")[-1]
    assert error["code"] == "untrusted_weights", error
    # It names the file and what it asked to call.
    assert str(path) in error["message"] and "pathlib.Path" in error["message"]
    assert "trust_weights=True" in error["fix"]
    assert training.launch.run_status(run.dir)["code"] == "untrusted_weights"
    assert not marker.exists(), "the planted code ran"


@pytest.mark.yolov5
def test_trust_weights_loads_the_file_in_full(
    data_yaml: Path, tmp_path: Path, planted: tuple[Path, Path]
) -> None:
    # The user's word: the same file now loads as plain YOLOv5 would load it
    # (its code runs; the file has no model, so the run then fails).
    path, marker = planted
    run = _train(data_yaml, tmp_path / "runs", weights=str(path), model="", trust_weights=True)
    run.wait(timeout=300)
    assert marker.exists(), run.log.read_text()[-3000:]
    assert all(e["code"] != "untrusted_weights" for e in run.events("error"))


@pytest.mark.yolov5
def test_a_yolov5_checkpoint_from_elsewhere_trains_without_trust(
    data_yaml: Path, tmp_path: Path
) -> None:
    # A checkpoint made by another run (as a downloaded one would be): its
    # classes are YOLOv5's and torch's, so it loads without running code.
    first = _train(data_yaml, tmp_path / "runs", name="first")
    assert first.wait(timeout=300) == "finished", first.log.read_text()[-3000:]
    assert first.best is not None
    elsewhere = tmp_path / "downloads" / "mine.pt"
    elsewhere.parent.mkdir()
    shutil.copy(first.best, elsewhere)

    second = _train(data_yaml, tmp_path / "runs", name="second", weights=str(elsewhere), model="")
    assert second.wait(timeout=300) == "finished", second.log.read_text()[-3000:]
    # YOLOv5 built the model from the file and copied its weights in.
    assert "Transferred" in second.log.read_text()


def test_trust_weights_takes_only_true_or_false(data_yaml: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError) as err:
        _train(data_yaml, tmp_path / "runs", trust_weights="yes")
    assert err.value.code == "bad_trust_weights" and "trust_weights=True" in err.value.fix
    assert not (tmp_path / "runs").exists(), "nothing was started"


@pytest.mark.yolov5
def test_autotune_stops_at_once_on_an_untrusted_weights_file(
    data_yaml: Path, tmp_path: Path, planted: tuple[Path, Path]
) -> None:
    # Every probe loads the same file: the first refusal ends the search.
    path, marker = planted
    with pytest.raises(TrainError) as err:
        yolo_lab.autotune(
            data_yaml, model="", weights=str(path), imgsz=IMGSZ, workers=0,
            budget_s=120, project=tmp_path / "runs",
        )  # fmt: skip
    assert err.value.code == "untrusted_weights" and "trust_weights=True" in err.value.fix
    assert not marker.exists()
