"""Dates in a register: 西暦 (``1941-03-02``, ``1941/3/2``, ``1941年3月2日``) and 和暦.

和暦 forms accepted: ``昭和16年3月2日``, ``昭和元年12月25日``, ``S16.3.2``, ``S16/3/2``,
``S16-3-2``, with the eras 明治 (M), 大正 (T), 昭和 (S), 平成 (H) and 令和 (R). The input is
NFKC-normalised first, so full-width digits and separators work too.

``parse_date`` raises ``ValueError`` with a message that says what was expected; an era
year past the era's end (``昭和65年``) or a date before the era began is refused, as is a
date in the future.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

__all__ = ["ERAS", "parse_date"]

# era -> (first day, last day or None for the current era)
ERAS: dict[str, tuple[dt.date, dt.date | None]] = {
    "明治": (dt.date(1868, 10, 23), dt.date(1912, 7, 29)),
    "大正": (dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    "昭和": (dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    "平成": (dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    "令和": (dt.date(2019, 5, 1), None),
}
_ABBREV = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}

_SEIREKI = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_WAREKI_KANJI = re.compile(
    r"^(明治|大正|昭和|平成|令和)\s*(元|\d{1,2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$"
)
_WAREKI_ABBREV = re.compile(
    r"^([MTSHRmtshr])\s*(元|\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})$"
)

_EXPECTED = "expected 西暦 like 1941-03-02 or 和暦 like 昭和16年3月2日 / S16.3.2"


def parse_date(text: str, *, today: dt.date | None = None) -> dt.date:
    """Parse a 西暦 or 和暦 date; raise ``ValueError`` saying what is wrong."""
    raw = unicodedata.normalize("NFKC", text).strip()
    # ㍼ and friends NFKC-normalise to 昭和 etc.; a stray space between parts is harmless
    if not raw:
        raise ValueError("empty date")
    today = today or dt.datetime.now(dt.UTC).date()
    m = _SEIREKI.match(raw)
    if m:
        value = _make_date(int(m[1]), int(m[2]), int(m[3]), raw)
    else:
        m = _WAREKI_KANJI.match(raw) or _WAREKI_ABBREV.match(raw)
        if not m:
            raise ValueError(f"{raw!r} is not a date: {_EXPECTED}")
        era = _ABBREV.get(m[1].upper(), m[1])
        era_year = 1 if m[2] == "元" else int(m[2])
        if era_year < 1:
            raise ValueError(f"{raw!r}: era year must be 1 (元年) or more")
        start, end = ERAS[era]
        value = _make_date(start.year + era_year - 1, int(m[3]), int(m[4]), raw)
        if value < start or (end is not None and value > end):
            last = f"{end:%Y-%m-%d}" if end else "today"
            raise ValueError(f"{raw!r} is outside the {era} era ({start:%Y-%m-%d} to {last})")
    if value > today:
        raise ValueError(f"{raw!r} is in the future")
    return value


def _make_date(year: int, month: int, day: int, raw: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"{raw!r} is not a calendar date ({exc})") from None
