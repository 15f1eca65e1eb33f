"""Flood-zone import: read, validate, reproject, then replace one zone set atomically.

Two steps with a hard line between them:

1. ``read_zones`` turns a GeoJSON, GeoPackage, (zipped) Shapefile or PLATEAU CityGML file
   into a list of normalised ``ZoneFeature`` records in EPSG:4326 (lon, lat). It collects
   EVERY problem (per feature: empty, non-polygonal, unrepairable or outside Japan geometry,
   bad depth value) and raises one ``ZoneDataError`` carrying them all.
2. ``import_zones`` compares the features with the stored set and, unless ``dry_run``,
   replaces the set in one transaction together with its audit entry.

CRS rules (never guess): a file without a CRS is refused unless ``crs`` is given; a ``crs``
that contradicts the file's own CRS is refused. GeoJSON without a ``crs`` member is
WGS 84 lon/lat by definition (RFC 7946), which is not a guess, unless ``crs`` declares
otherwise. After reprojection every coordinate must lie inside Japan's extent
(lon 122–154, lat 20–46), which also catches swapped axes and mislabelled CRSs.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError
from shapely.errors import GEOSException
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from alertsvc.audit import record
from alertsvc.db import session_scope
from alertsvc.db.tables import Zone, ZoneSet, utcnow
from alertsvc.errors import RowError, ZoneDataError
from alertsvc.geo.extent import JAPAN
from alertsvc.geo.zone_read import WGS84, Plausible, crs_label, parse_crs, read_raw, same_crs
from alertsvc.ingest import Problems
from alertsvc.models import DEPTH_RANK_METRES, ImportReport, ZoneKind

__all__ = [
    "DEPTH_FIELDS",
    "ZoneFeature",
    "ZoneFile",
    "fingerprint",
    "import_zones",
    "parse_crs",
    "parse_depth",
    "read_zones",
    "validate_set_name",
]

# auto-detection order of the depth attribute; --depth-field overrides it
DEPTH_FIELDS: tuple[str, ...] = ("A31a_205", "浸水ランク", "depth_rank", "depth_m")
# (min lon, min lat, max lon, max lat): every stored coordinate must lie inside
NAME_FIELDS: tuple[str, ...] = ("name", "名称", "Name", "NAME", "A31a_202")


@dataclass(frozen=True, slots=True)
class ZoneFeature:
    """One normalised zone: polygonal geometry in EPSG:4326 (lon, lat), 2D, valid."""

    index: int
    geometry: BaseGeometry
    depth_rank: int | None
    depth_m: float | None
    name: str
    properties: dict[str, Any]


@dataclass(slots=True)
class ZoneFile:
    """Everything ``read_zones`` learnt about a file."""

    features: list[ZoneFeature]
    source_crs: str
    depth_field: str | None
    kind: ZoneKind
    warnings: list[RowError] = field(default_factory=list)


def validate_set_name(name: str) -> str:
    """Return the stripped set name; raise ``ZoneDataError`` if it cannot form zone ids."""
    stripped = name.strip()
    problems = []
    if not stripped:
        problems.append("is empty")
    if "/" in stripped:
        problems.append("contains '/', which separates set and feature in zone ids")
    if len(stripped) > 200:
        problems.append("is longer than 200 characters")
    if problems:
        raise ZoneDataError(f"zone set name {name!r} " + " and ".join(problems))
    return stripped


# --- normalising ---------------------------------------------------------------------------


def _is_metres_field(name: str) -> bool:
    return name == "depth_m" or name.lower().endswith("_m")


def _rank_for_metres(depth: float) -> int:
    for rank, (low, high) in sorted(DEPTH_RANK_METRES.items()):
        if depth >= low and (high is None or depth < high):
            return rank
    raise ValueError(depth)  # unreachable for depth >= 0


def parse_depth(value: Any, field_name: str) -> tuple[int | None, float | None, str | None]:
    """Parse one depth attribute into ``(rank, metres, error message)``; never raises.

    A field named ``depth_m`` or ending in ``_m`` holds metres (>= 0), mapped to a rank
    with ``DEPTH_RANK_METRES``; any other field holds an A31a rank, an integer 1–6
    (full-width digits and "3.0" are accepted). Empty values give ``(None, None, None)``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None, None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if _is_metres_field(field_name):
        try:
            metres = float(text)
        except ValueError:
            return None, None, f"depth in metres expected, got {value!r}"
        if not math.isfinite(metres) or metres < 0:
            return None, None, f"depth in metres must be a number >= 0, got {value!r}"
        return _rank_for_metres(metres), metres, None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not number.is_integer() or not 1 <= number <= 6:
        return None, None, f"depth rank must be an integer 1–6 (A31a ranks), got {value!r}"
    return int(number), None, None


def _choose_depth_field(
    columns: Iterable[str], requested: str | None, kind: ZoneKind
) -> str | None:
    cols = list(columns)
    if requested:
        if requested not in cols:
            raise ZoneDataError(
                f"--depth-field {requested!r} is not a field of this file "
                f"(fields: {', '.join(cols) or 'none'})",
                [RowError(-1, requested, "no such field")],
            )
        return requested
    found = next((f for f in DEPTH_FIELDS if f in cols), None)
    if found is None and kind is ZoneKind.INUNDATION:
        raise ZoneDataError(
            "no depth field found (looked for " + ", ".join(DEPTH_FIELDS) + "); "
            "give --depth-field NAME, or --kind house-collapse for a set without depths "
            f"(fields: {', '.join(cols) or 'none'})",
            [RowError(-1, "", "no depth field")],
        )
    return found


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygon parts of a geometry (make_valid may add lines or points)."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    parts: list[Polygon] = []
    for part in getattr(geom, "geoms", []):
        sub = _polygonal(part)
        parts.extend(getattr(sub, "geoms", [sub]) if not sub.is_empty else [])
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _outside_japan(geom: BaseGeometry) -> str | None:
    coords = shapely.get_coordinates(geom)
    lon0, lat0, lon1, lat1 = JAPAN.bounds
    lon, lat = coords[:, 0], coords[:, 1]
    bad = (lon < lon0) | (lon > lon1) | (lat < lat0) | (lat > lat1)
    if not bad.any():
        return None
    x, y = coords[bad][0]
    msg = (
        f"coordinates outside Japan (lon {lon0:g}–{lon1:g}, lat {lat0:g}–{lat1:g}) "
        f"after reprojection to EPSG:4326: first bad point lon {x:.6f}, lat {y:.6f}"
    )
    if lon0 <= y <= lon1 and lat0 <= x <= lat1:
        msg += "; latitude and longitude look swapped (axis order)"
    else:
        msg += "; wrong CRS or corrupt coordinates?"
    return msg


def _to_wgs84(crs: CRS) -> Transformer | None:
    if same_crs(crs, WGS84):
        return None
    # always_xy: readers hand us (x=lon/easting, y=lat/northing) whatever the CRS says
    try:
        return Transformer.from_crs(crs, WGS84, always_xy=True)
    except ProjError as exc:
        raise ZoneDataError(
            f"cannot reproject from {crs_label(crs)} to EPSG:4326: {exc}",
            [RowError(-1, "crs", "no transformation to EPSG:4326")],
        ) from exc


def read_zones(
    path: Path,
    *,
    kind: ZoneKind = ZoneKind.INUNDATION,
    depth_field: str | None = None,
    crs: str | None = None,
) -> ZoneFile:
    """Read and validate a zone file into EPSG:4326 features (feature index = file order).

    Raises ``ZoneDataError`` carrying every problem found when: the file is missing,
    empty, truncated or unreadable; it has no CRS and ``crs`` is not given; ``crs``
    contradicts the file's CRS; it has no features; no depth field is found for an
    inundation set; or any feature is empty, not a (Multi)Polygon, invalid beyond repair,
    outside Japan after reprojection, or has a bad depth value. Repaired geometries and
    encoding guesses are returned as ``warnings``.
    """
    override = parse_crs(crs) if crs else None
    raw = read_raw(path, override)
    if raw.crs is None and override is None:
        raise ZoneDataError(
            f"{path.name}: no CRS in the file; give --crs EPSG:xxxx (for example EPSG:6670 "
            "for plane rectangular zone II or EPSG:6668 for JGD2011 lon/lat) — "
            "座標参照系がありません。--crs で指定してください",
            [RowError(-1, "crs", "missing CRS")],
        )
    if raw.crs is not None and override is not None and not same_crs(raw.crs, override):
        raise ZoneDataError(
            f"{path.name}: --crs {crs_label(override)} contradicts the file's own CRS "
            f"{crs_label(raw.crs)}; refusing to override it (drop --crs or fix the file)",
            [RowError(-1, "crs", "CRS mismatch")],
        )
    src_crs = raw.crs if raw.crs is not None else override
    assert src_crs is not None
    if not raw.rows and not raw.errors:
        raise ZoneDataError(f"{path.name}: the file has no features / 地物がありません")
    chosen = _choose_depth_field(raw.columns, depth_field, kind)
    transformer = _to_wgs84(src_crs)
    plausible = Plausible.of(src_crs)

    problems = Problems()
    problems.errors.extend(raw.errors)
    problems.warnings.extend(raw.warnings)
    features: list[ZoneFeature] = []
    for index, (props, geom, gml_name) in enumerate(raw.rows):
        if index in raw.failed:
            continue
        row = _FeatureProblems(problems, index)
        try:
            feature = _normalise(row, props, geom, gml_name, transformer, chosen, kind, plausible)
        except GEOSException as exc:
            # one geometry GEOS cannot process is this feature's problem, not a crash
            row.error("geometry", str(exc))
            feature = None
        if feature is not None and not row.failed:
            features.append(feature)
    if problems.errors:
        raise ZoneDataError(
            f"{path.name}: {len(problems.errors)} problem(s); nothing was imported / "
            "取り込みを中止しました",
            problems.errors,
        )
    return ZoneFile(features, crs_label(src_crs), chosen, kind, problems.warnings)


class _FeatureProblems:
    """The shared ``Problems`` collector seen from one feature (its index as the line)."""

    def __init__(self, problems: Problems, index: int) -> None:
        self.problems = problems
        self.index = index
        self._mark = problems.mark()

    def error(self, column: str, message: str) -> None:
        self.problems.error(self.index, column, message)

    def warn(self, column: str, message: str) -> None:
        self.problems.warn(self.index, column, message)

    @property
    def failed(self) -> bool:
        return bool(self.problems.since(self._mark))


def _normalise(
    row: _FeatureProblems,
    props: dict[str, Any],
    geom: BaseGeometry | None,
    gml_name: str,
    transformer: Transformer | None,
    depth_field: str | None,
    kind: ZoneKind,
    plausible: Plausible,
) -> ZoneFeature | None:
    """Validate one feature, reporting on ``row``; None when it cannot be stored."""
    err = row.error

    rank: int | None = None
    metres: float | None = None
    if depth_field is not None:
        rank, metres, problem = parse_depth(props.get(depth_field), depth_field)
        if problem:
            err(depth_field, problem)
        elif rank is None and kind is ZoneKind.INUNDATION:
            err(depth_field, "depth is missing (inundation zones need a depth rank)")

    if geom is None or geom.is_empty:
        err("geometry", "empty geometry / ジオメトリが空です")
        return None
    if not isinstance(geom, Polygon | MultiPolygon):
        err("geometry", f"geometry is {geom.geom_type}; expected Polygon or MultiPolygon")
        return None
    geom = shapely.force_2d(geom)
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        err("geometry", "coordinates are not finite numbers (NaN or infinity)")
        return None
    degrees = plausible.degrees_in_metres(geom)
    if degrees:
        err("geometry", degrees)
        return None
    if transformer is not None:
        geom = shapely.transform(geom, transformer.transform, interleaved=False)
        if not np.isfinite(shapely.get_coordinates(geom)).all():
            err("geometry", "coordinates cannot be reprojected to EPSG:4326 (wrong CRS?)")
            return None
    outside = _outside_japan(geom) or plausible.outside_area_of_use(geom)
    if outside:
        err("geometry", outside)
        return None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = _polygonal(shapely.make_valid(geom))
        if fixed.is_empty or fixed.area == 0:
            err("geometry", f"invalid geometry that cannot be repaired: {reason}")
            return None
        row.warn("geometry", f"invalid geometry repaired (make_valid): {reason}")
        geom = fixed
    if row.failed:
        return None
    name = next((str(props[k]) for k in NAME_FIELDS if props.get(k) not in (None, "")), gml_name)
    return ZoneFeature(row.index, geom, rank, metres, name, dict(props))


# --- storing -------------------------------------------------------------------------------


def fingerprint(
    kind: str,
    depth_rank: int | None,
    depth_m: float | None,
    name: str,
    properties: Mapping[str, Any],
    geom_wkb: bytes,
) -> str:
    """A stable hash of what a zone row means; equal hashes count as "unchanged"."""
    attrs = json.dumps(
        [kind, depth_rank, depth_m, name, dict(properties)],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(attrs.encode("utf-8") + b"\0" + geom_wkb).hexdigest()


def _row(set_name: str, kind: ZoneKind, f: ZoneFeature) -> dict[str, Any]:
    min_lon, min_lat, max_lon, max_lat = f.geometry.bounds
    return {
        "id": f"{set_name}/{f.index}",
        "set_name": set_name,
        "kind": kind.value,
        "depth_rank": f.depth_rank,
        "depth_m": f.depth_m,
        "name": f.name,
        "geom_wkb": shapely.to_wkb(f.geometry, output_dimension=2),
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
        "properties": f.properties,
    }


def _row_fingerprint(row: Mapping[str, Any]) -> str:
    return fingerprint(
        row["kind"],
        row["depth_rank"],
        row["depth_m"],
        row["name"],
        row["properties"],
        row["geom_wkb"],
    )


def replace_zone_set(
    session: Session, set_name: str, zfile: ZoneFile, source: str, *, dry_run: bool = False
) -> ImportReport:
    """Compare ``zfile`` with the stored set and (unless ``dry_run``) replace it in ``session``.

    The caller owns the transaction; nothing is committed here.
    """
    report = ImportReport(warnings=list(zfile.warnings), dry_run=dry_run)
    # lock the set row (PostgreSQL) so two imports of one set run one after the other
    existing_set = session.execute(
        select(ZoneSet).where(ZoneSet.name == set_name).with_for_update()
    ).scalar_one_or_none()
    old = {
        z.id: fingerprint(z.kind, z.depth_rank, z.depth_m, z.name, z.properties or {}, z.geom_wkb)
        for z in session.execute(select(Zone).where(Zone.set_name == set_name)).scalars()
    }
    rows = [_row(set_name, zfile.kind, f) for f in zfile.features]
    new = {r["id"]: _row_fingerprint(r) for r in rows}
    report.added = sum(1 for k in new if k not in old)
    report.removed = sum(1 for k in old if k not in new)
    report.changed = sum(1 for k, v in new.items() if k in old and old[k] != v)
    report.unchanged = sum(1 for k, v in new.items() if old.get(k) == v)
    if dry_run:
        return report

    session.expunge_all()  # the bulk statements below bypass the identity map
    session.execute(delete(Zone).where(Zone.set_name == set_name))
    values = {
        "kind": zfile.kind.value,
        "source": source,
        "source_crs": zfile.source_crs,
        "depth_field": zfile.depth_field,
        "feature_count": len(rows),
        "imported_at": utcnow(),
    }
    if existing_set is None:
        session.execute(insert(ZoneSet).values(name=set_name, **values))
    else:
        session.execute(update(ZoneSet).where(ZoneSet.name == set_name).values(**values))
    if rows:
        session.execute(insert(Zone), rows)
    report.written = True
    return report


def import_zones(
    engine: Engine,
    path: Path,
    set_name: str,
    *,
    kind: ZoneKind = ZoneKind.INUNDATION,
    depth_field: str | None = None,
    crs: str | None = None,
    dry_run: bool = False,
    actor: str | None = None,
) -> ImportReport:
    """Validate ``path`` and replace zone set ``set_name`` with it in one transaction.

    Returns the counts (added/changed/removed/unchanged by zone id and fingerprint) and
    warnings (repairs, encoding). Raises ``ZoneDataError`` (all problems, nothing written)
    for any invalid input; see ``read_zones``. The audit entry ``zones.import`` is written
    in the same transaction; a dry run writes nothing at all.
    """
    name = validate_set_name(set_name)
    zfile = read_zones(path, kind=kind, depth_field=depth_field, crs=crs)
    with session_scope(engine) as session:
        report = replace_zone_set(session, name, zfile, str(path), dry_run=dry_run)
        if not dry_run:
            record(
                session,
                "zones.import",
                {
                    "path": str(path),
                    "set": name,
                    "kind": kind.value,
                    "depth_field": depth_field,
                    "crs": crs,
                    "dry_run": dry_run,
                },
                {
                    "added": report.added,
                    "changed": report.changed,
                    "removed": report.removed,
                    "unchanged": report.unchanged,
                    "warnings": len(report.warnings),
                    "source_crs": zfile.source_crs,
                    "depth_field": zfile.depth_field,
                },
                actor=actor,
            )
    return report
