"""Synthetic "shapes" object-detection dataset in YOLO format.

A tiny, fully offline dataset for smoke-testing a YOLOv5 training loop: grey,
slightly noisy backgrounds with a few solid shapes, one saturated colour per
class, so even a small model learns it in a few epochs.

Layout written under ``root``::

    images/train/*.png  images/val/*.png
    labels/train/*.txt  labels/val/*.txt   (class x_center y_center width height)
    data.yaml                              (absolute ``path:``, no ``download:``)
    .yolo-lab-shapes.json                  (marker: what generated this folder)

Usage::

    from yolo_lab.shapes import make_shapes_dataset
    data_yaml = make_shapes_dataset("datasets/shapes")

or ``python -m yolo_lab.shapes datasets/shapes --train 64 --val 16``.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Final

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "MARKER_NAME",
    "SHAPES",
    "class_colors",
    "main",
    "make_shapes_dataset",
]

MARKER_NAME: Final = ".yolo-lab-shapes.json"
_MARKER_FORMAT: Final = 1
_SPLITS: Final = ("train", "val")

# Object side as a fraction of the image side: big enough to survive YOLOv5's
# 640 px letterboxing and stride-32 heads, small enough for several per image.
_MIN_FRACTION: Final = 0.15
_MAX_FRACTION: Final = 0.45
_MAX_IOU: Final = 0.3
# A later shape may hide at most this share of an earlier one, so every label
# still describes a clearly visible object.
_MAX_HIDDEN: Final = 0.2
_PLACEMENT_TRIES: Final = 20
_NOISE_STD: Final = 6.0

_Box = tuple[int, int, int, int]  # x0, y0, x1, y1 with x1/y1 exclusive


def _polygon(n: int, box: _Box, *, phase: float = -math.pi / 2, inner: float = 1.0):
    """Points of a regular ``n``-gon (or a star when ``inner`` < 1) inscribed in ``box``."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2
    rx, ry = (x1 - x0 - 1) / 2, (y1 - y0 - 1) / 2
    steps = n * 2 if inner < 1.0 else n
    points = []
    for k in range(steps):
        r = inner if (inner < 1.0 and k % 2) else 1.0
        a = phase + 2 * math.pi * k / steps
        points.append((cx + r * rx * math.cos(a), cy + r * ry * math.sin(a)))
    return points


def _draw_ellipse(d: ImageDraw.ImageDraw, b: _Box) -> None:
    d.ellipse((b[0], b[1], b[2] - 1, b[3] - 1), fill=255)


def _draw_rect(d: ImageDraw.ImageDraw, b: _Box) -> None:
    d.rectangle((b[0], b[1], b[2] - 1, b[3] - 1), fill=255)


def _draw_triangle(d: ImageDraw.ImageDraw, b: _Box) -> None:
    d.polygon([((b[0] + b[2] - 1) / 2, b[1]), (b[2] - 1, b[3] - 1), (b[0], b[3] - 1)], fill=255)


def _draw_diamond(d: ImageDraw.ImageDraw, b: _Box) -> None:
    d.polygon(_polygon(4, b), fill=255)


def _draw_pentagon(d: ImageDraw.ImageDraw, b: _Box) -> None:
    d.polygon(_polygon(5, b), fill=255)


def _draw_hexagon(d: ImageDraw.ImageDraw, b: _Box) -> None:
    d.polygon(_polygon(6, b, phase=0.0), fill=255)


def _draw_star(d: ImageDraw.ImageDraw, b: _Box) -> None:
    d.polygon(_polygon(5, b, inner=0.45), fill=255)


def _draw_cross(d: ImageDraw.ImageDraw, b: _Box) -> None:
    x0, y0, x1, y1 = b
    tx, ty = max(1, (x1 - x0) // 3), max(1, (y1 - y0) // 3)
    mx, my = (x0 + x1) // 2, (y0 + y1) // 2
    d.rectangle((mx - tx // 2, y0, mx - tx // 2 + tx - 1, y1 - 1), fill=255)
    d.rectangle((x0, my - ty // 2, x1 - 1, my - ty // 2 + ty - 1), fill=255)


# name -> (drawer, elongated). Elongated shapes get a random aspect ratio so
# "square" vs "rectangle" and "circle" vs "ellipse" stay distinguishable.
_DRAWERS: Final[dict[str, tuple[Callable[[ImageDraw.ImageDraw, _Box], None], bool]]] = {
    "circle": (_draw_ellipse, False),
    "ellipse": (_draw_ellipse, True),
    "square": (_draw_rect, False),
    "rectangle": (_draw_rect, True),
    "triangle": (_draw_triangle, False),
    "diamond": (_draw_diamond, False),
    "pentagon": (_draw_pentagon, False),
    "hexagon": (_draw_hexagon, False),
    "star": (_draw_star, False),
    "cross": (_draw_cross, False),
}
SHAPES: Final = tuple(_DRAWERS)
"""Shape names usable as classes."""


def class_colors(n: int) -> list[tuple[int, int, int]]:
    """One fully saturated RGB colour per class, hues evenly spread.

    Saturated colours never occur in the grey, low-noise background, which is
    what makes the dataset easy to learn (and lets tests find objects by colour).
    """
    colors = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb(i / max(n, 1), 1.0, 1.0)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return colors


def _check_int(name: str, value: object, low: int, high: int | None, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}; {hint}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}; {hint}")
    return int(value)


def _validate_classes(classes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(classes, str):
        # A bare string would silently become one class per character.
        raise ValueError(f"classes must be a list of shape names, not the string {classes!r}")
    names = tuple(classes)
    if not names:
        raise ValueError(f"at least one class is needed; pass classes from {', '.join(SHAPES)}")
    unknown = [c for c in names if c not in _DRAWERS]
    if unknown:
        raise ValueError(
            f"unknown shape class(es) {unknown!r}; choose classes from {', '.join(SHAPES)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"classes must be distinct, got {list(names)!r}; remove the duplicates")
    return names


def _iou(a: _Box, b: _Box) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _mask_box(mask: np.ndarray) -> _Box | None:
    """Tight box (x1/y1 exclusive) around the set pixels of ``mask``; None if empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _shape_mask(name: str, box: _Box, size: int) -> np.ndarray:
    mask = Image.new("L", (size, size), 0)
    _DRAWERS[name][0](ImageDraw.Draw(mask), box)
    return np.asarray(mask) > 0


def _render(
    rng: np.random.Generator,
    size: int,
    classes: tuple[str, ...],
    colors: list[tuple[int, int, int]],
    max_objects: int,
) -> tuple[Image.Image, list[tuple[int, _Box]]]:
    """One image and its (class, tight visible box) labels."""
    base = rng.integers(60, 200)
    pixels = base + rng.normal(0.0, _NOISE_STD, size=(size, size, 3))
    canvas = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    # owner[y, x] = index of the object visible at that pixel (-1: background);
    # labels come from it, so a box is tight around what is actually drawn.
    owner = np.full((size, size), -1, dtype=np.int16)
    placed: list[tuple[int, _Box, int]] = []  # class, drawn-mask box, mask area

    for _ in range(int(rng.integers(1, max_objects + 1))):
        cls = int(rng.integers(len(classes)))
        name = classes[cls]
        for _try in range(_PLACEMENT_TRIES):
            w = h = max(3, round(rng.uniform(_MIN_FRACTION, _MAX_FRACTION) * size))
            if _DRAWERS[name][1]:
                short = max(3, round(w * rng.uniform(0.45, 0.75)))
                w, h = (w, short) if rng.random() < 0.5 else (short, w)
            x0 = int(rng.integers(0, size - w + 1))
            y0 = int(rng.integers(0, size - h + 1))
            mask = _shape_mask(name, (x0, y0, x0 + w, y0 + h), size)
            box = _mask_box(mask)
            if box is None:
                continue
            if any(_iou(box, other) > _MAX_IOU for _, other, _ in placed):
                continue
            hidden = np.bincount(owner[mask] + 1, minlength=len(placed) + 1)[1:]
            if any(hidden[j] > _MAX_HIDDEN * area for j, (_, _, area) in enumerate(placed)):
                continue
            owner[mask] = len(placed)
            canvas[mask] = colors[cls]
            placed.append((cls, box, int(mask.sum())))
            break
        # No room after all tries: fewer objects in this image, which is fine.

    labels: list[tuple[int, _Box]] = []
    for index, (cls, _, _) in enumerate(placed):
        visible = _mask_box(owner == index)
        if visible is not None:  # the last shape is always fully visible, so >= 1 label
            labels.append((cls, visible))
    return Image.fromarray(canvas, "RGB"), labels


def _label_line(cls: int, box: _Box, size: int) -> str:
    x0, y0, x1, y1 = box
    return (
        f"{cls} {(x0 + x1) / 2 / size:.6f} {(y0 + y1) / 2 / size:.6f} "
        f"{(x1 - x0) / size:.6f} {(y1 - y0) / size:.6f}"
    )


def _data_yaml(root: Path, classes: tuple[str, ...]) -> str:
    # JSON strings are valid YAML double-quoted scalars, which keeps paths with
    # spaces, colons or backslashes (Windows) safe without a YAML dependency.
    # No "download:" key: YOLOv5 would try to fetch something when a split is missing.
    names = ", ".join(json.dumps(c) for c in classes)
    return (
        "# Synthetic shapes dataset written by yolo_lab.shapes\n"
        f"path: {json.dumps(str(root))}\n"
        "train: images/train\n"
        "val: images/val\n"
        f"nc: {len(classes)}\n"
        f"names: [{names}]\n"
    )


def _prepare_root(root: Path, overwrite: bool) -> None:
    if root.exists() and not root.is_dir():
        raise ValueError(f"{root} exists and is not a directory; choose another output folder")
    if root.is_dir() and any(root.iterdir()):
        if not (root / MARKER_NAME).is_file() and not overwrite:
            raise ValueError(
                f"{root} is not empty and is not a previous shapes dataset; choose an empty "
                "or new folder, or pass overwrite=True (--overwrite) to write into it anyway"
            )
        # Stale images or YOLOv5 label caches from an earlier run would mix into
        # the new dataset; anything else in the folder is left alone.
        for split in _SPLITS:
            for stale in (root / "images" / split, root / "labels" / split):
                if stale.is_dir() and not stale.is_symlink():
                    shutil.rmtree(stale)
                elif stale.exists() or stale.is_symlink():
                    stale.unlink()
            (root / "labels" / f"{split}.cache").unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)


def make_shapes_dataset(
    root: str | os.PathLike[str],
    *,
    train: int = 64,
    val: int = 16,
    image_size: int = 128,
    classes: Sequence[str] = ("circle", "square", "triangle"),
    max_objects: int = 3,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a synthetic shapes dataset in YOLO format and return its ``data.yaml`` path.

    ``train``/``val`` are image counts, ``image_size`` the square side in pixels,
    ``classes`` shape names from :data:`SHAPES` (class id = position), and each
    image holds 1..``max_objects`` shapes. Output depends only on the arguments,
    and the train and val splits use independent random streams, so changing
    ``train`` does not change the val images.

    A non-empty ``root`` that is not a previous shapes dataset is refused unless
    ``overwrite=True``; a previous one is regenerated in place (its split folders
    are replaced, other files are kept).

    Raises:
        ValueError: on invalid arguments or a refused output folder.
    """
    train = _check_int("train", train, 1, None, "ask for at least one training image")
    val = _check_int("val", val, 1, None, "ask for at least one validation image")
    image_size = _check_int(
        "image_size", image_size, 32, 2048, "pick an image side between 32 and 2048 pixels"
    )
    max_objects = _check_int(
        "max_objects", max_objects, 1, None, "allow at least one object per image"
    )
    seed = _check_int("seed", seed, 0, None, "use a non-negative integer seed")
    names = _validate_classes(classes)

    root = Path(root).expanduser().resolve()
    _prepare_root(root, overwrite)
    params = {
        "train": train,
        "val": val,
        "image_size": image_size,
        "classes": list(names),
        "max_objects": max_objects,
        "seed": seed,
    }
    # Marker first: an interrupted run still leaves a folder we may regenerate.
    marker = {"generator": "yolo_lab.shapes", "format": _MARKER_FORMAT, "params": params}
    (root / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")

    colors = class_colors(len(names))
    streams = np.random.SeedSequence(seed).spawn(len(_SPLITS))
    for split, count, stream in zip(_SPLITS, (train, val), streams):
        rng = np.random.default_rng(stream)
        image_dir = root / "images" / split
        label_dir = root / "labels" / split
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            # PNG, not JPEG: lossless, so pixels keep exactly the class colour.
            stem = f"{split}_{i:05d}"
            image, labels = _render(rng, image_size, names, colors, max_objects)
            image.save(image_dir / f"{stem}.png")
            lines = [_label_line(c, b, image_size) for c, b in labels]
            (label_dir / f"{stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    data_yaml = root / "data.yaml"
    data_yaml.write_text(_data_yaml(root, names), encoding="utf-8")
    return data_yaml


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; prints the ``data.yaml`` path."""
    parser = argparse.ArgumentParser(
        prog="python -m yolo_lab.shapes",
        description="Write a synthetic shapes object-detection dataset in YOLO format.",
    )
    parser.add_argument("out", help="output folder (created if missing)")
    parser.add_argument("--train", type=int, default=64, help="training images (default 64)")
    parser.add_argument("--val", type=int, default=16, help="validation images (default 16)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--max-objects", type=int, default=3, help="objects per image, at most")
    parser.add_argument(
        "--classes",
        default="circle,square,triangle",
        help=f"comma-separated shape names from: {', '.join(SHAPES)}",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="write into a non-empty foreign folder"
    )
    args = parser.parse_args(argv)
    try:
        path = make_shapes_dataset(
            args.out,
            train=args.train,
            val=args.val,
            image_size=args.size,
            classes=[c.strip() for c in args.classes.split(",") if c.strip()],
            max_objects=args.max_objects,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2 and the message on stderr
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
