"""USGS NWIS instantaneous values (WaterML-JSON, ``/nwis/iv/?format=json``).

Only gage height (parameter ``00065``, feet) is a water level; it is converted to metres.
``noDataValue`` is missing; qualifier ``P`` is provisional, ``A`` approved; ``Eqp``,
``Ice``, ``Dis`` and similar mean no valid reading.
"""

from __future__ import annotations

from alertsvc.errors import GaugeDataInvalid
from alertsvc.watcher.readings import ParsedDoc, Quality, Reading, StationMeta, parse_time
from alertsvc.watcher.sources._common import as_float, load_json

__all__ = ["FEET", "parse"]

FEET = 0.3048
_GAGE_HEIGHT = "00065"
_VALID = {"P": Quality.PROVISIONAL, "A": Quality.OK, "e": Quality.PROVISIONAL}


def parse(data: bytes, *, what: str = "USGS") -> ParsedDoc:
    """Gage-height readings of every site in the document, in metres."""
    doc = load_json(data, what)
    try:
        series = doc["value"]["timeSeries"]
    except (KeyError, TypeError):
        raise GaugeDataInvalid(f"{what}: expected value.timeSeries") from None
    if not isinstance(series, list):
        raise GaugeDataInvalid(f"{what}: value.timeSeries must be a list")
    out = ParsedDoc()
    for ts in series:
        try:
            site = ts["sourceInfo"]["siteCode"][0]["value"]
            param = ts["variable"]["variableCode"][0]["value"]
            no_data = as_float(ts["variable"].get("noDataValue"))
            blocks = ts["values"]
        except (KeyError, IndexError, TypeError):
            out.warnings.append(f"{what}: a time series without site or variable; skipped")
            continue
        if param != _GAGE_HEIGHT:
            continue
        out.stations[site] = StationMeta(site, str(ts["sourceInfo"].get("siteName") or ""))
        for block in blocks:
            for item in block.get("value", []):
                try:
                    at = parse_time(item.get("dateTime"))
                except ValueError:
                    out.warnings.append(f"{what} {site}: bad dateTime {item.get('dateTime')!r}")
                    continue
                quals = item.get("qualifiers") or []
                quality = next((_VALID[q] for q in quals if q in _VALID), Quality.INVALID)
                value = as_float(item.get("value"))
                if value is None or (no_data is not None and value == no_data):
                    quality, value = Quality.MISSING, None
                level = round(value * FEET, 4) if value is not None and quality.valid else None
                out.readings.append(Reading(site, at, level, quality, code=",".join(quals)))
    return out
