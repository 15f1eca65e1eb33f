"""Reading one poll's documents for the configured stations (one fetch per URL per poll)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from alertsvc.config import StationSettings
from alertsvc.errors import GaugeError, InputError
from alertsvc.watcher.http import Fetcher
from alertsvc.watcher.readings import ParsedDoc, Reading, StationMeta
from alertsvc.watcher.sources import area_feed, generic, river_json, suimon_dat, uk_ea, usgs

__all__ = ["StationInput", "gather", "parse_for", "thresholds_for"]


@dataclass
class StationInput:
    """What one poll found for one station; ``error`` when its source failed."""

    station: StationSettings
    readings: list[Reading] = field(default_factory=list)
    meta: StationMeta | None = None
    error: str | None = None
    not_modified: bool = False


def parse_for(
    station: StationSettings, fetch: Callable[[str], bytes | None], tz: dt.tzinfo
) -> ParsedDoc | None:
    """Fetch and parse the document(s) ``station`` reads. None when the source answered 304."""
    data = fetch(station.url)
    if data is None:
        return None
    what = f"{station.id} ({station.source})"
    kind = station.source
    if kind == "area_feed":
        mapping = {
            key: level
            for key, level in (
                ("warnLevel", station.warn_level_is),
                ("fladLevel", station.flad_level_is),
            )
            if level
        }
        return area_feed.parse(data, what=what, level_map=mapping)
    if kind == "river_json":
        return river_json.parse(data, what=what)
    if kind == "suimon_dat":
        return suimon_dat.parse(data, station_id=station.source_code, what=what)
    if kind == "uk_ea":
        measures = fetch(station.measures_url)
        if measures is None:
            return None
        return uk_ea.parse(data, measures, what=what)
    if kind == "usgs":
        return usgs.parse(data, what=what)
    paths = generic.FieldPaths(
        id_field=station.id_field,
        time_field=station.time_field,
        level_field=station.level_field,
        items_path=station.items_path,
        quality_field=station.quality_field,
        valid_quality=station.valid_quality,
    )
    if kind == "generic_csv":
        return generic.parse_csv(data, paths, tz=tz, what=what)
    return generic.parse_json(data, paths, tz=tz, what=what)


def thresholds_for(station: StationSettings, meta: StationMeta | None) -> dict[int, float]:
    """The source's lines, overridden by the configured ones."""
    lines = dict(meta.thresholds) if meta else {}
    lines.update(station.lines())
    return lines


def gather(
    stations: Sequence[StationSettings], fetcher: Fetcher, *, timezone: str
) -> tuple[list[StationInput], list[str]]:
    """Fetch every source once and split the readings by station; (inputs, warnings)."""
    tz = ZoneInfo(timezone)
    cache: dict[str, bytes | None] = {}
    failures: dict[str, str] = {}
    warnings: list[str] = []

    def fetch(url: str) -> bytes | None:
        if url in failures:
            raise GaugeError(failures[url])
        if url not in cache:
            try:
                result = fetcher.fetch(url)
            except GaugeError as exc:
                failures[url] = exc.message
                raise
            cache[url] = result.content
        return cache[url]

    out: list[StationInput] = []
    parsed: dict[tuple[str, ...], ParsedDoc | None] = {}
    for station in stations:
        item = StationInput(station)
        key = (
            station.source,
            station.url,
            station.measures_url,
            f"{station.warn_level_is}/{station.flad_level_is}",
            station.source_code if station.source == "suimon_dat" else "",
        )
        try:
            if key not in parsed:
                parsed[key] = parse_for(station, fetch, tz)
                doc = parsed[key]
                if doc is not None:
                    warnings.extend(doc.warnings)
            doc = parsed[key]
        except (GaugeError, InputError) as exc:
            item.error = exc.message
            out.append(item)
            continue
        if doc is None:
            item.not_modified = True
        else:
            code = station.source_code
            item.readings = [r for r in doc.readings if r.station_id == code]
            item.meta = doc.stations.get(code)
        out.append(item)
    return out, warnings
