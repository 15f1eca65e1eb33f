"""Generate the SYNTHETIC demo flood zones for 直方市 (Nogata, Fukuoka) on the 遠賀川.

These polygons are made up from distance to an approximate river centreline. They are NOT
an official hazard map (洪水浸水想定区域図) and must never be used for real decisions.

Writes, deterministically for a given ``--seed``:

* ``zones/nogata_flood_synthetic.geojson`` — inundation bands, integer ``depth_rank`` 1–4
  (A31a ranks), cut into west/east bank (左岸/右岸) and south/central/north sections.
* ``zones/nogata_house_collapse_synthetic.geojson`` — 家屋倒壊等氾濫想定区域 (河岸侵食)
  strips about 60 m wide along both banks.

Distances are computed in JGD2011 / plane rectangular CS II (EPSG:6670, metres) and the
result is written in EPSG:4326 (lon, lat) rounded to 6 decimals (about 0.1 m).

Usage: ``.venv/bin/python scripts/gen_demo_zones.py [--seed 2024] [--out zones]``
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry

# Approximate 遠賀川 centreline through 直方市, south to north (lon, lat). The river flows
# north, so the left bank (左岸) is the west bank and the right bank (右岸) the east bank.
CENTRELINE: list[tuple[float, float]] = [
    (130.733, 33.700),
    (130.731, 33.720),
    (130.7305, 33.741),
    (130.727, 33.760),
    (130.724, 33.780),
    (130.720, 33.795),
]
CITY_EXTENT = (130.69, 33.70, 130.78, 33.80)  # min lon, min lat, max lon, max lat
CHANNEL_HALF_WIDTH_M = 50.0  # the river itself is not an inundation zone
HOUSE_COLLAPSE_WIDTH_M = 60.0
# rank -> outer distance (m) from the centreline; each band starts where the deeper one ends
BANDS_M: list[tuple[int, float]] = [(4, 130.0), (3, 320.0), (2, 700.0), (1, 1200.0)]
SECTIONS: list[tuple[str, str, float, float]] = [
    ("south", "南部", 33.700, 33.735),
    ("central", "中部", 33.735, 33.770),
    ("north", "北部", 33.770, 33.800),
]
BANKS: list[tuple[str, str]] = [("west", "左岸"), ("east", "右岸")]
NOTICE = (
    "合成データ・公式の浸水想定区域図ではありません / "
    "SYNTHETIC demo data, not an official hazard map"
)

_TO_M = Transformer.from_crs("EPSG:4326", "EPSG:6670", always_xy=True)
_TO_DEG = Transformer.from_crs("EPSG:6670", "EPSG:4326", always_xy=True)


def _to_m(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, _TO_M.transform, interleaved=False)


def _to_deg(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, _TO_DEG.transform, interleaved=False)


def _river_m() -> LineString:
    """The centreline in metres, extended 3 km past both ends so buffers do not round off
    inside the city."""
    line = _to_m(LineString(CENTRELINE))
    assert isinstance(line, LineString)
    (x0, y0), (x1, y1) = line.coords[0], line.coords[1]
    (xa, ya), (xb, yb) = line.coords[-2], line.coords[-1]

    def ext(px: float, py: float, qx: float, qy: float) -> tuple[float, float]:
        dx, dy = px - qx, py - qy
        n = (dx * dx + dy * dy) ** 0.5
        return px + dx / n * 3000.0, py + dy / n * 3000.0

    return LineString([ext(x0, y0, x1, y1), *line.coords, ext(xb, yb, xa, ya)])


def _west_half_m(river: LineString) -> Polygon:
    """Everything west of the (extended) centreline, closed far to the west."""
    coords = list(river.coords)
    far = min(x for x, _ in coords) - 50_000.0
    return Polygon([(far, coords[0][1]), *coords, (far, coords[-1][1])])


def _cut(geom_m: BaseGeometry, section: BaseGeometry) -> BaseGeometry:
    """Reproject to degrees, then cut along exact parallels on the 1e-6 degree grid, so that
    neighbouring sections share their boundary exactly (cutting in metres would give a
    slightly curved boundary whose rounding makes sliver overlaps)."""
    deg = shapely.intersection(_to_deg(geom_m), section, grid_size=1e-6)
    return _polygonal(deg, 0.0)


def _polygonal(geom: BaseGeometry, min_area: float = 1.0) -> BaseGeometry:
    """Keep only polygon parts (intersections can leave slivers of lines or points)."""
    parts = [
        g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and g.area > min_area
    ]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


class _Snapper:
    """Round to a 1e-6 degree grid (small files) without creating overlaps: rounding each
    band on its own would let neighbours overlap by slivers, so each new polygon has the
    already emitted ones subtracted on the same grid."""

    def __init__(self) -> None:
        self.done: BaseGeometry = Polygon()

    def __call__(self, geom: BaseGeometry) -> BaseGeometry:
        out = shapely.set_precision(geom, 1e-6)
        out = _polygonal(shapely.difference(out, self.done, grid_size=1e-6), 0.0)
        assert out.is_valid and not out.is_empty
        self.done = shapely.union(self.done, out, grid_size=1e-6)
        return out


def _feature(geom: BaseGeometry, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def _collection(name: str, features: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "name": name,
        # named explicitly so importers never have to assume the CRS
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}},
        "features": features,
    }


def build(seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the (inundation, house-collapse) FeatureCollections."""
    rng = random.Random(seed)
    river = _river_m()
    west = _west_half_m(river)
    channel = river.buffer(CHANNEL_HALF_WIDTH_M)

    flood: list[dict[str, Any]] = []
    collapse: list[dict[str, Any]] = []
    snap_flood, snap_collapse = _Snapper(), _Snapper()
    for sec_key, sec_ja, lat0, lat1 in SECTIONS:
        section = box(CITY_EXTENT[0], lat0, CITY_EXTENT[2], lat1)
        # per-section jitter of up to ±8 % makes the bands less uniform, reproducibly
        scale = 1.0 + rng.uniform(-0.08, 0.08)
        for bank_key, bank_ja in BANKS:
            inner = channel
            for rank, outer_m in BANDS_M:
                outer = river.buffer(outer_m * scale)
                band = outer.difference(inner)
                band = band.intersection(west) if bank_key == "west" else band.difference(west)
                geom = _cut(band, section)
                inner = outer
                if geom.is_empty:
                    continue
                flood.append(
                    _feature(
                        snap_flood(geom),
                        {
                            "name": f"遠賀川 {bank_ja} {sec_ja} 浸水ランク{rank}（合成）",
                            "depth_rank": rank,
                            "bank": bank_key,
                            "section": sec_key,
                            "synthetic": True,
                            "notice": NOTICE,
                        },
                    )
                )
            strip = river.buffer(CHANNEL_HALF_WIDTH_M + HOUSE_COLLAPSE_WIDTH_M).difference(channel)
            strip = strip.intersection(west) if bank_key == "west" else strip.difference(west)
            geom = _cut(strip, section)
            if not geom.is_empty:
                collapse.append(
                    _feature(
                        snap_collapse(geom),
                        {
                            "name": f"遠賀川 {bank_ja} {sec_ja} "
                            "家屋倒壊等氾濫想定区域（河岸侵食・合成）",
                            "bank": bank_key,
                            "section": sec_key,
                            "synthetic": True,
                            "notice": NOTICE,
                        },
                    )
                )
    return (
        _collection("nogata_flood_synthetic", flood),
        _collection("nogata_house_collapse_synthetic", collapse),
    )


def _write(path: Path, doc: dict[str, Any]) -> None:
    # one feature per line: small diffs when regenerated, still valid JSON
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in doc["features"]]
    head = {k: v for k, v in doc.items() if k != "features"}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n'
    text += ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "zones"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    flood, collapse = build(args.seed)
    _write(args.out / "nogata_flood_synthetic.geojson", flood)
    _write(args.out / "nogata_house_collapse_synthetic.geojson", collapse)
    print(
        f"wrote {len(flood['features'])} inundation and "
        f"{len(collapse['features'])} house-collapse features to {args.out}"
    )


if __name__ == "__main__":
    main()
