"""Decoding municipal CSV exports: UTF-8 (BOM optional) or CP932 (Shift_JIS).

Municipal systems export CP932; newer ones UTF-8. ``auto`` tries UTF-8 first (a CP932
file is almost never valid UTF-8), then CP932 — except when the bytes are mostly valid
UTF-8 with a few broken sequences: that is a damaged UTF-8 file, and decoding it as CP932
would silently turn every name into mojibake, so it is refused instead.
"""

from __future__ import annotations

__all__ = ["TextDecodeError", "decode_text"]

_BOM = b"\xef\xbb\xbf"
_ALIASES = {
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "ms932": "cp932",
}


class TextDecodeError(ValueError):
    """The bytes are not text in the expected encoding; ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _line_of(data: bytes, offset: int) -> int:
    # 0x0A is never a CP932 trail byte, so counting it is safe in both encodings
    return data[:offset].count(b"\n") + 1


def _strict(data: bytes, encoding: str, shift: int) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = _line_of(data, exc.start)
        raise TextDecodeError(
            f"cannot decode as {encoding.upper()}: first bad byte at line {line} "
            f"(byte offset {exc.start + shift}); try --encoding auto",
            line,
        ) from None


def decode_text(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """Decode ``data``; return (text, encoding used: utf-8, utf-8-sig or cp932).

    ``encoding`` is ``auto``, ``utf-8`` or ``cp932`` (common aliases accepted). Raises
    ``TextDecodeError`` naming the line of the first undecodable byte, and ``ValueError``
    for an unknown encoding name.
    """
    enc = encoding.lower().replace("_", "-")
    enc = _ALIASES.get(enc, enc)
    if enc not in ("auto", "utf-8", "cp932"):
        raise ValueError(f"unknown encoding {encoding!r} (expected auto, utf-8 or cp932)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TextDecodeError("the file is UTF-16; save it as UTF-8 or CP932 (Shift_JIS)", 1)
    if data.startswith(_BOM) and enc in ("auto", "utf-8"):
        return _strict(data[len(_BOM) :], "utf-8", len(_BOM)), "utf-8-sig"
    if enc != "auto":
        return _strict(data, enc, 0), enc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_exc:
        line = _line_of(data, utf8_exc.start)
        lenient = data.decode("utf-8", errors="replace")
        broken = lenient.count("\ufffd")
        good_multibyte = sum(1 for ch in lenient if ord(ch) > 0x7F and ch != "\ufffd")
        if good_multibyte >= 8 * broken:
            raise TextDecodeError(
                f"invalid UTF-8 byte sequence at line {line} (damaged or truncated file?) "
                "/ 文字コードが不正です",
                line,
            ) from None
        try:
            return data.decode("cp932"), "cp932"
        except UnicodeDecodeError as cp_exc:
            # the earlier failure is the more telling place to look
            offset = min(utf8_exc.start, cp_exc.start)
            raise TextDecodeError(
                f"file is neither UTF-8 nor CP932 (Shift_JIS): cannot decode as UTF-8 or "
                f"CP932 (byte offset {offset}, line {_line_of(data, offset)}) "
                "/ 文字コードが UTF-8 でも CP932 でもありません",
                _line_of(data, offset),
            ) from None
