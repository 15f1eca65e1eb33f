"""Reading zone files (GeoJSON, GeoPackage, zipped Shapefile, CityGML) as they are.

``read_raw`` returns every feature's attributes and geometry in the file's own CRS, with
problems that concern single features (an unreadable geometry) kept per feature index;
``zone_import`` validates and reprojects them. Failure modes: ``ZoneDataError`` for a
missing, empty, truncated or unreadable file, never a GDAL or GEOS traceback.
"""

from __future__ import annotations

import codecs
import json
import math
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from alertsvc.errors import RowError, ZoneDataError
from alertsvc.geo.citygml import is_citygml, read_citygml
from alertsvc.geo.extent import JAPAN

__all__ = ["WGS84", "Plausible", "RawZones", "crs_label", "parse_crs", "read_raw", "same_crs"]

WGS84 = CRS.from_epsg(4326)
_ENCODING_ALIASES = {
    "utf8": "UTF-8",
    "utf-8": "UTF-8",
    "65001": "UTF-8",
    "cp932": "CP932",
    "932": "CP932",
    "ms932": "CP932",
    "windows-31j": "CP932",
    "sjis": "CP932",
    "shift_jis": "CP932",
    "shift-jis": "CP932",
}


@dataclass(slots=True)
class RawZones:
    """Features as read, before validation: (properties, geometry in source CRS, name)."""

    rows: list[tuple[dict[str, Any], BaseGeometry | None, str]]
    crs: CRS | None
    columns: list[str]
    warnings: list[RowError] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)  # indices already reported in errors


def parse_crs(value: str) -> CRS:
    """Parse a ``--crs`` value ("EPSG:6670", "6670", WKT). Raises ``ZoneDataError``."""
    text = value.strip()
    try:
        return CRS.from_epsg(int(text)) if text.isdigit() else CRS.from_user_input(text)
    except CRSError as exc:
        raise ZoneDataError(
            f"--crs {value!r} is not a CRS pyproj knows (e.g. EPSG:6670): {exc}"
        ) from exc


def crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else crs.name


def same_crs(a: CRS, b: CRS) -> bool:
    if a.equals(b, ignore_axis_order=True):
        return True
    ea, eb = a.to_epsg(min_confidence=70), b.to_epsg(min_confidence=70)
    return ea is not None and ea == eb


# --- reading -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Frame:
    """A GDAL read: the data frame (unreadable geometries as None) and what was fixed."""

    frame: Any
    source: str
    encoding: str | None


def _gdal_read(source: str, encoding: str | None, raw_warnings: list[RowError]) -> _Frame:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # "ignore": a geometry GEOS cannot even build (an unclosed ring) becomes None
        # here instead of a traceback for the whole file; _frame_to_raw looks at each
        frame = pyogrio.read_dataframe(source, encoding=encoding, on_invalid="ignore")
    for w in caught:
        raw_warnings.append(RowError(-1, "", f"GDAL: {w.message}"))
    return _Frame(frame, source, encoding)


def _rebuild(read: _Frame, errors: list[RowError], notes: list[RowError]) -> dict[int, Any]:
    """Per feature whose geometry GEOS refused: close its rings, or report it.

    Returns the repaired geometries by feature index; unrepairable ones are reported in
    ``errors`` (feature index, column "geometry") and left None.
    """
    frame = read.frame
    missing = [i for i, g in enumerate(frame.geometry.array) if g is None]
    if not missing:
        return {}
    _meta, _fids, wkbs, _fields = pyogrio.raw.read(
        read.source, encoding=read.encoding, columns=[], fids=None
    )
    fixed: dict[int, Any] = {}
    for index in missing:
        wkb = wkbs[index] if index < len(wkbs) else None
        if wkb is None:
            continue  # no geometry at all: reported as empty later
        geom = shapely.from_wkb(wkb, on_invalid="fix")
        if geom is None:
            errors.append(
                RowError(
                    index,
                    "geometry",
                    "geometry cannot be read (a ring with too few points?) / "
                    "ジオメトリを読めません",
                )
            )
            continue
        notes.append(
            RowError(
                index,
                "geometry",
                "polygon ring was not closed; closed by repeating its first point",
            )
        )
        fixed[index] = geom
    return fixed


def _frame_to_raw(read: _Frame, raw_warnings: list[RowError]) -> RawZones:
    frame = read.frame
    errors: list[RowError] = []
    repaired = _rebuild(read, errors, raw_warnings)
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    rows: list[tuple[dict[str, Any], BaseGeometry | None, str]] = []
    records = frame[columns].to_dict(orient="records") if columns else [{}] * len(frame)
    for index, (props, geom) in enumerate(zip(records, frame.geometry.array, strict=True)):
        clean = {str(k): _json_safe(v) for k, v in props.items()}
        rows.append((clean, repaired.get(index, geom), ""))
    failed = {e.line for e in errors}
    return RawZones(rows, frame.crs, columns, raw_warnings, errors, failed)


def _shapefile_encoding(cpg_text: str | None) -> str | None:
    if cpg_text is None:
        return None
    key = cpg_text.strip().lower()
    if key in _ENCODING_ALIASES:
        return _ENCODING_ALIASES[key]
    try:
        return codecs.lookup(key).name
    except LookupError as exc:
        raise ZoneDataError(f".cpg names an unknown encoding {cpg_text.strip()!r}") from exc


def _read_shapefile(source: str, cpg_text: str | None, label: str) -> RawZones:
    notes: list[RowError] = []
    enc = _shapefile_encoding(cpg_text)
    if enc is not None:
        return _frame_to_raw(_gdal_read(source, enc, notes), notes)
    # no .cpg: GDAL would fall back to ISO-8859-1 and garble Japanese, so try the two
    # encodings municipal systems actually write, UTF-8 first because it fails loudly
    for candidate in ("UTF-8", "CP932"):
        try:
            frame = _gdal_read(source, candidate, notes)
        except UnicodeDecodeError:
            continue
        notes.append(
            RowError(
                -1,
                "",
                f"{label}: no .cpg file; attributes read as {candidate} / "
                f"文字コード {candidate} で読み込み",
            )
        )
        return _frame_to_raw(frame, notes)
    raise ZoneDataError(
        f"{label}: attributes are neither UTF-8 nor CP932; add a .cpg file naming the encoding"
    )


def _read_zip(path: Path) -> RawZones:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            shps = [n for n in names if n.lower().endswith(".shp")]
            if len(shps) != 1:
                found = ", ".join(shps) or "none"
                raise ZoneDataError(
                    f"{path.name}: a zip must hold exactly one .shp file (found: {found})"
                )
            base = shps[0][:-4]
            lower = {n.lower(): n for n in names}
            missing = [e for e in (".shx", ".dbf") if (base + e).lower() not in lower]
            if missing:
                raise ZoneDataError(f"{path.name}: {shps[0]} lacks {', '.join(missing)}")
            cpg_name = lower.get((base + ".cpg").lower())
            cpg = zf.read(cpg_name).decode("ascii", "replace") if cpg_name else None
    except zipfile.BadZipFile as exc:
        raise ZoneDataError(f"{path.name}: not a readable zip file (truncated?): {exc}") from exc
    return _read_shapefile(f"/vsizip/{path.resolve()}/{shps[0]}", cpg, path.name)


def _geojson_declares_crs(path: Path) -> bool:
    """Parse the file once with json (which, unlike GDAL, names the line and column of a
    truncation) and tell whether it carries a ``crs`` member."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ZoneDataError(
            f"{path.name}: not valid JSON at line {exc.lineno}, column {exc.colno} "
            f"(truncated or damaged file?): {exc.msg}",
            [RowError(exc.lineno, "", f"JSON error: {exc.msg}")],
        ) from exc
    except UnicodeDecodeError as exc:
        raise ZoneDataError(f"{path.name}: GeoJSON must be UTF-8 ({exc})") from exc
    return isinstance(doc, dict) and doc.get("crs") is not None


def read_raw(path: Path, crs_override: CRS | None) -> RawZones:
    if not path.exists():
        raise ZoneDataError(f"{path}: no such file / ファイルがありません")
    if path.is_file() and path.stat().st_size == 0:
        raise ZoneDataError(f"{path.name}: the file is empty / ファイルが空です")
    suffix = path.suffix.lower()
    if suffix in (".gml", ".xml") and is_citygml(path):
        layer = read_citygml(path, crs_override)
        columns: list[str] = []
        rows: list[tuple[dict[str, Any], BaseGeometry | None, str]] = []
        for f in layer.features:
            columns.extend(k for k in f.properties if k not in columns)
            rows.append((f.properties, f.geometry, f.name))
        failed = {f.index for f in layer.features if f.failed}
        return RawZones(rows, layer.crs, columns, errors=list(layer.errors), failed=failed)
    declares_crs = True
    if suffix in (".geojson", ".json"):
        declares_crs = _geojson_declares_crs(path)
    try:
        if suffix == ".zip":
            return _read_zip(path)
        if suffix == ".gpkg":
            layers = pyogrio.list_layers(str(path))
            if len(layers) != 1:
                names = ", ".join(str(row[0]) for row in layers)
                raise ZoneDataError(
                    f"{path.name}: a GeoPackage must hold exactly one layer (found: {names})"
                )
        if suffix == ".shp":
            cpg = path.with_suffix(".cpg")
            text = cpg.read_text("ascii", "replace") if cpg.exists() else None
            return _read_shapefile(str(path), text, path.name)
        notes: list[RowError] = []
        raw = _frame_to_raw(_gdal_read(str(path), None, notes), notes)
    except (DataSourceError, DataLayerError, GEOSException) as exc:
        raise ZoneDataError(
            f"{path.name}: cannot read as a zone file (truncated, damaged or unsupported "
            f"format; expected GeoJSON, GeoPackage, zipped Shapefile or CityGML): {exc}"
        ) from exc
    if not declares_crs:
        # GDAL reports WGS 84 for every GeoJSON. Without a crs member that is RFC 7946's
        # definition, not a declaration, so an explicit --crs may still say otherwise.
        raw.crs = None if crs_override is not None else WGS84
    return raw


def _json_safe(value: Any) -> Any:
    """Attribute values as JSON-safe Python values (NaN and NA become None)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


# how far (degrees) a zone may reach beyond its CRS's published area of use: plane
# rectangular zones are used a little past their prefecture borders
_AREA_MARGIN_DEG = 0.5


@dataclass(frozen=True, slots=True)
class Plausible:
    """Are a feature's coordinates plausible for the CRS the file declares?

    Two mislabellings pass every other check: lon/lat degrees declared as a projected
    CRS (EPSG:6670) become a polygon a few metres wide at the CRS origin, still inside
    Japan; and data of one plane rectangular zone declared as another lands in the wrong
    prefecture. The first is caught because every coordinate is a plausible Japanese
    lon/lat, which no real zone in metres is; the second by pyproj's area of use.
    """

    label: str
    projected: bool
    area: tuple[float, float, float, float] | None
    area_name: str

    @classmethod
    def of(cls, crs: CRS) -> Plausible:
        aou = crs.area_of_use
        area = (aou.west, aou.south, aou.east, aou.north) if aou is not None else None
        return cls(crs_label(crs), crs.is_projected, area, aou.name if aou else "")

    def degrees_in_metres(self, geom: BaseGeometry) -> str | None:
        if not self.projected or not JAPAN.covers(geom.bounds):
            return None
        return (
            f"coordinates look like longitude/latitude in degrees (e.g. {geom.bounds[0]:g}, "
            f"{geom.bounds[1]:g}) but {self.label} is a projected CRS in metres: the zone "
            "would be a few metres wide at the CRS origin. Declare EPSG:4326 or EPSG:6668 "
            "(or fix --crs) / 度の座標が投影座標系として宣言されています"
        )

    def outside_area_of_use(self, geom: BaseGeometry) -> str | None:
        if self.area is None:
            return None
        west, south, east, north = self.area
        m = _AREA_MARGIN_DEG
        minx, miny, maxx, maxy = geom.bounds
        if west - m <= minx and maxx <= east + m and south - m <= miny and maxy <= north + m:
            return None
        return (
            f"after reprojection the zone lies at lon {minx:.4f}–{maxx:.4f}, lat "
            f"{miny:.4f}–{maxy:.4f}, outside the area of use of {self.label} "
            f"({self.area_name}: lon {west:g}–{east:g}, lat {south:g}–{north:g}); "
            "wrong CRS declared? / 宣言された座標系の適用範囲外です"
        )
