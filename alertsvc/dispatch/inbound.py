"""Inbound events: provider status callbacks and answers from people.

``record_provider_status`` and ``record_acknowledgement`` are guarded updates: they apply a
transition of ``alertsvc.dispatch.states`` only when the row is in a state where it
applies. ``reply_targets`` decides which rows an SMS reply from a number answers.
Nothing here commits; the webhook's transaction does.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alertsvc.db.tables import Acknowledgement, AlertTarget, Delivery, utcnow
from alertsvc.dispatch.moves import move
from alertsvc.dispatch.states import DeliveryState, Event
from alertsvc.errors import InputError
from alertsvc.models import ChannelName

__all__ = [
    "Answer",
    "CallbackRefusalHook",
    "latest_reply_target",
    "parse_reply",
    "record_acknowledgement",
    "record_provider_status",
    "reply_targets",
]

S = DeliveryState
Answer = Literal["safe", "need_help"]

# SMS reply words, compared after NFKC (full-width １ -> 1) and casefold
_SAFE_WORDS = frozenset({"1", "無事", "ぶじ", "safe", "ok"})
_HELP_WORDS = frozenset({"2", "助けて", "たすけて", "help"})
# trailing punctuation people add to a one-word reply ("無事です。" is not matched on purpose)
_STRIP = " \t\r\n.。!！、,"

# rows whose message went out: a reply to that number answers the latest of them
_REPLYABLE_STATES = ("sent", "delivered", "acknowledged", "unknown")


def parse_reply(body: str) -> Answer | None:
    """The answer in an SMS reply body, or None when it is not one of the known words.

    ``1``/``１``/``無事``/``ぶじ``/``safe``/``OK`` -> safe; ``2``/``２``/``助けて``/``たすけて``/
    ``help`` -> need_help (case- and width-insensitive, surrounding blanks and a final
    punctuation mark ignored). Never raises.
    """
    text = unicodedata.normalize("NFKC", body).strip(_STRIP).casefold()
    if text in _SAFE_WORDS:
        return "safe"
    if text in _HELP_WORDS:
        return "need_help"
    return None


def reply_targets(session: Session, from_number: str) -> tuple[list[str], bool]:
    """The delivery keys an SMS reply from ``from_number`` answers, and whether it is
    ambiguous.

    The reply belongs to the alert of the latest message that went to that number. When
    that alert's messages to the number went to several residents (a couple sharing one
    phone), the reply cannot say who answered: the keys of each resident's latest message
    are returned with ``ambiguous=True``. ([], False) when nothing went to the number.
    """
    latest = latest_reply_target(session, from_number)
    if latest is None:
        return [], False
    alert_id = session.scalars(select(Delivery.alert_id).where(Delivery.key == latest)).one()
    rows = session.execute(
        select(Delivery.key, Delivery.resident_id)
        .where(
            Delivery.alert_id == alert_id,
            Delivery.address == from_number,
            Delivery.recipient == "resident",
            Delivery.channel.in_(("sms", "voice")),
            Delivery.state.in_(_REPLYABLE_STATES),
            Delivery.is_cancellation.is_(False),
        )
        .order_by(Delivery.sent_at.desc().nulls_last(), Delivery.id.desc())
    ).all()
    per_resident: dict[str, str] = {}
    for key, resident_id in rows:
        per_resident.setdefault(resident_id, key)
    if len(per_resident) > 1:
        return list(per_resident.values()), True
    return [latest], False


def latest_reply_target(session: Session, from_number: str) -> str | None:
    """The key of the latest SMS or voice delivery that went out to ``from_number``.

    Only rows that went out (sent, delivered, acknowledged, or unknown: a reply proves an
    unknown one arrived) and that are not cancellation notices count; the latest by
    sending time, then by id. None when nothing was sent to that number.
    """
    if not from_number:
        return None
    stmt = (
        select(Delivery.key)
        .where(
            Delivery.address == from_number,
            Delivery.channel.in_(("sms", "voice")),
            Delivery.state.in_(_REPLYABLE_STATES),
            Delivery.is_cancellation.is_(False),
        )
        .order_by(Delivery.sent_at.desc().nulls_last(), Delivery.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


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
) -> bool:
    """Apply a provider status callback to the row named by ``key`` or ``provider_ref``.

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
    if key:
        row = session.scalars(select(Delivery).where(Delivery.key == key)).one_or_none()
    if row is None and provider_ref:
        row = session.scalars(
            select(Delivery).where(Delivery.provider_ref == provider_ref).limit(1)
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


def record_acknowledgement(
    session: Session,
    *,
    key: str,
    answer: Literal["safe", "need_help"],
    via: str,
    now: dt.datetime | None = None,
) -> bool:
    """Record that the person who received delivery ``key`` answered ``answer``.

    Every answer is logged (``acknowledgements``). The row becomes 'acknowledged'; for a
    resident's own message the person counts as reached, and their remaining held or
    queued rows of this alert are skipped (nobody is called after they answered).
    'need_help' is sticky: a later 'safe' does not hide it from the officer. Returns
    False when no delivery has that key.
    """
    if answer not in ("safe", "need_help"):
        raise InputError(f"unknown answer {answer!r} (expected safe or need_help)")
    now = now or utcnow()
    row = session.scalars(select(Delivery).where(Delivery.key == key)).one_or_none()
    if row is None:
        return False
    session.add(
        Acknowledgement(
            alert_id=row.alert_id,
            resident_id=row.resident_id,
            delivery_key=key,
            answer=answer,
            via=via,
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
    if row.recipient == "resident":
        target = session.scalars(
            select(AlertTarget).where(
                AlertTarget.alert_id == row.alert_id, AlertTarget.resident_id == row.resident_id
            )
        ).one_or_none()
        if target is not None:
            if target.ack_answer != "need_help":
                target.ack_answer = answer
            target.ack_via = via
            target.acknowledged_at = target.acknowledged_at or now
        move(
            session,
            Event.SKIP,
            Delivery.alert_id == row.alert_id,
            Delivery.resident_id == row.resident_id,
            Delivery.recipient == "resident",
            values={"finished_at": now, "updated_at": now, "detail": f"answered via {via}"},
        )
    return True
