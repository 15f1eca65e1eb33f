"""``alert verify``: the invariants of one alert, checked from the database.

Read-only. Each rule names one promise; every violation names the rule, the person and
what is wrong (addresses masked). The rules:

* ``person_accounted`` — every person in scope at send time is either confirmed reached
  or on the follow-up list with a reason (exactly one), and every person a message was
  written for is in scope;
* ``row_state`` — every row is in a state of the table (``states.DeliveryState``);
* ``row_stuck`` — no row is queued or claimed past ``max_age_seconds`` plus the lease,
  and no row is held past the point its escalation was due (the earlier step settled,
  plus the acknowledgement wait, plus the lease), nor held in a cancelled alert;
* ``cancellation_address`` — every cancellation went to an address the alert's family
  reached or may have reached; ``cancellation_missing`` — every person reached got one
  (one per person, on the row that reached them most recently);
* ``acknowledgement_owner`` — every acknowledgement belongs to the person of the message
  that was answered, and a person counts as having answered only through a message to
  their own address (a supporter's answer is recorded on the supporter's message).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.config import DispatchSettings
from alertsvc.db.tables import (
    Acknowledgement,
    Alert,
    AlertTarget,
    Delivery,
    SupporterDisclosure,
    utcnow,
)
from alertsvc.dispatch.alerts import load_alert
from alertsvc.dispatch.reach import person_key
from alertsvc.dispatch.states import (
    REACHED_STATES,
    SETTLED_STATES,
    DeliveryState,
    may_have_reached,
)
from alertsvc.dispatch.status import alert_status, confirms
from alertsvc.redact import mask_address

__all__ = ["RULES", "Verification", "Violation", "verify_alert"]

S = DeliveryState
RULES = (
    "person_accounted",
    "row_state",
    "row_stuck",
    "cancellation_address",
    "cancellation_missing",
    "acknowledgement_owner",
)


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    resident_id: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "resident_id": self.resident_id, "detail": self.detail}


@dataclass
class Verification:
    """``as_dict`` is the ``alert verify --json`` contract."""

    alert_id: str
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "ok": self.ok,
            "violations": [v.as_dict() for v in self.violations],
        }


def _ack_wait(settings: DispatchSettings, level: int) -> float:
    if level >= 5:
        return settings.ack_wait_level5_seconds
    if level == 4:
        return settings.ack_wait_level4_seconds
    return settings.ack_wait_level3_seconds


Ident = tuple[str, str, int, str, str]


def _ident(d: Delivery) -> Ident:
    return (d.recipient, d.resident_id, d.supporter_id, d.channel, d.address)


def _family_ids(session: Session, root_id: str) -> list[str]:
    """``root_id`` and the alerts under it that a cancel stops (lifecycle children hang
    under the original; duty-desk notices and cancellations are not among them)."""
    under = session.scalars(
        select(Alert.id).where(
            Alert.parent_id == root_id, Alert.kind.not_in(("cancellation", "duty"))
        )
    )
    return [root_id, *under]


def _may_have_reached_then(row: Delivery) -> bool:
    """``states.may_have_reached`` as it was before the cancel stopped the row."""
    if row.state == S.CANCELLED.value and row.attempts > 0:
        return may_have_reached(S.QUEUED, row.channel, row.attempts)
    return may_have_reached(row.state, row.channel, row.attempts)


def verify_alert(
    session: Session, alert_id: str, settings: DispatchSettings, now: dt.datetime | None = None
) -> Verification:
    """Check every rule for ``alert_id`` (an alert or a cancellation notice).

    Raises ``NotFound`` for an unknown id.
    """
    now = now or utcnow()
    alert = load_alert(session, alert_id)
    out = Verification(alert_id)
    add = out.violations.append
    rows = list(
        session.scalars(select(Delivery).where(Delivery.alert_id == alert_id).order_by(Delivery.id))
    )
    targets = {
        t.resident_id: t
        for t in session.scalars(select(AlertTarget).where(AlertTarget.alert_id == alert_id))
    }

    # person_accounted
    status = alert_status(session, alert_id, now=now, family=False)
    listed: dict[str, int] = defaultdict(int)
    for u in status.unreached:
        listed[u.resident_id] += 1
        if not u.reason:
            add(
                Violation(
                    "person_accounted", u.resident_id, "on the follow-up list without a reason"
                )
            )
    own_ok: set[str] = set()
    for r in rows:
        if r.recipient == "resident" and confirms(r.channel, r.state):
            own_ok.add(r.resident_id)
    for rid, t in targets.items():
        confirmed = t.acknowledged_at is not None or rid in own_ok
        n = listed.get(rid, 0)
        if confirmed and n:
            add(Violation("person_accounted", rid, "both confirmed and on the follow-up list"))
        elif not confirmed and n != 1:
            add(
                Violation(
                    "person_accounted",
                    rid,
                    f"not confirmed and listed {n} times on the follow-up list",
                )
            )
    # a supporter digest (resident_id "") names its people in supporter_disclosures
    for rid in sorted({r.resident_id for r in rows if r.resident_id} - set(targets)):
        add(Violation("person_accounted", rid, "messages written for a person not in scope"))

    # row_state / row_stuck
    known = {s.value for s in DeliveryState}
    limit = dt.timedelta(seconds=settings.max_age_seconds + settings.lease_seconds)
    lease = dt.timedelta(seconds=settings.lease_seconds)
    by_person: dict[str, list[Delivery]] = defaultdict(list)
    for r in rows:
        if r.recipient == "resident":
            by_person[r.resident_id].append(r)
        if r.state not in known:
            add(
                Violation(
                    "row_state", r.resident_id, f"{r.key}: state {r.state!r} not in the table"
                )
            )
            continue
        if r.state in (S.QUEUED.value, S.CLAIMED.value):
            since = r.queued_at or r.created_at
            if since is not None and now - since > limit:
                add(
                    Violation(
                        "row_stuck",
                        r.resident_id,
                        f"{r.key}: {r.state} for {(now - since).total_seconds():.0f}s "
                        "(past max_age_seconds plus the lease)",
                    )
                )
    settled = {s.value for s in SETTLED_STATES}
    wait = dt.timedelta(seconds=_ack_wait(settings, alert.level))
    for rid, mine in by_person.items():
        for r in mine:
            if r.state != S.HELD.value:
                continue
            if alert.state != "active":
                add(Violation("row_stuck", rid, f"{r.key}: held in a {alert.state} alert"))
                continue
            earlier = [e for e in mine if e.step < r.step]
            if not all(e.state in settled for e in earlier):
                continue  # the earlier step is still going; its own rows are checked
            if any(e.state == S.ACKNOWLEDGED.value for e in earlier):
                add(Violation("row_stuck", rid, f"{r.key}: held after the person answered"))
                continue
            done = max((e.finished_at for e in earlier if e.finished_at), default=None)
            if done is None:
                continue
            due = done + (
                dt.timedelta(0) if all(e.state == S.FAILED.value for e in earlier) else wait
            )
            if now - due > lease:
                add(
                    Violation(
                        "row_stuck",
                        rid,
                        f"{r.key}: held {(now - due).total_seconds():.0f}s after its "
                        "escalation was due",
                    )
                )

    # cancellations: one per person the family reached (``dispatch.reach``), on an address
    # the family reached or may have (a push stopped while waiting to retry an attempt
    # that may have gone out: ``states.may_have_reached``, read before the stop)
    reached = {s.value for s in REACHED_STATES}
    if alert.kind == "cancellation" and alert.parent_id:
        family = _family_ids(session, alert.parent_id)
        parent: dict[Ident, Delivery] = {}
        for r in session.scalars(
            select(Delivery).where(Delivery.alert_id.in_(family)).order_by(Delivery.id)
        ):
            # an address several members used: the one that reached it counts
            if _ident(r) not in parent or _may_have_reached_then(r):
                parent[_ident(r)] = r
        for r in rows:
            p = parent.get(_ident(r))
            if p is None or not _may_have_reached_then(p):
                add(
                    Violation(
                        "cancellation_address",
                        r.resident_id,
                        f"{r.key}: cancellation to {mask_address(r.address)}, which the "
                        f"alert {'never addressed' if p is None else 'left ' + p.state}",
                    )
                )
    if alert.state == "cancelled":
        # the 取消し of this alert, or of the original it belongs to
        chain = [alert.id]
        up = alert
        while up.parent_id is not None:
            parent_alert = session.get(Alert, up.parent_id)
            if parent_alert is None:
                break
            up = parent_alert
            chain.append(up.id)
        notice_ids = list(
            session.scalars(
                select(Alert.id).where(Alert.parent_id.in_(chain), Alert.kind == "cancellation")
            )
        )
        notified = {
            person_key(r)
            for r in session.scalars(select(Delivery).where(Delivery.alert_id.in_(notice_ids)))
        }
        for r in rows:
            if r.state in reached and person_key(r) not in notified:
                add(
                    Violation(
                        "cancellation_missing",
                        r.resident_id,
                        f"{r.key}: {r.state} to {mask_address(r.address)} but no "
                        "cancellation queued for its person",
                    )
                )

    # acknowledgement_owner
    by_key = {r.key: r for r in rows}
    answered_own: set[str] = set()
    acks = list(
        session.scalars(select(Acknowledgement).where(Acknowledgement.alert_id == alert_id))
    )
    # a supporter's answer on a digest is about a person the digest named (the digest may
    # belong to an update of this alert: the answer is kept with the person's alert)
    named: set[tuple[str, str]] = {
        (str(row[0]), str(row[1]))
        for row in session.execute(
            select(SupporterDisclosure.delivery_key, SupporterDisclosure.resident_id).where(
                SupporterDisclosure.delivery_key.in_({a.delivery_key for a in acks})
            )
        )
    }
    for a in acks:
        row = by_key.get(a.delivery_key)
        if (a.delivery_key, a.resident_id) in named and a.answered_by == "supporter":
            continue
        if row is None:
            if a.via != "officer":
                add(
                    Violation(
                        "acknowledgement_owner",
                        a.resident_id,
                        f"answer via {a.via} names no message of this alert",
                    )
                )
            else:
                answered_own.add(a.resident_id)
            continue
        if row.resident_id != a.resident_id:
            add(
                Violation(
                    "acknowledgement_owner",
                    a.resident_id,
                    f"answer on {row.key} (about {row.resident_id}) recorded for {a.resident_id}",
                )
            )
        elif row.recipient == "resident":
            answered_own.add(a.resident_id)
    for rid, t in targets.items():
        if t.acknowledged_at is not None and rid not in answered_own:
            add(
                Violation(
                    "acknowledgement_owner",
                    rid,
                    "marked as answered, but not through a message to their own address",
                )
            )
    return out
