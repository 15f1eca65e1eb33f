"""Update to a higher level: the reached get the new level's message as a notice, everyone
else in the new plan gets the full alert with escalation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from alertsvc.audit import record
from alertsvc.config import Settings
from alertsvc.db.tables import utcnow
from alertsvc.dispatch.alerts import PlannedDelivery, as_planned
from alertsvc.errors import InputError
from alertsvc.services.lifecycle._family import (
    LifecycleResult,
    child,
    family_of,
    in_flight,
    reached,
    root_alert,
    stop,
)
from alertsvc.services.preview import Preview
from alertsvc.services.send import plan_rows, route_update_digests

__all__ = ["update_alert"]


def _level_notice(
    rows: Sequence[Any], by_person: dict[str, list[PlannedDelivery]], alert_id: str
) -> dict[int, PlannedDelivery]:
    """The new level's message for each row's person on the row's channel and address,
    by delivery id; a person no longer planned on that channel is left out (the
    follow-up list has them)."""
    out: dict[int, PlannedDelivery] = {}
    for row in rows:
        fresh = next(
            (
                d
                for d in by_person.get(row.resident_id, [])
                if d.recipient == "resident" and str(d.channel) == row.channel
            ),
            None,
        )
        if fresh is not None:
            out[row.id] = as_planned(
                row,
                title=fresh.title,
                body=fresh.body,
                step=0,
                data=(*fresh.data, ("updates", alert_id)),
            )
    return out


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

    A reached person's row in a provider call at this moment gets the new level's message
    once it settles as reached. A person with no reached row (only rows in flight, or none
    sent yet) is not reached as far as anyone knows: they get the full new-level alert
    with escalation at once, whatever their row in flight turns out to do.
    ``InputError`` (exit 3) when the level is not higher than the family's, or the
    preview's exercise flag differs from the alert's (an exercise never becomes live).
    """
    now = now or utcnow()
    root = root_alert(session, alert_id)
    family, current = family_of(session, alert_id)
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
    done = reached(session, family)
    reached_rows = [r for r in done if r.recipient == "resident"]
    reached_people = {r.resident_id for r in reached_rows}
    notices = list(_level_notice(reached_rows, by_person, alert_id).values())
    flying = [
        r
        for r in in_flight(session, family, done)
        if r.recipient == "resident" and r.resident_id in reached_people
    ]
    awaiting = _level_notice(flying, by_person, alert_id)
    # every unsent row of the family: the reached get the notice, the rest the new plan
    stopped = stop(session, family, actor, now)
    rest_targets = [t for t in targets if t.resident_id not in reached_people]
    rest = [d for d in deliveries if d.resident_id not in reached_people]
    # supporters: one digest each per update (alertsvc.planning.supporters)
    notices, rest = route_update_digests(notices, rest, settings, exercise=root.exercise)
    scope = preview.scope.as_dict()
    level = int(preview.level)
    notice = child(session, root, "update", level, {**scope, "updates": alert_id}, family,
                   notices, actor, now, awaiting=awaiting)  # fmt: skip
    expansion = child(
        session, root, "expansion", level, {**scope, "expands": alert_id}, family, rest,
        actor, now, targets=rest_targets, allow_list=settings.exercise.allow_list,
    )  # fmt: skip
    result = LifecycleResult(alert_id, len(stopped), notice, len(notices), expansion,
                             len(rest), len(awaiting))  # fmt: skip
    record(
        session,
        "alert.update",
        {"alert_id": alert_id, "level": level, "scope": scope, "exercise": root.exercise},
        result.as_dict(),
        actor=actor,
    )
    return result
