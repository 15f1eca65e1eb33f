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
* The edge tolerance: every zone is grown in the metric CRS (pyproj, ``always_xy=True``)
  by a little more than the tolerance and by a little less, and both go back to lon/lat;
  this is cached per zone geometries, tolerance and CRS (content-keyed: a re-import is a
  new entry). The points then take the same vectorised path against the grown zones as
  at tolerance 0. A point inside the zone itself is inside (decided in lon/lat as above);
  inside the "less" zone it is surely within the tolerance; only the few in the thin band
  between are projected and measured exactly (numpy point-to-segment distance to the
  zone's projected edges). So ``edge_only`` stays exact, and the pairs equal
  ``geopandas.sjoin(predicate="dwithin")`` in the metric CRS (checked by the benchmark).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import threading
from collections import OrderedDict
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
    x: FloatArray,
    y: FloatArray,
    geoms: npt.NDArray[np.object_],
    workers: int,
    exact: npt.NDArray[np.object_] | None = None,
    inner: npt.NDArray[np.object_] | None = None,
) -> tuple[IntArray, IntArray, npt.NDArray[np.int8]]:
    """(point, zone, class) of points inside or on ``geoms``, sorted by point then zone.

    Without ``exact`` every class is 0. With ``exact`` and ``inner`` (zones contained in
    their ``geoms`` entries): class 0 when the point is inside or on the ``exact`` zone,
    else 1 when inside ``inner``, else 2.
    """
    bounds = shapely.bounds(geoms)
    # Empty geometries have NaN bounds: make them inverted boxes that span nothing.
    nan = np.isnan(bounds).any(axis=1)
    bounds[nan] = (np.inf, np.inf, -np.inf, -np.inf)
    index = _box_index(x, y, bounds)
    zone, start, stop = index.slices(bounds)

    def run(part: tuple[int, int]) -> tuple[IntArray, IntArray, npt.NDArray[np.int8]]:
        a, b = part
        pi, zi, px, py = index.candidates(bounds, zone[a:b], start[a:b], stop[a:b])
        hit = shapely.intersects_xy(geoms[zi], px, py)
        pi, zi, px, py = pi[hit], zi[hit], px[hit], py[hit]
        cls = np.zeros(pi.size, dtype=np.int8)
        if exact is not None and inner is not None:
            # still grouped by zone here, which keeps these tests cache friendly
            out = np.flatnonzero(~shapely.intersects_xy(exact[zi], px, py))
            sure = shapely.intersects_xy(inner[zi[out]], px[out], py[out])
            cls[out] = np.where(sure, 1, 2)
        return pi, zi, cls

    results = _run_parts(run, _balanced_parts(stop - start, workers), workers)
    if not results:
        return _EMPTY, _EMPTY, np.empty(0, dtype=np.int8)
    pi = np.concatenate([r[0] for r in results])
    zi = np.concatenate([r[1] for r in results])
    cls = np.concatenate([r[2] for r in results])
    # Parts come in zone order, so a stable sort by point yields (point, zone) order.
    order = _argsort_stable(pi)
    return pi[order], zi[order], cls[order]


def _zone_segments(mgeoms: npt.NDArray[np.object_]) -> tuple[FloatArray, IntArray]:
    """Boundary segments (ax, ay, bx, by) of every zone, grouped by zone, and the offsets.

    ``segs[offsets[z]:offsets[z + 1]]`` are zone z's: polygon rings (exterior and holes),
    line segments, and a zero-length segment per point. The distance to a zone from
    outside is the distance to these.
    """
    parts, owner = shapely.get_parts(mgeoms, return_index=True)
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
    order = np.argsort(seg_owner, kind="stable")
    counts = np.bincount(seg_owner, minlength=mgeoms.size)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return np.ascontiguousarray(segs[order]), offsets


def _within(
    px: FloatArray, py: FloatArray, zone: IntArray, segs: FloatArray, offsets: IntArray, tol: float
) -> BoolArray:
    """Whether point k is within ``tol`` of a boundary segment of zone ``zone[k]`` (numpy).

    Straight edges between the projected vertices; in runs that bound the temporary arrays.
    """
    out = np.zeros(px.size, dtype=np.bool_)
    nseg = offsets[zone + 1] - offsets[zone]
    cum = np.cumsum(nseg)
    start = 0
    while start < px.size:
        base = int(cum[start - 1]) if start else 0
        stop = int(np.searchsorted(cum, base + _MAX_PART, side="right"))
        stop = max(stop, start + 1)
        n = nseg[start:stop]
        total = int(n.sum())
        if total:
            first = np.cumsum(n) - n
            seg = np.arange(total, dtype=np.int64) + np.repeat(offsets[zone[start:stop]] - first, n)
            sx, sy = segs[seg, 0], segs[seg, 1]
            dx, dy = segs[seg, 2] - sx, segs[seg, 3] - sy
            qx, qy = np.repeat(px[start:stop], n) - sx, np.repeat(py[start:stop], n) - sy
            len2 = dx * dx + dy * dy
            # Projection of the point onto the segment, clamped to its ends.
            t = np.divide(qx * dx + qy * dy, len2, out=np.zeros_like(len2), where=len2 > 0)
            np.clip(t, 0.0, 1.0, out=t)
            qx -= t * dx
            qy -= t * dy
            near = (qx * qx + qy * qy <= tol * tol).astype(np.int8)
            has = n > 0
            hit = np.maximum.reduceat(near, first[has]) if has.any() else near[:0]
            out[start:stop][has] = hit.astype(np.bool_)
        start = stop
    return out


# Zones grown by the tolerance, per (metric CRS, tolerance, zone geometries): a zone set is
# joined many times between imports, and growing 10k polygons costs more than the join.
# Keyed by content, so a re-import (new coordinates) is a new entry, never a stale one.
_GROWN_CACHE: OrderedDict[
    tuple[str, float, bytes],
    tuple[FloatArray, IntArray, npt.NDArray[np.object_], npt.NDArray[np.object_]],
] = OrderedDict()
_GROWN_CACHE_SIZE = 4
_GROWN_LOCK = threading.Lock()
# GEOS approximates a buffer's round joins with chords (8 per quarter circle), which lie
# inside the true circle, and may simplify shallow concavities of the input by 1 % of the
# distance. Growing by this factor makes the grown zone contain every point within the
# tolerance; the exact distance test then removes the extra ones.
_GROW_FACTOR = 1.0 / math.cos(math.pi / 32) + 0.02
# Chords lie inside the circle and the simplification moves the buffer out by at most 1 %
# of its distance: a zone grown by 0.9 x tol lies within 0.91 x tol of the zone.
_INNER_FACTOR = 0.9
# Longest edge of a grown zone before it goes back to lon/lat (see _grown_zones).
_DENSIFY_M = 200.0
# A zone wider than this (degrees) is checked against its own shape too (see _grown_zones).
_WIDE_DEG = 0.5


def _grown_zones(
    geoms: npt.NDArray[np.object_], tol: float, metric_crs: str
) -> tuple[FloatArray, IntArray, npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """(boundary segments and their offsets per zone in the metric CRS (``_zone_segments``),
    zones grown by a little more than ``tol`` and by a little less, in lon/lat), cached.

    Every point within ``tol`` of a zone is in its grown form; every point in its inner
    form is within ``tol`` (``_INNER_FACTOR``), so only the band between needs a distance.

    The growing happens in the metric CRS; the grown zones are densified (edges of at most
    ``_DENSIFY_M``) before going back to lon/lat, so that straight edges in either CRS
    differ by far less than the growing margin. A zone that does not project (outside the
    CRS's domain) is its own "grown" zone: inside is still found, "near" never is.
    """
    digest = hashlib.sha1(usedforsecurity=False)
    for wkb in shapely.to_wkb(geoms):
        digest.update(wkb)
    key = (metric_crs, tol, digest.digest())
    with _GROWN_LOCK:
        hit = _GROWN_CACHE.get(key)
        if hit is not None:
            _GROWN_CACHE.move_to_end(key)
            return hit
    fwd = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
    back = Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True)
    mgeoms = shapely.transform(geoms, lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1])))
    grown_m = shapely.segmentize(shapely.buffer(mgeoms, tol * _GROW_FACTOR), _DENSIFY_M)
    inner_m = shapely.segmentize(shapely.buffer(mgeoms, tol * _INNER_FACTOR), _DENSIFY_M)

    def to_lonlat(g: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
        out: npt.NDArray[np.object_] = shapely.transform(
            g, lambda c: np.column_stack(back.transform(c[:, 0], c[:, 1]))
        )
        return out

    grown, inner = to_lonlat(grown_m), to_lonlat(inner_m)
    with np.errstate(invalid="ignore"):
        unprojected = ~np.isfinite(shapely.bounds(mgeoms)).all(axis=1) & ~shapely.is_empty(geoms)
        unprojected |= ~np.isfinite(shapely.bounds(grown)).all(axis=1) & ~unprojected
        ll = shapely.bounds(geoms)
        # far from the CRS's centre a projection distorts: keep the zone itself in its grown
        # form, so inside never depends on the round trip
        wide = ((ll[:, 2] - ll[:, 0]) > _WIDE_DEG) | ((ll[:, 3] - ll[:, 1]) > _WIDE_DEG)
    # Such a zone's candidates are the points in its box grown by a degree (clipped to the
    # globe): inside is then decided on its own shape, "near" on its projected edges.
    odd = np.flatnonzero((unprojected | wide) & ~shapely.is_empty(geoms))
    if odd.size:
        lo = np.maximum(ll[odd, :2] - 1.0, (-180.0, -90.0))
        hi = np.minimum(ll[odd, 2:] + 1.0, (180.0, 90.0))
        grown[odd] = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
        inner[odd] = geoms[odd]
    shapely.prepare(grown)
    shapely.prepare(inner)
    segs, offsets = _zone_segments(mgeoms)
    with _GROWN_LOCK:
        _GROWN_CACHE[key] = (segs, offsets, grown, inner)
        while len(_GROWN_CACHE) > _GROWN_CACHE_SIZE:
            _GROWN_CACHE.popitem(last=False)
    return segs, offsets, grown, inner


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
        pi, zi, _cls = _inside_pairs(x, y, geoms, nworkers)
        return PointZonePairs(pi, zi, np.zeros(pi.size, dtype=np.bool_))

    # Candidates: points in the zones grown by (a little more than) the tolerance, tested
    # in lon/lat like the inside test, on zones grown once per zone set and tolerance.
    # Inside (boundary inclusive) is decided on the stored lon/lat, exactly as at tolerance 0.
    segs, offsets, grown, inner = _grown_zones(geoms, tolerance_m, metric_crs)
    ci, cz, cls = _inside_pairs(x, y, grown, nworkers, exact=geoms, inner=inner)
    # Points in the thin band between the inner and the grown zone are measured exactly in
    # the metric CRS: only these few are projected.
    rest = np.flatnonzero(cls == 2)
    keep = cls < 2
    if rest.size:
        # A Transformer per call (~5 ms): pyproj objects are not shared across threads.
        tr = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
        mx, my = (np.asarray(a, dtype=np.float64) for a in tr.transform(x[ci[rest]], y[ci[rest]]))
        # A point outside the metric CRS's domain projects to inf: never "near" a zone.
        finite = np.flatnonzero(np.isfinite(mx) & np.isfinite(my))
        keep[rest[finite]] = _within(
            mx[finite], my[finite], cz[rest[finite]], segs, offsets, tolerance_m
        )
    return PointZonePairs(ci[keep], cz[keep], cls[keep] > 0)


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
