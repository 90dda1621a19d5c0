"""The shared table of training-parameter cases, run through train()'s checks.

jest runs the same table through the sidebar form
(src/__tests__/train-params.spec.ts); both read
protocol/train_params.schema.json. Cases with GPUs fabricate what the kernel
sees (this machine has none), as their names say.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from yolo_lab.training import TrainError, params

TABLE = json.loads(
    (Path(__file__).resolve().parents[2] / "protocol" / "train_params.cases.json").read_text(
        encoding="utf-8"
    )
)


def _check(case: dict[str, Any]) -> dict[str, Any]:
    given = {**TABLE["base"], **case["params"]}
    return params.check_params(given, case.get("visible", []))


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["case"] for c in TABLE["cases"]])
def test_shared_case(case: dict[str, Any]) -> None:
    if "refused" in case:
        with pytest.raises(TrainError) as err:
            _check(case)
        expect = case["refused"]
        assert (err.value.field, err.value.code) == (expect["field"], expect["code"])
        assert expect["says"] in f"{err.value.message} {err.value.fix}"
    else:
        values = _check(case)
        for key, value in case["ok"].items():
            assert values[key] == value, key


def test_a_refusal_reads_the_same_in_a_cell() -> None:
    # The words TypeScript shows in the sidebar, from the same template.
    with pytest.raises(TrainError) as err:
        params.read("batch_size", "abc")
    assert err.value.message == 'Batch size "abc" is not a number.'
    assert err.value.fix.startswith("Give a whole number")
    assert str(err.value).splitlines()[1].startswith("What to do: ")


class _Started(Exception):
    """train() got as far as starting the run's process."""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from yolo_lab import shapes

    out = tmp_path_factory.mktemp("shapes")
    return shapes.make_shapes_dataset(out / "shapes", train=4, val=2, image_size=64, seed=3)


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["case"] for c in TABLE["cases"]])
def test_shared_case_through_train_up_to_the_process(
    case: dict[str, Any], dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # train()'s real entry, everything up to starting the process (replaced
    # by what records the run's spec). The GPUs a case needs are fabricated:
    # the kernel "sees" case["visible"].
    from yolo_lab.training import api, checks

    given = {**TABLE["base"], **case["params"]}
    if given["data"] == TABLE["base"]["data"]:
        given["data"] = str(dataset)  # a real dataset: train() reads it
    monkeypatch.setattr(checks, "gpu_count", lambda: max(case.get("visible", []), default=-1) + 1)
    started: dict[str, Any] = {}

    def start(run_dir: Path, spec: dict[str, Any], detach: bool = False) -> None:
        started.update(spec)
        raise _Started

    monkeypatch.setattr(api, "_start", start)
    if "refused" in case:
        with pytest.raises(TrainError) as err:
            api.train(**given, project=tmp_path / "runs")
        expect = case["refused"]
        assert (err.value.field, err.value.code) == (expect["field"], expect["code"])
        assert expect["says"] in f"{err.value.message} {err.value.fix}"
        assert not started
    else:
        with pytest.raises(_Started):
            api.train(**given, project=tmp_path / "runs")
        for key, value in case["ok"].items():
            assert started["params"][key] == value, key


def test_the_definition_is_json_schema_with_one_function_per_other_rule() -> None:
    from jsonschema import Draft7Validator

    Draft7Validator.check_schema(params.spec())
    # The rules JSON Schema cannot say: one function each, here and in
    # src/training/params.ts (jest checks its table the same way).
    assert set(params.RULES) == set(params.spec()["x-rules"])
    # Every refusal the definition words is met by a case of the table.
    refused = {
        (c["refused"]["field"], c["refused"]["code"]) for c in TABLE["cases"] if "refused" in c
    }
    worded = [r["x-refusal"] for r in params.spec()["allOf"]] + [
        words for rule in params.spec()["x-rules"].values() for words in rule.values()
    ]
    assert {(w["field"], w["code"]) for w in worded} <= refused


def test_every_device_spelling_reads_as_one_list() -> None:
    assert params.read_device("cpu") == ["cpu"]
    assert params.read_device(["cuda:0", "CUDA:1"]) == [0, 1]
    assert params.read_device("0,2") == [0, 2]
    assert params.read_device("cuda") == [0]
    assert params.read_device("tpu") == ["tpu"]
    with pytest.raises(TrainError) as err:
        params.read("device", ["cuda:0", "cuda:0"])
    assert (err.value.field, err.value.code) == ("device", "bad_device")
    assert "listed twice" in err.value.message
