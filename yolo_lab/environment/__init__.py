"""The environment doctor: what the kernel process can use for training.

The modules, one job each:

- :mod:`.report`: ``collect`` (the report as plain data, never raising),
  ``doctor`` (``yolo_lab.doctor()``: the report shown) and ``main`` (the
  ``yolo-lab-doctor`` command, ``python -m yolo_lab doctor``);
- :mod:`.host`: the NVIDIA driver through NVML, device nodes, CPUs, memory,
  ``/dev/shm``, containers;
- :mod:`.packages`: Python, PyTorch and its GPUs, YOLOv5;
- :mod:`.findings`: pure rules over a report (what is wrong, what to do);
- :mod:`.render`: the report as HTML and as text.
"""

from __future__ import annotations

from .report import DoctorReport, collect, doctor, main

__all__ = ["DoctorReport", "collect", "doctor", "main"]
