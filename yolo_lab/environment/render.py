"""Rendering of a doctor report as HTML (JupyterLab) and plain text.

Both renderings are built from the same rows, so they always carry the same
information. The HTML is self-contained: inline styles that read the
``--jp-*`` theme variables (with light-theme fallbacks) keep it legible in
dark themes without a stylesheet, and the ``yl-`` classes let the extension
restyle it.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["render_html", "render_text"]

_GIB: Final = 1 << 30
_MIB: Final = 1 << 20
_GPU_HEADERS: Final = ("#", "Name", "Memory", "Compute", "UUID")
_SEVERITY_COLOURS: Final = {
    "error": "var(--jp-error-color1, #d32f2f)",
    "warning": "var(--jp-warn-color1, #f57c00)",
    "info": "var(--jp-info-color1, #0288d1)",
}
_CELL: Final = (
    "text-align:left;padding:2px 8px;vertical-align:top;"
    "border-bottom:1px solid var(--jp-border-color2, #e0e0e0)"
)
_TABLE: Final = (
    "border-collapse:collapse;margin:4px 0 12px 0;font-size:var(--jp-content-font-size1, 13px)"
)
_HEADING: Final = "margin:8px 0 4px 0;font-weight:600;font-size:var(--jp-content-font-size2, 14px)"
_ROOT: Final = (
    "color:var(--jp-content-font-color1, inherit);font-family:var(--jp-ui-font-family, sans-serif)"
)
_CODE: Final = (
    "background:var(--jp-layout-color2, #f0f0f0);"
    "color:var(--jp-content-font-color1, inherit);padding:1px 4px;border-radius:2px"
)
_OK_TEXT: Final = "No problems found: this kernel is ready to train."


def _gib(count: int | None) -> str:
    return "unknown" if count is None else f"{count / _GIB:.1f} GiB"


def _size(count: int | None) -> str:
    if count is None:
        return "missing"
    return _gib(count) if count >= _GIB else f"{count / _MIB:.0f} MiB"


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


def _with_error(text: str, error: Any) -> str:
    return f"{text}  [{error}]" if error else text


def _torch_row(torch: Mapping[str, Any]) -> str:
    if not torch.get("installed"):
        return _with_error("not installed", torch.get("error"))
    build = torch.get("cuda_build") or "none (CPU only)"
    text = (
        f"{torch.get('version')}  (CUDA build {build}, cuDNN {torch.get('cudnn') or 'none'}; "
        f"CUDA available: {_yes_no(torch.get('cuda_available'))}, "
        f"devices: {torch.get('device_count', 0)})"
    )
    return _with_error(text, torch.get("error"))


def _driver_row(driver: Mapping[str, Any]) -> str:
    if driver.get("nvml"):
        cuda = driver.get("cuda_driver_version") or "unknown"
        text = f"{driver.get('version')}  (CUDA {cuda})"
    else:
        text = "not available"
    text += f"; NVIDIA device present: {_yes_no(driver.get('nvidia_device_present'))}"
    return _with_error(text, driver.get("error"))


def _yolov5_row(yolo: Mapping[str, Any]) -> str:
    if not yolo.get("available"):
        return _with_error("not available", yolo.get("error"))
    version = f" {yolo['version']}" if yolo.get("version") else ""
    return f"{yolo.get('source')}{version} at {yolo.get('location')}"


def _environment_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    py = data.get("python", {})
    system = data.get("system", {})
    cvd = data.get("cuda_visible_devices")
    container = (system.get("container_kind") or "yes") if system.get("in_container") else "no"
    return [
        ("Python", f"{py.get('version')}  ({py.get('executable')})"),
        ("PyTorch", _torch_row(data.get("torch", {}))),
        ("NVIDIA driver", _driver_row(data.get("driver", {}))),
        ("CUDA_VISIBLE_DEVICES", "(unset)" if cvd is None else repr(cvd)),
        ("CPUs", str(system.get("cpu_count"))),
        ("RAM", _gib(system.get("ram_total_bytes"))),
        ("/dev/shm", _size(system.get("shm_total_bytes"))),
        ("Container", container),
        ("Platform", str(system.get("platform"))),
        ("YOLOv5", _yolov5_row(data.get("yolov5", {}))),
        ("DataLoader workers", str(data.get("workers"))),
    ]


def _gpu_rows(data: Mapping[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            f"cuda:{gpu.get('index')}",
            str(gpu.get("name")),
            _gib(gpu.get("memory_total_bytes")),
            gpu.get("compute_capability") or "?",
            gpu.get("uuid") or "",
        )
        for gpu in data.get("gpus", [])
    ]


def _timestamp(data: Mapping[str, Any]) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(data.get("generated_at", 0)))


def render_text(data: Mapping[str, Any]) -> str:
    """The report as aligned plain text."""
    lines = [f"yolo-lab doctor ({_timestamp(data)})", "", "Environment"]
    rows = _environment_rows(data)
    width = max(len(label) for label, _ in rows)
    lines.extend(f"  {label.ljust(width)}  {value}" for label, value in rows)

    lines += ["", "GPUs"]
    gpu_rows = _gpu_rows(data)
    if gpu_rows:
        table = [_GPU_HEADERS, *gpu_rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(_GPU_HEADERS))]
        for row in table:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    else:
        lines.append("  (none visible to this kernel)")

    lines += ["", "Findings"]
    findings = data.get("findings", [])
    if not findings:
        lines.append(f"  {_OK_TEXT}")
    for finding in findings:
        lines.append(f"  [{finding['severity']}] {finding['title']}  ({finding['id']})")
        lines.append(f"      cause: {finding['cause']}")
        lines.append(f"      fix:   {finding['fix']}")
    return "\n".join(lines)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _finding_html(finding: Mapping[str, Any]) -> str:
    severity = str(finding["severity"])
    colour = _SEVERITY_COLOURS.get(severity, "inherit")
    return (
        f'<li class="yl-finding yl-{_esc(severity)}" '
        f'style="margin:0 0 8px 0;padding-left:8px;border-left:3px solid {colour}">'
        f'<span class="yl-severity" '
        f'style="color:{colour};font-weight:600;text-transform:uppercase">{_esc(severity)}</span> '
        f'<span class="yl-title" style="font-weight:600">{_esc(finding["title"])}</span> '
        f'<span class="yl-id" style="opacity:0.7">({_esc(finding["id"])})</span>'
        f'<div class="yl-cause">{_esc(finding["cause"])}</div>'
        f'<div class="yl-fix">Fix: <code style="{_CODE}">{_esc(finding["fix"])}</code></div>'
        "</li>"
    )


def render_html(data: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML fragment; every value is escaped."""
    th = f'style="{_CELL};font-weight:600"'
    td = f'style="{_CELL}"'
    parts = [
        f'<div class="yl-doctor" style="{_ROOT}">',
        f'<div class="yl-heading" style="{_HEADING}">yolo-lab doctor '
        f'<span style="font-weight:400;opacity:0.7">{_esc(_timestamp(data))}</span></div>',
        f'<table class="yl-table yl-env" style="{_TABLE}"><tbody>',
    ]
    for label, value in _environment_rows(data):
        parts.append(f"<tr><th {th}>{_esc(label)}</th><td {td}>{_esc(value)}</td></tr>")
    parts.append("</tbody></table>")

    parts.append(f'<div class="yl-heading" style="{_HEADING}">GPUs</div>')
    gpu_rows = _gpu_rows(data)
    if gpu_rows:
        parts.append(f'<table class="yl-table yl-gpus" style="{_TABLE}"><thead><tr>')
        parts.extend(f"<th {th}>{_esc(header)}</th>" for header in _GPU_HEADERS)
        parts.append("</tr></thead><tbody>")
        for row in gpu_rows:
            cells = "".join(f"<td {td}>{_esc(cell)}</td>" for cell in row)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table>")
    else:
        parts.append('<div class="yl-empty">None visible to this kernel.</div>')

    parts.append(f'<div class="yl-heading" style="{_HEADING}">Findings</div>')
    findings = data.get("findings", [])
    if findings:
        parts.append('<ul class="yl-findings" style="list-style:none;padding-left:0;margin:0">')
        parts.extend(_finding_html(finding) for finding in findings)
        parts.append("</ul>")
    else:
        parts.append(
            f'<div class="yl-ok" style="color:var(--jp-success-color1, #388e3c)">{_OK_TEXT}</div>'
        )
    parts.append("</div>")
    return "".join(parts)
