"""The demo's synthetic river series walks every rule the demo shows, in order."""

from __future__ import annotations

import datetime as dt

from alertsvc.watcher.decide import Rules, StationState, observe
from alertsvc.watcher.demo_series import DEMO_CODE, demo_snapshots
from alertsvc.watcher.sources import area_feed


def test_demo_series_decisions() -> None:
    end = dt.datetime(2026, 7, 1, 3, 0, tzinfo=dt.UTC)
    state = StationState()
    seen = []
    for at, data in demo_snapshots(end):
        doc = area_feed.parse(data)
        lines = doc.stations[DEMO_CODE].thresholds
        state, made = observe(state, doc.readings, at + dt.timedelta(minutes=1), lines, Rules())
        seen += [(d.kind, d.level, d.reading) for d in made]
    assert lines == {3: 4.0, 4: 5.0}
    assert seen == [
        ("predict", 3, 3.0),  # 53 min ahead of 4.0 m at 1.14 m/h
        ("enter", 4, 5.2),
        ("leave", 3, 4.3),
        ("leave", None, 3.5),
        ("all_clear_proposal", None, 2.4),
    ]
