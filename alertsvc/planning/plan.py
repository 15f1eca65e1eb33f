"""The per-person plan: action, shelter, language, channels, messages, supporters, priority.

Pure: targets, shelters and active zones in, frozen ``PersonPlan`` records out. Nothing is
dropped: every target gets a plan, and a plan that cannot reach the person electronically
carries ``unreachable_reason`` (for the door-knock list) while a missing shelter, a
supporter without a phone or an over-long SMS become officer-facing ``notes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alertsvc.models import DEPTH_RANK_METRES, ChannelName, Level, ShelterInfo, Target, ZoneInfo
from alertsvc.planning.actions import Action, ActionFacts, decide_action
from alertsvc.planning.channel_order import channel_order
from alertsvc.planning.language import normalise_language, pick_language
from alertsvc.planning.priority import priority_score
from alertsvc.planning.render import RenderedMessage, render_cancellation, render_message
from alertsvc.planning.shelter_choice import ShelterChoice, ShelterIndex
from alertsvc.planning.sms import MAX_SEGMENTS, sms_segments
from alertsvc.planning.supporters import SupporterNotice, supporter_notices

if TYPE_CHECKING:
    from alertsvc.config import Settings

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


@dataclass(frozen=True)
class PlanOptions:
    """Municipality facts and walking assumptions the plan needs."""

    municipality: str = "直方市"
    metric_crs: str = "EPSG:6670"  # kept for callers; distances are great-circle metres
    walking_speed_m_per_min: float = 40.0  # elderly pace
    metres_per_storey: float = 3.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PlanOptions:
        return cls(
            municipality=settings.municipality.name,
            metric_crs=settings.municipality.metric_crs,
            walking_speed_m_per_min=settings.targeting.walking_speed_m_per_min,
            metres_per_storey=settings.targeting.metres_per_storey,
        )


@dataclass(frozen=True, slots=True)
class PersonPlan:
    """Everything dispatch needs for one targeted person."""

    target: Target
    action: Action
    shelter: ShelterChoice | None
    language: str
    entries: tuple[tuple[ChannelName, str], ...]  # escalation order (channel, address)
    messages: Mapping[ChannelName, RenderedMessage]  # one per channel used in entries
    supporters: tuple[SupporterNotice, ...]
    priority: float
    unreachable_reason: str | None
    notes: tuple[str, ...]  # officer-facing warnings
    rule: str = ""  # the action rule that decided (see actions.RULES)

    @property
    def resident_id(self) -> str:
        return self.target.resident.id


def _metres(value: float) -> str:
    return f"{value:g}"


def _depth(rank: int | None) -> dict[str, str | None] | None:
    if rank is None or rank not in DEPTH_RANK_METRES:
        return None
    lo, hi = DEPTH_RANK_METRES[rank]
    return {"lo": _metres(lo), "hi": None if hi is None else _metres(hi)}


def _shelter_context(choice: ShelterChoice | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    s = choice.shelter
    return {
        "id": s.id,
        "name": s.name,
        # the reading when the data gives one, so text-to-speech says the name right
        "reading": s.name_kana or s.name,
        "address": s.address,
        "distance": max(10, round(choice.distance_m / 10.0) * 10),
        "walk": choice.walk_minutes,
        "welfare": choice.welfare,
    }


def message_context(
    target: Target,
    *,
    level: Level,
    action: Action,
    shelter: ShelterChoice | None,
    municipality: str,
    exercise: bool,
) -> dict[str, Any]:
    """The variables every resident and supporter template receives."""
    return {
        "exercise": exercise,
        "level": int(level),
        "action": action.value,
        "municipality": municipality,
        "floor": target.resident.floor or 0,
        "shelter": _shelter_context(shelter),
        "depth": _depth(target.depth_rank),
    }


def _plan(
    target: Target,
    index: ShelterIndex,
    *,
    level: Level,
    options: PlanOptions,
    alert_ref: str,
    exercise: bool,
) -> PersonPlan:
    resident = target.resident
    facts = ActionFacts(
        level=level,
        house_collapse=target.house_collapse,
        depth_rank=target.depth_rank,
        floor=resident.floor,
        needs=resident.needs,
        metres_per_storey=options.metres_per_storey,
    )
    action, rule = decide_action(facts)
    # a shelter is named for every action: at level 5 and for move-up it is the fallback
    shelter, shelter_notes = index.choose(resident)
    notes = list(shelter_notes)
    language = pick_language(resident.language)
    if language != normalise_language(resident.language or "ja"):
        notes.append(f"言語 {resident.language!r} の文面なし、{language} で送信 / fallback")
    order = channel_order(resident.needs, resident.contacts, resident.channel_pref)
    context = message_context(
        target,
        level=level,
        action=action,
        shelter=shelter,
        municipality=options.municipality,
        exercise=exercise,
    )
    data = (
        ("alert_id", alert_ref),
        ("level", str(int(level))),
        ("action", action.value),
        ("shelter_id", shelter.shelter.id if shelter else ""),
        ("resident_id", resident.id),
    )
    messages: dict[ChannelName, RenderedMessage] = {}
    for channel in order.channels:
        message = render_message(channel, language, context, data=data)
        if message.segments is not None and message.segments > MAX_SEGMENTS:
            notes.append(f"SMSが{message.segments}通に分割 / SMS needs {message.segments} parts")
        messages[channel] = message
    notices, supporter_notes = supporter_notices(resident, context)
    notes.extend(supporter_notes)
    return PersonPlan(
        target=target,
        action=action,
        shelter=shelter,
        language=language,
        entries=order.entries,
        messages=messages,
        supporters=notices,
        priority=priority_score(target, level),
        unreachable_reason=order.unreachable_reason,
        notes=tuple(notes),
        rule=rule,
    )


def plan_person(
    target: Target,
    *,
    level: Level,
    shelters: Sequence[ShelterInfo],
    active_zones: Sequence[ZoneInfo],
    options: PlanOptions,
    alert_ref: str,
    exercise: bool = False,
) -> PersonPlan:
    """The plan for one person. Builds a shelter index: use ``plan_alert`` for many.

    Never raises for data problems (they become ``notes`` / ``unreachable_reason``); a
    broken template raises ``jinja2.TemplateError``.
    """
    index = ShelterIndex(
        shelters, active_zones, walking_speed_m_per_min=options.walking_speed_m_per_min
    )
    return _plan(
        target, index, level=level, options=options, alert_ref=alert_ref, exercise=exercise
    )


def plan_alert(
    targets: Sequence[Target],
    *,
    level: Level,
    shelters: Sequence[ShelterInfo],
    active_zones: Sequence[ZoneInfo],
    options: PlanOptions,
    alert_ref: str,
    exercise: bool = False,
) -> tuple[PersonPlan, ...]:
    """One plan per target, highest priority first, then by resident id.

    Every target yields exactly one plan (nobody is dropped). Failure modes as
    ``plan_person``.
    """
    index = ShelterIndex(
        shelters, active_zones, walking_speed_m_per_min=options.walking_speed_m_per_min
    )
    plans = [
        _plan(t, index, level=level, options=options, alert_ref=alert_ref, exercise=exercise)
        for t in targets
    ]
    plans.sort(key=lambda p: (-p.priority, p.target.resident.id))
    return tuple(plans)
