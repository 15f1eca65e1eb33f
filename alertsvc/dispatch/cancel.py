"""Cancelling an alert (取消し): stop every unsent message of the family and queue one
cancellation to each person it reached (or may have reached).

``cancel_alert`` works in the caller's transaction and never commits; the caller's
transaction does, together with the audit entry it adds. ``cancellation_notices`` plans
the 取消し rows (also for the maintenance pass, for rows that settle after the cancel).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.audit import record as audit_record
from alertsvc.db.tables import Alert, AlertTarget, Delivery, utcnow
from alertsvc.dispatch.alerts import (
    PlannedDelivery,
    PlannedTarget,
    as_planned,
    create_alert,
    load_alert,
)
from alertsvc.dispatch.moves import move
from alertsvc.dispatch.reach import latest_per_person, may_have_reached_sql, person_key
from alertsvc.dispatch.states import DeliveryState, Event
from alertsvc.errors import InputError
from alertsvc.models import ChannelName

__all__ = ["CancelResult", "cancel_alert", "cancellation_notices"]


@dataclass(frozen=True, slots=True)
class CancelResult:
    alert_id: str
    cancelled: int  # unsent rows stopped
    cancellation_alert_id: str | None  # None when the alert had reached nobody yet
    notified: int  # cancellation messages queued
    # rows in a provider call at cancel time: notified once accepted (or maybe accepted)
    awaiting_outcome: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "alert_id": self.alert_id,
            "cancelled": self.cancelled,
            "cancellation_alert_id": self.cancellation_alert_id,
            "notified": self.notified,
            "awaiting_outcome": self.awaiting_outcome,
        }


def _text_key(channel: str, language: str) -> str:
    return f"{channel}|{language}"


def cancellation_notices(
    rows: Sequence[Delivery], texts: Mapping[str, Sequence[str]], cancels: str
) -> list[PlannedDelivery]:
    """One 取消し per (recipient, person, supporter, channel, address) among ``rows``.

    ``texts`` maps "channel|language" to the rendered (title, body); a row whose text is
    missing is skipped (it cannot be rendered without the officer's reason).
    """
    planned: list[PlannedDelivery] = []
    seen: set[tuple[str, str, int, str, str]] = set()
    for row in rows:
        ident = (row.recipient, row.resident_id, row.supporter_id, row.channel, row.address)
        text = texts.get(_text_key(row.channel, row.language))
        if ident in seen or text is None:
            continue
        seen.add(ident)
        data = (("kind", "cancellation"), ("cancels", cancels))
        planned.append(as_planned(row, title=str(text[0]), body=str(text[1]), step=0, data=data))
    return planned


def cancel_alert(
    session: Session,
    alert_id: str,
    *,
    reason: str,
    actor: str,
    render: Callable[[ChannelName, str], tuple[str, str]],
    now: dt.datetime | None = None,
    members: Sequence[str] = (),
) -> CancelResult:
    """Stop every unsent message of ``alert_id`` and its ``members`` (the alerts under it:
    update notices, expansions; see ``services.cap_notices``) and queue one 取消し per
    person reached.

    Held, queued and claimed rows become 'cancelled' at once (a worker's guarded
    'claimed -> sending' update then finds nothing to send), and every alert of the family
    is cancelled. The cancellation goes once to each person the family reached or may
    have reached (``states.may_have_reached``: sent, delivered, acknowledged, unknown, a
    push waiting to retry an attempt that may have gone out), on the row that reached
    them most recently (``dispatch.reach``); a person only in a provider call right now
    gets it once such a row settles as reached. Workers claim cancellation rows before
    any other queued work. ``render(channel, language)`` returns the (title, body).

    Raises ``NotFound`` for an unknown id and ``InputError`` when the alert is itself a
    cancellation or was already cancelled (a second cancel would message people twice).
    """
    now = now or utcnow()
    if not reason.strip():
        raise InputError("取消しの理由が必要です / a reason is required", [])
    alert = load_alert(session, alert_id, lock=True)
    if alert.kind == "cancellation":
        raise InputError(f"{alert_id} は取消し通知です / {alert_id} is itself a cancellation")
    if alert.state == "cancelled":
        raise InputError(f"{alert_id} は取消し済みです / {alert_id} was already cancelled")
    family = list(dict.fromkeys([alert_id, *members]))
    # read before the stop, which would hide a push waiting for its retry
    candidates = session.scalars(
        select(Delivery)
        .where(
            Delivery.alert_id.in_(family),
            may_have_reached_sql() | (Delivery.state == DeliveryState.SENDING.value),
        )
        .order_by(Delivery.id)
    ).all()
    # rendered now for the rows in flight too: their notice is added by maintenance once
    # a provider turns out to have accepted them (or may have)
    texts = {
        _text_key(r.channel, r.language): list(render(ChannelName(r.channel), r.language))
        for r in candidates
    }
    reached = latest_per_person(r for r in candidates if r.state != DeliveryState.SENDING.value)
    people = {person_key(r) for r in reached}
    # rows in a provider call of people reached by nothing else: the first of them to
    # settle as reached gets the notice (``maintenance.notify_settled_in_flight``)
    in_flight = sum(
        1
        for r in candidates
        if r.state == DeliveryState.SENDING.value and person_key(r) not in people
    )
    stopped = move(
        session,
        Event.CANCEL,
        Delivery.alert_id.in_(family),
        values={"finished_at": now, "updated_at": now, "detail": f"cancelled by {actor}"},
    )
    for member_alert in session.scalars(select(Alert).where(Alert.id.in_(family))):
        member_alert.state = "cancelled"
        member_alert.cancelled_at = now
        member_alert.cancelled_by = actor
        member_alert.cancel_reason = reason
    targets = {
        t.resident_id: t
        for t in session.scalars(select(AlertTarget).where(AlertTarget.alert_id.in_(family)))
    }
    planned = cancellation_notices(reached, texts, alert_id)
    notice_targets = [
        PlannedTarget(
            resident_id=rid,
            priority=targets[rid].priority if rid in targets else 0.0,
            located=targets[rid].located if rid in targets else True,
            reachable=True,
        )
        for rid in dict.fromkeys(p.resident_id for p in planned)
    ]
    notice_id: str | None = None
    if planned or in_flight:
        # addresses were vetted against the allow-list when the alert was created
        notice_id = create_alert(
            session,
            level=max([alert.level, *(r.level for r in candidates)]),
            scope={"cancels": alert_id, "reason": reason, "texts": texts},
            exercise=alert.exercise,
            targets=notice_targets,
            deliveries=planned,
            actor=actor,
            kind="cancellation",
            parent_id=alert_id,
            allow_list={p.address for p in planned},
            now=now,
        )
    result = CancelResult(
        alert_id=alert_id,
        cancelled=stopped,
        cancellation_alert_id=notice_id,
        notified=len(planned),
        awaiting_outcome=in_flight,
    )
    audit_record(session, "alert.cancel",
                 {"alert_id": alert_id, "reason": reason, "family": family},
                 result.as_dict(), actor=actor)  # fmt: skip
    return result
