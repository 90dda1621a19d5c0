"""The synthetic shapes dataset: real files in tmp_path, checked as YOLOv5 reads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from yolo_lab.shapes import MARKER_NAME, class_colors, make_shapes_dataset

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is optional
    yaml = None

REPO = Path(__file__).resolve().parents[2]
SMALL = {"train": 6, "val": 3, "image_size": 64}


def read_yaml(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if yaml is not None:
        return yaml.safe_load(text)
    # Fallback for the flat "key: value" file the generator writes.
    data: dict = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(":")
            value = value.strip()
            data[key.strip()] = json.loads(value) if value[:1] in '"[' or value.isdigit() else value
    return data


def read_labels(path: Path) -> list[tuple[int, float, float, float, float]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        assert len(parts) == 5, line
        assert all(len(p.split(".")[1]) == 6 for p in parts[1:]), line
        rows.append((int(parts[0]), *map(float, parts[1:])))
    return rows


def to_pixels(row, size: int) -> tuple[int, int, int, int]:
    _, xc, yc, w, h = row
    return (
        round((xc - w / 2) * size),
        round((yc - h / 2) * size),
        round((xc + w / 2) * size),
        round((yc + h / 2) * size),
    )


def label_texts(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "labels").rglob("*.txt"))}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    make_shapes_dataset(root, train=12, val=4, image_size=96, max_objects=4, seed=3)
    return root


def test_layout_counts_and_labels(dataset: Path) -> None:
    for split, count in (("train", 12), ("val", 4)):
        images = sorted((dataset / "images" / split).iterdir())
        labels = sorted((dataset / "labels" / split).iterdir())
        assert len(images) == len(labels) == count
        assert [p.stem for p in images] == [p.stem for p in labels]
        for image_path, label_path in zip(images, labels):
            with Image.open(image_path) as image:
                assert image.size == (96, 96) and image.mode == "RGB"
            rows = read_labels(label_path)
            assert 1 <= len(rows) <= 4
            for row in rows:
                cls, xc, yc, w, h = row
                assert 0 <= cls < 3
                assert all(0 < v <= 1 for v in (xc, yc, w, h))
                assert xc - w / 2 >= -1e-6 and xc + w / 2 <= 1 + 1e-6
                assert yc - h / 2 >= -1e-6 and yc + h / 2 <= 1 + 1e-6
                # Sizes stay near the 15%..45% range (occlusion may only shrink a box).
                assert max(w, h) <= 0.46


def test_data_yaml(dataset: Path) -> None:
    data = read_yaml(dataset / "data.yaml")
    assert Path(data["path"]).is_absolute()
    assert Path(data["path"]) == dataset.resolve()
    assert "download" not in data
    assert data["train"] == "images/train" and data["val"] == "images/val"
    assert data["nc"] == len(data["names"]) == 3
    assert data["names"] == ["circle", "square", "triangle"]
    marker = json.loads((dataset / MARKER_NAME).read_text())
    assert marker["params"]["seed"] == 3 and marker["params"]["train"] == 12


def test_data_yaml_quotes_awkward_paths(tmp_path: Path) -> None:
    root = tmp_path / "my data: #1"
    data = read_yaml(make_shapes_dataset(root, **SMALL))
    assert Path(data["path"]) == root.resolve()


def _is_color(pixels: np.ndarray, color) -> np.ndarray:
    return np.all(pixels == np.array(color, dtype=np.uint8), axis=-1)


def test_boxes_touch_the_object_on_every_side(dataset: Path) -> None:
    colors = class_colors(3)
    for label_path in sorted((dataset / "labels").rglob("*.txt")):
        split = label_path.parent.name
        pixels = np.asarray(Image.open(dataset / "images" / split / f"{label_path.stem}.png"))
        for row in read_labels(label_path):
            x0, y0, x1, y1 = to_pixels(row, 96)
            hit = _is_color(pixels[y0:y1, x0:x1], colors[row[0]])
            # Tight: the object's colour reaches every edge row and column of its box.
            assert hit[0].any() and hit[-1].any() and hit[:, 0].any() and hit[:, -1].any()


def test_single_object_boxes_are_tight(tmp_path: Path) -> None:
    size = 64
    make_shapes_dataset(tmp_path, train=8, val=2, image_size=size, max_objects=1, seed=5)
    colors = class_colors(3)
    for label_path in sorted((tmp_path / "labels").rglob("*.txt")):
        split = label_path.parent.name
        pixels = np.asarray(Image.open(tmp_path / "images" / split / f"{label_path.stem}.png"))
        (row,) = read_labels(label_path)
        x0, y0, x1, y1 = to_pixels(row, size)
        mask = _is_color(pixels, colors[row[0]])
        assert mask[y0:y1, x0:x1].sum() == mask.sum() > 0  # nothing of it outside the box
        assert mask[y0, x0:x1].any() and mask[y1 - 1, x0:x1].any()
        assert mask[y0:y1, x0].any() and mask[y0:y1, x1 - 1].any()


def test_deterministic(tmp_path: Path) -> None:
    a = make_shapes_dataset(tmp_path / "a", **SMALL, seed=7).parent
    b = make_shapes_dataset(tmp_path / "b", **SMALL, seed=7).parent
    c = make_shapes_dataset(tmp_path / "c", **SMALL, seed=8).parent
    assert label_texts(a) == label_texts(b)
    assert label_texts(a) != label_texts(c)
    first = "images/train/train_00000.png"
    assert (a / first).read_bytes() == (b / first).read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"train": 0}, "train must be >= 1"),
        ({"val": 0}, "val must be >= 1"),
        ({"image_size": 16}, "between 32 and 2048"),
        ({"image_size": 4096}, "between 32 and 2048"),
        ({"classes": ()}, "at least one class"),
        ({"classes": ("circle", "blob")}, "unknown shape"),
        ({"classes": "circle"}, "list of shape names"),
        ({"max_objects": 0}, "max_objects must be >= 1"),
        ({"train": 2.5}, "train must be an integer"),
    ],
)
def test_bad_inputs(tmp_path: Path, kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        make_shapes_dataset(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # validation happens before any write


def test_refuses_foreign_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="overwrite=True"):
        make_shapes_dataset(tmp_path, **SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    make_shapes_dataset(tmp_path, **SMALL, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert len(list((tmp_path / "images" / "train").iterdir())) == 6


def test_regenerates_previous_dataset_in_place(tmp_path: Path) -> None:
    make_shapes_dataset(tmp_path, train=8, val=3, image_size=64, seed=1)
    (tmp_path / "labels" / "train.cache").write_bytes(b"stale")
    data_yaml = make_shapes_dataset(tmp_path, train=4, val=2, image_size=64, seed=2)
    assert data_yaml == tmp_path.resolve() / "data.yaml"
    assert len(list((tmp_path / "images" / "train").iterdir())) == 4  # old extras removed
    assert len(list((tmp_path / "labels" / "val").iterdir())) == 2
    assert not (tmp_path / "labels" / "train.cache").exists()
    assert json.loads((tmp_path / MARKER_NAME).read_text())["params"]["seed"] == 2


def test_cli_prints_yaml_path(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "yolo_lab.shapes", str(out), "--train", "3", "--val", "2"]
    result = subprocess.run(
        [*cmd, "--size", "48", "--seed", "4"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    printed = Path(result.stdout.strip())
    assert printed == out.resolve() / "data.yaml" and printed.is_file()
    assert len(list((out / "images" / "val").iterdir())) == 2

    bad = subprocess.run(
        [*cmd[:4], "--size", "8"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "between 32 and 2048" in bad.stderr
