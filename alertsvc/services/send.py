"""Send: turn a preview into an alert and its outbox rows, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from alertsvc.audit import current_actor, record
from alertsvc.config import Settings
from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget, create_alert
from alertsvc.planning.supporters import (
    DIGEST_LEGAL_BASIS,
    DIGEST_RESIDENT,
    SupporterNotice,
    supporter_digests,
)
from alertsvc.services.preview import Preview

__all__ = ["UNLOCATED_PRIORITY", "SendResult", "plan_rows", "send_preview"]

# Unlocated residents cannot be placed in a zone; they go on the follow-up list with a
# priority high enough to sit among the people in the deepest water, never at the bottom.
UNLOCATED_PRIORITY = 60.0


@dataclass(frozen=True)
class SendResult:
    alert_id: str
    deliveries: int
    targets: int


def digest_deliveries(
    preview: Preview, notices: list[tuple[SupporterNotice, float]]
) -> list[PlannedDelivery]:
    """One digest row per supporter phone and channel, naming each person once with the
    legal basis of disclosing them (``PlannedDelivery.disclosures``)."""
    if not notices:
        return []
    municipality = str(notices[0][0].context.get("municipality", ""))
    digests = supporter_digests(
        notices,
        level=preview.level,
        municipality=municipality,
        exercise=preview.exercise,
        alert_ref="preview",
    )
    return [
        PlannedDelivery(
            resident_id=DIGEST_RESIDENT,
            recipient="supporter",
            supporter_id=None,
            step=0,
            channel=d.channel,
            address=d.address,
            language="ja",
            title=d.title,
            body=d.body,
            data=d.data,
            priority=d.priority,
            legal_basis=DIGEST_LEGAL_BASIS,
            disclosures=tuple(
                (p.resident_id, p.supporter_id, p.legal_basis, p.action) for p in d.people
            ),
        )
        for d in digests
    ]


def route_update_digests(
    notices: list[PlannedDelivery],
    rest: list[PlannedDelivery],
    settings: Settings,
    *,
    exercise: bool,
) -> tuple[list[PlannedDelivery], list[PlannedDelivery]]:
    """An update's supporter digests go with its notices (one per supporter, claimed
    ahead, no escalation). In an exercise, a digest to an address off the allow-list
    stays with the new rows, whose vetting refuses it with a clear error."""
    allowed = set(settings.exercise.allow_list)
    moved = [
        d
        for d in rest
        if d.recipient == "supporter"
        and d.resident_id == DIGEST_RESIDENT
        and (not exercise or d.address in allowed)
    ]
    ids = {id(d) for d in moved}
    return [*notices, *moved], [d for d in rest if id(d) not in ids]


def plan_rows(preview: Preview) -> tuple[list[PlannedTarget], list[PlannedDelivery]]:
    """Every person the alert concerns, one delivery per (person, channel, address), and
    one digest per supporter (phone, channel)."""
    targets: list[PlannedTarget] = []
    deliveries: list[PlannedDelivery] = []
    notices: list[tuple[SupporterNotice, float]] = []
    for plan in preview.plans:
        resident = plan.target.resident
        targets.append(
            PlannedTarget(
                resident_id=resident.id,
                priority=plan.priority,
                located=True,
                reachable=plan.unreachable_reason is None,
            )
        )
        steps: list[object] = []
        for channel, address in plan.entries:
            if channel not in steps:
                steps.append(channel)
            message = plan.messages[channel]
            deliveries.append(
                PlannedDelivery(
                    resident_id=resident.id,
                    recipient="resident",
                    supporter_id=None,
                    step=steps.index(channel),
                    channel=channel,
                    address=address,
                    language=message.language,
                    title=message.title,
                    body=message.body,
                    data=message.data,
                    priority=plan.priority,
                )
            )
        notices.extend((notice, plan.priority) for notice in plan.supporters)
    # one message per supporter (phone, channel) about all their people in scope
    deliveries.extend(digest_deliveries(preview, notices))
    for resident in preview.unlocated:
        targets.append(
            PlannedTarget(
                resident_id=resident.id,
                priority=UNLOCATED_PRIORITY,
                located=False,
                reachable=False,
            )
        )
    return targets, deliveries


def send_preview(
    session: Session, settings: Settings, preview: Preview, *, actor: str | None = None
) -> SendResult:
    """Write the alert, its targets and every delivery row, plus the audit entry.

    Everything happens in ``session``'s transaction: the caller commits once, so an
    alert is either wholly planned or not at all. Exercise alerts are refused (with
    nothing written) when any address is off the configured allow-list.
    """
    actor = actor or current_actor()
    targets, deliveries = plan_rows(preview)
    alert_id = create_alert(
        session,
        level=int(preview.level),
        scope=preview.scope.as_dict(),
        exercise=preview.exercise,
        targets=targets,
        deliveries=deliveries,
        actor=actor,
        allow_list=settings.exercise.allow_list,
    )
    record(
        session,
        "alert.send",
        {
            "level": int(preview.level),
            "scope": preview.scope.as_dict(),
            "exercise": preview.exercise,
        },
        {"alert_id": alert_id, "deliveries": len(deliveries), "targets": len(targets)},
        actor=actor,
    )
    return SendResult(alert_id=alert_id, deliveries=len(deliveries), targets=len(targets))
