"""Decoding municipal CSV exports: UTF-8 (BOM optional) or CP932 (Shift_JIS).

Municipal systems export CP932; newer ones UTF-8. ``auto`` tries UTF-8 first (a CP932
file is almost never valid UTF-8), then CP932 — except when the bytes are mostly valid
UTF-8 with a few broken sequences: that is a damaged UTF-8 file, and decoding it as CP932
would silently turn every name into mojibake, so it is refused instead.

The other mix — a CP932 file with a cell pasted in as UTF-8 (「髙」 is E9 AB 99, which
CP932 reads as 「鬮剽…」) — decodes without error, so it is looked for: on each line, a
run of UTF-8 encoded kanji/kana is read as UTF-8 and the rest as CP932; when that reading
is valid and clearly more plausible (fewer JIS level-2 kanji, half-width katakana and
stray ASCII letters wedged between kanji, the marks mojibake leaves) than pure CP932, the
file is refused naming the line. Pure CP932 text almost never passes that test, because
its level-2 kanji then misalign the rest of the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

__all__ = ["TextDecodeError", "decode_text", "iter_text_lines", "scan_file"]

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


# three-byte UTF-8 for U+3000–U+9FFF (kana, CJK): what a pasted Japanese name becomes
_UTF8_RUN = re.compile(rb"(?:[\xe3-\xe9][\x80-\xbf]{2})+")


def _is_japanese(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff"


def _oddity(text: str, trusted: range | None = None) -> int:
    """How much ``text`` looks like mojibake; characters at ``trusted`` indexes count 0."""
    score = 0
    for i, ch in enumerate(text):
        if trusted is not None and i in trusted:
            continue
        if "\uff61" <= ch <= "\uff9f":
            score += 1  # half-width katakana
        elif ch.isascii():
            if ch.isalpha() and 0 < i < len(text) - 1:
                before, after = text[i - 1], text[i + 1]
                score += int(not before.isascii() and not after.isascii())
        else:
            try:
                code = int.from_bytes(ch.encode("cp932"), "big")
            except UnicodeEncodeError:
                continue
            score += int(0x989F <= code <= 0xEAA4)  # JIS X 0208 level-2 kanji
    return score


def _find_utf8_in_cp932(data: bytes) -> tuple[int, str] | None:
    """(1-based line, the UTF-8 text) of the first UTF-8 run in CP932 ``data``, or None."""
    for number, line in enumerate(data.split(b"\n"), start=1):
        run = _utf8_run_in_cp932_line(line)
        if run is not None:
            return number, run
    return None


def _utf8_run_in_cp932_line(line: bytes) -> str | None:
    """The first UTF-8 run of one CP932 line (no LF inside), or None."""
    if not _UTF8_RUN.search(line):
        return None
    plain: int | None = None  # the line's own oddity, computed only when needed
    for match in _UTF8_RUN.finditer(line):
        try:
            run = match.group().decode("utf-8")
            if not all(_is_japanese(ch) for ch in run):
                continue
            head = line[: match.start()].decode("cp932")
            tail = line[match.end() :].decode("cp932")
        except UnicodeDecodeError:
            continue
        if plain is None:
            try:
                plain = _oddity(line.decode("cp932"))
            except UnicodeDecodeError:
                return None
        mixed = _oddity(head + run + tail, range(len(head), len(head) + len(run)))
        if mixed + 2 <= plain:
            return run
    return None


def _cp932(data: bytes, shift: int) -> str:
    text = _strict(data, "cp932", shift)
    found = _find_utf8_in_cp932(data)
    if found is not None:
        line, run = found
        raise TextDecodeError(
            f"mixed encodings: line {line} holds UTF-8 text (「{run}」) in a CP932 "
            "(Shift_JIS) file; it would be stored as mojibake. Save the whole file in one "
            "encoding / 文字コードが混在しています",
            line,
        )
    return text


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
    if enc == "cp932":
        return _cp932(data, 0), enc
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
            data.decode("cp932")
        except UnicodeDecodeError as cp_exc:
            # the earlier failure is the more telling place to look
            offset = min(utf8_exc.start, cp_exc.start)
            raise TextDecodeError(
                f"file is neither UTF-8 nor CP932 (Shift_JIS): cannot decode as UTF-8 or "
                f"CP932 (byte offset {offset}, line {_line_of(data, offset)}) "
                "/ 文字コードが UTF-8 でも CP932 でもありません",
                _line_of(data, offset),
            ) from None
        return _cp932(data, 0), "cp932"


# --- streaming: the same checks, one line of the file at a time ----------------------


def _canonical(encoding: str) -> str:
    enc = encoding.lower().replace("_", "-")
    enc = _ALIASES.get(enc, enc)
    if enc not in ("auto", "utf-8", "cp932"):
        raise ValueError(f"unknown encoding {encoding!r} (expected auto, utf-8 or cp932)")
    return enc


def _byte_lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(1-based line, byte offset, bytes) of each LF-terminated line of ``path``.

    0x0A is never part of a UTF-8 or CP932 multibyte character, so decoding line by line
    gives what decoding the whole file gives.
    """
    offset = 0
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            yield number, offset, line
            offset += len(line)


def _scan_strict(path: Path, encoding: str, skip: int) -> None:
    for number, offset, line in _byte_lines(path):
        shift = skip if number == 1 else 0
        try:
            line[shift:].decode(encoding)
        except UnicodeDecodeError as exc:
            raise TextDecodeError(
                f"cannot decode as {encoding.upper()}: first bad byte at line {number} "
                f"(byte offset {offset + shift + exc.start}); try --encoding auto",
                number,
            ) from None


def _scan_cp932(path: Path) -> None:
    _scan_strict(path, "cp932", 0)
    for number, _offset, line in _byte_lines(path):
        run = _utf8_run_in_cp932_line(line.rstrip(b"\n"))
        if run is not None:
            raise TextDecodeError(
                f"mixed encodings: line {number} holds UTF-8 text (「{run}」) in a CP932 "
                "(Shift_JIS) file; it would be stored as mojibake. Save the whole file in one "
                "encoding / 文字コードが混在しています",
                number,
            )


def scan_file(path: Path, encoding: str = "auto") -> str:
    """Check that ``path`` decodes as ``decode_text`` would, reading one line at a time.

    Returns the encoding ``decode_text`` would report (utf-8, utf-8-sig or cp932) and
    raises what it would raise (``TextDecodeError`` naming the line, ``ValueError`` for
    an unknown encoding name, ``OSError`` when the file cannot be read). Memory stays
    bounded by the longest line; ``iter_text_lines`` then yields the text.
    """
    enc = _canonical(encoding)
    with path.open("rb") as fh:
        start = fh.read(len(_BOM))
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TextDecodeError("the file is UTF-16; save it as UTF-8 or CP932 (Shift_JIS)", 1)
    if start == _BOM and enc in ("auto", "utf-8"):
        _scan_strict(path, "utf-8", len(_BOM))
        return "utf-8-sig"
    if enc == "cp932":
        _scan_cp932(path)
        return enc
    if enc != "auto":
        _scan_strict(path, enc, 0)
        return enc
    utf8_error: tuple[int, int] | None = None  # (line, offset) of the first bad byte
    broken = good_multibyte = 0
    for number, offset, line in _byte_lines(path):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            if utf8_error is None:
                utf8_error = (number, offset + exc.start)
            text = line.decode("utf-8", errors="replace")
            broken += text.count("\ufffd")
        good_multibyte += sum(1 for ch in text if ord(ch) > 0x7F and ch != "\ufffd")
    if utf8_error is None:
        return "utf-8"
    line_no, utf8_offset = utf8_error
    if good_multibyte >= 8 * broken:
        raise TextDecodeError(
            f"invalid UTF-8 byte sequence at line {line_no} (damaged or truncated file?) "
            "/ 文字コードが不正です",
            line_no,
        )
    for number, offset, line in _byte_lines(path):
        try:
            line.decode("cp932")
        except UnicodeDecodeError as exc:
            bad = offset + exc.start
            at, where = (line_no, utf8_offset) if utf8_offset <= bad else (number, bad)
            raise TextDecodeError(
                f"file is neither UTF-8 nor CP932 (Shift_JIS): cannot decode as UTF-8 or "
                f"CP932 (byte offset {where}, line {at}) "
                "/ 文字コードが UTF-8 でも CP932 でもありません",
                at,
            ) from None
    _scan_cp932(path)
    return "cp932"


def iter_text_lines(path: Path, used: str) -> Iterator[str]:
    """The decoded text of ``path`` line by line (LF kept), for an encoding ``scan_file``
    returned; a UTF-8 BOM is dropped."""
    codec = "utf-8" if used == "utf-8-sig" else used
    for number, _offset, line in _byte_lines(path):
        if number == 1 and used == "utf-8-sig":
            line = line[len(_BOM) :]
        yield line.decode(codec)
