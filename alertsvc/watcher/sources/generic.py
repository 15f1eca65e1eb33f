"""A municipality's own gauges: JSON or CSV, configured by field paths.

JSON: ``items_path`` (dotted, empty = the document is the list) leads to a list of
objects; ``id_field``, ``time_field``, ``level_field`` and optionally ``quality_field``
(with ``valid_quality`` values) are dotted paths inside each object. CSV: the same
names are column headers. Times without an offset are read in ``default_tz``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from alertsvc.errors import GaugeDataInvalid
from alertsvc.watcher.readings import ParsedDoc, Quality, Reading, parse_time
from alertsvc.watcher.sources._common import as_float, load_json

__all__ = ["FieldPaths", "parse_csv", "parse_json"]


@dataclass(frozen=True)
class FieldPaths:
    id_field: str
    time_field: str
    level_field: str
    items_path: str = ""
    quality_field: str = ""
    valid_quality: tuple[str, ...] = ()


def _get(obj: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


def _row(item: Any, paths: FieldPaths, where: str, tz: dt.tzinfo, out: ParsedDoc) -> None:
    station = _get(item, paths.id_field)
    if station is None or str(station) == "":
        out.warnings.append(f"{where}: {paths.id_field}: missing; skipped")
        return
    try:
        at = parse_time(_get(item, paths.time_field), default_tz=tz)
    except ValueError as exc:
        out.warnings.append(f"{where}: {paths.time_field}: {exc}; skipped")
        return
    quality = Quality.OK
    if paths.quality_field:
        code = _get(item, paths.quality_field)
        if str(code) not in paths.valid_quality:
            quality = Quality.INVALID
    level = as_float(_get(item, paths.level_field)) if quality.valid else None
    if quality.valid and level is None:
        quality = Quality.MISSING
    out.readings.append(Reading(str(station), at, level, quality))


def parse_json(
    data: bytes, paths: FieldPaths, *, tz: dt.tzinfo, what: str = "generic JSON"
) -> ParsedDoc:
    """Readings from a JSON document. GaugeDataInvalid when ``items_path`` is not a list."""
    items = _get(load_json(data, what), paths.items_path)
    if not isinstance(items, list):
        raise GaugeDataInvalid(f"{what}: {paths.items_path or 'the document'}: expected a list")
    out = ParsedDoc()
    for index, item in enumerate(items):
        _row(item, paths, f"{what}: item {index}", tz, out)
    return out


def parse_csv(
    data: bytes, paths: FieldPaths, *, tz: dt.tzinfo, what: str = "generic CSV"
) -> ParsedDoc:
    """Readings from a CSV with a header row (UTF-8, BOM optional)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GaugeDataInvalid(f"{what}: not UTF-8 text at byte {exc.start}") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = {paths.id_field, paths.time_field, paths.level_field} - set(reader.fieldnames or [])
    if missing:
        raise GaugeDataInvalid(f"{what}: missing column(s) {', '.join(sorted(missing))}")
    out = ParsedDoc()
    for row in reader:
        _row(row, paths, f"{what}: line {reader.line_num}", tz, out)
    return out
