"""What an officer sees about one alert: counts, who is not yet reached, and why.

The counts, channel problems and unknown rows are the alert's own; the follow-up part
(``unreached``, ``needs_help``, ``cannot_reach``) is its family's — the original alert
with its updates, expansions, re-issues and reminders — whichever member is asked about
(``alertsvc.dispatch.follow_up``, the one rule of the list).

Read-only: nothing here writes. ``alert_status`` aggregates in SQL, because an alert can
have 100,000 rows and ``alert status --watch`` polls it every second.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alertsvc.db.tables import Alert, AlertTarget, AuditEntry, Delivery, utcnow
from alertsvc.dispatch.alerts import load_alert
from alertsvc.dispatch.follow_up import (
    DELIVERY_CONFIRMS,
    REASON_LABELS,
    FollowUpFamily,
    SupporterNotice,
    UnreachedPerson,
    confirms,
    follow_up,
    follow_up_order,
    unreached_reason,
)
from alertsvc.dispatch.maintenance import EXPIRED_PREFIX
from alertsvc.dispatch.states import ACTIVE_STATES, DeliveryState
from alertsvc.redact import mask_address

__all__ = [
    "DELIVERY_CONFIRMS",
    "REASON_LABELS",
    "STALL_SECONDS",
    "STATUS_KEYS",
    "AlertStatus",
    "ChannelProblem",
    "SupporterNotice",
    "UnknownDelivery",
    "UnreachedPerson",
    "alert_status",
    "confirms",
    "follow_up_order",
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
    """What an officer needs to see about one alert. ``as_dict`` is the CLI JSON contract.

    ``counts``, ``by_channel``, ``state``, ``targets``, ``unknown`` and
    ``channel_problems`` are the alert's own; ``unreached``, ``needs_help``,
    ``cannot_reach`` (the follow-up list) cover the family named in ``family``.
    """

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
    # the family the follow-up part covers: its original alert, every member's id, and
    # the number of people any member targeted (``dispatch.follow_up``)
    family: FollowUpFamily | None = None
    family_targets: int = 0

    @property
    def in_flight(self) -> bool:
        return self.state in ("sending", "waiting")

    def follow_up(self) -> dict[str, tuple[str, float]]:
        """The follow-up (door-knock) list: resident id -> (reason, priority).

        Everyone unreached with their reason; everyone who asked for help ("need_help",
        their own answer or a supporter's, even after a cancellation); everyone a
        supporter could not reach ("cannot_reach"), even when a message reached them —
        somebody who knows them could not find them. The one definition of the list:
        the sheets, the CSV and the demo's check all read it. It covers the alert's
        family (``family``): people targeted by the original or an expansion, confirmed
        by an answer or a confirming delivery on any member's message.
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
            # additive: what the follow-up part (unreached, needs_help, cannot_reach) covers
            "family": None
            if self.family is None
            else {
                "root_id": self.family.root_id,
                "members": list(self.family.members),
                "targets": self.family_targets,
                "follow_up": len(self.follow_up()),
            },
        }


def alert_status(
    session: Session, alert_id: str, *, now: dt.datetime | None = None, family: bool = True
) -> AlertStatus:
    """Counts per channel and overall, who is not yet reached, unknown rows, help requests.

    "Reached" means the person answered or a provider confirmed delivery of one of their
    own messages; everyone else is listed in ``unreached``, highest priority first,
    with the reason (unlocated, no_channel, in_progress, failed, unknown, not_confirmed).
    The follow-up part covers the alert's family (``dispatch.follow_up``); ``family=False``
    limits it to the alert's own targets, rows and answers (``alert verify``, the
    per-member summaries).
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
    own_targets = session.scalar(
        select(func.count()).select_from(AlertTarget).where(AlertTarget.alert_id == alert_id)
    )
    fu = follow_up(session, alert_id, family=family)
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
        unreached=fu.unreached,
        unknown=unknown,
        needs_help=fu.needs_help,
        targets=int(own_targets or 0),
        parent_id=alert.parent_id,
        cancellation_ids=children,
        channel_problems=_channel_problems(session, alert, set(by_channel), now),
        cannot_reach=fu.cannot_reach,
        urgent_priority=fu.urgent_priority,
        family=fu.family,
        family_targets=fu.targets,
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
