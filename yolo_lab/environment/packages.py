"""The software the doctor checks: the Python interpreter, PyTorch and the
GPUs it can use, and YOLOv5 (the PyPI package or a checkout).

Importing ``yolov5`` has side effects (auto-installs, downloads), so whether
it imports is asked of a fresh interpreter, never of the user's kernel.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
import warnings
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from .host import _MAX_ERROR_TEXT, HostPaths, _error_text, _join_errors

__all__ = ["probe_python", "probe_torch", "probe_yolov5"]

YOLOV5_IMPORT_TIMEOUT_S: Final = 120


# ------------------------------------------------------------------ python


def probe_python() -> dict[str, Any]:
    """Interpreter version and path: the one running this kernel."""
    return {"version": platform.python_version(), "executable": sys.executable or ""}


# ------------------------------------------------------------------- torch


def _empty_torch() -> dict[str, Any]:
    return {
        "installed": False,
        "version": None,
        "cuda_build": None,
        "cudnn": None,
        "cuda_available": False,
        "device_count": 0,
        "error": None,
    }


def _torch_uuid(props: Any) -> str | None:
    raw = getattr(props, "uuid", None)
    if raw is None:
        return None
    text = str(raw)
    # torch prints the bare UUID; NVML and CUDA_VISIBLE_DEVICES use "GPU-…".
    return text if text.upper().startswith(("GPU-", "MIG-")) else f"GPU-{text}"


def probe_torch() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """PyTorch as imported in this process, and the GPUs it can use."""
    info = _empty_torch()
    gpus: list[dict[str, Any]] = []
    try:
        import torch
    except Exception as exc:  # ImportError, or OSError for a missing CUDA library
        info["error"] = _error_text(exc)
        return info, gpus

    info["installed"] = True
    errors: list[str] = []
    try:
        info["version"] = str(torch.__version__)
        cuda_build = getattr(torch.version, "cuda", None)
        info["cuda_build"] = str(cuda_build) if cuda_build else None
    except Exception as exc:
        errors.append(_error_text(exc))
    try:
        cudnn = torch.backends.cudnn.version()
        info["cudnn"] = int(cudnn) if cudnn is not None else None
    except Exception:
        # A CPU-only build or a missing libcudnn; "no cuDNN" is the answer.
        info["cudnn"] = None

    # torch reports driver trouble ("driver too old", "no driver") as a
    # warning from is_available(); keep it for the report rather than letting
    # it reach the user's cell.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            available = bool(torch.cuda.is_available())
            info["cuda_available"] = available
            if available:
                info["device_count"] = int(torch.cuda.device_count())
        except Exception as exc:
            errors.append(_error_text(exc))
    errors.extend(str(w.message).strip() for w in caught if "CUDA" in str(w.message))

    for index in range(info["device_count"]):
        try:
            props = torch.cuda.get_device_properties(index)
            gpus.append(
                {
                    "index": index,
                    "name": str(props.name),
                    "memory_total_bytes": int(props.total_memory),
                    "compute_capability": f"{int(props.major)}.{int(props.minor)}",
                    "uuid": _torch_uuid(props),
                }
            )
        except Exception as exc:
            errors.append(f"cuda:{index}: {_error_text(exc)}")
            gpus.append(
                {
                    "index": index,
                    "name": "unknown",
                    "memory_total_bytes": None,
                    "compute_capability": None,
                    "uuid": None,
                }
            )
    info["error"] = _join_errors(errors)
    return info, gpus


# ------------------------------------------------------------------ yolov5


def _empty_yolov5() -> dict[str, Any]:
    return {"available": False, "version": None, "location": None, "source": None, "error": None}


def _package_location() -> str | None:
    try:
        spec = importlib.util.find_spec("yolov5")
    except (ImportError, ValueError):
        return None
    # A directory named yolov5 without __init__.py (say, a checkout in the
    # kernel's working directory) is a namespace package, not the PyPI one.
    if spec is None or not spec.has_location or spec.origin is None:
        return None
    return str(Path(spec.origin).resolve().parent)


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    joined = "\n".join(kept)
    return joined if len(joined) <= _MAX_ERROR_TEXT else "…" + joined[-(_MAX_ERROR_TEXT - 1) :]


# The shims come from this yolo_lab, found by path: the kernel may have
# imported it from a folder a fresh interpreter would not look in.
_IMPORT_WITH_SHIMS: Final = (
    f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
    "from yolo_lab._yolov5.compat import apply\n"
    "apply()\n"
    "sys.path.pop(0)\n"
    "import yolov5"
)


@lru_cache(maxsize=8)
def _import_check(executable: str, location: str) -> str | None:
    """Error text if ``import yolov5`` fails in a fresh interpreter, else None.

    A subprocess, because importing yolov5 here would run its side effects
    (auto-installing requirements, downloads) inside the user's kernel. The
    location is part of the cache key so a different installation is
    checked again.
    """
    env = dict(os.environ)
    env.update({"YOLOv5_AUTOINSTALL": "false", "YOLO_OFFLINE": "true"})
    try:
        proc = subprocess.run(
            # As the runner imports it: with what YOLOv5 7.0 needs of older
            # numpy, Pillow and setuptools put back (yolo_lab._yolov5.compat).
            [executable, "-c", _IMPORT_WITH_SHIMS],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=YOLOV5_IMPORT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"import yolov5 did not finish within {YOLOV5_IMPORT_TIMEOUT_S} s"
    except OSError as exc:
        return f"could not run {executable}: {_error_text(exc)}"
    if proc.returncode == 0:
        return None
    return _tail(proc.stderr) or f"import yolov5 exited with status {proc.returncode}"


def _already_imported(location: str) -> bool:
    module = sys.modules.get("yolov5")
    origin = getattr(module, "__file__", None)
    return bool(origin) and str(Path(origin).resolve().parent) == location


def _is_checkout(path: Path) -> bool:
    try:
        return (path / "train.py").is_file() and (path / "models" / "yolo.py").is_file()
    except OSError:
        return False


def probe_yolov5(
    paths: HostPaths | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The yolov5 PyPI package if it imports, else an ultralytics/yolov5 checkout."""
    paths = paths or HostPaths()
    environ = os.environ if environ is None else environ
    info = _empty_yolov5()
    errors: list[str] = []

    # A checkout named by YOLO_LAB_YOLOV5_DIR (yolo-lab up --code sets it)
    # is what train() uses: it comes first.
    configured = environ.get("YOLO_LAB_YOLOV5_DIR")
    if configured and _is_checkout(Path(configured).expanduser()):
        return {
            "available": True,
            "version": None,
            "location": str(Path(configured).expanduser().resolve()),
            "source": "checkout",
            "error": None,
        }

    location = _package_location()
    if location is not None:
        try:
            version: str | None = metadata.version("yolov5")
        except Exception:
            version = None
        error = None if _already_imported(location) else _import_check(sys.executable, location)
        if error is None:
            return {
                "available": True,
                "version": version,
                "location": location,
                "source": "package",
                "error": None,
            }
        info.update(version=version, location=location, source="package")
        errors.append(f"the yolov5 package does not import: {error}")

    configured = environ.get("YOLO_LAB_YOLOV5_DIR")
    candidates: list[tuple[Path, str | None]] = []
    if configured:
        candidates.append((Path(configured).expanduser(), configured))
    candidates.append((paths.yolov5_checkout, None))
    for path, setting in candidates:
        if _is_checkout(path):
            return {
                "available": True,
                "version": None,
                "location": str(path.resolve()),
                "source": "checkout",
                "error": None,
            }
        if setting is not None:
            errors.append(
                f"YOLO_LAB_YOLOV5_DIR={setting} is not a YOLOv5 checkout "
                "(needs train.py and models/yolo.py)"
            )
    if location is None:
        errors.append(
            f"no yolov5 package is installed and no checkout was found at {paths.yolov5_checkout}"
        )
    info["error"] = _join_errors(errors)
    return info
