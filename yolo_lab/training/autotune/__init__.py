"""``autotune()``: the fastest batch size, workers, cache (and AMP on a GPU)
for this machine, this dataset and this model, found by measuring.

One module per job:

- :mod:`.probe`: one probe, a short real YOLOv5 run, and its figures;
- :mod:`.result`: :class:`Autotune`, the probes as a table (text, HTML, the
  live notebook output), saved and read back;
- :mod:`.search`: the coordinate descent over the knobs, within the budget;
- :mod:`.api`: ``autotune()`` and its argument checks.

The search ends when no knob helps, or when the next probe would not end
within the budget. Every probe is a row of the result, saved with the
winner as ``autotune.json`` in ``project/autotune-N/`` (the probes' run
folders beside it), so the table survives a reload.
"""

from __future__ import annotations

from .api import autotune
from .probe import KNOBS, ProbeSetup, measure_batches, run_probe
from .result import AUTOTUNE_FILE, Autotune

__all__ = [
    "AUTOTUNE_FILE",
    "KNOBS",
    "Autotune",
    "ProbeSetup",
    "autotune",
    "measure_batches",
    "run_probe",
]
