"""Domain value types shared by the pure cores (targeting, planning) and the services.

Nothing here touches a database, the network or the CLI. ORM tables live in
``alertsvc.db.tables``; services convert rows to these frozen records.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

from alertsvc.errors import RowError

__all__ = [
    "DEPTH_RANK_METRES",
    "DIGEST_RESIDENT",
    "HAZARD_KEYS",
    "LANGUAGES",
    "LINE_USER_ID",
    "SHELTER_KINDS",
    "ChannelName",
    "ContactInfo",
    "ContactKind",
    "DeliveryResult",
    "ImportReport",
    "Level",
    "Need",
    "Outcome",
    "OutgoingMessage",
    "ResidentInfo",
    "RiverForecast",
    "ShelterInfo",
    "SupporterInfo",
    "Target",
    "TargetingResult",
    "ZoneInfo",
    "ZoneKind",
]

# resident_id of a supporter digest row: one message about several people (#10); the
# people it names are its supporter_disclosures rows
DIGEST_RESIDENT = ""
# legal_basis of a digest row: each person it names has their own, in supporter_disclosures
DIGEST_LEGAL_BASIS = "per_person"


class Level(enum.IntEnum):
    """警戒レベル that alertsvc sends. 避難勧告 was abolished in 2021 and is never used."""

    ELDERLY_EVACUATE = 3  # 高齢者等避難: people needing support move now
    EVACUATE = 4  # 避難指示: everyone in the zone
    EMERGENCY = 5  # 緊急安全確保: may be too late to leave; safest place now

    @property
    def label_ja(self) -> str:
        return {3: "高齢者等避難", 4: "避難指示", 5: "緊急安全確保"}[int(self)]


@dataclass(frozen=True, slots=True)
class RiverForecast:
    """The river flood forecast an alert was raised on: the river (or gauge station)
    name and the forecast's level, 2..5 — since 2026-05-29 レベル2氾濫注意報, レベル3氾濫警報,
    レベル4氾濫危険警報, レベル5氾濫特別警報 (the templates' ``river_forecast`` macro)."""

    name: str
    level: int

    def as_dict(self) -> dict[str, Any]:
        """The form stored in an alert's scope (``{"name": ..., "level": ...}``)."""
        return {"name": self.name, "level": self.level}

    @classmethod
    def from_dict(cls, doc: Any) -> RiverForecast | None:
        """The forecast a scope names, or None (no river, or a malformed entry)."""
        if not isinstance(doc, Mapping) or not doc.get("name"):
            return None
        try:
            level = int(doc.get("level", 0))
        except (TypeError, ValueError):
            return None
        return cls(str(doc["name"]), level) if 2 <= level <= 5 else None


class ZoneKind(enum.StrEnum):
    INUNDATION = "inundation"  # 浸水想定区域
    HOUSE_COLLAPSE = "house-collapse"  # 家屋倒壊等氾濫想定区域: no "stay upstairs" advice


class Need(enum.StrEnum):
    """Why a resident needs support. Never leaves the database in a message body."""

    WHEELCHAIR = "wheelchair"
    BEDRIDDEN = "bedridden"
    HEARING = "hearing"
    SIGHT = "sight"
    COGNITIVE = "cognitive"
    LANGUAGE = "language"
    LIVES_ALONE = "lives_alone"


class ContactKind(enum.StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    IP_PHONE = "ip_phone"  # 050 numbers: voice and usually SMS-less
    PUSH = "push"  # FCM registration token
    FAX = "fax"  # E.164 FAX number
    LINE = "line"  # LINE user id (U + 32 hex digits)
    EMAIL = "email"


# LINE user ids (Messaging API): "U" and 32 lowercase hex digits
LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")


class ChannelName(enum.StrEnum):
    PUSH = "push"
    SMS = "sms"
    VOICE = "voice"
    FAX = "fax"
    LINE = "line"
    EMAIL = "email"


# ja-easy is やさしい日本語
LANGUAGES: tuple[str, ...] = ("ja", "ja-easy", "en", "zh", "ko", "vi", "pt", "tl")

# 国土数値情報 A31a depth ranks (想定最大規模): rank -> (min metres, max metres or None)
DEPTH_RANK_METRES: dict[int, tuple[float, float | None]] = {
    1: (0.0, 0.5),
    2: (0.5, 3.0),
    3: (3.0, 5.0),
    4: (5.0, 10.0),
    5: (10.0, 20.0),
    6: (20.0, None),
}

# GSI 指定緊急避難場所 hazard columns -> our keys
HAZARD_KEYS: dict[str, str] = {
    "洪水": "flood",
    "崖崩れ、土石流及び地滑り": "landslide",
    "高潮": "storm_surge",
    "地震": "earthquake",
    "津波": "tsunami",
    "大規模な火事": "fire",
    "内水氾濫": "inland_flood",
    "火山現象": "volcano",
}

SHELTER_KINDS: tuple[str, ...] = ("指定避難所", "指定緊急避難場所", "福祉避難所")


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    id: str
    set_name: str
    kind: ZoneKind
    depth_rank: int | None
    geometry: BaseGeometry  # EPSG:4326, lon/lat


@dataclass(frozen=True, slots=True)
class ShelterInfo:
    id: str
    name: str
    address: str
    lat: float
    lon: float
    kinds: frozenset[str]
    hazards: frozenset[str]
    wheelchair: bool | None = None
    capacity: int | None = None
    floors: int | None = None
    name_kana: str = ""


@dataclass(frozen=True, slots=True)
class ContactInfo:
    kind: ContactKind
    address: str  # E.164 number or push token
    healthy: bool = True  # False: no channel works on this address any more
    # channels a provider refused for good on this address (an opted-out number still
    # takes calls; a landline typed as a mobile cannot take SMS)
    blocked: frozenset[ChannelName] = frozenset()


@dataclass(frozen=True, slots=True)
class SupporterInfo:
    id: int
    name: str
    phone: str | None
    phone_kind: ContactKind | None


@dataclass(frozen=True, slots=True)
class ResidentInfo:
    id: str
    name: str
    address: str
    lat: float | None
    lon: float | None
    language: str = "ja"
    kana: str = ""
    floor: int | None = None
    needs: frozenset[Need] = frozenset()
    channel_pref: tuple[ChannelName, ...] = ()
    contacts: tuple[ContactInfo, ...] = ()
    supporters: tuple[SupporterInfo, ...] = ()
    consent: bool | None = None
    birth_date: dt.date | None = None
    # cells the register import cleared: an officer must check this person directly
    review_reasons: tuple[str, ...] = ()

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"  # provider accepted it
    REJECTED = "rejected"  # permanent: opted out, bad number, dead token -> never retry
    DEFERRED = "deferred"  # transient, provider surely did not act -> retry
    UNKNOWN = "unknown"  # timed out after sending -> may have gone out


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: Outcome
    channel: str
    provider_ref: str | None = None  # Twilio SID / FCM message name
    detail: str = ""  # provider code + short reason, already redacted
    retry_after: float | None = None  # seconds, when the provider said so
    # the provider's own code ("21610", "UNREGISTERED"): decides what a permanent
    # refusal says about the address (see alertsvc.registry.store.REFUSAL_SCOPE)
    error_code: str | None = None


@dataclass(slots=True)
class ImportReport:
    """Counts and per-row problems of one import. ``as_dict`` is the CLI's JSON contract."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
            "dry_run": self.dry_run,
            "written": self.written,
        }


@dataclass(frozen=True, slots=True)
class Target:
    """One located, active resident inside the alert scope (output of targeting)."""

    resident: ResidentInfo
    zone_ids: tuple[str, ...]  # every zone the resident is in (or within tolerance of)
    depth_rank: int | None  # maximum over those zones; None when no zone gives a rank
    house_collapse: bool  # inside (or within tolerance of) a house-collapse zone
    edge_only: bool  # caught only by the edge tolerance, not strictly inside any zone


@dataclass(frozen=True, slots=True)
class TargetingResult:
    targets: tuple[Target, ...]
    # active residents without coordinates: always reported, never dropped
    unlocated: tuple[ResidentInfo, ...]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message on one channel to one address: what a Channel adapter sends."""

    key: str  # the outbox row's unique key; adapters pass it to providers as a tag
    channel: ChannelName
    address: str  # E.164 number or FCM token
    body: str  # push body, SMS text, or voice script (plain text, read by <Say>)
    language: str = "ja"
    title: str = ""  # push title
    data: tuple[tuple[str, str], ...] = ()  # push data payload
    collapse_key: str = ""  # one per alert: an update replaces the earlier notification
    voice_language: str = "ja-JP"
