"""The checks of a training run's parameters, from their one definition.

``protocol/train_params.schema.json`` is JSON Schema: each parameter's type,
limits and default, and the refused combinations as ``if``/``then`` rules.
This module validates with ``jsonschema``; the sidebar form validates the
same file with ajv (``src/training/params.ts``), so a value the form lets
through is one ``train()`` accepts, and a refusal reads the same in the cell
and in the sidebar. Both are tested on one table of cases
(``protocol/train_params.cases.json``).

What JSON Schema cannot say is in :data:`RULES`, one small function per
rule (the TypeScript module has the same table): a chosen GPU the kernel does
not see, and a DDP batch that does not divide by the processes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

from ..protocol import schema_path
from .errors import TrainError

__all__ = [
    "DEFAULTS",
    "PARAMS_FILENAME",
    "RULES",
    "check_params",
    "gpus_of",
    "read",
    "read_device",
    "refuse",
    "spec",
]

PARAMS_FILENAME: Final = "train_params.schema.json"
_WHOLE: Final = re.compile(r"\s*-?\d+\s*")
_GPU_NAME: Final = re.compile(r"(?:cuda:?)?(\d+)|cuda")


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    """The definition (shared, never mutated)."""
    return json.loads(schema_path(PARAMS_FILENAME).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Any:
    # Imported on first use: jsonschema costs a good part of a second.
    from jsonschema import Draft7Validator

    return Draft7Validator(spec())


class _Defaults(Mapping[str, Any]):
    """Each parameter's default, read from the definition when first asked:
    the one place they live (train(), autotune() and the form read them)."""

    def __getitem__(self, name: str) -> Any:
        return spec()["properties"][name].get("default")

    def __iter__(self) -> Iterator[str]:
        return iter(spec()["properties"])

    def __len__(self) -> int:
        return len(spec()["properties"])


DEFAULTS: Final = _Defaults()


def _fill(text: str, values: Mapping[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        return str(values[key]) if key in values else match.group(0)

    return re.sub(r"\{([A-Za-z_-]+)\}", one, text)


def _as_json(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(str(value))


def _words(words: Mapping[str, str], field: str, values: Mapping[str, Any]) -> TrainError:
    return TrainError(
        words["code"],
        _fill(words["message"], values),
        _fill(words.get("fix", ""), values),
        field=field,
    )


def read_device(device: Any) -> list[Any]:
    """The device as the definition reads it: ``["cpu"]``, or the GPUs' CUDA
    indices. Accepts ``"cpu"``, ``"cuda"``/``"cuda:N"``, ``N``, ``"0,1"`` and
    lists of those; what is not a device name stays as given, for the
    definition to refuse in its words."""
    if isinstance(device, (list, tuple)):
        items = list(device)
    elif isinstance(device, str) and "," in device:
        items = [part.strip() for part in device.split(",") if part.strip()]
    else:
        items = [device]
    out: list[Any] = []
    for item in items:
        if isinstance(item, str):
            name = item.strip().lower()
            match = _GPU_NAME.fullmatch(name)
            if name == "cpu":
                item = "cpu"
            elif match:
                item = int(match.group(1)) if match.group(1) is not None else 0
        out.append(item)
    return out


def gpus_of(device: Sequence[Any]) -> list[int]:
    """The CUDA indices of a read device (``[]``: the CPU)."""
    return [i for i in device if isinstance(i, int) and not isinstance(i, bool)]


_MISSING: Final = object()


def _coerce(name: str, value: Any) -> Any:
    """A given value as the definition validates it: an alias's value, a
    whole number given as digits or as an integral float, the device read."""
    if name == "device":
        return read_device(value)
    prop = spec()["properties"][name]
    aliases = prop.get("x-aliases", {})
    if isinstance(value, str) and value.strip() in aliases:
        return aliases[value.strip()]
    types = prop.get("type")
    if "integer" in (types if isinstance(types, list) else [types]):
        if isinstance(value, str) and _WHOLE.fullmatch(value):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
    return value


def _refusal(error: Any, given: Mapping[str, Any], values: Mapping[str, Any]) -> TrainError:
    """The definition's words for one jsonschema error."""
    path = list(error.absolute_schema_path)
    if path[0] == "allOf":
        words = spec()["allOf"][path[1]]["x-refusal"]
        return _words(words, words["field"], values)
    name = path[1]
    prop = spec()["properties"][name]
    errors = prop.get("x-errors", {})
    words = errors.get(error.validator) or errors.get("type")
    value = given.get(name, values.get(name))
    if words is None:
        words = {"code": f"bad_{name}", "message": f"{name} {{value}} is not valid.", "fix": ""}
    return _words(words, name, {**prop, "name": name, "value": _as_json(value)})


def _rank(error: Any) -> tuple[int, int]:
    """Refusals in the definition's order: by parameter, then a parameter's
    own keywords (in the order it lists them) before the rules."""
    names = list(spec()["properties"])
    path = list(error.absolute_schema_path)
    if path[0] == "allOf":
        field = spec()["allOf"][path[1]]["x-refusal"]["field"]
        return names.index(field), 100 + path[1]
    keywords = list(spec()["properties"][path[1]])
    keyword = path[2] if path[2] in keywords else error.validator
    return names.index(path[1]), keywords.index(keyword) if keyword in keywords else 99


# -- the rules JSON Schema cannot say: one function each, words in x-rules --


def device_visible(values: Mapping[str, Any], visible: Sequence[int]) -> TrainError | None:
    """A chosen GPU the kernel does not see."""
    missing = next((i for i in gpus_of(values.get("device", [])) if i not in visible), None)
    if missing is None:
        return None
    words = spec()["x-rules"]["device_visible"]["some" if visible else "none"]
    names = ", ".join(f"cuda:{i}" for i in visible)
    return _words(
        words,
        words["field"],
        {"missing": missing, "visible": len(visible), "visible_names": names},
    )


def batch_divides_world(values: Mapping[str, Any], visible: Sequence[int]) -> TrainError | None:
    """A DDP batch divides by the processes (one per GPU, else nproc)."""
    batch = values.get("batch_size")
    if not isinstance(batch, int) or isinstance(batch, bool):
        return None
    gpus = gpus_of(values.get("device", []))
    nproc = values.get("nproc")
    world = len(gpus) or (nproc if isinstance(nproc, int) and nproc > 0 else 1)
    if world < 2 or batch % world == 0:
        return None
    lower = batch - batch % world
    words = spec()["x-rules"]["batch_divides_world"]["refused"]
    return _words(
        words,
        words["field"],
        {"batch_size": batch, "world": world, "lower": max(lower, world), "upper": lower + world},
    )


RULES: Final[dict[str, Callable[[Mapping[str, Any], Sequence[int]], TrainError | None]]] = {
    "device_visible": device_visible,
    "batch_divides_world": batch_divides_world,
}


def refusals(
    given: Mapping[str, Any], visible: Sequence[int] | None = None, *, rules: bool = True
) -> tuple[dict[str, Any], list[TrainError]]:
    """The values read from ``given`` (any subset of the parameters) and the
    refusals that hold over them, in the definition's order. ``visible``:
    the GPUs the kernel sees (None: the rules that need it are not checked);
    ``rules=False``: each value against its own definition only."""
    values = {name: _coerce(name, value) for name, value in given.items()}
    errors = sorted(_validator().iter_errors(values), key=_rank)
    found = [
        _refusal(error, given, values)
        for error in errors
        if rules or error.absolute_schema_path[0] != "allOf"
    ]
    names = list(spec()["properties"])
    for name, rule in RULES.items():
        if not rules or (name == "device_visible" and visible is None):
            continue
        refusal = rule(values, visible or [])
        if refusal is not None:
            found.append(refusal)
    found.sort(key=lambda r: names.index(r.field) if r.field in names else len(names))
    return values, found


def read(name: str, value: Any = _MISSING) -> Any:
    """One parameter read and checked on its own (its default when not
    given). Raises :class:`TrainError` with the definition's words."""
    given = spec()["properties"][name].get("default") if value is _MISSING else value
    values, found = refusals({name: given}, rules=False)
    if found:
        raise found[0]
    return values[name]


def refuse(given: Mapping[str, Any], field: str, visible: Sequence[int] | None = None) -> None:
    """Raise the first refusal of ``field`` over ``given`` (the parameters
    known so far; each is checked on its own first)."""
    for refusal in refusals(given, visible)[1]:
        if refusal.field == field:
            raise refusal


def check_params(params: Mapping[str, Any], visible: Sequence[int]) -> dict[str, Any]:
    """Every parameter read (its default when not given) and every refusal
    checked: the values, or the first :class:`TrainError`."""
    given = {name: params.get(name, prop.get("default")) for name, prop in _props()}
    values, found = refusals(given, visible)
    if found:
        raise found[0]
    return values


def _props() -> Iterator[tuple[str, dict[str, Any]]]:
    return iter(spec()["properties"].items())
