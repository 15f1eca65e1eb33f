"""Outbox maintenance: leases, cancelled alerts' stragglers, escalation release.

These are queries, not timers, so they survive restarts: any worker runs them
periodically (``Dispatcher.maintain``). A claimed row whose lease expired goes back to the
queue (the provider was never called); a 'sending' row whose lease expired becomes
'unknown' — it may have gone out and is never resent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from alertsvc.config import DispatchSettings
from alertsvc.db.tables import Alert, Delivery, NoticeWait
from alertsvc.dispatch._sql import deliveries_table
from alertsvc.dispatch.cancel import cancellation_notices
from alertsvc.dispatch.moves import move, move_each
from alertsvc.dispatch.owed import add_notices, notify_awaited
from alertsvc.dispatch.reach import latest_per_person
from alertsvc.dispatch.states import ACTIVE_STATES, REACHED_STATES, DeliveryState, Event

__all__ = [
    "ACTIVE_ALERTS",
    "EXPIRED_PREFIX",
    "LOST_DETAIL",
    "STOPPED_ALERT_STATES",
    "cancel_rows_of_cancelled_alerts",
    "expire_unsent_rows",
    "has_pending_work",
    "notify_settled_in_flight",
    "recover_expired_leases",
    "release_due_escalations",
]

log = logging.getLogger("alertsvc.dispatch.worker")

S = DeliveryState
LOST_DETAIL = "worker lost during the provider call; may have gone out, not resent"
LOST_PUSH_DETAIL = "worker lost during the provider call; push resent (duplicates collapse)"
# the start of the detail the max-age sweep writes (``alert status`` and ``verify`` read it)
EXPIRED_PREFIX = "expired: not handed to a provider within max_age_seconds"


def recover_expired_leases(session: Session, now: dt.datetime) -> tuple[int, int]:
    """Handle rows whose worker died or stalled; returns (requeued, marked unknown).

    'claimed' rows go back to 'queued': the provider was never called. 'sending' SMS and
    voice rows become 'unknown': the provider may have acted, so they are never resent
    automatically; 'sending' push rows are queued again (a duplicate push is collapsed on
    the device, a missing one leaves a person unwarned).
    The lease owner is kept on unknown rows so that a stalled (not dead) worker can still
    record the real outcome when its provider call returns.
    """
    requeued = move(
        session,
        Event.LEASE_EXPIRED,
        Delivery.lease_expires_at < now,
        values={"lease_owner": None, "lease_expires_at": None, "updated_at": now},
        only={S.CLAIMED},
    )
    # a push is resent instead: a duplicate replaces the notification on the device
    # (same collapse key), so "may have gone out" is no reason to leave someone unwarned
    repushed = move(
        session,
        Event.RETRY,
        Delivery.lease_expires_at < now,
        Delivery.channel == "push",
        # in a cancelled alert it may have gone out: it stays unknown and is notified
        Delivery.alert_id.in_(ACTIVE_ALERTS),
        values={
            "lease_owner": None,
            "lease_expires_at": None,
            "next_attempt_at": now,
            "detail": LOST_PUSH_DETAIL,
            "updated_at": now,
        },
        only={S.SENDING},
    )
    lost = move(
        session,
        Event.LEASE_EXPIRED,
        Delivery.lease_expires_at < now,
        values={"detail": LOST_DETAIL, "finished_at": now, "updated_at": now},
        only={S.SENDING},
    )
    if requeued or lost or repushed:
        log.warning(
            "expired leases: %d requeued, %d pushes resent, %d marked unknown",
            requeued,
            repushed,
            lost,
        )
    return requeued + repushed, lost


def _ack_wait(settings: DispatchSettings, level: int) -> float:
    if level >= 5:
        return settings.ack_wait_level5_seconds
    if level == 4:
        return settings.ack_wait_level4_seconds
    return settings.ack_wait_level3_seconds


ACTIVE_ALERTS = select(Alert.id).where(Alert.state == "active").scalar_subquery()


# alerts whose unsent rows must never go out: cancelled (取消し) or cleared (解除)
STOPPED_ALERT_STATES = ("cancelled", "cleared")


def cancel_rows_of_cancelled_alerts(session: Session, now: dt.datetime) -> int:
    """Rows still waiting (held, queued) in a cancelled or cleared alert become 'cancelled'.

    ``cancel_alert`` and ``clear_alert`` stop every waiting row at once, but a row that was
    in flight then and is put back afterwards (a retry, a requeue after a misconfigured
    channel) would otherwise wait for ever; the claim query never takes it either.
    """
    cancelled = select(Alert.id).where(Alert.state.in_(STOPPED_ALERT_STATES)).scalar_subquery()
    return move(
        session,
        Event.CANCEL,
        Delivery.alert_id.in_(cancelled),
        # a notice owed to it is settled first (``notify_awaited``: a push back in the
        # queue may have gone out), the next pass stops it
        ~exists().where(NoticeWait.delivery_id == Delivery.id),
        values={
            "detail": "alert cancelled while this message was in flight; not sent",
            "finished_at": now,
            "updated_at": now,
        },
        only={S.HELD, S.QUEUED},
    )


def notify_settled_in_flight(session: Session, now: dt.datetime) -> int:
    """Notices for rows that were in a provider call when a notice about their alert was
    made, and have since turned out accepted, or possibly accepted ("settle, then notify").

    Every notice (取消し, update, 訂正, 解除) goes only to addresses a provider accepted
    (or may have); a row then 'sending' gets its notice here once its outcome is known —
    and none when it came back deferred (withdrawn), failed or was stopped: that person
    is unreached and handled as such (escalation, the follow-up list). Cancellations find
    their rows through the cancelled parent; the other notices through ``NoticeWait``
    rows written when they were made. Idempotent: an address already in the notice is
    skipped. Returns the notices added.
    """
    added = _notify_cancellations(session, now)
    return added + notify_awaited(session, now)


def _notify_cancellations(session: Session, now: dt.datetime) -> int:
    from alertsvc.duty import DUTY_KIND  # duty imports the dispatch package

    notice = aliased(Alert)
    member = aliased(Alert)
    already = aliased(Delivery)
    rows = session.execute(
        select(Delivery, notice)
        .join(member, member.id == Delivery.alert_id)
        # the cancelled alert itself, or an alert of its family (update, expansion, …)
        .join(
            notice,
            (notice.kind == "cancellation")
            & or_(
                notice.parent_id == member.id,
                (notice.parent_id == member.parent_id) & (member.kind != DUTY_KIND),
            ),
        )
        .where(
            member.state == "cancelled",
            member.kind != "cancellation",
            Delivery.state.in_([s.value for s in REACHED_STATES]),
            # one 取消し per person (``dispatch.reach``)
            ~exists().where(
                already.alert_id == notice.id,
                already.recipient == Delivery.recipient,
                already.resident_id == Delivery.resident_id,
                already.supporter_id == Delivery.supporter_id,
            ),
        )
        .order_by(Delivery.id)
    ).all()
    by_notice: dict[str, tuple[Alert, list[Delivery]]] = {}
    for row, n in rows:
        by_notice.setdefault(n.id, (n, []))[1].append(row)
    added = 0
    for n, found in by_notice.values():
        texts = dict((n.scope or {}).get("texts") or {})
        planned = cancellation_notices(latest_per_person(found), texts, str(n.parent_id))
        added += add_notices(session, n, planned, now)
    if added:
        log.info("cancellation: %d notices for sends that settled after the cancel", added)
    return added


def expire_unsent_rows(
    session: Session, settings: DispatchSettings, now: dt.datetime
) -> dict[str, int]:
    """Fail every queued or claimed row not handed to a provider within ``max_age_seconds``.

    Age counts from when the row was queued (created, or released by escalation). Such a
    row belongs to a channel that is broken, not served by any worker, or stalled; failing
    it (with the reason in ``detail``) lets escalation release the person's next channel
    instead of leaving them waiting for ever. A worker that still holds the claim finds
    the row gone when it moves it to 'sending' and never calls the provider. Returns the
    rows failed per channel; the caller reports them.
    """
    cutoff = now - dt.timedelta(seconds=settings.max_age_seconds)
    stale = list(
        session.execute(
            select(Delivery.channel, func.count())
            .where(
                Delivery.state.in_([S.QUEUED.value, S.CLAIMED.value]),
                func.coalesce(Delivery.queued_at, Delivery.created_at) < cutoff,
                Delivery.alert_id.in_(ACTIVE_ALERTS),
            )
            .group_by(Delivery.channel)
        ).all()
    )
    failed: dict[str, int] = {}
    for channel, _n in stale:
        n = move(
            session,
            Event.EXPIRE,
            Delivery.channel == channel,
            func.coalesce(Delivery.queued_at, Delivery.created_at) < cutoff,
            Delivery.alert_id.in_(ACTIVE_ALERTS),
            values={
                "detail": f"{EXPIRED_PREFIX} ({settings.max_age_seconds:.0f}s): "
                f"channel {channel} made no progress",
                "lease_owner": None,
                "lease_expires_at": None,
                "finished_at": now,
                "updated_at": now,
            },
        )
        if n:
            failed[channel] = n
            log.error(
                "channel %s made no progress: %d rows not handed to the provider within "
                "%.0fs failed over to the next channel",
                channel,
                n,
                settings.max_age_seconds,
            )
    return failed


def release_due_escalations(session: Session, settings: DispatchSettings, now: dt.datetime) -> int:
    """Queue the next held step of every person whose current step is done with.

    A person's next step is released when all their earlier rows are settled and either
    every one of them failed (permanently), or the acknowledgement wait for the alert's
    level has passed since the last of them settled. 'unknown' counts as "not
    acknowledged": the wait applies. Returns the number of rows queued.
    """
    pairs = session.execute(
        select(Delivery.alert_id, Delivery.resident_id, func.min(Delivery.step), Alert.level)
        .join(Alert, Alert.id == Delivery.alert_id)
        .where(
            Delivery.state == S.HELD.value,
            Delivery.recipient == "resident",
            Alert.state == "active",
        )
        .group_by(Delivery.alert_id, Delivery.resident_id, Alert.level)
    ).all()
    if not pairs:
        return 0
    earlier: dict[tuple[str, str], list[tuple[int, str, dt.datetime | None]]] = defaultdict(list)
    keys = [(a, r) for a, r, _s, _l in pairs]
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        for alert_id, resident_id, step, state, finished_at in session.execute(
            select(
                Delivery.alert_id,
                Delivery.resident_id,
                Delivery.step,
                Delivery.state,
                Delivery.finished_at,
            ).where(
                tuple_(Delivery.alert_id, Delivery.resident_id).in_(chunk),
                Delivery.recipient == "resident",
                Delivery.state != S.HELD.value,
            )
        ):
            earlier[(alert_id, resident_id)].append((step, state, finished_at))
    active = {s.value for s in ACTIVE_STATES}
    to_release: list[dict[str, Any]] = []
    for alert_id, resident_id, next_step, level in pairs:
        rows = [r for r in earlier[(alert_id, resident_id)] if r[0] < next_step]
        if any(state in active for _s, state, _f in rows):
            continue
        if any(state == S.ACKNOWLEDGED.value for _s, state, _f in rows):
            continue  # record_acknowledgement skips held rows; nothing to escalate
        if rows and not all(state == S.FAILED.value for _s, state, _f in rows):
            last = max((f for _s, _st, f in rows if f is not None), default=None)
            if last is not None and last + dt.timedelta(seconds=_ack_wait(settings, level)) > now:
                continue
        to_release.append({"b_alert": alert_id, "b_resident": resident_id, "b_step": next_step})
    if not to_release:
        return 0
    t = deliveries_table()
    released = move_each(
        session,
        Event.RELEASE,
        to_release,
        t.c.alert_id == bindparam("b_alert"),
        t.c.resident_id == bindparam("b_resident"),
        t.c.step == bindparam("b_step"),
        t.c.recipient == "resident",
        values={"queued_at": now, "next_attempt_at": now, "updated_at": now},
    )
    log.info("escalation: next step released for %d people", len(to_release))
    return released or len(to_release)


def has_pending_work(session: Session, channels: Iterable[str] | None = None) -> bool:
    """True while any row (of ``channels``) is queued, claimed, sending, or held in a live
    alert, or is owed a notice (``NoticeWait``) that maintenance has not settled yet.

    Deferred rows count (they are queued for later); so do held rows, which the
    escalation query will release or an acknowledgement will skip.
    """
    active = [s.value for s in ACTIVE_STATES]
    cond = [Delivery.state.in_(active)]
    held = [Delivery.state == S.HELD.value, Alert.state == "active"]
    if channels is not None:
        names = list(channels)
        cond.append(Delivery.channel.in_(names))
        held.append(Delivery.channel.in_(names))
    busy = session.scalar(select(exists().where(*cond)))
    if busy:
        return True
    if session.scalar(select(exists().where(Delivery.alert_id == Alert.id, *held))):
        return True
    # a notice owed to a row that has settled is added by the next maintenance pass
    owed = [NoticeWait.delivery_id == Delivery.id]
    if channels is not None:
        owed.append(Delivery.channel.in_(names))
    return bool(session.scalar(select(exists().where(*owed))))
