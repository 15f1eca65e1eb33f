"""#7 item 18: zones in a CRS they are not in, and unclosed rings.

On main a GeoJSON in degrees declared as EPSG:6670 imported as a centimetre-sized polygon
at the zone origin (exit 0), and an unclosed ring crashed with a GEOS traceback (exit 1,
no JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box

from alertsvc.errors import ZoneDataError
from alertsvc.geo.zone_import import read_zones
from tests.clirun import run_cli

NOGATA = box(130.725, 33.745, 130.728, 33.748)
SQUARE = [[130.73, 33.74], [130.74, 33.74], [130.74, 33.75], [130.73, 33.75]]


def _geojson(tmp_path: Path, rings: list[list[list[float]]], crs: str | None = None) -> Path:
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"A31a_205": 2},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
            for ring in rings
        ],
    }
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("crs", ["urn:ogc:def:crs:EPSG::6670", "urn:ogc:def:crs:EPSG::3857"])
def test_degrees_declared_as_projected_crs_are_refused(tmp_path: Path, crs: str) -> None:
    path = _geojson(tmp_path, [[*SQUARE, SQUARE[0]]], crs=crs)
    with pytest.raises(ZoneDataError) as info:
        read_zones(path)
    [error] = info.value.errors
    assert (error.line, error.column) == (0, "geometry")
    assert "degrees" in error.message and "projected" in error.message


def test_degrees_with_crs_option_are_refused(tmp_path: Path) -> None:
    path = _geojson(tmp_path, [[*SQUARE, SQUARE[0]]])
    with pytest.raises(ZoneDataError, match="problem"):
        read_zones(path, crs="EPSG:6670")


def test_metres_outside_the_declared_zones_area_of_use_are_refused(tmp_path: Path) -> None:
    # 600 km east of zone II's origin: inside Japan's box, far outside Kyushu
    ring = [[600000, 0], [601000, 0], [601000, 1000], [600000, 1000], [600000, 0]]
    path = _geojson(tmp_path, [ring], crs="urn:ogc:def:crs:EPSG::6670")
    with pytest.raises(ZoneDataError) as info:
        read_zones(path)
    [error] = info.value.errors
    assert error.line == 0 and "area of use of EPSG:6670" in error.message


def test_real_plane_rectangular_zone_still_reads(tmp_path: Path) -> None:
    t = Transformer.from_crs("EPSG:4326", "EPSG:6670", always_xy=True)
    geom = shapely.transform(NOGATA, t.transform, interleaved=False)
    ring = [list(p) for p in geom.exterior.coords]
    zf = read_zones(_geojson(tmp_path, [ring], crs="urn:ogc:def:crs:EPSG::6670"))
    got = shapely.normalize(zf.features[0].geometry)
    assert shapely.equals_exact(got, shapely.normalize(NOGATA), tolerance=1e-7)


def test_unclosed_ring_is_closed_with_a_warning_per_feature(tmp_path: Path) -> None:
    path = _geojson(tmp_path, [[*SQUARE, SQUARE[0]], SQUARE])
    zf = read_zones(path)
    assert len(zf.features) == 2
    assert zf.features[1].geometry.equals(zf.features[0].geometry)
    assert [(w.line, w.column) for w in zf.warnings if w.line >= 0] == [(1, "geometry")]
    assert "not closed" in next(w for w in zf.warnings if w.line == 1).message


def test_ring_that_cannot_be_closed_is_refused_with_its_index(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = _geojson(tmp_path, [[*SQUARE, SQUARE[0]], [*SQUARE, SQUARE[0]], SQUARE[:2]])
    result = run_cli(["zones", "import", str(path), "--set", "x", "--json"], cli_env)
    assert result.exit_code == 3, result.stderr
    doc = result.json()  # exactly one JSON document on stdout
    assert doc["written"] is False
    assert [(e["line"], e["column"]) for e in doc["errors"]] == [(2, "geometry")]
    assert "Traceback" not in result.stderr


def test_unclosed_ring_cli_exit_0_one_json(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = _geojson(tmp_path, [SQUARE])
    result = run_cli(["zones", "import", str(path), "--set", "x", "--json"], cli_env)
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert (doc["added"], doc["written"]) == (1, True)
    assert any(w["line"] == 0 and "not closed" in w["message"] for w in doc["warnings"])
