"""Benchmark: alertsvc targeting vs geopandas.sjoin vs a plain shapely STRtree query.

A seeded synthetic city (default 1,000,000 residents, 10,000 zone polygons with holes,
multipolygons and overlaps, in ~20 x 20 km around lon 130.73, lat 33.74) is joined in ONE
run by:

1. ``alertsvc.geo.targeting.join_points`` (the code path under ``find_targets``), tolerance 0;
2. the same with the edge tolerance (default 30 m, EPSG:6670), reported separately;
3. ``geopandas.sjoin(points, zones, predicate="intersects")``;
4. ``shapely.STRtree(zones).query(points, predicate="intersects")``.

The matched (point, zone) pair sets of 1, 3 and 4 must be identical; the script exits 1
if they are not. Times are wall-clock of the join itself; building the GeoDataFrames and the
shapely points the other two need is timed separately and not charged to them (our function
takes plain lon/lat arrays). Peak memory is a second, untimed pass under ``tracemalloc``:
Python objects and numpy buffers, *not* the GEOS C heap (shapely geometries' coordinates).

    .venv/bin/python scripts/bench_targeting.py                      # full size
    .venv/bin/python scripts/bench_targeting.py --residents 20000 --zones 500
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

from alertsvc.geo.targeting import join_points

LON0, LAT0 = 130.73, 33.74
HALF_M = 10_000.0  # half the side of the city square, metres
M_PER_DEG_LAT = 110_900.0
M_PER_DEG_LON = 111_320.0 * float(np.cos(np.radians(LAT0)))


def make_city(
    n_residents: int, n_zones: int, seed: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[shapely.Geometry]]:
    """Seeded residents (lon, lat) and zone polygons (EPSG:4326) of a synthetic city.

    70 % of residents cluster around 40 town centres, the rest are spread out. Zones are
    irregular star-shaped polygons of 60-260 m radius with 12-63 vertices, placed at random so
    that many overlap; 10 % have a hole, 5 % are two-part multipolygons.
    """
    rng = np.random.default_rng(seed)
    n_town = int(n_residents * 0.7)
    centres = rng.uniform(-HALF_M * 0.9, HALF_M * 0.9, size=(40, 2))
    xy_town = centres[rng.integers(0, 40, n_town)] + rng.normal(0, 1200, size=(n_town, 2))
    xy_rest = rng.uniform(-HALF_M, HALF_M, size=(n_residents - n_town, 2))
    xy = np.clip(np.vstack([xy_town, xy_rest]), -HALF_M, HALF_M)
    rng.shuffle(xy)
    lon = LON0 + xy[:, 0] / M_PER_DEG_LON
    lat = LAT0 + xy[:, 1] / M_PER_DEG_LAT

    def ring(cx: float, cy: float, r: float, nv: int) -> npt.NDArray[np.float64]:
        # Angles strictly increasing with every gap < pi, radii within [0.6r, r]: the ring is
        # star-shaped around its centre, hence simple, and a 0.3r hole stays inside it.
        ang = (np.arange(nv) + rng.uniform(0.0, 0.9, nv)) * (2 * np.pi / nv)
        rad = r * rng.uniform(0.6, 1.0, nv)
        return np.column_stack(
            [
                LON0 + (cx + rad * np.cos(ang)) / M_PER_DEG_LON,
                LAT0 + (cy + rad * np.sin(ang)) / M_PER_DEG_LAT,
            ]
        )

    geoms: list[shapely.Geometry] = []
    for _ in range(n_zones):
        cx, cy = rng.uniform(-HALF_M, HALF_M, 2)
        r = float(rng.uniform(60, 260))
        u = rng.random()
        holes = [ring(cx, cy, r * 0.3, 10)] if u < 0.1 else []
        poly = shapely.Polygon(ring(cx, cy, r, int(rng.integers(12, 64))), holes)
        if u > 0.95:
            poly = shapely.MultiPolygon([poly, shapely.Polygon(ring(cx + 3 * r, cy, r * 0.5, 12))])
        geoms.append(poly)
    return lon, lat, geoms


@dataclass
class Measured:
    name: str
    seconds: float
    peak_mib: float
    pairs: npt.NDArray[np.int64]  # point * n_zones + zone, sorted
    extra: str = ""


# figures of the last ``main`` run, for scripts/bench.py
BENCH_RESULTS: dict[str, Any] = {}


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _peak_mib(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _encode(points: npt.ArrayLike, zones: npt.ArrayLike, n_zones: int) -> npt.NDArray[np.int64]:
    return np.sort(np.asarray(points, dtype=np.int64) * n_zones + np.asarray(zones, dtype=np.int64))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--residents", type=int, default=1_000_000)
    ap.add_argument("--zones", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=20240701)
    ap.add_argument("--tolerance", type=float, default=30.0, help="metres, for run 2")
    ap.add_argument("--metric-crs", default="EPSG:6670")
    ap.add_argument("--workers", type=int, default=None, help="threads (default: CPUs, max 4)")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    ap.add_argument(
        "--check-tolerance",
        action="store_true",
        help="also cross-check the tolerance pairs against STRtree dwithin in the metric CRS",
    )
    args = ap.parse_args(argv)

    import geopandas as gpd  # imported here: a test run at small size still pays it once

    t_gen, (lon, lat, geoms) = _timed(lambda: make_city(args.residents, args.zones, args.seed))
    nz = len(geoms)
    n_holes = sum(1 for g in geoms if g.geom_type == "Polygon" and g.interiors)
    n_multi = sum(1 for g in geoms if g.geom_type == "MultiPolygon")
    n_invalid = int((~shapely.is_valid(np.array(geoms, dtype=object))).sum())
    print(
        f"city: {args.residents:,} residents, {nz:,} zones ({n_holes} with holes, {n_multi} "
        f"multipolygons, {n_invalid} invalid), seed {args.seed}, generated in {t_gen:.1f} s"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
        f"shapely {shapely.__version__}, geopandas {gpd.__version__}"
    )

    zones_arr = np.array(geoms, dtype=object)
    results: list[Measured] = []

    def ours0() -> Any:
        return join_points(lon, lat, geoms, tolerance_m=0.0, workers=args.workers)

    sec, res = _timed(ours0)
    mem = 0.0 if args.no_memory else _peak_mib(ours0)
    results.append(
        Measured("alertsvc join_points (tol 0)", sec, mem, _encode(res.point, res.zone, nz))
    )

    def ours_tol() -> Any:
        return join_points(
            lon,
            lat,
            geoms,
            tolerance_m=args.tolerance,
            metric_crs=args.metric_crs,
            workers=args.workers,
        )

    # The first call grows the zones by the tolerance (cached per zone set and tolerance);
    # the second finds them in the cache, as every later preview of the same zones does.
    sec_cold, res_tol = _timed(ours_tol)
    sec, res_tol = _timed(ours_tol)
    mem = 0.0 if args.no_memory else _peak_mib(ours_tol)
    tol_run = Measured(
        f"alertsvc join_points (tol {args.tolerance:g} m)",
        sec,
        mem,
        _encode(res_tol.point, res_tol.zone, nz),
        extra=f"{int(res_tol.edge_only.sum()):,} edge-only; {sec_cold:.3f} s with zones uncached",
    )
    tol_cold_seconds = sec_cold

    t_frames, (gpts, gzones) = _timed(
        lambda: (
            gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"),
            gpd.GeoDataFrame(geometry=zones_arr, crs="EPSG:4326"),
        )
    )

    def sjoin() -> Any:
        return gpd.sjoin(gpts, gzones, predicate="intersects", how="inner")

    sec, sj = _timed(sjoin)
    mem = 0.0 if args.no_memory else _peak_mib(sjoin)
    results.append(
        Measured("geopandas.sjoin(intersects)", sec, mem, _encode(sj.index, sj["index_right"], nz))
    )
    del sj

    t_points, pts = _timed(lambda: shapely.points(lon, lat))

    def strtree() -> Any:
        return shapely.STRtree(zones_arr).query(pts, predicate="intersects")

    sec, q = _timed(strtree)
    mem = 0.0 if args.no_memory else _peak_mib(strtree)
    results.append(Measured("shapely STRtree.query(intersects)", sec, mem, _encode(q[0], q[1], nz)))
    del q

    ok = True
    base = results[0].pairs
    agree = all(np.array_equal(base, r.pairs) for r in results[1:])
    ok &= agree
    contains_tol0 = bool(np.isin(base, tol_run.pairs, assume_unique=True).all())
    ok &= contains_tol0

    tol_check = ""
    if args.check_tolerance:
        tr = Transformer.from_crs("EPSG:4326", args.metric_crs, always_xy=True)
        mgeoms = shapely.transform(
            zones_arr, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))
        )
        mpts = shapely.points(*tr.transform(lon, lat))
        qd = shapely.STRtree(mgeoms).query(mpts, predicate="dwithin", distance=args.tolerance)
        same = np.array_equal(tol_run.pairs, _encode(qd[0], qd[1], nz))
        ok &= same
        tol_check = f"; STRtree dwithin in {args.metric_crs} agrees: {same}"

    # The production question: the same join with the 30 m tolerance, as geopandas does it
    # (both frames projected to the metric CRS, then sjoin dwithin). Projection is charged
    # to it as projection is charged to us.
    def sjoin_dwithin() -> Any:
        mp = gpts.to_crs(args.metric_crs)
        mz = gzones.to_crs(args.metric_crs)
        return gpd.sjoin(mp, mz, predicate="dwithin", distance=args.tolerance, how="inner")

    sec, sjd = _timed(sjoin_dwithin)
    dwithin_run = Measured(
        f"geopandas.sjoin(dwithin {args.tolerance:g} m, {args.metric_crs})",
        sec,
        0.0,
        _encode(sjd.index, sjd["index_right"], nz),
    )
    del sjd
    same_dwithin = bool(np.array_equal(tol_run.pairs, dwithin_run.pairs))
    ok &= same_dwithin
    tol_check += f"; sjoin dwithin pairs identical: {same_dwithin}"
    print(
        f"tolerance join: ours {tol_run.seconds:.3f} s (cold {tol_cold_seconds:.3f} s), "
        f"sjoin dwithin {dwithin_run.seconds:.3f} s -> "
        f"{dwithin_run.seconds / tol_run.seconds:.2f}x (cold "
        f"{dwithin_run.seconds / tol_cold_seconds:.2f}x)"
    )
    BENCH_RESULTS.update(
        tol_seconds=tol_run.seconds,
        tol_cold_seconds=tol_cold_seconds,
        dwithin_seconds=dwithin_run.seconds,
        tol0_seconds=results[0].seconds,
        intersects_seconds=results[1].seconds,
        identical_pairs=same_dwithin,
        pairs=int(tol_run.pairs.size),
    )

    sjoin_s = results[1].seconds
    print(f"\n{'method':40} {'seconds':>8} {'vs sjoin':>9} {'peak MiB*':>10} {'pairs':>12}")
    for r in [results[0], tol_run, *results[1:], dwithin_run]:
        print(
            f"{r.name:40} {r.seconds:8.3f} {sjoin_s / r.seconds:8.2f}x {r.peak_mib:10.1f} "
            f"{r.pairs.size:12,}" + (f"  ({r.extra})" if r.extra else "")
        )
    print(
        f"\nnot charged above: GeoDataFrame construction {t_frames:.3f} s, "
        f"shapely.points {t_points:.3f} s"
    )
    print(
        "* peak MiB: tracemalloc peak during a second, untimed call (Python objects and numpy "
        "buffers; the GEOS C heap is not traced)"
        if not args.no_memory
        else "* memory pass skipped (--no-memory)"
    )
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS (whole run): {maxrss_mib:.0f} MiB")
    print(
        f"agreement (tol 0, identical pair sets across all three): {agree}; "
        f"tol-0 pairs within tolerance pairs: {contains_tol0}{tol_check}"
    )
    print("RESULT: " + ("AGREE" if ok else "DISAGREE"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
