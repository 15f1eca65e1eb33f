"""Read PLATEAU CityGML flood layers (``udx/fld``): ``wtr:WaterBody`` features -> polygons.

PLATEAU flood layers are CityGML 2.0 with i-UR extensions, in EPSG:6697 (JGD2011 geographic
+ JGD2011 height), whose axis order is **latitude, longitude, height**. Each WaterBody is a
``gml:MultiSurface`` of many small polygons (often triangles); their union is the zone.
The depth class is the generic attribute ``浸水ランク`` (PLATEAU 2020–2021) or ``uro:rank``
in the i-UR flooding-risk attribute (PLATEAU 2022 and later).

Parsing uses defusedxml, so entity expansion and external entities are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
import shapely
from defusedxml.common import DefusedXmlException
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from alertsvc.errors import RowError, ZoneDataError

__all__ = ["CityGmlFeature", "CityGmlLayer", "is_citygml", "read_citygml"]

GML = "http://www.opengis.net/gml"
WATERBODY_NAMESPACES = (
    "http://www.opengis.net/citygml/waterbody/2.0",
    "http://www.opengis.net/citygml/waterbody/1.0",
)
GENERIC_NAMESPACES = (
    "http://www.opengis.net/citygml/generics/2.0",
    "http://www.opengis.net/citygml/generics/1.0",
)
_EPSG_RE = re.compile(r"EPSG(?:/0/|::|:)(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CityGmlFeature:
    """One WaterBody: its polygons in (x=easting/longitude, y=northing/latitude) order."""

    index: int
    gml_id: str
    name: str
    geometry: BaseGeometry | None  # None when the feature has no surface at all
    properties: dict[str, Any]
    failed: bool = False  # its coordinates could not be parsed (see CityGmlLayer.errors)


@dataclass(slots=True)
class CityGmlLayer:
    """The parsed file: its horizontal CRS (None when the file names none) and features."""

    crs: CRS | None
    features: list[CityGmlFeature] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def is_citygml(path: Path) -> bool:
    """True when the file looks like CityGML (a CityModel root within the first 8 KiB)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
    except OSError:
        return False
    return b"CityModel" in head and b"citygml" in head.lower()


def _horizontal(crs: CRS) -> CRS:
    # EPSG:6697 is compound (6668 + height); reprojection only needs the horizontal part
    if crs.is_compound and crs.sub_crs_list:
        return crs.sub_crs_list[0]
    return crs


def _crs_from_srs_name(srs_name: str) -> CRS:
    match = _EPSG_RE.search(srs_name)
    return CRS.from_epsg(int(match.group(1))) if match else CRS.from_user_input(srs_name)


def _north_first(crs: CRS) -> bool:
    axes = crs.axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attributes(body: Element) -> dict[str, Any]:
    """Generic attributes (flattened out of attribute sets) plus i-UR rank values."""
    props: dict[str, Any] = {}
    for el in body.iter():
        ns, _, local = el.tag[1:].partition("}") if el.tag.startswith("{") else ("", "", el.tag)
        if ns in GENERIC_NAMESPACES and local.endswith("Attribute") and local != "genericAttribute":
            name = el.get("name")
            value = el.find(f"{{{ns}}}value")
            if name and value is not None and value.text is not None:
                props.setdefault(name, value.text.strip())
        elif (
            "/iur/uro/" in ns
            and local in ("rank", "rankOrg", "scale", "description")
            and el.text
            and el.text.strip()
        ):
            props.setdefault(f"uro:{local}", el.text.strip())
    cls = next((el for el in body if _local(el.tag) == "class"), None)
    if cls is not None and cls.text:
        props.setdefault("class", cls.text.strip())
    return props


def _ring(pos_el: list[Element], dim: int, north_first: bool) -> list[tuple[float, float]]:
    values: list[float] = []
    for el in pos_el:
        values.extend(float(v) for v in (el.text or "").split())
    if len(values) % dim:
        raise ValueError(f"{len(values)} numbers is not a multiple of srsDimension {dim}")
    pts = [tuple(values[i : i + dim]) for i in range(0, len(values), dim)]
    # GML follows the CRS axis order; shapely wants x=longitude, y=latitude
    return [(p[1], p[0]) if north_first else (p[0], p[1]) for p in pts]


def _polygon(poly: Element, dim: int, north_first: bool) -> Polygon:
    rings: list[list[tuple[float, float]]] = []
    for boundary in ("exterior", "interior"):
        for b in poly.findall(f"{{{GML}}}{boundary}"):
            lin = b.find(f"{{{GML}}}LinearRing")
            if lin is None:
                raise ValueError(f"gml:{boundary} without gml:LinearRing")
            pos = lin.findall(f"{{{GML}}}posList") or lin.findall(f"{{{GML}}}pos")
            rings.append(_ring(pos, dim, north_first))
    if not rings:
        raise ValueError("gml:Polygon without gml:exterior")
    return Polygon(rings[0], rings[1:])


def read_citygml(path: Path, crs_override: CRS | None = None) -> CityGmlLayer:
    """Parse every ``wtr:WaterBody`` of a PLATEAU flood file.

    Returns the features in file order (index 0, 1, …) with the union of their surfaces
    in (lon, lat) order for geographic CRSs. Per-feature problems (malformed coordinate
    lists) are collected in ``errors``; the caller decides. Raises ``ZoneDataError`` when
    the file is empty, not well-formed XML (with the line and column the parser stopped
    at — typical of a truncated download), unsafe XML, or names an unknown CRS.
    ``crs_override`` is used for axis order only when the file names no CRS.
    """
    if path.stat().st_size == 0:
        raise ZoneDataError(f"{path.name}: the file is empty / ファイルが空です")
    try:
        root: Element | None = SafeET.parse(str(path)).getroot()
    except ParseError as exc:
        line, col = exc.position
        raise ZoneDataError(
            f"{path.name}: not well-formed XML at line {line}, column {col} "
            f"(truncated or damaged file?): {exc}",
            [RowError(line, "", f"XML parse error: {exc}")],
        ) from exc
    except DefusedXmlException as exc:
        raise ZoneDataError(f"{path.name}: refused unsafe XML ({exc!r})") from exc
    if root is None or _local(root.tag) != "CityModel":
        raise ZoneDataError(f"{path.name}: not a CityGML file (no core:CityModel root)")

    srs_names = [el.get("srsName") for el in root.iter() if el.get("srsName")]
    file_crs: CRS | None = None
    if srs_names:
        try:
            file_crs = _crs_from_srs_name(str(srs_names[0]))
        except CRSError as exc:
            raise ZoneDataError(f"{path.name}: unknown srsName {srs_names[0]!r}: {exc}") from exc
    axis_crs = file_crs or crs_override
    north_first = _north_first(axis_crs) if axis_crs is not None else False
    layer = CityGmlLayer(crs=_horizontal(file_crs) if file_crs is not None else None)

    bodies = [
        el for el in root.iter() if el.tag in {f"{{{ns}}}WaterBody" for ns in WATERBODY_NAMESPACES}
    ]
    for index, body in enumerate(bodies):
        gml_id = body.get(f"{{{GML}}}id") or ""
        name_el = body.find(f"{{{GML}}}name")
        name = (name_el.text or "").strip() if name_el is not None else ""
        props = _attributes(body)
        props["gml_id"] = gml_id
        polys: list[Polygon] = []
        try:
            for poly in body.iter(f"{{{GML}}}Polygon"):
                dim_owner = poly.find(f".//{{{GML}}}posList")
                dim = int(
                    (dim_owner.get("srsDimension") if dim_owner is not None else None)
                    or _srs_dimension(root)
                )
                polys.append(_polygon(poly, dim, north_first))
        except ValueError as exc:
            # keep the slot so later feature indices still match the file order
            layer.errors.append(RowError(index, "geometry", f"bad gml coordinates: {exc}"))
            layer.features.append(CityGmlFeature(index, gml_id, name, None, props, failed=True))
            continue
        geom: BaseGeometry | None = None
        if polys:
            # triangles share edges; the union is the zone (repairing each part first)
            geom = shapely.union_all([shapely.make_valid(shapely.force_2d(p)) for p in polys])
        layer.features.append(CityGmlFeature(index, gml_id, name, geom, props))
    return layer


def _srs_dimension(root: Element) -> str:
    for el in root.iter():
        dim = el.get("srsDimension")
        if dim:
            return dim
    return "2"
