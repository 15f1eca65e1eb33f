"""The vectorised point-in-zone join under targeting: numpy lon/lat in, (point, zone) pairs out.

:func:`join_points` works on plain numpy lon/lat arrays and a sequence of geometries;
``alertsvc.geo.targeting.find_targets`` builds the domain result on top of it, and
``scripts/bench_targeting.py`` times this exact code path against ``geopandas.sjoin``.

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

from alertsvc.geo.grown_zones import grown_zones, within

__all__ = ["PointZonePairs", "join_points"]

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
    segs, offsets, grown, inner = grown_zones(geoms, tolerance_m, metric_crs)
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
        keep[rest[finite]] = within(
            mx[finite], my[finite], cz[rest[finite]], segs, offsets, tolerance_m
        )
    return PointZonePairs(ci[keep], cz[keep], cls[keep] > 0)
