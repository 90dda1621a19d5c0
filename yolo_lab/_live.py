"""A notebook output that fills in while a cell runs (the speed table, autotune).

Shown once with a display id and updated in place; when the object is also
the cell's result, IPython would display it a second time, so
:meth:`LiveDisplay.shown_in_this_cell` lets its ``_ipython_display_`` update
the live output instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["LiveDisplay"]


def _execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else int(shell.execution_count)


class LiveDisplay:
    """One live output of a raw MIME bundle; nothing outside IPython."""

    def __init__(self, bundle: Callable[[], dict[str, Any]]) -> None:
        self._bundle = bundle
        self._handle: Any = None
        self._count: int | None = None

    def shown_in_this_cell(self) -> bool:
        return self._handle is not None and self._count == _execution_count()

    def show(self) -> None:
        """Display the output now, or update it where it is."""
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)
            return
        if _execution_count() is None:
            return
        from IPython.display import display

        self._handle = display(self._bundle(), raw=True, display_id=True)
        self._count = _execution_count()
