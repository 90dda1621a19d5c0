"""How CUDA reads CUDA_VISIBLE_DEVICES, for code that must predict it.

This mirrors ``torch.cuda._parse_visible_devices`` (itself modelled on the
CUDA driver), so the doctor agrees with what PyTorch in the kernel will see.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["parse_visible_devices"]

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
