"""Who gets a notice about an alert family, and on which row (#9).

A closing notice (取消し, 解除) and a correction (訂正) go to each person the family
reached — the original alert, its update notices and expansions — exactly once: on the
row that reached them most recently (its channel, address and language). Whether a row
reached its person is ``states.may_have_reached`` (closing notices) or
``states.REACHED_STATES`` (corrections); this module gives the SQL form of the first and
the one choice of row per person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from alertsvc.db.tables import Delivery
from alertsvc.dispatch.states import (
    REACHED_STATES,
    RESENT_AFTER_UNKNOWN,
    RESENT_WAITING_STATES,
)
from alertsvc.models import DIGEST_RESIDENT

__all__ = ["PersonKey", "latest_per_person", "may_have_reached_sql", "person_key"]

# (recipient, resident_id, supporter_id, address): a resident, one supporter about a
# resident, or — a digest row, about several people — the supporter's phone (address)
PersonKey = tuple[str, str, int, str]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def may_have_reached_sql() -> ColumnElement[bool]:
    """``states.may_have_reached`` as a WHERE clause on ``deliveries``."""
    return or_(
        Delivery.state.in_(sorted(s.value for s in REACHED_STATES)),
        and_(
            Delivery.channel.in_(sorted(RESENT_AFTER_UNKNOWN)),
            Delivery.attempts > 0,
            Delivery.state.in_(sorted(s.value for s in RESENT_WAITING_STATES)),
        ),
    )


def person_key(row: Any) -> PersonKey:
    """Whom a delivery row is for (a row, ORM object or PlannedDelivery-like value).

    A supporter digest has no resident of its own: its supporter is the phone it went
    to (one key for the SMS and the call of one phone; each supporter their own key)."""
    if str(row.resident_id) == DIGEST_RESIDENT:
        return (str(row.recipient), DIGEST_RESIDENT, 0, str(row.address))
    return (str(row.recipient), str(row.resident_id), int(row.supporter_id or 0), "")


def _when(row: Any) -> tuple[dt.datetime, int]:
    at = getattr(row, "sent_at", None) or getattr(row, "finished_at", None)
    at = at or getattr(row, "updated_at", None) or _EPOCH
    if at.tzinfo is None:  # SQLite through Core may hand back naive UTC
        at = at.replace(tzinfo=dt.UTC)
    return (at, int(getattr(row, "id", 0) or 0))


def latest_per_person(rows: Iterable[Any]) -> list[Any]:
    """One row per person: the one that reached them most recently (sent, else
    finished, else last changed; ties by row id). Keeps the order of first appearance."""
    best: dict[PersonKey, Any] = {}
    for row in rows:
        key = person_key(row)
        if key not in best or _when(row) >= _when(best[key]):
            best[key] = row
    return list(best.values())
