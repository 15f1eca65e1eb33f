"""Read CAP 1.2 alerts (a file or a URL) into a scope alertsvc can preview and send.

Accepted: a CAP 1.2 ``<alert>`` document, or a wrapper holding CAP 1.2 alerts (an
``<alerts>`` list, an EDXL-DE distribution); every alert inside must be schema-valid.
Refused with the reason (``CapInvalid`` -> exit 3): malformed or hostile XML, a
wrong namespace (CAP 1.1, typos), an encoding the bytes do not match, a schema error.

Every ``info/area`` polygon ("lat,lon" pairs) and circle ("lat,lon radius-km") becomes
part of the area; several infos, areas and polygons are united. ``status`` other than
``Actual`` never produces a live send (``CapAlert.live``); ``references`` name the
alerts an Update or Cancel is about (``referenced_alert_ids``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import shapely
from pyproj import Transformer
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from alertsvc.interop.cap_schema import CAP_NS, CapInvalid, parse_cap, validate_cap

__all__ = [
    "SEVERITY_LEVEL",
    "CapAlert",
    "CapReference",
    "fetch_cap",
    "read_cap",
    "union_area",
]

_NS = {"cap": CAP_NS}
# our export's severities back to a level (interop.levels holds the forward table)
SEVERITY_LEVEL = {"Extreme": 5, "Severe": 4, "Moderate": 3}
_MAX_BYTES = 5_000_000


@dataclass(frozen=True, slots=True)
class CapReference:
    sender: str
    identifier: str
    sent: str


@dataclass(frozen=True)
class CapAlert:
    identifier: str
    sender: str
    sent: str
    status: str  # Actual | Exercise | System | Test | Draft
    msg_type: str  # Alert | Update | Cancel | Ack | Error
    references: tuple[CapReference, ...]
    severities: tuple[str, ...]
    headlines: tuple[str, ...]
    area: BaseGeometry | None = field(repr=False)  # EPSG:4326 lon/lat, None: no shape
    response_types: tuple[str, ...] = ()  # every info's responseType values
    urgencies: tuple[str, ...] = ()
    reason: str = ""  # the note, else the first description (why an Update/Cancel)

    @property
    def live(self) -> bool:
        """Only ``Actual`` alerts may ever be sent live."""
        return self.status == "Actual"

    @property
    def level(self) -> int | None:
        """The highest 警戒レベル the severities map to, or None."""
        levels = [SEVERITY_LEVEL[s] for s in self.severities if s in SEVERITY_LEVEL]
        return max(levels) if levels else None


def fetch_cap(source: str, *, timeout: float = 20.0) -> bytes:
    """The bytes of a CAP file path or http(s) URL. CapInvalid when unreadable."""
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(source, timeout=timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise CapInvalid(f"{source}: cannot fetch: {exc}") from None
        if response.status_code != 200:
            raise CapInvalid(f"{source}: HTTP {response.status_code}")
        data = response.content
    else:
        path = Path(source)
        if not path.is_file():
            raise CapInvalid(f"{source}: file not found")
        data = path.read_bytes()
    if len(data) > _MAX_BYTES:
        raise CapInvalid(f"{source}: larger than {_MAX_BYTES} bytes")
    return data


def _alerts_in(root: ET.Element) -> list[ET.Element]:
    if root.tag == f"{{{CAP_NS}}}alert":
        return [root]
    found = list(root.iter(f"{{{CAP_NS}}}alert"))
    if found:
        return found
    # no CAP 1.2 alert anywhere: say what the root was (CAP 1.1, a typo'd namespace, ...)
    validate_cap(root)
    return []  # unreachable: validate_cap raised


def _pairs(text: str, what: str) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for token in text.split():
        try:
            lat_s, lon_s = token.split(",")
            lat, lon = float(lat_s), float(lon_s)
        except ValueError:
            raise CapInvalid(f"{what}: expected 'lat,lon' pairs, got {token!r}") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise CapInvalid(f"{what}: coordinate out of range: {token!r}")
        points.append((lon, lat))
    return points


def _polygon(text: str, where: str) -> Polygon:
    points = _pairs(text, f"{where} polygon")
    if len(points) < 4 or points[0] != points[-1]:
        raise CapInvalid(f"{where} polygon: needs 4 or more pairs, first equal to last")
    return shapely.make_valid(Polygon(points))


def _circle(text: str, where: str) -> BaseGeometry:
    try:
        centre, radius_s = text.split()
        radius_km = float(radius_s)
    except ValueError:
        raise CapInvalid(f"{where} circle: expected 'lat,lon radius', got {text!r}") from None
    ((lon, lat),) = _pairs(centre, f"{where} circle")
    if radius_km < 0:
        raise CapInvalid(f"{where} circle: negative radius {radius_km}")
    if radius_km == 0:
        return Point(lon, lat)
    # a true-distance circle: buffer in an azimuthal equidistant projection at its centre
    local = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +units=m +ellps=WGS84"
    to_wgs = Transformer.from_crs(local, "EPSG:4326", always_xy=True).transform
    # the centre is (0, 0) in its own azimuthal projection
    disc = Point(0.0, 0.0).buffer(radius_km * 1000.0, quad_segs=16)
    return shapely.transform(disc, to_wgs, interleaved=False)


def _text(el: ET.Element, path: str) -> str:
    found = el.find(path, _NS)
    return (found.text or "").strip() if found is not None else ""


def _one(alert: ET.Element, index: int) -> CapAlert:
    validate_cap(alert)
    shapes: list[BaseGeometry] = []
    severities: list[str] = []
    headlines: list[str] = []
    responses: list[str] = []
    urgencies: list[str] = []
    descriptions: list[str] = []
    for i, info in enumerate(alert.findall("cap:info", _NS)):
        severities.append(_text(info, "cap:severity"))
        if _text(info, "cap:headline"):
            headlines.append(_text(info, "cap:headline"))
        responses.extend((r.text or "").strip() for r in info.findall("cap:responseType", _NS))
        urgencies.append(_text(info, "cap:urgency"))
        if _text(info, "cap:description"):
            descriptions.append(_text(info, "cap:description"))
        for j, area in enumerate(info.findall("cap:area", _NS)):
            where = f"alert {index} info {i} area {j}"
            for poly in area.findall("cap:polygon", _NS):
                shapes.append(_polygon(poly.text or "", where))
            for circle in area.findall("cap:circle", _NS):
                shapes.append(_circle((circle.text or "").strip(), where))
    refs: list[CapReference] = []
    for token in _text(alert, "cap:references").split():
        parts = token.split(",")
        if len(parts) != 3:
            raise CapInvalid(
                f"alert {index} references: expected sender,identifier,sent: {token!r}"
            )
        refs.append(CapReference(*parts))
    points = [s for s in shapes if not s.is_empty]
    return CapAlert(
        identifier=_text(alert, "cap:identifier"),
        sender=_text(alert, "cap:sender"),
        sent=_text(alert, "cap:sent"),
        status=_text(alert, "cap:status"),
        msg_type=_text(alert, "cap:msgType"),
        references=tuple(refs),
        severities=tuple(severities),
        headlines=tuple(headlines),
        area=shapely.union_all(points) if points else None,
        response_types=tuple(responses),
        urgencies=tuple(urgencies),
        reason=_text(alert, "cap:note") or (descriptions[0] if descriptions else ""),
    )


def read_cap(data: bytes) -> list[CapAlert]:
    """Every CAP 1.2 alert in ``data``; CapInvalid (with the reason) if any is invalid."""
    root = parse_cap(data)
    return [_one(alert, n) for n, alert in enumerate(_alerts_in(root))]


def union_area(alerts: Sequence[CapAlert]) -> BaseGeometry | None:
    """All the alerts' areas as one shape, or None when none has a polygon or circle."""
    parts = [a.area for a in alerts if a.area is not None]
    return shapely.union_all(parts) if parts else None
