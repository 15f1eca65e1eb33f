"""The pure decision core, table-tested: one row per rule, plus properties over any series."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertsvc.watcher.decide import Decision, Rules, StationState, observe, theil_sen
from alertsvc.watcher.readings import Quality, Reading

T0 = dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC)
LINES = {2: 3.0, 3: 4.0, 4: 5.0, 5: 6.0}
RULES = Rules()
# a reading: (minutes after T0, metres or None for "no valid reading")
Series = Sequence[tuple[int, float | None]]


def _reading(minute: int, value: float | None) -> Reading:
    quality = Quality.OK if value is not None else Quality.INVALID
    return Reading(
        "S1", T0 + dt.timedelta(minutes=minute), value, quality, code="" if value else "160"
    )


def run(
    series: Series, rules: Rules = RULES, *, polls: Sequence[int] = ()
) -> tuple[StationState, list[Decision]]:
    """One poll per reading (now = its time), then empty polls at the ``polls`` minutes."""
    state = StationState()
    out: list[Decision] = []
    for minute, value in series:
        state, made = observe(
            state, [_reading(minute, value)], T0 + dt.timedelta(minutes=minute), LINES, rules
        )
        out.extend(made)
    for minute in polls:
        state, made = observe(state, [], T0 + dt.timedelta(minutes=minute), LINES, rules)
        out.extend(made)
    return state, out


def summary(decisions: list[Decision]) -> list[tuple[int, str, int | None]]:
    return [(int((d.at - T0).total_seconds() // 60), d.kind, d.level) for d in decisions]


def ramp(
    start: float, step: float, n: int, every: int = 10, t0: int = 0
) -> list[tuple[int, float | None]]:
    return [(t0 + i * every, round(start + i * step, 3)) for i in range(n)]


RISE = ramp(3.0, 0.1, 25)  # 0.6 m/h from 3.0 m to 5.4 m
HOVER = [(i * 10, 4.05 if i % 3 != 2 else 3.95) for i in range(30)]
SWING = [(i * 10, 4.3 if (i // 2) % 2 == 0 else 3.7) for i in range(24)]
FLAT_NOISE = [(i * 10, 3.5 + (0.04 if i % 2 else -0.04)) for i in range(20)] + [(200, 3.95)]
FALL = ramp(3.6, 0.2, 4) + ramp(4.3, -0.25, 6, t0=40) + ramp(2.9, -0.02, 9, t0=100)

TABLE: list[tuple[str, Series, Rules, list[tuple[int, str, int | None]]]] = [
    # 3.4 m at 40 min: the trend (0.6 m/h) reaches 4.0 m in 60 min -> recommend level 3
    # before the line; level 4 enters at the second reading >= 5.0 m (and above it while
    # rising 0.6 m/h >= 0.5 m/h at 5.1 m); level 3 is never alerted again
    ("rising: predict 3, enter 4", RISE, RULES, [(40, "predict", 3), (210, "enter", 4)]),
    # hovering at the line: enters once, never leaves (3.95 > 4.0 - 0.1), no storm
    ("hover at the line", HOVER, replace(RULES, lead_time_min=0), [(10, "enter", 3)]),
    # swinging 0.3 m either side: enter once, leave, re-enter silently
    (
        "swing around the line",
        SWING,
        replace(RULES, lead_time_min=0),
        [(10, "enter", 3)] + [(t, "leave", None) for t in (30, 70, 110, 150, 190, 230)],
    ),
    # one reading above the line while rising 1.8 m/h: the rate rule enters at once
    ("rate rule", [(0, 3.9), (10, 4.2)], RULES, [(10, "enter", 3)]),
    # the same one reading above the line, rising slowly: waits for the second reading
    (
        "no rate, two readings",
        [(0, 3.98), (10, 4.01), (20, 4.02)],
        replace(RULES, lead_time_min=0),
        [(20, "enter", 3)],
    ),
    # noise around 3.5 m and one spike: no prediction, no level
    ("noise and a spike", FLAT_NOISE, RULES, []),
    # an impossible jump (6 m in 10 min) is ignored, not a level 5
    ("impossible jump", [(0, 3.0), (10, 9.0), (20, 3.05)], RULES, [(10, "ignored", None)]),
    # rise to level 3 (two readings >= 4.0 m), fall: leave at the second reading below
    # 4.0 - 0.1 m; below 氾濫注意水位 (3.0 m) from 100 min: all-clear proposed at 160 min
    (
        "fall and all-clear",
        FALL,
        RULES,
        [(30, "enter", 3), (70, "leave", None), (160, "all_clear_proposal", None)],
    ),
]


@pytest.mark.parametrize(("name", "series", "rules", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_decision_table(
    name: str, series: Series, rules: Rules, expected: list[tuple[int, str, int | None]]
) -> None:
    _state, decisions = run(series, rules)
    assert summary(decisions) == expected


def test_swing_alerts_level_3_once() -> None:
    _state, decisions = run(SWING, replace(RULES, lead_time_min=0))
    assert [d.level for d in decisions if d.kind in ("enter", "predict")] == [3]


def test_prediction_says_how_long() -> None:
    _state, decisions = run(RISE)
    predict = decisions[0]
    assert predict.kind == "predict" and predict.predicted_at is not None
    assert predict.inputs["minutes"] == 60
    assert predict.predicted_at == T0 + dt.timedelta(minutes=100)


def test_silent_gauge_warns_once_and_never_clears() -> None:
    series = ramp(3.6, 0.2, 4) + ramp(4.3, -0.25, 6, t0=40)  # in an event, falling
    state, decisions = run(series, polls=[100, 110, 130, 200, 400])
    kinds = [d.kind for d in decisions]
    assert kinds.count("stale") == 1 and "all_clear_proposal" not in kinds
    stale = next(d for d in decisions if d.kind == "stale")
    assert stale.at == T0 + dt.timedelta(minutes=130)  # first poll past 30 min of silence
    # back after 5 h with low water: the clock restarts at the first fresh reading
    state, back = observe(state, [_reading(400, 2.5)], T0 + dt.timedelta(minutes=400), LINES, RULES)
    assert [d.kind for d in back] == []
    for minute in (430, 460):
        state, back = observe(
            state, [_reading(minute, 2.4)], T0 + dt.timedelta(minutes=minute), LINES, RULES
        )
    assert [d.kind for d in back] == ["all_clear_proposal"]


def test_invalid_quality_is_not_zero_metres() -> None:
    series = [(0, 4.5), (10, 4.5), (20, None), (30, None), (40, 4.6)]
    state, decisions = run(series)
    assert summary(decisions) == [(10, "enter", 3), (20, "stale", 3)]
    assert state.level == 3 and all(v > 4 for _, v in state.recent)


def test_duplicates_and_out_of_order() -> None:
    state, _ = run([(0, 3.5), (10, 3.5)])
    same = [_reading(10, 3.5)]
    again, decisions = observe(state, same, T0 + dt.timedelta(minutes=12), LINES, RULES)
    assert again == state and decisions == []  # the source has not updated: nothing new
    changed, decisions = observe(
        state, [_reading(10, 3.7)], T0 + dt.timedelta(minutes=12), LINES, RULES
    )
    # ...and served again: reported once only
    _, repeat = observe(changed, [_reading(10, 3.7)], T0 + dt.timedelta(minutes=13), LINES, RULES)
    assert repeat == []
    assert [(d.kind, d.rule) for d in decisions] == [("ignored", "duplicate time, other value")]
    back, decisions = observe(
        state, [_reading(0, 3.5)], T0 + dt.timedelta(minutes=15), LINES, RULES
    )
    assert [d.kind for d in decisions] == ["ignored", "stale"]
    assert "backwards" in decisions[1].rule
    # the same backwards document again: no new decision
    _, decisions = observe(back, [_reading(0, 3.5)], T0 + dt.timedelta(minutes=16), LINES, RULES)
    assert decisions == []


def test_state_round_trips_through_json() -> None:
    state, _ = run(FALL[:8])
    assert StationState.from_dict(state.as_dict()) == state


def test_theil_sen_ignores_one_outlier() -> None:
    points = [(T0 + dt.timedelta(minutes=10 * i), 3.0 + 0.1 * i) for i in range(7)]
    points[3] = (points[3][0], 9.0)
    fit = theil_sen(points)
    assert fit is not None and fit[0] == pytest.approx(0.6)


values = st.one_of(st.none(), st.floats(min_value=0.0, max_value=8.0, allow_nan=False))
steps = st.lists(st.tuples(st.integers(min_value=-20, max_value=60), values), max_size=40)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_properties_over_any_series(raw: list[tuple[int, float | None]]) -> None:
    state = StationState()
    minute = 0
    alerted: set[int] = set()
    for delta, value in raw:
        minute += delta
        reading = _reading(minute, value)
        now = T0 + dt.timedelta(minutes=max(minute, 0) + 5)
        state, decisions = observe(state, [reading], now, LINES, RULES)
        # feeding the same poll again changes nothing (watch --once twice is idempotent)
        again, repeat = observe(state, [reading], now, LINES, RULES)
        assert again == state and repeat == []
        for d in decisions:
            if d.kind in ("enter", "predict"):
                assert d.level not in alerted  # never the same level twice in one event
                alerted.add(d.level or 0)
            if d.kind == "all_clear_proposal":
                assert d.reading is not None and d.reading < LINES[2]
                assert state.level is None
                alerted.clear()
