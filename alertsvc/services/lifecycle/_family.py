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
from alertsvc.dispatch.alerts import (
    PlannedDelivery,
    PlannedTarget,
    alert_family,
    create_alert,
    load_alert,
)
from alertsvc.dispatch.moves import move
from alertsvc.dispatch.reach import latest_per_person, may_have_reached_sql, person_key
from alertsvc.dispatch.states import REACHED_STATES, DeliveryState, Event
from alertsvc.duty import DUTY_KIND
from alertsvc.errors import InputError

__all__ = [
    "NOT_FAMILY_KINDS",
    "LifecycleResult",
    "cancel_family",
    "child",
    "family_of",
    "in_flight",
    "reached",
    "reached_people",
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


# alerts hung under an alert that are not part of its life: a duty-desk notice must still
# reach the desk after the alert is cancelled or cleared (``alertsvc.duty``)
NOT_FAMILY_KINDS = frozenset({DUTY_KIND})


def root_alert(session: Session, alert_id: str) -> Alert:
    """The active original alert of ``alert_id``'s family, locked; ``InputError`` otherwise.

    ``alert_id`` may be the original or any alert under it (an update notice, an
    expansion, a correction): the step acts on the whole family, through its root.
    """
    alert = load_alert(session, alert_id)
    if alert.kind in NOT_FAMILY_KINDS:
        raise InputError(
            f"{alert_id} は当番への通知です / {alert_id} is a {alert.kind} notice, not part "
            "of an alert's life; use the alert id"
        )
    while alert.parent_id is not None:
        alert = load_alert(session, alert.parent_id)
    root = load_alert(session, alert.id, lock=True)
    if root.kind != "alert":
        raise InputError(
            f"{root.id} は通知です / {root.id} is a {root.kind} notice; use the original alert id"
        )
    if root.state != "active":
        raise InputError(f"{root.id} は {root.state} です / {root.id} is {root.state}")
    return root


def family_of(session: Session, alert_id: str) -> tuple[list[str], int]:
    """The ids of the alert's family (original, updates, expansions, notices; never a
    duty-desk notice) and its highest level."""
    members = [a for a in alert_family(session, alert_id) if a.kind not in NOT_FAMILY_KINDS]
    return [a.id for a in members], max(a.level for a in members)


def cancel_family(session: Session, alert_id: str) -> tuple[str, list[str]]:
    """What ``alert cancel ID`` acts on: the family's original alert and the alerts under
    it (updates, expansions, corrections, …; never a duty-desk notice or an earlier
    cancellation). A duty-desk notice or a cancellation is taken on its own (the
    cancel refuses the latter). ``NotFound`` for an unknown id."""
    alert = load_alert(session, alert_id)
    if alert.kind in NOT_FAMILY_KINDS or alert.kind == "cancellation":
        return alert.id, []
    members = [a for a in alert_family(session, alert_id)
               if a.kind not in NOT_FAMILY_KINDS and a.kind != "cancellation"]  # fmt: skip
    root = next(a for a in members if a.parent_id is None)
    return root.id, [a.id for a in members if a.id != root.id]


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


def reached_people(session: Session, alert_ids: Sequence[str], *, closing: bool) -> list[Any]:
    """One row per person the family reached: the one that reached them most recently
    (``dispatch.reach``). ``closing`` (a 解除): also a push waiting for its retry after an
    attempt that may have gone out (``states.may_have_reached``) — call it before the stop.
    """
    reach = (
        may_have_reached_sql() if closing else Delivery.state.in_([s.value for s in REACHED_STATES])
    )
    rows = session.execute(
        select(Delivery.__table__)
        .where(Delivery.alert_id.in_(alert_ids), reach)
        .order_by(Delivery.id)
    ).all()
    return latest_per_person(rows)


def in_flight(
    session: Session, alert_ids: Sequence[str], known: Sequence[Any], *, per_person: bool = False
) -> list[Any]:
    """Rows in a provider call right now ('sending'), one per (person, channel, address)
    that ``known`` (the reached rows) does not already cover; ``per_person``: only rows
    of people ``known`` does not cover at all (each may still be the one that reaches
    them; the first to settle as reached carries the notice, ``dispatch.owed``)."""
    seen = {_ident(r) for r in known}
    people = {person_key(r) for r in known} if per_person else set()
    out: list[Any] = []
    for row in session.execute(
        select(Delivery.__table__)
        .where(Delivery.alert_id.in_(alert_ids), Delivery.state == DeliveryState.SENDING.value)
        .order_by(Delivery.id)
    ):
        if _ident(row) not in seen and person_key(row) not in people:
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
    root = root_alert(session, alert_id)
    family, _level = family_of(session, root.id)
    rows = stop(session, family, actor, now)
    record(session, "alert.stop", {"alert_id": root.id, "for": "correction"},
           {"stopped": len(rows)}, actor=actor)  # fmt: skip
    return rows


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
