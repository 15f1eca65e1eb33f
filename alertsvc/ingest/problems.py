"""One collector of row errors and warnings, shared by every importer."""

from __future__ import annotations

from alertsvc.errors import RowError

__all__ = ["Problems"]


class Problems:
    """Collects ``RowError`` errors and warnings for one input.

    ``prefix`` (a file name, when several files are read together) starts every message.
    ``line`` follows ``RowError``: the 1-based physical line of a CSV, the 0-based feature
    index of a geo file, -1 for the whole file.
    """

    def __init__(self, prefix: str = "") -> None:
        self.source = prefix
        self.prefix = f"{prefix}: " if prefix else ""
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []

    def error(self, line: int, column: str, message: str) -> None:
        self.errors.append(RowError(line, column, f"{self.prefix}{message}"))

    def warn(self, line: int, column: str, message: str) -> None:
        self.warnings.append(RowError(line, column, f"{self.prefix}{message}"))

    def mark(self) -> int:
        """How many errors so far: compare with a later ``mark`` to see if a step failed."""
        return len(self.errors)

    def since(self, mark: int) -> list[RowError]:
        """The errors added after ``mark``."""
        return self.errors[mark:]
