"""CAP 1.2 documents for an alert and every notice that followed it.

One document per alert row: the original (msgType ``Alert``), and its updates,
corrections and all-clears (``Update``) and cancellations (``Cancel``), each with
``references`` to the documents before it. One ``info`` per language the alert speaks
(ja and en always, plus every language its messages went out in; ``CAP_LANGUAGES``
gives the xs:language tag), its headline and instruction from the templates residents
receive (``interop.cap_texts``); the level mapped by ``interop.levels``; one ``area``
with the scope's polygons in CAP's "lat,lon" order as closed rings (holes dropped: CAP
polygons have none), simplified to at most ``MAX_POINTS`` points each, plus
the municipality's 全国地方公共団体コード. Every document is validated against the
OASIS XSD before it is returned.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.config import Settings
from alertsvc.db.tables import Alert
from alertsvc.dispatch.alerts import alert_family
from alertsvc.interop.cap_schema import CAP_NS, validate_cap
from alertsvc.interop.levels import terms_for

__all__ = [
    "GEOCODE_NAME",
    "MAX_POINTS",
    "MSG_TYPES",
    "CapDocument",
    "alert_family",
    "alert_languages",
    "cap_document",
    "cap_identifier",
    "cap_polygons",
    "scope_geometry",
]

# IPAWS and Google Public Alerts accept at most 100 points per polygon
MAX_POINTS = 100
GEOCODE_NAME = "全国地方公共団体コード"
# alert kind -> CAP msgType
MSG_TYPES = {
    "alert": "Alert",
    "update": "Update",
    "correction": "Update",
    "clear": "Update",
    "cancellation": "Cancel",
}
# kind -> (ja, en) wording of what this document is about
_KIND_WORDS = {
    "alert": ("", ""),
    "update": ("【更新】", "[Update] "),
    "correction": ("【訂正】", "[Correction] "),
    "clear": ("【解除】", "[All clear] "),
    "cancellation": ("【取消し】", "[Cancelled] "),
}


@dataclass(frozen=True, slots=True)
class CapDocument:
    alert_id: str
    identifier: str
    msg_type: str
    xml: bytes  # UTF-8, with declaration, schema-valid


def cap_identifier(settings: Settings, alert_id: str) -> str:
    """Stable, unique per sender, free of spaces, commas and '<' '&' (CAP 1.2 3.2.1)."""
    return f"jp.lg.{settings.municipality.code}.alertsvc.{alert_id}"


def _sender(settings: Settings) -> str:
    return f"alertsvc@{settings.municipality.code}.lg.jp"


def _cap_time(at: dt.datetime, tz: str) -> str:
    # CAP forbids "Z" and fractions: yyyy-mm-ddThh:mm:ss+hh:mm
    return at.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def scope_geometry(session: Session, scope: dict[str, object]) -> BaseGeometry | None:
    """The union of the scope's zones and area (EPSG:4326), or None when it has none."""
    from alertsvc.services.scope import scope_from_dict

    try:
        resolved = scope_from_dict(session, dict(scope))
    except Exception:  # zones re-imported away since: export what is left (nothing)
        return None
    parts = [z.geometry for z in resolved.zones]
    if resolved.area is not None:
        parts.append(resolved.area)
    return shapely.union_all(parts) if parts else None


def _ring_points(poly: Polygon, limit: int) -> list[tuple[float, float]]:
    ring = Polygon(poly.exterior)
    tolerance = 0.00001
    while len(ring.exterior.coords) > limit:
        simpler = ring.simplify(tolerance, preserve_topology=True)
        if isinstance(simpler, Polygon) and not simpler.is_empty:
            ring = simpler
        tolerance *= 2
        if tolerance > 1.0:  # cannot happen for real zones; the hull is always small
            ring = Polygon(ring.minimum_rotated_rectangle.exterior)
    return [(y, x) for x, y in ring.exterior.coords]


def cap_polygons(geometry: BaseGeometry | None, limit: int = MAX_POINTS) -> list[str]:
    """CAP ``polygon`` values: "lat,lon" pairs, first == last, at most ``limit`` points."""
    if geometry is None or geometry.is_empty:
        return []
    polys: Sequence[Polygon]
    if isinstance(geometry, Polygon):
        polys = [geometry]
    elif isinstance(geometry, MultiPolygon):
        polys = list(geometry.geoms)
    else:
        polys = [g for g in getattr(geometry, "geoms", []) if isinstance(g, Polygon)]
    out: list[str] = []
    for poly in polys:
        if poly.is_empty or poly.area == 0:
            continue
        points = _ring_points(poly, limit)
        if points[0] != points[-1]:
            points.append(points[0])
        out.append(" ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in points))
    return out


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def alert_languages(session: Session, family: Sequence[Alert]) -> list[str]:
    """ja and en, then every other language the family's messages were written in."""
    from alertsvc.db.tables import Delivery
    from alertsvc.interop.cap_texts import CAP_LANGUAGES

    used = set(
        session.scalars(
            select(Delivery.language)
            .where(Delivery.alert_id.in_([a.id for a in family]))
            .distinct()
        )
    )
    return [lang for lang in CAP_LANGUAGES if lang in ("ja", "en") or lang in used]


def _texts(alert: Alert, settings: Settings) -> dict[str, tuple[str, str, str, str]]:
    """language -> (event, headline, description, instruction)."""
    terms = terms_for(alert.level)
    city = settings.municipality.name
    drill_ja, drill_en = ("【訓練】", "[EXERCISE] ") if alert.exercise else ("", "")
    kind_ja, kind_en = _KIND_WORDS.get(alert.kind, ("", ""))
    scope = alert.scope or {}
    if alert.kind == "cancellation":
        desc_ja = f"先ほどの避難情報は取り消しました。理由：{scope.get('reason', '')}"
        desc_en = f"The earlier evacuation alert is cancelled. Reason: {scope.get('reason', '')}"
        ins_ja, ins_en = "この取消しの前の指示は無効です。", "Disregard the earlier alert."
    elif alert.kind == "clear":
        desc_ja = f"警戒レベル{alert.level} {terms.label_ja}を解除しました。"
        desc_en = f"The level {alert.level} order ({terms.label_en}) is lifted."
        ins_ja = "引き続き河川の情報に注意してください。"
        ins_en = "Keep following river information."
    else:
        desc_ja = f"{city}は警戒レベル{alert.level} {terms.label_ja}を発令しました。"
        desc_en = f"{city} has issued alert level {alert.level}: {terms.label_en}."
        if alert.kind == "correction" and scope.get("text"):
            desc_ja += f" 訂正：{scope['text']}"
            desc_en += f" Correction: {scope['text']}"
        if terms.response == "Shelter":
            ins_ja = "直ちに身の安全を確保してください。"
            ins_en = "Move to the safest place nearby now (upper floor, high building)."
        else:
            ins_ja = "危険な場所から全員避難してください。"
            ins_en = "Leave the danger zone now; go to a shelter or a safe place."
    return {
        "ja": (
            f"洪水 警戒レベル{alert.level} {terms.label_ja}",
            f"{drill_ja}{kind_ja}【警戒レベル{alert.level} {terms.label_ja}】{city}",
            desc_ja,
            ins_ja,
        ),
        "en": (
            f"Flood: alert level {alert.level} {terms.label_en}",
            f"{drill_en}{kind_en}Level {alert.level} {terms.label_en} - {city}",
            desc_en,
            ins_en,
        ),
    }


def cap_document(
    session: Session,
    settings: Settings,
    alert: Alert,
    family: Sequence[Alert],
    languages: Sequence[str] | None = None,
) -> CapDocument:
    """The schema-valid CAP 1.2 document for ``alert`` (a member of ``family``).

    ``languages`` (our codes: ja, ja-easy, en, zh, ko, vi, pt, tl) default to
    ``alert_languages``. Raises ``CapInvalid`` if the document does not validate (a bug:
    never sent out).
    """
    from alertsvc.interop.cap_texts import CAP_LANGUAGES, resident_texts

    tz = settings.municipality.timezone
    root = family[0]
    ET.register_namespace("", CAP_NS)
    doc = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(doc, "identifier", cap_identifier(settings, alert.id))
    _sub(doc, "sender", _sender(settings))
    _sub(doc, "sent", _cap_time(alert.created_at, tz))
    _sub(doc, "status", "Exercise" if alert.exercise else "Actual")
    _sub(doc, "msgType", MSG_TYPES.get(alert.kind, "Update"))
    _sub(doc, "scope", "Public")
    if alert.exercise:
        _sub(doc, "note", "【訓練】 exercise / 訓練です。実際の避難情報ではありません。")
    earlier = [a for a in family if (a.created_at, a.id) < (alert.created_at, alert.id)]
    if alert.kind != "alert" and earlier:
        _sub(
            doc,
            "references",
            " ".join(
                f"{_sender(settings)},{cap_identifier(settings, a.id)},"
                f"{_cap_time(a.created_at, tz)}"
                for a in earlier
            ),
        )
    terms = terms_for(alert.level)
    polygons = cap_polygons(scope_geometry(session, root.scope or {}))
    response = {"clear": "AllClear", "cancellation": "None"}.get(alert.kind, terms.response)
    fixed = _texts(alert, settings)
    wanted = list(languages) if languages is not None else alert_languages(session, family)
    for language in wanted:
        # the words residents received in this language; ja/en also carry the officer's
        # description (what happened) written for CAP readers
        headline, instruction = resident_texts(language, alert, settings)
        event, _head, description, _ins = fixed.get(language, fixed["en"])
        info = _sub(doc, "info")
        _sub(info, "language", CAP_LANGUAGES[language])
        _sub(info, "category", "Met")
        _sub(info, "event", event)
        _sub(info, "responseType", response)
        past = alert.kind in ("clear", "cancellation")
        _sub(info, "urgency", "Past" if past else terms.urgency)
        _sub(info, "severity", "Minor" if past else terms.severity)
        _sub(info, "certainty", "Observed" if past else terms.certainty)
        _sub(info, "senderName", settings.municipality.name)
        _sub(info, "headline", headline)
        if language in fixed:
            _sub(info, "description", description)
        _sub(info, "instruction", instruction)
        area = _sub(info, "area")
        _sub(area, "areaDesc", f"{settings.municipality.name} 浸水想定区域 / flood zones")
        for polygon in polygons:
            _sub(area, "polygon", polygon)
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", GEOCODE_NAME)
        _sub(geocode, "value", settings.municipality.code)
    validate_cap(doc)
    xml = ET.tostring(doc, encoding="utf-8", xml_declaration=True)
    msg_type = MSG_TYPES.get(alert.kind, "Update")
    return CapDocument(alert.id, cap_identifier(settings, alert.id), msg_type, xml)
