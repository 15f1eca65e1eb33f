"""Need help reaches the duty desk: a "need help" answer becomes outbox rows to the duty officers.

``notify_duty`` is called in the transaction that records the answer (the webhook's), so
the answer and the notice commit together. The notice is an alert of kind ``duty``
(``parent_id`` = the alert answered) with one ``recipient='duty'`` SMS row per configured
duty contact, sent by the ordinary workers. It is a separate, active alert on purpose: an
answer after the alert was cancelled must still reach the desk, and the workers never send
rows of a cancelled alert. SMS replies never bind to a duty alert (``reply_targets`` takes
only kind ``alert``), so a duty officer's reply cannot answer for the resident.

The notice names the person, their address and floor, and says whether the register
records support needs — never which (the reason someone needs support never leaves the
database in a message: an SMS passes through carriers and stays on a phone). The officer
reads them in the audited view, ``alertsvc alert followup ID --show-needs``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from alertsvc.config import DutySettings
from alertsvc.db.tables import Alert, Delivery, Resident, utcnow
from alertsvc.dispatch.alerts import EXERCISE_PREFIX, new_alert_id
from alertsvc.dispatch.states import DeliveryState
from alertsvc.planning.supporters import LEGAL_DISASTER_EXCEPTION

__all__ = ["DUTY_KIND", "duty_message", "notify_duty"]

DUTY_KIND = "duty"


def duty_message(
    *,
    name: str,
    resident_id: str,
    address: str,
    floor: int | None,
    needs: list[str],
    level: int,
    alert_id: str,
    answered_by: str,
    via: str,
    exercise: bool,
) -> str:
    """The duty officer's SMS (Japanese: officers' working language). Pure.

    ``needs`` is only tested for being empty: what they are stays in the database."""
    who = "本人" if answered_by == "resident" else "支援者"
    floor_text = f" {floor}階" if floor is not None else ""
    needs_text = f"あり(alert followup {alert_id} --show-needs)" if needs else "なし"
    prefix = EXERCISE_PREFIX if exercise else ""
    return (
        f"{prefix}【支援要請/need help】{name}さん({resident_id}) {address}{floor_text} "
        f"配慮:{needs_text} 回答:{who}({via}) 警戒レベル{level} {alert_id}"
    )


def notify_duty(
    session: Session,
    duty: DutySettings,
    *,
    alert_id: str,
    resident_id: str,
    answered_by: str,
    via: str,
    now: dt.datetime | None = None,
) -> str | None:
    """Queue one SMS per duty contact about ``resident_id`` asking for help in ``alert_id``.

    Idempotent per (alert, person): a second "need help" about the same person (a replay,
    another channel, their supporter) adds nothing, and returns the first duty alert's id.
    Returns None when no duty contact is configured or the alert does not exist. Flushes;
    does not commit.
    """
    if not duty.contacts:
        return None
    existing = session.scalars(
        select(Delivery.alert_id)
        .join(Alert, Alert.id == Delivery.alert_id)
        .where(
            Alert.parent_id == alert_id,
            Alert.kind == DUTY_KIND,
            Delivery.recipient == "duty",
            Delivery.resident_id == resident_id,
        )
        .limit(1)
    ).first()
    if existing is not None:
        return existing
    parent = session.get(Alert, alert_id)
    if parent is None:
        return None
    now = now or utcnow()
    person = session.get(Resident, resident_id)
    body = duty_message(
        name=person.name if person else "(名簿にありません)",
        resident_id=resident_id,
        address=person.address if person else "",
        floor=person.floor if person else None,
        needs=[str(n) for n in (person.needs if person else [])],
        level=parent.level,
        alert_id=alert_id,
        answered_by=answered_by,
        via=via,
        exercise=parent.exercise,
    )
    duty_id = new_alert_id(now)
    session.add(
        Alert(
            id=duty_id,
            kind=DUTY_KIND,
            parent_id=alert_id,
            level=parent.level,
            scope={"resident_id": resident_id},
            exercise=parent.exercise,
            state="active",
            created_by="duty",
            created_at=now,
        )
    )
    session.flush()
    session.execute(
        insert(Delivery),
        [
            {
                "key": f"{duty_id}:{n}",
                "alert_id": duty_id,
                "recipient": "duty",
                "resident_id": resident_id,
                "supporter_id": 0,
                "step": 0,
                "channel": contact.channel,
                "address": contact.phone,
                "language": "ja",
                "title": "支援要請",
                "body": body,
                "data": [["duty_for", alert_id]],
                # ahead of every alert message: someone is waiting for help
                "priority": 1e9,
                "level": 5,
                "is_cancellation": False,
                "legal_basis": LEGAL_DISASTER_EXCEPTION,
                "state": DeliveryState.QUEUED.value,
                "next_attempt_at": now,
                "created_at": now,
                "queued_at": now,
                "updated_at": now,
            }
            for n, contact in enumerate(duty.contacts, start=1)
        ],
    )
    return duty_id
