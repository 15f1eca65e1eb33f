"""危機管理型水位計 area feed (``…/swin/files/area_info/current/{prefCode}.json``).

Two shapes are read: the upstream document (``{"obss": [...]}``) and the hourly archive
merged over prefectures (``{"items": [...]}`` with a few added fields). These gauges report
only while the water is above 観測開始水位 (``startLevel``): a gauge absent from a document
yields no reading, which the decision core treats as "silent", never as an all-clear.

The feed's own lines are 危険水位 (``warnLevel``, null for about half the gauges) and
氾濫開始水位 (``fladLevel``); which 警戒レベル each stands for is configuration
(``DEFAULT_LEVEL_MAP`` unless a station says otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from alertsvc.errors import GaugeDataInvalid
from alertsvc.watcher.readings import ParsedDoc, Quality, Reading, StationMeta, parse_time
from alertsvc.watcher.sources._common import as_float, load_json

__all__ = ["DEFAULT_LEVEL_MAP", "parse"]

# 危険水位 -> level 3 and 氾濫開始水位 -> level 4: these gauges sit on small rivers that rise
# fast, so the register's level comes at the first line the feed publishes.
DEFAULT_LEVEL_MAP: Mapping[str, int] = {"warnLevel": 3, "fladLevel": 4}

_CODE = re.compile(r"^\d{10}$")


def parse(
    data: bytes, *, what: str = "area feed", level_map: Mapping[str, int] = DEFAULT_LEVEL_MAP
) -> ParsedDoc:
    """Readings and thresholds of every gauge in the document.

    GaugeDataInvalid when the document is not JSON or has neither ``obss`` nor ``items``;
    a malformed item is skipped with a warning naming its index and field.
    """
    doc = load_json(data, what)
    items = None
    if isinstance(doc, dict):
        items = doc.get("obss", doc.get("items"))
    if not isinstance(items, list):
        raise GaugeDataInvalid(f"{what}: expected an object with an 'obss' or 'items' array")
    out = ParsedDoc()
    for index, item in enumerate(items):
        where = f"{what}: item {index}"
        if not isinstance(item, dict):
            out.warnings.append(f"{where}: not an object, skipped")
            continue
        code = item.get("code")
        if not isinstance(code, str) or not _CODE.match(code):
            out.warnings.append(f"{where}: code: expected 10 digits, got {code!r}; skipped")
            continue
        try:
            observed = parse_time(item.get("obsTime"))
        except ValueError as exc:
            out.warnings.append(f"{where} ({code}): obsTime: {exc}; skipped")
            continue
        thresholds: dict[int, float] = {}
        for key, level in level_map.items():
            value = as_float(item.get(key))
            if value is not None:
                thresholds[level] = value
        out.stations[code] = StationMeta(
            station_id=code,
            name=str(item.get("name") or ""),
            thresholds=thresholds,
            floor_m=as_float(item.get("startLevel")),
        )
        value = as_float(item.get("level"))
        quality = Quality.OK if value is not None else Quality.MISSING
        out.readings.append(Reading(code, observed, value, quality))
    return out
