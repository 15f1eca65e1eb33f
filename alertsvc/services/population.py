"""Reading the register for an alert: positions as columns, full records only in scope.

A preview of a city register needs every active resident's position (for targeting) but
the contacts, supporters and names of only the people the scope concerns. ``load_positions``
reads three columns with one Core select into numpy arrays; ``load_people`` reads the full
records of the given ids with Core selects (no ORM objects) and builds exactly the
``ResidentInfo`` that ``alertsvc.registry.store.load_residents`` builds.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from alertsvc.db.tables import Contact, Resident, Supporter
from alertsvc.models import (
    ChannelName,
    ContactInfo,
    ContactKind,
    Need,
    ResidentInfo,
    SupporterInfo,
)

__all__ = ["Positions", "load_people", "load_positions"]

_KINDS = {k.value: k for k in ContactKind}
_CHANNELS = {c.value: c for c in ChannelName}
_NEEDS = {n.value: n for n in Need}


@functools.lru_cache(maxsize=4096)
def _needs(raw: str | None) -> frozenset[Need]:
    # a register holds few distinct lists: decode each JSON text once, not once per person
    return frozenset(_NEEDS[n] for n in json.loads(raw or "[]") if n in _NEEDS)


@functools.lru_cache(maxsize=4096)
def _channels(raw: str | None) -> tuple[ChannelName, ...]:
    return tuple(_CHANNELS[c] for c in json.loads(raw or "[]") if c in _CHANNELS)


@functools.lru_cache(maxsize=4096)
def _blocked(raw: str | None) -> frozenset[ChannelName]:
    return frozenset(_channels(raw))


@functools.lru_cache(maxsize=4096)
def _reasons(raw: str | None) -> tuple[str, ...]:
    # flagged residents are few: most rows carry the same empty list
    return tuple(str(r) for r in json.loads(raw or "[]") or ())


# ids per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits
_CHUNK = 2_000


@dataclass(frozen=True)
class Positions:
    """Active residents ordered by id; ``lon``/``lat`` are NaN where the register has none."""

    ids: npt.NDArray[np.object_]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]

    def located(self) -> npt.NDArray[np.bool_]:
        """The same rule as ``find_targets``: a finite position on the globe."""
        with np.errstate(invalid="ignore"):
            return (
                np.isfinite(self.lon)
                & np.isfinite(self.lat)
                & (np.abs(self.lat) <= 90)
                & (np.abs(self.lon) <= 180)
            )


def load_positions(session: Session) -> Positions:
    """Id, lon and lat of every active resident, ordered by id (database errors propagate).

    Read in partitions straight into arrays: a register of a million never exists as a
    million row objects at once.
    """
    t = Resident.__table__
    stmt = select(t.c.id, t.c.lon, t.c.lat).where(t.c.active.is_(True)).order_by(t.c.id)
    ids: list[str] = []
    lons: list[npt.NDArray[np.float64]] = []
    lats: list[npt.NDArray[np.float64]] = []
    for part in session.execute(stmt.execution_options(yield_per=_PART)).partitions():
        ids.extend(r[0] for r in part)
        # None becomes NaN in a float array: the resident is reported as unlocated
        lons.append(np.array([r[1] for r in part], dtype=np.float64).reshape(-1))
        lats.append(np.array([r[2] for r in part], dtype=np.float64).reshape(-1))
    id_array = np.empty(len(ids), dtype=object)
    id_array[:] = ids
    empty = np.empty(0, dtype=np.float64)
    lon = np.concatenate(lons) if lons else empty
    lat = np.concatenate(lats) if lats else empty
    return Positions(id_array, lon, lat)


# rows per partition of the positions read
_PART = 50_000


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def load_people(session: Session, ids: Sequence[str]) -> list[ResidentInfo]:
    """Full records (contacts with health, supporters) of ``ids``, in the order given.

    Pass ids in the database's order (``Positions.ids`` is) to get what ``load_residents``
    returns for them. Unknown ids are skipped. Unknown enum values in stored JSON are skipped like
    ``resident_info`` does; database errors propagate.
    """
    wanted = list(dict.fromkeys(ids))
    rt, ct, st = Resident.__table__, Contact.__table__, Supporter.__table__
    # one statement each, compiled once: the id list is expanded at execution
    chunk_ids: BindParameter[Any] = bindparam("ids", expanding=True)
    people_q = select(
        rt.c.id,
        rt.c.name,
        rt.c.address,
        rt.c.lat,
        rt.c.lon,
        rt.c.language,
        rt.c.kana,
        rt.c.floor,
        # stored JSON read as its text, decoded through the caches above
        cast(rt.c.needs, Text).label("needs"),
        cast(rt.c.channel_pref, Text).label("channel_pref"),
        cast(rt.c.review_reasons, Text).label("review_reasons"),
        rt.c.consent,
        rt.c.birth_date,
    ).where(rt.c.id.in_(chunk_ids))
    # (resident, position, id) is the relationship's order with a tie-break
    contacts_q = (
        select(
            ct.c.resident_id,
            ct.c.kind,
            ct.c.address,
            ct.c.healthy,
            cast(ct.c.blocked_channels, Text).label("blocked_channels"),
        )
        .where(ct.c.resident_id.in_(chunk_ids))
        .order_by(ct.c.resident_id, ct.c.position, ct.c.id)
    )
    supporters_q = (
        select(st.c.resident_id, st.c.id, st.c.name, st.c.phone, st.c.phone_kind)
        .where(st.c.resident_id.in_(chunk_ids))
        .order_by(st.c.resident_id, st.c.position, st.c.id)
    )
    rank = {rid: k for k, rid in enumerate(wanted)}
    empty: tuple[Any, ...] = ()
    out: list[ResidentInfo] = []
    # chunk by chunk, so that only one chunk's rows exist at a time besides the records
    for chunk in _chunks(wanted):
        params = {"ids": chunk}
        contacts: dict[str, list[ContactInfo]] = defaultdict(list)
        supporters: dict[str, list[SupporterInfo]] = defaultdict(list)
        rows = list(session.execute(people_q, params).all())
        for rid, kind, address, healthy, blocked in session.execute(contacts_q, params).all():
            contacts[rid].append(ContactInfo(_KINDS[kind], address, healthy, _blocked(blocked)))
        for rid, sid, name, phone, phone_kind in session.execute(supporters_q, params).all():
            supporters[rid].append(
                SupporterInfo(
                    id=sid,
                    name=name,
                    phone=phone,
                    phone_kind=_KINDS[phone_kind] if phone_kind else None,
                )
            )
        # chunks follow ``wanted``; within one, rows come in the database's order
        rows.sort(key=lambda r: rank[r[0]])
        out.extend(
            ResidentInfo(
                rid,
                name,
                address,
                lat,
                lon,
                language,
                kana,
                floor,
                _needs(needs),
                _channels(channel_pref),
                tuple(contacts[rid]) if rid in contacts else empty,
                tuple(supporters[rid]) if rid in supporters else empty,
                consent,
                birth_date,
                _reasons(reasons),
            )
            for (
                rid,
                name,
                address,
                lat,
                lon,
                language,
                kana,
                floor,
                needs,
                channel_pref,
                reasons,
                consent,
                birth_date,
            ) in rows
        )
    return out
