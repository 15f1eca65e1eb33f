"""Shelters in the database: load them for planning, replace them on import.

``load_shelters`` is what planning uses to pick a resident's shelter. ``replace_shelters``
swaps the whole table inside the caller's transaction and counts what changed, so an
import is all-or-nothing and re-importing the same files reports everything unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from alertsvc.db.tables import Shelter, utcnow
from alertsvc.models import HAZARD_KEYS, SHELTER_KINDS, ImportReport, ShelterInfo

__all__ = ["StoredShelter", "load_shelters", "load_stored_shelters", "replace_shelters"]

_KIND_ORDER = {k: i for i, k in enumerate(SHELTER_KINDS)}
_HAZARD_ORDER = {k: i for i, k in enumerate(HAZARD_KEYS.values())}


@dataclass(frozen=True, slots=True)
class StoredShelter:
    """A shelter as stored: the planning record plus the source ids it was merged from.

    ``source_ids`` are the GSI 共通IDs (or CSV ids) of every input entry that describes
    this facility, e.g. its 指定避難所 and its 指定緊急避難場所 entries.
    """

    info: ShelterInfo
    source_ids: tuple[str, ...]


def sorted_kinds(kinds: frozenset[str]) -> list[str]:
    """Kinds in the canonical SHELTER_KINDS order (unknown ones last, alphabetically)."""
    return sorted(kinds, key=lambda k: (_KIND_ORDER.get(k, len(_KIND_ORDER)), k))


def sorted_hazards(hazards: frozenset[str]) -> list[str]:
    """Hazard keys in the HAZARD_KEYS order (unknown ones last, alphabetically)."""
    return sorted(hazards, key=lambda h: (_HAZARD_ORDER.get(h, len(_HAZARD_ORDER)), h))


def _to_stored(row: Shelter) -> StoredShelter:
    info = ShelterInfo(
        id=row.id,
        name=row.name,
        address=row.address,
        lat=row.lat,
        lon=row.lon,
        kinds=frozenset(str(k) for k in row.kinds or []),
        hazards=frozenset(str(h) for h in row.hazards or []),
        wheelchair=row.wheelchair,
        capacity=row.capacity,
        floors=row.floors,
        name_kana=row.name_kana or "",
    )
    return StoredShelter(info=info, source_ids=tuple(str(s) for s in row.source_ids or []))


def load_stored_shelters(session: Session) -> list[StoredShelter]:
    """Every stored shelter with its source ids, ordered by id. Never raises for no rows."""
    rows = session.scalars(select(Shelter).order_by(Shelter.id)).all()
    return [_to_stored(r) for r in rows]


def load_shelters(session: Session) -> list[ShelterInfo]:
    """Every stored shelter as a ``ShelterInfo``, ordered by id (empty list if none).

    ``kinds`` holds the roles (指定避難所, 指定緊急避難場所, 福祉避難所) and ``hazards`` the
    HAZARD_KEYS values the facility is designated for (``"flood"`` etc.); a shelter with
    no stated hazards is suitable for none of them.
    """
    return [s.info for s in load_stored_shelters(session)]


def _content(s: StoredShelter) -> tuple[object, ...]:
    i = s.info
    return (
        i.name,
        i.name_kana,
        i.address,
        i.lat,
        i.lon,
        tuple(sorted_kinds(i.kinds)),
        tuple(sorted_hazards(i.hazards)),
        i.capacity,
        i.wheelchair,
        i.floors,
        s.source_ids,
    )


def replace_shelters(
    session: Session, shelters: list[StoredShelter], *, dry_run: bool = False
) -> ImportReport:
    """Make the shelter table hold exactly ``shelters``; return the counts.

    Runs in the caller's transaction (nothing is committed here). Shelters whose id is
    absent from ``shelters`` are deleted and counted as ``removed``. With ``dry_run`` the
    counts are computed and nothing is written. Ids must be unique (ValueError otherwise:
    the importer guarantees it, so this is a programming error).
    """
    ids = [s.info.id for s in shelters]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate shelter ids given to replace_shelters")
    if not dry_run and session.get_bind().dialect.name == "postgresql":
        # serialise concurrent imports: two interleaved replacements could mix their rows;
        # readers (planning) are not blocked by this mode
        session.execute(text("LOCK TABLE shelters IN SHARE ROW EXCLUSIVE MODE"))
    existing = {r.id: r for r in session.scalars(select(Shelter)).all()}
    report = ImportReport(dry_run=dry_run)
    now = utcnow()
    for s in shelters:
        row = existing.pop(s.info.id, None)
        if row is None:
            report.added += 1
            if not dry_run:
                session.add(_new_row(s, now))
        elif _content(_to_stored(row)) == _content(s):
            report.unchanged += 1
        else:
            report.changed += 1
            if not dry_run:
                _fill(row, s)
                row.updated_at = now
    report.removed = len(existing)
    if not dry_run:
        for row in existing.values():
            session.delete(row)
        session.flush()
    report.written = not dry_run
    return report


def _new_row(s: StoredShelter, now: dt.datetime) -> Shelter:
    row = Shelter(id=s.info.id, updated_at=now)
    _fill(row, s)
    return row


def _fill(row: Shelter, s: StoredShelter) -> None:
    i = s.info
    row.name = i.name
    row.name_kana = i.name_kana
    row.address = i.address
    row.lat = i.lat
    row.lon = i.lon
    row.kinds = sorted_kinds(i.kinds)
    row.hazards = sorted_hazards(i.hazards)
    row.capacity = i.capacity
    row.wheelchair = i.wheelchair
    row.floors = i.floors
    row.source_ids = list(s.source_ids)
