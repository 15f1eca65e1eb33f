"""Targeting: which located residents are in (or near) which zones of an alert scope.

Pure: no database, no network, no CLI. Imports only numpy, shapely, pyproj and
``alertsvc.models``.

Two layers:

* :func:`find_targets` — the domain function the services call. Residents and zones in,
  :class:`~alertsvc.models.TargetingResult` out (targets in input order, unlocated residents
  always reported separately).
* :func:`join_points` — the vectorised point-in-zone join underneath it, on plain numpy
  lon/lat arrays and a sequence of geometries. ``scripts/bench_targeting.py`` times this
  exact code path against ``geopandas.sjoin`` and a plain ``STRtree`` query.

How the join works (measured choices; see the benchmark):

* Inside, boundary inclusive, is decided in lon/lat on the stored coordinates. Points are
  sorted by (row, quantised x), so a zone's bounding box is a few contiguous slices found
  with ``searchsorted``; those candidates are tested with ``shapely.intersects_xy`` on
  prepared geometries, grouped by zone (cache friendly), in parts across a thread pool.
  shapely and numpy release the GIL, so both cores of a small machine work.
* The edge tolerance is computed in the metric CRS (pyproj, ``always_xy=True``): zone
  boundaries are cut into segments, and only points in a segment's box grown by the
  tolerance get an exact point-to-segment distance (numpy). Points deep inside or far
  outside a zone are never touched, so the step costs about as much as the inside test.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from alertsvc.models import ResidentInfo, Target, TargetingResult, ZoneInfo, ZoneKind

__all__ = ["DEFAULT_TOLERANCE_M", "PointZonePairs", "find_targets", "join_points"]

DEFAULT_TOLERANCE_M = 30.0

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Below this many candidate pairs a thread pool costs more than it saves.
_PARALLEL_MIN_PAIRS = 50_000
# At most this many candidate pairs in one run of work: bounds the temporary arrays.
_MAX_PART = 1_500_000
# Boundary segments per run of work in the tolerance step (~400k candidate points).
_SEGMENTS_PER_PART = 25_000
_EMPTY: IntArray = np.empty(0, dtype=np.int64)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class PointZonePairs:
    """Result of :func:`join_points`: one row per (point, zone) match.

    ``point`` and ``zone`` index the input arrays; rows are sorted by point, then zone.
    ``edge_only[k]`` is True when point ``point[k]`` is not inside or on zone ``zone[k]`` but
    within the tolerance of it.
    """

    point: IntArray
    zone: IntArray
    edge_only: BoolArray

    def __len__(self) -> int:
        return int(self.point.shape[0])


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


# x is quantised to 2**_QBITS steps and rows are capped so that (row, qx) fits 32 bits:
# integer keys sort with two 16-bit radix passes, far quicker than a float argsort.
_QBITS = 20
_MAX_ROWS = 1 << (32 - _QBITS)


def _argsort_stable(key: IntArray) -> IntArray:
    """Stable argsort of non-negative integer keys; two 16-bit radix passes when they fit."""
    if key.size == 0 or int(key.max()) >= 1 << 32:
        return np.argsort(key, kind="stable").astype(np.int64, copy=False)
    first = np.argsort((key & 0xFFFF).astype(np.uint16), kind="stable")
    second = np.argsort((key[first] >> 16).astype(np.uint16), kind="stable")
    return first[second].astype(np.int64, copy=False)


class _GridIndex:
    """Points sorted by (row, quantised x): a box is one contiguous slice per row it spans.

    Row and quantised-x keys are monotone functions of the coordinates, computed the same way
    for points and box edges, so a slice can hold a few extra points (the caller filters
    exactly) but never misses one.
    """

    def __init__(self, x: FloatArray, y: FloatArray, row_height: float) -> None:
        self.x0, self.y0 = float(x.min()), float(y.min())
        xspan = float(x.max()) - self.x0
        yspan = float(y.max()) - self.y0
        self.h = max(row_height, yspan / (_MAX_ROWS - 1), 1e-12)
        self.nrows = min(int(yspan // self.h) + 1, _MAX_ROWS)
        self.scale = ((1 << _QBITS) - 1) / max(xspan, 1e-12)
        key = (self._rows(y) << _QBITS) | self._qx(x)
        self.order = _argsort_stable(key)
        self.key = key[self.order]
        self.xs, self.ys = x[self.order], y[self.order]

    def _rows(self, y: FloatArray) -> IntArray:
        return np.clip(np.floor((y - self.y0) / self.h), 0, self.nrows - 1).astype(np.int64)

    def _qx(self, x: FloatArray) -> IntArray:
        q = np.floor((x - self.x0) * self.scale)
        return np.clip(q, 0, (1 << _QBITS) - 1).astype(np.int64)

    def slices(self, bounds: FloatArray) -> tuple[IntArray, IntArray, IntArray]:
        """(zone, start, stop) of every row slice of every box; grouped by zone, ascending."""
        r0, r1 = self._rows(bounds[:, 1]), self._rows(bounds[:, 3])
        q0, q1 = self._qx(bounds[:, 0]), self._qx(bounds[:, 2])
        n = np.maximum(r1 - r0 + 1, 0)  # inverted (empty-geometry) boxes span no rows
        zone = np.repeat(np.arange(bounds.shape[0], dtype=np.int64), n)
        row = np.repeat(r0, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
        start = np.searchsorted(self.key, (row << _QBITS) | q0[zone], side="left")
        stop = np.searchsorted(self.key, (row << _QBITS) | q1[zone], side="right")
        # A box wholly outside the points' extent clips onto the edge rows/columns: its
        # slices are harmless (filtered exactly) but cost time, so empty them.
        outside = (bounds[:, 2] < self.x0) | (bounds[:, 0] > self.x0 + (1 << _QBITS) / self.scale)
        outside |= (bounds[:, 3] < self.y0) | (bounds[:, 1] > self.y0 + self.nrows * self.h)
        stop = np.where(outside[zone], start, stop)
        return zone, start.astype(np.int64), stop.astype(np.int64)

    def candidates(
        self, bounds: FloatArray, zone: IntArray, start: IntArray, stop: IntArray
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """(point, zone, x, y) of the given slices' points that lie in their zone's box."""
        lengths = stop - start
        total = int(lengths.sum())
        offsets = np.cumsum(lengths) - lengths
        pos = np.arange(total, dtype=np.int64) + np.repeat(start - offsets, lengths)
        # Everything is read through ``pos``, which walks the sorted arrays in runs: cache
        # friendly, unlike gathering by point number.
        px, py = self.xs[pos], self.ys[pos]
        keep = (px >= np.repeat(bounds[zone, 0], lengths)) & (
            px <= np.repeat(bounds[zone, 2], lengths)
        )
        keep &= (py >= np.repeat(bounds[zone, 1], lengths)) & (
            py <= np.repeat(bounds[zone, 3], lengths)
        )
        return self.order[pos[keep]], np.repeat(zone, lengths)[keep], px[keep], py[keep]


def _balanced_parts(lengths: IntArray, workers: int) -> list[tuple[int, int]]:
    """Split consecutive slices into runs of about equal numbers of candidate points.

    Enough runs to keep every worker busy, and small enough to bound the memory of one run.
    """
    cum = np.cumsum(lengths)
    total = int(cum[-1]) if cum.size else 0
    if workers == 1 or total < _PARALLEL_MIN_PAIRS:
        parts = max(1, -(-total // _MAX_PART))
    else:
        parts = max(workers * 3, -(-total // _MAX_PART))
    cuts = np.searchsorted(cum, np.linspace(0, total, parts + 1)[1:-1], side="left")
    edges = [0, *sorted(set(cuts.tolist())), int(lengths.size)]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def _run_parts(
    fn: Callable[[tuple[int, int]], _T], parts: list[tuple[int, int]], workers: int
) -> list[_T]:
    # shapely and numpy release the GIL in their inner loops, so threads use every core.
    if workers == 1 or len(parts) <= 1:
        return [fn(p) for p in parts]
    with ThreadPoolExecutor(min(workers, len(parts))) as pool:
        return list(pool.map(fn, parts))


def _box_index(x: FloatArray, y: FloatArray, bounds: FloatArray) -> _GridIndex:
    heights = bounds[:, 3] - bounds[:, 1]
    finite = heights[np.isfinite(heights) & (heights > 0)]
    # Rows about half a typical box high: few slices per box, little overshoot in y.
    return _GridIndex(x, y, float(np.median(finite)) / 2.0 if finite.size else 1.0)


def _inside_pairs(
    x: FloatArray, y: FloatArray, geoms: npt.NDArray[np.object_], workers: int
) -> tuple[IntArray, IntArray]:
    """(point, zone) pairs with the point inside or on the zone, sorted by point then zone."""
    bounds = shapely.bounds(geoms)
    # Empty geometries have NaN bounds: make them inverted boxes that span nothing.
    nan = np.isnan(bounds).any(axis=1)
    bounds[nan] = (np.inf, np.inf, -np.inf, -np.inf)
    index = _box_index(x, y, bounds)
    zone, start, stop = index.slices(bounds)

    def run(part: tuple[int, int]) -> tuple[IntArray, IntArray]:
        a, b = part
        pi, zi, px, py = index.candidates(bounds, zone[a:b], start[a:b], stop[a:b])
        inside = shapely.intersects_xy(geoms[zi], px, py)
        return pi[inside], zi[inside]

    results = _run_parts(run, _balanced_parts(stop - start, workers), workers)
    if not results:
        return _EMPTY, _EMPTY
    pi = np.concatenate([r[0] for r in results])
    zi = np.concatenate([r[1] for r in results])
    # Parts come in zone order, so a stable sort by point yields (point, zone) order.
    order = _argsort_stable(pi)
    return pi[order], zi[order]


def _segments(geoms: npt.NDArray[np.object_]) -> tuple[FloatArray, IntArray]:
    """Every boundary segment (ax, ay, bx, by) of the geometries, with its geometry index.

    Polygons give their rings (exterior and holes), lines their own segments, points a
    zero-length segment: the distance to a geometry from outside is the distance to these.
    """
    parts, owner = shapely.get_parts(geoms, return_index=True)
    while True:  # a geometry collection's members may be multi-part or collections again
        nested = np.isin(shapely.get_type_id(parts), (4, 5, 6, 7))
        if not nested.any():
            break
        sub, k = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        owner = np.concatenate([owner[~nested], owner[nested][k]])
    types = shapely.get_type_id(parts)
    poly = types == 3
    rings, k = shapely.get_rings(parts[poly], return_index=True)
    linear = np.concatenate([parts[(types == 1) | (types == 2)], rings])
    linear_owner = np.concatenate([owner[(types == 1) | (types == 2)], owner[poly][k]])
    coords, line = shapely.get_coordinates(linear, return_index=True)
    same = line[:-1] == line[1:]
    segs = np.column_stack([coords[:-1][same], coords[1:][same]])
    seg_owner = linear_owner[line[:-1][same]]
    pts = shapely.get_coordinates(parts[types == 0])
    segs = np.vstack([segs, np.column_stack([pts, pts])])
    seg_owner = np.concatenate([seg_owner, owner[types == 0]]).astype(np.int64)
    return segs, seg_owner


def _near_boundary_keys(
    mx: FloatArray, my: FloatArray, mgeoms: npt.NDArray[np.object_], tol: float, workers: int
) -> IntArray:
    """Sorted unique keys ``point * n_zones + zone`` of points within ``tol`` of a boundary.

    Works on boundary segments in the metric CRS: only points within a segment's box grown
    by ``tol`` are looked at. Distance to a zone from outside is distance to its boundary;
    points inside are found by the inside test, so interiors need nothing here.
    """
    nz = mgeoms.shape[0]
    segs, seg_zone = _segments(mgeoms)
    if segs.shape[0] == 0:
        return _EMPTY
    bounds = np.column_stack(
        [
            np.minimum(segs[:, 0], segs[:, 2]) - tol,
            np.minimum(segs[:, 1], segs[:, 3]) - tol,
            np.maximum(segs[:, 0], segs[:, 2]) + tol,
            np.maximum(segs[:, 1], segs[:, 3]) + tol,
        ]
    )
    index = _box_index(mx, my, bounds)
    ax, ay, bx, by = (np.ascontiguousarray(segs[:, k]) for k in range(4))
    tol2 = tol * tol

    def run(part: tuple[int, int]) -> IntArray:
        a, b = part
        # Slices are found inside the worker: binary searches are a good share of the work.
        sl, start, stop = index.slices(bounds[a:b])
        sl += a
        lengths = stop - start
        offsets = np.cumsum(lengths) - lengths
        pos = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(start - offsets, lengths)
        # No box filter first: the exact distance test below is about as cheap.
        sx, sy = np.repeat(ax[sl], lengths), np.repeat(ay[sl], lengths)
        dx, dy = np.repeat(bx[sl], lengths) - sx, np.repeat(by[sl], lengths) - sy
        px, py = index.xs[pos] - sx, index.ys[pos] - sy
        len2 = dx * dx + dy * dy
        # Projection of the point onto the segment, clamped to its ends.
        t = np.divide(px * dx + py * dy, len2, out=np.zeros_like(len2), where=len2 > 0)
        np.clip(t, 0.0, 1.0, out=t)
        px -= t * dx
        py -= t * dy
        near = px * px + py * py <= tol2
        return _sorted_unique(index.order[pos[near]] * nz + np.repeat(seg_zone[sl], lengths)[near])

    nseg = segs.shape[0]
    nparts = max(-(-nseg // _SEGMENTS_PER_PART), workers * 3 if workers > 1 else 1)
    edges = np.linspace(0, nseg, nparts + 1).astype(np.int64).tolist()
    parts = [(a, b) for a, b in itertools.pairwise(edges) if b > a]
    results = _run_parts(run, parts, workers)
    return _sorted_unique(np.concatenate(results), runs=True) if results else _EMPTY


def _sorted_unique(keys: IntArray, runs: bool = False) -> IntArray:
    # np.unique does more work than we need. With ``runs`` the input is a few sorted runs,
    # which the stable sort (timsort) merges in near-linear time.
    keys = np.sort(keys, kind="stable" if runs else "quicksort")
    if keys.size:
        first = np.empty(keys.size, dtype=np.bool_)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        keys = keys[first]
    return keys


def join_points(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    geometries: Sequence[BaseGeometry],
    *,
    tolerance_m: float = 0.0,
    metric_crs: str = "EPSG:6670",
    workers: int | None = None,
) -> PointZonePairs:
    """Join points to the geometries that contain them (boundary inclusive) or lie near them.

    ``lon``/``lat`` are EPSG:4326 degrees (finite; filter NaN before calling), ``geometries``
    EPSG:4326 lon/lat (polygonal in practice, any shapely geometry works). A pair (i, j) is
    returned when point i intersects geometry j, or — with ``tolerance_m > 0`` — when it is
    within ``tolerance_m`` metres of j measured in ``metric_crs`` (vertices projected with
    pyproj, straight edges between them); the latter pairs have ``edge_only`` set.
    ``workers`` threads share the work (default: CPU count, max 4). Rows are sorted by point,
    then zone; the result does not depend on ``workers``.

    The geometries are prepared in place (shapely caches the prepared form on the object).
    Raises ``ValueError`` for a negative or non-finite tolerance, mismatched arrays or
    ``workers < 1``, and ``pyproj.exceptions.CRSError`` for an unknown ``metric_crs``. Invalid
    (self-intersecting) polygons give GEOS's answer; validate zones at import.
    """
    if not math.isfinite(tolerance_m) or tolerance_m < 0:
        raise ValueError(f"tolerance_m must be a finite number >= 0, got {tolerance_m!r}")
    x = np.ascontiguousarray(lon, dtype=np.float64).ravel()
    y = np.ascontiguousarray(lat, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"lon and lat differ in length: {x.size} != {y.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("lon and lat must be finite (report such residents as unlocated)")
    nworkers = workers if workers is not None else _default_workers()
    if nworkers < 1:
        raise ValueError(f"workers must be >= 1, got {nworkers}")
    geoms = np.empty(len(geometries), dtype=object)
    geoms[:] = list(geometries)
    if x.size == 0 or geoms.size == 0:
        return PointZonePairs(_EMPTY, _EMPTY, np.empty(0, dtype=np.bool_))
    shapely.prepare(geoms)

    # Inside is decided in lon/lat, on the stored coordinates: a point exactly on a boundary
    # stays on it (projecting both would round it to either side).
    if tolerance_m == 0:
        pi, zi = _inside_pairs(x, y, geoms, nworkers)
        return PointZonePairs(pi, zi, np.zeros(pi.size, dtype=np.bool_))

    # A Transformer per call (~5 ms): pyproj objects are not shared across threads here.
    tr = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)

    def project(coords: FloatArray) -> FloatArray:
        return np.column_stack(tr.transform(coords[:, 0], coords[:, 1]))

    nz = geoms.size
    with ThreadPoolExecutor(1) as background:
        # The inside test runs while this thread projects: projection is mostly serial, so
        # the other core would otherwise idle.
        inside = background.submit(_inside_pairs, x, y, geoms, nworkers) if nworkers > 1 else None
        mx, my = (np.asarray(a, dtype=np.float64) for a in tr.transform(x, y))
        mgeoms = shapely.transform(geoms, project)
        # A point outside the metric CRS's domain projects to inf: it can be inside a zone
        # (decided in lon/lat) but is never "near" one.
        ok = np.flatnonzero(np.isfinite(mx) & np.isfinite(my))
        if ok.size == x.size:
            near = _near_boundary_keys(mx, my, mgeoms, tolerance_m, nworkers)
        elif ok.size:
            near = _near_boundary_keys(mx[ok], my[ok], mgeoms, tolerance_m, nworkers)
            near = ok[near // nz] * nz + near % nz  # ``ok`` is increasing: order is kept
        else:
            near = _EMPTY
        pi, zi = inside.result() if inside is not None else _inside_pairs(x, y, geoms, 1)
    # Merge the two sorted key runs; inside keys first, so a stable sort puts an inside copy
    # of a key before its near-boundary copy and the first copy decides the flag.
    keys = np.concatenate([pi * nz + zi, near])
    is_edge = np.concatenate(
        [np.zeros(pi.size, dtype=np.bool_), np.ones(near.size, dtype=np.bool_)]
    )
    order = np.argsort(keys, kind="stable")
    keys, is_edge = keys[order], is_edge[order]
    first = np.ones(keys.size, dtype=np.bool_)
    first[1:] = keys[1:] != keys[:-1]
    keys, is_edge = keys[first], is_edge[first]
    return PointZonePairs(keys // nz, keys % nz, is_edge)


def find_targets(
    residents: Sequence[ResidentInfo],
    zones: Sequence[ZoneInfo],
    *,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    metric_crs: str = "EPSG:6670",
    area: BaseGeometry | None = None,
    workers: int | None = None,
) -> TargetingResult:
    """Every located resident inside the scope (``zones`` ∪ ``area``), with depth and flags.

    Contract:

    * ``residents`` are the active ones (the caller filters). A resident without a usable
      position (lat or lon None, NaN, or outside -90..90 / -180..180) goes to ``unlocated``,
      always, in input order: nobody is silently dropped.
    * A resident is a target when inside or on the boundary of any zone or ``area``, or within
      ``tolerance_m`` metres of one (distance computed in ``metric_crs``; the default is
      EPSG:6670, JGD2011 plane rectangular II, Fukuoka). The tolerance applies to ``area``
      too: it exists for geocoding error, which does not depend on where the scope came from.
    * ``zone_ids``: ids of every zone the resident is in or near, sorted, without duplicates;
      ``()`` for a resident caught by ``area`` only. ``depth_rank``: maximum rank over those
      zones, None when none has a rank. ``house_collapse``: any of them is
      ``ZoneKind.HOUSE_COLLAPSE``. ``edge_only``: not inside or on any zone or the area,
      only within the tolerance.
    * Targets come in the input order of residents; the result is deterministic.
    * Zone and area geometries are EPSG:4326 lon/lat. An empty scope gives no targets (the
      unlocated are still reported). ``workers``: threads for the join (default: CPUs, max 4).

    Raises ``ValueError`` for a negative or non-finite tolerance and
    ``pyproj.exceptions.CRSError`` for an unknown ``metric_crs``.
    """
    located: list[int] = []
    unlocated: list[ResidentInfo] = []
    for i, r in enumerate(residents):
        # NaN fails both comparisons: it counts as unlocated, as does an impossible position.
        if r.lat is None or r.lon is None or not (-90 <= r.lat <= 90 and -180 <= r.lon <= 180):
            unlocated.append(r)
        else:
            located.append(i)

    geometries: list[BaseGeometry] = [z.geometry for z in zones]
    area_index = -1
    if area is not None and not area.is_empty:
        area_index = len(geometries)
        geometries.append(area)

    lon = np.fromiter((residents[i].lon for i in located), dtype=np.float64, count=len(located))
    lat = np.fromiter((residents[i].lat for i in located), dtype=np.float64, count=len(located))
    pairs = join_points(
        lon, lat, geometries, tolerance_m=tolerance_m, metric_crs=metric_crs, workers=workers
    )

    targets: list[Target] = []
    if len(pairs):
        targets = _aggregate(pairs, zones, area_index, [residents[i] for i in located])
    return TargetingResult(targets=tuple(targets), unlocated=tuple(unlocated))


def _aggregate(
    pairs: PointZonePairs,
    zones: Sequence[ZoneInfo],
    area_index: int,
    located: list[ResidentInfo],
) -> list[Target]:
    """One Target per point in ``pairs``, in point order; per-point reductions in numpy."""
    nz = len(zones)
    # Per geometry (zones, then the area if any): depth rank (-1: none), house collapse, and
    # the position of the zone id in sorted order (the area sorts last and is dropped).
    ids = sorted({z.id for z in zones})
    id_pos = {zid: k for k, zid in enumerate(ids)}
    rank = np.array([-1 if z.depth_rank is None else z.depth_rank for z in zones] + [-1])
    collapse = np.array([z.kind == ZoneKind.HOUSE_COLLAPSE for z in zones] + [False])
    sort_pos = np.array([id_pos[z.id] for z in zones] + [len(ids)], dtype=np.int64)
    geom = np.where(pairs.zone == area_index, nz, pairs.zone)

    cut = np.flatnonzero(np.diff(pairs.point)) + 1
    starts = np.concatenate([[0], cut])
    max_rank = np.maximum.reduceat(rank[geom], starts).tolist()
    any_collapse = np.logical_or.reduceat(collapse[geom], starts).tolist()
    edge_only = np.logical_and.reduceat(pairs.edge_only, starts).tolist()

    # Zone ids: order each point's pairs by id position, drop repeats (two zones may share
    # an id) and the area, then slice the sorted id list.
    order = np.lexsort((sort_pos[geom], pairs.point))
    point_s, pos_s = pairs.point[order], sort_pos[geom][order]
    keep = np.ones(pos_s.size, dtype=np.bool_)
    keep[1:] = (point_s[1:] != point_s[:-1]) | (pos_s[1:] != pos_s[:-1])
    keep &= pos_s < len(ids)
    kept_point = point_s[keep]
    kept_ids = [ids[j] for j in pos_s[keep].tolist()]
    unique_points = pairs.point[starts]
    # kept entries per point (0 for an area-only point), in the same point order
    counts = np.zeros(unique_points.size, dtype=np.int64)
    np.add.at(counts, np.searchsorted(unique_points, kept_point), 1)
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()

    targets: list[Target] = []
    for k, p in enumerate(unique_points.tolist()):
        r = max_rank[k]
        targets.append(
            Target(
                resident=located[p],
                zone_ids=tuple(kept_ids[bounds[k] : bounds[k + 1]]),
                depth_rank=None if r < 0 else r,
                house_collapse=any_collapse[k],
                edge_only=edge_only[k],
            )
        )
    return targets
