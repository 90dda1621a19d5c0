#!/usr/bin/env bash
# One call on an NVIDIA machine (the device tool): the doctor as the kernel
# would see it, then the telemetry sampler on the NVML path and its cost.
# then short YOLOv5 runs on cuda:0 through yolo-lab's runner: yolov5n and
# yolov5s, AMP on and off, two batch sizes, printed as one table.
# Uses whatever python has torch there: PYTHON=... to choose.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
echo "== nvidia-smi"; nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv 2>&1 | head -10
echo; echo "== doctor"; "$PYTHON" -m yolo_lab doctor
echo; echo "== telemetry: ten samples at 10 Hz (NVML where a driver answers)"
"$PYTHON" - <<'PY'
import time
from yolo_lab.telemetry import Sampler

got = []
sampler = Sampler(interval_s=0.1)
listener = lambda kind, payload: got.append((kind, payload))
sampler.add_listener(listener)
deadline = time.monotonic() + 5
while time.monotonic() < deadline and sum(len(p.samples) for k, p in got if k == "batch") < 10:
    time.sleep(0.05)
sampler.remove_listener(listener)
batches = [p for k, p in got if k == "batch"]
print("source:", batches[-1].source if batches else None)
for sample in [s for b in batches for s in b.samples][-2:]:
    print(sample)
PY
echo; echo "== sample cost"; "$PYTHON" benchmarks/sample_cost.py
echo; echo "== YOLOv5 on cuda:0: images/s, GPU memory, effective AMP"
"$PYTHON" benchmarks/train_speed.py --device cuda:0 --models yolov5n,yolov5s --batches 16,64 --amp on,off
