"""Inbound events: provider status callbacks and answers from people.

``record_provider_status`` and ``record_acknowledgement`` are guarded updates: they apply a
transition of ``alertsvc.dispatch.states`` only when the row is in a state where it
applies. ``reply_targets`` (``alertsvc.dispatch.replies``, re-exported here) decides
which rows an SMS reply from a number answers.
Nothing here commits; the webhook's transaction does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alertsvc.db.tables import (
    Acknowledgement,
    Alert,
    AlertTarget,
    Delivery,
    InboundEvent,
    SupporterDisclosure,
    utcnow,
)
from alertsvc.dispatch.moves import move
from alertsvc.dispatch.replies import (
    Answer,
    ReplyTargets,
    latest_reply_target,
    parse_reply,
    reply_targets,
)
from alertsvc.dispatch.states import DeliveryState, Event
from alertsvc.errors import InputError
from alertsvc.models import ChannelName

__all__ = [
    "SUPPORTER_ANSWERS",
    "AckRefusal",
    "Answer",
    "CallbackRefusalHook",
    "ReplyTargets",
    "SupporterAnswer",
    "ack_refusal",
    "answer_alert",
    "answer_subject",
    "asks_for_answer",
    "claim_inbound",
    "digest_people",
    "latest_reply_target",
    "parse_reply",
    "record_acknowledgement",
    "record_provider_status",
    "record_supporter_answer",
    "reply_targets",
]

S = DeliveryState
# a supporter's answer about one person of their digest (the supporter page, their call)
SupporterAnswer = Literal["safe", "cannot_reach", "helping"]
SUPPORTER_ANSWERS: tuple[SupporterAnswer, ...] = ("safe", "cannot_reach", "helping")

# notices that carry the new level's message and ask for an answer like the alert does
# (an update); the other notices (取消し, 訂正, 解除) ask nothing
_ANSWERABLE_NOTICES = frozenset({"update"})


def asks_for_answer(is_cancellation: bool, kind: str | None) -> bool:
    """Whether a row's message asks for an answer: not a notice, or an update notice.
    The one rule for keypresses, app acknowledgements, SMS replies and the resident page."""
    return not is_cancellation or kind in _ANSWERABLE_NOTICES


def _answerable(session: Session, row: Delivery) -> bool:
    if not row.is_cancellation:
        return True
    kind = session.scalars(select(Alert.kind).where(Alert.id == row.alert_id)).first()
    return asks_for_answer(True, kind)


# Twilio message and call statuses -> our events; anything else (queued, ringing, …) is progress
_PROVIDER_STATUS: dict[str, Event] = {
    "delivered": Event.STATUS_DELIVERED,
    "completed": Event.STATUS_DELIVERED,
    "read": Event.STATUS_DELIVERED,
    "undelivered": Event.STATUS_FAILED,
    "failed": Event.STATUS_FAILED,
    "busy": Event.STATUS_FAILED,
    "no-answer": Event.STATUS_FAILED,
    "canceled": Event.STATUS_FAILED,
}


# (session, channel, address, provider error code, detail): see registry.record_refusal
CallbackRefusalHook = Callable[[Session, ChannelName, str, str, str], object]


def record_provider_status(
    session: Session,
    *,
    provider_ref: str | None,
    key: str | None,
    status: str,
    error_code: int | None,
    now: dt.datetime | None = None,
    on_refused: CallbackRefusalHook | None = None,
    channel: ChannelName | None = None,
) -> bool:
    """Apply a provider status callback to the row named by ``key`` or ``provider_ref``.

    With ``channel``, only a row of that channel matches: an SMS callback replayed on the
    voice status route (or the reverse) names no row and changes nothing.

    ``on_refused(session, channel, address, error_code, detail)`` is called, in the same
    transaction, when the callback fails a row with an error code (contact health).

    delivered/completed move a sending, sent or unknown row to 'delivered';
    undelivered/failed/busy/no-answer/canceled move it to 'failed' (which lets the next
    escalation step go). Intermediate statuses only refresh ``updated_at``. Returns True
    when a row matched (whether or not its state changed), False when no row has that
    key or provider reference — the webhook should log that, not fail.
    """
    now = now or utcnow()
    row: Delivery | None = None
    same_channel = () if channel is None else (Delivery.channel == channel.value,)
    if key:
        row = session.scalars(
            select(Delivery).where(Delivery.key == key, *same_channel)
        ).one_or_none()
    if row is None and provider_ref:
        row = session.scalars(
            select(Delivery).where(Delivery.provider_ref == provider_ref, *same_channel).limit(1)
        ).one_or_none()
    if row is None:
        return False
    event = _PROVIDER_STATUS.get(status.strip().lower())
    values: dict[str, Any] = {"updated_at": now}
    if provider_ref and not row.provider_ref:
        values["provider_ref"] = provider_ref
    if event is not None:
        values.update(detail=f"status {status}"[:200], error_code=error_code)
        values["finished_at"] = row.finished_at or now
        if event is Event.STATUS_DELIVERED:
            values["delivered_at"] = now
        changed = move(session, event, Delivery.id == row.id, values=values)
        if (
            on_refused is not None
            and event is Event.STATUS_FAILED
            and error_code is not None
            and changed
        ):
            on_refused(
                session, ChannelName(row.channel), row.address, str(error_code), values["detail"]
            )
    else:
        session.execute(
            update(Delivery)
            .where(Delivery.id == row.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return True


def answer_subject(session: Session, row: Delivery) -> str | None:
    """Whom an answer on ``row`` is about: its resident; for a supporter digest the one
    person it named, or None when it named several (or nobody)."""
    if row.recipient != "supporter" or row.resident_id:
        return row.resident_id
    named = session.scalars(
        select(SupporterDisclosure.resident_id)
        .where(SupporterDisclosure.delivery_key == row.key)
        .limit(2)
    ).all()
    return named[0] if len(named) == 1 else None


def record_acknowledgement(
    session: Session,
    *,
    key: str,
    answer: Literal["safe", "need_help"],
    via: str,
    now: dt.datetime | None = None,
) -> bool:
    """Record that the person who received delivery ``key`` answered ``answer``.

    Who answered is decided by the row, never by the caller: on a resident's own message
    it is the resident's answer; on a supporter notice it is the supporter's answer about
    the person the notice named (``answered_by='supporter'``).

    * Resident: the person counts as reached, and their remaining held or queued rows of
      this alert are skipped (nobody is called after they answered).
    * Supporter, 'need_help': the person is recorded as needing help (``ack_answer``),
      but stays on the follow-up list and keeps being contacted.
    * Supporter, 'safe': logged as the supporter's answer only; the person is NOT
      confirmed (only their own answer or an SMS receipt confirms them).

    'need_help' is sticky: a later 'safe' does not hide it from the officer. The same
    answer to the same row twice adds no second log row (a replayed request changes
    nothing). Returns False when no delivery has that key or it is a notice that asks
    nothing (取消し, 訂正, 解除; an update notice, the new level's message, may be
    answered: the family's follow-up list counts it); True otherwise.
    """
    if answer not in ("safe", "need_help"):
        raise InputError(f"unknown answer {answer!r} (expected safe or need_help)")
    now = now or utcnow()
    row = session.scalars(select(Delivery).where(Delivery.key == key)).one_or_none()
    if row is None or not _answerable(session, row):
        return False
    subject = answer_subject(session, row)
    if subject is None:
        # a digest naming several people: one answer cannot say whom it is about (the
        # supporter page and the call's per-person keypresses can)
        return False
    answered_by = "resident" if row.recipient == "resident" else "supporter"
    repeated = session.scalars(
        select(Acknowledgement.id)
        .where(Acknowledgement.delivery_key == key, Acknowledgement.answer == answer)
        .limit(1)
    ).first()
    if repeated is not None:
        return True
    session.add(
        Acknowledgement(
            alert_id=row.alert_id,
            resident_id=subject,
            delivery_key=key,
            answer=answer,
            via=via,
            answered_by=answered_by,
            at=now,
        )
    )
    # answering proves the message arrived, whatever state the row was in
    move(
        session,
        Event.ACK,
        Delivery.id == row.id,
        values={"acknowledged_at": now, "updated_at": now, "finished_at": row.finished_at or now},
    )
    target = session.scalars(
        select(AlertTarget).where(
            AlertTarget.alert_id == row.alert_id, AlertTarget.resident_id == subject
        )
    ).one_or_none()
    if answered_by == "supporter":
        if answer == "need_help" and target is not None:
            # the officer must see it; acknowledged_at stays unset: the person did not answer
            target.ack_answer = "need_help"
            target.ack_via = target.ack_via or f"supporter {via}"[:32]
        return True
    if target is not None:
        if target.ack_answer != "need_help":
            target.ack_answer = answer
        target.ack_via = via
        target.acknowledged_at = target.acknowledged_at or now
    move(
        session,
        Event.SKIP,
        Delivery.alert_id == row.alert_id,
        Delivery.resident_id == subject,
        Delivery.recipient == "resident",
        values={"finished_at": now, "updated_at": now, "detail": f"answered via {via}"},
    )
    return True


AckRefusal = Literal["unknown", "cancellation", "expired"]


def ack_refusal(
    session: Session, key: str, *, valid_for: dt.timedelta, now: dt.datetime | None = None
) -> AckRefusal | None:
    """Why an app acknowledgement for ``key`` must be refused, or None when it may be
    recorded.

    "unknown": no delivery has that key. "cancellation": a notice (取消し, 訂正, 解除)
    asks nothing, so it cannot be answered (an update notice, the new level's message,
    can). "expired": the alert was cancelled, or was
    created more than ``valid_for`` ago (an app token lives only as long as its alert).
    """
    now = now or utcnow()
    found = session.execute(
        select(Delivery.is_cancellation, Alert.state, Alert.created_at, Alert.kind)
        .join(Alert, Alert.id == Delivery.alert_id)
        .where(Delivery.key == key)
    ).first()
    if found is None:
        return "unknown"
    is_cancellation, alert_state, created_at, kind = found
    if not asks_for_answer(is_cancellation, kind):
        return "cancellation"
    if alert_state != "active" or created_at + valid_for < now:
        return "expired"
    return None


def claim_inbound(
    session: Session, provider_id: str, kind: str, now: dt.datetime | None = None
) -> bool:
    """Remember an inbound SMS or keypress by its provider id; False when it was seen
    before (a replay: the caller must change nothing).

    Twilio signatures carry no timestamp, so a captured request stays valid for ever:
    its MessageSid (or CallSid + Digits) is what makes it unique. The insert is flushed
    here; two concurrent copies race on the unique index and the loser's transaction
    raises ``IntegrityError`` (the webhook treats that as a replay too).
    """
    seen = session.scalars(
        select(InboundEvent.id).where(InboundEvent.provider_id == provider_id)
    ).first()
    if seen is not None:
        return False
    session.add(InboundEvent(provider_id=provider_id, kind=kind, at=now or utcnow()))
    session.flush()
    return True


def digest_people(session: Session, key: str) -> list[SupporterDisclosure]:
    """The people a supporter digest ``key`` named, in its order (empty: not a digest)."""
    return list(
        session.scalars(
            select(SupporterDisclosure)
            .where(SupporterDisclosure.delivery_key == key)
            .order_by(SupporterDisclosure.position)
        )
    )


def answer_alert(session: Session, row: Delivery, resident_id: str) -> str:
    """The alert a supporter's answer about ``resident_id`` belongs to: the digest's own
    alert when the person is its target, else the original alert of the family (an
    update's digest names people targeted by the original)."""
    own = session.scalars(
        select(AlertTarget.id).where(
            AlertTarget.alert_id == row.alert_id, AlertTarget.resident_id == resident_id
        )
    ).first()
    if own is not None:
        return row.alert_id
    parent = session.scalars(select(Alert.parent_id).where(Alert.id == row.alert_id)).first()
    return parent or row.alert_id


def record_supporter_answer(
    session: Session,
    *,
    key: str,
    resident_id: str,
    answer: SupporterAnswer,
    via: str,
    now: dt.datetime | None = None,
) -> str | None:
    """Record a supporter's answer about ``resident_id``, a person named in the supporter
    digest ``key``; returns the alert id it was recorded on, or None (nothing recorded)
    when ``key`` is no digest or does not name that person.

    The answer is the supporter's (``answered_by='supporter'``), never the person's own:
    the person is not confirmed and nobody's rows are skipped. "cannot_reach" marks the
    person's target (``ack_answer``, below a sticky "need_help") so the follow-up list
    puts them first. The same answer about the same person twice adds nothing.
    """
    if answer not in SUPPORTER_ANSWERS:
        raise InputError(f"unknown answer {answer!r} (expected {', '.join(SUPPORTER_ANSWERS)})")
    now = now or utcnow()
    row = session.scalars(select(Delivery).where(Delivery.key == key)).one_or_none()
    if row is None or row.recipient != "supporter":
        return None
    named = session.scalars(
        select(SupporterDisclosure.id).where(
            SupporterDisclosure.delivery_key == key, SupporterDisclosure.resident_id == resident_id
        )
    ).first()
    if named is None:
        return None
    alert_id = answer_alert(session, row, resident_id)
    latest = session.scalars(
        select(Acknowledgement.answer)
        .where(Acknowledgement.delivery_key == key, Acknowledgement.resident_id == resident_id)
        .order_by(Acknowledgement.id.desc())
        .limit(1)
    ).first()
    if latest == answer:
        return alert_id
    session.add(
        Acknowledgement(
            alert_id=alert_id,
            resident_id=resident_id,
            delivery_key=key,
            answer=answer,
            via=via,
            answered_by="supporter",
            at=now,
        )
    )
    # answering proves the digest arrived (a notice row stays as it is)
    move(
        session,
        Event.ACK,
        Delivery.id == row.id,
        values={"acknowledged_at": now, "updated_at": now, "finished_at": row.finished_at or now},
    )
    if answer == "cannot_reach":
        target = session.scalars(
            select(AlertTarget).where(
                AlertTarget.alert_id == alert_id, AlertTarget.resident_id == resident_id
            )
        ).one_or_none()
        if target is not None and target.ack_answer != "need_help":
            # acknowledged_at stays unset: the person did not answer
            target.ack_answer = "cannot_reach"
            target.ack_via = f"supporter {via}"[:32]
    return alert_id
