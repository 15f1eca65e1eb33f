"""What an officer sees about one alert: counts, who is not yet reached, and why.

Read-only: nothing here writes. ``alert_status`` aggregates in SQL, because an alert can
have 100,000 rows and ``alert status --watch`` polls it every second.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alertsvc.db.tables import Acknowledgement, Alert, AlertTarget, Delivery
from alertsvc.dispatch.alerts import load_alert
from alertsvc.dispatch.states import ACTIVE_STATES, DeliveryState
from alertsvc.redact import mask_address

__all__ = [
    "STATUS_KEYS",
    "AlertStatus",
    "UnknownDelivery",
    "UnreachedPerson",
    "alert_status",
]

S = DeliveryState
# status counts reported to officers; 'claimed' is in a worker's hands, so it counts as sending
STATUS_KEYS = ("queued", "sending", "sent", "delivered", "failed", "unknown", "acknowledged")
_COUNT_KEY: dict[str, str] = {
    "held": "held",
    "queued": "queued",
    "claimed": "sending",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "acknowledged": "acknowledged",
    "failed": "failed",
    "unknown": "unknown",
    "cancelled": "cancelled",
    "skipped": "skipped",
}


@dataclass(frozen=True, slots=True)
class UnreachedPerson:
    resident_id: str
    priority: float
    # unlocated | no_channel | in_progress | failed | unknown | not_confirmed | cancelled
    reason: str


@dataclass(frozen=True, slots=True)
class UnknownDelivery:
    key: str
    resident_id: str
    recipient: str
    channel: str
    address: str  # masked
    detail: str


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """What an officer needs to see about one alert. ``as_dict`` is the CLI JSON contract."""

    alert_id: str
    kind: str
    level: int
    exercise: bool
    state: str  # sending | waiting (escalations pending) | complete | cancelled
    counts: dict[str, int]
    by_channel: dict[str, dict[str, int]]
    unreached: list[UnreachedPerson]
    unknown: list[UnknownDelivery]
    needs_help: list[dict[str, str]]
    targets: int
    parent_id: str | None = None
    cancellation_ids: list[str] = field(default_factory=list)

    @property
    def in_flight(self) -> bool:
        return self.state in ("sending", "waiting")

    def as_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "kind": self.kind,
            "level": self.level,
            "exercise": self.exercise,
            "state": self.state,
            "counts": self.counts,
            "by_channel": self.by_channel,
            "targets": self.targets,
            "unreached": [
                {"resident_id": u.resident_id, "priority": u.priority, "reason": u.reason}
                for u in self.unreached
            ],
            "unknown": [
                {
                    "key": u.key,
                    "resident_id": u.resident_id,
                    "recipient": u.recipient,
                    "channel": u.channel,
                    "address": u.address,
                    "detail": u.detail,
                }
                for u in self.unknown
            ],
            "needs_help": self.needs_help,
            "parent_id": self.parent_id,
            "cancellation_ids": self.cancellation_ids,
        }


def alert_status(session: Session, alert_id: str) -> AlertStatus:
    """Counts per channel and overall, who is not yet reached, unknown rows, help requests.

    "Reached" means the person answered or a provider confirmed delivery of one of their
    own messages; everyone else is listed in ``unreached``, highest priority first,
    with the reason (unlocated, no_channel, in_progress, failed, unknown, not_confirmed).
    Raises ``NotFound`` for an unknown id.
    """
    alert = load_alert(session, alert_id)
    # aggregated in SQL: an alert can have 100,000 rows and --watch polls this every second
    grouped = session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.alert_id == alert_id)
        .group_by(Delivery.channel, Delivery.state)
    ).all()
    counts: dict[str, int] = dict.fromkeys(STATUS_KEYS, 0)
    counts.update(held=0, cancelled=0, skipped=0)
    by_channel: dict[str, dict[str, int]] = {}
    present: set[str] = set()
    for channel, state, n in grouped:
        present.add(state)
        bucket = _COUNT_KEY.get(state, state)
        counts[bucket] = counts.get(bucket, 0) + n
        per = by_channel.setdefault(channel, dict.fromkeys(counts, 0))
        per[bucket] = per.get(bucket, 0) + n
    own: dict[str, set[str]] = defaultdict(set)
    confirmed: set[str] = set()
    for resident_id, channel, state in session.execute(
        select(Delivery.resident_id, Delivery.channel, Delivery.state)
        .where(Delivery.alert_id == alert_id, Delivery.recipient == "resident")
        .distinct()
    ):
        own[resident_id].add(state)
        # reached: an answer, or an SMS the carrier delivered to the handset. A call that
        # was answered without a keypress may have been an answering machine, and a push
        # accepted by FCM may never have been seen: those stay on the follow-up list.
        if state == "acknowledged" or (channel == "sms" and state == "delivered"):
            confirmed.add(resident_id)
    unknown = [
        UnknownDelivery(r.key, r.resident_id, r.recipient, r.channel, mask_address(r.address),
                        r.detail)
        for r in session.execute(
            select(Delivery.key, Delivery.resident_id, Delivery.recipient, Delivery.channel,
                   Delivery.address, Delivery.detail)
            .where(Delivery.alert_id == alert_id, Delivery.state == S.UNKNOWN.value)
            .order_by(Delivery.id)
        )
    ]  # fmt: skip
    targets = session.scalars(select(AlertTarget).where(AlertTarget.alert_id == alert_id)).all()
    unreached: list[UnreachedPerson] = []
    for t in targets:
        states = own.get(t.resident_id, set())
        if t.acknowledged_at is not None or t.resident_id in confirmed:
            continue
        unreached.append(UnreachedPerson(t.resident_id, t.priority, _unreached_reason(t, states)))
    unreached.sort(key=lambda u: (-u.priority, u.resident_id))
    needs_help = [
        {
            "resident_id": a.resident_id,
            "via": a.via,
            "at": a.at.isoformat(),
            "key": a.delivery_key,
            # a supporter's "need help" about the person is not the person's own answer
            "answered_by": a.answered_by,
        }
        for a in session.scalars(
            select(Acknowledgement)
            .where(Acknowledgement.alert_id == alert_id, Acknowledgement.answer == "need_help")
            .order_by(Acknowledgement.at)
        )
    ]
    active = {s.value for s in ACTIVE_STATES}
    if alert.state == "cancelled":
        state = "cancelled"
    elif present & active:
        state = "sending"
    elif counts["held"]:
        state = "waiting"
    else:
        state = "complete"
    children = list(
        session.scalars(
            select(Alert.id)
            # duty-desk notices (kind 'duty') hang off the alert too; they cancel nothing
            .where(Alert.parent_id == alert_id, Alert.kind == "cancellation")
            .order_by(Alert.id)
        )
    )
    return AlertStatus(
        alert_id=alert.id,
        kind=alert.kind,
        level=alert.level,
        exercise=alert.exercise,
        state=state,
        counts=counts,
        by_channel=dict(sorted(by_channel.items())),
        unreached=unreached,
        unknown=unknown,
        needs_help=needs_help,
        targets=len(targets),
        parent_id=alert.parent_id,
        cancellation_ids=children,
    )


def _unreached_reason(target: AlertTarget, states: set[str]) -> str:
    if not target.located:
        return "unlocated"
    if not states:
        return "no_channel"
    if states & {"queued", "claimed", "sending", "held"}:
        return "in_progress"
    if "unknown" in states:
        return "unknown"
    if states & {"sent", "delivered"}:
        # accepted by the provider (or a call answered) but no answer and no SMS receipt
        return "not_confirmed"
    if states <= {"cancelled", "skipped"}:
        return "cancelled"
    return "failed"
