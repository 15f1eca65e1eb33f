"""An Atom (RFC 4287) feed of current alerts, for aggregators that poll CAP indexes.

Each entry is one active alert family (its newest document), linking to the CAP
document at ``<base_url>/<alert id>.xml``; exercise entries carry 【訓練】 in the title.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.config import Settings
from alertsvc.db.tables import Alert
from alertsvc.interop.cap_export import cap_identifier
from alertsvc.interop.levels import terms_for

__all__ = ["ATOM_NS", "FEED_KINDS", "atom_feed", "current_alerts"]

ATOM_NS = "http://www.w3.org/2005/Atom"
# the public alerts; a registry check run (``check``) and a duty-desk notice (``duty``)
# are alerts in the outbox's sense only, and never appear in a public feed
FEED_KINDS = frozenset({"alert"})


def current_alerts(session: Session) -> list[Alert]:
    """The alerts the feed lists: active originals of a public kind, newest first."""
    return list(
        session.scalars(
            select(Alert)
            .where(
                Alert.state == "active",
                Alert.parent_id.is_(None),
                Alert.kind.in_(sorted(FEED_KINDS)),
            )
            .order_by(Alert.created_at.desc())
        )
    )


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def atom_feed(settings: Settings, current: Sequence[Alert], base_url: str) -> bytes:
    """The feed document (UTF-8) listing ``current`` (newest notice of each alert)."""
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    base = base_url.rstrip("/")
    _sub(feed, "id", f"urn:alertsvc:{settings.municipality.code}:feed")
    _sub(feed, "title", f"{settings.municipality.name} 避難情報 / evacuation alerts")
    newest = max((a.created_at for a in current), default=None)
    from alertsvc.db.tables import utcnow

    _sub(feed, "updated", (newest or utcnow()).isoformat())
    author = _sub(feed, "author")
    _sub(author, "name", settings.municipality.name)
    _sub(feed, "link", rel="self", href=f"{base}/feed.atom")
    for alert in current:
        terms = terms_for(alert.level)
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"urn:{cap_identifier(settings, alert.id)}")
        drill = "【訓練】" if alert.exercise else ""
        _sub(
            entry,
            "title",
            f"{drill}警戒レベル{alert.level} {terms.label_ja} / level {alert.level} "
            f"{terms.label_en} ({alert.kind})",
        )
        _sub(entry, "updated", alert.created_at.isoformat())
        _sub(entry, "link", rel="alternate", type="application/cap+xml",
             href=f"{base}/{alert.id}.xml")  # fmt: skip
        _sub(entry, "summary", f"{settings.municipality.name}: {terms.label_ja}")
    out: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return out
