"""CAP export: every kind of message validates against the OASIS XSD (the copy in
tests/data, independent of the package's), with the mapping and references CAP needs;
Lアラート mapping and the Atom feed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xmlschema
from defusedxml import ElementTree as SafeET
from shapely.geometry import Polygon
from sqlalchemy import Engine

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, Zone, ZoneSet
from alertsvc.interop.atom import atom_feed
from alertsvc.interop.cap_export import MAX_POINTS, alert_family, cap_document, cap_polygons
from alertsvc.interop.cap_import import read_cap
from alertsvc.interop.lalert import lalert_document
from alertsvc.interop.levels import LEVELS
from alertsvc.models import ChannelName

XSD = Path(__file__).resolve().parents[1] / "data" / "cap" / "CAP-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
T0 = dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC)


def _zone(session, shape: Polygon) -> None:
    session.add(ZoneSet(name="flood", kind="inundation", source="t", source_crs="EPSG:4326",
                        depth_field=None, feature_count=1))  # fmt: skip
    session.flush()
    minx, miny, maxx, maxy = shape.bounds
    session.add(Zone(id="flood/0", set_name="flood", kind="inundation", depth_rank=2,
                     depth_m=None, name="", geom_wkb=shape.wkb, min_lon=minx, min_lat=miny,
                     max_lon=maxx, max_lat=maxy, properties={}))  # fmt: skip


def _family(engine: Engine, exercise: bool) -> list[str]:
    """An alert at level 3, an update to 4, a correction, an all-clear, a cancellation."""
    import math

    # a wiggly ring with 400 points: must be simplified to CAP's limit
    ring = [
        (130.72 + (0.02 + 0.001 * math.sin(9 * a)) * math.cos(a),
         33.74 + (0.02 + 0.001 * math.sin(9 * a)) * math.sin(a))
        for a in (2 * math.pi * i / 400 for i in range(400))
    ]  # fmt: skip
    kinds = [("alert", 3, {"zone_sets": ["flood"]}), ("update", 4, {}),
             ("correction", 4, {"text": "避難所は直方体育館です"}), ("clear", 4, {}),
             ("cancellation", 4, {"reason": "誤り"})]  # fmt: skip
    ids = []
    with session_scope(engine) as s:
        _zone(s, Polygon(ring))
        for n, (kind, level, scope) in enumerate(kinds):
            aid = f"A{n}"
            s.add(Alert(id=aid, kind=kind, parent_id="A0" if n else None, level=level,
                        scope=scope, exercise=exercise, state="active", created_by="t",
                        created_at=T0 + dt.timedelta(minutes=n)))  # fmt: skip
            s.flush()
            ids.append(aid)
    return ids


@pytest.mark.parametrize("exercise", [False, True])
def test_every_kind_validates_and_maps_the_level(engine: Engine, exercise: bool) -> None:
    schema = xmlschema.XMLSchema10(str(XSD), use_fallback=False)
    ids = _family(engine, exercise)
    settings = Settings()
    with session_scope(engine) as s:
        family = alert_family(s, ids[2])
        assert [a.id for a in family] == ids
        docs = [cap_document(s, settings, a, family) for a in family]
    types = []
    for doc, alert_id in zip(docs, ids, strict=True):
        root = SafeET.fromstring(doc.xml)
        schema.validate(root)
        types.append(root.findtext("cap:msgType", namespaces=NS))
        assert root.findtext("cap:status", namespaces=NS) == ("Exercise" if exercise else "Actual")
        infos = root.findall("cap:info", NS)
        assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["ja", "en"]
        for info in infos:
            polygons = [p.text or "" for p in info.iterfind("cap:area/cap:polygon", NS)]
            assert polygons
            for poly in polygons:
                pairs = poly.split()
                assert 4 <= len(pairs) <= MAX_POINTS and pairs[0] == pairs[-1]
                lat, lon = map(float, pairs[0].split(","))
                assert 33 < lat < 34.5 and 130 < lon < 131  # lat first
            assert info.findtext("cap:area/cap:geocode/cap:value", namespaces=NS) == "402044"
            if exercise:
                assert info.findtext("cap:headline", namespaces=NS).startswith(("【訓練】", "[EX"))
        refs = root.findtext("cap:references", namespaces=NS)
        if alert_id == "A0":
            assert refs is None
        else:
            assert len(refs.split()) == ids.index(alert_id)  # every earlier document
    assert types == ["Alert", "Update", "Update", "Update", "Cancel"]
    first = SafeET.fromstring(docs[0].xml).find("cap:info", NS)
    assert first.findtext("cap:severity", namespaces=NS) == LEVELS[3].severity
    update = SafeET.fromstring(docs[1].xml).find("cap:info", NS)
    assert update.findtext("cap:urgency", namespaces=NS) == LEVELS[4].urgency
    clear = SafeET.fromstring(docs[3].xml).find("cap:info", NS)
    assert clear.findtext("cap:responseType", namespaces=NS) == "AllClear"
    # our own documents read back: level from severity, references, never live if exercise
    back = read_cap(docs[1].xml)[0]
    assert back.level == 4 and back.live is not exercise and len(back.references) == 1


def test_polygons_are_closed_lat_lon_rings_within_the_limit() -> None:
    square = Polygon([(130.0, 33.0), (130.1, 33.0), (130.1, 33.1), (130.0, 33.1)])
    (text,) = cap_polygons(square)
    pairs = text.split()
    assert pairs[0] == pairs[-1] == "33.000000,130.000000" and len(pairs) == 5
    assert cap_polygons(None) == []


def test_lalert_uses_current_names_and_lifts(engine: Engine) -> None:
    ids = _family(engine, exercise=False)
    with session_scope(engine) as s:
        family = alert_family(s, ids[0])
        doc = lalert_document(Settings(), family[:2], ["flood"])
        assert (doc["発令区分"], doc["発令解除"]) == ("避難指示", "発令")
        assert [r["発令区分"] for r in doc["revisions"]] == ["高齢者等避難", "避難指示"]
        done = lalert_document(Settings(), family, ["flood"])
        assert (done["発令区分"], done["発令解除"], done["label"]) == (
            "避難指示",
            "解除",
            "避難指示の解除",
        )
        assert "避難勧告" not in repr(done) and done["areas"] == [{"areaName": "flood"}]
        feed = atom_feed(Settings(), family[:1], "https://example.org/cap")
    root = SafeET.fromstring(feed)
    atom = {"a": "http://www.w3.org/2005/Atom"}
    (entry,) = root.findall("a:entry", atom)
    assert entry.find("a:link", atom).get("href") == "https://example.org/cap/A0.xml"


ALL_LANGUAGES = ["ja", "ja-easy", "en", "zh", "ko", "vi", "pt", "tl"]


@pytest.mark.parametrize("exercise", [False, True])
def test_one_info_per_language_from_the_residents_templates(engine: Engine, exercise: bool) -> None:
    """Every kind, in all eight languages: schema-valid, one info each with a valid
    language tag, the headline and instruction residents read (【訓練】 first)."""
    from alertsvc.interop.cap_texts import CAP_LANGUAGES
    from alertsvc.planning.render import render_cancellation, render_text
    from alertsvc.services.lifecycle import notice_text

    schema = xmlschema.XMLSchema10(str(XSD), use_fallback=False)
    ids = _family(engine, exercise)
    settings = Settings()
    city = settings.municipality.name
    with session_scope(engine) as s:
        family = alert_family(s, ids[0])
        docs = {a.kind: cap_document(s, settings, a, family, ALL_LANGUAGES) for a in family}
    for kind, doc in docs.items():
        root = SafeET.fromstring(doc.xml)
        schema.validate(root)
        infos = root.findall("cap:info", NS)
        tags = [i.findtext("cap:language", namespaces=NS) for i in infos]
        assert tags == [CAP_LANGUAGES[lang] for lang in ALL_LANGUAGES]
        assert tags[1] == "ja-x-easy"
        for lang, info in zip(ALL_LANGUAGES, infos, strict=True):
            headline = info.findtext("cap:headline", namespaces=NS) or ""
            instruction = info.findtext("cap:instruction", namespaces=NS) or ""
            assert headline and instruction
            assert headline.startswith("【訓練】") is exercise
            level = 3 if kind == "alert" else 4
            if kind in ("alert", "update"):
                ctx = {"exercise": exercise, "level": level, "municipality": city}
                assert headline.endswith(render_text(lang, "push_title", ctx))
            elif kind == "cancellation":
                title, _body = render_cancellation(
                    ChannelName.PUSH, lang, municipality=city, exercise=exercise, reason="誤り"
                )
                assert headline == title
            else:
                text = "避難所は直方体育館です" if kind == "correction" else ""
                assert headline == notice_text(lang, kind, city=city, level=level,
                                               exercise=exercise, text=text)  # fmt: skip


def test_languages_default_to_ja_en_and_the_recipients(engine: Engine) -> None:
    from alertsvc.dispatch import create_alert
    from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget
    from alertsvc.interop.cap_export import alert_languages

    ids = _family(engine, False)
    with session_scope(engine) as s:
        assert alert_languages(s, alert_family(s, ids[0])) == ["ja", "en"]
        deliveries = [
            PlannedDelivery(resident_id=f"R{n}", recipient="resident", supporter_id=None,
                            step=0, channel=ChannelName.SMS, address=f"+8190000000{n}",
                            language=lang, title="", body="x", data=(), priority=1.0,
                            legal_basis="")
            for n, lang in enumerate(["vi", "ja-easy", "ja"])
        ]  # fmt: skip
        targets = [PlannedTarget(d.resident_id, 1.0, True, True) for d in deliveries]
        create_alert(s, level=4, scope={}, exercise=False, targets=targets, deliveries=deliveries,
                     actor="t", kind="update", parent_id=ids[0])  # fmt: skip
    with session_scope(engine) as s:
        family = alert_family(s, ids[0])
        assert alert_languages(s, family) == ["ja", "ja-easy", "en", "vi"]
        doc = cap_document(s, Settings(), family[0], family)
    tags = [i.findtext("cap:language", namespaces=NS)
            for i in SafeET.fromstring(doc.xml).findall("cap:info", NS)]  # fmt: skip
    assert tags == ["ja", "ja-x-easy", "en", "vi"]
