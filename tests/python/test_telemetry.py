"""The telemetry sampler: real psutil samples here, NVML through a fabricated binding.

Every test builds its own ``Sampler`` (not the kernel singleton) and removes
its listeners, which joins the sampler thread.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fabricated_nvml import (
    CALLS_PER_GPU_SAMPLE,
    GIB,
    MIB,
    REASON_APPLICATIONS_CLOCKS,
    REASON_GPU_IDLE,
    REASON_HW_THERMAL,
    REASON_SW_POWER_CAP,
    FabricatedGpu,
    FabricatedNvml,
    FabricatedNVMLError,
)
from telemetry_helpers import Recorder

from yolo_lab import protocol
from yolo_lab.telemetry import (
    Batch,
    Notice,
    Probe,
    Sampler,
    check_interval,
    get_sampler,
)

# A pid no process has: Linux pids stay below 2**22.
FOREIGN_PID = (1 << 22) + 4321


def assert_plain_numbers(sample: dict[str, Any]) -> None:
    for key, value in sample.items():
        if key != "gpus":
            assert value is None or type(value) in (int, float), (key, type(value))
    for gpu in sample["gpus"]:
        for key, value in gpu.items():
            if key == "throttle_reasons":
                assert all(type(reason) is str for reason in value), value
                continue
            assert value is None or type(value) in (int, float), (key, type(value))


def threads_named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


@pytest.fixture
def sampler_factory() -> Iterator[Any]:
    """Build samplers and make sure every one is stopped afterwards."""
    made: list[tuple[Sampler, list[Any]]] = []

    def build(*listeners: Any, **kwargs: Any) -> Sampler:
        kwargs.setdefault("nvml", False)
        sampler = Sampler(**kwargs)
        made.append((sampler, list(listeners)))
        for listener in listeners:
            sampler.add_listener(listener)
        return sampler

    yield build
    for sampler, listeners in made:
        for listener in listeners:
            sampler.remove_listener(listener)
        assert not sampler.running


@pytest.fixture
def sleeper() -> Iterator[Any]:
    """Start `python -c` children of this process; all are killed afterwards."""
    started: list[subprocess.Popen[str]] = []

    def start(code: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(child)
        assert child.stdout is not None
        # The child prints once it holds what it was asked to hold.
        assert child.stdout.readline().strip() == "ready"
        return child

    yield start
    for child in started:
        child.kill()
        child.wait(timeout=10)


# ------------------------------------------------------------------ samples


def test_real_psutil_sample_validates() -> None:
    probe = Probe(nvml=False)
    probe.open()
    try:
        assert probe.source == "psutil"
        sample = probe.sample()
    finally:
        probe.close()
    protocol.validate_definition("telemetry_sample", sample)
    assert_plain_numbers(sample)
    assert sample["gpus"] == []
    assert sample["proc_rss_bytes"] > 0
    assert 0 < sample["ram_used_bytes"] <= sample["ram_total_bytes"]
    assert abs(sample["t"] - time.time()) < 60
    assert os.getpid() in probe.tree_pids


def test_default_probe_validates_whatever_the_machine() -> None:
    # nvml=None imports pynvml: "psutil" here (no driver), "nvml" on a GPU host.
    probe = Probe()
    probe.open()
    try:
        sample = probe.sample()
    finally:
        probe.close()
    protocol.validate_definition("telemetry_sample", sample)
    assert_plain_numbers(sample)
    if probe.source == "nvml":
        assert [gpu["index"] for gpu in sample["gpus"]] == list(range(len(sample["gpus"])))
        assert sample["gpus"]
    else:
        assert sample["gpus"] == []


def test_a_child_process_counts_in_the_tree(sleeper: Any) -> None:
    probe = Probe(nvml=False)
    probe.open()
    own = psutil_rss()
    child = sleeper(
        "import sys; held = b'x' * (64 << 20); print('ready', flush=True); sys.stdin.read()"
    )
    # The tree is re-read at most once a second: poll for the child.
    deadline = time.monotonic() + 15
    while True:
        sample = probe.sample()
        if child.pid in probe.tree_pids:
            break
        assert time.monotonic() < deadline, "the child never appeared in the process tree"
        threading.Event().wait(0.05)
    assert sample["proc_rss_bytes"] - own >= 64 * MIB
    child.kill()
    child.wait(timeout=10)
    deadline = time.monotonic() + 15
    while child.pid in probe.tree_pids:
        assert time.monotonic() < deadline, "the dead child stayed in the process tree"
        threading.Event().wait(0.05)
        protocol.validate_definition("telemetry_sample", probe.sample())
    probe.close()


def psutil_rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


_TRAINER = """
import subprocess, sys
# A stand-in for a training process: idle itself, with one busy child (a
# DataLoader worker) or, at depth 2, one idle child (a rank) with a busy one.
depth = int(sys.argv[1])
code = "while True: pass" if depth == 1 else (
    "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'while True: pass']);"
    " print('ready', flush=True); sys.stdin.read()"
)
child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
print("ready", flush=True)
sys.stdin.read()
child.kill()
"""


@pytest.mark.parametrize("depth", [1, 2])
def test_a_runs_workers_cpu_is_counted_apart(depth: int) -> None:
    trainer = subprocess.Popen(
        [sys.executable, "-c", _TRAINER, str(depth)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert trainer.stdout is not None and trainer.stdout.readline().strip() == "ready"
        probe = Probe(nvml=False, pid=trainer.pid, tree_refresh_s=0, worker_depth=depth)
        probe.open()
        deadline = time.monotonic() + 30
        while True:
            threading.Event().wait(0.5)
            sample = probe.sample()
            if (sample.get("workers_cpu_pct") or 0) > 40:
                break
            assert time.monotonic() < deadline, f"no busy worker seen: {sample}"
        # The busy process is the worker: the rest of the tree is idle.
        assert sample["proc_cpu_pct"] - sample["workers_cpu_pct"] < 20
        protocol.validate_definition("telemetry_sample", sample)
        probe.close()
    finally:
        for proc in psutil_children(trainer.pid):
            proc.kill()
        trainer.kill()
        trainer.wait(timeout=10)


def psutil_children(pid: int) -> list[Any]:
    import psutil

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def test_without_worker_depth_a_sample_has_no_workers_field() -> None:
    probe = Probe(nvml=False)
    probe.open()
    assert "workers_cpu_pct" not in probe.sample()
    probe.close()


# ----------------------------------------------------------------- sampler


def test_interval_bounds_are_enforced() -> None:
    for bad in (0.05, 11, 0, -1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match=r"0\.1 to 10") as caught:
            check_interval(bad)
        assert repr(bad) in str(caught.value)
    assert check_interval(0.1) == 0.1 and check_interval(10) == 10.0
    with pytest.raises(ValueError, match=r"0\.1 to 10"):
        Sampler(interval_s=0.05)
    sampler = Sampler(nvml=False)
    with pytest.raises(ValueError, match=r"0\.1 to 10"):
        sampler.set_interval(11)
    recorder = Recorder()
    with pytest.raises(ValueError, match=r"0\.1 to 10"):
        sampler.add_listener(recorder, interval_s=50)
    # A rejected subscription registers nothing and starts nothing.
    assert sampler.listener_count == 0 and not sampler.running
    assert sampler.interval_s == 1.0


def test_ring_buffer_length_and_resize(sampler_factory: Any) -> None:
    assert Sampler().maxlen == 600
    assert Sampler(interval_s=0.1).maxlen == 6000
    assert Sampler(interval_s=7, history_s=600).maxlen == math.ceil(600 / 7)

    recorder = Recorder()
    sampler = sampler_factory(recorder, interval_s=0.1, history_s=0.5)
    assert sampler.maxlen == 5
    recorder.wait_for(lambda r: len(r.live_samples) >= 10)
    sampler.remove_listener(recorder)
    kept = sampler.history()
    assert len(kept) == 5
    times = [s["t"] for s in kept]
    assert times == sorted(times) and len(set(times)) == 5
    # The newest samples are kept: everything delivered is at most as new.
    assert kept[-1]["t"] >= recorder.live_samples[-1]["t"]

    sampler.set_interval(0.25)
    assert sampler.maxlen == 2
    assert sampler.history() == kept[-2:]
    sampler.set_interval(0.1)
    assert sampler.maxlen == 5
    assert sampler.history() == kept[-2:]


def test_batches_at_10_hz(sampler_factory: Any) -> None:
    recorder = Recorder()
    sampler_factory(recorder, interval_s=0.1)
    recorder.wait_for(lambda r: len(r.live_samples) >= 20)
    first = recorder.batches[0]
    assert first.history is True and first.samples == []
    live = recorder.live_batches
    # 10 samples a second leave as 2 batches a second: 5 samples each.
    assert [len(b.samples) for b in live] == [5] * len(live)
    samples = recorder.live_samples
    assert len(samples) / len(live) >= 4.5
    span = samples[-1]["t"] - samples[0]["t"]
    assert 1.2 <= span <= 6, span  # about 2 s at 10 Hz, however loaded the machine
    times = [t for t, _, p in recorder.events if isinstance(p, Batch) and not p.history]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate <= 2.5, f"{rate:.2f} batches/s"
    for sample in samples:
        protocol.validate_definition("telemetry_sample", sample)
    assert len({s["t"] for s in samples}) == len(samples)


def test_starts_on_first_listener_and_stops_on_last(sampler_factory: Any) -> None:
    first, second = Recorder(), Recorder()
    sampler = sampler_factory(interval_s=0.1)
    assert not sampler.running and sampler.sampler_id is None
    before = set(threads_named("yolo-lab-telemetry"))

    sampler.add_listener(first)
    started = set(threads_named("yolo-lab-telemetry")) - before
    assert len(started) == 1
    thread = started.pop()
    assert thread.daemon
    run_id = sampler.sampler_id
    assert run_id is not None and len(run_id) == 32
    sampler.add_listener(second)
    second.wait_for(lambda r: len(r.live_batches) >= 1)
    assert sampler.remove_listener(first)
    assert sampler.running and sampler.sampler_id == run_id
    assert sampler.remove_listener(second)
    assert not sampler.running and sampler.sampler_id is None
    assert not thread.is_alive()
    assert not sampler.remove_listener(second)
    calls = len(second.events)

    sampler.add_listener(first)
    assert sampler.sampler_id not in (None, run_id)
    first.wait_for(lambda r: any(b.sampler_id == sampler.sampler_id for b in r.batches))
    # The restart's history holds no sample of the earlier run.
    restart = [b for b in first.batches if b.sampler_id == sampler.sampler_id][0]
    assert restart.history and restart.samples == []
    assert sampler.remove_listener(first)
    assert len(second.events) == calls, "a removed listener was called"


def test_a_late_listener_gets_the_history_once(sampler_factory: Any) -> None:
    early, late = Recorder(), Recorder()
    sampler = sampler_factory(early, interval_s=0.1)
    early.wait_for(lambda r: len(r.live_samples) >= 5)
    sampler.add_listener(late)
    late.wait_for(lambda r: len(r.live_batches) >= 2)
    history = late.batches[0]
    assert history.history and len(history.samples) >= 5
    times = [s["t"] for b in late.batches for s in b.samples]
    assert times == sorted(times) and len(set(times)) == len(times), "a sample came twice"
    sampler.remove_listener(late)


def test_a_failing_listener_does_not_stop_the_others(sampler_factory: Any) -> None:
    def broken(kind: str, payload: Any) -> None:
        raise RuntimeError("listener bug")

    recorder = Recorder()
    sampler_factory(broken, recorder, interval_s=0.1)
    recorder.wait_for(lambda r: len(r.live_batches) >= 2)


def test_an_unreadable_process_becomes_a_notice(sampler_factory: Any) -> None:
    recorder = Recorder()
    sampler = sampler_factory(recorder, interval_s=0.1, pid=FOREIGN_PID)
    recorder.wait_for(lambda r: len(r.notices) >= 1)
    assert sampler.running
    notice = recorder.notices[0]
    assert notice.code == "sampler_error" and notice.level == "error"
    assert "NoSuchProcess" in notice.message
    protocol.make_telemetry_notice(notice.sampler_id, notice.level, notice.code, notice.message)


def test_get_sampler_is_one_per_process() -> None:
    assert get_sampler() is get_sampler()
    assert get_sampler().interval_s == 1.0 and get_sampler().history_s == 600


# --------------------------------------------------------------- fabricated


def test_visible_devices_and_tree_memory_fabricated(sleeper: Any) -> None:
    child = sleeper("import sys; print('ready', flush=True); sys.stdin.read()")
    hidden = FabricatedGpu("GPU-aaaaaaaa-0000", util=1, compute=[(os.getpid(), 999 * MIB)])
    visible = FabricatedGpu(
        "GPU-bbbbbbbb-1111",
        util=87,
        mem_used=12 * (1 << 30),
        temp=71,
        power_mw=312_500,
        compute=[(os.getpid(), 100 * MIB), (FOREIGN_PID, 500 * MIB), (child.pid, 50 * MIB)],
        # The kernel also holds a graphics context: the same memory, listed twice.
        graphics=[(os.getpid(), 100 * MIB), (FOREIGN_PID + 1, 7 * MIB)],
    )
    for setting in ("1", "GPU-bbbb"):
        nvml = FabricatedNvml([hidden, visible])
        probe = Probe(nvml=nvml, environ={"CUDA_VISIBLE_DEVICES": setting})
        probe.open()
        assert probe.source == "nvml"
        sample = probe.sample()
        probe.close()
        assert nvml.shutdowns == nvml.inits == 1
        protocol.validate_definition("telemetry_sample", sample)
        assert_plain_numbers(sample)
        assert sample["gpus"] == [
            {
                "index": 0,
                "util_pct": 87.0,
                "mem_used_bytes": 12 * (1 << 30),
                "mem_total_bytes": 80 * (1 << 30),
                "temp_c": 71.0,
                "power_w": 312.5,
                "proc_mem_bytes": 150 * MIB,
                # FOREIGN_PID is no process here: maybe this run's own in a
                # container (NVML gives host pids), so not counted as another.
                "other_procs": 0,
                "other_procs_mem_bytes": 0,
            }
        ], setting
        assert sample["proc_rss_bytes"] > 0


def test_unsupported_fields_read_null_fabricated() -> None:
    nvml = FabricatedNvml([FabricatedGpu("GPU-cc", power_mw=None)])
    probe = Probe(nvml=nvml, environ={})
    probe.open()
    sample = probe.sample()
    probe.close()
    assert probe.take_lost() is None
    assert sample["gpus"][0]["power_w"] is None
    assert sample["gpus"][0]["proc_mem_bytes"] == 0
    protocol.validate_definition("telemetry_sample", sample)


def test_clocks_and_throttle_reasons_are_decoded_fabricated(sampler_factory: Any) -> None:
    hot = FabricatedGpu(
        "GPU-dd",
        util=99,
        sm_clock_mhz=1410,
        sm_clock_max_mhz=1980,
        reasons=REASON_GPU_IDLE
        | REASON_APPLICATIONS_CLOCKS
        | REASON_SW_POWER_CAP
        | REASON_HW_THERMAL
        | (1 << 40),  # a bit no driver defines yet
    )
    nvml = FabricatedNvml([hot])
    recorder = Recorder()
    sampler_factory(recorder, interval_s=0.1, nvml=nvml, environ={})
    recorder.wait_for(lambda r: len(r.live_samples) >= 1)
    [gpu] = recorder.live_samples[0]["gpus"]
    assert gpu["sm_clock_mhz"] == 1410 and gpu["sm_clock_max_mhz"] == 1980
    # GPU idle and the applications-clocks setting slow nothing: left out.
    assert gpu["throttle_reasons"] == ["sw_power_cap", "hw_thermal"]
    protocol.validate_definition("telemetry_sample", recorder.live_samples[0])
    assert_plain_numbers(recorder.live_samples[0])

    # Drivers before 535 only know the older name of the same reasons.
    older = FabricatedNvml([hot])
    older.nvmlDeviceGetCurrentClocksThrottleReasons = older.nvmlDeviceGetCurrentClocksEventReasons
    older.nvmlDeviceGetCurrentClocksEventReasons = None
    probe = Probe(nvml=older, environ={})
    probe.open()
    assert probe.sample()["gpus"][0]["throttle_reasons"] == ["sw_power_cap", "hw_thermal"]
    probe.close()


def test_clocks_nvml_will_not_tell_are_absent_fabricated() -> None:
    # Not supported (the default of a fabricated GPU), or any other NVML
    # error: the fields are absent and the GPU view stays.
    nvml = FabricatedNvml([FabricatedGpu("GPU-ee"), FabricatedGpu("GPU-ff", sm_clock_mhz=900)])

    def unknown_error(handle: Any, clock: int) -> int:
        raise FabricatedNVMLError(999)

    nvml.nvmlDeviceGetMaxClockInfo = unknown_error
    probe = Probe(nvml=nvml, environ={})
    probe.open()
    first, second = probe.sample()["gpus"]
    probe.close()
    assert probe.take_lost() is None
    for key in ("sm_clock_mhz", "sm_clock_max_mhz", "throttle_reasons"):
        assert key not in first
    assert second["sm_clock_mhz"] == 900 and "sm_clock_max_mhz" not in second


def test_other_processes_on_the_gpu_are_counted_fabricated(sleeper: Any) -> None:
    child = sleeper("import sys; print('ready', flush=True); sys.stdin.read()")
    # pid 1 is in every pid namespace and never in this test's tree.
    shared = FabricatedGpu(
        "GPU-aa",
        compute=[
            (os.getpid(), 2 * GIB),
            (child.pid, 50 * MIB),  # a DDP rank or worker of the run: its own
            (1, 3 * GIB),
            (1, 3 * GIB),  # listed twice: counted once
            (FOREIGN_PID, 500 * MIB),  # not seen here: maybe the run's own host pid
        ],
        graphics=[(os.getppid(), 200 * MIB)],  # a desktop hardly computes
    )
    unknown_memory = FabricatedGpu("GPU-bb", compute=[(1, None)])
    alone = FabricatedGpu("GPU-cc", compute=[(os.getpid(), GIB)])
    nvml = FabricatedNvml([shared, unknown_memory, alone])
    probe = Probe(nvml=nvml, environ={}, tree_refresh_s=0)
    probe.open()
    gpus = probe.sample()["gpus"]
    assert [(g["other_procs"], g["other_procs_mem_bytes"]) for g in gpus] == [
        (1, 3 * GIB),
        (1, 0),
        (0, 0),
    ]
    assert gpus[0]["proc_mem_bytes"] == 2 * GIB + 50 * MIB

    # NVML cannot list the compute processes: the fields are absent.
    def not_supported(handle: Any) -> list[Any]:
        raise FabricatedNVMLError(FabricatedNvml.NVML_ERROR_NOT_SUPPORTED)

    nvml.nvmlDeviceGetComputeRunningProcesses = not_supported
    sample = probe.sample()
    probe.close()
    assert "other_procs" not in sample["gpus"][0] and probe.take_lost() is None
    protocol.validate_definition("telemetry_sample", sample)


@pytest.mark.parametrize("setting", ["", "-1", "2", "MIG-1234"])
def test_no_visible_gpu_means_psutil_fabricated(setting: str) -> None:
    nvml = FabricatedNvml([FabricatedGpu("GPU-aa"), FabricatedGpu("GPU-bb")])
    probe = Probe(nvml=nvml, environ={"CUDA_VISIBLE_DEVICES": setting})
    probe.open()
    assert probe.source == "psutil"
    assert probe.sample()["gpus"] == []
    # NVML was released at once, not held for nothing.
    assert nvml.shutdowns == nvml.inits == 1


def test_nvml_lost_mid_run_fabricated(sampler_factory: Any) -> None:
    nvml = FabricatedNvml(
        [FabricatedGpu("GPU-aa", compute=[(os.getpid(), 10 * MIB)])],
        fail_after=3 * CALLS_PER_GPU_SAMPLE + 2,  # dies in the middle of the 4th sample
    )
    recorder = Recorder()
    sampler = sampler_factory(recorder, interval_s=0.1, nvml=nvml, environ={})
    recorder.wait_for(
        lambda r: len(r.notices) >= 1 and sum(b.source == "psutil" for b in r.live_batches) >= 2
    )
    assert sampler.running and sampler.source == "psutil"

    notices = recorder.notices
    assert len(notices) == 1
    notice = notices[0]
    assert (notice.code, notice.level) == ("nvml_lost", "warning")
    assert "GPU view is gone" in notice.message and "CPU view" in notice.message
    assert "nvidia-smi" in notice.message and "GPU is lost" in notice.message
    assert nvml.shutdowns == nvml.inits == 1, "NVML was not released when lost"

    # Batches before the notice are NVML ones with a GPU, after it psutil ones without.
    kinds = [p for _, _, p in recorder.events]
    cut = kinds.index(notice)
    before = [p for p in kinds[:cut] if isinstance(p, Batch) and not p.history]
    after = [p for p in kinds[cut + 1 :] if isinstance(p, Batch)]
    assert recorder.batches[0].source == "nvml"
    assert {b.source for b in before} == {"nvml"}
    assert sum(len(b.samples) for b in before) == 3
    assert all(len(s["gpus"]) == 1 for b in before for s in b.samples)
    assert {b.source for b in after} == {"psutil"}
    assert all(s["gpus"] == [] for b in after for s in b.samples)

    # Everything delivered makes valid messages.
    for payload in kinds:
        if isinstance(payload, Notice):
            protocol.make_telemetry_notice(
                payload.sampler_id, payload.level, payload.code, payload.message
            )
        else:
            protocol.make_telemetry_batch(
                payload.sampler_id,
                payload.source,
                payload.interval_s,
                payload.samples,
                payload.history,
            )

    # A listener joining later learns why it sees the CPU view.
    late = Recorder()
    sampler.add_listener(late)
    late.wait_for(lambda r: len(r.events) >= 2)
    assert [type(p).__name__ for _, _, p in late.events[:2]] == ["Batch", "Notice"]
    assert late.events[0][2].source == "psutil"
    assert late.notices[0].code == "nvml_lost"
    sampler.remove_listener(late)
