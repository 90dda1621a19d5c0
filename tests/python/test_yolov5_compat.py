"""YOLOv5 7.0 on today's numpy, Pillow and setuptools (yolo_lab._yolov5.compat).

Each shim is checked in a fresh interpreter, so what one test puts back
cannot hide what another needs. The real trainings on the newest stack are
the newest-stack leg's (scripts/test-newest.sh, marker ``newest_stack``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from yolo_lab._runner.callbacks import number
from yolo_lab._yolov5 import compat as compat
from yolo_lab.environment.findings import yolov5_missing

REPO = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> dict:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_only_what_this_environment_lacks_is_put_back() -> None:
    got = _fresh(
        "import importlib.util, json, numpy\n"
        "from PIL import ImageFont\n"
        "lacks = {'numpy.trapz': not hasattr(numpy, 'trapz'),\n"
        "  'pkg_resources': importlib.util.find_spec('pkg_resources') is None,\n"
        "  'PIL.ImageFont.FreeTypeFont.getsize': not hasattr(ImageFont.FreeTypeFont, 'getsize')}\n"
        "from yolo_lab._yolov5.compat import apply\n"
        "first = apply(); again = apply()\n"
        "print(json.dumps({'lacks': lacks, 'first': first, 'again': again}))"
    )
    assert got["first"] == [name for name, lacking in got["lacks"].items() if lacking]
    assert got["again"] == []


def test_nothing_is_applied_where_the_originals_are_there() -> None:
    # Stand-ins planted first, as numpy < 2.4, setuptools < 81 and Pillow < 10 have them.
    got = _fresh(
        "import json, sys, types, numpy\n"
        "from PIL import ImageFont\n"
        "numpy.trapz = lambda *a, **k: 'original'\n"
        "sys.modules['pkg_resources'] = types.ModuleType('pkg_resources')\n"
        "ImageFont.FreeTypeFont.getsize = lambda self, text: 'original'\n"
        "from yolo_lab._yolov5.compat import apply\n"
        "applied = apply()\n"
        "print(json.dumps({'applied': applied, 'trapz': numpy.trapz(),\n"
        "  'pkg': hasattr(sys.modules['pkg_resources'], 'parse_version')}))"
    )
    assert got == {"applied": [], "trapz": "original", "pkg": False}


def test_the_shims_do_what_yolov5_asks_of_them() -> None:
    # Each shim put back, the originals taken away first where this environment has them.
    got = _fresh(
        "import json, sys, numpy\n"
        "from PIL import ImageFont\n"
        "numpy.__dict__.pop('trapz', None)\n"
        "if 'getsize' in ImageFont.FreeTypeFont.__dict__:\n"
        "    del ImageFont.FreeTypeFont.getsize\n"
        "from yolo_lab._yolov5 import compat as c\n"
        "applied = []\n"
        "for shim in c.SHIMS:\n"
        "    shim.put_back(); applied.append(shim.name)\n"
        "import pkg_resources as pkg\n"
        "x = numpy.linspace(0, 1, 101)\n"
        "font = ImageFont.load_default(size=20)\n"
        "left, top, right, bottom = font.getbbox('person 0.87')\n"
        "print(json.dumps({'applied': applied, 'area': float(numpy.trapz(x * 2, x)),\n"
        "  'newer': bool(pkg.parse_version('2.10.0') >= pkg.parse_version('2.9.0')),\n"
        "  'size': list(font.getsize('person 0.87')), 'bbox': [right, bottom]}))"
    )
    assert got["applied"] == [shim.name for shim in compat.SHIMS]
    assert got["area"] == pytest.approx(1.0)  # the integral of 2x over [0, 1]
    assert got["newer"] is True  # versions compared as versions, not as strings
    assert got["size"] == got["bbox"] and got["size"][0] > got["size"][1] > 0


def test_known_combinations_that_cannot_work_are_named_with_their_fix() -> None:
    numpy1 = (
        "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.5.2 as it may crash."
    )
    what, fix = compat.explain(numpy1)
    assert "numpy 1" in what and "opencv" in fix
    what, fix = compat.explain("RuntimeError: operator torchvision::nms does not exist")
    assert "torchvision" in what and "torchvision" in fix
    assert compat.explain("ZeroDivisionError: division by zero") is None

    finding = yolov5_missing({"yolov5": {"available": False, "source": "package", "error": numpy1}})
    assert finding is not None
    assert "numpy 1" in finding["cause"] and "opencv" in finding["fix"]


def test_the_runner_reads_yolov5_values_of_any_shape() -> None:
    import torch

    # YOLOv5's fitness is an array of shape (1,): float() of it fails on numpy >= 2.4.
    assert number(np.array([0.25])) == 0.25
    assert number(np.float32(0.5)) == 0.5
    assert number(torch.tensor(0.75)) == 0.75
    assert number(3) == 3.0
    with pytest.raises((ValueError, TypeError)):
        number(np.array([0.1, 0.2]))


@pytest.mark.yolov5
def test_plain_yolov5_trains_and_validates_through_the_shims(tmp_path: Path) -> None:
    # YOLOv5 7.0's own train.py, validation and plots included, on this
    # environment's numpy, Pillow and setuptools (the README's command).
    from yolo_lab import shapes

    data = shapes.make_shapes_dataset(tmp_path / "shapes", train=8, val=4, image_size=64)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "yolo_lab._yolov5.compat", "yolov5.train",
         "--data", str(data), "--cfg", "yolov5n.yaml", "--weights", "", "--epochs", "1",
         "--imgsz", "64", "--batch-size", "4", "--workers", "0", "--device", "cpu",
         "--project", str(tmp_path / "runs"), "--name", "plain"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    run = tmp_path / "runs" / "plain"
    assert (run / "weights" / "best.pt").is_file() and (run / "results.csv").is_file()
    assert (run / "val_batch0_labels.jpg").is_file()  # labels drawn: Pillow's getsize


@pytest.mark.slow
def test_the_image_hook_applies_the_shims_only_once_yolov5_is_imported() -> None:
    # The image's start-up file calls apply_on_import(): a process that never
    # imports YOLOv5 keeps numpy, Pillow and sys.modules as they are.
    got = _fresh(
        "import json, sys, numpy\n"
        "from yolo_lab._yolov5.compat import apply_on_import, needed\n"
        "apply_on_import(); apply_on_import()\n"
        "before = [s.name for s in needed()]\n"
        "hooks = sum(type(f).__name__ == '_BeforeYOLOv5' for f in sys.meta_path)\n"
        "import yolov5\n"
        "print(json.dumps({'before': before, 'hooks': hooks, 'after': [s.name for s in needed()],\n"
        "  'left': sum(type(f).__name__ == '_BeforeYOLOv5' for f in sys.meta_path)}))"
    )
    # The tested stacks (requirements/tested.txt, the newest) lack all three.
    assert got["before"] == [shim.name for shim in compat.SHIMS]
    assert got["hooks"] == 1 and got["after"] == [] and got["left"] == 0
