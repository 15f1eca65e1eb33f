"""SQLAlchemy 2 typed tables. Same models on SQLite (embedded) and PostgreSQL.

Geometries are WKB blobs with bounding-box columns, so no PostGIS is needed: the
bounding boxes give a cheap SQL pre-filter and shapely does the exact work.
Every timestamp is stored in UTC and comes back timezone-aware.

Import from here (``from alertsvc.db.tables import Delivery``); one module per part of
the schema, all on the one ``Base.metadata`` that the Alembic migrations follow:

* ``base``     — ``Base``, ``UTCDateTime`` (aware UTC timestamps) and ``utcnow``
* ``zones``    — zone sets, zones, the grown-zone cache, shelters
* ``register`` — residents, their contacts and supporters, rejected register rows
* ``audit``    — the hash-chained audit log and its head
* ``alerts``   — alerts, the people each concerns, drafts
* ``outbox``   — deliveries (the outbox rows), notice waits, supporter disclosures
* ``answers``  — acknowledgements and inbound provider events (replay protection)
* ``watcher``  — watched gauges' state and the watcher's decisions
"""

from __future__ import annotations

from alertsvc.db.tables.alerts import Alert, AlertDraft, AlertTarget
from alertsvc.db.tables.answers import Acknowledgement, InboundEvent
from alertsvc.db.tables.audit import AuditChainHead, AuditEntry
from alertsvc.db.tables.base import Base, UTCDateTime, utcnow
from alertsvc.db.tables.outbox import Delivery, NoticeWait, SupporterDisclosure
from alertsvc.db.tables.register import Contact, RejectedRow, Resident, Supporter
from alertsvc.db.tables.watcher import WatchEvent, WatchStation
from alertsvc.db.tables.zones import GrownZoneCache, Shelter, Zone, ZoneSet

__all__ = [
    "Acknowledgement",
    "Alert",
    "AlertDraft",
    "AlertTarget",
    "AuditChainHead",
    "AuditEntry",
    "Base",
    "Contact",
    "Delivery",
    "GrownZoneCache",
    "InboundEvent",
    "NoticeWait",
    "RejectedRow",
    "Resident",
    "Shelter",
    "Supporter",
    "SupporterDisclosure",
    "UTCDateTime",
    "WatchEvent",
    "WatchStation",
    "Zone",
    "ZoneSet",
    "utcnow",
]
