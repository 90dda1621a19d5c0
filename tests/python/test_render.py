"""DoctorReport rendering: HTML for JupyterLab, aligned text elsewhere."""

from __future__ import annotations

from typing import Any, Callable

from IPython.lib.pretty import pretty

from yolo_lab.environment.findings import evaluate
from yolo_lab.environment.report import DoctorReport

HOSTILE = '<script>alert("x")</script>'


def _report(fabricated_report: Callable[..., dict[str, Any]]) -> DoctorReport:
    data = fabricated_report(
        torch={"version": "2.8.0+cu128", "cuda_available": False, "device_count": 0},
        gpus=[
            {
                "index": 0,
                "name": HOSTILE,
                "memory_total_bytes": None,
                "compute_capability": None,
                "uuid": None,
            }
        ],
        system={"platform": "Linux & <friends>"},
    )
    data["findings"] = [dict(f) for f in evaluate(data)]
    return DoctorReport(data)


def test_html_contains_version_and_findings_and_escapes(
    fabricated_report: Callable[..., dict[str, Any]],
) -> None:
    report = _report(fabricated_report)
    page = report._repr_html_()
    assert "2.8.0+cu128" in page
    title = report.findings[0]["title"]
    assert title in page
    assert "No GPU visible" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Linux &amp; &lt;friends&gt;" in page
    assert "<code" in page and 'class="yl-doctor"' in page
    assert "var(--jp-" in page


def test_text_contains_version_and_findings(
    fabricated_report: Callable[..., dict[str, Any]],
) -> None:
    report = _report(fabricated_report)
    text = repr(report)
    assert "2.8.0+cu128" in text
    assert report.findings[0]["title"] in text
    assert report.findings[0]["fix"] in text
    assert HOSTILE in text  # plain text is not HTML: shown as is
    assert pretty(report) == text


def test_text_of_a_healthy_report(fabricated_report: Callable[..., dict[str, Any]]) -> None:
    report = DoctorReport(fabricated_report())
    assert report.ok
    assert "ready to train" in repr(report)
    assert "NVIDIA H100 80GB HBM3" in repr(report)
    assert "ready to train" in report._repr_html_()
