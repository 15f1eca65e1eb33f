"""The pure decision core: readings + thresholds -> 警戒レベル decisions. No I/O, no clock.

One function, ``observe``, takes a station's state, the readings a poll found for it and
the current time, and returns the new state and the decisions taken. The rules:

* **enter**: a level is entered when ``consecutive`` fresh valid readings in a row are at
  or above its threshold, or one reading is above it while the water rises faster than
  ``rise_rate_m_per_h`` (robust trend over the window).
* **predict**: while below 避難判断水位 (level 3), a Theil–Sen trend over
  ``trend_window_min`` that reaches the line within ``lead_time_min`` recommends level 3
  before the crossing (at least ``trend_min_points`` readings, so one noisy value cannot).
* A level alerted once in an event is never alerted again in that event; a higher level
  is a new decision (sent as an update to the earlier alert).
* **leave**: ``leave_readings`` readings in a row below threshold - ``hysteresis_m``.
* **all_clear_proposal**: after every level is left, fresh readings below the lowest line
  (level 2, else the lowest configured) for ``all_clear_min`` propose a 解除 for an officer;
  a gap in the readings restarts the clock, so a silent gauge never produces one.
* **stale**: no fresh valid reading within ``max_age_min``, an observation time that goes
  backwards, or a quality code that is not valid (once per episode).
* **ignored**: a reading out of order, a repeated time with another value, or a jump
  beyond ``impossible_rate_m_per_h`` is ignored and reported. An exact repeat of the last
  reading (the source has not updated yet) is skipped silently: that is what keeps
  ``watch --once`` idempotent.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from alertsvc.watcher.readings import LEVELS, Reading

__all__ = [
    "Decision",
    "Rules",
    "StationState",
    "lowest_line",
    "observe",
    "predict_crossing",
    "theil_sen",
]

KINDS = ("enter", "predict", "leave", "all_clear_proposal", "stale", "ignored")


@dataclass(frozen=True)
class Rules:
    """Tunable rule parameters (``[watcher]`` in the config; per station overrides)."""

    consecutive: int = 2
    rise_rate_m_per_h: float = 0.5
    lead_time_min: float = 60.0
    trend_window_min: float = 60.0
    trend_min_points: int = 3
    hysteresis_m: float = 0.1
    leave_readings: int = 2
    all_clear_min: float = 60.0
    max_age_min: float = 30.0
    impossible_rate_m_per_h: float = 5.0


@dataclass(frozen=True)
class Decision:
    """One decision and the inputs it was taken on (recorded in watch_events and audit)."""

    kind: str
    at: dt.datetime
    reading: float | None
    level: int | None
    rule: str
    predicted_at: dt.datetime | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StationState:
    """What the core remembers between polls (stored as JSON by the watcher store)."""

    recent: tuple[tuple[dt.datetime, float], ...] = ()  # accepted valid readings, oldest first
    last_at: dt.datetime | None = None  # newest accepted observation time (any quality)
    level: int | None = None
    alerted: frozenset[int] = frozenset()  # levels alerted in this event
    below_since: dt.datetime | None = None
    stale: bool = False  # a stale warning was given and no fresh reading came since
    ignored: tuple[dt.datetime, float | None] | None = None  # the last reading ignored

    @property
    def last_valid(self) -> tuple[dt.datetime, float] | None:
        return self.recent[-1] if self.recent else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recent": [[t.isoformat(), v] for t, v in self.recent],
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "level": self.level,
            "alerted": sorted(self.alerted),
            "below_since": self.below_since.isoformat() if self.below_since else None,
            "stale": self.stale,
            "ignored": [self.ignored[0].isoformat(), self.ignored[1]] if self.ignored else None,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> StationState:
        def t(v: Any) -> dt.datetime | None:
            return dt.datetime.fromisoformat(v) if v else None

        return cls(
            recent=tuple(
                (dt.datetime.fromisoformat(a), float(b)) for a, b in doc.get("recent", [])
            ),
            last_at=t(doc.get("last_at")),
            level=doc.get("level"),
            alerted=frozenset(int(x) for x in doc.get("alerted", [])),
            below_since=t(doc.get("below_since")),
            stale=bool(doc.get("stale", False)),
            ignored=(
                (dt.datetime.fromisoformat(doc["ignored"][0]), doc["ignored"][1])
                if doc.get("ignored")
                else None
            ),
        )


def theil_sen(points: Sequence[tuple[dt.datetime, float]]) -> tuple[float, float] | None:
    """Robust linear trend: (slope in m/h, fitted level at the newest time), or None.

    The median of pairwise slopes ignores up to ~29% outliers, so one spike in a quiet
    series does not make a trend. None with fewer than two points.
    """
    if len(points) < 2:
        return None
    t0 = points[-1][0]
    xs = [(t - t0).total_seconds() / 3600.0 for t, _ in points]
    ys = [v for _, v in points]
    slopes = [
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    if not slopes:
        return None
    slope = statistics.median(slopes)
    intercept = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))
    return slope, intercept


def _window(state: StationState, rules: Rules) -> list[tuple[dt.datetime, float]]:
    if not state.recent:
        return []
    newest = state.recent[-1][0]
    start = newest - dt.timedelta(minutes=rules.trend_window_min)
    return [p for p in state.recent if p[0] >= start]


def predict_crossing(
    state: StationState, line: float, rules: Rules
) -> tuple[dt.datetime, float] | None:
    """When the trend reaches ``line`` within the lead time: (time, slope m/h), else None."""
    window = _window(state, rules)
    if len(window) < rules.trend_min_points:
        return None
    fit = theil_sen(window)
    if fit is None:
        return None
    slope, fitted = fit
    latest = window[-1][1]
    if slope <= 0 or latest >= line:
        return None
    # the fitted level, not the last value: one high reading must not bring the line closer
    hours = (line - fitted) / slope
    # a tolerance so that exactly "in 60 min" is within a 60-minute lead time
    if hours * 60.0 > rules.lead_time_min + 1e-6:
        return None
    return window[-1][0] + dt.timedelta(hours=max(hours, 0.0)), slope


def lowest_line(thresholds: Mapping[int, float]) -> float | None:
    """氾濫注意水位 (level 2) if known, else the lowest configured line."""
    if 2 in thresholds:
        return thresholds[2]
    levels = [thresholds[lv] for lv in LEVELS if lv in thresholds]
    return min(levels) if levels else None


def _stale_check(
    state: StationState, now: dt.datetime, rules: Rules, reason: str | None
) -> tuple[StationState, list[Decision]]:
    last = state.last_valid
    if reason is None:
        if last is not None and now - last[0] > dt.timedelta(minutes=rules.max_age_min):
            reason = f"no fresh reading since {last[0].isoformat()}"
        else:
            return state, []
    if state.stale:
        return state, []
    decision = Decision(
        "stale",
        now,
        last[1] if last else None,
        state.level,
        reason,
        inputs={"last_reading_at": last[0].isoformat() if last else None},
    )
    return replace(state, stale=True), [decision]


def _inputs(state: StationState, thresholds: Mapping[int, float], n: int) -> dict[str, Any]:
    return {
        "readings": [[t.isoformat(), v] for t, v in state.recent[-max(n, 1) :]],
        "thresholds": {str(k): v for k, v in sorted(thresholds.items())},
    }


def _ignore(
    state: StationState, reading: Reading, why: str
) -> tuple[StationState, Decision | None, bool]:
    """Ignore ``reading`` once: the same reading served again is not reported again."""
    key = (reading.observed_at, reading.level_m)
    if state.ignored == key:
        return state, None, False
    decision = Decision("ignored", reading.observed_at, reading.level_m, state.level, why)
    return replace(state, ignored=key), decision, False


def _accept(
    state: StationState, reading: Reading, rules: Rules
) -> tuple[StationState, Decision | None, bool]:
    """Apply one reading's bookkeeping: (state, ignored/stale decision, counts as fresh)."""
    if state.last_at is not None and reading.observed_at <= state.last_at:
        if reading.observed_at == state.last_at and reading.level_m is not None:
            last = state.last_valid
            if last is None or last[0] != reading.observed_at or last[1] != reading.level_m:
                return _ignore(state, reading, "duplicate time, other value")
        return state, None, False  # already seen (the source has not updated yet)
    if not reading.quality.valid or reading.level_m is None:
        state = replace(state, last_at=reading.observed_at)
        if state.stale:
            return state, None, False
        d = Decision(
            "stale",
            reading.observed_at,
            None,
            state.level,
            f"no valid reading (quality {reading.quality.value} {reading.code})".strip(),
        )
        return replace(state, stale=True), d, False
    last = state.last_valid
    if last is not None:
        hours = max((reading.observed_at - last[0]).total_seconds() / 3600.0, 1 / 6)
        if abs(reading.level_m - last[1]) / hours > rules.impossible_rate_m_per_h:
            why = (
                f"impossible jump {last[1]:.2f} -> {reading.level_m:.2f} m "
                f"(limit {rules.impossible_rate_m_per_h:g} m/h)"
            )
            return _ignore(replace(state, last_at=reading.observed_at), reading, why)
        if reading.observed_at - last[0] > dt.timedelta(minutes=rules.max_age_min):
            state = replace(state, below_since=None)  # a gap restarts the all-clear clock
    recent = (*state.recent, (reading.observed_at, reading.level_m))[-64:]
    return replace(state, recent=recent, last_at=reading.observed_at, stale=False), None, True


def _levels_step(
    state: StationState, thresholds: Mapping[int, float], rules: Rules
) -> tuple[StationState, list[Decision]]:
    at, value = state.recent[-1]
    out: list[Decision] = []
    fit = theil_sen(_window(state, rules))
    slope = fit[0] if fit else 0.0
    n = rules.consecutive
    target: int | None = None
    rule = ""
    for lv in LEVELS:
        line = thresholds.get(lv)
        if line is None:
            continue
        run = state.recent[-n:]
        if len(run) == n and all(v >= line for _, v in run):
            target, rule = lv, f"{n} consecutive readings >= {line:g} m"
        elif value > line and slope >= rules.rise_rate_m_per_h:
            target, rule = lv, f"above {line:g} m and rising {slope:.2f} m/h"
    current = state.level
    if target is not None and (current is None or target > current):
        state = replace(state, level=target, below_since=None)
        if target not in state.alerted:
            state = replace(state, alerted=state.alerted | {target})
            out.append(
                Decision("enter", at, value, target, rule, inputs=_inputs(state, thresholds, n))
            )
        return state, out
    # de-escalation: M readings in a row below the current line minus the margin
    m = rules.leave_readings
    while state.level is not None:
        line = thresholds.get(state.level)
        run = state.recent[-m:]
        if line is None or len(run) < m or not all(v < line - rules.hysteresis_m for _, v in run):
            break
        if predict_crossing(state, line, rules) is not None:
            break  # still rising towards the line (a level given ahead by the lead-time rule)
        lower = [lv for lv in LEVELS if lv < state.level and lv in thresholds]
        new = max(lower) if lower else None
        state = replace(state, level=new)
        out.append(
            Decision(
                "leave",
                at,
                value,
                new,
                f"{m} readings < {line:g} - {rules.hysteresis_m:g} m",
                inputs=_inputs(state, thresholds, m),
            )
        )
    if state.level is None and 3 in thresholds and 3 not in state.alerted:
        crossing = predict_crossing(state, thresholds[3], rules)
        if crossing is not None:
            when, rate = crossing
            state = replace(state, level=3, alerted=state.alerted | {3}, below_since=None)
            minutes = max(0, round((when - at).total_seconds() / 60))
            out.append(
                Decision(
                    "predict",
                    at,
                    value,
                    3,
                    f"trend {rate:.2f} m/h reaches {thresholds[3]:g} m in {minutes} min",
                    predicted_at=when,
                    inputs={
                        **_inputs(state, thresholds, rules.trend_min_points),
                        "minutes": minutes,
                    },
                )
            )
            return state, out
    lowest = lowest_line(thresholds)
    if state.level is None and state.alerted and lowest is not None:
        if value < lowest:
            since = state.below_since or at
            state = replace(state, below_since=since)
            if at - since >= dt.timedelta(minutes=rules.all_clear_min):
                out.append(
                    Decision(
                        "all_clear_proposal",
                        at,
                        value,
                        None,
                        f"below {lowest:g} m since {since.isoformat()}",
                        inputs=_inputs(state, thresholds, 1),
                    )
                )
                # the event ends here: a new rise is a new event
                state = replace(state, alerted=frozenset(), below_since=None)
        else:
            state = replace(state, below_since=None)
    return state, out


def observe(
    state: StationState,
    readings: Sequence[Reading],
    now: dt.datetime,
    thresholds: Mapping[int, float],
    rules: Rules,
) -> tuple[StationState, list[Decision]]:
    """Feed one poll's readings (any order) of one station; returns (new state, decisions).

    Pure and deterministic: the same state, readings and ``now`` give the same result, and
    feeding the same readings again changes nothing.
    """
    decisions: list[Decision] = []
    fresh = False
    ordered = sorted(readings, key=lambda r: r.observed_at)
    for reading in ordered:
        state, note, counted = _accept(state, reading, rules)
        if note is not None:
            decisions.append(note)
        if counted:
            fresh = True
            state, made = _levels_step(state, thresholds, rules)
            decisions.extend(made)
    reason = None
    if (
        not fresh
        and ordered
        and state.last_at is not None
        and ordered[-1].observed_at < state.last_at
    ):
        # the source now serves an older reading than one it served before
        reason = "observation time went backwards"
        if not state.stale:
            last = ordered[-1]
            decisions.append(
                Decision("ignored", last.observed_at, last.level_m, state.level, reason)
            )
    state, stale = _stale_check(state, now, rules, reason)
    return state, decisions + stale
