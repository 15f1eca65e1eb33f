"""Cell parsers shared by the importers: text, lists, decimals, forbidden characters."""

from __future__ import annotations

import math
import re
import unicodedata

__all__ = ["bad_character", "nfkc", "parse_decimal", "split_list", "trim"]

# only these are trimmed from a cell's ends: other control and separator characters must
# be seen (and refused) by ``bad_character``, not silently cut off by ``str.strip``
_EDGE = " \t\r\n\u3000"

_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
# Cc: C0/C1 controls (TAB, VT, FF, FS, NEL …); Cf: invisible format characters (zero-width
# space, BOM, bidi marks); Zl/Zp: U+2028/U+2029. None belongs in a name, address or number.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def trim(text: str) -> str:
    """``text`` without leading and trailing spaces, tabs, line breaks and U+3000."""
    return text.strip(_EDGE)


def nfkc(text: str) -> str:
    """NFKC-normalised and trimmed: full-width digits and letters become ASCII."""
    return trim(unicodedata.normalize("NFKC", text))


def split_list(text: str, separators: re.Pattern[str]) -> list[str]:
    """Non-empty NFKC parts of a list cell ("a; b、c")."""
    value = nfkc(text)
    return [part for part in separators.split(value) if part] if value else []


def parse_decimal(raw: object) -> float | None:
    """A finite decimal from text (full-width digits allowed) or a JSON number; else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        s = nfkc(raw)
        if not _DECIMAL.fullmatch(s):
            return None
        value = float(s)
    else:
        return None
    return value if math.isfinite(value) else None


def bad_character(text: str, *, allow: str = "") -> str | None:
    """Describe the first control or separator character in ``text``, or None.

    The description names the character and its 1-based position in the cell, e.g.
    ``"U+2028 LINE SEPARATOR at character 4"``; characters in ``allow`` are accepted.
    """
    for index, ch in enumerate(text):
        if ch in allow:
            continue
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            name = unicodedata.name(ch, "control character")
            return f"U+{ord(ch):04X} {name} at character {index + 1}"
    return None
