"""Claiming due outbox rows for one worker (the first step of ``Dispatcher.step``).

``claim_rows`` takes at most ``limit`` due 'queued' rows of one channel — cancellations
first, then by alert level and person priority — and leases them to the worker in the
caller's transaction (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so workers never wait on
each other's rows; SQLite: ``BEGIN IMMEDIATE`` serialises claims). A row of a cancelled
alert is never claimed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.db.tables import Alert, Delivery
from alertsvc.dispatch.maintenance import ACTIVE_ALERTS
from alertsvc.dispatch.moves import move
from alertsvc.dispatch.states import DeliveryState, Event
from alertsvc.models import ChannelName, OutgoingMessage
from alertsvc.planning.language import VOICE_LANGUAGES

__all__ = ["ClaimedRow", "claim_rows"]

S = DeliveryState


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """What the worker needs of one claimed row to send it and record the outcome."""

    id: int
    key: str
    alert_id: str
    channel: str
    address: str
    language: str
    title: str
    body: str
    data: tuple[tuple[str, str], ...]
    attempts: int
    queued_at: dt.datetime
    exercise: bool

    def message(self) -> OutgoingMessage:
        """The message the channel sends for this row (the key travels in its data)."""
        r = self
        data = dict(r.data)
        return OutgoingMessage(
            key=r.key,
            channel=ChannelName(r.channel),
            address=r.address,
            body=r.body,
            language=r.language,
            title=r.title,
            data=(("key", r.key), *r.data) if "key" not in data else r.data,
            # a cancellation replaces the alert's notification on the device
            collapse_key=data.get("cancels", r.alert_id),
            voice_language=VOICE_LANGUAGES.get(r.language, "ja-JP"),
        )


def claim_rows(
    s: Session,
    channel: str,
    limit: int,
    *,
    worker_id: str,
    now: dt.datetime,
    lease_until: dt.datetime,
    skip_locked: bool,
) -> list[ClaimedRow]:
    """Claim and lease up to ``limit`` due rows of ``channel``; returns them in claim order."""
    q = (
        select(Delivery.id)
        .where(
            Delivery.state == S.QUEUED.value,
            Delivery.channel == channel,
            Delivery.next_attempt_at <= now,
            # never a row of a cancelled alert, whatever path put it back in the
            # queue (a cancellation alert is itself active)
            Delivery.alert_id.in_(ACTIVE_ALERTS),
        )
        .order_by(
            Delivery.is_cancellation.desc(),
            Delivery.level.desc(),
            Delivery.priority.desc(),
            Delivery.id,
        )
        .limit(limit)
    )
    if skip_locked:
        # other workers skip the rows we lock instead of waiting for them
        q = q.with_for_update(skip_locked=True)
    ids = list(s.scalars(q))
    if not ids:
        return []
    move(
        s,
        Event.CLAIM,
        Delivery.id.in_(ids),
        values={"lease_owner": worker_id, "lease_expires_at": lease_until, "updated_at": now},
    )
    found = s.execute(
        select(
            Delivery.id,
            Delivery.key,
            Delivery.alert_id,
            Delivery.channel,
            Delivery.address,
            Delivery.language,
            Delivery.title,
            Delivery.body,
            Delivery.data,
            Delivery.attempts,
            Delivery.queued_at,
            Delivery.created_at,
            Alert.exercise,
        )
        .join(Alert, Alert.id == Delivery.alert_id)
        .where(
            Delivery.id.in_(ids),
            Delivery.state == S.CLAIMED.value,
            Delivery.lease_owner == worker_id,
        )
    ).all()
    order = {i: n for n, i in enumerate(ids)}
    rows = [
        ClaimedRow(
            id=r[0],
            key=r[1],
            alert_id=r[2],
            channel=r[3],
            address=r[4],
            language=r[5],
            title=r[6],
            body=r[7],
            data=tuple((str(p[0]), str(p[1])) for p in (r[8] or [])),
            attempts=r[9],
            queued_at=r[10] or r[11],
            exercise=bool(r[12]),
        )
        for r in found
    ]
    rows.sort(key=lambda r: order[r.id])
    return rows
