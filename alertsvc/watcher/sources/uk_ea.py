"""UK Environment Agency flood-monitoring: stations (``_view=full``) and latest readings.

Stations carry ``stageScale.typicalRangeLow/High``; measures carry ``latestReading``.
They are joined on ``station.measures[].@id == measure.@id``. The typical range's high
end is the station's lowest line (level 2); levels 3–5 come from the config. A station
whose range is broken (missing, or low >= high) or whose reading is older than
``max_age`` before the newest reading in the document is skipped with a warning.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from alertsvc.errors import GaugeDataInvalid
from alertsvc.watcher.readings import ParsedDoc, Quality, Reading, StationMeta, parse_time
from alertsvc.watcher.sources._common import as_float, load_json

__all__ = ["parse"]


def _items(data: bytes, what: str) -> list[Any]:
    doc = load_json(data, what)
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise GaugeDataInvalid(f"{what}: expected an object with an 'items' array")
    return items


def parse(
    stations: bytes,
    measures: bytes,
    *,
    max_age: dt.timedelta = dt.timedelta(hours=6),
    what: str = "EA",
) -> ParsedDoc:
    """Readings of every station with a sane range and a recent reading."""
    out = ParsedDoc()
    latest: dict[str, tuple[dt.datetime, float]] = {}
    for measure in _items(measures, f"{what} measures"):
        if not isinstance(measure, dict):
            continue
        reading = measure.get("latestReading")
        if not isinstance(reading, dict):
            continue  # a measure with no reading at all: nothing to say
        value = as_float(reading.get("value"))
        try:
            at = parse_time(reading.get("dateTime"))
        except ValueError:
            continue
        if value is not None:
            latest[str(measure.get("@id"))] = (at, value)
    newest = max((at for at, _ in latest.values()), default=None)
    for station in _items(stations, f"{what} stations"):
        if not isinstance(station, dict):
            continue
        ref = str(station.get("stationReference") or station.get("notation") or "")
        if not ref:
            continue
        scale = station.get("stageScale")
        low = as_float(scale.get("typicalRangeLow")) if isinstance(scale, dict) else None
        high = as_float(scale.get("typicalRangeHigh")) if isinstance(scale, dict) else None
        if low is None or high is None or low >= high:
            out.warnings.append(f"{what} {ref}: typical range missing or broken; skipped")
            continue
        measure_ids = [
            str(m.get("@id")) for m in station.get("measures") or [] if isinstance(m, dict)
        ]
        found = [latest[m] for m in measure_ids if m in latest]
        if not found:
            out.warnings.append(f"{what} {ref}: no reading; skipped")
            continue
        at, value = max(found)
        if newest is not None and newest - at > max_age:
            out.warnings.append(f"{what} {ref}: stale reading from {at.isoformat()}; skipped")
            continue
        out.stations[ref] = StationMeta(ref, str(station.get("label") or ""), {2: high})
        out.readings.append(Reading(ref, at, value, Quality.OK))
    return out
