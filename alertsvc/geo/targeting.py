"""Targeting: which located residents are in (or near) which zones of an alert scope.

Pure: no database, no network, no CLI. Imports only numpy, shapely, pyproj and
``alertsvc.models``.

Three modules:

* :func:`find_targets` (here) — the domain function the services call. Residents and zones
  in, :class:`~alertsvc.models.TargetingResult` out (targets in input order, unlocated
  residents always reported separately). :func:`targets_from_pairs` builds the same targets
  from a join already made (the preview joins the register's columns once).
* :func:`~alertsvc.geo.point_join.join_points` — the vectorised point-in-zone join
  underneath, on plain numpy lon/lat arrays (re-exported here).
* :mod:`alertsvc.geo.grown_zones` — the zones grown by the edge tolerance (cached) and the
  exact distance test that keeps ``edge_only`` exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from shapely.geometry.base import BaseGeometry

from alertsvc.geo.point_join import PointZonePairs, join_points
from alertsvc.models import ResidentInfo, Target, TargetingResult, ZoneInfo, ZoneKind

__all__ = [
    "DEFAULT_TOLERANCE_M",
    "PointZonePairs",
    "find_targets",
    "join_points",
    "targets_from_pairs",
]

DEFAULT_TOLERANCE_M = 30.0


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

    targets = targets_from_pairs(
        pairs, [residents[i] for i in located], zones, with_area=area_index >= 0
    )
    return TargetingResult(targets=tuple(targets), unlocated=tuple(unlocated))


def targets_from_pairs(
    pairs: PointZonePairs,
    located: Sequence[ResidentInfo],
    zones: Sequence[ZoneInfo],
    *,
    with_area: bool = False,
) -> list[Target]:
    """One Target per point in ``pairs``, in point order, as ``find_targets`` makes them.

    ``pairs`` is ``join_points`` over the positions of ``located`` (``pairs.point[k]``
    indexes it) and the geometries of ``zones``, followed by the scope's area when
    ``with_area`` (geometry index ``len(zones)``). Per-point reductions run in numpy.
    """
    if not len(pairs):
        return []
    area_index = len(zones) if with_area else -1
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
