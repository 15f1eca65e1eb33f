"""川の防災情報 station JSON: station master and water-level time series.

Master fields: ``obsFcd`` (13 digits) and the lines ``rsrvStg`` 水防団待機水位, ``warnStg``
氾濫注意水位, ``spclWarnStg`` 避難判断水位, ``dngStg`` 氾濫危険水位, ``fldStg`` 氾濫発生水位
(any may be missing). Series items: an observation time, ``stg`` (m) and ``stgCcd``:
0 is valid; 140 閉局, 160/190 欠測 and any other non-zero code mean "no valid reading",
never 0 m. The series list may be under ``min10Values``, ``stgs`` or ``values``; times are
ISO 8601 or ``YYYY/MM/DD HH:MM`` in JST (``24:00`` is 00:00 of the next day).

The public site's terms ask not to poll it with tools: a municipality points this source
at the paid river-information data feed or its own gauges with the same shapes.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from alertsvc.errors import GaugeDataInvalid
from alertsvc.watcher.readings import ParsedDoc, Quality, Reading, StationMeta, parse_time
from alertsvc.watcher.sources._common import as_float, load_json

__all__ = ["QUALITY_CODES", "THRESHOLD_FIELDS", "parse"]

JST = ZoneInfo("Asia/Tokyo")
THRESHOLD_FIELDS = {"warnStg": 2, "spclWarnStg": 3, "dngStg": 4, "fldStg": 5}
# stgCcd -> quality; any code not listed is INVALID (not a reading)
QUALITY_CODES = {0: Quality.OK, 140: Quality.CLOSED, 160: Quality.MISSING, 190: Quality.MISSING}
_CODE = re.compile(r"^\d{13}$")
_SLASH_TIME = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})[ T](\d{1,2}):(\d{2})$")


def _time(value: object) -> dt.datetime:
    if isinstance(value, str):
        m = _SLASH_TIME.match(value.strip())
        if m:
            y, mo, d, h, mi = (int(g) for g in m.groups())
            base = dt.datetime(y, mo, d, tzinfo=JST)
            return base + dt.timedelta(hours=h, minutes=mi)  # 24:00 rolls over
    return parse_time(value, default_tz=JST)


def parse(data: bytes, *, what: str = "river JSON") -> ParsedDoc:
    """One station's master (if present) and series. GaugeDataInvalid without ``obsFcd``."""
    doc = load_json(data, what)
    docs = doc if isinstance(doc, list) else [doc]
    out = ParsedDoc()
    for d_index, station in enumerate(docs):
        if not isinstance(station, dict):
            raise GaugeDataInvalid(f"{what}: document {d_index}: expected an object")
        code = station.get("obsFcd")
        if not isinstance(code, str) or not _CODE.match(code):
            raise GaugeDataInvalid(f"{what}: obsFcd: expected 13 digits, got {code!r}")
        thresholds = {
            level: v
            for key, level in THRESHOLD_FIELDS.items()
            if (v := as_float(station.get(key))) is not None
        }
        out.stations[code] = StationMeta(code, str(station.get("obsNm") or ""), thresholds)
        series: object = next(
            (station[k] for k in ("min10Values", "stgs", "values") if k in station), []
        )
        if not isinstance(series, list):
            raise GaugeDataInvalid(f"{what}: {code}: the series must be a list")
        for index, item in enumerate(series):
            where = f"{what}: {code} value {index}"
            if not isinstance(item, dict):
                out.warnings.append(f"{where}: not an object, skipped")
                continue
            try:
                observed = _time(item.get("obsTime", item.get("time")))
            except ValueError as exc:
                out.warnings.append(f"{where}: obsTime: {exc}; skipped")
                continue
            ccd = item.get("stgCcd", 0)
            quality = (
                QUALITY_CODES.get(ccd, Quality.INVALID) if isinstance(ccd, int) else Quality.INVALID
            )
            level = as_float(item.get("stg")) if quality.valid else None
            if quality.valid and level is None:
                quality = Quality.MISSING
            out.readings.append(Reading(code, observed, level, quality, code=str(ccd)))
    return out
