"""The shared importer parts: physical CSV lines, forbidden characters, the collector."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertsvc.geo.shelter_import import read_shelter_file
from alertsvc.ingest import MalformedCsv, Problems, bad_character, csv_records, parse_decimal

ODD = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("odd", ODD)
def test_csv_records_count_only_cr_and_lf(odd: str) -> None:
    text = f'a,b\r\nx{odd}y,1\r\n"p\r\nq",2\nlast,3\rend,4'
    got = [(r.line, r.cells) for r in csv_records(text)]
    assert got == [
        (1, ["a", "b"]),
        (2, [f"x{odd}y", "1"]),
        (3, ["p\r\nq", "2"]),
        (5, ["last", "3"]),
        (6, ["end", "4"]),
    ]


def test_malformed_csv_names_the_starting_line() -> None:
    with pytest.raises(MalformedCsv) as info:
        list(csv_records('a,b\n1,2\n3,"open\n'))
    assert info.value.line == 3


@pytest.mark.parametrize("odd", [*ODD, "\t", "\x00", "\u200b", "\ufeff", "\u202e"])
def test_bad_character_names_it_and_its_position(odd: str) -> None:
    found = bad_character(f"直方{odd}市")
    assert found is not None and f"U+{ord(odd):04X}" in found and "character 3" in found
    assert bad_character("直方市 殿町１－１ ①髙﨑") is None


def test_parse_decimal() -> None:
    assert parse_decimal("３３．７４") == 33.74
    assert parse_decimal(130) == 130.0
    for bad in ("nan", "inf", True, "1e5", "", None, float("nan")):
        assert parse_decimal(bad) is None


def test_problems_prefix_and_marks() -> None:
    p = Problems("f.csv")
    mark = p.mark()
    p.error(3, "name", "bad")
    p.warn(-1, "", "note")
    assert [str(e) for e in p.since(mark)] == ["line 3, column name: f.csv: bad"]
    assert p.warnings[0].message == "f.csv: note"


@pytest.mark.parametrize("odd", ["\u2028", "\x85", "\x0b"])
def test_shelter_csv_refuses_separators_and_keeps_line_numbers(tmp_path: Path, odd: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "id,name,address,lat,lon,kind,hazards\n"
        f"S1,直方{odd}小学校,直方市,33.74,130.73,指定避難所,洪水\n"
        "S2,第二,直方市,33.75,130.73,指定避難所,洪水\n"
        "S3,第三,直方市,999,130.73,指定避難所,洪水\n",
        encoding="utf-8",
    )
    entries, errors, _warnings = read_shelter_file(path)
    assert [(e.line, e.column) for e in errors] == [(2, "name"), (4, "location")]
    assert f"U+{ord(odd):04X}" in errors[0].message
    assert [e.source_id for e in entries] == ["S2"]


_SHELTER_CELL = st.lists(
    st.sampled_from([*list("第一小学校直方 1"), *ODD, "\r\n", "\n", ",", '"', "\t", "\x00"]),
    max_size=6,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_SHELTER_CELL, _SHELTER_CELL), min_size=1, max_size=6))
def test_property_shelter_csv_lines_are_physical(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str]]
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "name", "address", "lat", "lon", "kind", "hazards"])
    starts = []
    for index, (name, address) in enumerate(rows):
        starts.append(len(re.findall(r"\r\n|\r|\n", out.getvalue())) + 1)
        writer.writerow([f"S{index}", name, address, "33.74", "130.73", "指定避難所", "洪水"])
    path = tmp_path_factory.mktemp("fuzz") / "s.csv"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    entries, errors, _warnings = read_shelter_file(path)  # never raises
    assert {e.line for e in errors} <= set(starts)
    ok = {f"S{i}" for i, line in enumerate(starts) if line not in {e.line for e in errors}}
    assert {e.source_id for e in entries} == ok
