"""What an officer sees about one alert: counts, who is not yet reached, and why.

Read-only: nothing here writes. ``alert_status`` aggregates in SQL, because an alert can
have 100,000 rows and ``alert status --watch`` polls it every second.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alertsvc.db.tables import (
    Acknowledgement,
    Alert,
    AlertTarget,
    AuditEntry,
    Delivery,
    SupporterDisclosure,
    utcnow,
)
from alertsvc.dispatch.alerts import load_alert
from alertsvc.dispatch.maintenance import EXPIRED_PREFIX
from alertsvc.dispatch.states import ACTIVE_STATES, DeliveryState
from alertsvc.redact import mask_address

__all__ = [
    "STALL_SECONDS",
    "STATUS_KEYS",
    "AlertStatus",
    "ChannelProblem",
    "SupporterNotice",
    "UnknownDelivery",
    "UnreachedPerson",
    "alert_status",
    "confirms",
    "unreached_reason",
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
class SupporterNotice:
    """A message to one of the person's supporters that nobody confirmed."""

    supporter_id: int
    channel: str
    state: str


@dataclass(frozen=True, slots=True)
class UnreachedPerson:
    resident_id: str
    priority: float
    # unlocated | no_channel | in_progress | failed | unknown | not_confirmed | cancelled
    reason: str
    # the person's supporter notices that were not confirmed (listed under the person)
    supporters: tuple[SupporterNotice, ...] = ()


# a channel whose due rows have waited this long without being handed over makes no progress
STALL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ChannelProblem:
    """A channel of this alert that is not getting messages out.

    ``problem``: ``broken`` (a worker reported it cannot work, see the audit's
    ``channel.broken``), ``no_progress`` (rows due for longer than ``STALL_SECONDS`` and
    none handed over: no worker serves it, or it is stalled) or ``expired`` (rows failed
    by the max-age sweep and handed to the next channel).
    """

    channel: str
    problem: str
    detail: str
    since: str  # ISO 8601, UTC


# why a person is on the follow-up list (sheets, CSV, status); need_help outranks every other reason
REASON_LABELS: dict[str, str] = {
    "need_help": "助けが必要 / need help",
    "cannot_reach": "支援者が連絡できず / supporter cannot reach",
    "unlocated": "位置不明 / unlocated",
    "no_channel": "連絡手段なし / no working channel",
    "in_progress": "送信中 / in progress",
    "failed": "不達 / failed",
    "unknown": "不明 / unknown",
    "not_confirmed": "未確認 / not confirmed",
    "cancelled": "取消し / cancelled",
}

# at the top of the follow-up list: asked for help, then their supporter could not reach them
_URGENCY = {"need_help": 0, "cannot_reach": 1}


def follow_up_order(reason: str, priority: float, resident_id: str) -> tuple[int, float, str]:
    """Sort key of the follow-up list: urgency, then priority (highest first), then id."""
    return (_URGENCY.get(reason, 2), -priority, resident_id)


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
    channel_problems: list[ChannelProblem] = field(default_factory=list)
    # people a supporter answered "cannot reach" for (reached or not)
    cannot_reach: list[str] = field(default_factory=list)
    # the target priority of everyone in needs_help and cannot_reach
    urgent_priority: dict[str, float] = field(default_factory=dict)

    @property
    def in_flight(self) -> bool:
        return self.state in ("sending", "waiting")

    def follow_up(self) -> dict[str, tuple[str, float]]:
        """The follow-up (door-knock) list: resident id -> (reason, priority).

        Everyone unreached with their reason; everyone who asked for help ("need_help",
        their own answer or a supporter's, even after a cancellation); everyone a
        supporter could not reach ("cannot_reach"), even when a message reached them —
        somebody who knows them could not find them. The one definition of the list:
        the sheets, the CSV and the demo's check all read it.
        """
        out = {u.resident_id: (u.reason, u.priority) for u in self.unreached}
        for rid in self.cannot_reach:
            out[rid] = ("cannot_reach", self.urgent_priority.get(rid, 0.0))
        for h in self.needs_help:
            rid = h["resident_id"]
            out[rid] = ("need_help", self.urgent_priority.get(rid, 0.0))
        return out

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
                {
                    "resident_id": u.resident_id,
                    "priority": u.priority,
                    "reason": u.reason,
                    "supporters": [
                        {"supporter_id": n.supporter_id, "channel": n.channel, "state": n.state}
                        for n in u.supporters
                    ],
                }
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
            "cannot_reach": self.cannot_reach,
            "parent_id": self.parent_id,
            "cancellation_ids": self.cancellation_ids,
            "channel_problems": [
                {"channel": p.channel, "problem": p.problem, "detail": p.detail, "since": p.since}
                for p in self.channel_problems
            ],
        }


def alert_status(session: Session, alert_id: str, *, now: dt.datetime | None = None) -> AlertStatus:
    """Counts per channel and overall, who is not yet reached, unknown rows, help requests.

    "Reached" means the person answered or a provider confirmed delivery of one of their
    own messages; everyone else is listed in ``unreached``, highest priority first,
    with the reason (unlocated, no_channel, in_progress, failed, unknown, not_confirmed).
    ``channel_problems`` names every channel that is broken, making no progress, or whose
    rows had to fail over (``now`` defaults to the current time). Raises ``NotFound`` for
    an unknown id.
    """
    now = now or utcnow()
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
    own: dict[str, set[tuple[str, str]]] = defaultdict(set)
    notices: dict[str, list[SupporterNotice]] = defaultdict(list)
    # a supporter digest (no resident of its own) stands for every person it named
    named: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for key, rid, sid in session.execute(
        select(SupporterDisclosure.delivery_key, SupporterDisclosure.resident_id,
               SupporterDisclosure.supporter_id)
        .where(SupporterDisclosure.alert_id == alert_id)
    ):  # fmt: skip
        named[key].append((rid, sid))
    for key, resident_id, recipient, supporter_id, channel, state in session.execute(
        select(Delivery.key, Delivery.resident_id, Delivery.recipient, Delivery.supporter_id,
               Delivery.channel, Delivery.state)
        .where(Delivery.alert_id == alert_id)
        .order_by(Delivery.id)
    ):  # fmt: skip
        if recipient == "resident":
            own[resident_id].add((channel, state))
        elif not confirms(channel, state) and state not in _NOT_SENT:
            for rid, sid in named.get(key) or [(resident_id, supporter_id)]:
                notices[rid].append(SupporterNotice(sid or 0, channel, state))
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
        reason = unreached_reason(t.located, t.acknowledged_at is not None,
                                  own.get(t.resident_id, set()))  # fmt: skip
        if reason is not None:
            unreached.append(UnreachedPerson(t.resident_id, t.priority, reason,
                                             tuple(notices.get(t.resident_id, ()))))  # fmt: skip
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
    cannot_reach = sorted(
        set(
            session.scalars(
                select(Acknowledgement.resident_id).where(
                    Acknowledgement.alert_id == alert_id,
                    Acknowledgement.answer == "cannot_reach",
                    Acknowledgement.answered_by == "supporter",
                )
            )
        )
    )
    urgent = {h["resident_id"] for h in needs_help} | set(cannot_reach)
    urgent_priority = {t.resident_id: t.priority for t in targets if t.resident_id in urgent}
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
        channel_problems=_channel_problems(session, alert, set(by_channel), now),
        cannot_reach=cannot_reach,
        urgent_priority=urgent_priority,
    )


def _channel_problems(
    session: Session, alert: Alert, channels: set[str], now: dt.datetime
) -> list[ChannelProblem]:
    problems: list[ChannelProblem] = []
    for entry in session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "channel.broken", AuditEntry.at >= alert.created_at)
        .order_by(AuditEntry.at.desc())
    ):
        for ch in entry.args.get("channels", []):
            if ch in channels and not any(p.channel == ch for p in problems):
                problems.append(
                    ChannelProblem(ch, "broken", str(entry.result.get("error", ""))[:300],
                                   entry.at.isoformat())
                )  # fmt: skip
    stalled_before = now - dt.timedelta(seconds=STALL_SECONDS)
    for ch, n, oldest in session.execute(
        select(Delivery.channel, func.count(), func.min(Delivery.next_attempt_at))
        .where(
            Delivery.alert_id == alert.id,
            Delivery.state == S.QUEUED.value,
            Delivery.next_attempt_at <= stalled_before,
        )
        .group_by(Delivery.channel)
    ):
        problems.append(
            ChannelProblem(ch, "no_progress",
                           f"{n} rows due and not handed to the provider", oldest.isoformat())
        )  # fmt: skip
    for ch, n, first in session.execute(
        select(Delivery.channel, func.count(), func.min(Delivery.finished_at))
        .where(Delivery.alert_id == alert.id, Delivery.detail.startswith(EXPIRED_PREFIX))
        .group_by(Delivery.channel)
    ):
        problems.append(
            ChannelProblem(ch, "expired",
                           f"{n} rows failed over: not handed to the provider within "
                           "max_age_seconds", first.isoformat() if first else "")
        )  # fmt: skip
    return sorted(problems, key=lambda p: (p.channel, p.problem))


# supporter notices that never went out (cancelled with the alert, skipped after an answer)
_NOT_SENT = frozenset({"cancelled", "skipped"})


# channels whose 'delivered' callback means the message reached the person's own device:
# the carrier's handset receipt for an SMS, the receiving machine's "all pages received"
# for a FAX (for a deaf resident with only a landline and a FAX, the only proof there is)
DELIVERY_CONFIRMS: frozenset[str] = frozenset({"sms", "fax"})


def confirms(channel: str, state: str) -> bool:
    """Whether one row proves its recipient got the message.

    An answer does, and an SMS or a FAX delivered to the person's own device
    (``DELIVERY_CONFIRMS``). A call answered without a keypress may have been an answering
    machine, and a push, LINE message or e-mail accepted by the provider may never have
    been seen: those do not.
    """
    return state == "acknowledged" or (channel in DELIVERY_CONFIRMS and state == "delivered")


def unreached_reason(located: bool, acknowledged: bool, rows: set[tuple[str, str]]) -> str | None:
    """Why a person is on the follow-up list, or None when they are confirmed reached.

    ``rows`` are the (channel, state) pairs of the person's own messages. The one rule:
    confirmed = an answer or a confirming row (``confirms``); everybody else is listed,
    whatever their rows say — in particular every person with an 'unknown' row.
    """
    if acknowledged or any(confirms(c, st) for c, st in rows):
        return None
    states = {st for _c, st in rows}
    if not located:
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
