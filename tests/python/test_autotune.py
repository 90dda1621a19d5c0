"""``yolo_lab.autotune``: a searched, budgeted set of probes and its winner.

One test runs real YOLOv5 probes on this CPU (a tiny shapes set at 64 px);
what this machine cannot produce (running out of GPU memory, a GPU at all,
probes of exact durations) comes from a replaced probe function, and those
tests say ``fabricated`` in their names.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import yolo_lab
from yolo_lab import shapes
from yolo_lab.training import TrainError, api, checks
from yolo_lab.training.autotune import AUTOTUNE_FILE, Autotune, ProbeSetup, probe
from yolo_lab.training.events import read_events
from yolo_lab.training.rundir import read_status

IMGSZ = 64
# 48 images at batch 8 are 6 batches: a 6-batch probe ends inside epoch 0,
# before any validation.
TRAIN_IMAGES = 48
PROBE = {"probe_batches": 6, "warmup_batches": 2}


@pytest.fixture(scope="module")
def data_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shapes")
    return shapes.make_shapes_dataset(
        out / "shapes", train=TRAIN_IMAGES, val=4, image_size=IMGSZ, seed=3
    )


def _fake_probe(
    speed: Any, oom_from: int | None = None, seconds: float = 0.0, amp_oom_from: int | None = None
) -> Any:
    """A probe function that answers at once: ``speed(settings)`` images/s,
    out of memory from batch ``oom_from`` (with AMP on: ``amp_oom_from``)."""

    def answer(setup: ProbeSetup, settings: dict[str, Any], name: str, deadline: float):
        if seconds:
            time.sleep(seconds)
        limit = amp_oom_from if settings["amp"] and amp_oom_from else oom_from
        if limit is not None and settings["batch_size"] >= limit:
            return {"error": "out of memory", "code": "cuda_oom", "oom": True}
        return {"imgs_per_s": float(speed(settings)), "data_share": 0.5, "batches": 10}

    return answer


def _setup(data_yaml: Path, folder: Path, **changes: Any) -> ProbeSetup:
    """Probes' shared settings as autotune() makes them on the CPU, at 64 px."""
    base: dict[str, Any] = dict(
        data=str(data_yaml),
        device="cpu",
        devices=(),
        model="yolov5n.yaml",
        weights="",
        imgsz=IMGSZ,
        folder=folder,
        yolov5_dir=None,
        seed=0,
        options={},
        probe_batches=6,
        warmup_batches=2,
    )
    return ProbeSetup(**{**base, **changes})


def _on_the_cpu(data_yaml: Path, tmp_path: Path, space: dict[str, Any], **kwargs: Any):
    """autotune() on the CPU at 64 px from batch 16 and 2 workers (unless told)."""
    start: dict[str, Any] = {"batch_size": 16, "workers": 2, **kwargs}
    return yolo_lab.autotune(
        data_yaml, device="cpu", imgsz=IMGSZ, space=space, project=tmp_path / "runs", **start
    )


def _batches(result: Autotune) -> list[int]:
    return [r["settings"]["batch_size"] for r in result.rows]


# -- real probes -----------------------------------------------------------------


@pytest.mark.yolov5
def test_real_probes_on_a_small_space_pick_the_fastest_row(data_yaml: Path, tmp_path: Path) -> None:
    pytest.importorskip("yolov5", reason="YOLOv5 is installed by scripts/setup.sh --tests")
    seen: list[dict[str, Any]] = []
    result = yolo_lab.autotune(
        data_yaml,
        device="cpu",
        budget_s=900,
        imgsz=IMGSZ,
        batch_size=8,
        workers=0,
        space={"batch_size": [4, 8], "workers": [0], "cache": [None]},
        project=tmp_path / "runs",
        on_row=seen.append,
        **PROBE,
    )
    # The defaults (8), nothing above them to try, then halved.
    assert _batches(result) == [8, 4], result
    assert result.ended == "converged"
    assert [r["probe"] for r in seen] == [1, 2], "on_row saw each row as it came"
    speeds = [r["imgs_per_s"] for r in result.rows]
    assert all(s and s > 0 for s in speeds), result.rows
    assert result.imgs_per_s == max(speeds)
    best = result.rows[speeds.index(max(speeds))]
    assert result.winner == best["settings"]
    assert result.form == {
        "batch_size": best["settings"]["batch_size"],
        "workers": 0,
        "cache": None,
        "amp": False,
    }
    assert result.defaults_imgs_per_s == speeds[0]
    assert result.speedup == pytest.approx(max(speeds) / speeds[0])

    # Each probe is a real run that ended itself after its batches, unsaved.
    for row in result.rows:
        run_dir = Path(row["run"])
        status = read_status(run_dir)
        assert status["status"] == "stopped", status
        assert status["message"] == "probe done after 6 batches"
        batches = [e for e in read_events(run_dir) if e["kind"] == "batch"]
        assert len(batches) == 6 and row["batches"] == 4
        assert not (run_dir / "weights" / "last.pt").exists()
        assert not [e for e in read_events(run_dir) if e["kind"] == "epoch"], "no validation"

    saved = json.loads((result.dir / AUTOTUNE_FILE).read_text())
    assert result.dir.parent == (tmp_path / "runs").resolve()
    assert result.dir.name == "autotune-1"
    assert saved["winner"] == result.winner and saved["speedup"] == result.speedup
    assert Autotune.load(result.dir).winner == result.winner
    assert yolo_lab.list_runs(tmp_path / "runs") == [], "the probes are not listed as runs"


@pytest.mark.yolov5
def test_a_probe_of_slow_batches_ends_once_it_measured_enough(
    data_yaml: Path, tmp_path: Path
) -> None:
    # Any batch here is "slow" for probe_s=1e-3: the probe ends after its
    # warm-up and MIN_MEASURED_BATCHES more, not after all its probe_batches.
    pytest.importorskip("yolov5", reason="YOLOv5 is installed by scripts/setup.sh --tests")
    setup = _setup(data_yaml, tmp_path, warmup_batches=1, probe_s=1e-3)
    settings = {"batch_size": 8, "workers": 0, "cache": None, "amp": False}
    row = probe.run_probe(setup, settings, "probe-1", time.monotonic() + 300)
    assert not row.get("error") and row["imgs_per_s"] > 0, row
    assert row["batches"] == probe.MIN_MEASURED_BATCHES
    status = read_status(Path(row["run"]))
    assert status["status"] == "stopped"
    ended = 1 + probe.MIN_MEASURED_BATCHES
    assert status["message"].startswith(f"probe done after {ended} batches ("), status


# -- fabricated ------------------------------------------------------------------------


def test_out_of_memory_is_remembered_fabricated_oom(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Faster with every doubling, until batch 32 runs out of memory.
    monkeypatch.setattr(probe, "run_probe", _fake_probe(lambda s: s["batch_size"], oom_from=32))
    space = {"batch_size": [8, 16, 32, 64, 128], "workers": [0], "cache": [None]}
    options: dict[str, Any] = dict(
        device="cpu", imgsz=IMGSZ, workers=0, space=space, project=tmp_path / "runs"
    )
    result = yolo_lab.autotune(data_yaml, batch_size=8, **options)
    assert _batches(result) == [8, 32, 16], "4x ran out of memory, then the doubling between"
    assert result.rows[1]["error"] == "out of memory"
    assert result.winner is not None and result.winner["batch_size"] == 16
    assert result.speedup == pytest.approx(2.0)

    # Defaults that do not fit: smaller ones are tried, larger ones never.
    too_big = yolo_lab.autotune(data_yaml, batch_size=64, **options)
    assert _batches(too_big) == [64, 16, 8, 32], "down 4x (no larger), then the rungs beside"
    assert too_big.winner is not None and too_big.winner["batch_size"] == 16
    assert too_big.defaults_imgs_per_s is None and too_big.speedup is None
    text = str(too_big)
    assert "out of memory" in text and "fastest" in text
    assert "<table>" in too_big._repr_html_() and "out of memory" in too_big._repr_html_()


def test_a_gpu_search_tries_amp_and_skips_what_ran_out_of_memory_with_it_fabricated_gpu(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "gpu_count", lambda: 1)
    # AMP pays at batch 16 but not at 32 (so the second pass turns it off
    # there); with AMP on, batch 64 runs out of memory. AMP off never does
    # here: only the rule "off needs more memory" keeps (64, off) untried.
    speeds = {(16, True): 32, (16, False): 16, (32, True): 64, (32, False): 100}
    speed = lambda s: speeds[(s["batch_size"], s["amp"])]  # noqa: E731
    monkeypatch.setattr(probe, "run_probe", _fake_probe(speed, amp_oom_from=64))
    result = yolo_lab.autotune(
        data_yaml,
        device="cuda:0",
        imgsz=IMGSZ,
        batch_size=16,
        space={"batch_size": [16, 32, 64, 128], "workers": [2], "cache": [None]},
        project=tmp_path / "runs",
    )
    tried = [(r["settings"]["batch_size"], r["settings"]["amp"]) for r in result.rows]
    assert tried[:2] == [(16, True), (16, False)], "AMP first on a GPU"
    assert (64, True) in tried and (128, True) not in tried
    assert (64, False) not in tried, "AMP off needs more memory than on"
    assert result.winner == {"batch_size": 32, "workers": 2, "cache": None, "amp": False}
    assert result.form is not None and result.form["amp"] is False
    assert "amp" in str(result).splitlines()[1], "a GPU's table shows AMP"


def test_on_the_cpu_the_cache_comes_first_and_stays_fabricated_probe(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CPU-like space: the cache pays 40 %; with it, fewer workers are
    # faster (they take the cores the step needs); without it, more are.
    def speed(s: dict[str, Any]) -> float:
        batch = {4: 10, 8: 16, 16: 22, 32: 26}[s["batch_size"]]
        if s["cache"]:
            return batch * 1.4 * {0: 1.0, 1: 0.97, 2: 0.93}[s["workers"]]
        return batch * {0: 0.8, 1: 0.95, 2: 1.0}[s["workers"]]

    monkeypatch.setattr(probe, "run_probe", _fake_probe(speed))
    space = {"batch_size": [4, 8, 16, 32], "workers": [0, 1, 2], "cache": [None, "ram"]}
    result = _on_the_cpu(data_yaml, tmp_path, space)
    tried = [
        (r["settings"]["batch_size"], r["settings"]["workers"], r["settings"]["cache"])
        for r in result.rows
    ]
    assert tried[:2] == [(16, 2, None), (16, 2, "ram")], "the cache first on the CPU"
    assert not [t for t in tried[2:] if t[2] is None], "once the cache won, never probed without"
    assert result.winner == {"batch_size": 32, "workers": 0, "cache": "ram", "amp": False}
    assert len(tried) == 6, f"6 of the grid's 24 points: {tried}"


def test_the_batch_climbs_coarse_to_fine_over_a_plateau_fabricated_probe(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CPU's plateau: 16 -> 32 gains 1 % (under min_gain), which would end
    # a climb of doublings; 64 (4x) gains 20 %. 256 (4x again) is no faster:
    # the climb ends there (512 is never tried) and probes the rungs beside 64.
    speeds = {8: 10.0, 16: 20.0, 32: 20.2, 64: 24.0, 128: 23.5, 256: 23.8, 512: 40.0}
    monkeypatch.setattr(probe, "run_probe", _fake_probe(lambda s: speeds[s["batch_size"]]))
    options: dict[str, Any] = dict(
        device="cpu",
        imgsz=IMGSZ,
        workers=0,
        space={"batch_size": list(speeds), "workers": [0], "cache": [None]},
        project=tmp_path / "runs",
    )
    result = yolo_lab.autotune(data_yaml, batch_size=16, **options)
    assert _batches(result) == [16, 64, 256, 128, 32], "4x, 4x, then the rungs beside 64"
    assert result.winner is not None and result.winner["batch_size"] == 64
    assert result.ended == "converged"

    # Steps of 4x still reach the ladder's top rung (here 3 rungs up, not 4).
    top = {**speeds, 128: 30.0, 256: 31.0, 512: 45.0}
    monkeypatch.setattr(probe, "run_probe", _fake_probe(lambda s: top[s["batch_size"]]))
    result = yolo_lab.autotune(data_yaml, batch_size=64, **options)
    assert _batches(result) == [64, 256, 512], "no rung above 512, 256 below it was probed"
    assert result.winner is not None and result.winner["batch_size"] == 512

    # Down the ladder (only when up found nothing) the first step no faster ends it.
    down = {**speeds, 128: 10.0, 256: 10.0, 64: 23.0, 32: 22.0, 16: 30.0}
    monkeypatch.setattr(probe, "run_probe", _fake_probe(lambda s: down[s["batch_size"]]))
    result = yolo_lab.autotune(data_yaml, batch_size=64, **options)
    assert _batches(result) == [64, 256, 16, 8, 32], "one 4x step up, down to the bottom"
    assert result.winner is not None and result.winner["batch_size"] == 16


def test_a_later_pass_moves_the_batch_one_rung_for_the_workers_fabricated_probe(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With 2 workers batch 256 is fastest; with 0, 128 is: the first pass
    # climbs the batch at 2 workers, then the workers at 256; the second
    # pass re-checks one rung each way at 0 workers (and looks past one
    # flat rung upward), and takes 128.
    def speed(s: dict[str, Any]) -> float:
        batch = {16: 20.0, 32: 24.0, 64: 28.0, 128: 32.0, 256: 40.0, 512: 30.0}[s["batch_size"]]
        if s["workers"] == 0:
            return 60.0 if s["batch_size"] == 128 else batch * 1.2
        return batch

    monkeypatch.setattr(probe, "run_probe", _fake_probe(speed))
    space = {"batch_size": [16, 32, 64, 128, 256, 512], "workers": [0, 2], "cache": [None]}
    result = _on_the_cpu(data_yaml, tmp_path, space)
    tried = [(r["settings"]["batch_size"], r["settings"]["workers"]) for r in result.rows]
    assert tried[:6] == [(16, 2), (64, 2), (256, 2), (512, 2), (128, 2), (256, 0)], tried
    assert tried[6:] == [(512, 0), (128, 0), (64, 0)], "one rung at a time, then on down"
    assert result.winner == {"batch_size": 128, "workers": 0, "cache": None, "amp": False}


def test_the_budget_ends_the_search_fabricated_probe_durations(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every probe takes 0.3 s and each doubling is faster: only the budget ends it.
    monkeypatch.setattr(probe, "run_probe", _fake_probe(lambda s: s["batch_size"], seconds=0.3))
    budget = 1.0
    result = yolo_lab.autotune(
        data_yaml, device="cpu", budget_s=budget, imgsz=IMGSZ, project=tmp_path / "runs"
    )
    assert result.ended == "budget spent"
    assert 2 <= len(result.rows) <= 4, result
    assert all(r["started_s"] < budget for r in result.rows)
    longest = max(r["seconds"] for r in result.rows)
    assert result.seconds <= budget + longest, "at most one probe runs past the budget"
    assert json.loads((result.dir / AUTOTUNE_FILE).read_text())["ended"] == "budget spent"


def test_in_a_notebook_one_table_fills_in_probe_by_probe_fabricated_probe(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from yolo_lab.protocol import AUTOTUNE_MIME_TYPE, validate_definition

    monkeypatch.setattr(probe, "run_probe", _fake_probe(lambda s: s["batch_size"], oom_from=32))
    shell = InteractiveShell.instance()
    shell.user_ns.update(
        autotune=yolo_lab.autotune, data=str(data_yaml), project=str(tmp_path / "runs")
    )
    code = (
        "tuned = autotune(data, device='cpu', imgsz=64, batch_size=8, workers=0,"
        " space={'workers': [0], 'cache': [None]}, project=project)\ntuned"
    )
    with capture_output() as captured:
        assert shell.run_cell(code).success
    shown = [(o.data[AUTOTUNE_MIME_TYPE], o.update, o.transient) for o in captured.outputs]
    assert shown, "nothing was displayed"
    assert not shown[0][1] and all(update for _, update, _ in shown[1:]), "one output, updated"
    assert len({t["display_id"] for _, _, t in shown}) == 1
    for data, _, _ in shown:
        validate_definition("autotune_display", data)
    # Before each probe its settings show as the pending row; after, its row.
    first, *_, last = (data for data, _, _ in shown)
    assert first["rows"] == [] and first["probing"]["batch_size"] == 8
    assert first["ended"] == "running" and first["form"] is None
    pending = [d["probing"]["batch_size"] for d, _, _ in shown if d["probing"]]
    # 4x is out of memory, so down 4x (no faster), then the rungs beside 8.
    assert pending == [8, 32, 2, 16, 4], pending
    assert last["probing"] is None and last["ended"] == "converged"
    assert last["form"] == {"batch_size": 16, "workers": 0, "cache": None, "amp": False}
    assert last["speedup"] == pytest.approx(2.0)
    html = captured.outputs[-1].data["text/html"]
    assert "out of memory" in html and "yl-Autotune-pending" not in html
    assert "yl-Autotune-pending" in captured.outputs[0].data["text/html"]


def test_the_probe_spec_is_a_train_spec_plus_its_length(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe builds its spec itself (train() has no probe argument):
    it must keep up with the parameters train() writes."""
    caught: dict[str, Any] = {}
    monkeypatch.setattr(api, "_start", lambda run_dir, spec, detach=False: caught.update(spec))
    pytest.importorskip("yolov5", reason="train() checks that YOLOv5 is installed")
    yolo_lab.train(data_yaml, imgsz=IMGSZ, project=tmp_path / "runs")
    setup = _setup(data_yaml, tmp_path)
    settings = {"batch_size": 8, "workers": 0, "cache": None, "amp": False}
    spec = probe._probe_spec(setup, settings, tmp_path / "probe-1")
    assert set(spec["params"]) == set(caught["params"])
    assert set(spec) - set(caught) == {"probe"}
    assert spec["probe"] == {
        "batches": 6,
        "warmup": 2,
        "seconds": probe.PROBE_SECONDS,
        "min_measured": probe.MIN_MEASURED_BATCHES,
    }
    assert spec["yolov5_options"]["nosave"] is True


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "code", "words"),
    [
        ({"device": "tpu"}, "bad_device", "not a device name"),
        ({"device": "cuda:0"}, "device_missing", "cuda:0"),
        ({"budget_s": 0}, "bad_budget", "budget_s=0"),
        ({"budget_s": -5}, "bad_budget", "above 0"),
        ({"budget_s": "2m"}, "bad_budget", "seconds"),
        ({"probe_batches": 2, "warmup_batches": 2}, "bad_probe_batches", "warm-up"),
        ({"probe_s": -1}, "bad_probe_s", "0 or more"),
        ({"space": {"imgsz": [320, 640]}}, "bad_space", "imgsz"),
        ({"space": {"batch_size": []}}, "bad_space", "not a list"),
        ({"space": {"batch_size": ["auto"]}}, "bad_batch_size", "auto"),
    ],
)
def test_bad_input_says_what_to_do(
    data_yaml: Path, tmp_path: Path, kwargs: dict[str, Any], code: str, words: str
) -> None:
    with pytest.raises(TrainError) as err:
        yolo_lab.autotune(data_yaml, imgsz=IMGSZ, project=tmp_path / "runs", **kwargs)
    assert err.value.code == code, err.value
    assert words in err.value.message and err.value.fix, err.value
    assert not (tmp_path / "runs").exists(), "nothing was started"


def test_a_missing_dataset_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(TrainError) as err:
        yolo_lab.autotune(tmp_path / "nope.yaml", project=tmp_path / "runs")
    assert err.value.code == "data_missing"
    assert "does not exist" in err.value.message and "yolo_lab.shapes" in err.value.fix


def test_several_gpus_are_refused_fabricated_gpus(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "gpu_count", lambda: 2)
    with pytest.raises(TrainError) as err:
        yolo_lab.autotune(data_yaml, device=["cuda:0", "cuda:1"], project=tmp_path / "runs")
    assert err.value.code == "autotune_one_device" and "device='cuda:0'" in err.value.fix
