"""The comm under fire: thousands of malformed messages against a real kernel.

A seeded generator makes messages that are invalid by construction (not an
object, no type, a wrong version, an unknown type, a bad id, a known type
with a wrong field, oversized strings, deep nesting); each must be answered
with one protocol error, nothing printed into the notebook, the kernel
still answering afterwards and its memory flat.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from test_kernel_e2e import FRONTEND_HELLO, Frontend, _start_kernel

MESSAGES = 2400
WARM_UP = 400
REQUEST_TYPES = (
    "doctor_request",
    "telemetry_subscribe",
    "telemetry_unsubscribe",
    "run_subscribe",
    "run_unsubscribe",
    "run_stop",
    "runs_request",
)


def _junk(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(7 if depth < 3 else 4)
    if choice == 0:
        return rng.randint(-(10**30), 10**30)
    if choice == 1:
        return "".join(rng.choices(string.printable, k=rng.randrange(0, 40)))
    if choice == 2:
        return rng.choice([None, True, False, 1.5, -0.0])
    if choice == 3:
        return rng.random() * 1e300
    if choice == 4:
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_word(rng): _junk(rng, depth + 1) for _ in range(rng.randrange(4))}


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randrange(1, 10)))


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


def malformed(seed: int) -> Iterator[tuple[str, Any]]:
    """(category, message) pairs, each invalid for the protocol."""
    rng = random.Random(seed)
    while True:
        category = rng.randrange(9)
        ident = f"f{rng.randrange(10**9)}"
        kind = rng.choice(REQUEST_TYPES)
        if category == 0:
            yield "not an object", rng.choice([[1, 2], "hello", 42, None, True, 3.5, []])
        elif category == 1:
            yield "no type", {"v": 1, "id": ident, **{_word(rng): _junk(rng)}}
        elif category == 2:
            yield (
                "wrong version",
                {"v": rng.choice([0, 2, "1", None, 1.5, -1]), "type": kind, "id": ident},
            )
        elif category == 3:
            yield "unknown type", {"v": 1, "type": _word(rng) + "_x", "id": ident}
        elif category == 4:
            # Requests that are answered need a string id of at most 128 characters.
            answered = rng.choice([k for k in REQUEST_TYPES if not k.endswith("unsubscribe")])
            bad_id = rng.choice([7, None, ["a"], {"x": 1}, "i" * 200, ""])
            yield "bad id", {"v": 1, "type": answered, "id": bad_id}
        elif category == 5:
            # A known type with a field it does not have (the schemas are closed).
            yield "extra field", {"v": 1, "type": kind, "id": ident, "zz_" + _word(rng): _junk(rng)}
        elif category == 6:
            yield (
                "oversized",
                {"v": 1, "type": kind, "id": 5, "pad": "x" * rng.choice([10**5, 10**6])},
            )
        elif category == 7:
            yield "deep", {"v": 1, "type": _nested(rng.choice([50, 200, 400])), "id": ident}
        else:
            yield "junk type", {"v": 1, "type": _junk(rng), "id": ident}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Frontend, Any, str]]:
    manager, client = _start_kernel(tmp_path_factory.mktemp("fuzz-kernel"))
    try:
        frontend = Frontend(client)
        frontend.execute("import yolo_lab")
        comm_id, opened = frontend.open_comm(FRONTEND_HELLO)
        assert [m["type"] for m in opened.comm_data(comm_id)] == ["hello"]
        yield frontend, manager, comm_id
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _kernel_rss(manager: Any) -> int:
    pid = manager.provisioner.process.pid
    return int(psutil.Process(pid).memory_info().rss)


@pytest.mark.slow
def test_thousands_of_malformed_messages_each_get_an_error(
    fuzzed: tuple[Frontend, Any, str], schema_validator: Any
) -> None:
    frontend, manager, comm_id = fuzzed
    seen: dict[str, int] = {}
    rss_after_warm_up = 0
    for n, (category, message) in enumerate(malformed(seed=12)):
        if n == MESSAGES:
            break
        if n == WARM_UP:
            rss_after_warm_up = _kernel_rss(manager)
        replies = frontend.comm_msg(comm_id, message)
        assert len(replies) == 1, (category, message if category != "oversized" else "...")
        reply = replies[0]
        assert reply["type"] == "error", (category, reply)
        schema_validator.validate(reply)
        seen[category] = seen.get(category, 0) + 1
        frontend.seen.clear()  # keep the test's own memory flat too
    assert len(seen) == 9, seen
    grown = _kernel_rss(manager) - rss_after_warm_up
    print(f"{MESSAGES} malformed messages: {seen}; kernel RSS grew {grown / 2**20:.1f} MiB")
    assert grown < 30 * 2**20, f"the kernel's memory grew by {grown / 2**20:.1f} MiB"

    # Still alive and still speaking the protocol.
    reply = frontend.execute("print(6 * 7)")
    assert reply.streams() == ["42\n"]
    runs = frontend.comm_msg(
        comm_id, {"v": 1, "type": "runs_request", "id": "after", "project": str(Path.cwd())}
    )
    assert [(m["type"], m["id"]) for m in runs] == [("runs_list", "after")]
