"""Reading zone files: every format, CRS handling, and bad input with precise errors.

Samples are the committed excerpts in tests/data/zones (see tests/data/SOURCES.md) and
files built here with geopandas/pyogrio in tmp_path.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box

from alertsvc.errors import RowError, ZoneDataError
from alertsvc.geo.zone_import import read_zones
from alertsvc.models import ZoneKind

REPO = Path(__file__).resolve().parents[2]
DEMO_FLOOD = REPO / "zones" / "nogata_flood_synthetic.geojson"
DEMO_COLLAPSE = REPO / "zones" / "nogata_house_collapse_synthetic.geojson"

# two small squares in 直方市, lon/lat (EPSG:4326)
NOGATA_A = box(130.725, 33.745, 130.728, 33.748)
NOGATA_B = box(130.735, 33.755, 130.739, 33.758)


def _frame(crs: str, props: dict[str, list[Any]], geoms: list[Any]) -> gpd.GeoDataFrame:
    """Build a frame in ``crs`` from lon/lat geometries (reprojected with pyproj)."""
    t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    projected = [shapely.transform(g, t.transform, interleaved=False) for g in geoms]
    return gpd.GeoDataFrame(props, geometry=projected, crs=crs)


def _zip_shapefile(
    tmp_path: Path,
    frame: gpd.GeoDataFrame,
    encoding: str,
    *,
    keep_cpg: bool = True,
    keep_prj: bool = True,
) -> Path:
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir(exist_ok=True)
    frame.to_file(shp_dir / "zones.shp", encoding=encoding)
    out = tmp_path / "zones.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            part = shp_dir / f"zones.{ext}"
            if (ext == "cpg" and not keep_cpg) or (ext == "prj" and not keep_prj):
                continue
            if part.exists():
                zf.write(part, f"zones.{ext}")
    return out


def _geojson(tmp_path: Path, features: list[dict[str, Any]], crs: str | None = None) -> Path:
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _feature(geometry: Any, **props: Any) -> dict[str, Any]:
    geo = geometry if isinstance(geometry, dict | None) else shapely.geometry.mapping(geometry)
    return {"type": "Feature", "properties": props, "geometry": geo}


def _errors(exc: pytest.ExceptionInfo[ZoneDataError]) -> list[RowError]:
    return exc.value.errors


def _close(a: Any, b: Any, tol: float = 1e-7) -> bool:
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=tol))


# --- formats ------------------------------------------------------------------------------


def test_demo_flood_zones_read_with_ranks_1_to_4() -> None:
    zf = read_zones(DEMO_FLOOD)
    assert zf.source_crs == "EPSG:4326" and zf.depth_field == "depth_rank"
    assert {f.depth_rank for f in zf.features} == {1, 2, 3, 4}
    assert [f.index for f in zf.features] == list(range(len(zf.features)))
    raw = json.loads(DEMO_FLOOD.read_text(encoding="utf-8"))["features"]
    assert len(raw) == len(zf.features)
    for f, r in zip(zf.features, raw, strict=True):
        assert f.name == r["properties"]["name"]
        assert _close(f.geometry, shapely.geometry.shape(r["geometry"]), 1e-9)


def test_demo_house_collapse_has_no_depth() -> None:
    zf = read_zones(DEMO_COLLAPSE, kind=ZoneKind.HOUSE_COLLAPSE)
    assert zf.depth_field is None and zf.features
    assert all(f.depth_rank is None for f in zf.features)


def test_demo_zones_do_not_overlap() -> None:
    zf = read_zones(DEMO_FLOOD)
    geoms = [f.geometry for f in zf.features]
    for i, a in enumerate(geoms):
        for b in geoms[i + 1 :]:
            assert a.intersection(b).area == 0


def test_plateau_citygml_lat_lon_order_lands_in_numazu(data_dir: Path) -> None:
    zf = read_zones(data_dir / "zones" / "plateau_numazu_kanogawa_excerpt.gml")
    assert zf.source_crs == "EPSG:6668"  # horizontal part of EPSG:6697
    assert zf.depth_field == "浸水ランク"
    assert [f.depth_rank for f in zf.features] == [1, 1, 1, 1, 1, 2, 3]
    for f in zf.features:
        min_lon, min_lat, max_lon, max_lat = f.geometry.bounds
        # the file says lat 35.100–35.1025, lon 138.8595–138.8625: not swapped
        assert 35.0999 < min_lat <= max_lat < 35.1026
        assert 138.8594 < min_lon <= max_lon < 138.8626
        assert f.geometry.is_valid and f.geometry.area > 0
        assert f.name.startswith("狩野川水系狩野川洪水浸水想定区域図")
        assert f.properties["gml_id"].startswith("wtr_")


def test_geopackage_in_plane_rectangular_crs_is_reprojected(tmp_path: Path) -> None:
    path = tmp_path / "zones.gpkg"
    _frame(
        "EPSG:6670", {"A31a_205": [2, 4], "名称": ["区域A", "区域B"]}, [NOGATA_A, NOGATA_B]
    ).to_file(path, driver="GPKG")
    zf = read_zones(path)
    assert zf.source_crs == "EPSG:6670" and zf.depth_field == "A31a_205"
    assert [f.depth_rank for f in zf.features] == [2, 4]
    assert [f.name for f in zf.features] == ["区域A", "区域B"]
    assert _close(zf.features[0].geometry, NOGATA_A)
    assert _close(zf.features[1].geometry, NOGATA_B)


def test_zipped_shapefile_cp932_with_cpg(tmp_path: Path) -> None:
    frame = _frame("EPSG:6670", {"depth_rank": [3], "名称": ["遠賀川　浸水区域"]}, [NOGATA_A])
    path = _zip_shapefile(tmp_path, frame, "cp932")
    zf = read_zones(path)
    assert zf.features[0].name == "遠賀川　浸水区域"
    assert zf.features[0].properties["名称"] == "遠賀川　浸水区域"
    assert _close(zf.features[0].geometry, NOGATA_A)
    assert not zf.warnings


@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
def test_zipped_shapefile_without_cpg_detects_encoding_and_says_so(
    tmp_path: Path, encoding: str
) -> None:
    frame = _frame("EPSG:6670", {"depth_rank": [1], "名称": ["直方市 須崎町"]}, [NOGATA_B])
    path = _zip_shapefile(tmp_path, frame, encoding, keep_cpg=False)
    zf = read_zones(path)
    assert zf.features[0].name == "直方市 須崎町"
    expected = "CP932" if encoding == "cp932" else "UTF-8"
    assert any(f"read as {expected}" in w.message for w in zf.warnings)


@pytest.mark.parametrize("crs", ["EPSG:4301", "EPSG:4612"])  # Tokyo datum, JGD2000
def test_shapefile_in_old_japanese_datums_is_shifted_to_wgs84(tmp_path: Path, crs: str) -> None:
    frame = _frame(crs, {"depth_rank": [2]}, [NOGATA_A])
    zf = read_zones(_zip_shapefile(tmp_path, frame, "utf-8"))
    assert zf.source_crs == crs
    assert _close(zf.features[0].geometry, NOGATA_A, 1e-6)
    if crs == "EPSG:4301":
        # the Tokyo datum differs from WGS 84 by roughly 400 m here: a real shift happened
        raw = frame.geometry.iloc[0]
        assert abs(raw.centroid.x - NOGATA_A.centroid.x) > 0.002


def test_geojson_crs_member_in_plane_rectangular_crs(tmp_path: Path) -> None:
    t = Transformer.from_crs("EPSG:4326", "EPSG:6670", always_xy=True)
    geom = shapely.transform(NOGATA_A, t.transform, interleaved=False)
    path = _geojson(tmp_path, [_feature(geom, depth_m=1.2)], crs="urn:ogc:def:crs:EPSG::6670")
    zf = read_zones(path)
    assert zf.source_crs == "EPSG:6670"
    f = zf.features[0]
    assert (f.depth_rank, f.depth_m) == (2, 1.2)
    assert _close(f.geometry, NOGATA_A)


def test_file_without_crs_is_read_with_explicit_crs(tmp_path: Path) -> None:
    frame = _frame("EPSG:6670", {"depth_rank": [2]}, [NOGATA_A])
    path = _zip_shapefile(tmp_path, frame, "utf-8", keep_prj=False)
    zf = read_zones(path, crs="EPSG:6670")
    assert zf.source_crs == "EPSG:6670"
    assert _close(zf.features[0].geometry, NOGATA_A)


def test_depth_field_override_and_z_coordinates_dropped(tmp_path: Path) -> None:
    ring = [(x, y, 5.0) for x, y in NOGATA_A.exterior.coords]
    path = _geojson(tmp_path, [_feature(Polygon(ring), depth_rank=1, my_rank="3")])
    zf = read_zones(path, depth_field="my_rank")
    assert zf.depth_field == "my_rank" and zf.features[0].depth_rank == 3
    assert not zf.features[0].geometry.has_z


def test_repairable_invalid_geometry_is_repaired_and_reported(tmp_path: Path) -> None:
    bowtie = Polygon([(130.72, 33.74), (130.73, 33.75), (130.73, 33.74), (130.72, 33.75)])
    path = _geojson(tmp_path, [_feature(NOGATA_A, depth_rank=1), _feature(bowtie, depth_rank=2)])
    zf = read_zones(path)
    assert zf.features[1].geometry.is_valid
    assert zf.features[1].geometry.area == pytest.approx(bowtie.buffer(0).area * 2, rel=0.01)
    [warning] = zf.warnings
    assert (
        warning.line == 1
        and "repaired" in warning.message
        and "Self-intersection" in warning.message
    )


# --- bad input: one error per bad feature, with its index -----------------------------------


def test_unrepairable_empty_and_non_polygon_geometries_all_reported(tmp_path: Path) -> None:
    flat = Polygon([(130.72, 33.74), (130.73, 33.74), (130.74, 33.74), (130.72, 33.74)])
    path = _geojson(
        tmp_path,
        [
            _feature(NOGATA_A, depth_rank=1),
            _feature(flat, depth_rank=1),
            _feature(None, depth_rank=2),
            _feature({"type": "Polygon", "coordinates": []}, depth_rank=2),
            _feature(shapely.Point(130.73, 33.75), depth_rank=2),
            _feature(NOGATA_B, depth_rank=9),
        ],
    )
    with pytest.raises(ZoneDataError) as exc:
        read_zones(path)
    by_line = {e.line: e for e in _errors(exc)}
    assert sorted(by_line) == [1, 2, 3, 4, 5]
    assert "cannot be repaired" in by_line[1].message
    assert "empty geometry" in by_line[2].message
    assert "empty geometry" in by_line[3].message
    assert "Point" in by_line[4].message and "Polygon" in by_line[4].message
    assert by_line[5].column == "depth_rank" and "9" in by_line[5].message
    assert "nothing was imported" in exc.value.message


def test_missing_crs_is_refused_never_guessed(tmp_path: Path) -> None:
    frame = _frame("EPSG:6670", {"depth_rank": [2]}, [NOGATA_A])
    path = _zip_shapefile(tmp_path, frame, "utf-8", keep_prj=False)
    with pytest.raises(ZoneDataError, match=r"no CRS.*--crs EPSG:"):
        read_zones(path)


def test_crs_option_contradicting_the_file_is_refused(tmp_path: Path) -> None:
    frame = _frame("EPSG:6670", {"depth_rank": [2]}, [NOGATA_A])
    path = _zip_shapefile(tmp_path, frame, "utf-8")
    with pytest.raises(ZoneDataError, match=r"--crs EPSG:6669 contradicts .* EPSG:6670"):
        read_zones(path, crs="EPSG:6669")
    assert read_zones(path, crs="EPSG:6670").source_crs == "EPSG:6670"  # agreeing is fine


def test_wrong_plane_zone_lands_outside_japan_and_is_refused(tmp_path: Path) -> None:
    # a plane-rectangular file given without CRS and mislabelled as lon/lat
    frame = _frame("EPSG:6670", {"depth_rank": [2]}, [NOGATA_A])
    path = _zip_shapefile(tmp_path, frame, "utf-8", keep_prj=False)
    with pytest.raises(ZoneDataError) as exc:
        read_zones(path, crs="EPSG:4326")
    [err] = _errors(exc)
    assert err.line == 0 and "outside Japan" in err.message


def test_swapped_lat_lon_in_4326_refused_with_feature_index(tmp_path: Path) -> None:
    swapped = shapely.transform(NOGATA_B, lambda xy: xy[:, ::-1])
    path = _geojson(tmp_path, [_feature(NOGATA_A, depth_rank=1), _feature(swapped, depth_rank=1)])
    with pytest.raises(ZoneDataError) as exc:
        read_zones(path)
    [err] = _errors(exc)
    assert err.line == 1 and err.column == "geometry"
    assert "outside Japan" in err.message and "swapped" in err.message


def test_zones_outside_japan_refused(data_dir: Path) -> None:
    path = data_dir / "zones" / "fema_vernonia_excerpt.geojson"
    with pytest.raises(ZoneDataError) as exc:
        read_zones(path, kind=ZoneKind.HOUSE_COLLAPSE)
    assert [e.line for e in _errors(exc)] == [0, 1, 2]
    assert all("outside Japan" in e.message for e in _errors(exc))


def test_empty_file_and_empty_collection(tmp_path: Path) -> None:
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    with pytest.raises(ZoneDataError, match="empty"):
        read_zones(empty)
    with pytest.raises(ZoneDataError, match="no features"):
        read_zones(_geojson(tmp_path, []))


def test_truncated_geojson_names_line_and_column(tmp_path: Path) -> None:
    text = DEMO_FLOOD.read_text(encoding="utf-8")
    path = tmp_path / "cut.geojson"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(ZoneDataError, match=r"not valid JSON at line \d+, column \d+"):
        read_zones(path)


def test_truncated_citygml_names_line(tmp_path: Path, data_dir: Path) -> None:
    data = (data_dir / "zones" / "plateau_numazu_kanogawa_excerpt.gml").read_bytes()
    path = tmp_path / "cut.gml"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ZoneDataError, match=r"not well-formed XML at line \d+"):
        read_zones(path)


def test_truncated_zip_and_geopackage(tmp_path: Path) -> None:
    frame = _frame("EPSG:6670", {"depth_rank": [2]}, [NOGATA_A])
    data = _zip_shapefile(tmp_path, frame, "utf-8").read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ZoneDataError, match="zip"):
        read_zones(cut)
    gpkg = tmp_path / "z.gpkg"
    frame.to_file(gpkg, driver="GPKG")
    cut_gpkg = tmp_path / "cut.gpkg"
    cut_gpkg.write_bytes(gpkg.read_bytes()[:1000])
    with pytest.raises(ZoneDataError, match="cannot read"):
        read_zones(cut_gpkg)


def test_citygml_bad_coordinates_name_the_feature(tmp_path: Path, data_dir: Path) -> None:
    text = (data_dir / "zones" / "plateau_numazu_kanogawa_excerpt.gml").read_text("utf-8")
    first = text.index("<gml:posList>") + len("<gml:posList>")
    second = text.index("<gml:posList>", text.index("</wtr:WaterBody>")) + len("<gml:posList>")
    # break the second WaterBody only: a coordinate list one number short
    broken = text[:second] + "35.1 " + text[second:]
    path = tmp_path / "bad.gml"
    path.write_text(broken, "utf-8")
    with pytest.raises(ZoneDataError) as exc:
        read_zones(path)
    [err] = _errors(exc)
    assert err.line == 1 and "srsDimension 3" in err.message
    assert first < second


def test_citygml_external_entities_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.gml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0">&e;</core:CityModel>',
        "utf-8",
    )
    with pytest.raises(ZoneDataError, match="unsafe XML"):
        read_zones(path)


def test_missing_depth_field_and_unknown_override(tmp_path: Path) -> None:
    path = _geojson(tmp_path, [_feature(NOGATA_A, zone="AE")])
    with pytest.raises(ZoneDataError, match=r"no depth field .*--depth-field"):
        read_zones(path)
    with pytest.raises(ZoneDataError, match=r"--depth-field 'rank' is not a field.*zone"):
        read_zones(path, depth_field="rank")
    # a house-collapse set needs no depth
    assert read_zones(path, kind=ZoneKind.HOUSE_COLLAPSE).features[0].depth_rank is None


def test_inundation_feature_without_depth_value_is_an_error(tmp_path: Path) -> None:
    path = _geojson(
        tmp_path, [_feature(NOGATA_A, depth_rank=1), _feature(NOGATA_B, depth_rank=None)]
    )
    with pytest.raises(ZoneDataError) as exc:
        read_zones(path)
    [err] = _errors(exc)
    assert (err.line, err.column) == (1, "depth_rank") and "missing" in err.message


def test_geopackage_with_two_layers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    frame = _frame("EPSG:6670", {"depth_rank": [2]}, [NOGATA_A])
    frame.to_file(path, layer="a", driver="GPKG")
    frame.to_file(path, layer="b", driver="GPKG")
    with pytest.raises(ZoneDataError, match=r"exactly one layer \(found: a, b\)"):
        read_zones(path)


def test_geojson_without_crs_member_is_rfc7946_lon_lat_unless_crs_given(tmp_path: Path) -> None:
    t = Transformer.from_crs("EPSG:4326", "EPSG:6670", always_xy=True)
    metres = shapely.transform(NOGATA_A, t.transform, interleaved=False)
    path = _geojson(tmp_path, [_feature(metres, depth_rank=2)])
    # read as RFC 7946 lon/lat, plane-rectangular metres are far outside Japan: refused
    with pytest.raises(ZoneDataError) as exc:
        read_zones(path)
    assert "outside Japan" in _errors(exc)[0].message
    # the file declares nothing, so --crs is a declaration, not an override
    zf = read_zones(path, crs="EPSG:6670")
    assert zf.source_crs == "EPSG:6670" and _close(zf.features[0].geometry, NOGATA_A)
    assert read_zones(_geojson(tmp_path, [_feature(NOGATA_A, depth_rank=1)])).source_crs == (
        "EPSG:4326"
    )


def test_zip_with_damaged_shapefile_inside(tmp_path: Path) -> None:
    path = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("z.shp", b"\x00\x00\x27\x0a" + b"garbage" * 20)
        zf.writestr("z.shx", b"garbage")
        zf.writestr("z.dbf", b"garbage")
    with pytest.raises(ZoneDataError, match=r"damaged\.zip: cannot read as a zone file"):
        read_zones(path)


def test_zip_without_exactly_one_shapefile(tmp_path: Path) -> None:
    path = tmp_path / "none.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "no shapefile here")
    with pytest.raises(ZoneDataError, match=r"exactly one \.shp file \(found: none\)"):
        read_zones(path)
