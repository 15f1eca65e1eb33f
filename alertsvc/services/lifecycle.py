"""The life of an alert after it is sent: update to a higher level, correction (訂正),
all-clear (解除). Each is one transaction with its audit entry.

Who gets what (the rule of each, in one place):

- **update** to level N: everyone the family (the original and earlier updates) reached
  gets the level-N message on the channels and addresses that reached them (kind
  ``update``, a notice: claimed ahead of other messages, no escalation). Everyone else in
  the new plan — newly in scope, or targeted but not reached yet — gets the full level-N
  alert with escalation (kind ``expansion``, replies match it); their unsent rows of the
  earlier alerts are stopped, so nobody gets two messages for one level. N must be
  higher than the family's level; an exercise stays an exercise.
- **correction**: unsent rows of the original are stopped at once; the correction goes
  to exactly the addresses the original reached (kind ``correction``, a notice); the
  people whose rows were stopped get their original messages again with the correction
  appended (kind ``reissue``), so nobody is dropped.
- **all-clear**: unsent rows are stopped (no escalation), 解除 goes to exactly the
  addresses reached, in each person's language; the alert is closed (state ``cleared``)
  and its follow-up list is frozen into the audit entry as the final report.

Texts are ``_TEXTS``: every language the register uses, 【訓練】 first on exercises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alertsvc.audit import record
from alertsvc.config import Settings
from alertsvc.db.tables import Alert, AlertTarget, Delivery, utcnow
from alertsvc.dispatch.alerts import (
    EXERCISE_PREFIX,
    PlannedDelivery,
    PlannedTarget,
    create_alert,
    load_alert,
)
from alertsvc.dispatch.moves import move
from alertsvc.dispatch.states import REACHED_STATES, Event
from alertsvc.dispatch.status import AlertStatus, alert_status
from alertsvc.errors import InputError
from alertsvc.interop.cap_export import alert_family
from alertsvc.models import ChannelName, Level
from alertsvc.services.preview import Preview
from alertsvc.services.send import plan_rows, route_update_digests

__all__ = [
    "LifecycleResult",
    "clear_alert",
    "correct_alert",
    "notice_text",
    "quiet_fix_shelter",
    "stop_unsent",
    "update_alert",
]

# language -> kind -> text; {city}, {level}, {label}, {text} filled in
_TEXTS: dict[str, dict[str, str]] = {
    "ja": {"clear": "【解除】{city}：警戒レベル{level} {label}を解除しました。",
           "correction": "【訂正】{city}：先ほどの避難情報を訂正します。{text}"},
    "ja-easy": {"clear": "【おわり】{city}：ひなんの しらせは おわりました。",
                "correction": "【なおします】{city}：さっきの しらせを なおします。{text}"},
    "en": {"clear": "[All clear] {city}: the level {level} evacuation order is lifted.",
           "correction": "[Correction] {city}: correction to the earlier alert. {text}"},
    "zh": {"clear": "【解除】{city}：{level}级避难信息已解除。",
           "correction": "【更正】{city}：更正之前的避难信息。{text}"},
    "ko": {"clear": "[해제] {city}: 경계레벨 {level} 피난 정보가 해제되었습니다.",
           "correction": "[정정] {city}: 앞서 보낸 피난 정보를 정정합니다. {text}"},
    "pt": {"clear": "[Fim] {city}: a ordem de evacuação de nível {level} foi suspensa.",
           "correction": "[Correção] {city}: correção do alerta anterior. {text}"},
    "vi": {"clear": "[Hủy bỏ] {city}: Thông tin sơ tán cấp {level} đã được dỡ bỏ.",
           "correction": "[Đính chính] {city}: Đính chính thông tin sơ tán trước đó. {text}"},
    "tl": {"clear": "[Tapos na] {city}: Inalis na ang abiso ng paglikas antas {level}.",
           "correction": "[Pagwawasto] {city}: Pagwawasto sa naunang abiso. {text}"},
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LifecycleResult:
    alert_id: str
    stopped: int  # unsent rows stopped
    notice_alert_id: str | None  # update / correction / clear notice (None: nobody reached)
    notified: int
    followup_alert_id: str | None = None  # expansion / reissue alert
    followup_deliveries: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "stopped": self.stopped,
            "notice_alert_id": self.notice_alert_id,
            "notified": self.notified,
            "followup_alert_id": self.followup_alert_id,
            "followup_deliveries": self.followup_deliveries,
        }


def notice_text(
    language: str, kind: str, *, city: str, level: int, exercise: bool, text: str = ""
) -> str:
    """The resident's text of a clear or correction notice in ``language`` (English for
    a language without a table row, which the register import does not produce)."""
    table = _TEXTS.get(language, _TEXTS["en"])
    body = table[kind].format(city=city, level=level, label=Level(level).label_ja, text=text)
    return (EXERCISE_PREFIX + body) if exercise else body


def _root(session: Session, alert_id: str) -> Alert:
    alert = load_alert(session, alert_id, lock=True)
    if alert.kind != "alert":
        raise InputError(
            f"{alert_id} は通知です / {alert_id} is a {alert.kind} notice; "
            "use the original alert id"
        )
    if alert.state != "active":
        raise InputError(f"{alert_id} は {alert.state} です / {alert_id} is {alert.state}")
    return alert


def _reached(session: Session, alert_ids: Sequence[str]) -> list[Any]:
    """Rows that reached (or may have reached) someone, one per (person, channel, address)."""
    rows = session.execute(
        select(Delivery.__table__)
        .where(
            Delivery.alert_id.in_(alert_ids),
            Delivery.state.in_([s.value for s in REACHED_STATES]),
        )
        .order_by(Delivery.id)
    ).all()
    seen: set[tuple[str, str, int, str, str]] = set()
    out: list[Any] = []
    for row in rows:
        ident = (row.recipient, row.resident_id, row.supporter_id, row.channel, row.address)
        if ident not in seen:
            seen.add(ident)
            out.append(row)
    return out


def _stop(session: Session, alert_ids: Sequence[str], actor: str, now: dt.datetime) -> list[Any]:
    """Stop unsent rows (held, queued, claimed); return them (plain rows) as they were."""
    unsent = (Delivery.alert_id.in_(alert_ids), Delivery.state.in_(("held", "queued", "claimed")))
    # plain rows, not ORM objects: a stop must be fast for alerts of many thousand rows
    pending = list(session.execute(select(Delivery.__table__).where(*unsent)).all())
    if pending:
        stop = {"finished_at": now, "updated_at": now, "detail": f"stopped by {actor}"}
        move(session, Event.CANCEL, Delivery.id.in_([r.id for r in pending]), values=stop)
    return pending


def stop_unsent(
    session: Session, alert_id: str, *, actor: str, now: dt.datetime | None = None
) -> list[Any]:
    """Phase one of a correction: stop every unsent row of the alert's family now.

    Committed on its own so the stop takes effect within a second even for a large
    alert; pass the returned rows to ``correct_alert(stopped=...)``. Should phase two
    fail, the stopped people are on the alert's follow-up list (never silently gone).
    """
    now = now or utcnow()
    _root(session, alert_id)
    family = [a.id for a in alert_family(session, alert_id)]
    rows = _stop(session, family, actor, now)
    record(session, "alert.stop", {"alert_id": alert_id, "for": "correction"},
           {"stopped": len(rows)}, actor=actor)  # fmt: skip
    return rows


def _as_planned(
    row: Delivery,
    *,
    title: str,
    body: str,
    step: int | None = None,
    data: tuple[tuple[str, str], ...] = (),
) -> PlannedDelivery:
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


def _targets_for(
    session: Session, alert_ids: Sequence[str], planned: Sequence[PlannedDelivery]
) -> list[PlannedTarget]:
    known = {
        t.resident_id: t
        for t in session.execute(
            select(AlertTarget.resident_id, AlertTarget.priority, AlertTarget.located).where(
                AlertTarget.alert_id.in_(alert_ids)
            )
        )
    }
    return [
        PlannedTarget(
            rid,
            known[rid].priority if rid in known else 0.0,
            known[rid].located if rid in known else True,
            True,
        )
        for rid in dict.fromkeys(p.resident_id for p in planned)
    ]


def _child(
    session: Session,
    root: Alert,
    kind: str,
    level: int,
    scope: dict[str, Any],
    family_ids: Sequence[str],
    planned: Sequence[PlannedDelivery],
    actor: str,
    now: dt.datetime,
    targets: Sequence[PlannedTarget] | None = None,
    allow_list: Sequence[str] | None = None,
) -> str | None:
    if not planned and not targets:
        return None
    return create_alert(
        session,
        level=level,
        scope=scope,
        exercise=root.exercise,
        targets=list(targets)
        if targets is not None
        else _targets_for(session, family_ids, planned),
        deliveries=planned,
        actor=actor,
        kind=kind,
        parent_id=root.id,
        # notices go where the alert already went, vetted then; new rows are vetted now
        allow_list=allow_list if allow_list is not None else {p.address for p in planned},
        now=now,
    )


def clear_alert(
    session: Session,
    settings: Settings,
    alert_id: str,
    *,
    actor: str,
    now: dt.datetime | None = None,
) -> LifecycleResult:
    """解除: stop unsent rows, tell everyone reached, close the alert, freeze the report.

    ``InputError`` (exit 3) when the alert is not an active original alert.
    """
    now = now or utcnow()
    root = _root(session, alert_id)
    members = alert_family(session, alert_id)
    family = [a.id for a in members]
    stopped = _stop(session, family, actor, now)
    level = max(a.level for a in members)
    planned = _notices_to_reached(
        session, settings, family, kind="clear", verb="clears", alert_id=alert_id,
        level=level, exercise=root.exercise,
    )  # fmt: skip
    notice = _child(
        session, root, "clear", level, {"clears": alert_id}, family, planned, actor, now
    )
    report = [{"alert_id": aid, **_followup(alert_status(session, aid))} for aid in family]
    for alert_row in session.scalars(select(Alert).where(Alert.id.in_(family))):
        alert_row.state = "cleared"
    result = LifecycleResult(alert_id, len(stopped), notice, len(planned))
    record(
        session,
        "alert.clear",
        {"alert_id": alert_id, "exercise": root.exercise},
        {**result.as_dict(), "final_report": report},
        actor=actor,
    )
    return result


def _notices_to_reached(
    session: Session,
    settings: Settings,
    family: Sequence[str],
    *,
    kind: str,
    verb: str,
    alert_id: str,
    level: int,
    exercise: bool,
    text: str = "",
) -> list[Any]:
    """One ``kind`` notice (clear, correction) per address the family reached, in the
    language of the row that reached it, on the same channel, without escalation."""
    planned = []
    for row in _reached(session, family):
        body = notice_text(
            row.language, kind, city=settings.municipality.name, level=level,
            exercise=exercise, text=text,
        )  # fmt: skip
        title = body.split("】", 1)[0] + "】" if "】" in body else body.split("]", 1)[0] + "]"
        planned.append(
            _as_planned(
                row,
                title=title if row.channel == "push" else "",
                body=body,
                step=0,
                data=(("kind", kind), (verb, alert_id)),
            )
        )
    return planned


def _followup(status: AlertStatus) -> dict[str, Any]:
    """The frozen follow-up list: who was not reached and why, who needs help (ids and
    reasons only: names and addresses stay in the register)."""
    return {
        "unreached": [{"resident_id": p.resident_id, "reason": p.reason} for p in status.unreached],
        "needs_help": [dict(h) for h in status.needs_help],
    }


def correct_alert(
    session: Session,
    settings: Settings,
    alert_id: str,
    *,
    actor: str,
    text: str,
    stopped: Sequence[Any] | None = None,
    now: dt.datetime | None = None,
) -> LifecycleResult:
    """訂正: ``text`` (already worded, e.g. the new shelter) to exactly the original's
    reached addresses; unsent rows stopped and re-issued with the correction appended.

    ``InputError`` (exit 3) for an empty text or an alert that is not active.
    """
    if not text.strip():
        raise InputError("訂正の内容が必要です / --text or --shelter is required")
    now = now or utcnow()
    root = _root(session, alert_id)
    members = alert_family(session, alert_id)
    family = [a.id for a in members]
    if stopped is None:
        stopped = _stop(session, family, actor, now)
    level = max(a.level for a in members)
    planned = _notices_to_reached(
        session, settings, family, kind="correction", verb="corrects", alert_id=alert_id,
        level=level, exercise=root.exercise, text=text,
    )  # fmt: skip
    notice = _child(
        session,
        root,
        "correction",
        level,
        {"corrects": alert_id, "text": text},
        family,
        planned,
        actor,
        now,
    )
    reached_people = {p.resident_id for p in planned}
    # what was about to go out goes out corrected; a reached person's held escalation
    # steps are not needed again (the correction notice reaches them)
    reissue = [
        _as_planned(r, title=r.title, body=f"{r.body} {text}")
        for r in stopped
        if r.state != "held" or r.resident_id not in reached_people
    ]
    again = _child(
        session,
        root,
        "reissue",
        level,
        {"reissues": alert_id, "text": text},
        family,
        reissue,
        actor,
        now,
    )
    result = LifecycleResult(alert_id, len(stopped), notice, len(planned), again, len(reissue))
    record(
        session,
        "alert.correct",
        {"alert_id": alert_id, "text": text, "exercise": root.exercise},
        result.as_dict(),
        actor=actor,
    )
    return result


def update_alert(
    session: Session,
    settings: Settings,
    alert_id: str,
    preview: Preview,
    *,
    actor: str,
    now: dt.datetime | None = None,
) -> LifecycleResult:
    """Raise ``alert_id`` to ``preview.level`` for the people of ``preview``.

    ``InputError`` (exit 3) when the level is not higher than the family's, or the
    preview's exercise flag differs from the alert's (an exercise never becomes live).
    """
    now = now or utcnow()
    root = _root(session, alert_id)
    members = alert_family(session, alert_id)
    family = [a.id for a in members]
    current = max(a.level for a in members)
    if int(preview.level) <= current:
        raise InputError(
            f"レベル{int(preview.level)}は現在のレベル{current}より高くありません / level "
            f"{int(preview.level)} is not higher than the alert's level {current}"
        )
    if preview.exercise != root.exercise:
        raise InputError(
            "訓練と本番は切り替えられません / an exercise cannot become live "
            "(or the reverse): create a new alert"
        )
    targets, deliveries = plan_rows(preview)
    by_person: dict[str, list[PlannedDelivery]] = {}
    for d in deliveries:
        by_person.setdefault(d.resident_id, []).append(d)
    reached = [r for r in _reached(session, family) if r.recipient == "resident"]
    reached_people = {r.resident_id for r in reached}
    notices: list[PlannedDelivery] = []
    for row in reached:
        fresh = next(
            (
                d
                for d in by_person.get(row.resident_id, [])
                if d.recipient == "resident" and str(d.channel) == row.channel
            ),
            None,
        )
        if fresh is None:
            continue  # no longer in the plan on this channel: the follow-up list has them
        notices.append(
            _as_planned(
                row,
                title=fresh.title,
                body=fresh.body,
                step=0,
                data=(*fresh.data, ("updates", alert_id)),
            )
        )
    # every unsent row of the family: the reached get the notice, the rest the new plan
    stopped = _stop(session, family, actor, now)
    rest_targets = [t for t in targets if t.resident_id not in reached_people]
    rest = [d for d in deliveries if d.resident_id not in reached_people]
    # supporters: one digest each per update (alertsvc.planning.supporters)
    notices, rest = route_update_digests(notices, rest, settings, exercise=root.exercise)
    scope = preview.scope.as_dict()
    notice = _child(
        session,
        root,
        "update",
        int(preview.level),
        {**scope, "updates": alert_id},
        family,
        notices,
        actor,
        now,
    )
    expansion = _child(
        session,
        root,
        "expansion",
        int(preview.level),
        {**scope, "expands": alert_id},
        family,
        rest,
        actor,
        now,
        targets=rest_targets,
        allow_list=settings.exercise.allow_list,
    )
    result = LifecycleResult(alert_id, len(stopped), notice, len(notices), expansion, len(rest))
    record(
        session,
        "alert.update",
        {
            "alert_id": alert_id,
            "level": int(preview.level),
            "scope": scope,
            "exercise": root.exercise,
        },
        result.as_dict(),
        actor=actor,
    )
    return result


@dataclass(frozen=True, slots=True)
class QuietFix:
    shelter_id: str
    rewritten: int  # unsent messages that now carry the fixed name/address

    def as_dict(self) -> dict[str, Any]:
        return {"shelter_id": self.shelter_id, "rewritten": self.rewritten}


def quiet_fix_shelter(
    session: Session, shelter_id: str, *, actor: str, name: str | None = None,
    address: str | None = None,
) -> QuietFix:  # fmt: skip
    """Fix a shelter's name or address without re-notifying anyone.

    The shelter row changes (so later plans and the resident page use it) and every
    unsent message (held, queued) of an active alert that names the old text is
    rewritten in place; messages already sent are left alone — nobody is messaged again
    for a typo (the trap of re-announcing an edited Lアラート item). ``NotFound`` for an
    unknown shelter, ``InputError`` when nothing is given to change.
    """
    from alertsvc.db.tables import Shelter
    from alertsvc.errors import NotFound

    if not name and not address:
        raise InputError("--name か --address が必要です / give --name and/or --address")
    shelter = session.get(Shelter, shelter_id)
    if shelter is None:
        raise NotFound(f"避難所がありません / no such shelter: {shelter_id}")
    swaps = [(old, new) for old, new in ((shelter.name, name), (shelter.address, address))
             if new and old and old != new]  # fmt: skip
    before = {"name": shelter.name, "address": shelter.address}
    if name:
        shelter.name = name
    if address:
        shelter.address = address
    shelter.updated_at = utcnow()
    active = select(Alert.id).where(Alert.state == "active").scalar_subquery()
    rewritten = 0
    if swaps:
        rows = session.execute(
            select(Delivery.id, Delivery.title, Delivery.body).where(
                Delivery.alert_id.in_(active), Delivery.state.in_(("held", "queued"))
            )
        ).all()
        for row_id, title, body in rows:
            new_title, new_body = title, body
            for old, new in swaps:
                new_title, new_body = new_title.replace(old, new), new_body.replace(old, new)
            if (new_title, new_body) != (title, body):
                # text only; the state is untouched (a row already claimed keeps its text)
                session.execute(
                    update(Delivery)
                    .where(Delivery.id == row_id, Delivery.state.in_(("held", "queued")))
                    .values(title=new_title, body=new_body)
                    .execution_options(synchronize_session=False)
                )
                rewritten += 1
    result = QuietFix(shelter_id, rewritten)
    record(session, "shelter.quiet_fix", {"shelter_id": shelter_id, "before": before,
           "name": name, "address": address}, result.as_dict(), actor=actor)  # fmt: skip
    return result
