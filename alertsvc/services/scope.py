"""An alert's scope: zone sets, zone ids and/or an area polygon from a file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from alertsvc.errors import RowError, ScopeError
from alertsvc.geo.extent import JAPAN
from alertsvc.models import RiverForecast, ZoneInfo

__all__ = ["Scope", "load_area", "resolve_scope", "scope_from_dict"]


@dataclass(frozen=True)
class Scope:
    zone_sets: tuple[str, ...] = ()
    zone_ids: tuple[str, ...] = ()
    area_file: str | None = None
    zones: tuple[ZoneInfo, ...] = field(default=(), repr=False)
    area: BaseGeometry | None = field(default=None, repr=False)
    # the river flood forecast the alert is raised on (the watcher sets it): the texts
    # name it (レベル4氾濫危険警報 …), and so do the correction and the all-clear
    river: RiverForecast | None = None

    def as_dict(self) -> dict[str, Any]:
        """What is stored with the alert and in the audit log (``river`` only when set)."""
        out: dict[str, Any] = {
            "zone_sets": list(self.zone_sets),
            "zone_ids": list(self.zone_ids),
            "area_file": self.area_file,
            "area_wkt": self.area.wkt if self.area is not None else None,
        }
        if self.river is not None:
            out["river"] = self.river.as_dict()
        return out


def load_area(path: Path) -> BaseGeometry:
    """Read an area polygon (GeoJSON or any format geopandas reads) as one EPSG:4326 shape.

    Raises ScopeError when the file is unreadable, has no CRS, no polygon, or lies
    outside Japan.
    """
    import geopandas as gpd
    import shapely

    if not path.is_file():
        raise ScopeError(f"{path}: area file not found")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types for bad files
        raise ScopeError(f"{path}: cannot read area file: {exc}") from exc
    if frame.empty:
        raise ScopeError(f"{path}: the area file has no features")
    if frame.crs is None:
        raise ScopeError(f"{path}: the area file has no CRS; give it one (EPSG:4326 for lon/lat)")
    frame = frame.to_crs(4326)
    errors: list[RowError] = []
    polys = []
    for index, geom in enumerate(frame.geometry):
        if geom is None or geom.is_empty:
            errors.append(RowError(index, "geometry", "empty geometry"))
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            errors.append(RowError(index, "geometry", f"expected a polygon, got {geom.geom_type}"))
            continue
        # a coordinate outside Japan is a swapped or wrong CRS
        if not JAPAN.covers(geom.bounds):
            errors.append(
                RowError(
                    index, "geometry", "coordinates outside Japan (swapped axes or wrong CRS?)"
                )
            )
            continue
        polys.append(shapely.make_valid(geom))
    if errors:
        raise ScopeError(f"{path}: the area file is invalid", errors)
    return shapely.union_all(polys)


def resolve_scope(
    session: Session,
    zone_sets: Sequence[str] = (),
    zone_ids: Sequence[str] = (),
    area_file: Path | None = None,
) -> Scope:
    """Load the zones and area a scope names. Raises ScopeError if it names nothing."""
    from alertsvc.geo.zone_store import load_zones

    if not zone_sets and not zone_ids and area_file is None:
        raise ScopeError(
            "範囲が指定されていません / no scope: give --zone-set, --zone or --area (repeatable)"
        )
    zones: list[ZoneInfo] = []
    if zone_sets or zone_ids:
        zones = load_zones(session, set_names=tuple(zone_sets), zone_ids=tuple(zone_ids))
    area = load_area(area_file) if area_file is not None else None
    if not zones and area is None:
        raise ScopeError("the scope contains no zones")
    return Scope(
        zone_sets=tuple(zone_sets),
        zone_ids=tuple(zone_ids),
        area_file=str(area_file) if area_file else None,
        zones=tuple(zones),
        area=area,
    )


def scope_from_dict(session: Session, doc: dict[str, Any]) -> Scope:
    """Rebuild a scope saved with ``Scope.as_dict`` (a draft): the zones by name, the
    area from its stored polygon (the area file may have changed or gone since).

    Raises ScopeError when a zone set or zone no longer exists.
    """
    import shapely

    from alertsvc.geo.zone_store import load_zones

    sets = tuple(doc.get("zone_sets") or ())
    ids = tuple(doc.get("zone_ids") or ())
    zones = load_zones(session, set_names=sets, zone_ids=ids) if sets or ids else []
    wkt = doc.get("area_wkt")
    area = shapely.from_wkt(wkt) if wkt else None
    if not zones and area is None:
        raise ScopeError("the saved scope contains no zones")
    return Scope(
        zone_sets=sets,
        zone_ids=ids,
        area_file=doc.get("area_file"),
        zones=tuple(zones),
        area=area,
        river=RiverForecast.from_dict(doc.get("river")),
    )
