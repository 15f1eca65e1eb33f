"""The per-person plan: action, shelter, language, channels, messages, supporters, priority.

Pure: targets, shelters and active zones in, frozen ``PersonPlan`` records out. Nothing is
dropped: every target gets a plan, and a plan that cannot reach the person electronically
carries ``unreachable_reason`` (for the door-knock list) while a missing shelter, a
supporter without a phone or an over-long SMS become officer-facing ``notes``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alertsvc.models import (
    DEPTH_RANK_METRES,
    ChannelName,
    Level,
    RiverForecast,
    ShelterInfo,
    Target,
    ZoneInfo,
)
from alertsvc.planning.actions import Action, ActionFacts, decide_action
from alertsvc.planning.channel_order import channel_order
from alertsvc.planning.language import normalise_language, pick_language
from alertsvc.planning.priority import priority_score
from alertsvc.planning.render import RenderCache, RenderedMessage, render_cancellation
from alertsvc.planning.shelter_choice import ShelterChoice, ShelterIndex
from alertsvc.planning.sms import MAX_SEGMENTS, sms_segments
from alertsvc.planning.supporters import SupporterNotice, supporter_notices

if TYPE_CHECKING:
    from alertsvc.config import Settings

__all__ = [
    "Action",
    "LazyMessages",
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
    # the river flood forecast the alert was raised on (the watcher's), named in the texts
    river: RiverForecast | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PlanOptions:
        return cls(
            municipality=settings.municipality.name,
            metric_crs=settings.municipality.metric_crs,
            walking_speed_m_per_min=settings.targeting.walking_speed_m_per_min,
            metres_per_storey=settings.targeting.metres_per_storey,
        )


class LazyMessages(Mapping[ChannelName, RenderedMessage]):
    """A person's messages per channel, rendered on first access through a shared cache.

    A preview needs counts and a few samples, not every text; the send needs every text.
    Both get exactly what ``render_message`` returns for the person's context: the cache
    only avoids rendering the same inputs twice. Iteration follows the channel order.
    """

    __slots__ = ("_cache", "_channels", "_context", "_data", "_done", "_language")

    def __init__(
        self,
        channels: tuple[ChannelName, ...],
        language: str,
        context: Mapping[str, Any],
        data: tuple[tuple[str, str], ...],
        cache: RenderCache,
    ) -> None:
        self._channels = channels
        self._language = language
        self._context = context
        self._data = data
        self._cache = cache
        self._done: dict[ChannelName, RenderedMessage] = {}

    @property
    def language(self) -> str:
        """The language every message of this person is written in."""
        return self._language

    def __getitem__(self, channel: ChannelName) -> RenderedMessage:
        message = self._done.get(channel)
        if message is None:
            if channel not in self._channels:
                raise KeyError(channel)
            message = self._cache.render(channel, self._language, self._context, data=self._data)
            self._done[channel] = message
        return message

    def __iter__(self) -> Iterator[ChannelName]:
        return iter(self._channels)

    def __len__(self) -> int:
        return len(self._channels)


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


@functools.lru_cache(maxsize=64)
def _depth(rank: int | None) -> dict[str, str | None] | None:
    # one dict per rank, shared by every context (templates only read them)
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
    river: RiverForecast | None = None,
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
        "river": river.as_dict() if river is not None else None,
    }


# a register holds few distinct facts and language codes: decide each once per process
_decide = functools.lru_cache(maxsize=4096)(decide_action)


@functools.lru_cache(maxsize=256)
def _language_of(code: str | None) -> tuple[str, str]:
    """(template language, officer note when it is a fallback, else "") for a code."""
    language = pick_language(code)
    if language != normalise_language(code or "ja"):
        return language, f"言語 {code!r} の文面なし、{language} で送信 / fallback"
    return language, ""


def _plan(
    target: Target,
    index: ShelterIndex,
    *,
    level: Level,
    options: PlanOptions,
    alert_ref: str,
    exercise: bool,
    cache: RenderCache,
    chosen: tuple[ShelterChoice | None, tuple[str, ...]] | None = None,
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
    action, rule = _decide(facts)
    # a shelter is named for every action: at level 5 and for move-up it is the fallback
    shelter, shelter_notes = index.choose(resident) if chosen is None else chosen
    notes = list(shelter_notes)
    language, language_note = _language_of(resident.language)
    if language_note:
        notes.append(language_note)
    order = channel_order(resident.needs, resident.contacts, resident.channel_pref)
    channels = order.channels
    context = message_context(
        target,
        level=level,
        action=action,
        shelter=shelter,
        municipality=options.municipality,
        exercise=exercise,
        river=options.river,
    )
    data = (
        ("alert_id", alert_ref),
        ("level", str(int(level))),
        ("action", action.value),
        ("shelter_id", shelter.shelter.id if shelter else ""),
        ("resident_id", resident.id),
    )
    messages = LazyMessages(channels, language, context, data, cache)
    if ChannelName.SMS in channels:
        # the only thing the plan needs from a text: an over-long SMS is an officer note
        segments = cache.sms_segments(language, context)
        if segments > MAX_SEGMENTS:
            notes.append(f"SMSが{segments}通に分割 / SMS needs {segments} parts")
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
        target,
        index,
        level=level,
        options=options,
        alert_ref=alert_ref,
        exercise=exercise,
        cache=RenderCache(),
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
    cache = RenderCache(
        (
            max((len(s.name.encode("utf-16-le")) // 2 for s in shelters), default=0),
            max((len(s.address.encode("utf-16-le")) // 2 for s in shelters), default=0),
        )
    )
    # every nearest-shelter query at once, in numpy (choose_many equals choose per person)
    choices = index.choose_many([t.resident for t in targets])
    plans = [
        _plan(
            t,
            index,
            level=level,
            options=options,
            alert_ref=alert_ref,
            exercise=exercise,
            cache=cache,
            chosen=chosen,
        )
        for t, chosen in zip(targets, choices, strict=True)
    ]
    plans.sort(key=lambda p: (-p.priority, p.target.resident.id))
    return tuple(plans)
