"""What every lifecycle step shares: the alert family, its reached and in-flight rows,
the stop of unsent rows, and the writing of a notice (with the notices it still owes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from alertsvc.audit import record
from alertsvc.db.tables import Alert, AlertTarget, Delivery, NoticeWait, utcnow
from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget, create_alert, load_alert
from alertsvc.dispatch.moves import move
from alertsvc.dispatch.states import REACHED_STATES, DeliveryState, Event
from alertsvc.errors import InputError
from alertsvc.interop.cap_export import alert_family
from alertsvc.models import ChannelName

__all__ = [
    "LifecycleResult",
    "as_planned",
    "child",
    "family_of",
    "in_flight",
    "reached",
    "root_alert",
    "stop",
    "stop_unsent",
]

Ident = tuple[str, str, int, str, str]


@dataclass(frozen=True, slots=True)
class LifecycleResult:
    alert_id: str
    stopped: int  # unsent rows stopped
    notice_alert_id: str | None  # update / correction / clear notice (None: nobody reached)
    notified: int
    followup_alert_id: str | None = None  # expansion / reissue alert
    followup_deliveries: int = 0
    # rows in a provider call at the time: notified once they settle as reached
    awaiting_outcome: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "stopped": self.stopped,
            "notice_alert_id": self.notice_alert_id,
            "notified": self.notified,
            "awaiting_outcome": self.awaiting_outcome,
            "followup_alert_id": self.followup_alert_id,
            "followup_deliveries": self.followup_deliveries,
        }


def root_alert(session: Session, alert_id: str) -> Alert:
    """The active original alert ``alert_id``, locked; ``InputError`` otherwise."""
    alert = load_alert(session, alert_id, lock=True)
    if alert.kind != "alert":
        raise InputError(
            f"{alert_id} は通知です / {alert_id} is a {alert.kind} notice; "
            "use the original alert id"
        )
    if alert.state != "active":
        raise InputError(f"{alert_id} は {alert.state} です / {alert_id} is {alert.state}")
    return alert


def family_of(session: Session, alert_id: str) -> tuple[list[str], int]:
    """The ids of the alert's family (original, updates, notices) and its highest level."""
    members = alert_family(session, alert_id)
    return [a.id for a in members], max(a.level for a in members)


def _ident(row: Any) -> Ident:
    return (row.recipient, row.resident_id, row.supporter_id, row.channel, row.address)


def reached(session: Session, alert_ids: Sequence[str]) -> list[Any]:
    """Rows that reached (or may have reached) someone, one per (person, channel, address)."""
    rows = session.execute(
        select(Delivery.__table__)
        .where(
            Delivery.alert_id.in_(alert_ids),
            Delivery.state.in_([s.value for s in REACHED_STATES]),
        )
        .order_by(Delivery.id)
    ).all()
    seen: set[Ident] = set()
    out: list[Any] = []
    for row in rows:
        if _ident(row) not in seen:
            seen.add(_ident(row))
            out.append(row)
    return out


def in_flight(session: Session, alert_ids: Sequence[str], known: Sequence[Any]) -> list[Any]:
    """Rows in a provider call right now ('sending'), one per (person, channel, address)
    that ``known`` (the reached rows) does not already cover."""
    seen = {_ident(r) for r in known}
    out: list[Any] = []
    for row in session.execute(
        select(Delivery.__table__)
        .where(Delivery.alert_id.in_(alert_ids), Delivery.state == DeliveryState.SENDING.value)
        .order_by(Delivery.id)
    ):
        if _ident(row) not in seen:
            seen.add(_ident(row))
            out.append(row)
    return out


def stop(session: Session, alert_ids: Sequence[str], actor: str, now: dt.datetime) -> list[Any]:
    """Stop unsent rows (held, queued, claimed); return them (plain rows) as they were."""
    unsent = (Delivery.alert_id.in_(alert_ids), Delivery.state.in_(("held", "queued", "claimed")))
    # plain rows, not ORM objects: a stop must be fast for alerts of many thousand rows
    pending = list(session.execute(select(Delivery.__table__).where(*unsent)).all())
    if pending:
        values = {"finished_at": now, "updated_at": now, "detail": f"stopped by {actor}"}
        move(session, Event.CANCEL, Delivery.id.in_([r.id for r in pending]), values=values)
    return pending


def stop_unsent(
    session: Session, alert_id: str, *, actor: str, now: dt.datetime | None = None
) -> list[Any]:
    """Phase one of a correction: stop every unsent row of the alert's family now.

    Committed on its own so the stop takes effect within a second even for a large
    alert; pass the returned rows to ``correct_alert(stopped=...)``. Should phase two
    fail, the stopped people are on the alert's follow-up list (never silently gone).
    """
    now = now or utcnow()
    root_alert(session, alert_id)
    family, _level = family_of(session, alert_id)
    rows = stop(session, family, actor, now)
    record(session, "alert.stop", {"alert_id": alert_id, "for": "correction"},
           {"stopped": len(rows)}, actor=actor)  # fmt: skip
    return rows


def as_planned(
    row: Any,
    *,
    title: str,
    body: str,
    step: int | None = None,
    data: tuple[tuple[str, str], ...] = (),
) -> PlannedDelivery:
    """``row`` (a delivery) to the same person, channel and address with a new text."""
    return PlannedDelivery(
        resident_id=row.resident_id,
        recipient="supporter" if row.recipient == "supporter" else "resident",
        supporter_id=row.supporter_id or None,
        step=row.step if step is None else step,
        channel=ChannelName(row.channel),
        address=row.address,
        language=row.language,
        title=title,
        body=body,
        data=data,
        priority=row.priority,
        legal_basis=row.legal_basis,
    )


def _targets_for(
    session: Session, alert_ids: Sequence[str], planned: Sequence[PlannedDelivery]
) -> list[PlannedTarget]:
    known = {
        t.resident_id: t
        for t in session.execute(
            select(AlertTarget.resident_id, AlertTarget.priority, AlertTarget.located).where(
                AlertTarget.alert_id.in_(alert_ids)
            )
        )
    }
    return [
        PlannedTarget(
            rid,
            known[rid].priority if rid in known else 0.0,
            known[rid].located if rid in known else True,
            True,
        )
        for rid in dict.fromkeys(p.resident_id for p in planned)
    ]


def child(
    session: Session,
    root: Alert,
    kind: str,
    level: int,
    scope: dict[str, Any],
    family_ids: Sequence[str],
    planned: Sequence[PlannedDelivery],
    actor: str,
    now: dt.datetime,
    *,
    targets: Sequence[PlannedTarget] | None = None,
    allow_list: Sequence[str] | None = None,
    awaiting: Mapping[int, PlannedDelivery] | None = None,
) -> str | None:
    """Write the ``kind`` alert under ``root``; None when it has nobody to go to.

    ``awaiting`` maps a row in flight (its delivery id) to the notice it gets should it
    settle as reached: written as ``NoticeWait`` rows that maintenance turns into
    deliveries of this notice (``dispatch.maintenance.notify_settled_in_flight``).
    """
    if not planned and not targets and not awaiting:
        return None
    alert_id = create_alert(
        session,
        level=level,
        scope=scope,
        exercise=root.exercise,
        targets=list(targets)
        if targets is not None
        else _targets_for(session, family_ids, planned),
        deliveries=planned,
        actor=actor,
        kind=kind,
        parent_id=root.id,
        # notices go where the alert already went, vetted then; new rows are vetted now
        allow_list=allow_list if allow_list is not None else {p.address for p in planned},
        now=now,
    )
    if awaiting:
        session.execute(
            insert(NoticeWait),
            [
                {
                    "notice_id": alert_id,
                    "delivery_id": delivery_id,
                    "title": p.title,
                    "body": p.body,
                    "data": [list(kv) for kv in p.data],
                    "created_at": now,
                }
                for delivery_id, p in awaiting.items()
            ],
        )
    return alert_id
