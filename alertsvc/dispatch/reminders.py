"""Escalation to supporters: people who have not answered get their supporter asked.

When a person of a live alert has not answered within the level's acknowledgement wait
after their last channel settled (or, with no channel at all, since the alert was sent),
every supporter whose digest named them gets ONE reminder digest per maintenance pass
listing those people (``remind_supporters``). A person is in at most one reminder per
supporter and alert; a person their supporter already answered about is not listed.
Reminders are a child alert of kind ``reminder`` (like the duty desk's notices), so the
outbox, the state machine and the supporter page treat them as any digest.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from alertsvc.config import DispatchSettings
from alertsvc.db.tables import (
    Acknowledgement,
    Alert,
    AlertTarget,
    Delivery,
    Resident,
    SupporterDisclosure,
)
from alertsvc.dispatch.alerts import PlannedDelivery, create_alert
from alertsvc.dispatch.maintenance import _ack_wait
from alertsvc.models import DIGEST_LEGAL_BASIS, DIGEST_RESIDENT, ChannelName
from alertsvc.planning.supporters import DIGEST_KIND, DigestPerson, reminder_texts

__all__ = ["REMINDER_KIND", "REMIND_EVERY", "remind_supporters"]

log = logging.getLogger("alertsvc.dispatch.worker")

REMINDER_KIND = "reminder"
# how often a worker looks for people to remind about (the waits are minutes long)
REMIND_EVERY = dt.timedelta(seconds=15)
_UNSETTLED = ("held", "queued", "claimed", "sending")
_STOPPED = ("cancelled", "skipped")


def _due_people(session: Session, alert: Alert, wait: dt.timedelta, now: dt.datetime) -> set[str]:
    """Targets of ``alert`` who have not answered and whose own rows are all settled for
    longer than ``wait`` (or who had no channel and the alert is older than ``wait``)."""
    silent = set(
        session.scalars(
            select(AlertTarget.resident_id).where(
                AlertTarget.alert_id == alert.id,
                AlertTarget.acknowledged_at.is_(None),
                AlertTarget.located.is_(True),
            )
        )
    )
    if not silent:
        return set()
    due: set[str] = set()
    seen: set[str] = set()
    for rid, unsettled, stopped, total, last in session.execute(
        select(
            Delivery.resident_id,
            func.sum(case((Delivery.state.in_(_UNSETTLED), 1), else_=0)),
            func.sum(case((Delivery.state.in_(_STOPPED), 1), else_=0)),
            func.count(),
            func.max(Delivery.finished_at),
        )
        .where(Delivery.alert_id == alert.id, Delivery.recipient == "resident")
        .group_by(Delivery.resident_id)
    ):
        seen.add(rid)
        if rid not in silent or unsettled or stopped == total:
            continue  # still trying, or stopped (an update took them over)
        if (last or alert.created_at) + wait <= now:
            due.add(rid)
    if alert.created_at + wait <= now:
        due |= silent - seen  # no working channel at all: ask their supporter at once
    return due


def remind_supporters(session: Session, settings: DispatchSettings, now: dt.datetime) -> int:
    """Queue reminder digests for every live alert with people now due; returns the
    reminder rows added. Flushes; the caller's transaction commits."""
    alerts = list(
        session.scalars(
            select(Alert).where(
                Alert.state == "active",
                Alert.kind.in_(("alert", "expansion")),
                Alert.id.in_(select(SupporterDisclosure.alert_id)),
            )
        )
    )
    added = 0
    for alert in alerts:
        wait = dt.timedelta(seconds=_ack_wait(settings, alert.level))
        due = _due_people(session, alert, wait, now)
        if not due:
            continue
        answered = set(
            session.scalars(
                select(Acknowledgement.resident_id).where(
                    Acknowledgement.alert_id == alert.id,
                    Acknowledgement.answered_by == "supporter",
                )
            )
        )
        reminded = {
            (address, rid)
            for address, rid in session.execute(
                select(Delivery.address, SupporterDisclosure.resident_id)
                .join(Delivery, Delivery.key == SupporterDisclosure.delivery_key)
                .join(Alert, Alert.id == Delivery.alert_id)
                .where(Alert.parent_id == alert.id, Alert.kind == REMINDER_KIND)
            )
        }
        digests = session.execute(
            select(Delivery.key, Delivery.channel, Delivery.address, Delivery.priority).where(
                Delivery.alert_id == alert.id,
                Delivery.recipient == "supporter",
                Delivery.resident_id == DIGEST_RESIDENT,
            )
        ).all()
        named: dict[str, list[SupporterDisclosure]] = defaultdict(list)
        for d in session.scalars(
            select(SupporterDisclosure)
            .where(SupporterDisclosure.alert_id == alert.id)
            .order_by(SupporterDisclosure.position)
        ):
            named[d.delivery_key].append(d)
        planned: list[PlannedDelivery] = []
        for key, channel, address, priority in digests:
            people = [
                d
                for d in named.get(key, [])
                if d.resident_id in due
                and d.resident_id not in answered
                and (address, d.resident_id) not in reminded
            ]
            if people:
                planned.append(
                    _reminder(session, alert, people, ChannelName(channel), address, priority)
                )
        if not planned:
            continue
        create_alert(
            session,
            level=alert.level,
            scope={"reminds": alert.id},
            exercise=alert.exercise,
            targets=[],  # the people are the parent alert's targets
            deliveries=planned,
            actor="reminder",
            kind=REMINDER_KIND,
            parent_id=alert.id,
            # the digests went to these addresses: vetted when the alert was sent
            allow_list={p.address for p in planned},
            now=now,
        )
        added += len(planned)
    if added:
        log.info("supporters: %d reminders for people who have not answered", added)
    return added


def _reminder(
    session: Session,
    alert: Alert,
    people: list[SupporterDisclosure],
    channel: ChannelName,
    address: str,
    priority: float,
) -> PlannedDelivery:
    residents = {
        r.id: r
        for r in session.scalars(
            select(Resident).where(Resident.id.in_([p.resident_id for p in people]))
        )
    }
    listed = tuple(
        DigestPerson(
            resident_id=p.resident_id,
            supporter_id=p.supporter_id,
            name=residents[p.resident_id].name if p.resident_id in residents else p.resident_id,
            reading="",
            address=residents[p.resident_id].address if p.resident_id in residents else "",
            action=p.action,
            action_text="",
            legal_basis=p.legal_basis,
            priority=priority,
        )
        for p in people
    )
    body = reminder_texts(listed, channel, level=alert.level, exercise=alert.exercise)
    return PlannedDelivery(
        resident_id=DIGEST_RESIDENT,
        recipient="supporter",
        supporter_id=None,
        step=0,
        channel=channel,
        address=address,
        language="ja",
        title="",
        body=body,
        data=(
            ("alert_id", alert.id),
            ("kind", DIGEST_KIND),
            ("reminds", alert.id),
            ("people", str(len(listed))),
        ),
        priority=priority,
        legal_basis=DIGEST_LEGAL_BASIS,
        disclosures=tuple((p.resident_id, p.supporter_id, p.legal_basis, p.action) for p in people),
    )
