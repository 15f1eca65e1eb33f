"""Read stored zones back: ``ZoneInfo`` records for targeting, summaries for the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alertsvc.db.tables import Zone, ZoneSet
from alertsvc.errors import ScopeError
from alertsvc.models import ZoneInfo, ZoneKind

__all__ = ["ZoneRow", "ZoneSetSummary", "list_zone_sets", "list_zones", "load_zones"]


@dataclass(frozen=True, slots=True)
class ZoneSetSummary:
    name: str
    kind: ZoneKind
    feature_count: int
    imported_at: dt.datetime  # aware UTC
    source: str
    source_crs: str
    depth_field: str | None
    bbox: tuple[float, float, float, float] | None  # min lon, min lat, max lon, max lat


@dataclass(frozen=True, slots=True)
class ZoneRow:
    """One zone without its geometry (for listings)."""

    id: str
    set_name: str
    kind: ZoneKind
    depth_rank: int | None
    depth_m: float | None
    name: str
    bbox: tuple[float, float, float, float]


def _order_key(zone_id: str) -> tuple[str, int, str]:
    # "<set>/<index>": numeric order of the feature index, not "10" < "2"
    set_name, _, index = zone_id.rpartition("/")
    return (set_name, int(index), "") if index.isdigit() else (set_name, -1, index)


def load_zones(
    session: Session, set_names: Sequence[str] = (), zone_ids: Sequence[str] = ()
) -> list[ZoneInfo]:
    """The zones of the named sets plus the named zones, each once, in set/index order.

    With neither given, every stored zone. Raises ``ScopeError`` naming every unknown
    set and zone id (all of them, not just the first); nothing is returned then.
    """
    wanted_sets = list(dict.fromkeys(set_names))
    wanted_ids = list(dict.fromkeys(zone_ids))
    problems: list[str] = []
    if wanted_sets:
        known = set(
            session.execute(select(ZoneSet.name).where(ZoneSet.name.in_(wanted_sets))).scalars()
        )
        problems += [f"unknown zone set {n!r}" for n in wanted_sets if n not in known]
    if wanted_ids:
        found = set(session.execute(select(Zone.id).where(Zone.id.in_(wanted_ids))).scalars())
        problems += [f"unknown zone {z!r}" for z in wanted_ids if z not in found]
    if problems:
        raise ScopeError(
            "区域が見つかりません / " + "; ".join(problems) + " (see `alertsvc zones list`)"
        )
    stmt = select(Zone)
    if wanted_sets or wanted_ids:
        stmt = stmt.where(Zone.set_name.in_(wanted_sets) | Zone.id.in_(wanted_ids))
    zones = [
        ZoneInfo(
            id=z.id,
            set_name=z.set_name,
            kind=ZoneKind(z.kind),
            depth_rank=z.depth_rank,
            geometry=shapely.from_wkb(z.geom_wkb),
        )
        for z in session.execute(stmt).scalars()
    ]
    return sorted(zones, key=lambda z: _order_key(z.id))


def list_zone_sets(session: Session) -> list[ZoneSetSummary]:
    """Every stored zone set with its feature count and overall bounding box, by name."""
    boxes = {
        row[0]: (row[1], row[2], row[3], row[4])
        for row in session.execute(
            select(
                Zone.set_name,
                func.min(Zone.min_lon),
                func.min(Zone.min_lat),
                func.max(Zone.max_lon),
                func.max(Zone.max_lat),
            ).group_by(Zone.set_name)
        )
    }
    return [
        ZoneSetSummary(
            name=s.name,
            kind=ZoneKind(s.kind),
            feature_count=s.feature_count,
            imported_at=s.imported_at,
            source=s.source,
            source_crs=s.source_crs,
            depth_field=s.depth_field,
            bbox=boxes.get(s.name),
        )
        for s in session.execute(select(ZoneSet).order_by(ZoneSet.name)).scalars()
    ]


def list_zones(session: Session, set_names: Sequence[str] = ()) -> list[ZoneRow]:
    """Zones (without geometry) of the given sets, or of all sets, in set/index order."""
    stmt = select(
        Zone.id,
        Zone.set_name,
        Zone.kind,
        Zone.depth_rank,
        Zone.depth_m,
        Zone.name,
        Zone.min_lon,
        Zone.min_lat,
        Zone.max_lon,
        Zone.max_lat,
    )
    if set_names:
        stmt = stmt.where(Zone.set_name.in_(list(set_names)))
    rows = [
        ZoneRow(r[0], r[1], ZoneKind(r[2]), r[3], r[4], r[5], (r[6], r[7], r[8], r[9]))
        for r in session.execute(stmt)
    ]
    return sorted(rows, key=lambda z: _order_key(z.id))
