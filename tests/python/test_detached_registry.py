"""The detached-run registry under attack: each test is an attack that must fail.

Real parts: a second and a third local user (uids the test switches to in
a forked child, the way another login would be), real ``sleep`` processes as
the victims' processes, real files, folders, links and FIFOs, the real
socket and a real Jupyter server. The clock step and the other host are
fabricated (a test cannot step this machine's clock or add a host): records
whose wall-clock start or host differ, next to processes that are real.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_until

from yolo_lab.training.detached import DetachedRuns, identify
from yolo_lab.training.launch import run_status
from yolo_lab.training.rundir import STATUS_FILE, STOP_FILE

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or os.geteuid() != 0,
        reason="acting as other local users needs root on Linux",
    ),
]

VICTIM = 12346
ATTACKER = 12345


def as_user(uid: int, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a forked child that has become ``uid``; its result."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            out = {"value": fn(*args)}
        except BaseException:
            out, code = {"error": traceback.format_exc()}, 1
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(pickle.dumps(out))
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    out = pickle.loads(data)
    assert "error" not in out, out["error"]
    return out["value"]


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder every user can reach, with a sticky world-writable ``tmp`` like /tmp."""
    base = Path(tempfile.mkdtemp(prefix="yolo-lab-users-"))
    base.chmod(0o755)
    (base / "tmp").mkdir()
    (base / "tmp").chmod(0o1777)
    yield base
    shutil.rmtree(base)


@pytest.fixture
def sleeper() -> Iterator[Callable[[int], subprocess.Popen[bytes]]]:
    """Starts ``sleep`` processes as a given uid; ends them after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(uid: int) -> subprocess.Popen[bytes]:
        command = ["sleep", "600"]
        if uid != os.getuid():
            command = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command]
        proc = subprocess.Popen(command)
        started.append(proc)
        # setpriv execs sleep in the same process: wait until it has.
        wait_until(
            lambda: Path(f"/proc/{proc.pid}/comm").read_text().strip() == "sleep", 30, "sleep"
        )
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def own(path: Path, uid: int) -> Path:
    os.chown(path, uid, uid)
    return path


def run_folder(path: Path, uid: int, status: dict[str, Any], mode: int = 0o755) -> Path:
    """A run folder of ``uid`` whose status file says ``status``."""
    path.mkdir()
    (path / STATUS_FILE).write_text(json.dumps(status))
    own(path / STATUS_FILE, uid)
    path.chmod(mode)
    return own(path, uid)


def process_of(proc: subprocess.Popen[bytes], uid: int, **changes: Any) -> dict[str, Any]:
    """What a record says of ``proc``, as its owner ``uid`` would have written it."""
    return {**identify(proc.pid), "uid": uid, **changes}


def plant(registry: Path, name: str, uid: int, run: Path, pid: int, process: Any) -> Path:
    """A record as a server writes one, in a file of ``uid``."""
    owner = {"kind": "jupyter-server", "host": process.get("host")}
    value = {"run": str(run), "pid": pid, "process": process, "owner": owner}
    (registry / name).write_text(json.dumps({**value, "started": time.time()}))
    return own(registry / name, uid)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in folder.iterdir()}


def victim_server(tmp: str, grace_s: float) -> dict[str, Any]:
    """The victim's Jupyter server (its registry class), with no writable home:
    started, listing, then closed with ``detached_runs_on_exit = "stop"``."""
    os.environ["HOME"] = "/nonexistent"
    for name in ("XDG_DATA_HOME", "YOLO_LAB_DETACHED_DIR"):
        os.environ.pop(name, None)
    tempfile.tempdir = tmp
    runs = DetachedRuns(on_exit="stop")
    found = runs.adopt()
    listed = runs.runs()
    stopped = runs.close(grace_s=grace_s)
    st = runs.registry.lstat()
    return {
        "registry": str(runs.registry),
        "note": runs.registry_note,
        "uid": st.st_uid,
        "mode": st.st_mode & 0o7777,
        "link": runs.registry.is_symlink(),
        "found": found,
        "listed": listed,
        "stopped": stopped,
    }


def attackers_run(shared: Path, pid: int, process: dict[str, Any]) -> Path:
    """The attacker's run folder: open to all, its stop file a folder (so
    touching it fails, which used to turn a stop into a SIGTERM)."""
    run = run_folder(
        shared / "attackers-run",
        ATTACKER,
        {"status": "running", "detached": True, "pid": pid, "process": process},
        mode=0o777,
    )
    (run / STOP_FILE).mkdir()
    own(run / STOP_FILE, ATTACKER)
    return run


def test_a_fallback_folder_another_user_made_first_is_not_used(
    shared: Path, sleeper: Callable[[int], subprocess.Popen[bytes]]
) -> None:
    victims = sleeper(VICTIM)
    # The attacker makes the victim's fallback registry first, open to the
    # victim, with a record naming the victim's live process (its start tick
    # and the boot id are world-readable) and a folder of the attacker's.
    fallback = shared / "tmp" / f"yolo-lab-detached-{VICTIM}"
    fallback.mkdir()
    fallback.chmod(0o777)
    own(fallback, ATTACKER)
    run = attackers_run(shared, victims.pid, process_of(victims, VICTIM))
    plant(fallback, "planted.json", ATTACKER, run, victims.pid, process_of(victims, VICTIM))
    before = snapshot(run)

    seen = as_user(VICTIM, victim_server, str(shared / "tmp"), 5.0)

    assert victims.poll() is None, "the victim's process was signalled"
    assert snapshot(run) == before, "the server wrote into the attacker's folder"
    assert seen["registry"] != str(fallback) and not seen["link"]
    assert seen["uid"] == VICTIM and seen["mode"] == 0o700
    assert f"belongs to uid {ATTACKER}" in seen["note"] and "not used" in seen["note"]
    assert seen["found"] == {"adopted": [], "ended": [], "elsewhere": []}
    assert seen["listed"] == [] and seen["stopped"] == []


def test_a_fallback_folder_that_is_a_link_is_not_used(
    shared: Path, sleeper: Callable[[int], subprocess.Popen[bytes]]
) -> None:
    victims = sleeper(VICTIM)
    target = shared / "attackers-registry"
    target.mkdir()
    target.chmod(0o777)
    own(target, ATTACKER)
    run = attackers_run(shared, victims.pid, process_of(victims, VICTIM))
    plant(target, "planted.json", ATTACKER, run, victims.pid, process_of(victims, VICTIM))
    fallback = shared / "tmp" / f"yolo-lab-detached-{VICTIM}"
    fallback.symlink_to(target)
    os.lchown(fallback, ATTACKER, ATTACKER)
    before = snapshot(target), snapshot(run)

    seen = as_user(VICTIM, victim_server, str(shared / "tmp"), 5.0)

    assert victims.poll() is None
    assert (snapshot(target), snapshot(run)) == before
    assert seen["registry"] not in (str(fallback), str(target))
    assert "is a link" in seen["note"] and seen["mode"] == 0o700
    assert seen["listed"] == [] and seen["stopped"] == []


def test_the_victims_own_fallback_is_used_and_the_usual_home_is_said(shared: Path) -> None:
    seen = as_user(VICTIM, victim_server, str(shared / "tmp"), 1.0)
    assert seen["registry"] == str(shared / "tmp" / f"yolo-lab-detached-{VICTIM}")
    assert seen["uid"] == VICTIM and seen["mode"] == 0o700
    assert "/nonexistent" in seen["note"]


def test_a_record_naming_a_folder_or_process_not_the_users_is_left_alone(
    tmp_path: Path, sleeper: Callable[[int], subprocess.Popen[bytes]]
) -> None:
    # Records in the server's own registry (however they came there): one
    # names this user's live process and the attacker's folder, one the
    # attacker's process and a folder of this user's whose stop file cannot
    # be made (so stop() would signal).
    registry = tmp_path / "registry"
    registry.mkdir(mode=0o700)
    mine, theirs = sleeper(os.getuid()), sleeper(ATTACKER)
    shared = tmp_path / "shared"
    shared.mkdir()
    run = attackers_run(shared, mine.pid, process_of(mine, os.getuid()))
    plant(registry, "a.json", os.getuid(), run, mine.pid, process_of(mine, os.getuid()))
    folder = run_folder(
        tmp_path / "mine",
        os.getuid(),
        {"status": "running", "detached": True, "pid": theirs.pid},
    )
    (folder / STOP_FILE).mkdir()
    plant(registry, "b.json", os.getuid(), folder, theirs.pid, process_of(theirs, os.getuid()))
    before = snapshot(run), snapshot(folder)

    runs = DetachedRuns(registry, on_exit="stop")
    assert runs.adopt() == {"adopted": [], "ended": [], "elsewhere": []}
    assert runs.runs() == [] and not runs.stop(str(folder))
    assert runs.close(grace_s=1.0) == []
    assert mine.poll() is None and theirs.poll() is None, "a process was signalled"
    assert (snapshot(run), snapshot(folder)) == before
    assert sorted(p.name for p in registry.iterdir()) == ["a.json", "b.json"]


def _running(run: Path, proc: subprocess.Popen[bytes], process: dict[str, Any]) -> Path:
    status = {
        "status": "running",
        "detached": True,
        "pid": proc.pid,
        "process": process,
        "created": time.time(),
    }
    return run_folder(run, os.getuid(), status)


def test_a_clock_step_does_not_make_a_live_run_lost(
    tmp_path: Path, sleeper: Callable[[int], subprocess.Popen[bytes]]
) -> None:
    registry = tmp_path / "registry"
    registry.mkdir(mode=0o700)
    proc = sleeper(os.getuid())
    live = _running(tmp_path / "stepped", proc, process_of(proc, os.getuid()))
    record = plant(registry, "a.json", os.getuid(), live, proc.pid, process_of(proc, os.getuid()))
    # The wall clock was stepped an hour since the start: only "started" says so.
    value = json.loads(record.read_text())
    record.write_text(json.dumps({**value, "started": value["started"] - 3600}))
    # The same pid with another start tick: a recycled pid, which is lost.
    recycled = process_of(proc, os.getuid(), ticks=identify(proc.pid)["ticks"] + 1)
    gone = _running(tmp_path / "recycled", proc, recycled)
    plant(registry, "b.json", os.getuid(), gone, proc.pid, recycled)

    runs = DetachedRuns(registry)
    assert runs.adopt() == {"adopted": [str(live)], "ended": [str(gone)], "elsewhere": []}
    assert [r["name"] for r in runs.runs()] == ["stepped"]
    assert run_status(live)["status"] == "running"
    assert json.loads((gone / STATUS_FILE).read_text())["status"] == "lost"
    assert proc.poll() is None


def test_a_record_of_another_host_is_left_alone(
    tmp_path: Path, sleeper: Callable[[int], subprocess.Popen[bytes]]
) -> None:
    # A registry in a home shared with another host: its run's pid is a live
    # process here too, with another start tick, so this host would call it lost.
    registry = tmp_path / "registry"
    registry.mkdir(mode=0o700)
    proc = sleeper(os.getuid())
    there = process_of(
        proc, os.getuid(), host="other-host.example", ticks=identify(proc.pid)["ticks"] + 1
    )
    run = _running(tmp_path / "there", proc, there)
    record = plant(registry, "a.json", os.getuid(), run, proc.pid, there)
    before = snapshot(run)

    runs = DetachedRuns(registry, on_exit="stop")
    assert runs.adopt() == {"adopted": [], "ended": [], "elsewhere": [str(run)]}
    runs.poll()
    assert runs.runs() == [] and not runs.stop(str(run))
    assert runs.close(grace_s=1.0) == []
    assert snapshot(run) == before, "its status was not ours to write, nor a stop"
    assert record.is_file() and proc.poll() is None
    assert run_status(run)["status"] == "running", "a kernel here does not call it lost"


def bad_registry(registry: Path, uid: int, good_run: Path, pid: int, ident: Any) -> None:
    """One good record of ``uid`` among every kind of bad one."""
    plant(registry, "good.json", uid, good_run, pid, ident)
    (registry / "garbage.json").write_text("{not json")
    (registry / "list.json").write_text("[1, 2]")
    (registry / "dir.json").mkdir()
    os.mkfifo(registry / "fifo.json")  # a plain read would wait forever
    (registry / "unreadable.json").write_text("{}")
    (registry / "unreadable.json").chmod(0)  # unreadable but to root
    copy = registry.parent / "elsewhere.json"
    shutil.copy(registry / "good.json", copy)
    (registry / "link.json").symlink_to(copy)
    for path in [copy, *registry.iterdir()]:
        os.lchown(path, uid, uid)
    plant(registry, "theirs.json", ATTACKER, good_run, pid, ident)


def victim_with_bad_records(registry: str) -> Any:
    runs = DetachedRuns(Path(registry), on_exit="stop")
    listed = [r["run"] for r in runs.runs()]
    stopped = runs.close(grace_s=1.0)
    return {"listed": listed, "stopped": stopped, "left": sorted(os.listdir(registry))}


def test_a_bad_record_costs_that_record_only(
    shared: Path, sleeper: Callable[[int], subprocess.Popen[bytes]]
) -> None:
    # As a user who is not root, so that the unreadable record really raises
    # PermissionError.
    proc = sleeper(VICTIM)
    registry = shared / "registry"
    registry.mkdir(mode=0o700)
    own(registry, VICTIM)
    good = run_folder(
        shared / "good",
        VICTIM,
        {"status": "running", "detached": True, "pid": proc.pid, "created": time.time()},
    )
    bad_registry(registry, VICTIM, good, proc.pid, process_of(proc, VICTIM))
    seen = as_user(VICTIM, victim_with_bad_records, str(registry))
    assert seen["listed"] == [str(good)]
    assert seen["stopped"] == [str(good)], "close() went on past the bad records"
    assert (good / STOP_FILE).is_file()
    assert seen["left"] == sorted(
        ["dir.json", "fifo.json", "garbage.json", "good.json", "link.json", "list.json"]
        + ["theirs.json", "unreadable.json"]
    ), "bad records are left for the user to see"


# -- the socket ----------------------------------------------------------------------


def _ask(path: str, raw: bytes, timeout_s: float = 30.0) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout_s)
        sock.connect(path)
        try:
            sock.sendall(raw)
        except BrokenPipeError:
            pass  # refused before it was heard: the refusal waits to be read
        return dict(json.loads(sock.makefile("rb").readline()))


def _start_request(run: Path) -> bytes:
    request = {"v": 1, "op": "start", "run": str(run), "python": sys.executable, "env": {}}
    return json.dumps(request).encode() + b"\n"


def test_the_socket_refuses_another_user_even_when_it_can_connect(tmp_path: Path) -> None:
    runs = DetachedRuns(tmp_path / "registry")
    path = runs.serve()
    try:
        # A folder opened up by mistake: the peer's uid is still checked.
        os.chmod(os.path.dirname(path), 0o711)
        os.chmod(path, 0o777)
        refused = as_user(ATTACKER, _ask, path, _start_request(tmp_path))
        assert refused["ok"] is False and refused["code"] == "forbidden"
        assert _ask(path, _start_request(tmp_path))["code"] == "not_a_run", "its own user is heard"
    finally:
        runs.close()


def test_the_socket_bounds_connections_and_times_out_silent_ones(tmp_path: Path) -> None:
    runs = DetachedRuns(tmp_path / "registry")
    path = runs.serve(read_timeout_s=0.5, max_connections=2)
    silent = [socket.socket(socket.AF_UNIX) for _ in range(2)]
    try:
        for sock in silent:
            sock.settimeout(30)
            sock.connect(path)
        # Both slots are held by askers that say nothing: the next one is told so.
        busy = _ask(path, _start_request(tmp_path))
        assert busy["ok"] is False and busy["code"] == "busy"
        for sock in silent:
            answer = json.loads(sock.makefile("rb").readline())
            assert answer["code"] == "bad_request" and "within 0.5 s" in answer["message"]
        # Their slots are free again.
        assert wait_until(
            lambda: _ask(path, _start_request(tmp_path))["code"] == "not_a_run", 30, "a free slot"
        )
    finally:
        for sock in silent:
            sock.close()
        runs.close()


# -- through a real Jupyter server ---------------------------------------------------------


def _http(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": "token lab-token", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _server(root: Path, registry: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    from test_servers import _start_server

    os.environ["YOLO_LAB_DETACHED_DIR"] = str(registry)
    try:
        return _start_server(root, root / "state", *extra)
    finally:
        del os.environ["YOLO_LAB_DETACHED_DIR"]


def _end(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


@pytest.mark.kernel
def test_the_runs_routes_list_past_bad_records_and_check_authorization(
    tmp_path: Path, sleeper: Callable[[int], subprocess.Popen[bytes]]
) -> None:
    from test_servers import _DENY

    registry = tmp_path / "registry"
    registry.mkdir(mode=0o700)
    proc = sleeper(os.getuid())
    good = _running(tmp_path / "good", proc, process_of(proc, os.getuid()))
    bad_registry(registry, os.getuid(), good, proc.pid, process_of(proc, os.getuid()))
    (tmp_path / "deny_yolo_lab.py").write_text(_DENY)

    server, base = _server(tmp_path, registry)
    try:
        status, body = _http(base, "GET", "/yolo-lab/runs")
        assert status == 200 and [r["run"] for r in body["runs"]] == [str(good)]
        missing = str(tmp_path / "missing")
        assert _http(base, "POST", "/yolo-lab/runs/stop", {"run": missing})[0] == 404
        assert _http(base, "POST", "/yolo-lab/runs/stop", {"run": str(good)})[0] == 200
        assert (good / STOP_FILE).is_file() and proc.poll() is None
    finally:
        _end(server)
    (good / STOP_FILE).unlink()

    server, base = _server(
        tmp_path, registry, "--ServerApp.authorizer_class=deny_yolo_lab.DenyYoloLab"
    )
    try:
        assert _http(base, "GET", "/api/status")[0] == 200
        assert _http(base, "GET", "/yolo-lab/runs")[0] == 403
        assert _http(base, "POST", "/yolo-lab/runs/stop", {"run": str(good)})[0] == 403
        assert not (good / STOP_FILE).exists(), "a refused stop stops nothing"
    finally:
        _end(server)
