"""Targeting on real data: FEMA flood zones and floodplain structures of Vernonia, Oregon.

Every structure's targeting result must equal an independent brute-force computation:
each structure against each zone with plain shapely predicates, and the tolerance measured
after projecting each zone on its own (``shapely.transform`` with pyproj) and each structure
point by point into UTM zone 10N.
Data: tests/data/vernonia (see tests/data/SOURCES.md; public domain / MIT).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, shape

from alertsvc.geo.targeting import find_targets
from alertsvc.models import ResidentInfo, Target, ZoneInfo, ZoneKind

DATA = Path(__file__).parent.parent / "data" / "vernonia"
UTM10N = "EPSG:32610"  # metres; Vernonia is at 123.2°W
# FEMA zone -> (kind, depth rank): the regulatory floodway (fast flow) plays the part of a
# 家屋倒壊等氾濫想定区域, zone X (0.2 % annual chance) the shallowest rank.
FEMA = {
    "X": (ZoneKind.INUNDATION, 1),
    "A": (ZoneKind.INUNDATION, None),  # approximate zone: no depth determined
    "AE": (ZoneKind.INUNDATION, 2),
    "AE Floodway": (ZoneKind.HOUSE_COLLAPSE, 3),
}


def load() -> tuple[list[ZoneInfo], list[ResidentInfo], list[dict[str, object]]]:
    zones_fc = json.loads((DATA / "flood-zones.geojson").read_text(encoding="utf-8"))
    structs_fc = json.loads((DATA / "floodplain-structures.geojson").read_text(encoding="utf-8"))
    zones = []
    for i, f in enumerate(zones_fc["features"]):
        kind, rank = FEMA[f["properties"]["zone"]]
        zones.append(ZoneInfo(f"fema-{i:02d}", "vernonia", kind, rank, shape(f["geometry"])))
    residents = []
    props = []
    for i, f in enumerate(structs_fc["features"]):
        lon, lat = f["geometry"]["coordinates"][:2]
        residents.append(
            ResidentInfo(id=f"s{i:03d}", name="-", address="-", lat=float(lat), lon=float(lon))
        )
        props.append(f["properties"])
    return zones, residents, props


def brute_force(
    residents: list[ResidentInfo], zones: list[ZoneInfo], tolerance_m: float
) -> list[Target]:
    tr = Transformer.from_crs("EPSG:4326", UTM10N, always_xy=True)

    def project(c):
        return np.column_stack(tr.transform(c[:, 0], c[:, 1]))

    metric_zones = [shapely.transform(z.geometry, project) for z in zones]
    out = []
    for r in residents:
        assert r.lon is not None and r.lat is not None
        p = Point(r.lon, r.lat)
        mp = Point(*tr.transform(r.lon, r.lat))
        inside = [z for z in zones if z.geometry.intersects(p)]
        near = [
            z
            for z, mz in zip(zones, metric_zones, strict=True)
            if z not in inside and mz.distance(mp) <= tolerance_m
        ]
        hit = inside + near
        if not hit:
            continue
        ranks = [z.depth_rank for z in hit if z.depth_rank is not None]
        out.append(
            Target(
                resident=r,
                zone_ids=tuple(sorted({z.id for z in hit})),
                depth_rank=max(ranks) if ranks else None,
                house_collapse=any(z.kind is ZoneKind.HOUSE_COLLAPSE for z in hit),
                edge_only=not inside,
            )
        )
    return out


@pytest.mark.parametrize("tolerance_m", [0.0, 30.0, 100.0])
def test_every_structure_matches_brute_force(tolerance_m):
    zones, residents, _ = load()
    result = find_targets(residents, zones, tolerance_m=tolerance_m, metric_crs=UTM10N)
    expected = brute_force(residents, zones, tolerance_m)
    assert list(result.targets) == expected
    assert result.unlocated == ()
    # the scenario is not trivial: most structures are hit, some only by the tolerance
    assert len(expected) > 250
    if tolerance_m >= 30:
        assert any(t.edge_only for t in expected)
        assert any(len(t.zone_ids) > 1 for t in expected)


def test_structures_agree_with_their_own_fema_labels():
    # Independent of our code: the city's survey labels each structure with its zone. An
    # axis-order or CRS mistake would make this collapse; the data has a few disagreements
    # (surveyed against an older map), so we require a large majority, not all.
    zones, residents, props = load()
    result = find_targets(residents, zones, tolerance_m=0.0, metric_crs=UTM10N)
    by_id = {t.resident.id: t for t in result.targets}
    zone_name = {z.id: k for z, k in zip(zones, _fema_names(), strict=True)}
    labelled_ae = [
        r for r, p in zip(residents, props, strict=True) if str(p["flood_zone"])[:2] == "AE"
    ]
    agree = sum(
        1
        for r in labelled_ae
        if r.id in by_id and any(zone_name[z].startswith("A") for z in by_id[r.id].zone_ids)
    )
    assert len(labelled_ae) > 200
    assert agree / len(labelled_ae) > 0.9


def _fema_names() -> list[str]:
    fc = json.loads((DATA / "flood-zones.geojson").read_text(encoding="utf-8"))
    return [f["properties"]["zone"] for f in fc["features"]]


def test_unlocated_structure_is_reported_not_dropped():
    zones, residents, _ = load()
    lost = ResidentInfo(id="lost", name="-", address="-", lat=None, lon=None)
    result = find_targets([*residents[:10], lost], zones, metric_crs=UTM10N)
    assert result.unlocated == (lost,)
