"""水文水質データベース download (.dat), 時刻水位月表: Shift_JIS text.

Data rows are ``YYYY/MM/DD,v1,f1,v2,f2,…,v24,f24``: the water level for hours 1–24 of the
day, each followed by a flag (blank: valid, ``*`` provisional, ``$`` missing, ``#`` station
closed, ``-`` not registered). 24時 is 00:00 of the next day. Header lines (station name,
number, units) are kept for the station name; values like ``-9999.99`` are missing.
Used for replays of historical floods, so every row problem is an error naming the line.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from alertsvc.errors import InputError, RowError
from alertsvc.watcher.readings import ParsedDoc, Quality, Reading, StationMeta
from alertsvc.watcher.sources._common import as_float

__all__ = ["FLAGS", "parse"]

JST = ZoneInfo("Asia/Tokyo")
FLAGS = {
    "": Quality.OK,
    "*": Quality.PROVISIONAL,
    "$": Quality.MISSING,
    "#": Quality.CLOSED,
    "-": Quality.MISSING,
}
_DATE = re.compile(r"^\s*(\d{4})/(\d{1,2})/(\d{1,2})\s*$")
_STATION = re.compile(r"観測所名\s*[,:：]?\s*([^,\r\n]+)")


def parse(data: bytes, *, station_id: str, what: str = ".dat") -> ParsedDoc:
    """Every hourly value of the file as readings of ``station_id``.

    InputError (exit 3, one RowError per bad line) when the file is not Shift_JIS, a
    date is impossible, a row has the wrong number of columns or an unknown flag.
    """
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what}: not Shift_JIS text at byte {exc.start}") from exc
    out = ParsedDoc()
    errors: list[RowError] = []
    name = ""
    for lineno, line in enumerate(text.splitlines(), start=1):
        cells = [c.strip() for c in line.split(",")]
        m = _DATE.match(cells[0]) if cells else None
        if m is None:
            found = _STATION.search(line)
            if found and not name:
                name = found.group(1).strip()
            continue
        try:
            day = dt.datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=JST)
        except ValueError:
            errors.append(RowError(lineno, "date", f"impossible date {cells[0]!r}"))
            continue
        values = cells[1:]
        # trailing empty cells after the 24th flag are allowed
        while len(values) > 48 and values[-1] == "":
            values.pop()
        if len(values) != 48:
            errors.append(
                RowError(lineno, "row", f"expected 24 value,flag pairs, got {len(values)} cells")
            )
            continue
        for hour in range(1, 25):
            raw, flag = values[2 * (hour - 1)], values[2 * hour - 1]
            if flag not in FLAGS:
                errors.append(RowError(lineno, f"{hour}時", f"unknown flag {flag!r}"))
                continue
            quality = FLAGS[flag]
            level = as_float(raw) if quality.valid else None
            if quality.valid and (level is None or level <= -9999):
                quality, level = Quality.MISSING, None
            at = day + dt.timedelta(hours=hour)  # hour 24 is 00:00 of the next day
            out.readings.append(Reading(station_id, at, level, quality, code=flag))
    if errors:
        raise InputError(f"{what}: {len(errors)} bad line(s)", errors)
    if not out.readings:
        raise InputError(f"{what}: no data rows (expected YYYY/MM/DD,value,flag,…)")
    out.stations[station_id] = StationMeta(station_id, name)
    return out
