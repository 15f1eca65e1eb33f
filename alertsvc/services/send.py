"""Send: turn a preview into an alert and its outbox rows, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from alertsvc.audit import current_actor, record
from alertsvc.config import Settings
from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget, create_alert
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


def plan_rows(preview: Preview) -> tuple[list[PlannedTarget], list[PlannedDelivery]]:
    """Every person the alert concerns, and one delivery per (person, channel, address)."""
    targets: list[PlannedTarget] = []
    deliveries: list[PlannedDelivery] = []
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
        for notice in plan.supporters:
            text = notice.message  # rendered here: the preview never needed it
            deliveries.append(
                PlannedDelivery(
                    resident_id=resident.id,
                    recipient="supporter",
                    supporter_id=notice.supporter.id,
                    step=0,
                    channel=notice.channel,
                    address=notice.address,
                    language=text.language,
                    title=text.title,
                    body=text.body,
                    data=text.data,
                    priority=plan.priority,
                    legal_basis=notice.legal_basis,
                )
            )
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
