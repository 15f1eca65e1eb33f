"""#7 item 17: text that is silently wrong — mixed encodings, odd line breaks, controls.

On main a CP932 file with one UTF-8 「髙」 imported as 「鬮剴c」, and a cell holding VT,
FF, FS, NEL, U+2028 or U+2029 shifted every later line number (``str.splitlines``) and
was stored as-is.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertsvc.registry.csv_import import parse_register, read_register
from alertsvc.textdecode import TextDecodeError, decode_text

ROOT = Path(__file__).resolve().parents[2]
HEAD = "名簿番号,氏名,住所,居住階,電話番号"
ODD = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def _cp932_with_utf8(name_utf8: str) -> bytes:
    return (
        "名簿番号,氏名,住所\r\nR1,直方 太郎,直方市殿町1\r\nR2,".encode("cp932")
        + name_utf8.encode("utf-8")
        + "田 一郎,直方市新町2\r\nR3,花田 茂,直方市感田3\r\n".encode("cp932")
    )


@pytest.mark.parametrize("encoding", ["auto", "cp932"])
def test_stray_utf8_in_cp932_is_refused_with_the_line(encoding: str, tmp_path: Path) -> None:
    data = _cp932_with_utf8("髙")
    with pytest.raises(TextDecodeError) as info:
        decode_text(data, encoding)
    assert info.value.line == 3
    assert "mixed encodings" in str(info.value) and "髙" in str(info.value)
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    result = read_register(path)
    assert result.fatal and result.records == []
    assert "line 3" in result.errors[0].message


def test_real_cp932_registers_are_not_mixed() -> None:
    """No false alarm on real CP932 exports and on the demo register in CP932."""
    files = sorted((ROOT / "tests" / "data" / "registry").glob("*cp932*.csv"))
    files += sorted((ROOT / "tests" / "data" / "registry").glob("lgdpm_*.csv"))
    assert files
    for path in files:
        assert decode_text(path.read_bytes())[1] == "cp932", path
    demo = (ROOT / "recipients" / "register.csv").read_text(encoding="utf-8")
    assert decode_text(demo.encode("cp932"))[0] == demo


def test_level2_kanji_next_to_kana_is_not_taken_for_utf8() -> None:
    # 縺 (E3 81) followed by a level-1 kanji looks like a UTF-8 sequence byte-wise
    for name in ("縺宮崎 由美", "森 縺勇", "鬮田 一郎", "髙﨑 ①"):
        text = f"名簿番号,氏名,住所\r\nR1,{name},直方市\r\n"
        assert decode_text(text.encode("cp932"))[0] == text


@pytest.mark.parametrize("odd", ODD)
def test_odd_separators_do_not_shift_line_numbers(odd: str) -> None:
    text = (
        f"{HEAD}\r\n"
        f"R1,直方{odd}太郎,直方市殿町1,2,\r\n"  # line 2: refused, named by line and column
        f'R2,"古賀\r\nキヨ",直方市新町2,2,\r\n'  # lines 3-4: a real line break in a quote
        f"R3,花田 茂,直方市感田{odd}3,2,\r\n"  # line 5
        "R4,林 ハツエ,直方市頓野4,二階建ての2階,\r\n"  # line 6
        f"R5,山田 一,直方市頓野5,2,0949{odd}00-1111\r\n"  # line 7
    )
    result = parse_register(text)
    got = [(e.line, e.column) for e in result.errors]
    assert got == [(2, "氏名"), (5, "住所"), (6, "居住階"), (7, "電話番号")]
    assert all(f"U+{ord(odd):04X}" in e.message for e in result.errors if e.line != 6)
    assert {r.id: r.line for r in result.records} == {"R2": 3, "R4": 6, "R5": 7}
    assert all(odd not in r.name + r.address for r in result.records)


def test_zero_width_space_in_a_name_is_refused() -> None:
    result = parse_register(f"{HEAD}\nR1,直方\u200b太郎,直方市,2,\n")
    assert [(e.line, e.column) for e in result.errors] == [(2, "氏名")]
    assert "U+200B" in result.errors[0].message


# --- property: physical line numbers are always right, and nothing raises ------------------

_SAFE = st.sampled_from(list("直方太郎花子古賀キヨabc 1-2"))
_ANY = st.one_of(_SAFE, st.sampled_from([*ODD, "\r\n", "\n", "\r", ",", '"', "\t", "\x00"]))
_BREAKS = re.compile(r"\r\n|\r|\n")


@st.composite
def _rows(draw: st.DrawFn) -> list[tuple[str, str, str, str]]:
    count = draw(st.integers(1, 8))
    rows = []
    for i in range(count):
        name = "".join(draw(st.lists(_ANY, max_size=8)))
        address = "".join(draw(st.lists(_ANY, max_size=8)))
        floor = draw(st.sampled_from(["2", "", "二階建ての2階", "3階", "0"]))
        rows.append((f"R{i}", name, address, floor))
    return rows


def _start_lines(rows: list[tuple[str, str, str, str]]) -> tuple[str, list[int]]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["名簿番号", "氏名", "住所", "居住階"])
    starts = []
    for row in rows:
        starts.append(len(_BREAKS.findall(out.getvalue())) + 1)
        writer.writerow(row)
    return out.getvalue(), starts


def _name_is_clean(value: str) -> bool:
    # the importer joins the lines of a multi-line cell, each trimmed, with one space
    flat = " ".join(p.strip(" \t") for p in _BREAKS.split(value) if p.strip(" \t"))
    return bool(flat) and all(ch in '直方太郎花子古賀キヨabc 1-2,"' for ch in flat)


@settings(max_examples=300, deadline=None)
@given(_rows())
def test_property_line_numbers_are_physical(rows: list[tuple[str, str, str, str]]) -> None:
    text, starts = _start_lines(rows)
    result = parse_register(text)  # never raises
    assert not result.fatal
    by_line: dict[int, set[str]] = {}
    for error in result.errors:
        by_line.setdefault(error.line, set()).add(error.column)
    assert set(by_line) <= set(starts)
    for (rid, name, address, floor), line in zip(rows, starts, strict=True):
        columns = by_line.get(line, set())
        assert ("氏名" in columns) == (not _name_is_clean(name)), (name, columns)
        assert ("住所" in columns) == (not _name_is_clean(address)), (address, columns)
        assert ("居住階" in columns) == (floor in ("二階建ての2階", "0")), (floor, columns)
        stored = [r for r in result.records if r.id == rid]
        if not columns & {"氏名", "住所"}:
            assert [r.line for r in stored] == [line]
        else:
            assert stored == [] and line in [r.line for r in result.rejected]


_CELL_BYTES = st.sampled_from(
    [b"R1", b",", b'"', b"\r\n", b"\n", b"\r", "直方".encode(), "直方".encode("cp932")]
    + [ch.encode() for ch in ODD]
    + [b"\xe9\xab\x99", b"\xff", b"\x00", b"\xef\xbb\xbf", b"2\xe9\x9a\x8e"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CELL_BYTES, max_size=40))
def test_property_any_bytes_give_a_result_never_a_traceback(
    tmp_path_factory: pytest.TempPathFactory, parts: list[bytes]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "r.csv"
    path.write_bytes(HEAD.encode() + b"\r\n" + b"".join(parts))
    result = read_register(path)  # never raises
    physical = len(_BREAKS.findall(path.read_bytes().decode("utf-8", "replace"))) + 1
    for problem in [*result.errors, *result.warnings]:
        assert problem.line == -1 or 1 <= problem.line <= physical
    for record in result.records:
        assert 2 <= record.line <= physical
