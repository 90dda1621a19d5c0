"""The checks of a training run's parameters, read from their one definition.

``protocol/train_params.schema.json`` holds each parameter's type, limits,
default and refusal words, and the combinations that are refused; the
sidebar form reads the same file (``src/training/params.ts``), so a value the
form lets through is one ``train()`` accepts, and a refusal reads the same
in the cell and in the sidebar. The schema's description says how it is
read; this module and the TypeScript one are its two readers, tested on one
table of cases (``protocol/train_params.cases.json``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

from ..protocol import schema_path
from .errors import TrainError

__all__ = ["DEFAULTS", "PARAMS_FILENAME", "check_params", "facts", "read", "refuse", "spec"]

PARAMS_FILENAME: Final = "train_params.schema.json"
_WHOLE: Final = re.compile(r"\s*-?\d+\s*")


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    """The definition (shared, never mutated)."""
    return json.loads(schema_path(PARAMS_FILENAME).read_text(encoding="utf-8"))


class _Defaults(Mapping[str, Any]):
    """Each parameter's default, read from the definition when first asked:
    the one place they live (train(), autotune() and the form read them)."""

    def __getitem__(self, name: str) -> Any:
        return spec()["properties"][name].get("default")

    def __iter__(self):  # type: ignore[no-untyped-def]
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


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


_MISSING: Final = object()


def read(name: str, value: Any = _MISSING) -> Any:
    """One parameter read as its type and checked against its limits.

    Raises :class:`TrainError` with the definition's words.
    """
    prop = spec()["properties"][name]

    def refused(keyword: str) -> TrainError:
        errors = prop.get("x-errors", {})
        words = errors.get(keyword) or errors.get("type") or {}
        values = {**prop, "name": name, "value": _as_json(value)}
        return TrainError(
            words.get("code", f"bad_{name}"),
            _fill(words.get("message", f"{name} {{value}} is not valid."), values),
            _fill(words.get("fix", ""), values),
            field=name,
        )

    if value is _MISSING:
        if prop.get("x-required"):
            value = None
            raise refused("required")
        return prop.get("default")
    aliases = prop.get("x-aliases", {})
    if isinstance(value, str) and value.strip() in aliases:
        return aliases[value.strip()]
    if prop.get("x-required") and value in ("", None):
        raise refused("required")
    types = prop.get("type")
    types = types if isinstance(types, list) else [types]
    result = value
    if "integer" in types:
        if isinstance(value, str) and _WHOLE.fullmatch(value):
            result = int(value)
        elif isinstance(value, float) and value.is_integer():
            result = int(value)
        if isinstance(result, bool) or not isinstance(result, int):
            raise refused("type")
    elif prop.get("type") is not None and _kind(value) not in types:
        raise refused("type")
    if "enum" in prop and result not in prop["enum"]:
        raise refused("enum")
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        if "minimum" in prop and result < prop["minimum"]:
            raise refused("minimum")
        if "maximum" in prop and result > prop["maximum"]:
            raise refused("maximum")
    if "pattern" in prop and isinstance(result, str) and not re.search(prop["pattern"], result):
        raise refused("pattern")
    return result


def _holds(condition: Mapping[str, Any], value: Any) -> bool:
    if "const" in condition and not (
        value == condition["const"] and type(value) is type(condition["const"])
    ):
        return False
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if "minimum" in condition and not (number and value >= condition["minimum"]):
        return False
    if "maximum" in condition and not (number and value <= condition["maximum"]):
        return False
    if condition.get("type") == "integer" and not (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        return False
    if condition.get("type") == "null" and value is not None:
        return False
    return not ("not" in condition and _holds(condition["not"], value))


def facts(
    values: Mapping[str, Any], gpus: Sequence[int], cpu: bool, visible: Sequence[int]
) -> dict[str, Any]:
    """What the refusals are about: the values read, and what the chosen
    devices give against the GPUs the kernel sees."""
    missing = next((i for i in gpus if i not in visible), None)
    batch = values.get("batch_size")
    number = isinstance(batch, int) and not isinstance(batch, bool)
    nproc = values.get("nproc")
    world = len(gpus) if gpus else (nproc if isinstance(nproc, int) and nproc > 0 else 1)
    remainder = batch % world if number and world > 1 else 0
    lower = batch - remainder if number else 0
    return {
        **values,
        "gpus": len(gpus),
        "cpu": cpu,
        "visible": len(visible),
        "visible_names": ", ".join(f"cuda:{i}" for i in visible),
        "missing": missing,
        "world": world,
        "remainder": remainder,
        "lower": max(lower, world),
        "upper": lower + world,
    }


def refusals(known: Mapping[str, Any], field: str | None = None) -> list[TrainError]:
    """The definition's refusals that hold over ``known`` (first per field)."""
    out: list[TrainError] = []
    for rule in spec()["x-refuse"]:
        if field is not None and rule["field"] != field:
            continue
        if any(f.field == rule["field"] for f in out):
            continue
        if all(k in known and _holds(c, known[k]) for k, c in rule["when"].items()):
            out.append(
                TrainError(
                    rule["code"],
                    _fill(rule["message"], known),
                    _fill(rule["fix"], known),
                    field=rule["field"],
                )
            )
    return out


def refuse(known: Mapping[str, Any], field: str) -> None:
    """Raise the first refusal of ``field`` that holds over ``known``."""
    found = refusals(known, field)
    if found:
        raise found[0]


def check_params(
    params: Mapping[str, Any], gpus: Sequence[int], cpu: bool, visible: Sequence[int]
) -> dict[str, Any]:
    """Every parameter read and every refusal checked: the values, or the
    first :class:`TrainError` (by the definition's order of parameters)."""
    values: dict[str, Any] = {}
    for name in spec()["properties"]:
        if name == "device":
            continue
        values[name] = read(name, params[name]) if name in params else read(name)
    for name in ["device", *spec()["properties"]]:
        refuse(facts(values, gpus, cpu, visible), name)
    return values
