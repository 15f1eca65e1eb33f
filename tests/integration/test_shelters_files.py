"""Reading shelter files: the real GSI data for 直方市, CSV variants and bad input."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from alertsvc.errors import RowError, ShelterDataError
from alertsvc.geo.shelter_import import parse_shelter_inputs

EVAC_FILE = "nogata_402044_evacuation_shelters.geojson"
EMERG_FILE = "nogata_402044_emergency_evacuation_sites.geojson"
HEADER = "id,name,address,lat,lon,kind,hazards,capacity,wheelchair,floors,kana\n"


def _features(path: Path) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["features"]
    return features


def _key(props: dict[str, Any]) -> tuple[str, str]:
    def norm(s: str) -> str:
        return re.sub(r"\s", "", unicodedata.normalize("NFKC", s))

    return norm(props["施設・場所名"]), norm(props["住所"])


def _errors(paths: list[Path]) -> list[RowError]:
    with pytest.raises(ShelterDataError) as info:
        parse_shelter_inputs(paths)
    assert info.value.errors, "a ShelterDataError must carry its row errors"
    return info.value.errors


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_real_gsi_files_pair_up_into_48_shelters(data_dir: Path) -> None:
    evac = _features(data_dir / "shelters" / EVAC_FILE)
    emerg = _features(data_dir / "shelters" / EMERG_FILE)
    assert (len(evac), len(emerg)) == (48, 48)
    # computed independently from the raw files: every facility has both roles
    pairs = {_key(f["properties"]) for f in evac} & {_key(f["properties"]) for f in emerg}
    exact = {(f["properties"]["施設・場所名"], f["properties"]["住所"]) for f in evac} & {
        (f["properties"]["施設・場所名"], f["properties"]["住所"]) for f in emerg
    }
    assert (len(pairs), len(exact)) == (48, 47)

    parsed = parse_shelter_inputs(
        [data_dir / "shelters" / EVAC_FILE, data_dir / "shelters" / EMERG_FILE]
    )
    assert parsed.entries == 96
    assert len(parsed.shelters) == len(pairs) == 48
    evac_ids = {f["properties"]["共通ID"] for f in evac}
    for s in parsed.shelters:
        assert s.info.kinds == {"指定避難所", "指定緊急避難場所"}
        assert len(s.source_ids) == 2
        assert s.info.id == s.source_ids[0] and s.info.id in evac_ids

    # the emergency-site flags decide flood suitability of the merged shelter
    flooded = {_key(f["properties"]) for f in emerg if f["properties"]["洪水"] == "1"}
    by_key = {
        _key({"施設・場所名": s.info.name, "住所": s.info.address}): s for s in parsed.shelters
    }
    assert {k for k, s in by_key.items() if "flood" in s.info.hazards} == flooded
    # the pair that only matches after whitespace removal merges too
    crematorium = next(s for s in parsed.shelters if "天翔館" in s.info.name)
    assert crematorium.info.id == "E4020400023111"
    assert crematorium.source_ids == ("E4020400023111", "E4020400023201")


def test_evacuation_only_file_is_not_flood_suitable(data_dir: Path) -> None:
    parsed = parse_shelter_inputs([data_dir / "shelters" / EVAC_FILE])
    assert len(parsed.shelters) == 48
    assert all(s.info.kinds == {"指定避難所"} and not s.info.hazards for s in parsed.shelters)


def test_welfare_csv_merges_into_the_gsi_facility(data_dir: Path) -> None:
    parsed = parse_shelter_inputs([data_dir / "shelters"])  # includes welfare_sample.csv
    by_id = {s.info.id: s for s in parsed.shelters}
    mizube = by_id["E4020400001111"]
    assert mizube.info.kinds == {"指定避難所", "指定緊急避難場所", "福祉避難所"}
    assert mizube.source_ids == ("E4020400001111", "E4020400001201", "TW-002")
    assert (mizube.info.wheelchair, mizube.info.capacity) == (True, 12)
    test_a = by_id["TW-001"].info
    assert test_a.hazards == {"flood", "inland_flood"}
    assert (test_a.capacity, test_a.floors, test_a.wheelchair) == (40, 3, True)
    assert test_a.name_kana == "てすとふくしA"


def test_cp932_japanese_headers_and_full_width_digits(tmp_path: Path) -> None:
    text = (
        "共通ID,施設・場所名,住所,緯度,経度,種別,対応災害,収容人数,車いす対応,階数,ふりがな\r\n"
        "W1,直方テスト会館,福岡県直方市１－１,３３．７４５,１３０．７３５,"
        "指定避難所、福祉避難所,洪水、崖崩れ、土石流及び地滑り,１，２００人,いいえ,２階,てすと\r\n"
    )
    parsed = parse_shelter_inputs([_write(tmp_path, "sjis.csv", text, "cp932")])
    info = parsed.shelters[0].info
    assert (info.lat, info.lon) == (33.745, 130.735)
    assert info.kinds == {"指定避難所", "福祉避難所"}
    assert info.hazards == {"flood", "landslide"}
    assert (info.capacity, info.floors, info.wheelchair) == (1200, 2, False)
    assert info.name == "直方テスト会館"


def test_utf8_bom_csv_is_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "bom.csv", "\ufeff" + HEADER + "A,名前,住所,33.7,130.7,指定避難所,,,,,\n"
    )
    assert parse_shelter_inputs([path]).shelters[0].info.id == "A"


def test_injection_looking_strings_are_kept_verbatim(tmp_path: Path) -> None:
    name = '=HYPERLINK("http://x")\'; DROP TABLE shelters;--'
    path = _write(
        tmp_path,
        "inj.csv",
        HEADER + f'"A","{name.replace(chr(34), 2 * chr(34))}",'
        "[bold]addr[/],33.7,130.7,指定避難所,,,,,\n",
    )
    info = parse_shelter_inputs([path]).shelters[0].info
    assert info.name == name
    assert info.address == "[bold]addr[/]"


def test_all_row_problems_are_reported_with_line_and_column(tmp_path: Path) -> None:
    rows = [
        "A,ok,addr,33.7,130.7,指定避難所,,,,,",  # line 2: fine
        "B,,addr,33.7,130.7,指定避難所,,,,,",  # line 3: empty name
        "C,c,addr,,130.7,指定避難所,,,,,",  # line 4: no latitude
        "D,d,addr,130.7,33.7,指定避難所,,,,,",  # line 5: swapped
        "E,e,addr,33.7,130.7,避難ビル,,,,,",  # line 6: unknown kind
        "F,f,addr,33.7,130.7,指定避難所,洪水;隕石,,,,",  # line 7: unknown hazard
        "G,g,addr,33.7,130.7,指定避難所,,-3,maybe,0,",  # line 8: three bad fields
        "A,a2,addr,33.7,130.7,指定避難所,,,,,",  # line 9: duplicate id
        "H,h,addr,33.7,abc,指定避難所,,,,,",  # line 10: not a number
        "I,i,addr,nan,inf,指定避難所,,,,,",  # line 11: not finite
        "J,j,addr,33.7",  # line 12: truncated row
    ]
    path = _write(tmp_path, "bad.csv", HEADER + "\n".join(rows) + "\n")
    found = {(e.line, e.column) for e in _errors([path])}
    assert found == {
        (3, "name"),
        (4, "lat"),
        (5, "location"),
        (6, "kind"),
        (7, "hazards"),
        (8, "capacity"),
        (8, "wheelchair"),
        (8, "floors"),
        (9, "id"),
        (10, "lon"),
        (11, "lat"),
        (11, "lon"),
        (12, ""),
    }


def test_error_messages_name_file_and_expectation(tmp_path: Path) -> None:
    path = _write(tmp_path, "far.csv", HEADER + "A,a,addr,51.5,-0.12,指定避難所,,,,,\n")
    (err,) = _errors([path])
    assert err.message.startswith("far.csv:")
    assert "122" in err.message and "46" in err.message  # the expected range is stated


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf\n\n", "empty"),
        (HEADER.encode(), "no shelter rows"),
        (b"name,lat,lon\nx,33.7,130.7\n", "required column missing"),
        # valid UTF-8 cut inside a multi-byte character: a damaged file, not CP932
        (
            (HEADER + "A,遠賀川水辺館,福岡県直方市溝堀,33.7,130.7,指定避難所,,,,,\n").encode()[:-30]
            + "遠".encode()[:2],
            "invalid UTF-8",
        ),
        (b"id,name\n\x80\x80\xff\xfe,\x81\n", "neither UTF-8 nor CP932"),
        (HEADER.encode() + b'A,"unterminated,addr,33.7,130.7', "malformed CSV"),
    ],
)
def test_unreadable_csv_is_rejected(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    errors = _errors([path])
    assert any(expected in e.message for e in errors), errors


def test_missing_kind_column_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "k.csv", "id,name,address,lat,lon\nA,a,b,33.7,130.7\n")
    (err,) = _errors([path])
    assert (err.line, err.column) == (1, "kind")


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.csv", HEADER + "X1,a,addr,33.7,130.7,指定避難所,,,,,\n")
    b = _write(tmp_path, "b.csv", HEADER + "X1,b,addr2,33.7,130.7,福祉避難所,,,,,\n")
    (err,) = _errors([a, b])
    assert err.message.startswith("b.csv:") and "a.csv line 2" in err.message


def _collection(features: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def _feature(
    props: dict[str, Any], coords: tuple[object, object] | None = (130.73, 33.74)
) -> dict[str, Any]:
    geometry = None if coords is None else {"type": "Point", "coordinates": list(coords)}
    return {"type": "Feature", "geometry": geometry, "properties": props}


GSI_SITE = {"共通ID": "S1", "施設・場所名": "s", "住所": "a", "洪水": "1", "地震": ""}


def test_geojson_feature_problems_use_the_feature_index(tmp_path: Path) -> None:
    features = [
        _feature(GSI_SITE),
        _feature({**GSI_SITE, "共通ID": "S2", "洪水": "yes"}),
        _feature({**GSI_SITE, "共通ID": "S3"}, coords=None),
        _feature({**GSI_SITE, "共通ID": "S4"}, coords=(200.0, 33.7)),
        _feature({**GSI_SITE, "共通ID": "S5"}, coords=("130.7", "33.7")),
        _feature({"施設・場所名": "no id", "洪水": "1"}),
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": []},
            "properties": GSI_SITE,
        },
    ]
    path = _write(tmp_path, "sites.geojson", _collection(features))
    found = {(e.line, e.column) for e in _errors([path])}
    assert found == {
        (1, "洪水"),
        (2, "geometry"),
        (3, "location"),
        (4, "geometry"),
        (5, "id"),
        (6, "geometry"),
    }


def test_truncated_and_empty_geojson(tmp_path: Path, data_dir: Path) -> None:
    real = (data_dir / "shelters" / EVAC_FILE).read_bytes()
    cut = tmp_path / "cut.geojson"
    cut.write_bytes(real[: len(real) // 2])
    (err,) = _errors([cut])
    assert err.line == -1 and "not valid JSON at line" in err.message
    empty = _write(tmp_path, "empty.geojson", _collection([]))
    assert "no features" in _errors([empty])[0].message


def test_geojson_in_another_crs_is_refused(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::6677"}},
        "features": [_feature(GSI_SITE)],
    }
    path = _write(tmp_path, "jgd.geojson", json.dumps(doc))
    assert "6677" in _errors([path])[0].message


def test_paths_that_do_not_exist_or_are_not_shelter_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty_dir").mkdir()
    errors = _errors([tmp_path / "missing.csv", tmp_path / "notes.txt", tmp_path / "empty_dir"])
    assert len(errors) == 3


def test_csv_without_coordinate_columns_is_refused_at_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "nocoord.csv", "id,name,kind\nA,a,指定避難所\n")
    assert {(e.line, e.column) for e in _errors([path])} == {(1, "lat"), (1, "lon")}


def test_geojson_must_be_utf8(tmp_path: Path) -> None:
    doc = _collection([_feature(GSI_SITE)])
    path = _write(tmp_path, "sjis.geojson", doc, "cp932")
    (err,) = _errors([path])
    assert "must be UTF-8" in err.message


def test_unknown_columns_and_same_role_twins_warn(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "w.csv",
        "id,name,address,lat,lon,kind,memo\n"
        "A,a,x,33.7,130.7,指定避難所,m\nB,a,x,33.7,130.7,指定避難所,m\n",
    )
    parsed = parse_shelter_inputs([path])
    assert [s.source_ids for s in parsed.shelters] == [("A", "B")]
    assert sorted(w.column for w in parsed.warnings) == ["kind", "memo"]
