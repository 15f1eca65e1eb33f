"""Shelter import: GSI 指定緊急避難場所・指定避難所 GeoJSON and our CSV, validated and merged.

Inputs
    * GeoJSON FeatureCollections of Points (WGS84 lon/lat), as published by 国土地理院:
      the 指定避難所 file (columns 共通ID, 施設・場所名, 住所, 指定緊急避難場所との住所同一, …)
      and the 指定緊急避難場所 file (the same plus the hazard flags 洪水, 内水氾濫, … = "1").
      Properties may also use the CSV column names below (e.g. ``kind``/``種別``).
    * CSV, UTF-8 (with or without BOM) or CP932, auto-detected; Japanese or English headers:
      id/共通ID, name/施設・場所名, address/住所, lat/緯度, lon/経度, kind/種別,
      hazards/対応災害, capacity/収容人数, wheelchair/車いす対応, floors/階数, kana/ふりがな.
      GSI hazard flag columns (洪水, …) are accepted in CSV too. Full-width digits are fine.

Merging
    GSI lists one facility twice, once per role, with different 共通IDs. Entries with the
    same (name, address) after NFKC and whitespace removal become ONE shelter: kinds and
    hazards are united, so the emergency-site flags (洪水 …) apply to the evacuation shelter
    too. Its id is the 共通ID of the 指定避難所 entry when there is one, else the first
    entry's id; name, address and location come from that same entry.

Failure modes
    Every problem of every file is collected as a ``RowError`` (line = 1-based CSV line or
    0-based GeoJSON feature index, -1 for the whole file; the message starts with the file
    name) and raised together as one ``ShelterDataError``; nothing is written then.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from alertsvc import audit
from alertsvc.errors import RowError, ShelterDataError
from alertsvc.geo.shelter_fields import (
    EVACUATION_SHELTER,
    Layout,
    ShelterEntry,
    entry_from,
    layout_problems,
    normalise_key,
)
from alertsvc.geo.shelter_store import StoredShelter, replace_shelters
from alertsvc.ingest import MalformedCsv, Problems, csv_records, parse_decimal
from alertsvc.models import SHELTER_KINDS, ImportReport, ShelterInfo
from alertsvc.textdecode import TextDecodeError, decode_text

# merged twins further apart than this get a warning: probably two different places
MERGE_DISTANCE_WARN_M = 300.0

__all__ = [
    "ParsedShelters",
    "ShelterEntry",
    "collect_paths",
    "import_shelters",
    "merge_entries",
    "normalise_key",
    "parse_shelter_inputs",
    "read_shelter_file",
]


@dataclass(slots=True)
class ParsedShelters:
    """The merged shelters of all inputs, ready to store, with non-fatal warnings."""

    shelters: list[StoredShelter]
    entries: int
    files: list[Path]
    warnings: list[RowError] = field(default_factory=list)


# --- paths -----------------------------------------------------------------------------

_SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".csv": "csv"}


def collect_paths(paths: Sequence[Path]) -> list[Path]:
    """Expand directories to their *.geojson/*.json/*.csv files (sorted, not recursive).

    Raises ShelterDataError naming every path that does not exist, has an unknown suffix,
    or is a directory without shelter files. Duplicates (the same file twice) are dropped.
    """
    errors: list[RowError] = []
    found: list[Path] = []
    if not paths:
        errors.append(RowError(-1, "", "no input path given / 入力ファイルがありません"))
    for p in paths:
        if p.is_dir():
            inside = sorted(c for c in p.iterdir() if c.is_file() and c.suffix.lower() in _SUFFIXES)
            if not inside:
                errors.append(RowError(-1, "", f"{p}: directory has no .geojson or .csv file"))
            found.extend(inside)
        elif not p.exists():
            errors.append(RowError(-1, "", f"{p}: no such file / ファイルがありません"))
        elif p.suffix.lower() not in _SUFFIXES:
            errors.append(
                RowError(-1, "", f"{p}: unknown file type; expected .geojson, .json or .csv")
            )
        else:
            found.append(p)
    if errors:
        raise ShelterDataError("避難所ファイルを読めません / cannot read shelter input", errors)
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


# --- CSV ---------------------------------------------------------------------------------


def _decode(data: bytes, p: Problems) -> str | None:
    """UTF-8 (BOM optional) or CP932; None after reporting when it is neither."""
    try:
        return decode_text(data)[0]
    except TextDecodeError as exc:
        p.error(exc.line, "", str(exc))
        return None


def _read_csv(path: Path, data: bytes, p: Problems) -> list[ShelterEntry]:
    text = _decode(data, p)
    if text is None:
        return []
    entries: list[ShelterEntry] = []
    header: list[str] | None = None
    layout: Layout | None = None
    implied: str | None = None
    rows = 0
    records = csv_records(text)
    while True:
        try:
            record = next(records, None)
        except MalformedCsv as exc:
            p.error(
                exc.line, "", f"malformed CSV ({exc.detail}); unterminated quote or truncated file?"
            )
            break
        if record is None:
            break
        start, row = record.line, record.cells
        if record.blank:
            continue
        if header is None:
            header = row
            layout, implied = Layout.of(header)
            if layout.unknown:
                p.warn(start, ", ".join(layout.unknown), "unknown columns ignored")
            if not layout_problems(p, start, layout, implied, csv_columns=True):
                return []
            continue
        assert layout is not None
        rows += 1
        if len(row) != len(header):
            p.error(
                start,
                "",
                f"expected {len(header)} fields as in the header, found {len(row)}"
                + (" (truncated line?)" if len(row) < len(header) else ""),
            )
            continue
        cells = dict(zip(header, row, strict=True))
        entry = entry_from(p, start, f"line {start}", layout, implied, cells.get, None)
        if entry is not None:
            entries.append(entry)
    if header is None:
        p.error(-1, "", "no header and no rows / 空のファイルです")
    elif rows == 0:
        p.error(-1, "", "header only, no shelter rows / 避難所の行がありません")
    return entries


# --- GeoJSON -----------------------------------------------------------------------------

_WGS84_CRS = {
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:epsg::4326",
    "epsg:4326",
    "crs84",
}


def _read_geojson(path: Path, data: bytes, p: Problems) -> list[ShelterEntry]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        p.error(-1, "", f"GeoJSON must be UTF-8; invalid byte on line {line}")
        return []
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        p.error(
            -1,
            "",
            f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} "
            "(truncated file?) / JSON として読めません",
        )
        return []
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        p.error(-1, "type", "expected a GeoJSON FeatureCollection")
        return []
    crs = doc.get("crs")
    if crs is not None:
        crs_name = (
            str((crs.get("properties") or {}).get("name", "")) if isinstance(crs, dict) else ""
        )
        if crs_name.lower() not in _WGS84_CRS:
            p.error(-1, "crs", f"CRS {crs_name or crs!r} is not WGS84 lon/lat (EPSG:4326)")
            return []
    features = doc.get("features")
    if not isinstance(features, list):
        p.error(-1, "features", "expected a list of features")
        return []
    if not features:
        p.error(-1, "features", "no features / 避難所が 1 件もありません")
        return []
    entries: list[ShelterEntry] = []
    unknown: set[str] = set()
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            p.error(index, "", "expected a GeoJSON Feature")
            continue
        props = feature.get("properties")
        if not isinstance(props, dict):
            p.error(index, "properties", "expected an object of properties")
            continue
        layout, implied = Layout.of(props.keys())
        unknown.update(layout.unknown)
        if not layout_problems(p, index, layout, implied):
            continue
        location = _point_of(p, index, feature.get("geometry"))
        if location is None:
            continue
        entry = entry_from(p, index, f"feature {index}", layout, implied, props.get, location)
        if entry is not None:
            entries.append(entry)
    if unknown:
        p.warn(-1, ", ".join(sorted(unknown)), "unknown properties ignored")
    return entries


def _point_of(p: Problems, index: int, geometry: object) -> tuple[float, float] | None:
    if geometry is None:
        p.error(
            index, "geometry", "location is missing; a shelter needs a Point / 座標がありません"
        )
        return None
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        got = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        p.error(index, "geometry", f"expected a Point geometry, got {got!r}")
        return None
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        p.error(index, "geometry", f"expected coordinates [lon, lat], got {coords!r}")
        return None
    lon, lat = parse_decimal(coords[0]), parse_decimal(coords[1])
    if lon is None or lat is None or isinstance(coords[0], str) or isinstance(coords[1], str):
        p.error(index, "geometry", f"expected numeric coordinates [lon, lat], got {coords!r}")
        return None
    return lon, lat


# --- files, merging, import --------------------------------------------------------------


def read_shelter_file(path: Path) -> tuple[list[ShelterEntry], list[RowError], list[RowError]]:
    """Read one .geojson/.json/.csv file: (valid entries, errors, warnings). Never raises
    for bad content; an unreadable file (permissions, I/O) is reported as an error too."""
    p = Problems(path.name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        p.error(-1, "", f"cannot read file: {exc.strerror}")
        return [], p.errors, p.warnings
    if not data.strip().removeprefix(b"\xef\xbb\xbf").strip():
        p.error(-1, "", "file is empty / 空のファイルです")
        return [], p.errors, p.warnings
    kind = _SUFFIXES.get(path.suffix.lower(), "csv")
    entries = _read_csv(path, data, p) if kind == "csv" else _read_geojson(path, data, p)
    return entries, p.errors, p.warnings


def _distance_m(a: ShelterEntry, b: ShelterEntry) -> float:
    # equirectangular is plenty at a few hundred metres
    mean_lat = math.radians((a.lat + b.lat) / 2)
    dx = math.radians(b.lon - a.lon) * math.cos(mean_lat)
    dy = math.radians(b.lat - a.lat)
    return 6_371_000.0 * math.hypot(dx, dy)


def merge_entries(entries: Sequence[ShelterEntry]) -> tuple[list[StoredShelter], list[RowError]]:
    """Merge entries that describe one facility (same normalised name and address).

    Returns the shelters (in first-appearance order) and warnings for twins that are far
    apart or disagree on wheelchair access, capacity or floors (the primary entry wins).
    Source ids must already be unique.
    """
    groups: dict[tuple[str, str], list[ShelterEntry]] = {}
    for e in entries:
        groups.setdefault((normalise_key(e.name), normalise_key(e.address)), []).append(e)
    shelters: list[StoredShelter] = []
    warnings: list[RowError] = []
    for group in groups.values():
        primary = next((e for e in group if EVACUATION_SHELTER in e.kinds), group[0])
        ordered = [primary, *(e for e in group if e is not primary)]
        shared = [k for k in SHELTER_KINDS if sum(k in e.kinds for e in ordered) > 1]
        if shared:
            # e.g. two 指定避難所 with one name and address: probably a duplicate in the data
            warnings.append(
                RowError(
                    -1,
                    "kind",
                    f"{', '.join(e.origin for e in ordered)} have the same name and address "
                    f"and the same role ({'・'.join(shared)}); merged into {primary.source_id}",
                )
            )
        for other in ordered[1:]:
            d = _distance_m(primary, other)
            if d > MERGE_DISTANCE_WARN_M:
                warnings.append(
                    RowError(
                        -1,
                        "location",
                        f"{other.origin} ({other.source_id}) merged into {primary.source_id} "
                        f"but lies {d:.0f} m away; using the location of {primary.origin}",
                    )
                )

        info = ShelterInfo(
            id=primary.source_id,
            name=primary.name,
            address=primary.address,
            lat=primary.lat,
            lon=primary.lon,
            kinds=frozenset().union(*(e.kinds for e in ordered)),
            hazards=frozenset().union(*(e.hazards for e in ordered)),
            wheelchair=_pick(ordered, "wheelchair", warnings),
            capacity=_pick(ordered, "capacity", warnings),
            floors=_pick(ordered, "floors", warnings),
            name_kana=_pick(ordered, "kana", warnings) or "",
        )
        shelters.append(StoredShelter(info, tuple(e.source_id for e in ordered)))
    return shelters, warnings


def _pick(ordered: list[ShelterEntry], attr: str, warnings: list[RowError]) -> Any:
    """The primary entry's value of ``attr`` or else the first one given; warn on conflict."""
    values = [getattr(e, attr) for e in ordered if getattr(e, attr) not in (None, "")]
    if len(set(values)) > 1:
        warnings.append(
            RowError(
                -1,
                attr,
                f"{ordered[0].source_id}: merged entries disagree on {attr} {values}; "
                f"using {values[0]!r} from {ordered[0].origin}",
            )
        )
    return values[0] if values else None


def parse_shelter_inputs(paths: Sequence[Path]) -> ParsedShelters:
    """Read, validate and merge every input file (directories expanded).

    Raises ShelterDataError with ALL row errors of ALL files (and duplicate ids across
    files) when anything is wrong; nothing is partially returned.
    """
    files = collect_paths(paths)
    entries: list[ShelterEntry] = []
    errors: list[RowError] = []
    warnings: list[RowError] = []
    for path in files:
        file_entries, file_errors, file_warnings = read_shelter_file(path)
        entries.extend(file_entries)
        errors.extend(file_errors)
        warnings.extend(file_warnings)
    seen: dict[str, ShelterEntry] = {}
    for e in entries:
        if e.source_id in seen:
            file_name, _, where = e.origin.partition(" ")
            errors.append(
                RowError(
                    _origin_line(where),
                    "id",
                    f"{file_name}: duplicate id {e.source_id!r}, already used at "
                    f"{seen[e.source_id].origin} / IDが重複しています",
                )
            )
        else:
            seen[e.source_id] = e
    if errors:
        raise ShelterDataError(
            f"避難所データに {len(errors)} 件の誤りがあります。何も書き込んでいません / "
            f"{len(errors)} problem(s) in the shelter input; nothing was written",
            errors,
        )
    shelters, merge_warnings = merge_entries(entries)
    return ParsedShelters(shelters, len(entries), files, warnings + merge_warnings)


def _origin_line(where: str) -> int:
    number = where.rsplit(" ", 1)[-1]
    return int(number) if number.isdigit() else -1


def import_shelters(
    session: Session,
    paths: Sequence[Path],
    *,
    dry_run: bool = False,
    actor: str | None = None,
    extra_args: Mapping[str, object] | None = None,
) -> ImportReport:
    """Replace all shelters with the merged content of ``paths``, in ``session``'s transaction.

    Writes an audit entry ``shelters.import`` with the counts (also for a dry run, which
    changes no shelter). Raises ShelterDataError (nothing written) on any input problem.
    """
    parsed = parse_shelter_inputs(paths)
    report = replace_shelters(session, parsed.shelters, dry_run=dry_run)
    report.warnings.extend(parsed.warnings)
    audit.record(
        session,
        "shelters.import",
        {"paths": [str(p) for p in parsed.files], "dry_run": dry_run, **(extra_args or {})},
        {
            "added": report.added,
            "changed": report.changed,
            "removed": report.removed,
            "unchanged": report.unchanged,
            "entries": parsed.entries,
            "shelters": len(parsed.shelters),
            "warnings": len(report.warnings),
        },
        actor=actor,
    )
    return report
