"""SMS length rules: GSM-7 / UCS-2 detection, unit counting and segmenting (pure).

* GSM-7 (3GPP TS 23.038 default alphabet): a basic-set character costs 1 septet, an
  extension-set character (``^{}[]~|€\\`` and form feed) costs 2 (escape + char). One
  message holds 160 septets; a concatenated message holds 153 per part.
* UCS-2 (anything else, e.g. every Japanese text): one message holds 70 UTF-16 code units;
  a concatenated one 67 per part. A character outside the BMP (many emoji, rare kanji)
  is a surrogate pair and costs 2 units.

A part never splits an escape sequence or a surrogate pair, as real handsets do not.
"""

from __future__ import annotations

__all__ = [
    "GSM7",
    "MAX_SEGMENTS",
    "UCS2",
    "encoding_of",
    "sms_segments",
    "sms_units",
    "split_sms",
]

GSM7 = "GSM-7"
UCS2 = "UCS-2"
# every message we plan must fit in this many parts (carriers and handsets differ beyond it)
MAX_SEGMENTS = 3

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

# (single-message limit, per-part limit) in units of the encoding
_LIMITS: dict[str, tuple[int, int]] = {GSM7: (160, 153), UCS2: (70, 67)}


def encoding_of(text: str) -> str:
    """``"GSM-7"`` when every character is in the GSM-7 basic or extension set, else ``"UCS-2"``."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        return GSM7
    return UCS2


def _cost(ch: str, encoding: str) -> int:
    if encoding == GSM7:
        return 2 if ch in _GSM_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def sms_units(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text occupies."""
    encoding = encoding_of(text)
    return sum(_cost(ch, encoding) for ch in text)


def split_sms(text: str) -> list[str]:
    """The parts a handset would send, in order (one part when it fits a single message).

    An empty text is one empty message.
    """
    encoding = encoding_of(text)
    single, per_part = _LIMITS[encoding]
    if sum(_cost(ch, encoding) for ch in text) <= single:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        cost = _cost(ch, encoding)
        if used + cost > per_part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost
    if current:
        parts.append("".join(current))
    return parts


def sms_segments(text: str) -> tuple[int, str]:
    """(number of SMS parts, ``"GSM-7"`` or ``"UCS-2"``) for ``text``; never raises."""
    return len(split_sms(text)), encoding_of(text)
