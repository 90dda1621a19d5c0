"""The result of an autotune: its probes as a table and the fastest settings.

:class:`Autotune` is saved as ``autotune.json`` after every probe, read back
by :meth:`Autotune.load`, and shown in a notebook as a table that fills in
probe by probe (yolo-lab's JupyterLab renders its JSON; elsewhere the HTML).
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..._live import LiveDisplay
from ...protocol import AUTOTUNE_MIME_TYPE
from ..rundir import write_json
from .probe import KNOBS, Row, Settings, _positive

__all__ = ["AUTOTUNE_FILE", "Autotune"]

AUTOTUNE_FILE: Final = "autotune.json"


def _ok(row: Mapping[str, Any] | None) -> bool:
    return row is not None and _positive(row.get("imgs_per_s")) and not row.get("error")


def _form(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as the form's "apply" takes them: train()'s names and types
    (the protocol's form_fix)."""
    return {
        "batch_size": int(settings["batch_size"]),
        "workers": int(settings["workers"]),
        "cache": settings["cache"] or None,
        "amp": bool(settings["amp"]),
    }


@dataclass
class Autotune:
    """The probes of one autotune, as a table, and the fastest settings.

    ``winner``: the fastest row's settings as ``train()`` arguments
    (``yolo_lab.train(data, device=..., **result.winner)``); ``form``: the
    same as the training form's values; ``speedup``: its images/s over the
    defaults'. In a notebook it shows as a table.
    """

    dir: Path
    data: str
    device: str
    imgsz: int
    budget_s: float
    defaults: Settings
    space: dict[str, list[Any]]
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    ended: str = "running"
    started: float = field(default_factory=time.time)
    #: The settings of the probe running now (shown as a pending row).
    probing: Settings | None = None
    _live: LiveDisplay = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._live = LiveDisplay(self._repr_mimebundle_)

    # -- the figures

    @property
    def winner_row(self) -> Row | None:
        measured = [r for r in self.rows if _ok(r)]
        return max(measured, key=lambda r: r["imgs_per_s"]) if measured else None

    @property
    def winner(self) -> Settings | None:
        row = self.winner_row
        return dict(row["settings"]) if row else None

    @property
    def form(self) -> dict[str, Any] | None:
        winner = self.winner
        return _form(winner) if winner else None

    @property
    def imgs_per_s(self) -> float | None:
        row = self.winner_row
        return float(row["imgs_per_s"]) if row else None

    @property
    def defaults_row(self) -> Row | None:
        return next((r for r in self.rows if r["settings"] == self.defaults), None)

    @property
    def defaults_imgs_per_s(self) -> float | None:
        row = self.defaults_row
        return float(row["imgs_per_s"]) if _ok(row) else None  # type: ignore[index]

    @property
    def speedup(self) -> float | None:
        """The winner's images/s over the defaults' (None when the defaults failed)."""
        best, base = self.imgs_per_s, self.defaults_imgs_per_s
        return best / base if best and base else None

    # -- saved and read back

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "kind": "autotune",
            "dir": str(self.dir),
            "data": self.data,
            "device": self.device,
            "imgsz": self.imgsz,
            "budget_s": self.budget_s,
            "defaults": self.defaults,
            "space": self.space,
            "rows": [dict(row) for row in self.rows],
            "probing": self.probing,
            "seconds": self.seconds,
            "ended": self.ended,
            "started": self.started,
            "winner": self.winner,
            "form": self.form,
            "imgs_per_s": self.imgs_per_s,
            "defaults_imgs_per_s": self.defaults_imgs_per_s,
            "speedup": self.speedup,
        }

    def save(self) -> Path:
        path = self.dir / AUTOTUNE_FILE
        write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Autotune:
        """An autotune read back from its folder (or its autotune.json)."""
        import json

        file = Path(path).expanduser()
        file = file / AUTOTUNE_FILE if file.is_dir() else file
        raw = json.loads(file.read_text(encoding="utf-8"))
        names = "data device imgsz budget_s defaults space rows seconds ended started".split()
        return cls(dir=file.parent.resolve(), **{k: raw[k] for k in names if k in raw})

    # -- shown

    def _columns(self) -> list[str]:
        amp = len(self.space.get("amp", [])) > 1 or self.device != "cpu"
        shown = ["#", "batch", "workers", "cache"] + (["amp"] if amp else [])
        return [*shown, "images/s", "vs defaults", "seconds", ""]

    def _cells(self, row: Row) -> list[str]:
        s = row["settings"]
        base = self.defaults_imgs_per_s
        ips = row.get("imgs_per_s") if _ok(row) else None
        marks = []
        if row is self.defaults_row:
            marks.append("defaults")
        if row is self.winner_row:
            marks.append("fastest")
        cells = [str(row["probe"]), str(s["batch_size"]), str(s["workers"]), s["cache"] or "none"]
        if "amp" in self._columns():
            cells.append("on" if s["amp"] else "off")
        return [
            *cells,
            f"{ips:.1f}" if ips else str(row.get("error") or "-"),
            f"{ips / base:.2f}x" if ips and base else "",
            f"{row.get('seconds', 0.0):.0f}",
            ", ".join(marks),
        ]

    def headline(self) -> str:
        """One line: the winner and its speed-up, or why there is none."""
        winner, speedup = self.winner, self.speedup
        if winner is None:
            return "no probe was measured: see the rows' errors"
        settings = ", ".join(f"{k}={winner[k]!r}" for k in KNOBS)
        tail = f", {speedup:.2f}x the defaults" if speedup else ""
        return f"fastest: {settings}: {self.imgs_per_s:.1f} images/s{tail}"

    def _title(self) -> str:
        return (
            f"autotune on {self.device} at imgsz {self.imgsz}: {len(self.rows)} probes in "
            f"{self.seconds:.0f} s (budget {self.budget_s:.0f} s), {self.ended}"
        )

    def __str__(self) -> str:
        table = [self._columns()] + [self._cells(r) for r in self.rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths)).rstrip() for line in table]
        return "\n".join([self._title(), *lines, self.headline(), f"saved in {self.dir}"])

    def __repr__(self) -> str:
        return f"<yolo_lab.Autotune {self.dir} {self.headline()}>"

    def _pending_cells(self, settings: Settings) -> list[str]:
        cells = [
            str(len(self.rows) + 1),
            str(settings["batch_size"]),
            str(settings["workers"]),
            settings["cache"] or "none",
        ]
        if "amp" in self._columns():
            cells.append("on" if settings["amp"] else "off")
        return [*cells, "probing...", "", "", ""]

    def _repr_html_(self) -> str:
        def row_html(cells: list[str], tag: str = "td", cls: str = "") -> str:
            attr = f" class='{cls}'" if cls else ""
            inner = "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells)
            return f"<tr{attr}>{inner}</tr>"

        head = row_html(self._columns(), "th")
        body = "".join(row_html(self._cells(r)) for r in self.rows)
        if self.probing is not None:
            body += row_html(self._pending_cells(self.probing), cls="yl-Autotune-pending")
        return (
            f"<div class='yl-Autotune'><p>{html.escape(self._title())}</p>"
            f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"
            f"<p><b>{html.escape(self.headline())}</b></p></div>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # yolo-lab's JupyterLab renders the JSON (a table with "Apply to the
        # form"); anywhere else the HTML table shows.
        return {
            AUTOTUNE_MIME_TYPE: self.to_dict(),
            "text/html": self._repr_html_(),
            "text/plain": str(self),
        }

    def _ipython_display_(self) -> None:
        from IPython.display import display

        # The cell that filled the table in live returns it too: one table.
        if self._live.shown_in_this_cell():
            self._live.show()
            return
        display(self._repr_mimebundle_(), raw=True)

    def show_live(self) -> None:
        """Display the table now, or update it (in IPython only): it fills in probe by probe."""
        self._live.show()
