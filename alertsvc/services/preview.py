"""Preview: who would be alerted, with what, and how long reaching them takes.

The preview is what an officer reads before pressing send, so it hides nobody: the
unlocated residents (no coordinates: we cannot tell whether they are in the zone) and
the residents with no working channel are listed by name, marked "contact directly", and
so are the residents flagged needs_review by the register import (with the reason).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from alertsvc.config import Settings
from alertsvc.models import (
    ChannelName,
    Level,
    ResidentInfo,
    ShelterInfo,
    Target,
    TargetingResult,
)
from alertsvc.planning import PersonPlan, PlanOptions, plan_alert
from alertsvc.redact import mask_address
from alertsvc.services.scope import Scope

__all__ = ["Preview", "build_preview"]


@dataclass(frozen=True)
class Preview:
    level: Level
    scope: Scope
    exercise: bool
    plans: tuple[PersonPlan, ...]  # every target, highest priority first
    unlocated: tuple[ResidentInfo, ...]
    shelters: tuple[ShelterInfo, ...]
    rates: dict[ChannelName, float]

    @property
    def reachable(self) -> tuple[PersonPlan, ...]:
        return tuple(p for p in self.plans if p.unreachable_reason is None)

    @property
    def unreachable(self) -> tuple[PersonPlan, ...]:
        return tuple(p for p in self.plans if p.unreachable_reason is not None)

    @property
    def needs_review(self) -> tuple[ResidentInfo, ...]:
        """Residents in scope (located or not) whose register row had a cell cleared."""
        people = [p.target.resident for p in self.plans] + list(self.unlocated)
        return tuple(r for r in people if r.review_reasons)

    def first_step_counts(self) -> Counter[str]:
        """Messages sent at once per channel: each person's first channel, plus supporters.

        At level 5 every channel of a person goes at once.
        """
        counts: Counter[str] = Counter()
        for plan in self.reachable:
            if self.level == Level.EMERGENCY:
                for channel, _addr in plan.entries:
                    counts[channel.value] += 1
            else:
                first = plan.entries[0][0]
                counts[first.value] += sum(1 for c, _ in plan.entries if c == first)
        # one digest per supporter (phone, channel), however many people it names
        for channel, _address in self.supporter_digests():
            counts[channel.value] += 1
        return counts

    def supporter_digests(self) -> set[tuple[ChannelName, str]]:
        """The supporter messages the send will queue: one per (channel, phone)."""
        return {(n.channel, n.address) for plan in self.plans for n in plan.supporters}

    def estimate_seconds(self, first: Counter[str] | None = None) -> dict[str, float]:
        """Time to hand the first messages (``first_step_counts``) to the providers at
        the configured rates."""
        first = self.first_step_counts() if first is None else first
        return {
            channel: round(n / self.rates[ChannelName(channel)], 1)
            for channel, n in sorted(first.items())
        }

    def counts(self) -> dict[str, Any]:
        by_rank: Counter[str] = Counter()
        by_action: Counter[str] = Counter()
        by_channel: Counter[str] = Counter()
        by_language: Counter[str] = Counter()
        for plan in self.plans:
            rank = plan.target.depth_rank
            by_rank["unknown" if rank is None else str(rank)] += 1
            by_action[plan.action.value] += 1
            by_language[plan.language] += 1
            if plan.entries:
                by_channel[plan.entries[0][0].value] += 1
        first = self.first_step_counts()
        estimate = self.estimate_seconds(first)
        unreachable = sum(1 for p in self.plans if p.unreachable_reason is not None)
        return {
            "targets": len(self.plans),
            "reachable": len(self.plans) - unreachable,
            "unreachable": unreachable,
            "unlocated": len(self.unlocated),
            "edge_only": sum(1 for p in self.plans if p.target.edge_only),
            "house_collapse": sum(1 for p in self.plans if p.target.house_collapse),
            "by_depth_rank": dict(sorted(by_rank.items())),
            "by_action": dict(sorted(by_action.items())),
            "by_first_channel": dict(sorted(by_channel.items())),
            "by_language": dict(sorted(by_language.items())),
            "supporters": len(self.supporter_digests()),
            "first_messages": dict(sorted(first.items())),
            "estimate_seconds": estimate,
            "estimate_total_seconds": max(estimate.values(), default=0.0),
        }

    def samples(self) -> list[dict[str, Any]]:
        """One sample message per (channel, language)."""
        seen: set[tuple[str, str]] = set()
        out: list[dict[str, Any]] = []
        for plan in self.plans:
            for channel in plan.messages:
                # a plan's messages are all in its language: check before rendering one
                key = (channel.value, plan.language)
                if key in seen:
                    continue
                seen.add(key)
                message = plan.messages[channel]
                out.append(
                    {
                        "channel": channel.value,
                        "language": message.language,
                        "title": message.title,
                        "body": message.body,
                        "segments": message.segments,
                        "encoding": message.encoding,
                    }
                )
        return sorted(out, key=lambda s: (s["channel"], s["language"]))

    def as_json(self, *, show_contacts: bool = False) -> dict[str, Any]:
        """The documented ``alert preview --json`` document."""
        return {
            key: list(value) if isinstance(value, Iterator) else value
            for key, value in self.json_sections(show_contacts=show_contacts)
        }

    def json_sections(self, *, show_contacts: bool = False) -> list[tuple[str, Any]]:
        """``as_json``'s (key, value) pairs in order; its lists come as iterators of rows,
        so a writer can stream a city's document instead of holding it twice.

        What can fail (rendering the samples) is done before this returns: a writer never
        stops half-way through a document.
        """
        counts, samples = self.counts(), self.samples()
        return list(self._sections(show_contacts, counts, samples))

    def _sections(
        self, show_contacts: bool, counts: dict[str, Any], samples: list[dict[str, Any]]
    ) -> Iterator[tuple[str, Any]]:
        def addr(address: str) -> str:
            return address if show_contacts else mask_address(address)

        yield "level", int(self.level)
        yield "exercise", self.exercise
        yield "scope", self.scope.as_dict()
        yield (
            "targets",
            (
                {
                    "resident_id": p.target.resident.id,
                    "zones": list(p.target.zone_ids),
                    "depth_rank": p.target.depth_rank,
                    "house_collapse": p.target.house_collapse,
                    "edge_only": p.target.edge_only,
                    "action": p.action.value,
                    "shelter_id": p.shelter.shelter.id if p.shelter else None,
                    "shelter_distance_m": round(p.shelter.distance_m) if p.shelter else None,
                    "channels": [c.value for c in _distinct(c for c, _ in p.entries)],
                    "language": p.language,
                    "priority": p.priority,
                    "notes": list(p.notes),
                }
                for p in self.plans
            ),
        )
        yield (
            "unlocated",
            (
                {
                    "resident_id": r.id,
                    "name": r.name,
                    "address": r.address,
                    "contact": "直接連絡 / contact directly",
                }
                for r in self.unlocated
            ),
        )
        yield (
            "unreachable",
            (
                {
                    "resident_id": p.target.resident.id,
                    "name": p.target.resident.name,
                    "address": p.target.resident.address,
                    "reason": p.unreachable_reason,
                    "contact": "直接連絡 / contact directly",
                }
                for p in self.plans
                if p.unreachable_reason is not None
            ),
        )
        # flagged on import: a register cell was unusable and cleared (#7 item 6)
        yield (
            "needs_review",
            (
                {
                    "resident_id": r.id,
                    "name": r.name,
                    "address": r.address,
                    "reason": "要確認 / needs review: " + "; ".join(r.review_reasons),
                    "contact": "直接連絡 / contact directly",
                }
                for r in self.needs_review
            ),
        )
        yield (
            "supporters",
            (
                {
                    "resident_id": n.resident_id,
                    "supporter_id": n.supporter.id,
                    "supporter_name": n.supporter.name,
                    "channel": n.channel.value,
                    "address": addr(n.address),
                    "legal_basis": n.legal_basis,
                }
                for p in self.plans
                for n in p.supporters
            ),
        )
        yield "counts", counts
        yield "samples", samples


def _distinct(items: Any) -> list[ChannelName]:
    out: list[ChannelName] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def build_preview(
    session: Session,
    settings: Settings,
    *,
    level: Level,
    scope: Scope,
    exercise: bool = False,
    alert_ref: str = "preview",
) -> Preview:
    """Target and plan an alert without writing anything."""
    from alertsvc.geo.shelter_store import load_shelters

    result = _target(session, settings, scope)
    targets = _with_all_zone_facts(session, settings, scope, result.targets)
    shelters = load_shelters(session)
    plans = plan_alert(
        targets,
        level=level,
        shelters=shelters,
        active_zones=list(scope.zones),
        options=replace(PlanOptions.from_settings(settings), river=scope.river),
        alert_ref=alert_ref,
        exercise=exercise,
    )
    rates = {
        ChannelName.SMS: settings.rates.sms_per_second,
        ChannelName.VOICE: settings.rates.calls_per_second,
        ChannelName.PUSH: settings.rates.push_per_second,
        ChannelName.FAX: settings.rates.fax_per_second,
        ChannelName.LINE: settings.rates.line_per_second,
        ChannelName.EMAIL: settings.rates.email_per_second,
    }
    return Preview(
        level=level,
        scope=scope,
        exercise=exercise,
        plans=tuple(plans),
        unlocated=tuple(result.unlocated),
        shelters=tuple(shelters),
        rates=rates,
    )


def _target(session: Session, settings: Settings, scope: Scope) -> TargetingResult:
    """``find_targets`` over the active register, reading full records only in scope.

    Positions come as columns; one join picks the people in or near the scope; only they
    (and the unlocated, who are always reported) are read in full, and their targets are
    built from that same join (``targets_from_pairs``), so the result is exactly
    ``find_targets(load_residents(...), ...)``: a point's pairs do not depend on the others.
    """
    from alertsvc.geo.grown_store import load_grown_zones
    from alertsvc.geo.targeting import find_targets, join_points, targets_from_pairs
    from alertsvc.services.population import load_people, load_positions

    positions = load_positions(session)
    located = positions.located()
    geometries = [z.geometry for z in scope.zones]
    with_area = scope.area is not None and not scope.area.is_empty
    if scope.area is not None and with_area:
        geometries.append(scope.area)
    located_at = np.flatnonzero(located)
    # zones grown at import (stored with their set) spare the join growing them again
    load_grown_zones(
        session,
        geometries,
        tolerance_m=settings.targeting.edge_tolerance_m,
        metric_crs=settings.municipality.metric_crs,
    )
    pairs = join_points(
        positions.lon[located_at],
        positions.lat[located_at],
        geometries,
        tolerance_m=settings.targeting.edge_tolerance_m,
        metric_crs=settings.municipality.metric_crs,
    )
    hit = np.unique(pairs.point)
    wanted = ~located
    wanted[located_at[hit]] = True
    people = load_people(session, positions.ids[wanted].tolist())
    by_id = {r.id: r for r in people}
    hit_ids = positions.ids[located_at[hit]].tolist()
    unlocated_ids = positions.ids[~located].tolist()
    if all(i in by_id for i in hit_ids) and all(i in by_id for i in unlocated_ids):
        # the points in pairs renumbered 0..len(hit)-1, in the same (id) order
        compact = type(pairs)(np.searchsorted(hit, pairs.point), pairs.zone, pairs.edge_only)
        targets = targets_from_pairs(
            compact, [by_id[i] for i in hit_ids], list(scope.zones), with_area=with_area
        )
        unlocated = [by_id[i] for i in unlocated_ids]
        return TargetingResult(targets=tuple(targets), unlocated=tuple(unlocated))
    # the register changed between the two reads (another writer): target what was read
    return find_targets(
        people,
        list(scope.zones),
        tolerance_m=settings.targeting.edge_tolerance_m,
        metric_crs=settings.municipality.metric_crs,
        area=scope.area,
    )


def _with_all_zone_facts(
    session: Session, settings: Settings, scope: Scope, targets: Sequence[Target]
) -> list[Target]:
    """The scope decides who is alerted; what is safe to advise depends on every zone.

    A house-collapse zone or a deeper inundation zone left out of the alert's scope must
    still forbid "move upstairs" and set the expected depth, so the targets' depth rank and
    house-collapse flag are taken over every stored zone they lie in (with the same edge
    tolerance). ``zone_ids`` stay the zones of the scope.
    """
    from sqlalchemy import func, select

    from alertsvc.db.tables import Zone
    from alertsvc.geo.targeting import find_targets
    from alertsvc.geo.zone_store import load_zones

    if not targets:
        return list(targets)
    in_scope = {z.id for z in scope.zones}
    stored = session.execute(select(func.count()).select_from(Zone)).scalar_one()
    if stored <= len(in_scope) and set(session.execute(select(Zone.id)).scalars()) <= in_scope:
        # every stored zone is in the scope: the targets already carry every zone's facts
        return list(targets)
    facts = find_targets(
        [t.resident for t in targets],
        load_zones(session),
        tolerance_m=settings.targeting.edge_tolerance_m,
        metric_crs=settings.municipality.metric_crs,
    )
    by_id = {f.resident.id: f for f in facts.targets}
    out: list[Target] = []
    for target in targets:
        fact = by_id.get(target.resident.id)
        if fact is None:
            out.append(target)
            continue
        ranks = [r for r in (target.depth_rank, fact.depth_rank) if r is not None]
        out.append(
            replace(
                target,
                depth_rank=max(ranks) if ranks else None,
                house_collapse=target.house_collapse or fact.house_collapse,
            )
        )
    return out


def human_duration(seconds: float) -> str:
    """'10分0秒 / 10 min 0 s' style text for officers."""
    total = math.ceil(seconds)
    minutes, secs = divmod(total, 60)
    if minutes:
        return f"{minutes}分{secs}秒 / {minutes} min {secs} s"
    return f"{secs}秒 / {secs} s"


def sorted_plans(plans: Sequence[PersonPlan]) -> list[PersonPlan]:
    return sorted(plans, key=lambda p: (-p.priority, p.target.resident.id))
