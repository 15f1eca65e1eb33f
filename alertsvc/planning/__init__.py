"""Planning: pure functions from (alert, targets, residents, shelters) to messages."""

from __future__ import annotations

from alertsvc.planning.plan import (
    Action,
    PersonPlan,
    PlanOptions,
    RenderedMessage,
    ShelterChoice,
    SupporterNotice,
    plan_alert,
    plan_person,
    render_cancellation,
    sms_segments,
)

__all__ = [
    "Action",
    "PersonPlan",
    "PlanOptions",
    "RenderedMessage",
    "ShelterChoice",
    "SupporterNotice",
    "plan_alert",
    "plan_person",
    "render_cancellation",
    "sms_segments",
]
