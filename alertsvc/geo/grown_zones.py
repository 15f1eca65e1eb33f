"""Zones grown by the edge tolerance, and the exact distance test for the band between.

Part of targeting (see :mod:`alertsvc.geo.point_join`): every zone is grown in the metric
CRS by a little more than the tolerance and by a little less, both go back to lon/lat, and
the few points between the two forms are measured exactly against the zone's projected
edges (:func:`within`). Grown zones are cached per (metric CRS, tolerance, zone geometries),
keyed by content: a re-import (new coordinates) is a new entry, never a stale one.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import zipfile
from collections import OrderedDict

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

__all__ = [
    "GrownZones",
    "cache_key",
    "decode_grown",
    "encode_grown",
    "grown_zones",
    "remember_grown",
    "within",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# At most this many (point, segment) pairs in one run of work: bounds the temporary arrays.
_MAX_PART = 1_500_000

# (boundary segments, their offsets per zone, grown zones, inner zones); see grown_zones
GrownZones = tuple[FloatArray, IntArray, npt.NDArray[np.object_], npt.NDArray[np.object_]]


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


def within(
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
    GrownZones,
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


def grown_zones(geoms: npt.NDArray[np.object_], tol: float, metric_crs: str) -> GrownZones:
    """(boundary segments and their offsets per zone in the metric CRS (``_zone_segments``),
    zones grown by a little more than ``tol`` and by a little less, in lon/lat), cached.

    Every point within ``tol`` of a zone is in its grown form; every point in its inner
    form is within ``tol`` (``_INNER_FACTOR``), so only the band between needs a distance.

    The growing happens in the metric CRS; the grown zones are densified (edges of at most
    ``_DENSIFY_M``) before going back to lon/lat, so that straight edges in either CRS
    differ by far less than the growing margin. A zone that does not project (outside the
    CRS's domain) is its own "grown" zone: inside is still found, "near" never is.
    """
    key = _key(geoms, tol, metric_crs)
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
    _remember(key, (segs, offsets, grown, inner))
    return segs, offsets, grown, inner


def _key(geoms: npt.NDArray[np.object_], tol: float, metric_crs: str) -> tuple[str, float, bytes]:
    digest = hashlib.sha1(usedforsecurity=False)
    for wkb in shapely.to_wkb(geoms):
        digest.update(wkb)
    return (metric_crs, float(tol), digest.digest())


def _remember(key: tuple[str, float, bytes], value: GrownZones) -> None:
    with _GROWN_LOCK:
        _GROWN_CACHE[key] = value
        _GROWN_CACHE.move_to_end(key)
        while len(_GROWN_CACHE) > _GROWN_CACHE_SIZE:
            _GROWN_CACHE.popitem(last=False)


def cache_key(geoms: npt.NDArray[np.object_], tol: float, metric_crs: str) -> str:
    """The content key of ``grown_zones(geoms, tol, metric_crs)`` as text (for storage)."""
    crs, tolerance, digest = _key(geoms, tol, metric_crs)
    return f"{crs}|{tolerance!r}|{digest.hex()}"


def remember_grown(
    geoms: npt.NDArray[np.object_], tol: float, metric_crs: str, value: GrownZones
) -> None:
    """Put a stored result of ``grown_zones(geoms, tol, metric_crs)`` in the cache.

    ``value`` must be what that call returned for these very geometries (``encode_grown``
    then ``decode_grown`` of it): the cache is keyed by their content.
    """
    shapely.prepare(value[2])
    shapely.prepare(value[3])
    _remember(_key(geoms, tol, metric_crs), value)


def encode_grown(value: GrownZones) -> bytes:
    """``grown_zones``' result as bytes (numpy ``.npz``, no pickling); see ``decode_grown``."""
    segs, offsets, grown, inner = value
    arrays: dict[str, npt.NDArray[np.generic]] = {"segs": segs, "offsets": offsets}
    for name, geoms in (("grown", grown), ("inner", inner)):
        wkb = shapely.to_wkb(geoms)
        arrays[f"{name}_len"] = np.array([len(w) for w in wkb], dtype=np.int64)
        arrays[f"{name}_wkb"] = np.frombuffer(b"".join(wkb), dtype=np.uint8)
    out = io.BytesIO()
    np.savez(out, allow_pickle=False, **arrays)
    return out.getvalue()


def decode_grown(data: bytes) -> GrownZones:
    """The inverse of ``encode_grown``; raises ``ValueError`` for bytes it did not write."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            parts = {k: npz[k] for k in npz.files}
        geoms = []
        for name in ("grown", "inner"):
            raw = parts[f"{name}_wkb"].tobytes()
            ends = np.cumsum(parts[f"{name}_len"]).tolist()
            starts = [0, *ends[:-1]]
            wkb = np.empty(len(ends), dtype=object)
            wkb[:] = [raw[a:b] for a, b in zip(starts, ends, strict=True)]
            geoms.append(shapely.from_wkb(wkb))
        segs = np.ascontiguousarray(parts["segs"], dtype=np.float64)
        offsets = np.asarray(parts["offsets"], dtype=np.int64)
    except (KeyError, OSError, ValueError, zipfile.BadZipFile, shapely.errors.GEOSException) as exc:
        raise ValueError(f"not a stored grown-zone record: {exc}") from exc
    return segs, offsets, geoms[0], geoms[1]
