"""The tolerance join grows zones once (cached by content) and measures only the thin band
between the inner and the grown zone exactly (#12). These tests aim at that band."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon

from alertsvc.geo.targeting import join_points

TO_METRIC = Transformer.from_crs("EPSG:4326", "EPSG:6670", always_xy=True)
TO_LONLAT = Transformer.from_crs("EPSG:6670", "EPSG:4326", always_xy=True)
X0, Y0 = -36_000.0, 76_000.0  # near Nogata in EPSG:6670


def _zone(seed: int, cx: float, cy: float) -> Polygon:
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, 24))
    rad = rng.uniform(150, 400, 24)
    xs, ys = TO_LONLAT.transform(X0 + cx + rad * np.cos(ang), Y0 + cy + rad * np.sin(ang))
    return Polygon(zip(xs, ys, strict=True))


def _band_points(zones: list[Polygon], seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points at 20..40 m from the zones' boundaries (metric), where the band tests live."""
    rng = np.random.default_rng(seed)
    lon_out, lat_out = [], []
    for z in zones:
        mz = shapely.transform(z, lambda c: np.column_stack(TO_METRIC.transform(*c.T)))
        ring = mz.exterior
        for _ in range(n):
            p = ring.interpolate(rng.uniform(0, ring.length))
            ang = rng.uniform(0, 2 * np.pi)
            d = rng.uniform(20.0, 40.0)
            x, y = TO_LONLAT.transform(p.x + d * np.cos(ang), p.y + d * np.sin(ang))
            lon_out.append(x)
            lat_out.append(y)
    return np.array(lon_out), np.array(lat_out)


def _expected(lon: np.ndarray, lat: np.ndarray, zones: list[Polygon], tol: float) -> set:
    pts = shapely.points(lon, lat)
    mpts = shapely.points(*TO_METRIC.transform(lon, lat))
    out = set()
    for j, z in enumerate(zones):
        inside = shapely.intersects(z, pts)
        mz = shapely.transform(z, lambda c: np.column_stack(TO_METRIC.transform(*c.T)))
        near = shapely.distance(mz, mpts) <= tol
        out |= {(int(i), j, False) for i in np.flatnonzero(inside)}
        out |= {(int(i), j, True) for i in np.flatnonzero(near & ~inside)}
    return out


def _got(lon: np.ndarray, lat: np.ndarray, zones: list[Polygon], tol: float) -> set:
    res = join_points(lon, lat, zones, tolerance_m=tol)
    return set(zip(res.point.tolist(), res.zone.tolist(), res.edge_only.tolist(), strict=True))


def test_points_around_the_tolerance_distance_are_decided_exactly() -> None:
    zones = [_zone(k, 700.0 * k, 300.0 * (k % 2)) for k in range(6)]
    lon, lat = _band_points(zones, 5, 400)
    expected = _expected(lon, lat, zones, 30.0)
    assert _got(lon, lat, zones, 30.0) == expected
    # the scene has both outcomes at the band: some kept just inside 30 m, some dropped
    assert sum(1 for *_, e in expected if e) > 300
    assert len({i for i, *_ in expected}) < lon.size - 100


def test_cached_zones_give_the_same_answer_and_a_reimport_is_never_stale() -> None:
    zones = [_zone(k, 700.0 * k, 0.0) for k in range(4)]
    lon, lat = _band_points(zones, 9, 200)
    first = _got(lon, lat, zones, 30.0)
    assert _got(lon, lat, zones, 30.0) == first  # from the cache
    assert _got(lon, lat, zones, 10.0) == _expected(lon, lat, zones, 10.0)  # other tolerance
    # "re-import": same zone count, the first zone moved 100 m east
    moved = [shapely.affinity.translate(zones[0], xoff=100 / 92_000), *zones[1:]]
    assert _got(lon, lat, moved, 30.0) == _expected(lon, lat, moved, 30.0)
    assert _got(lon, lat, moved, 30.0) != first
