"""Training runs: real YOLOv5 on the synthetic shapes data, on the CPU.

Each run is a real subprocess training yolov5n from scratch for one or two
short epochs at 64 px. What this machine cannot have (a CUDA device) is
fabricated, and those tests say so in their names.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
from waiting import wait_until

from yolo_lab import protocol, shapes, training
from yolo_lab._runner import Runner
from yolo_lab._runner import oom_fix as _oom_fix
from yolo_lab._yolov5.options import yolov5_opt
from yolo_lab.training import TrainError, launch
from yolo_lab.training.rundir import (
    EVENTS_FILE,
    SPEC_FILE,
    STATUS_FILE,
    STOP_FILE,
    normalize_spec,
    read_spec,
    spec_devices,
)

IMGSZ = 64
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shapes")
    return shapes.make_shapes_dataset(out / "shapes", train=16, val=8, image_size=IMGSZ, seed=1)


@pytest.fixture(scope="module")
def event_validator() -> jsonschema.Draft7Validator:
    schema = protocol.load_schema()
    return jsonschema.Draft7Validator({**schema, "$ref": "#/definitions/run_event"})


def quick(data: Path, project: Path, **kw: Any) -> training.Run:
    options: dict[str, Any] = dict(
        device="cpu", batch_size=8, epochs=2, imgsz=IMGSZ, workers=0, project=project
    )
    options.update(kw)
    return training.train(data, **options)


@pytest.mark.yolov5
def test_real_cpu_training_events_match_results_csv(
    data_yaml: Path, tmp_path: Path, event_validator: jsonschema.Draft7Validator
) -> None:
    run = quick(data_yaml, tmp_path / "runs", epochs=2)
    assert run.wait(timeout=600) == "finished", run.log.read_text()[-3000:]

    events = run.events()
    for event in events:
        event_validator.validate(event)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert events[-1]["status"] == "finished"
    assert Path(events[-1]["last"]).is_file() and Path(events[-1]["best"]).is_file()

    amp = run.events("amp")
    assert [a["enabled"] for a in amp] == [False]

    rows = run.results()
    epochs = run.events("epoch")
    assert [e["epoch"] for e in epochs] == [0, 1] == [int(r["epoch"]) for r in rows]
    for event, row in zip(epochs, rows):
        # results.csv keeps five significant digits.
        assert event["map50"] == pytest.approx(row["metrics/mAP_0.5"], rel=1e-3, abs=1e-6)
        assert event["map"] == pytest.approx(row["metrics/mAP_0.5:0.95"], rel=1e-3, abs=1e-6)
        assert event["val_box"] == pytest.approx(row["val/box_loss"], rel=1e-3)
        assert event["lr"][0] == pytest.approx(row["x/lr0"], rel=1e-3)
        # The last batch of the epoch carries the epoch's mean train losses.
        batches = [b for b in run.events("batch") if b["epoch"] == event["epoch"]]
        assert [b["batch"] for b in batches] == [0, 1]
        assert batches[-1]["box"] == pytest.approx(row["train/box_loss"], rel=1e-3)
        assert batches[-1]["cls"] == pytest.approx(row["train/cls_loss"], rel=1e-3)
        assert all(b["imgs_per_s"] > 0 and b["gpu_mem_gib"] is None for b in batches)
    assert run.events("telemetry"), "the run samples the CPU while it trains"

    # The same events go over the comm as a valid run_events message.
    status = training.launch.run_status(run.dir)
    message = protocol.make_run_events(str(run.dir), True, status, events)
    protocol.validate(message)
    listed = training.list_runs(tmp_path / "runs")
    assert [r["name"] for r in listed] == ["exp"]
    assert listed[0]["status"] == "finished" and listed[0]["epochs_done"] == 2

    # The trained model, for inference in this process (YOLOv5's classes
    # unpickled with the shims): float32, eval mode, it runs.
    import torch

    model = run.model()
    assert not model.training and next(model.parameters()).dtype == torch.float32
    with torch.no_grad():
        assert model(torch.zeros(1, 3, IMGSZ, IMGSZ))[0].shape[0] == 1
    with pytest.raises(TrainError) as err:
        run.model("final")
    assert err.value.code == "bad_weights" and 'weights="last"' in err.value.fix


@pytest.mark.yolov5
def test_stop_mid_epoch_then_resume(data_yaml: Path, tmp_path: Path) -> None:
    import torch

    run = quick(data_yaml, tmp_path / "runs", epochs=3, name="stopme")
    wait_until(
        lambda: [b for b in run.events("batch") if b["epoch"] == 1],
        300,
        "a batch of the second epoch",
    )
    run.stop()
    assert run.wait(timeout=120) == "stopped"
    assert run.last is not None
    end = run.events("end")[-1]
    assert end["status"] == "stopped" and end["last"] == str(run.last)
    ckpt = torch.load(run.last, map_location="cpu", weights_only=False)
    assert ckpt["optimizer"] is not None, "a stop checkpoint keeps the optimizer for resume"
    done_before = [int(r["epoch"]) for r in run.results()]
    assert done_before in ([0], [0, 1])  # the stop lands mid-epoch 1 or just after it

    resumed = training.resume(run)
    assert resumed.dir == run.dir
    assert resumed.wait(timeout=600) == "finished", run.log.read_text()[-3000:]
    assert [int(r["epoch"]) for r in run.results()] == [0, 1, 2]
    starts = run.events("start")
    assert len(starts) == 2 and starts[1]["resume"] == str(run.dir / "weights" / "last.pt")

    # Finished: its last.pt says epoch -1 (YOLOv5 strips it), which a resume
    # used to read as "stopped in the first epoch" and retrain from scratch.
    with pytest.raises(TrainError) as err:
        training.resume(run)
    assert err.value.code == "run_finished"
    assert f"weights={str(run.best)!r}" in err.value.fix
    assert len(run.events("start")) == 2, "nothing was started"


def test_a_run_that_failed_after_its_final_save_is_not_resumed(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "late"
    (run_dir / "weights").mkdir(parents=True)
    (run_dir / "weights" / "last.pt").write_bytes(b"")
    (run_dir / STATUS_FILE).write_text(json.dumps({"status": "failed"}))
    (run_dir / EVENTS_FILE).write_text(
        json.dumps({"t": 1, "kind": "start", "params": {}})
        + "\n"
        + json.dumps({"t": 2, "kind": "saved", "epoch": 2, "last": "x", "final": True})
        + "\n"
    )
    with pytest.raises(TrainError) as err:
        training.resume(run_dir)
    assert err.value.code == "run_finished"


def test_resume_refuses_a_run_without_last_pt(tmp_path: Path) -> None:
    (tmp_path / "exp").mkdir()
    with pytest.raises(TrainError) as err:
        training.resume(tmp_path / "exp")
    assert err.value.code == "nothing_to_resume"


def test_a_child_forked_by_the_runner_ends_on_sigterm(tmp_path: Path) -> None:
    # YOLOv5 forks pool and loader workers from the runner; Pool.terminate()
    # SIGTERMs its workers and joins them. The runner's own handler only
    # notes a stop, so a child that kept it would be joined forever.
    import subprocess

    code = (
        "import multiprocessing, os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from yolo_lab._runner import Runner, stop_on_signals\n"
        "runner = Runner(Path(sys.argv[1]), {'v': 2, 'params': {}})\n"
        "stop_on_signals(runner.request_stop)\n"
        "child = multiprocessing.get_context('fork').Process(target=time.sleep, args=(60,))\n"
        "child.start()\n"
        "time.sleep(0.5)\n"
        "child.terminate()\n"
        "child.join(20)\n"
        "print(child.exitcode)\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "print(runner.stop_reason)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(-signal.SIGTERM), "signal SIGTERM"], out.stderr


def _fake_runner(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The runner replaced by a process that exits at once; the processes it got."""
    started: list[int] = []

    def command(run_dir: Path, world: int) -> list[str]:
        started.append(world)
        return [sys.executable, "-c", "pass"]

    monkeypatch.setattr(launch, "runner_command", command)
    return started


@pytest.mark.yolov5
def test_the_spec_holds_the_params_once_and_the_runner_derives_yolov5s_options(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _fake_runner(monkeypatch)
    run = quick(data_yaml, tmp_path / "runs", name="spec", seed=3, patience=7, noplots=True)
    run.wait(timeout=60)
    assert started == [1]
    spec = json.loads((run.dir / SPEC_FILE).read_text())
    assert set(spec) == {
        "v",
        "params",
        "yolov5_options",
        "seed",
        "telemetry_interval_s",
        "detached",
        "trust_weights",
    }
    assert spec["detached"] is False and spec["trust_weights"] is False
    # The device as train() read it, one form from the checks to the runner.
    assert spec["v"] == 3 and spec["params"]["device"] == ["cpu"]
    assert spec["params"]["batch_size"] == 8
    assert spec["yolov5_options"] == {"patience": 7, "noplots": True}
    # What the previous version wrote beside the params as "opt".
    assert yolov5_opt(spec, run.dir) == {
        "data": str(data_yaml.resolve()),
        "cfg": "yolov5n.yaml",
        "weights": "",
        "epochs": 2,
        "batch_size": 8,
        "imgsz": IMGSZ,
        "device": "cpu",
        "workers": 0,
        "cache": None,
        "project": str((tmp_path / "runs").resolve()),
        "name": "spec",
        "exist_ok": True,
        "seed": 3,
        "patience": 7,
        "noplots": True,
    }
    # The views show the pass-through options with the params, as before.
    assert run._repr_mimebundle_()[training.RUN_MIME_TYPE]["params"]["patience"] == 7

    # Several fabricated GPUs and autobatch, as YOLOv5 takes them.
    ddp = {"v": 3, "params": {"device": [0, 2], "batch_size": 16}}
    assert yolov5_opt(ddp, run.dir)["device"] == "0,2"
    assert "batch_size=8" in _oom_fix(ddp)
    auto = {"v": 3, "params": {"device": [1], "batch_size": "auto"}}
    opt = yolov5_opt(auto, run.dir)
    assert (opt["device"], opt["batch_size"]) == ("1", -1)
    # A format-2 spec (devices as names) reads as format 3.
    older = normalize_spec({"v": 2, "params": {"device": ["cuda:0", "cuda:2"]}})
    assert older["v"] == 3 and older["params"]["device"] == [0, 2]
    assert normalize_spec({"v": 2, "params": {"device": "cpu"}})["params"]["device"] == ["cpu"]


def _old_format_spec(project: Path, name: str, device: Any, devices: list[int]) -> dict[str, Any]:
    """A spec as yolo-lab wrote it before format 2: YOLOv5's opt beside the params."""
    data = str(project.parent / "data.yaml")
    return {
        "params": {
            "data": data,
            "model": "yolov5n.yaml",
            "weights": "",
            "device": device,
            "batch_size": 16,
            "amp": False,
            "epochs": 3,
            "imgsz": IMGSZ,
            "workers": 0,
            "cache": None,
            "name": "exp",
            "project": str(project),
            "yolov5_dir": None,
            "patience": 7,
        },
        "opt": {
            "data": data,
            "cfg": "yolov5n.yaml",
            "weights": "",
            "epochs": 3,
            "batch_size": 16,
            "imgsz": IMGSZ,
            "device": ",".join(str(i) for i in devices) or "cpu",
            "workers": 0,
            "cache": None,
            "project": str(project),
            "name": name,
            "exist_ok": True,
            "seed": 5,
            "patience": 7,
        },
        "amp": False,
        "devices": devices,
        "batch_size": 16,
        "epochs": 3,
        "yolov5_dir": None,
        "telemetry_interval_s": 1.0,
    }


@pytest.mark.yolov5
def test_a_run_folder_of_the_previous_spec_format_lists_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "runs"
    run_dir = project / "exp2"
    (run_dir / "weights").mkdir(parents=True)
    (run_dir / "weights" / "last.pt").write_bytes(b"")
    old = _old_format_spec(project, "exp2", "cpu", [])
    (run_dir / SPEC_FILE).write_text(json.dumps(old))
    (run_dir / STATUS_FILE).write_text(json.dumps({"status": "stopped", "created": 1.0}))

    listed = training.list_runs(project)
    assert [(r["name"], r["status"], r["epochs"], r["device"]) for r in listed] == [
        ("exp2", "stopped", 3, "cpu")
    ]

    # The runner reads it as the current format and derives the same options.
    spec = read_spec(run_dir)
    assert spec["yolov5_options"] == {"patience": 7} and "patience" not in spec["params"]
    assert yolov5_opt(spec, run_dir) == old["opt"]
    runner = Runner(run_dir, spec)
    assert runner.epochs == 3 and runner.params["amp"] is False
    runner.events.close()
    assert "batch_size=8" in _oom_fix(spec)

    started = _fake_runner(monkeypatch)
    training.resume(run_dir).wait(timeout=60)
    assert started == [1]
    written = json.loads((run_dir / SPEC_FILE).read_text())
    assert "opt" not in written and written["v"] == 3
    assert written["resume"] == str(run_dir / "weights" / "last.pt")
    assert written["seed"] == 5 and written["telemetry_interval_s"] == 1.0
    expect = {k: v for k, v in old["params"].items() if k != "patience"}
    assert written["params"] == {**expect, "device": ["cpu"]}

    # Several GPUs: the devices a resume starts torchrun with.
    ddp = normalize_spec(_old_format_spec(project, "exp3", ["cuda:0", "cuda:1"], [0, 1]))
    assert spec_devices(ddp) == [0, 1] and yolov5_opt(ddp, project / "exp3")["device"] == "0,1"
    # Older still: no device among the params, only the top-level list.
    bare = _old_format_spec(project, "exp3", "cpu", [1])
    del bare["params"]["device"]
    assert spec_devices(normalize_spec(bare)) == [1]


@pytest.mark.yolov5
def test_fabricated_cuda_oom_message_suggests_a_smaller_batch(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No GPU here: the runner raises torch's real OutOfMemoryError at batch 2
    # (after epoch 0 saved its weights) when this variable asks it to.
    monkeypatch.setenv("YOLO_LAB_FABRICATED_OOM_AT_BATCH", "2")
    run = quick(data_yaml, tmp_path / "runs", epochs=2, name="oom")
    assert run.wait(timeout=600) == "failed"
    error = run.events("error")[-1]
    assert error["code"] == "cuda_oom"
    assert "batch_size=4" in error["fix"]
    info = run.info
    assert info["code"] == "cuda_oom" and "batch_size=4" in info["fix"]
    # What was written before the failure is kept.
    assert run.last is not None and len(run.results()) == 1


class _FabricatedCudaTrainModule:
    """A fabricated YOLOv5 train module whose model claims a CUDA device; the
    offline AMP check replaced by a measured verdict. ``calls`` says which
    check ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from yolo_lab._runner import callbacks as runner_callbacks
        from yolo_lab._runner.amp import AmpVerdict

        self.calls: list[str] = []

        def yolov5_check_amp(model: Any) -> bool:
            self.calls.append("yolov5")  # it would download yolov5n.pt when unsure
            return True

        def offline(model: Any) -> AmpVerdict:
            self.calls.append("offline")
            return AmpVerdict(True, 0.001, 0.002, "offline check passed: measured")

        monkeypatch.setattr(runner_callbacks, "check_amp_offline", offline)

        class EMA:
            def __init__(self, model: Any) -> None:
                self.model = model

        self.module = SimpleNamespace(
            check_amp=yolov5_check_amp,
            smart_optimizer=lambda *a, **k: "optimizer",
            ModelEMA=EMA,
        )
        self.model = SimpleNamespace(
            parameters=lambda: iter([SimpleNamespace(device=SimpleNamespace(type="cuda"))])
        )

    def amp(self, run_dir: Path, params: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
        """YOLOv5's check_amp as the runner patches it, and the events written."""
        run_dir.mkdir()
        runner = Runner(run_dir, {"v": 2, "params": params})
        fabricated = SimpleNamespace(**vars(self.module))
        runner.patch(fabricated)
        result = fabricated.check_amp(self.model)
        runner.events.close()
        lines = (run_dir / EVENTS_FILE).read_text().splitlines()
        return result, [json.loads(line) for line in lines]


def test_amp_replaces_yolov5s_check_on_fabricated_cuda_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cuda = _FabricatedCudaTrainModule(monkeypatch)
    off, events = cuda.amp(tmp_path / "amp-False", {"amp": False})
    assert off is False and cuda.calls == [], "amp=False must not even run YOLOv5's check"
    assert events[-1]["kind"] == "amp" and events[-1]["enabled"] is False

    on, events = cuda.amp(tmp_path / "amp-None", {"amp": None})
    assert on is True and cuda.calls == ["offline"], "the offline check decides, never YOLOv5's"
    assert events[-1]["enabled"] is True and events[-1]["requested"] is None
    assert events[-1]["reason"] == "offline check passed: measured"
    assert events[-1]["score_diff"] == 0.001

    # The capture hooks see what YOLOv5 builds, for the save on stop.
    runner = Runner(tmp_path / "amp-False", {"v": 2, "params": {"amp": False}})
    fabricated = SimpleNamespace(**vars(cuda.module))
    runner.patch(fabricated)
    assert fabricated.smart_optimizer("model") == "optimizer" and runner.optimizer == "optimizer"
    assert runner.model == "model"
    ema = fabricated.ModelEMA("m")
    assert runner.ema is ema


def test_the_forms_default_cell_trains_with_amp_automatic_on_fabricated_cuda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cell the panel's form writes on a one-GPU kernel, nothing changed
    # (jest checks the form writes exactly this text: training-form.spec.ts).
    source = (REPO / "protocol" / "default_cell_one_gpu.py").read_text(encoding="utf-8")
    (call,) = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "train"
    ]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert kwargs["amp"] is None and kwargs["device"] == "cuda:0"
    # train()'s checks on a fabricated one-GPU machine: AMP left to the run.
    devices = training.checks.check_devices(kwargs["device"], count=1)
    assert devices == [0]
    assert training.checks.check_amp(kwargs["amp"], devices) is None
    assert training.checks.check_batch_size(kwargs["batch_size"], devices) == 16

    cuda = _FabricatedCudaTrainModule(monkeypatch)
    enabled, events = cuda.amp(tmp_path / "default", {"amp": kwargs["amp"]})
    assert enabled is True and cuda.calls == ["offline"]
    (amp,) = [e for e in events if e["kind"] == "amp"]
    assert amp["requested"] is None and amp["enabled"] is True


# -- bad input: each raises before anything starts --------------------------


# The batch-size cases (bad and good, on the CPU and on fabricated GPUs) are
# rows of protocol/train_params.cases.json, run by test_train_params.py here
# and by jest through the sidebar form.
def test_batch_size_stays_auto_until_the_yolov5_call() -> None:
    # "auto" is "auto" in train()'s checks and the run's spec; only the
    # YOLOv5 options (yolov5_opt, above) make it YOLOv5's -1.
    assert training.checks.check_batch_size("32", []) == 32
    assert training.checks.check_batch_size("auto", [0]) == "auto"
    assert training.checks.check_batch_size("-1", [0]) == "auto"
    assert training.checks.check_batch_size(16, [0, 1]) == 16


def test_devices_on_this_machine() -> None:
    assert training.checks.check_devices("cpu") == []
    with pytest.raises(TrainError) as err:
        training.checks.check_devices("cuda:0", count=0)
    assert err.value.code == "device_missing" and 'device="cpu"' in err.value.fix
    with pytest.raises(TrainError):
        training.checks.check_devices("gpu please", count=0)


def test_devices_on_fabricated_two_gpu_machine() -> None:
    assert training.checks.check_devices("cuda:1", count=2) == [1]
    assert training.checks.check_devices(["cuda:0", "cuda:1"], count=2) == [0, 1]
    assert training.checks.check_devices("0,1", count=2) == [0, 1]
    with pytest.raises(TrainError) as err:
        training.checks.check_devices("cuda:2", count=2)
    assert "cpu, cuda:0, cuda:1" in err.value.fix
    with pytest.raises(TrainError):
        training.checks.check_devices(["cuda:0", "cuda:0"], count=2)
    # Several processes: the supervisor, which starts torchrun (test_ddp.py runs it).
    command = training.launch.runner_command(Path("/runs/x"), 2)
    assert command[1:] == ["-m", "yolo_lab._runner.supervisor", "/runs/x"]


def test_ddp_with_one_gpu_is_plain_training_on_fabricated_gpu() -> None:
    # One GPU listed is a single-process run, not DDP.
    assert training.launch.runner_command(Path("/r"), 1)[1:3] == ["-m", "yolo_lab._runner"]


def test_amp_on_cpu_is_refused() -> None:
    with pytest.raises(TrainError) as err:
        training.checks.check_amp(True, [])
    assert err.value.code == "amp_on_cpu" and "amp=False" in err.value.fix
    assert training.checks.check_amp(None, []) is None
    assert training.checks.check_amp(False, [0]) is False


def test_dataset_errors(tmp_path: Path, data_yaml: Path) -> None:
    with pytest.raises(TrainError) as err:
        training.checks.check_data(tmp_path / "nope.yaml")
    assert err.value.code == "data_missing" and "yolo_lab.shapes" in err.value.fix

    bad = tmp_path / "missing_images.yaml"
    bad.write_text(f"path: {tmp_path / 'gone'}\ntrain: images/train\nval: images/val\nnames: [a]\n")
    with pytest.raises(TrainError) as err:
        training.checks.check_data(bad)
    assert err.value.code == "data_images_missing" and "gone" in err.value.message

    relative = tmp_path / "relative.yaml"
    relative.write_text(
        "path: ../datasets/coco128\ntrain: images/train2017\nval: images/train2017\nnames: [a]\n"
    )
    with pytest.raises(TrainError) as err:
        training.checks.check_data(relative)
    assert err.value.code == "data_relative_path"

    assert training.checks.check_data(data_yaml) == data_yaml.resolve()


@pytest.mark.parametrize(
    ("yaml_text", "code", "says"),
    [
        # No path: YOLOv5 joins relative train/val to its own install folder.
        ("train: images/train\nval: images/val\nnames: [a]\n", "data_relative_path", "path: "),
        ("path: {root}\ntrain: images/train\nval: images/val\nnc: 2\n", "data_invalid", "names"),
        (
            "path: {root}\ntrain: images/train\nval: images/val\nnc: 3\nnames: [a, b]\n",
            "data_invalid",
            "nc: 2",
        ),
        (
            "path: {root}\ntrain: images/train\nval: images/val\nnames: {{a: x}}\n",
            "data_invalid",
            "0: cat",
        ),
    ],
)
def test_the_dataset_check_agrees_with_yolov5(
    tmp_path: Path, data_yaml: Path, yaml_text: str, code: str, says: str
) -> None:
    root = data_yaml.parent
    bad = root / "variant.yaml"
    bad.write_text(yaml_text.format(root=root))
    try:
        with pytest.raises(TrainError) as err:
            training.checks.check_data(bad)
    finally:
        bad.unlink()
    assert err.value.code == code
    assert says in f"{err.value.message} {err.value.fix}"


def test_a_yaml_without_path_but_absolute_splits_is_accepted_as_yolov5_does(
    tmp_path: Path, data_yaml: Path
) -> None:
    root = data_yaml.parent
    ok = tmp_path / "absolute.yaml"
    ok.write_text(f"train: {root / 'images/train'}\nval: {root / 'images/val'}\nnames: [a, b, c]\n")
    assert training.checks.check_data(ok) == ok.resolve()


def test_train_refuses_before_creating_anything(tmp_path: Path, data_yaml: Path) -> None:
    project = tmp_path / "runs"
    for kwargs in (
        {"batch_size": 0},
        {"device": "cuda:0"},
        {"amp": True},
        {"weights": "yolov5s.pt"},
        {"epochs": 0},
    ):
        with pytest.raises(TrainError):
            training.train(data_yaml, project=project, **kwargs)
    assert not project.exists()


def test_yolov5_missing_in_a_python_without_it() -> None:
    # A real interpreter without YOLOv5: the plain venv that scripts/setup.sh
    # --tests makes for the panel's second kernel.
    import subprocess

    repo = Path(__file__).parents[2]
    plain = Path(os.environ.get("YOLO_LAB_PLAIN_VENV", repo / ".venv-plain"))
    python = plain / "bin" / "python"
    assert python.is_file(), "run scripts/setup.sh --tests first"
    code = (
        f"import sys; sys.path.insert(0, {str(repo)!r})\n"
        "from yolo_lab.training.checks import find_yolov5, TrainError\n"
        "try:\n    find_yolov5(None)\nexcept TrainError as e:\n    print(e.code); print(e.fix)\n"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "yolov5_missing", out.stderr
    assert "pip install yolov5" in out.stdout


def test_a_checkout_that_is_not_yolov5_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainError) as err:
        training.checks.find_yolov5(tmp_path)
    assert "train.py" in err.value.message


@pytest.mark.kernel
def test_kernel_death_stops_the_run_and_keeps_last_pt(data_yaml: Path, tmp_path: Path) -> None:
    # A real parent process (standing in for the kernel) starts a run and is
    # then killed with SIGKILL, as a kernel restart does when shutdown times out.
    import subprocess

    script = (
        "import sys, time; from yolo_lab import training\n"
        f"run = training.train({str(data_yaml)!r}, device='cpu', batch_size=8, epochs=50, "
        f"imgsz={IMGSZ}, workers=0, project={str(tmp_path / 'runs')!r}, name='orphan')\n"
        "print(run.dir, flush=True)\n"
        "time.sleep(600)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert parent.stdout is not None
        run = training.Run(parent.stdout.readline().strip())
        wait_until(lambda: run.events("batch"), 300, "the first batch")
        pid = run.info["pid"]
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        wait_until(
            lambda: not launch._pid_alive(pid), 120, "the runner to exit after its parent died"
        )
    finally:
        if parent.poll() is None:
            parent.kill()
    assert run.status == "stopped"
    assert run.last is not None
    assert "signal SIGTERM" in (run.events("end")[-1]["message"] or "")


def test_comm_serves_a_yolov5_run_made_without_yolo_lab(
    tmp_path: Path, schema_validator: Any
) -> None:
    # A run folder as plain `python train.py` leaves it: results.csv, weights.
    from test_comm import open_comm

    run_dir = tmp_path / "runs" / "train" / "cli"
    (run_dir / "weights").mkdir(parents=True)
    (run_dir / "weights" / "best.pt").write_bytes(b"")
    header = (
        "               epoch,      train/box_loss,      train/obj_loss,      train/cls_loss,"
        "   metrics/precision,      metrics/recall,     metrics/mAP_0.5,metrics/mAP_0.5:0.95,"
        "        val/box_loss,        val/obj_loss,        val/cls_loss,               x/lr0,"
        "               x/lr1,               x/lr2"
    )
    rows = [
        "0, 0.12, 0.02, 0.04, 0.01, 0.2, 0.005, 0.001, 0.11, 0.01, 0.04, 0.09, 0.0003, 0.0003",
        "1, 0.10, 0.02, 0.03, 0.20, 0.5, 0.300, 0.120, 0.09, 0.01, 0.03, 0.08, 0.0004, 0.0004",
    ]
    (run_dir / "results.csv").write_text("\n".join([header, *rows]) + "\n")

    comm = open_comm()
    comm.deliver({"v": 1, "type": "run_subscribe", "id": "s1", "run": str(run_dir)})
    comm.wait_for(lambda sent: any(m.get("type") == "run_events" for m in sent))
    comm.deliver({"v": 1, "type": "runs_request", "id": "r1", "project": str(run_dir.parent)})
    comm.deliver({"v": 1, "type": "run_stop", "id": "x1", "run": str(run_dir)})
    comm.deliver({"v": 1, "type": "run_subscribe", "id": "gone", "run": str(tmp_path / "nowhere")})
    for message in comm.sent:
        schema_validator.validate(message)
    events = next(m for m in comm.sent if m["type"] == "run_events")
    assert events["history"] is True and events["status"]["status"] == "finished"
    assert [e["map50"] for e in events["events"]] == [0.005, 0.3]
    listed = next(m for m in comm.sent if m["type"] == "runs_list")
    assert [(r["name"], r["epochs_done"], r["map50"]) for r in listed["runs"]] == [("cli", 2, 0.3)]
    stop = next(m for m in comm.sent if m["type"] == "run_stop_result")
    assert stop["stopping"] is False and "finished" in stop["message"]
    error = next(m for m in comm.sent if m.get("id") == "gone")
    assert error["type"] == "error" and "not a run folder" in error["message"]
    comm.close()


def _kernel_run(frontend: Any, data_yaml: Path, project: Path, name: str) -> training.Run:
    reply = frontend.execute(
        "from yolo_lab import train\n"
        f"run = train({str(data_yaml)!r}, device='cpu', batch_size=8, epochs=500, "
        f"imgsz={IMGSZ}, workers=0, project={str(project)!r}, name={name!r})\n"
        "print(run.dir)"
    )
    run = training.Run("".join(reply.streams()).strip())
    wait_until(lambda: run.events("batch"), 300, "the first batch")
    return run


@pytest.mark.yolov5
def test_real_kernel_interrupt_during_wait_stops_the_run(data_yaml: Path, tmp_path: Path) -> None:
    from test_kernel_e2e import Frontend, _start_kernel

    manager, client = _start_kernel(tmp_path / "kernel")
    try:
        frontend = Frontend(client)
        run = _kernel_run(frontend, data_yaml, tmp_path / "runs", "interrupted")
        # The run records the kernel that started it (a view resumes runs
        # of other kernels only when the user says so).
        assert run.info["kernel"] == manager.kernel_id
        for attempt in range(3):
            # The cell says it runs by a file of its own, not by output: a
            # print's flush waits on ipykernel's IOPub thread, so an interrupt
            # timed by a stream message lands in ipykernel's output code, and
            # the stream message itself must cross IOPub within the deadline
            # on a loaded machine (the flake of 2026-12-03: no IOPub message
            # within 60 s). A file needs neither.
            started = tmp_path / f"cell-started-{attempt}"
            msg_id = client.execute(f"open({str(started)!r}, 'w').close(); run.wait()")
            # Budget: the kernel takes the request and runs one line; 120 s
            # covers a kernel on a machine whose two cores train for others.
            wait_until(started.exists, 120, "the cell that waits on the run to start")
            manager.interrupt_kernel()
            # The cell ends: once the run stopped if the interrupt reached
            # run.wait() (the stop waits for the runner: up to its save).
            deadline = time.monotonic() + 180
            while client.get_shell_msg(timeout=180)["parent_header"].get("msg_id") != msg_id:
                assert time.monotonic() < deadline, "no reply to the interrupted cell"
            if (run.dir / STOP_FILE).exists():
                break
            # The interrupt came between the file and run.wait(): in the
            # cell's own code, which ends with KeyboardInterrupt; again.
            assert run.running, "the run ended before the interrupt"
        wait_until(lambda: run.status == "stopped", 120, "the interrupt to stop the run")
        pid = run.info["pid"]
        wait_until(lambda: not launch._pid_alive(pid), 60, "the runner to exit")
        assert run.last is not None
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.mark.yolov5
def test_real_kernel_restart_leaves_no_training_behind(data_yaml: Path, tmp_path: Path) -> None:
    from test_kernel_e2e import Frontend, _start_kernel

    manager, client = _start_kernel(tmp_path / "kernel")
    try:
        run = _kernel_run(Frontend(client), data_yaml, tmp_path / "runs", "restarted")
        pid = run.info["pid"]
        manager.restart_kernel(now=False)
        wait_until(lambda: not launch._pid_alive(pid), 120, "the runner to exit")
        assert run.status == "stopped"
        assert run.last is not None
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.mark.kernel
def test_a_bad_argument_in_a_real_kernel_shows_the_fix_not_a_traceback(tmp_path: Path) -> None:
    from test_kernel_e2e import _start_kernel

    manager, client = _start_kernel(tmp_path / "kernel")
    seen: list[dict[str, Any]] = []
    try:
        client.execute_interactive(
            "from yolo_lab import train\ntrain('nope.yaml', batch_size=0)",
            timeout=120,
            output_hook=seen.append,
        )
        errors = [m["content"] for m in seen if m["msg_type"] == "error"]
        assert len(errors) == 1
        text = "\n".join(errors[0]["traceback"])
        assert "The batch size must be at least 1, not 0." in text
        assert "What to do:" in text
        assert "checks.py" not in text and "yolo_lab/training" not in text, (
            "no stack through yolo-lab's own checks"
        )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
