"""The streaming register reader (#12) gives exactly what the whole-file reader gives.

``textdecode.scan_file`` + ``iter_text_lines`` against ``decode_text``, and
``csv_parse.stream_register`` against ``read_register``: same text or the same error,
same records, problems, rejected rows and flags — on the shipped files and on random
bytes and random registers (hypothesis).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertsvc.registry.csv_parse import ParseResult, read_register, stream_register
from alertsvc.textdecode import decode_text, iter_text_lines, scan_file

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [
        *(ROOT / "tests" / "data" / "registry").glob("*.csv"),
        *(ROOT / "tests" / "data" / "jp_register").glob("*.csv"),
        ROOT / "recipients" / "register.csv",
    ]
)
ENCODINGS = ["auto", "utf-8", "cp932", "sjis"]


def _whole(data: bytes, encoding: str) -> tuple[str, str] | str:
    try:
        return decode_text(data, encoding)
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"


def _streamed(path: Path, encoding: str) -> tuple[str, str] | str:
    try:
        used = scan_file(path, encoding)
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "".join(iter_text_lines(path, used)), used


def _complete(path: Path, encoding: str = "auto") -> ParseResult:
    stream = stream_register(path, encoding)
    records = list(stream.records)
    return dataclasses.replace(stream.result, records=records)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_shipped_files_decode_the_same(path: Path, encoding: str) -> None:
    assert _streamed(path, encoding) == _whole(path.read_bytes(), encoding)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_shipped_files_parse_the_same(path: Path) -> None:
    assert _complete(path) == read_register(path)


LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
CELL = st.text(
    alphabet=st.sampled_from(list('あい漢字髙ｱ ,"0123456789abc-+．\u3000\u2028')), max_size=8
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(CELL, CELL, CELL, CELL), min_size=0, max_size=6),
    end=LINE_ENDS,
    encoding=st.sampled_from(["utf-8", "cp932", "utf-8-sig"]),
    tail=st.binary(max_size=6),
)
def test_property_random_registers_read_the_same(
    rows: list[tuple[str, str, str, str]], end: str, encoding: str, tail: bytes, tmp_path: Path
) -> None:
    lines = ["名簿番号,氏名,住所,携帯電話"] + [",".join(r) for r in rows]
    text = end.join(lines) + end
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    data += tail  # sometimes a broken last line
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    for enc in ("auto", "cp932", "utf-8"):
        assert _streamed(path, enc) == _whole(data, enc)
        assert _complete(path, enc) == read_register(path, enc)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200))
def test_property_any_bytes_decode_the_same(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(data)
    for enc in ("auto", "cp932", "utf-8"):
        assert _streamed(path, enc) == _whole(data, enc)
