"""One watcher poll: fetch, decide, record, then draft or send, and tell the duty officers.

``poll`` is what ``alertsvc watch --once`` and the scheduler job run. Each station is
decided in its own transaction with its state row locked, and every decision is stored
under a unique key, so two overlapping polls (cron and ``serve``) or a repeated poll on
the same readings change nothing. Notifications go out after the commit: a notifier
that fails never undoes a decision.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from alertsvc.audit import record
from alertsvc.config import Settings, StationSettings, WatcherSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, AlertDraft, WatchEvent, WatchStation
from alertsvc.dispatch.alerts import alert_family
from alertsvc.errors import AlertsvcError
from alertsvc.models import Level, RiverForecast
from alertsvc.watcher.decide import Decision, Rules, StationState, observe, predict_crossing
from alertsvc.watcher.gather import StationInput, gather, thresholds_for
from alertsvc.watcher.http import Fetcher
from alertsvc.watcher.notify import Notifier
from alertsvc.watcher.readings import Quality

__all__ = ["LINE_NAMES", "PollResult", "StationReport", "decision_note", "poll", "rules_from"]

log = logging.getLogger(__name__)

LINE_NAMES = {2: "氾濫注意水位", 3: "避難判断水位", 4: "氾濫危険水位", 5: "氾濫発生水位"}
ACTOR = "watcher"


def rules_from(w: WatcherSettings) -> Rules:
    """The decision rules configured in [watcher]."""
    return Rules(
        consecutive=w.consecutive,
        rise_rate_m_per_h=w.rise_rate_m_per_h,
        lead_time_min=w.lead_time_minutes,
        trend_window_min=w.trend_window_minutes,
        trend_min_points=w.trend_min_points,
        hysteresis_m=w.hysteresis_m,
        leave_readings=w.leave_readings,
        all_clear_min=w.all_clear_minutes,
        max_age_min=w.max_age_minutes,
        impossible_rate_m_per_h=w.impossible_rate_m_per_h,
    )


@dataclass(frozen=True)
class StationReport:
    id: str
    reading: float | None
    observed_at: dt.datetime | None
    quality: str  # ok | stale | missing | invalid
    level: int | None
    predicted_level3_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reading": self.reading,
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
            "quality": self.quality,
            "level": self.level,
            "predicted_level3_at": (
                self.predicted_level3_at.isoformat() if self.predicted_level3_at else None
            ),
        }


@dataclass
class PollResult:
    stations: list[StationReport] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed_sources: int = 0
    decisions: list[tuple[str, Decision]] = field(default_factory=list)

    @property
    def all_failed(self) -> bool:
        """Every station's source failed (exit 1)."""
        return bool(self.stations) and self.failed_sources == len(self.stations)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stations": [s.as_dict() for s in self.stations],
            "drafts": list(self.drafts),
            "alerts": list(self.alerts),
            "warnings": list(self.warnings),
        }


def decision_note(station: StationSettings, d: Decision, lines: dict[int, float]) -> str:
    """Why the watcher made this decision, for the officer (Japanese / English)."""
    name = station.name or station.id
    head = f"河川監視 / river watcher {name}"
    reading = f"{d.reading:.2f} m" if d.reading is not None else "—"
    if d.kind == "predict":
        minutes = d.inputs.get("minutes", 0)
        return (
            f"{head}: 予測: {minutes}分後に避難判断水位 ({lines[3]:.2f} m) — 現在 {reading} / "
            f"forecast: 避難判断水位 in {minutes} min ({d.rule})"
        )
    if d.kind == "enter" and d.level is not None:
        line = lines.get(d.level)
        where = f"{LINE_NAMES[d.level]} {line:.2f} m" if line is not None else LINE_NAMES[d.level]
        return f"{head}: {reading} ≥ {where} / at or above {where} ({d.rule})"
    if d.kind == "all_clear_proposal":
        return (
            f"{head}: {reading} — 解除の提案 (担当者の承認が必要) / all-clear proposed, "
            f"an officer decides ({d.rule})"
        )
    if d.kind == "stale":
        return f"{head}: 水位計の異常・途絶 / gauge silent or invalid: {d.rule}"
    return f"{head}: {d.kind} {reading} ({d.rule})"


def _event_key(station_id: str, d: Decision) -> str:
    return f"{station_id}|{d.kind}|{d.at.isoformat()}|{d.level}"


def _live_alert(
    session: Session, parent: dict[str, Any] | None, zone_sets: list[str], level: int
) -> Alert | None:
    """The live alert a higher level should update instead of alerting anew: this
    station's earlier alert (sent, or its draft sent by an officer since), else any
    active live alert whose zone sets all lie within ``zone_sets``; only when its level
    is lower and it is still active (not cancelled or cleared)."""
    candidates: list[str] = []
    if parent:
        if parent.get("alert"):
            candidates.append(str(parent["alert"]))
        elif parent.get("draft"):
            draft = session.get(AlertDraft, parent["draft"])
            if draft is not None and draft.alert_id:
                candidates.append(draft.alert_id)
    for found_id in candidates:
        found = session.get(Alert, found_id)
        if found is not None and found.parent_id is not None:
            # a draft sent as an update: its original is the live alert
            found = session.get(Alert, found.parent_id)
        if found is not None and found.state == "active" and not found.exercise:
            # already at this level or above (an officer updated it): _act sends nothing
            return found
    wanted = set(zone_sets)
    for other in session.scalars(
        select(Alert)
        .where(Alert.state == "active", Alert.kind == "alert", Alert.parent_id.is_(None),
               Alert.exercise.is_(False))
        .order_by(Alert.created_at.desc())
    ):  # fmt: skip
        scope = other.scope or {}
        sets = set(scope.get("zone_sets") or [])
        if sets and sets <= wanted and not scope.get("zone_ids") and not scope.get("area_wkt"):
            family_level = max(a.level for a in alert_family(session, other.id))
            if family_level < level:
                return other
    return None


def _act(
    session: Session,
    settings: Settings,
    station: StationSettings,
    row: WatchStation,
    d: Decision,
    lines: dict[int, float],
) -> dict[str, Any]:
    """Draft, send or update the alert a level decision calls for; returns the outcome.

    A higher level while an alert for these zones is live is an *update* of it
    (``services.lifecycle.update_alert``, as ``alert update ID --level N``): everyone
    already alerted gets the new level once, the newly in scope get the alert, nobody is
    alerted twice for one level. ``auto`` applies it; ``recommend`` saves a draft marked
    ``updates`` that ``alert send --draft`` applies the same way.
    """
    from alertsvc.services.drafts import save_draft
    from alertsvc.services.lifecycle import update_alert
    from alertsvc.services.preview import build_preview
    from alertsvc.services.scope import resolve_scope
    from alertsvc.services.send import send_preview

    assert d.level is not None
    level = d.level
    # everyone already alerted plus the newly affected: the zone sets of every level up to it
    zone_sets: list[str] = []
    for lv in range(3, level + 1):
        zone_sets.extend(z for z in station.zone_sets(lv) if z not in zone_sets)
    earlier = {int(k): v for k, v in (row.alerts or {}).items() if int(k) < level}
    parent = earlier[max(earlier)] if earlier else None
    note = decision_note(station, d, lines)
    with session.begin_nested():
        live = _live_alert(session, parent, zone_sets, level)
        if live is not None:
            # the update's scope keeps the live alert's zones: nobody already alerted is lost
            zone_sets.extend(z for z in (live.scope or {}).get("zone_sets", [])
                             if z not in zone_sets)  # fmt: skip
            note += f" · 更新 / updates {live.id}"
        elif parent:
            ref = parent.get("alert") or parent.get("draft")
            note += f" · 先行 / follows {ref}"
        # the messages name the river flood forecast this level stands for (レベル4氾濫危険警報 …)
        river = RiverForecast(station.name or station.id, level)
        scope = replace(resolve_scope(session, zone_sets), river=river)
        preview = build_preview(session, settings, level=Level(level), scope=scope)
        outcome: dict[str, Any] = {"note": note, "zone_sets": zone_sets, "parent": parent}
        if live is not None:
            outcome["updates"] = live.id
        members = alert_family(session, live.id) if live is not None else []
        reached_sets = {z for a in members for z in (a.scope or {}).get("zone_sets", [])}
        # at this level already (an officer updated it) and for every zone: nothing to send.
        # At the level but not for every zone: a new alert, so nobody new is left out.
        covered = bool(members) and max(a.level for a in members) >= level
        if covered and not set(zone_sets) <= reached_sets:
            assert live is not None
            outcome["note"] = note.replace(f"更新 / updates {live.id}", f"先行 / follows {live.id}")
            covered, live = False, None
            outcome.pop("updates")
        if covered:
            assert live is not None
            # the live alert is at this level already: nobody is alerted twice for it
            outcome["note"] = f"{decision_note(station, d, lines)} · 発令済み / already at level " \
                f"{level}: {live.id}"  # fmt: skip
            outcome.pop("updates")
            outcome["covered_by"] = live.id
            row.alerts = {**(row.alerts or {}), str(level): {"alert": live.id}}
        elif station.policy(level) == "auto" and live is not None:
            updated = update_alert(session, settings, live.id, preview, actor=ACTOR)
            outcome["alert_id"] = live.id
            outcome["update"] = updated.as_dict()
            row.alerts = {**(row.alerts or {}), str(level): {"alert": live.id}}
        elif station.policy(level) == "auto":
            sent = send_preview(session, settings, preview, actor=ACTOR)
            outcome["alert_id"] = sent.alert_id
            row.alerts = {**(row.alerts or {}), str(level): {"alert": sent.alert_id}}
        else:
            draft_id = save_draft(session, preview, source="watcher", actor=ACTOR, note=note,
                                  updates=live.id if live is not None else None)  # fmt: skip
            outcome["draft_id"] = draft_id
            row.alerts = {**(row.alerts or {}), str(level): {"draft": draft_id}}
    return outcome


def _quality(item: StationInput, state: StationState, now: dt.datetime, rules: Rules) -> str:
    newest = max(item.readings, key=lambda r: r.observed_at) if item.readings else None
    if newest is not None and not newest.quality.valid:
        # the source's latest word is "no valid reading": 欠測 is missing, 閉局 and any
        # other code invalid
        return "missing" if newest.quality == Quality.MISSING else "invalid"
    last = state.last_valid
    if last is None:
        return "missing"
    if state.stale or now - last[0] > dt.timedelta(minutes=rules.max_age_min):
        return "stale"
    return "ok"


def _decide_station(
    session: Session,
    settings: Settings,
    item: StationInput,
    now: dt.datetime,
    rules: Rules,
    result: PollResult,
    notices: list[tuple[int, str, str, str]],
) -> None:
    station = item.station
    row = session.scalars(
        select(WatchStation).where(WatchStation.station_id == station.id).with_for_update()
    ).one_or_none()
    if row is None:
        row = WatchStation(station_id=station.id, memory={}, thresholds={}, alerts={})
        session.add(row)
    state = StationState.from_dict(row.memory or {})
    lines = thresholds_for(station, item.meta)
    if item.meta is None and row.thresholds:
        # absent from this document: keep the lines it published last time
        known = {int(k): float(v) for k, v in row.thresholds.items()}
        lines = {**known, **station.lines()}
    new_state, decisions = observe(state, item.readings, now, lines, rules)
    for d in decisions:
        key = _event_key(station.id, d)
        if session.scalars(select(WatchEvent.id).where(WatchEvent.key == key)).first():
            continue  # decided and recorded by an earlier poll
        outcome: dict[str, Any] = {}
        if d.kind in ("enter", "predict") and d.level is not None:
            try:
                outcome = _act(session, settings, station, row, d, lines)
            except AlertsvcError as exc:
                outcome = {"error": exc.message}
                result.warnings.append(f"{station.id}: level {d.level}: {exc.message}")
        if d.kind == "all_clear_proposal":
            outcome = {"note": decision_note(station, d, lines)}
            row.alerts = {}  # the event is over; a new rise starts a new one
        if d.kind == "ignored":
            log.warning("watcher %s ignored a reading: %s", station.id, d.rule)
        event = WatchEvent(
            key=key,
            station_id=station.id,
            kind=d.kind,
            at=d.at,
            reading=d.reading,
            level=d.level,
            rule=d.rule,
            predicted_at=d.predicted_at,
            inputs=dict(d.inputs),
            draft_id=outcome.get("draft_id"),
            alert_id=outcome.get("alert_id"),
            outcome=outcome,
        )
        session.add(event)
        session.flush()
        record(
            session,
            "watch.decision",
            {
                "station": station.id,
                "kind": d.kind,
                "at": d.at.isoformat(),
                "reading": d.reading,
                "level": d.level,
                "rule": d.rule,
                "inputs": dict(d.inputs),
            },
            {k: v for k, v in outcome.items() if k in ("draft_id", "alert_id", "error")},
            actor=ACTOR,
        )
        result.decisions.append((station.id, d))
        if outcome.get("draft_id"):
            result.drafts.append(outcome["draft_id"])
        if outcome.get("alert_id"):
            result.alerts.append(outcome["alert_id"])
        if d.kind == "stale":
            result.warnings.append(f"{station.id}: stale: {d.rule}")
        if d.kind in ("predict", "enter", "all_clear_proposal", "stale"):
            text = outcome.get("note") or decision_note(station, d, lines)
            if outcome.get("draft_id"):
                text += f" — alertsvc alert send --draft {outcome['draft_id']}"
            title = f"河川監視 {station.name or station.id}"
            notices.append((event.id, key, title, text))
    quality = _quality(item, new_state, now, rules)
    last = new_state.last_valid
    eta = None
    if 3 in lines and new_state.level is None and last is not None and last[1] < lines[3]:
        crossing = predict_crossing(new_state, lines[3], rules)
        eta = crossing[0] if crossing else None
    values: dict[str, Any] = {
        "thresholds": {str(k): v for k, v in sorted(lines.items())},
        "reading": last[1] if last else None,
        "observed_at": last[0] if last else None,
        "quality": quality,
        "level": new_state.level,
        "predicted_level3_at": eta,
    }
    if new_state != state:
        row.memory = new_state.as_dict()
    changed = new_state != state
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        row.updated_at = now  # a repeated poll on the same readings leaves the row as it was
    result.stations.append(
        StationReport(station.id, row.reading, row.observed_at, quality, row.level, eta)
    )


def poll(
    engine: Engine,
    settings: Settings,
    fetcher: Fetcher,
    *,
    now: dt.datetime,
    notifier: Notifier | None,
) -> PollResult:
    """Run one poll over every configured station; never raises for a source problem.

    A failing source is a warning (its stations still get the stale check); the result's
    ``all_failed`` says whether every source failed. AlertsvcError only for the database.
    """
    rules = rules_from(settings.watcher)
    result = PollResult()
    inputs, parse_warnings = gather(
        settings.watcher.stations, fetcher, timezone=settings.municipality.timezone
    )
    result.warnings.extend(parse_warnings)
    notices: list[tuple[int, str, str, str]] = []
    for item in inputs:
        if item.error is not None:
            result.failed_sources += 1
            result.warnings.append(f"{item.station.id}: source failed: {item.error}")
        with session_scope(engine) as session:
            _decide_station(session, settings, item, now, rules, result, notices)
    if notices and notifier is None:
        result.warnings.append(
            "当番職員の連絡先がありません / no duty officer contacts ([duty]): nobody was told"
        )
    elif notices and notifier is not None:
        for event_id, key, title, text in notices:
            try:
                told = notifier.notify(key, title, text)
            except AlertsvcError as exc:
                told = [f"failed: {exc.message}"]
                result.warnings.append(f"duty notification failed: {exc.message}")
            with session_scope(engine) as session:
                event = session.get(WatchEvent, event_id)
                if event is not None:
                    event.outcome = {**(event.outcome or {}), "notified": told}
    return result
