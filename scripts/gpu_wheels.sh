#!/usr/bin/env bash
# Gathers, here, the wheels the NVIDIA test machine lacks for yolo-lab's training
# path and the doctor (../shared/GPU.md lists what it has: torch, torchvision,
# nvidia-ml-py, psutil, OpenCV, matplotlib, pandas, seaborn, scipy, PyYAML, tqdm,
# requests, tensorboard, pytest; no yolov5, no jsonschema). scripts/gpu_check.sh
# installs them there with --no-index --no-deps, as the machine reaches no network.
#
#   bash scripts/gpu_wheels.sh                    # .whl/: cp312 manylinux x86_64 + py3-none-any
#   bash scripts/gpu_wheels.sh --rehearse         # .whl-rehearse/: the same for this Python
#                                                 # (cp311 twins of the compiled ones)
#
# The list is what `import yolov5.train` and `import yolo_lab` (jsonschema for
# the protocol checks) failed on, one by one, in a venv holding only what that
# machine has; versions are the ones .venv tests with. Idempotent: wheels
# already present are not fetched again. Everything stays under 64 MiB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
DEST=.whl
PYVER=3.12
if [[ "${1:-}" == "--rehearse" ]]; then
  DEST=.whl-rehearse
  PYVER=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
fi
WHEELS=(
  # YOLOv5 (the PyPI package the runner imports), pinned to .venv's
  yolov5==7.0.14
  # imported by yolov5.train at module level: yolov5.utils.general imports
  # ultralytics; yolov5.utils.roboflow imports roboflow, which imports these
  ultralytics==8.4.190
  roboflow==1.7.3
  requests-toolbelt==1.0.0
  python-dotenv==1.2.4
  pillow-avif-plugin==1.6.0
  # imported by yolov5.train at run time: attempt_download_from_hub(weights)
  huggingface-hub==0.24.7
  # yolo_lab.protocol: the schema checks of every message and event
  jsonschema==4.26.0
  jsonschema-specifications==2025.9.1
  referencing==0.37.0
  rpds-py==2026.9.1
  attrs==26.1.0
  # No setuptools: yolov5's `import pkg_resources` (gone from setuptools 81)
  # is stood in for by yolo_lab/_yolov5/compat.py, as numpy.trapz and Pillow's getsize.
)
mkdir -p "$DEST"
fetched=0
for spec in "${WHEELS[@]}"; do
  name=${spec%%==*}
  version=${spec##*==}
  # A wheel's file name spells the project with underscores.
  stem=$(echo "$name" | tr '-' '_')
  if compgen -G "$DEST/${stem}-${version}-*.whl" >/dev/null \
      || compgen -G "$DEST/${name}-${version}-*.whl" >/dev/null; then
    continue
  fi
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: \
    --python-version "$PYVER" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$DEST" "$spec" 2>&1 \
    | grep -v -e "is ignored: it is neither a file nor a directory" || true
  compgen -G "$DEST/${stem}-${version}-*.whl" >/dev/null \
    || compgen -G "$DEST/${name}-${version}-*.whl" >/dev/null \
    || { echo "gpu_wheels: no wheel for $spec (python $PYVER)" >&2; exit 1; }
  fetched=$((fetched + 1))
done
ls -1 "$DEST"
bytes=$(du -cb "$DEST"/*.whl | tail -1 | cut -f1)
echo "gpu_wheels: $(ls "$DEST"/*.whl | wc -l) wheels in $DEST ($fetched fetched now), python $PYVER," \
  "$(awk -v b="$bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }') in all"
if (( bytes > 64 * 1048576 )); then
  echo "gpu_wheels: over the 64 MiB that may be carried to the machine" >&2
  exit 1
fi
