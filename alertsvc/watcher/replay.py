"""Replaying a recorded series through the decision core: nothing is sent or saved.

A replay reads a 水文水質DB .dat file (one poll per hourly value) or a folder of
area-feed snapshots in file-name order (one poll per snapshot, at the document's
``generatedAt``, else its newest observation time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from alertsvc.errors import AlertsvcError, InputError
from alertsvc.watcher.decide import Decision, Rules, StationState, observe
from alertsvc.watcher.readings import LEVELS, Reading, StationMeta, parse_time
from alertsvc.watcher.sources import area_feed, suimon_dat
from alertsvc.watcher.sources._common import load_json

__all__ = ["ReplayResult", "replay", "snapshots"]


@dataclass
class ReplayResult:
    station: str
    readings: int
    decisions: list[Decision]
    thresholds: dict[int, float]

    def as_dict(self, tz: dt.tzinfo = dt.UTC) -> dict[str, object]:
        """The ``watch replay --json`` document, times in ``tz``."""
        return {
            "station": self.station,
            "readings": self.readings,
            "decisions": [
                {
                    "at": d.at.astimezone(tz).isoformat(),
                    "reading": d.reading,
                    "level": d.level,
                    "kind": d.kind,
                }
                for d in self.decisions
            ],
        }


Poll = tuple[dt.datetime, list[Reading], StationMeta | None]


def snapshots(path: Path, code: str, level_map: Mapping[str, int]) -> Iterator[Poll]:
    """(poll time, the station's readings, its metadata) for each recorded poll.

    InputError naming the file for anything unreadable: a replay's input is a file.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json")
        if not files:
            raise InputError(f"{path}: no .json area-feed snapshots in this folder")
        for file in files:
            data = file.read_bytes()
            try:
                doc = area_feed.parse(data, what=str(file), level_map=level_map)
                wrapper = load_json(data, str(file))
            except AlertsvcError as exc:
                raise InputError(exc.message) from exc
            readings = [r for r in doc.readings if r.station_id == code]
            at: dt.datetime | None = None
            stamp = wrapper.get("generatedAt") if isinstance(wrapper, dict) else None
            if stamp:
                try:
                    at = parse_time(stamp)
                except ValueError:
                    at = None
            if at is None:
                newest = [r.observed_at for r in doc.readings]
                if not newest:
                    continue
                at = max(newest)
            yield at, readings, doc.stations.get(code)
        return
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    parsed = suimon_dat.parse(path.read_bytes(), station_id=code, what=str(path))
    meta = parsed.stations.get(code)
    for reading in parsed.readings:
        yield reading.observed_at, [reading], meta


def replay(
    path: Path,
    *,
    station: str,
    code: str,
    rules: Rules,
    base_lines: Mapping[int, float],
    overrides: Mapping[int, float],
    level_map: Mapping[str, int] = area_feed.DEFAULT_LEVEL_MAP,
) -> ReplayResult:
    """Run the decision core over the recorded polls of ``code``.

    Lines: the source's, then ``base_lines`` (the station's config), then ``overrides``
    (``--threshold``). InputError when no level 3–5 line is known.
    """
    state = StationState()
    decisions: list[Decision] = []
    count = 0
    published: dict[int, float] = {}
    lines = {**base_lines, **overrides}
    for at, readings, meta in snapshots(path, code, level_map):
        if meta is not None:
            published = dict(meta.thresholds)  # a gauge absent from a snapshot keeps its lines
        lines = {**published, **base_lines, **overrides}
        count += len(readings)
        state, made = observe(state, readings, at, lines, rules)
        decisions.extend(made)
    if not any(lv in lines for lv in LEVELS):
        raise InputError(
            f"{station}: no level 3-5 line known; give --threshold 3=METRES (and 4=, 5=)"
        )
    return ReplayResult(station, count, decisions, lines)
