"""Zones grown by the edge tolerance, stored with their zone set (computed at import).

Growing thousands of zones costs more than joining a city's register to them, and the
zones change only on import. ``store_grown_zones`` grows a set's zones once, right after
the set is imported, and stores the result keyed by content (``grown_zones.cache_key``:
metric CRS, tolerance, the zones' WKB in order); ``load_grown_zones`` puts a stored result
in the in-process cache before a join. A key never goes stale: other geometries or another
tolerance are another key, and the set's rows go with it when it is deleted or re-imported
(``ON DELETE CASCADE``). A missing or unreadable row only means the join grows the zones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alertsvc.db.tables import GrownZoneCache
from alertsvc.geo.grown_zones import (
    cache_key,
    decode_grown,
    encode_grown,
    grown_zones,
    remember_grown,
)

__all__ = ["load_grown_zones", "store_grown_zones"]


def _array(geometries: Sequence[BaseGeometry]) -> npt.NDArray[np.object_]:
    geoms = np.empty(len(geometries), dtype=object)
    geoms[:] = list(geometries)
    return geoms


def store_grown_zones(
    session: Session, set_name: str, *, tolerance_m: float, metric_crs: str
) -> bool:
    """Grow the zones of ``set_name`` (in scope order) and store them; replaces the set's
    earlier rows. False when there is nothing to grow (no zones, tolerance 0).

    Raises ``pyproj.exceptions.CRSError`` for an unknown ``metric_crs``; database errors
    propagate.
    """
    from alertsvc.geo.zone_store import load_zones

    session.execute(delete(GrownZoneCache).where(GrownZoneCache.set_name == set_name))
    geoms = _array([z.geometry for z in load_zones(session, set_names=(set_name,))])
    if geoms.size == 0 or tolerance_m <= 0:
        return False
    value = grown_zones(geoms, tolerance_m, metric_crs)
    session.add(
        GrownZoneCache(
            key=cache_key(geoms, tolerance_m, metric_crs),
            set_name=set_name,
            payload=encode_grown(value),
        )
    )
    session.flush()
    return True


def load_grown_zones(
    session: Session,
    geometries: Sequence[BaseGeometry],
    *,
    tolerance_m: float,
    metric_crs: str,
) -> bool:
    """Put the stored grown forms of exactly ``geometries`` (same order) in the join's
    cache; True when found. Never raises for a missing or unreadable row."""
    if not geometries or tolerance_m <= 0:
        return False
    geoms = _array(geometries)
    key = cache_key(geoms, tolerance_m, metric_crs)
    payload = session.execute(
        select(GrownZoneCache.payload).where(GrownZoneCache.key == key)
    ).scalar_one_or_none()
    if payload is None:
        return False
    try:
        value = decode_grown(payload)
    except ValueError:
        return False
    if value[2].size != geoms.size or value[3].size != geoms.size:
        return False
    remember_grown(geoms, tolerance_m, metric_crs, value)
    return True
