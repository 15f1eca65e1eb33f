"""The eager planning reference: every message of every plan rendered directly, no cache.

This is what planning did before it became lazy (render_message per person and channel,
supporter notices rendered when planned). Tests compare the rows written at send time
with these rows, so the lazy path can never change a single character that is sent.
"""

from __future__ import annotations

from typing import Any

from alertsvc.models import Level
from alertsvc.planning import PersonPlan, PlanOptions
from alertsvc.planning.language import SUPPORTER_LANGUAGE
from alertsvc.planning.plan import message_context
from alertsvc.planning.render import render_message
from alertsvc.planning.supporters import supporter_digests


def eager_rows(
    plans: tuple[PersonPlan, ...],
    *,
    level: Level,
    options: PlanOptions,
    alert_ref: str,
    exercise: bool,
) -> list[tuple[Any, ...]]:
    """(resident, recipient, supporter, step, channel, address, language, title, body, data,
    priority, legal basis) of every delivery, rendered eagerly, in ``plan_rows`` order."""
    rows: list[tuple[Any, ...]] = []
    notices: list[tuple[Any, float]] = []
    for plan in plans:
        resident = plan.target.resident
        context = message_context(
            plan.target,
            level=level,
            action=plan.action,
            shelter=plan.shelter,
            municipality=options.municipality,
            exercise=exercise,
        )
        data = (
            ("alert_id", alert_ref),
            ("level", str(int(level))),
            ("action", plan.action.value),
            ("shelter_id", plan.shelter.shelter.id if plan.shelter else ""),
            ("resident_id", resident.id),
        )
        steps: list[Any] = []
        for channel, address in plan.entries:
            if channel not in steps:
                steps.append(channel)
            m = render_message(channel, plan.language, context, data=data)
            rows.append(
                (
                    resident.id,
                    "resident",
                    None,
                    steps.index(channel),
                    channel,
                    address,
                    m.language,
                    m.title,
                    m.body,
                    m.data,
                    plan.priority,
                    "",
                )
            )
        person = {
            "name": resident.name,
            "reading": resident.kana or resident.name,
            "address": resident.address,
        }
        # the per-person notice, rendered eagerly: its text must render (the digest
        # carries the same person's name, address and action)
        for notice in plan.supporters:
            render_message(
                notice.channel, SUPPORTER_LANGUAGE, {**context, "person": person},
                prefix="supporter_",
            )  # fmt: skip
            notices.append((notice, plan.priority))
    # one digest per supporter (phone, channel) after every person's own rows (#10)
    for d in supporter_digests(
        notices, level=level, municipality=options.municipality, exercise=exercise,
        alert_ref="preview",
    ):  # fmt: skip
        rows.append(
            ("", "supporter", None, 0, d.channel, d.address, "ja", d.title, d.body, d.data,
             d.priority, "per_person")
        )  # fmt: skip
    return rows


def eager_sms_notes(plans: tuple[PersonPlan, ...], *, level: Level, options: PlanOptions,
                    exercise: bool) -> list[tuple[str, bool]]:  # fmt: skip
    """(resident, SMS over MAX_SEGMENTS) from every person's SMS rendered eagerly."""
    from alertsvc.models import ChannelName
    from alertsvc.planning.sms import MAX_SEGMENTS

    out: list[tuple[str, bool]] = []
    for plan in plans:
        if ChannelName.SMS not in plan.messages:
            continue
        context = message_context(
            plan.target,
            level=level,
            action=plan.action,
            shelter=plan.shelter,
            municipality=options.municipality,
            exercise=exercise,
        )
        m = render_message(ChannelName.SMS, plan.language, context)
        out.append((plan.target.resident.id, (m.segments or 0) > MAX_SEGMENTS))
    return out


def plan_sms_notes(plans: tuple[PersonPlan, ...]) -> list[tuple[str, bool]]:
    """The same pairs from the notes the (lazy) plans carry."""
    from alertsvc.models import ChannelName

    return [
        (p.target.resident.id, any("SMS needs" in n for n in p.notes))
        for p in plans
        if ChannelName.SMS in p.messages
    ]


def sent_rows(deliveries: list[Any]) -> list[tuple[Any, ...]]:
    """The same tuple for every ``PlannedDelivery`` that ``plan_rows`` returns."""
    return [
        (
            d.resident_id,
            d.recipient,
            d.supporter_id,
            d.step,
            d.channel,
            d.address,
            d.language,
            d.title,
            d.body,
            d.data,
            d.priority,
            d.legal_basis,
        )
        for d in deliveries
    ]
