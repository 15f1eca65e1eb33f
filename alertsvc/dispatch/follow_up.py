"""The follow-up (door-knock) list of an alert family: who is not confirmed reached, who
asked for help, whom a supporter could not reach (#9).

An alert grows a family: the original, its update notices (the new level to people
already reached), expansions (the full alert to people newly in scope), re-issues after a
correction and supporter reminders — and notices (取消し, 訂正, 解除) that tell people
what changed. The follow-up list is one list for the whole family, whichever member is
asked about (``follow_up_family``):

* a person is on it when any member other than a notice targeted them (the original,
  an expansion, …), and nothing anywhere in the family confirms them: no answer of their
  own on any member's message, no confirming row (``confirms``) on any member;
* a "need help" answer (theirs or a supporter's) and a supporter's "cannot reach" on any
  member's message put them on it, whatever else happened;
* notices are not targets; a duty-desk notice and a registry check are not part of an
  alert's life and keep a list of their own.

Read-only: nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.db.tables import Acknowledgement, AlertTarget, Delivery, SupporterDisclosure
from alertsvc.dispatch.alerts import alert_family, load_alert

__all__ = [
    "DELIVERY_CONFIRMS",
    "FAMILY_KINDS",
    "NOTICE_KINDS",
    "REASON_LABELS",
    "FollowUp",
    "FollowUpFamily",
    "SupporterNotice",
    "UnreachedPerson",
    "confirms",
    "follow_up",
    "follow_up_family",
    "follow_up_order",
    "unreached_reason",
]

# members of an alert's life whose targets are people to follow up
FAMILY_KINDS = frozenset({"alert", "update", "expansion", "reissue", "reminder"})
# members that tell people already reached what changed: not targets of their own
NOTICE_KINDS = frozenset({"cancellation", "correction", "clear"})

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

# supporter notices that never went out (cancelled with the alert, skipped after an answer)
_NOT_SENT = frozenset({"cancelled", "skipped"})

# channels whose 'delivered' callback means the message reached the person's own device:
# the carrier's handset receipt for an SMS, the receiving machine's "all pages received"
# for a FAX (for a deaf resident with only a landline and a FAX, the only proof there is)
DELIVERY_CONFIRMS: frozenset[str] = frozenset({"sms", "fax"})


def follow_up_order(reason: str, priority: float, resident_id: str) -> tuple[int, float, str]:
    """Sort key of the follow-up list: urgency, then priority (highest first), then id."""
    return (_URGENCY.get(reason, 2), -priority, resident_id)


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


@dataclass(frozen=True, slots=True)
class FollowUpFamily:
    """The alerts one follow-up list covers.

    ``root_id``: the original alert; ``members``: every alert of its life (original,
    updates, expansions, re-issues, reminders, notices), oldest first; ``targeting``: the
    members whose targets are people to follow up (``members`` without the notices).
    """

    root_id: str
    members: tuple[str, ...]
    targeting: tuple[str, ...]


def follow_up_family(session: Session, alert_id: str) -> FollowUpFamily:
    """The family whose follow-up list ``alert_id`` shows: its original alert's, for the
    original or any alert under it; a duty-desk notice or a registry check (not part of
    an alert's life) covers itself only. Raises ``NotFound`` for an unknown id."""
    alert = load_alert(session, alert_id)
    if alert.kind not in FAMILY_KINDS | NOTICE_KINDS:
        return FollowUpFamily(alert.id, (alert.id,), (alert.id,))
    kinds = FAMILY_KINDS | NOTICE_KINDS
    members = [a for a in alert_family(session, alert.id) if a.kind in kinds]
    root = next((a for a in members if a.parent_id is None), members[0])
    return FollowUpFamily(
        root.id,
        tuple(a.id for a in members),
        tuple(a.id for a in members if a.kind not in NOTICE_KINDS),
    )


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The follow-up list's parts (see the module docstring for the rule).

    ``unreached``: highest priority first; ``needs_help``: one entry per "need help"
    answer (``resident_id``, ``via``, ``at``, ``key``, ``answered_by``, ``alert_id``);
    ``cannot_reach``: people a supporter answered "cannot reach" for; ``urgent_priority``:
    the target priority of everyone in the last two; ``targets``: people targeted.
    """

    family: FollowUpFamily
    unreached: list[UnreachedPerson]
    needs_help: list[dict[str, str]]
    cannot_reach: list[str]
    urgent_priority: dict[str, float]
    targets: int


@dataclass(slots=True)
class _Target:
    located: bool = False
    acknowledged: bool = False
    priority: float = 0.0


def _targets(session: Session, fam: FollowUpFamily) -> dict[str, _Target]:
    """Person -> what the family's targets say: located by any member, the highest
    priority; answered on any member's message (a notice's target rows included)."""
    people: dict[str, _Target] = {}
    targeting = set(fam.targeting)
    answered: set[str] = set()
    for t in session.scalars(select(AlertTarget).where(AlertTarget.alert_id.in_(fam.members))):
        if t.acknowledged_at is not None:
            answered.add(t.resident_id)
        if t.alert_id not in targeting:
            continue
        p = people.get(t.resident_id)
        if p is None:
            people[t.resident_id] = _Target(t.located, False, t.priority)
        else:
            p.located = p.located or t.located
            p.priority = max(p.priority, t.priority)
    answered.update(
        session.scalars(
            select(Acknowledgement.resident_id).where(
                Acknowledgement.alert_id.in_(fam.members),
                Acknowledgement.answered_by == "resident",
            )
        )
    )
    for rid in answered & set(people):
        people[rid].acknowledged = True
    return people


def _rows(
    session: Session, alert_ids: Sequence[str]
) -> tuple[dict[str, set[tuple[str, str]]], dict[str, list[SupporterNotice]]]:
    """The (channel, state) pairs of each person's own messages, and the supporter
    notices about each person that nobody confirmed."""
    own: dict[str, set[tuple[str, str]]] = defaultdict(set)
    notices: dict[str, list[SupporterNotice]] = defaultdict(list)
    # a supporter digest (no resident of its own) stands for every person it named
    named: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for key, rid, sid in session.execute(
        select(SupporterDisclosure.delivery_key, SupporterDisclosure.resident_id,
               SupporterDisclosure.supporter_id)
        .where(SupporterDisclosure.alert_id.in_(alert_ids))
    ):  # fmt: skip
        named[key].append((rid, sid))
    for key, resident_id, recipient, supporter_id, channel, state in session.execute(
        select(Delivery.key, Delivery.resident_id, Delivery.recipient, Delivery.supporter_id,
               Delivery.channel, Delivery.state)
        .where(Delivery.alert_id.in_(alert_ids))
        .order_by(Delivery.id)
    ):  # fmt: skip
        if recipient == "resident":
            own[resident_id].add((channel, state))
        elif not confirms(channel, state) and state not in _NOT_SENT:
            for rid, sid in named.get(key) or [(resident_id, supporter_id)]:
                notices[rid].append(SupporterNotice(sid or 0, channel, state))
    return own, notices


def follow_up(session: Session, alert_id: str, *, family: bool = True) -> FollowUp:
    """The follow-up list of ``alert_id``'s family (``family=False``: of that one alert's
    own targets, rows and answers, as ``alert verify`` checks them).

    Raises ``NotFound`` for an unknown id.
    """
    if family:
        fam = follow_up_family(session, alert_id)
    else:
        fam = FollowUpFamily(alert_id, (load_alert(session, alert_id).id,), (alert_id,))
    targets = _targets(session, fam)
    own, notices = _rows(session, fam.targeting)
    unreached: list[UnreachedPerson] = []
    for rid, t in targets.items():
        reason = unreached_reason(t.located, t.acknowledged, own.get(rid, set()))
        if reason is not None:
            unreached.append(UnreachedPerson(rid, t.priority, reason, tuple(notices.get(rid, ()))))
    unreached.sort(key=lambda u: (-u.priority, u.resident_id))
    needs_help = [
        {
            "resident_id": a.resident_id,
            "via": a.via,
            "at": a.at.isoformat(),
            "key": a.delivery_key,
            # a supporter's "need help" about the person is not the person's own answer
            "answered_by": a.answered_by,
            # the member whose message was answered (an update, an expansion, …)
            "alert_id": a.alert_id,
        }
        for a in session.scalars(
            select(Acknowledgement)
            .where(Acknowledgement.alert_id.in_(fam.members), Acknowledgement.answer == "need_help")
            .order_by(Acknowledgement.at, Acknowledgement.id)
        )
    ]
    cannot_reach = sorted(
        set(
            session.scalars(
                select(Acknowledgement.resident_id).where(
                    Acknowledgement.alert_id.in_(fam.members),
                    Acknowledgement.answer == "cannot_reach",
                    Acknowledgement.answered_by == "supporter",
                )
            )
        )
    )
    urgent = {h["resident_id"] for h in needs_help} | set(cannot_reach)
    urgent_priority = {rid: t.priority for rid, t in targets.items() if rid in urgent}
    return FollowUp(fam, unreached, needs_help, cannot_reach, urgent_priority, len(targets))
