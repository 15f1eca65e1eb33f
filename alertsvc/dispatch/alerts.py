"""Creating alerts: the write side of the durable outbox.

Every message is a ``Delivery`` row before anything is sent. ``create_alert`` writes the
alert, every person it concerns and every planned delivery in the caller's transaction
(use ``alertsvc.db.session_scope``): either all of it is written or none of it.
Cancelling (``cancel_alert``, the 取消し) lives in ``dispatch.cancel``.
The functions here never commit; the caller's transaction does, together with the audit
entry each of them adds.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from alertsvc.audit import record as audit_record
from alertsvc.db.bulk import insert_rows
from alertsvc.db.tables import Alert, AlertTarget, Delivery, SupporterDisclosure, utcnow
from alertsvc.dispatch.states import DeliveryState
from alertsvc.errors import InputError, NotFound, RowError
from alertsvc.models import DIGEST_LEGAL_BASIS, DIGEST_RESIDENT, ChannelName

# one definition: the renderer adds it, create_alert checks it
from alertsvc.planning.render import EXERCISE_PREFIX
from alertsvc.redact import mask_address

__all__ = [
    "EXERCISE_PREFIX",
    "NOTICE_KINDS",
    "SUPPORTER_LEGAL_BASES",
    "PlannedDelivery",
    "PlannedTarget",
    "alert_family",
    "as_planned",
    "create_alert",
    "load_alert",
    "new_alert_id",
]

# notices about an earlier alert (#9): claimed ahead of every other message, and never a
# reply target (an answer belongs to the alert the notice is about)
NOTICE_KINDS = frozenset({"cancellation", "update", "correction", "clear"})
SUPPORTER_LEGAL_BASES = frozenset({"consent", "disaster_exception_49_11"})

Recipient = Literal["resident", "supporter"]


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """One message the planning glue wants sent: one per (person, channel, address)."""

    resident_id: str
    recipient: Recipient
    supporter_id: int | None
    step: int  # position in the resident's escalation order (0 first); supporters: 0
    channel: ChannelName
    address: str  # E.164 or FCM token
    language: str
    title: str
    body: str
    data: tuple[tuple[str, str], ...]
    priority: float  # higher = reach first
    legal_basis: str = ""  # supporters: "consent" | "disaster_exception_49_11"
    # a supporter digest (resident_id DIGEST_RESIDENT): every person it names, as
    # (resident id, supporter record id, legal basis, action) -> supporter_disclosures
    disclosures: tuple[tuple[str, int, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PlannedTarget:
    """Every person the alert concerns, even those with no delivery at all."""

    resident_id: str
    priority: float
    located: bool
    reachable: bool  # False: no working channel -> goes straight to the follow-up list


def _table(model: type[AlertTarget] | type[Delivery] | type[SupporterDisclosure]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def as_planned(
    row: Any,
    *,
    title: str,
    body: str,
    step: int | None = None,
    data: tuple[tuple[str, str], ...] = (),
) -> PlannedDelivery:
    """``row`` (a delivery) to the same person, channel and address with a new text."""
    return PlannedDelivery(
        resident_id=row.resident_id,
        recipient="supporter" if row.recipient == "supporter" else "resident",
        supporter_id=row.supporter_id or None,
        step=row.step if step is None else step,
        channel=ChannelName(row.channel),
        address=row.address,
        language=row.language,
        title=title,
        body=body,
        data=data,
        priority=row.priority,
        legal_basis=row.legal_basis,
    )


def new_alert_id(now: dt.datetime | None = None) -> str:
    """ "A" + UTC yyyymmddHHMMSS + 4 random hex digits: short, unique, readable."""
    at = (now or utcnow()).astimezone(dt.UTC)
    return f"A{at:%Y%m%d%H%M%S}{secrets.token_hex(2)}"


def _unique_tuple(d: PlannedDelivery) -> tuple[str, str, int, str, str]:
    return (d.recipient, d.resident_id, d.supporter_id or 0, str(d.channel), d.address)


def _validate_digest(i: int, where: str, d: PlannedDelivery, errors: list[RowError]) -> None:
    """A supporter digest: the legal basis is recorded per person named. The people named
    need not be this alert's own targets: an update's digest names everyone of the alert
    family in scope. A notice copied from a digest (cancellation, clear) names nobody."""
    if d.legal_basis not in SUPPORTER_LEGAL_BASES | {DIGEST_LEGAL_BASIS}:
        errors.append(RowError(i, "legal_basis", f"{where}: unknown legal basis"))
    for resident_id, _supporter_id, basis, _action in d.disclosures:
        if basis not in SUPPORTER_LEGAL_BASES:
            errors.append(
                RowError(
                    i,
                    "legal_basis",
                    f"{where}: disclosing {resident_id} to a supporter needs a legal basis "
                    f"(consent or disaster_exception_49_11), got {basis!r}",
                )
            )


def _validate(
    *,
    level: int,
    exercise: bool,
    targets: Sequence[PlannedTarget],
    deliveries: Sequence[PlannedDelivery],
    allow_list: Collection[str],
    need_targets: bool = True,
) -> None:
    errors: list[RowError] = []
    if level not in (3, 4, 5):
        errors.append(RowError(-1, "level", f"expected 3, 4 or 5, got {level!r}"))
    # a digest's people are the alert family's targets (see _validate_digest)
    targets = [t for t in targets if t.resident_id != DIGEST_RESIDENT]
    if not targets and need_targets and not any(d.disclosures for d in deliveries):
        errors.append(RowError(-1, "targets", "an alert must concern at least one person"))
    target_ids: set[str] = set()
    for i, t in enumerate(targets):
        if t.resident_id in target_ids:
            errors.append(RowError(i, "resident_id", f"target {t.resident_id} listed twice"))
        target_ids.add(t.resident_id)
    allowed = set(allow_list)
    seen: dict[tuple[str, str, int, str, str], int] = {}
    for i, d in enumerate(deliveries):
        where = f"delivery {i} ({d.recipient} {d.resident_id}, {d.channel})"
        digest = d.recipient == "supporter" and d.resident_id == DIGEST_RESIDENT
        if digest:
            _validate_digest(i, where, d, errors)
        elif d.resident_id not in target_ids:
            errors.append(RowError(i, "resident_id", f"{where}: resident is not among the targets"))
        try:
            ChannelName(d.channel)
        except ValueError:
            errors.append(RowError(i, "channel", f"{where}: unknown channel {d.channel!r}"))
        if not d.address:
            errors.append(RowError(i, "address", f"{where}: empty address"))
        if not d.body.strip():
            errors.append(RowError(i, "body", f"{where}: empty message body"))
        if d.recipient == "supporter" and not digest:
            if not d.supporter_id:
                errors.append(RowError(i, "supporter_id", f"{where}: supporter id missing"))
            if d.legal_basis not in SUPPORTER_LEGAL_BASES:
                errors.append(
                    RowError(
                        i,
                        "legal_basis",
                        f"{where}: a message about a resident to a supporter needs a legal "
                        f"basis (consent or disaster_exception_49_11), got {d.legal_basis!r}",
                    )
                )
        elif d.recipient != "resident" and not digest:
            errors.append(RowError(i, "recipient", f"{where}: expected resident or supporter"))
        if d.step < 0:
            errors.append(RowError(i, "step", f"{where}: step must be >= 0"))
        key = _unique_tuple(d)
        if key in seen:
            errors.append(
                RowError(i, "address", f"{where}: same message planned twice (see {seen[key]})")
            )
        seen.setdefault(key, i)
        if exercise:
            # two locks: the allow-list, and the 【訓練】 prefix the renderer must have added
            if d.address not in allowed:
                errors.append(
                    RowError(
                        i,
                        "address",
                        f"{where}: exercise may not reach {mask_address(d.address)} "
                        "(not on exercise.allow_list)",
                    )
                )
            if not d.body.startswith(EXERCISE_PREFIX):
                errors.append(
                    RowError(i, "body", f"{where}: exercise body must start with {EXERCISE_PREFIX}")
                )
    if errors:
        raise InputError(
            f"アラートを作成できません / alert not created: {len(errors)} problem(s)", errors
        )


def _inherit_digest(session: Session, parent_id: str, d: PlannedDelivery) -> PlannedDelivery:
    """A supporter digest re-issued under ``parent_id`` (a correction re-sends stopped
    rows with the text appended) names the same people as the digest it repeats: it gets
    that digest's disclosures (legal basis per person) and data (the page link) back.
    Any other row is returned as it is."""
    if d.recipient != "supporter" or d.resident_id != DIGEST_RESIDENT or d.disclosures:
        return d
    family = select(Alert.id).where((Alert.id == parent_id) | (Alert.parent_id == parent_id))
    for key, body, data in session.execute(
        select(Delivery.key, Delivery.body, Delivery.data)
        .where(
            Delivery.alert_id.in_(family),
            Delivery.recipient == "supporter",
            Delivery.resident_id == DIGEST_RESIDENT,
            Delivery.channel == str(d.channel),
            Delivery.address == d.address,
        )
        .order_by(Delivery.id.desc())
    ):
        if not body or not d.body.startswith(body):
            continue  # a notice about the digest (取消し, 訂正, 解除) names nobody
        named = session.execute(
            select(
                SupporterDisclosure.resident_id,
                SupporterDisclosure.supporter_id,
                SupporterDisclosure.legal_basis,
                SupporterDisclosure.action,
            )
            .where(SupporterDisclosure.delivery_key == key)
            .order_by(SupporterDisclosure.position)
        ).all()
        if named:
            return replace(
                d,
                data=d.data or tuple((str(p[0]), str(p[1])) for p in (data or [])),
                disclosures=tuple((str(r), int(s_), str(b), str(a)) for r, s_, b, a in named),
            )
    return d


def create_alert(
    session: Session,
    *,
    level: int,
    scope: Mapping[str, Any],
    exercise: bool,
    targets: Sequence[PlannedTarget],
    deliveries: Sequence[PlannedDelivery],
    actor: str,
    kind: str = "alert",
    parent_id: str | None = None,
    allow_list: Collection[str] = (),
    now: dt.datetime | None = None,
) -> str:
    """Write the alert, its targets and one delivery row per planned message; return its id.

    Step 0 rows and supporter rows are queued at once; later escalation steps are held,
    except at level 5, where every step is queued at once. Nothing is committed here:
    the caller's transaction commits the alert together with its audit entry.

    Raises ``InputError`` listing every problem (unknown level, delivery for a person not
    among the targets, the same message planned twice, a supporter message without legal
    basis, and in exercise mode every address off ``allow_list`` — masked — and every
    body not starting with 【訓練】) before anything is written.
    """
    if parent_id is not None:
        deliveries = [_inherit_digest(session, parent_id, d) for d in deliveries]
    _validate(
        level=level, exercise=exercise, targets=targets, deliveries=deliveries,
        allow_list=allow_list,
        # a notice may start empty: its rows in flight are notified once settled
        need_targets=kind not in NOTICE_KINDS,
    )  # fmt: skip
    now = now or utcnow()
    # a digest row stands for several people: it is nobody's target itself
    targets = [t for t in targets if t.resident_id != DIGEST_RESIDENT]
    alert_id = new_alert_id(now)
    # the column keeps its name from #7; it marks every notice kind
    is_cancellation = kind in NOTICE_KINDS
    session.add(
        Alert(
            id=alert_id,
            kind=kind,
            parent_id=parent_id,
            level=level,
            scope=dict(scope),
            exercise=exercise,
            state="active",
            created_by=actor,
            created_at=now,
        )
    )
    session.flush()  # the alert row must exist before the rows that reference it
    if targets:
        insert_rows(
            session,
            _table(AlertTarget),
            [
                {
                    "alert_id": alert_id,
                    "resident_id": t.resident_id,
                    "priority": t.priority,
                    "located": t.located,
                    "reachable": t.reachable,
                }
                for t in targets
            ],
        )
    rows: list[dict[str, Any]] = []
    states: Counter[str] = Counter()
    for n, d in enumerate(deliveries, start=1):
        queued = d.step == 0 or level == 5 or d.recipient == "supporter"
        state = DeliveryState.QUEUED if queued else DeliveryState.HELD
        states[state.value] += 1
        rows.append(
            {
                "key": f"{alert_id}:{n}",
                "alert_id": alert_id,
                "recipient": d.recipient,
                "resident_id": d.resident_id,
                "supporter_id": d.supporter_id or 0,
                "step": d.step,
                "channel": str(d.channel),
                "address": d.address,
                "language": d.language,
                "title": d.title,
                "body": d.body,
                # planning runs before the alert has an id (a preview says "preview"): the
                # real id is filled in here, the one place that knows it (#7 item 8)
                "data": [[k, alert_id if k == "alert_id" else v] for k, v in d.data],
                "priority": d.priority,
                "level": level,
                "is_cancellation": is_cancellation,
                "legal_basis": d.legal_basis,
                "state": state.value,
                "attempts": 0,
                "next_attempt_at": now,
                "detail": "",
                "created_at": now,
                "queued_at": now if queued else None,
                "updated_at": now,
            }
        )
    # executemany / COPY: one statement for every row, same transaction (#12)
    insert_rows(session, _table(Delivery), rows)
    disclosed = [
        {"alert_id": alert_id, "delivery_key": row["key"], "resident_id": rid,
         "supporter_id": sid, "legal_basis": basis, "position": n, "action": action}
        for row, d in zip(rows, deliveries, strict=True)
        for n, (rid, sid, basis, action) in enumerate(d.disclosures)
    ]  # fmt: skip
    if disclosed:
        insert_rows(session, _table(SupporterDisclosure), disclosed)
    audit_record(
        session,
        ("alert.cancel_notice" if kind == "cancellation" else f"alert.{kind}_notice")
        if is_cancellation
        else "alert.create",
        {"level": level, "exercise": exercise, "kind": kind, "parent_id": parent_id},
        {
            "alert_id": alert_id,
            "targets": len(targets),
            "deliveries": len(rows),
            "by_state": dict(states),
            "unreachable": sum(1 for t in targets if not t.reachable),
            "unlocated": sum(1 for t in targets if not t.located),
        },
        actor=actor,
    )
    return alert_id


def load_alert(session: Session, alert_id: str, *, lock: bool = False) -> Alert:
    stmt = select(Alert).where(Alert.id == alert_id)
    if lock:
        stmt = stmt.with_for_update()
    alert = session.scalars(stmt).one_or_none()
    if alert is None:
        raise NotFound(f"アラートがありません / no such alert: {alert_id}")
    return alert


def alert_family(session: Session, alert_id: str) -> list[Alert]:
    """The root alert of ``alert_id`` and every notice under it, oldest first.

    Raises NotFound for an unknown id.
    """
    root = load_alert(session, alert_id)
    while root.parent_id is not None:
        parent = session.get(Alert, root.parent_id)
        if parent is None:
            break
        root = parent
    family = [root]
    frontier = [root.id]
    while frontier:
        children = list(
            session.scalars(
                select(Alert).where(Alert.parent_id.in_(frontier)).order_by(Alert.created_at)
            )
        )
        family.extend(children)
        frontier = [c.id for c in children]
    family.sort(key=lambda a: (a.created_at, a.id))
    return family
