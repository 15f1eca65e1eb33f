"""Places: imported zone sets and their polygons, the grown-zone cache, and shelters.

Geometries are WKB blobs with bounding-box columns, so no PostGIS is needed: the
bounding boxes give a cheap SQL pre-filter and shapely does the exact work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alertsvc.db.tables.base import Base, UTCDateTime, utcnow

__all__ = ["GrownZoneCache", "Shelter", "Zone", "ZoneSet"]


class ZoneSet(Base):
    __tablename__ = "zone_sets"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    source_crs: Mapped[str] = mapped_column(String(64))
    depth_field: Mapped[str | None] = mapped_column(String(100))
    feature_count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    zones: Mapped[list[Zone]] = relationship(
        back_populates="zone_set", cascade="all, delete-orphan", passive_deletes=True
    )


class Zone(Base):
    __tablename__ = "zones"

    # "<set>/<feature index>": stable across re-imports of the same file
    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    set_name: Mapped[str] = mapped_column(
        ForeignKey("zone_sets.name", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    depth_rank: Mapped[int | None] = mapped_column(Integer)
    depth_m: Mapped[float | None] = mapped_column(Float)
    name: Mapped[str] = mapped_column(Text, default="")
    geom_wkb: Mapped[bytes] = mapped_column(LargeBinary)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    zone_set: Mapped[ZoneSet] = relationship(back_populates="zones")

    __table_args__ = (Index("ix_zones_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),)


class GrownZoneCache(Base):
    """Zones grown by the edge tolerance (``geo.grown_zones``), computed at zone import.

    Keyed by content (metric CRS, tolerance, the zones' WKB: ``grown_zones.cache_key``), so
    a row is never stale; deleting or re-importing the zone set deletes its rows.
    """

    __tablename__ = "zone_grown_cache"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    set_name: Mapped[str] = mapped_column(
        ForeignKey("zone_sets.name", ondelete="CASCADE"), index=True
    )
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Shelter(Base):
    __tablename__ = "shelters"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    name_kana: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    kinds: Mapped[list[Any]] = mapped_column(JSON, default=list)
    hazards: Mapped[list[Any]] = mapped_column(JSON, default=list)
    capacity: Mapped[int | None] = mapped_column(Integer)
    wheelchair: Mapped[bool | None] = mapped_column(Boolean)
    floors: Mapped[int | None] = mapped_column(Integer)
    source_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
