"""How CUDA reads CUDA_VISIBLE_DEVICES, for code that must predict it.

``parse_visible_devices`` mirrors ``torch.cuda._parse_visible_devices``
(itself modelled on the CUDA driver), so the doctor agrees with what PyTorch
in the kernel will see; ``visible_nvml_ordinals`` and ``visible_nvml_gpus``
apply that reading to the GPUs NVML lists. The doctor and the telemetry
sampler (which runs inside training subprocesses too) both use them, so this
module sits below both and imports nothing of yolo-lab.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["NvmlDevice", "parse_visible_devices", "visible_nvml_gpus", "visible_nvml_ordinals"]

_LEADING_INTEGER: Final = re.compile(r"[+-]?\d+")


def _strtoul(text: str) -> int:
    # Like C's strtoul: "1gpu2" reads as 1; no leading digits reads as -1.
    match = _LEADING_INTEGER.match(text)
    return int(match.group()) if match else -1


def parse_visible_devices(value: str | None) -> list[int] | list[str] | None:
    """The devices a CUDA_VISIBLE_DEVICES value selects.

    ``None`` when unset (every device); otherwise the ordinals, or the
    ``GPU-``/``MIG-`` UUID prefixes, in order. Reading stops at the first
    entry that is not of the list's kind or is negative; a repeated entry
    hides every device, as in CUDA. So "", "-1" and "NoDevFiles" give [].
    """
    if value is None:
        return None
    if value.startswith(("GPU-", "MIG-")):
        prefix = value[:4]
        uuids: list[str] = []
        for entry in value.split(","):
            if entry in uuids:
                return []
            if not entry.startswith(prefix):
                break
            uuids.append(entry)
        return uuids
    ordinals: list[int] = []
    for entry in value.split(","):
        ordinal = _strtoul(entry.strip())
        if ordinal in ordinals:
            return []
        if ordinal < 0:
            break
        ordinals.append(ordinal)
    return ordinals


@dataclass(frozen=True)
class NvmlDevice:
    """A GPU as NVML lists it (physical index order, all devices)."""

    index: int
    name: str
    memory_total_bytes: int | None = None
    compute_capability: str | None = None
    uuid: str | None = None


def _ordinals_for_uuids(prefixes: Sequence[str], devices: Sequence[NvmlDevice]) -> list[int]:
    ordinals: list[int] = []
    for prefix in prefixes:
        matches = [d.index for d in devices if d.uuid and d.uuid.startswith(prefix)]
        # No match or an ambiguous prefix ends the list.
        if len(matches) != 1:
            break
        if matches[0] in ordinals:
            return []
        ordinals.append(matches[0])
    return ordinals


def visible_nvml_ordinals(
    devices: Sequence[NvmlDevice], cuda_visible_devices: str | None
) -> list[int]:
    """The NVML indices of the devices CUDA_VISIBLE_DEVICES exposes, in CUDA order.

    Position ``n`` of the list is the device the process sees as ``cuda:n``.
    Follows PyTorch's reading of the variable: indices (NVML order) or
    ``GPU-`` UUID prefixes; an index past the last device ends the list. MIG
    instances are not NVML devices here, so a MIG list selects nothing.
    """
    selected = parse_visible_devices(cuda_visible_devices)
    known = {device.index for device in devices}
    if selected is None:
        return sorted(known)
    if selected and isinstance(selected[0], str):
        if selected[0].startswith("MIG-"):
            return []
        return _ordinals_for_uuids([str(s) for s in selected], devices)
    ordinals: list[int] = []
    for ordinal in selected:
        if ordinal not in known:
            break
        ordinals.append(int(ordinal))
    return ordinals


def visible_nvml_gpus(
    devices: Sequence[NvmlDevice], cuda_visible_devices: str | None
) -> list[dict[str, Any]]:
    """NVML devices filtered by CUDA_VISIBLE_DEVICES, numbered as CUDA would.

    See ``visible_nvml_ordinals`` for how the variable is read.
    """
    by_index = {device.index: device for device in devices}
    return [
        {
            "index": position,
            "name": by_index[ordinal].name,
            "memory_total_bytes": by_index[ordinal].memory_total_bytes,
            "compute_capability": by_index[ordinal].compute_capability,
            "uuid": by_index[ordinal].uuid,
        }
        for position, ordinal in enumerate(visible_nvml_ordinals(devices, cuda_visible_devices))
    ]
