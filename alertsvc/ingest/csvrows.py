"""CSV records with exact physical line numbers.

A physical line ends at CR LF, LF or a lone CR, and nowhere else. ``str.splitlines``
also breaks at VT, FF, FS/GS/RS, NEL (U+0085), U+2028 and U+2029: a cell holding one of
those would shift every later reported line by one, so it is never used here. The csv
module itself only knows CR and LF, so feeding it our own physical lines keeps its
``line_num`` equal to the physical line count.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["CsvRecord", "MalformedCsv", "csv_records", "csv_records_from_lines", "physical_lines"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def physical_lines(text: str) -> list[str]:
    """``text`` cut after each CR LF, LF or lone CR (line ends kept)."""
    return _LINE.findall(text)


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One CSV record: its first physical line (1-based) and its cells."""

    line: int
    cells: list[str]

    @property
    def blank(self) -> bool:
        return not any(cell.strip() for cell in self.cells)


class MalformedCsv(ValueError):
    """The CSV cannot be read past ``line`` (an unterminated quote, a cut-off file)."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"malformed CSV at line {line}: {detail}")
        self.line = line
        self.detail = detail


def csv_records(text: str) -> Iterator[CsvRecord]:
    """Yield every record of ``text`` (blank ones too) with its starting physical line.

    Raises ``MalformedCsv`` (strict quoting) naming the line where the bad record starts.
    A leading BOM is dropped.
    """
    return csv_records_from_lines(physical_lines(text.removeprefix("\ufeff")))


def csv_records_from_lines(lines: Iterable[str]) -> Iterator[CsvRecord]:
    """``csv_records`` over text that arrives in pieces, each ending at an LF (the last
    may not): a file read one line at a time, memory bounded by the longest record."""
    reader = csv.reader(_split_lone_cr(lines), strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise MalformedCsv(start, str(exc)) from None
        end = reader.line_num
        yield CsvRecord(start, cells)


def _split_lone_cr(pieces: Iterable[str]) -> Iterator[str]:
    for piece in pieces:
        if "\r" in piece.rstrip("\r\n") or piece.endswith("\r"):
            yield from physical_lines(piece)
        else:
            yield piece
