"""Correction (訂正) and all-clear (解除): a prepared notice to exactly the addresses the
alert family reached, and to the rows in flight once they settle as reached.

``plan_notices`` is the one place that decides who gets a correction or all-clear notice
and in what words; both commands call it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.audit import record
from alertsvc.config import Settings
from alertsvc.db.tables import Alert, utcnow
from alertsvc.dispatch.alerts import PlannedDelivery, as_planned
from alertsvc.dispatch.status import AlertStatus, alert_status
from alertsvc.errors import InputError
from alertsvc.models import ChannelName, RiverForecast
from alertsvc.planning.render import render_notice
from alertsvc.services.lifecycle._family import (
    LifecycleResult,
    child,
    family_of,
    in_flight,
    reached_people,
    root_alert,
    stop,
)

__all__ = ["NoticePlan", "clear_alert", "correct_alert", "notice_text", "plan_notices"]


def notice_text(
    language: str,
    kind: str,
    *,
    city: str,
    level: int,
    exercise: bool,
    text: str = "",
    channel: ChannelName = ChannelName.SMS,
    river: Mapping[str, Any] | None = None,
) -> str:
    """The body of a ``kind`` notice ("clear", "correction") in ``language`` for
    ``channel`` (an SMS unless told): the prepared template of ``level``."""
    return render_notice(
        kind, channel, language, municipality=city, level=level, exercise=exercise,
        text=text, river=river,
    )[1]  # fmt: skip


@dataclass(frozen=True, slots=True)
class NoticePlan:
    """Who gets a notice: ``now`` (rows that reached someone) and ``awaiting`` (rows in a
    provider call, by delivery id: notified only if they settle as reached)."""

    now: list[PlannedDelivery] = field(default_factory=list)
    awaiting: dict[int, PlannedDelivery] = field(default_factory=dict)


def plan_notices(
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
    river: Mapping[str, Any] | None = None,
) -> NoticePlan:
    """One ``kind`` notice (clear, correction) per person the family reached, on the row
    that reached them most recently (its channel, address and language), without
    escalation; a person only in a provider call right now is owed it on each such row
    (the first to settle as reached carries it). For a clear, a push waiting for its
    retry after an attempt that may have gone out counts as reached
    (``states.may_have_reached``): call this before the stop. Texts are rendered once
    per (channel, language)."""
    texts: dict[tuple[str, str], tuple[str, str]] = {}

    def planned(row: Any) -> PlannedDelivery:
        key = (row.channel, row.language)
        if key not in texts:
            texts[key] = render_notice(
                kind, ChannelName(row.channel), row.language,
                municipality=settings.municipality.name, level=level, exercise=exercise,
                text=text, river=river,
            )  # fmt: skip
        title, body = texts[key]
        return as_planned(row, title=title, body=body, step=0,
                          data=(("kind", kind), (verb, alert_id)))  # fmt: skip

    done = reached_people(session, family, closing=kind == "clear")
    return NoticePlan(
        now=[planned(r) for r in done],
        awaiting={r.id: planned(r) for r in in_flight(session, family, done, per_person=True)},
    )


def _river(session: Session, family: Sequence[str]) -> Mapping[str, Any] | None:
    """The river flood forecast the family was last raised on (the newest member whose
    scope names one: an update to level 4 names the 氾濫危険警報), or None."""
    members = session.scalars(
        select(Alert).where(Alert.id.in_(family)).order_by(Alert.created_at.desc(), Alert.id)
    )
    for member in members:
        river = RiverForecast.from_dict((member.scope or {}).get("river"))
        if river is not None:
            return river.as_dict()
    return None


def _followup(status: AlertStatus) -> dict[str, Any]:
    """The frozen follow-up list: who was not reached and why, who needs help (ids and
    reasons only: names and addresses stay in the register)."""
    return {
        "unreached": [{"resident_id": p.resident_id, "reason": p.reason} for p in status.unreached],
        "needs_help": [dict(h) for h in status.needs_help],
    }


def clear_alert(
    session: Session,
    settings: Settings,
    alert_id: str,
    *,
    actor: str,
    now: dt.datetime | None = None,
) -> LifecycleResult:
    """解除: stop the family's unsent rows, tell everyone reached (once each), close the
    alert and every alert under it, freeze the report.

    ``alert_id`` may name any member of the family; the family's root is cleared. A row
    in a provider call at this moment gets its 解除 once it settles as reached.
    ``InputError`` (exit 3) when the family's original alert is not active.
    """
    now = now or utcnow()
    root = root_alert(session, alert_id)
    alert_id = root.id
    family, level = family_of(session, alert_id)
    # planned before the stop, which would hide a push waiting for its retry
    plan = plan_notices(
        session, settings, family, kind="clear", verb="clears", alert_id=alert_id,
        level=level, exercise=root.exercise, river=_river(session, family),
    )  # fmt: skip
    stopped = stop(session, family, actor, now)
    notice = child(session, root, "clear", level, {"clears": alert_id}, family, plan.now,
                   actor, now, awaiting=plan.awaiting)  # fmt: skip
    report = [
        {"alert_id": aid, **_followup(alert_status(session, aid, family=False))} for aid in family
    ]
    # the family's one follow-up list (dispatch.follow_up), as the sheets show it
    family_report = _followup(alert_status(session, alert_id))
    for alert_row in session.scalars(select(Alert).where(Alert.id.in_(family))):
        alert_row.state = "cleared"
    result = LifecycleResult(
        alert_id, len(stopped), notice, len(plan.now), awaiting_outcome=len(plan.awaiting)
    )
    record(
        session,
        "alert.clear",
        {"alert_id": alert_id, "exercise": root.exercise},
        {**result.as_dict(), "final_report": report, "family_report": family_report},
        actor=actor,
    )
    return result


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

    A row in a provider call at this moment gets the correction once it settles as
    reached; if it fails, its person is unreached and their re-issued later steps go.
    ``InputError`` (exit 3) for an empty text or an alert that is not active.
    """
    if not text.strip():
        raise InputError("訂正の内容が必要です / --text or --shelter is required")
    now = now or utcnow()
    root = root_alert(session, alert_id)
    alert_id = root.id
    family, level = family_of(session, alert_id)
    if stopped is None:
        stopped = stop(session, family, actor, now)
    plan = plan_notices(
        session, settings, family, kind="correction", verb="corrects", alert_id=alert_id,
        level=level, exercise=root.exercise, text=text, river=_river(session, family),
    )  # fmt: skip
    notice = child(session, root, "correction", level, {"corrects": alert_id, "text": text},
                   family, plan.now, actor, now, awaiting=plan.awaiting)  # fmt: skip
    reached_people = {p.resident_id for p in plan.now}
    # what was about to go out goes out corrected; a reached person's held escalation
    # steps are not needed again (the correction notice reaches them)
    reissue = [
        as_planned(r, title=r.title, body=f"{r.body} {text}")
        for r in stopped
        if r.state != "held" or r.resident_id not in reached_people
    ]
    again = child(session, root, "reissue", level, {"reissues": alert_id, "text": text},
                  family, reissue, actor, now)  # fmt: skip
    result = LifecycleResult(alert_id, len(stopped), notice, len(plan.now), again,
                             len(reissue), len(plan.awaiting))  # fmt: skip
    record(
        session,
        "alert.correct",
        {"alert_id": alert_id, "text": text, "exercise": root.exercise},
        result.as_dict(),
        actor=actor,
    )
    return result
