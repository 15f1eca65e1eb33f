"""Notices owed to rows that were in flight: "settle, then notify" for updates,
corrections and all-clears (#9; cancellations keep their own query in ``maintenance``).

When an officer updates, corrects or clears an alert, a row in a provider call right
then ('sending') has reached nobody yet — or may have. The lifecycle writes one
``NoticeWait`` per such row: the notice it gets, should it turn out to have reached its
address. ``notify_awaited`` (run by every maintenance pass) settles them:

- the row is sent, delivered, acknowledged or unknown: the notice is added to its notice
  alert (queued, claimed ahead of other messages), once per address;
- the row failed, was withdrawn or cancelled: no notice (it reached nobody; the person is
  unreached and handled as such: escalation, the follow-up list);
- the row came back to the queue (a deferred retry) in a still active alert: it has not
  gone out, so it goes out carrying the notice instead — an update's new-level text, or
  the original with a correction appended — and no separate notice follows;
- a 解除 owed to a row back in the queue: the family is cleared, so the row never goes
  out again; a push among them may have gone out on its earlier attempt and gets the
  解除 (``states.may_have_reached``), any other row none;
- a correction or 解除 reaches a person once, on the first of their rows to settle as
  reached;
- the notice's family was cleared, or its alert cancelled, meanwhile: the 解除 or 取消し
  superseded it; dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from alertsvc.db.tables import Alert, AlertTarget, Delivery, NoticeWait
from alertsvc.dispatch._sql import rowcount
from alertsvc.dispatch.alerts import PlannedDelivery, as_planned
from alertsvc.dispatch.reach import person_key
from alertsvc.dispatch.states import REACHED_STATES, DeliveryState, may_have_reached
from alertsvc.models import DIGEST_RESIDENT

__all__ = ["AWAITED_DETAIL", "ONCE_PER_PERSON", "add_notices", "notify_awaited"]

log = logging.getLogger("alertsvc.dispatch.worker")

S = DeliveryState
# a row in one of these states may still reach its person: its notice keeps waiting
# (a queued row — a deferred retry — is given the notice's words instead)
_UNSETTLED = [s.value for s in (S.HELD, S.CLAIMED, S.SENDING)]
# notices a person gets once, whatever number of their rows the family used
ONCE_PER_PERSON = frozenset({"cancellation", "correction", "clear"})
AWAITED_DETAIL = "in flight when the notice was made; the provider accepted it (or may have)"


def add_notices(
    session: Session,
    notice: Alert,
    planned: Sequence[PlannedDelivery],
    now: dt.datetime,
    *,
    detail: str = "in flight at cancel time; the provider accepted it (or may have)",
) -> int:
    """Append queued notice rows (and their targets) to ``notice`` (any of ``NOTICE_KINDS``).

    Row keys continue the notice's numbering. Two workers adding the same notice at once
    collide on the unique constraints and one transaction fails (and is retried): nobody
    is notified twice. Returns the rows added.
    """
    if not planned:
        return 0
    count = session.scalar(select(func.count()).where(Delivery.alert_id == notice.id)) or 0
    have = set(
        session.scalars(select(AlertTarget.resident_id).where(AlertTarget.alert_id == notice.id))
    )
    new_targets = [
        {"alert_id": notice.id, "resident_id": rid, "priority": p, "located": True,
         "reachable": True}
        for rid, p in {d.resident_id: d.priority for d in planned}.items()
        if rid not in have and rid != DIGEST_RESIDENT
    ]  # fmt: skip
    if new_targets:
        session.execute(insert(AlertTarget), new_targets)
    rows = [
        {
            "key": f"{notice.id}:{count + n}",
            "alert_id": notice.id,
            "recipient": d.recipient,
            "resident_id": d.resident_id,
            "supporter_id": d.supporter_id or 0,
            "step": 0,
            "channel": str(d.channel),
            "address": d.address,
            "language": d.language,
            "title": d.title,
            "body": d.body,
            "data": [[k, notice.id if k == "alert_id" else v] for k, v in d.data],
            "priority": d.priority,
            "level": notice.level,
            "is_cancellation": True,
            "legal_basis": d.legal_basis,
            "state": DeliveryState.QUEUED.value,
            "attempts": 0,
            "next_attempt_at": now,
            "detail": detail,
            "created_at": now,
            "queued_at": now,
            "updated_at": now,
        }
        for n, d in enumerate(planned, start=1)
    ]
    session.execute(insert(Delivery), rows)
    return len(rows)


def _planned(wait: NoticeWait, row: Delivery) -> PlannedDelivery:
    data = tuple((str(k), str(v)) for k, v in wait.data)
    return as_planned(row, title=wait.title, body=wait.body, step=0, data=data)


def _retext(session: Session, wait: NoticeWait, row: Delivery, notice: Alert) -> bool:
    """Give a re-queued row the notice's words; False when a worker claimed it first."""
    if notice.kind == "update":
        values = {"title": wait.title, "body": wait.body}
    elif notice.kind == "correction":
        values = {"body": f"{row.body} {(notice.scope or {}).get('text', '')}".rstrip()}
    else:
        return False
    done = session.execute(
        update(Delivery)
        .where(Delivery.id == row.id, Delivery.state == S.QUEUED.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(done) == 1


def _ident(row: Any) -> tuple[str, str, int, str, str, str]:
    return (*person_key(row), str(row.channel), str(row.address))


def notify_awaited(session: Session, now: dt.datetime) -> int:
    """Settle the ``NoticeWait`` rows whose delivery has an outcome (see the module
    docstring). Idempotent; returns the notices added."""
    found = session.execute(
        select(NoticeWait, Delivery, Alert)
        .join(Delivery, Delivery.id == NoticeWait.delivery_id)
        .join(Alert, Alert.id == NoticeWait.notice_id)
        .where(or_(Delivery.state.not_in(_UNSETTLED), Alert.state != "active"))
        .order_by(NoticeWait.id)
        # PostgreSQL: two workers' maintenance passes never handle the same wait
        .with_for_update(of=NoticeWait, skip_locked=True)
    ).all()
    if not found:
        return 0
    reached = {s.value for s in REACHED_STATES}
    by_notice: dict[str, tuple[Alert, list[PlannedDelivery]]] = {}
    settled: list[int] = []
    parents = {n.parent_id for _w, _r, n in found if n.parent_id}
    cancelled = set(
        session.scalars(select(Alert.id).where(Alert.id.in_(parents), Alert.state == "cancelled"))
    )
    for wait, row, notice in found:
        # an alert cancelled since: its 取消し goes to whoever was reached instead
        live = notice.state == "active" and notice.parent_id not in cancelled
        if live and row.state == S.QUEUED.value and notice.kind != "clear":
            # back in the queue: it goes out with the notice's words, or (claimed just
            # now) keeps waiting for its outcome
            if _retext(session, wait, row, notice):
                settled.append(wait.id)
            continue
        settled.append(wait.id)
        # a notice of a cleared family is superseded: the 解除 went to whoever was reached.
        # A 解除 owed to a push back in the queue (its family cleared, so it never goes
        # out again): its attempt may have gone out (``states.may_have_reached``)
        if notice.kind == "clear":
            owed = may_have_reached(row.state, row.channel, row.attempts)
        else:
            owed = row.state in reached
        if live and owed:
            by_notice.setdefault(notice.id, (notice, []))[1].append(_planned(wait, row))
    added = 0
    for notice, planned in by_notice.values():
        # an update goes to every address that reached the person; a correction or a
        # 解除 to the person once (``dispatch.reach``)
        once = notice.kind in ONCE_PER_PERSON
        have = {
            person_key(r) if once else _ident(r)
            for r in session.execute(
                select(
                    Delivery.recipient,
                    Delivery.resident_id,
                    Delivery.supporter_id,
                    Delivery.channel,
                    Delivery.address,
                ).where(Delivery.alert_id == notice.id)
            )
        }
        fresh: list[PlannedDelivery] = []
        for p in planned:
            ident = person_key(p) if once else _ident(p)
            if ident not in have:
                have.add(ident)
                fresh.append(p)
        added += add_notices(session, notice, fresh, now, detail=AWAITED_DETAIL)
    if settled:
        session.execute(
            delete(NoticeWait)
            .where(NoticeWait.id.in_(settled))
            .execution_options(synchronize_session=False)
        )
    if added:
        log.info("notices: %d for sends that settled after the notice was made", added)
    return added
