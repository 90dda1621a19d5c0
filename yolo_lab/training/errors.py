"""The error of a training that cannot start as asked."""

from __future__ import annotations

__all__ = ["TrainError"]


class TrainError(ValueError):
    """A training that cannot start as asked: what is wrong and what to do.

    ``field`` names the parameter refused, when one is.
    """

    def __init__(self, code: str, message: str, fix: str, field: str | None = None) -> None:
        super().__init__(f"{message}\nWhat to do: {fix}")
        self.code = code
        self.message = message
        self.fix = fix
        self.field = field

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "fix": self.fix}

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback through yolo-lab's
        # checks: the cell's user needs the problem and the fix, not our stack.
        red, bold, reset = "\x1b[31m", "\x1b[1m", "\x1b[0m"
        return [
            f"{red}{bold}TrainError ({self.code}):{reset} {self.message}",
            f"{bold}What to do:{reset} {self.fix}",
        ]
