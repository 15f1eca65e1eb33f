"""find_targets / join_points: boundaries, holes, overlaps, the tolerance band, scopes."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box

from alertsvc.geo.targeting import find_targets, join_points
from alertsvc.models import ResidentInfo, ZoneInfo, ZoneKind

# Zones are drawn in EPSG:6670 metres (so "20 m outside" means exactly that) and converted
# to lon/lat, as the importer stores them. Origin: near Nogata, Fukuoka.
TO_LONLAT = Transformer.from_crs("EPSG:6670", "EPSG:4326", always_xy=True)
TO_METRIC = Transformer.from_crs("EPSG:4326", "EPSG:6670", always_xy=True)
X0, Y0 = TO_METRIC.transform(130.73, 33.74)


def ll(dx: float, dy: float) -> tuple[float, float]:
    """lon/lat of the point dx, dy metres from the origin (EPSG:6670)."""
    lon, lat = TO_LONLAT.transform(X0 + dx, Y0 + dy)
    return float(lon), float(lat)


def metric_square(x: float, y: float, size: float) -> Polygon:
    """An axis-aligned square in metres, returned in lon/lat."""
    return Polygon([ll(x, y), ll(x + size, y), ll(x + size, y + size), ll(x, y + size)])


def zone(
    zid: str,
    geom: shapely.geometry.base.BaseGeometry,
    rank: int | None = 2,
    kind: ZoneKind = ZoneKind.INUNDATION,
) -> ZoneInfo:
    return ZoneInfo(id=zid, set_name="test", kind=kind, depth_rank=rank, geometry=geom)


def res(rid: str, lonlat: tuple[float, float] | None) -> ResidentInfo:
    if lonlat is None:
        return ResidentInfo(id=rid, name="n", address="a", lat=None, lon=None)
    return ResidentInfo(id=rid, name="n", address="a", lat=lonlat[1], lon=lonlat[0])


def by_id(result):
    return {t.resident.id: t for t in result.targets}


# --- boundaries ------------------------------------------------------------------------

LL_BOX = box(130.70, 33.70, 130.71, 33.71)  # exact lon/lat coordinates: exact boundary tests


@pytest.mark.parametrize(
    "point",
    [
        (130.705, 33.70),  # bottom edge
        (130.71, 33.705),  # right edge
        (130.70, 33.70),  # vertex
        (130.71, 33.71),  # opposite vertex
    ],
)
def test_point_exactly_on_boundary_is_inside_not_edge_only(point):
    result = find_targets([res("r", point)], [zone("z", LL_BOX)], tolerance_m=0.0)
    assert [t.resident.id for t in result.targets] == ["r"]
    assert result.targets[0].zone_ids == ("z",)
    assert result.targets[0].edge_only is False
    # with a tolerance it is still a boundary hit, not a tolerance-only hit
    result = find_targets([res("r", point)], [zone("z", LL_BOX)], tolerance_m=30.0)
    assert result.targets[0].edge_only is False


def test_point_just_outside_boundary_is_not_inside_without_tolerance():
    result = find_targets([res("r", (130.7100001, 33.705))], [zone("z", LL_BOX)], tolerance_m=0)
    assert result.targets == ()


# --- holes -----------------------------------------------------------------------------


def donut() -> Polygon:
    outer = [ll(0, 0), ll(1000, 0), ll(1000, 1000), ll(0, 1000)]
    hole = [ll(300, 300), ll(700, 300), ll(700, 700), ll(300, 700)]
    return Polygon(outer, [hole])


def test_point_in_hole_is_not_a_target():
    result = find_targets([res("hole", ll(500, 500))], [zone("z", donut())], tolerance_m=30)
    assert result.targets == ()


def test_point_in_hole_near_its_edge_is_edge_only():
    # 10 m inside the hole: outside the zone, but within 30 m of the hole's ring
    result = find_targets([res("r", ll(500, 310))], [zone("z", donut())], tolerance_m=30)
    (t,) = result.targets
    assert t.edge_only is True
    assert t.zone_ids == ("z",)


def test_point_on_hole_boundary_is_inside():
    hole = [(130.702, 33.702), (130.708, 33.702), (130.708, 33.708), (130.702, 33.708)]
    poly = Polygon(LL_BOX.exterior.coords, [hole])
    result = find_targets([res("r", (130.705, 33.702))], [zone("z", poly)], tolerance_m=0)
    assert [t.edge_only for t in result.targets] == [False]


# --- overlaps, depth, house collapse ----------------------------------------------------


def test_overlapping_zones_of_different_depth_take_the_maximum():
    zones = [
        zone("b-deep", metric_square(0, 0, 500), rank=4),
        zone("a-shallow", metric_square(250, 0, 500), rank=1),
        zone("c-norank", metric_square(0, 0, 1000), rank=None),
    ]
    residents = [res("both", ll(400, 100)), res("shallow-only", ll(600, 100))]
    got = by_id(find_targets(residents, zones, tolerance_m=0))
    assert got["both"].zone_ids == ("a-shallow", "b-deep", "c-norank")
    assert got["both"].depth_rank == 4
    assert got["shallow-only"].zone_ids == ("a-shallow", "c-norank")
    assert got["shallow-only"].depth_rank == 1


def test_depth_rank_is_none_when_no_zone_has_one():
    result = find_targets([res("r", ll(50, 50))], [zone("z", metric_square(0, 0, 100), None)])
    assert result.targets[0].depth_rank is None


def test_house_collapse_flag_from_any_zone_including_tolerance_only():
    zones = [
        zone("flood", metric_square(0, 0, 1000), rank=3),
        zone("collapse", metric_square(1000, 0, 200), rank=None, kind=ZoneKind.HOUSE_COLLAPSE),
    ]
    residents = [res("deep-inside", ll(500, 500)), res("next-to-collapse", ll(980, 100))]
    got = by_id(find_targets(residents, zones, tolerance_m=30))
    assert got["deep-inside"].house_collapse is False
    assert got["next-to-collapse"].house_collapse is True
    assert got["next-to-collapse"].zone_ids == ("collapse", "flood")
    assert got["next-to-collapse"].edge_only is False  # inside "flood"
    assert got["next-to-collapse"].depth_rank == 3


def test_same_zone_id_twice_is_listed_once():
    zones = [zone("z", metric_square(0, 0, 100)), zone("z", metric_square(50, 0, 100))]
    (t,) = find_targets([res("r", ll(75, 50))], zones).targets
    assert t.zone_ids == ("z",)


# --- the tolerance band -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("dx", "tolerance", "expected"),
    [
        (20.0, 30.0, "edge"),  # 20 m outside, 30 m tolerance
        (29.0, 30.0, "edge"),
        (31.0, 30.0, None),
        (40.0, 30.0, None),
        (20.0, 0.0, None),  # no tolerance, no hit
        (20.0, 25.0, "edge"),
        (-5.0, 0.0, "inside"),  # 5 m inside
    ],
)
def test_tolerance_band_in_metres(dx, tolerance, expected):
    sq = zone("z", metric_square(0, 0, 200), rank=2)
    result = find_targets([res("r", ll(200 + dx, 100))], [sq], tolerance_m=tolerance)
    if expected is None:
        assert result.targets == ()
    else:
        (t,) = result.targets
        assert t.edge_only is (expected == "edge")
        assert t.zone_ids == ("z",)
        assert t.depth_rank == 2


def test_tolerance_is_metres_not_degrees_in_both_directions():
    # 1e-4 degree is ~9 m north-south but ~9.3 m east-west at this latitude; 25 m must mean
    # 25 m both ways, so a point 28 m away north and one 28 m away east are both out.
    sq = zone("z", metric_square(0, 0, 200))
    residents = [res("north", ll(100, 228)), res("east", ll(228, 100))]
    assert find_targets(residents, [sq], tolerance_m=25).targets == ()
    assert len(find_targets(residents, [sq], tolerance_m=30).targets) == 2


def test_tolerance_only_zone_counts_for_depth():
    zones = [
        zone("deep", metric_square(0, 0, 200), rank=5),
        zone("x", metric_square(220, 0, 200), 1),
    ]
    (t,) = find_targets([res("r", ll(230, 100))], zones, tolerance_m=30).targets
    assert t.zone_ids == ("deep", "x")
    assert t.depth_rank == 5
    assert t.edge_only is False  # inside "x"


def test_negative_or_nan_tolerance_is_rejected():
    with pytest.raises(ValueError, match="tolerance_m"):
        find_targets([], [zone("z", LL_BOX)], tolerance_m=-1)
    with pytest.raises(ValueError, match="tolerance_m"):
        find_targets([], [zone("z", LL_BOX)], tolerance_m=math.nan)


def test_metric_crs_is_used():
    # the same 28 m offset is inside 30 m in the local plane CRS; in EPSG:3857 (Web
    # Mercator, scale ~1.2 at 33.7°N) that distance is ~33.6 "metres" and falls out
    sq = zone("z", metric_square(0, 0, 200))
    r = [res("r", ll(228, 100))]
    assert len(find_targets(r, [sq], tolerance_m=30, metric_crs="EPSG:6670").targets) == 1
    assert find_targets(r, [sq], tolerance_m=30, metric_crs="EPSG:3857").targets == ()


# --- multipolygons ----------------------------------------------------------------------


def test_multipolygon_second_part_and_gap():
    multi = MultiPolygon([metric_square(0, 0, 100), metric_square(500, 0, 100)])
    residents = [res("part2", ll(550, 50)), res("gap", ll(300, 50)), res("part1", ll(10, 10))]
    result = find_targets(residents, [zone("m", multi)], tolerance_m=30)
    assert [t.resident.id for t in result.targets] == ["part2", "part1"]
    assert all(t.zone_ids == ("m",) and not t.edge_only for t in result.targets)


# --- scopes, area, unlocated, order ------------------------------------------------------


def test_empty_scope_returns_no_targets_but_reports_unlocated():
    residents = [res("a", ll(0, 0)), res("lost", None), res("b", ll(5, 5))]
    result = find_targets(residents, [])
    assert result.targets == ()
    assert [r.id for r in result.unlocated] == ["lost"]


def test_scope_with_no_residents():
    result = find_targets([], [zone("z", LL_BOX)], area=LL_BOX)
    assert result.targets == ()
    assert result.unlocated == ()


def test_unlocated_always_reported_in_input_order():
    residents = [
        res("u1", None),
        res("in", ll(50, 50)),
        ResidentInfo(id="u2", name="n", address="a", lat=33.7, lon=None),
        ResidentInfo(id="u3", name="n", address="a", lat=math.nan, lon=130.7),
        ResidentInfo(id="u4", name="n", address="a", lat=337.4, lon=130.7),  # typo'd position
        ResidentInfo(id="u5", name="n", address="a", lat=33.7, lon=math.inf),
        res("out", ll(5000, 5000)),
    ]
    result = find_targets(residents, [zone("z", metric_square(0, 0, 100))])
    assert [r.id for r in result.unlocated] == ["u1", "u2", "u3", "u4", "u5"]
    assert [t.resident.id for t in result.targets] == ["in"]


def test_targets_in_input_order_and_deterministic():
    rng = random.Random(7)
    residents = [res(f"r{i}", ll(rng.uniform(0, 1000), rng.uniform(0, 1000))) for i in range(300)]
    zones = [zone(f"z{i:02d}", metric_square(i * 37 % 800, i * 53 % 800, 150)) for i in range(40)]
    first = find_targets(residents, zones)
    again = find_targets(residents, list(reversed(zones)), workers=1)
    assert first == again
    order = [int(t.resident.id[1:]) for t in first.targets]
    assert order == sorted(order)
    assert len(order) > 50  # the scenario does exercise something


def test_area_only_resident_and_area_plus_zone_resident():
    zones = [zone("z", metric_square(0, 0, 100), rank=3)]
    area = metric_square(50, 0, 300)
    residents = [
        res("area-only", ll(300, 50)),
        res("both", ll(75, 50)),
        res("zone-only", ll(10, 50)),
    ]
    got = by_id(find_targets(residents, zones, area=area, tolerance_m=0))
    assert got["area-only"].zone_ids == ()
    assert got["area-only"].depth_rank is None
    assert got["area-only"].edge_only is False
    assert got["both"].zone_ids == ("z",)
    assert got["both"].depth_rank == 3
    assert got["zone-only"].zone_ids == ("z",)


def test_area_alone_is_a_scope():
    result = find_targets([res("r", ll(10, 10))], [], area=metric_square(0, 0, 100))
    (t,) = result.targets
    assert (t.zone_ids, t.depth_rank, t.house_collapse, t.edge_only) == ((), None, False, False)


def test_area_gets_the_tolerance_too():
    result = find_targets([res("r", ll(110, 50))], [], area=metric_square(0, 0, 100))
    (t,) = result.targets
    assert t.edge_only is True
    assert t.zone_ids == ()


# --- join_points against brute force ------------------------------------------------------


def random_scene(seed: int, n_points: int, n_zones: int):
    rng = np.random.default_rng(seed)
    xs = rng.uniform(-500, 3500, n_points)
    ys = rng.uniform(-500, 3500, n_points)
    lon, lat = TO_LONLAT.transform(X0 + xs, Y0 + ys)
    geoms = []
    for _ in range(n_zones):
        cx, cy = rng.uniform(0, 3000, 2)
        r = rng.uniform(200, 900)
        ang = np.sort(rng.uniform(0, 2 * np.pi, 20))
        rad = r * rng.uniform(0.5, 1.0, 20)
        ring = [ll(cx + a * np.cos(t), cy + a * np.sin(t)) for a, t in zip(rad, ang, strict=True)]
        hole = None
        if rng.random() < 0.3:
            hole = [ll(cx + 0.2 * r * np.cos(t), cy + 0.2 * r * np.sin(t)) for t in ang[::4]]
        geoms.append(Polygon(ring, [hole] if hole else []))
    # some points exactly on vertices, to exercise boundary inclusion
    lon = np.asarray(lon)
    lat = np.asarray(lat)
    for k, g in enumerate(geoms[:20]):
        lon[k], lat[k] = g.exterior.coords[0]
    return lon, lat, geoms


@pytest.mark.parametrize("tolerance", [0.0, 30.0])
@pytest.mark.parametrize("workers", [1, 2])
def test_join_points_equals_brute_force(tolerance, workers):
    lon, lat, geoms = random_scene(3, 30_000, 80)
    got = join_points(lon, lat, geoms, tolerance_m=tolerance, workers=workers)
    pts = shapely.points(lon, lat)
    expected: set[tuple[int, int]] = set()
    expected_edge: set[tuple[int, int]] = set()
    mpts = shapely.points(*TO_METRIC.transform(lon, lat))
    for j, g in enumerate(geoms):
        inside = shapely.intersects(g, pts)
        expected.update((int(i), j) for i in np.flatnonzero(inside))
        if tolerance:
            mg = shapely.transform(g, lambda c: np.column_stack(TO_METRIC.transform(*c.T)))
            near = shapely.distance(mg, mpts) <= tolerance
            expected_edge.update((int(i), j) for i in np.flatnonzero(near & ~inside))
    pairs = list(zip(got.point.tolist(), got.zone.tolist(), strict=True))
    assert pairs == sorted(pairs)  # sorted by point, then zone
    assert {p for p, e in zip(pairs, got.edge_only.tolist(), strict=True) if not e} == expected
    assert {p for p, e in zip(pairs, got.edge_only.tolist(), strict=True) if e} == expected_edge
    assert len(expected) > 500  # the scene has real overlap


def test_empty_zone_geometry_matches_nobody_and_does_not_disturb_others():
    zones = [zone("empty", Polygon()), zone("z", metric_square(0, 0, 100))]
    for tol in (0.0, 30.0):
        (t,) = find_targets(
            [res("r", ll(50, 50)), res("far", ll(900, 900))], zones, tolerance_m=tol
        ).targets
        assert t.zone_ids == ("z",)


def test_geometry_collection_with_a_multipolygon_gets_the_tolerance():
    multi = MultiPolygon([metric_square(0, 0, 100), metric_square(500, 0, 100)])
    coll = shapely.GeometryCollection([multi])
    (t,) = find_targets([res("r", ll(615, 50))], [zone("c", coll)], tolerance_m=30).targets
    assert (t.zone_ids, t.edge_only) == (("c",), True)


def test_join_points_empty_inputs():
    assert len(join_points(np.array([]), np.array([]), [LL_BOX])) == 0
    assert len(join_points(np.array([130.705]), np.array([33.705]), [])) == 0


def test_point_outside_the_metric_crs_domain_is_still_joined_inside():
    # EPSG:6670 (transverse Mercator, 131°E) projects a point on the equator at 41°E to inf:
    # such a point may still be inside a zone in lon/lat, and must not break the tolerance
    # step for the others.
    assert TO_METRIC.transform(41.0, 0.0) == (math.inf, math.inf)
    world = box(-180, -80, 180, 80)
    lon = np.array([41.0, 130.705, 130.7101])
    lat = np.array([0.0, 33.705, 33.705])
    got = join_points(lon, lat, [world, LL_BOX], tolerance_m=30)
    pairs = set(zip(got.point.tolist(), got.zone.tolist(), got.edge_only.tolist(), strict=True))
    assert (0, 0, False) in pairs
    assert (1, 1, False) in pairs
    assert (2, 1, True) in pairs  # ~9 m east of LL_BOX


def test_join_points_rejects_non_finite_coordinates():
    with pytest.raises(ValueError, match="finite"):
        join_points(np.array([np.nan]), np.array([33.7]), [LL_BOX])


def test_join_points_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="differ"):
        join_points(np.array([1.0, 2.0]), np.array([1.0]), [LL_BOX])
