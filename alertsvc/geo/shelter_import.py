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

import csv
import io
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from alertsvc import audit
from alertsvc.errors import RowError, ShelterDataError
from alertsvc.geo.extent import JAPAN
from alertsvc.geo.shelter_store import StoredShelter, replace_shelters
from alertsvc.models import HAZARD_KEYS, SHELTER_KINDS, ImportReport, ShelterInfo
from alertsvc.textdecode import TextDecodeError, decode_text

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

EVACUATION_SHELTER, EMERGENCY_SITE, WELFARE_SHELTER = SHELTER_KINDS
# merged twins further apart than this get a warning: probably two different places
MERGE_DISTANCE_WARN_M = 300.0
_MAX_ID_LEN = 100  # shelters.id is String(100)

_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "共通id", "施設id"),
    "name": ("name", "施設・場所名", "施設名", "名称", "避難所名"),
    "address": ("address", "住所", "所在地"),
    "lat": ("lat", "latitude", "緯度"),
    "lon": ("lon", "lng", "longitude", "経度"),
    "kind": ("kind", "kinds", "種別"),
    "hazards": ("hazards", "対応災害"),
    "capacity": ("capacity", "収容人数", "収容可能人数", "想定収容人数"),
    "wheelchair": ("wheelchair", "車いす対応", "車椅子対応"),
    "floors": ("floors", "階数"),
    "kana": ("kana", "ふりがな", "フリガナ", "よみがな", "name_kana"),
}
# GSI columns we read only to tell which file a row comes from, or knowingly ignore
_EVACUATION_MARKERS = (
    "指定緊急避難場所との住所同一",
    "受入対象者",
    "その他市町村長が必要と認める事項",
)
_EMERGENCY_MARKERS = ("指定避難所との住所同一",)
_IGNORED = ("no", "都道府県名及び市町村名", "備考", *_EVACUATION_MARKERS, *_EMERGENCY_MARKERS)


def _hdr(key: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", key)).lower()


_FIELD_OF: dict[str, str] = {_hdr(a): f for f, aliases in _ALIASES.items() for a in aliases}
_FLAG_OF: dict[str, str] = {_hdr(ja): key for ja, key in HAZARD_KEYS.items()}
_IGNORED_HDRS = frozenset(_hdr(c) for c in _IGNORED)
_EVAC_HDRS = frozenset(_hdr(c) for c in _EVACUATION_MARKERS)
_EMERG_HDRS = frozenset(_hdr(c) for c in _EMERGENCY_MARKERS)

_KIND_WORDS: dict[str, str] = {
    **{_hdr(k): k for k in SHELTER_KINDS},
    "evacuation_shelter": EVACUATION_SHELTER,
    "shelter": EVACUATION_SHELTER,
    "避難所": EVACUATION_SHELTER,
    "emergency_site": EMERGENCY_SITE,
    "緊急避難場所": EMERGENCY_SITE,
    "welfare_shelter": WELFARE_SHELTER,
    "welfare": WELFARE_SHELTER,
}
_HAZARD_WORDS: dict[str, str] = {
    **{_hdr(ja): key for ja, key in HAZARD_KEYS.items()},
    **{key: key for key in HAZARD_KEYS.values()},
    "土砂災害": "landslide",
    "火事": "fire",
    "火災": "fire",
    "火山": "volcano",
}
_SEPARATORS = re.compile(r"[;；、,，]")
_TRUE = frozenset({"はい", "1", "true", "yes", "y", "○", "可", "有", "あり"})
_FALSE = frozenset({"いいえ", "0", "false", "no", "n", "×", "否", "無", "なし"})
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalise_key(text: str) -> str:
    """NFKC with all whitespace removed: how names and addresses are compared for merging."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@dataclass(frozen=True, slots=True)
class ShelterEntry:
    """One validated entry of one input file (a GSI feature or a CSV row)."""

    source_id: str
    name: str
    address: str
    lat: float
    lon: float
    kinds: frozenset[str]
    hazards: frozenset[str]
    wheelchair: bool | None = None
    capacity: int | None = None
    floors: int | None = None
    kana: str = ""
    origin: str = ""  # "file.csv line 4" / "file.geojson feature 3", for messages


@dataclass(slots=True)
class ParsedShelters:
    """The merged shelters of all inputs, ready to store, with non-fatal warnings."""

    shelters: list[StoredShelter]
    entries: int
    files: list[Path]
    warnings: list[RowError] = field(default_factory=list)


class _Problems:
    """Collects RowErrors for one file, each message prefixed with the file name."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []

    def error(self, line: int, column: str, message: str) -> None:
        self.errors.append(RowError(line, column, f"{self.name}: {message}"))

    def warn(self, line: int, column: str, message: str) -> None:
        self.warnings.append(RowError(line, column, f"{self.name}: {message}"))


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


# --- field parsing shared by CSV and GeoJSON ---------------------------------------------


@dataclass(slots=True)
class _Layout:
    """What the columns (CSV header or GeoJSON property keys) of a record mean."""

    fields: dict[str, str]  # canonical field -> original column name
    flags: dict[str, str]  # hazard key -> original GSI flag column name
    unknown: list[str]
    duplicates: list[tuple[str, str]]  # (canonical field, second column name)

    @classmethod
    def of(cls, columns: Iterable[str]) -> tuple[_Layout, str | None]:
        fields: dict[str, str] = {}
        flags: dict[str, str] = {}
        unknown: list[str] = []
        dups: list[tuple[str, str]] = []
        evac = emerg = False
        for col in columns:
            h = _hdr(col)
            if h in _FIELD_OF:
                canon = _FIELD_OF[h]
                if canon in fields:
                    dups.append((canon, col))
                else:
                    fields[canon] = col
            elif h in _FLAG_OF:
                flags[_FLAG_OF[h]] = col
            elif h in _IGNORED_HDRS:
                evac = evac or h in _EVAC_HDRS
                emerg = emerg or h in _EMERG_HDRS
            elif h:
                unknown.append(col)
        # GSI files carry no kind column: the columns say which of the two files it is
        implied = EMERGENCY_SITE if flags or emerg else EVACUATION_SHELTER if evac else None
        return cls(fields, flags, unknown, dups), implied


def _text(v: object) -> str | None:
    """A cell/property as text; None when absent or empty."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int | float):
        return repr(v) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return v if v.strip() else None
    return json.dumps(v, ensure_ascii=False)


def _parse_coordinate(raw: object) -> float | None:
    """A decimal number from text (full-width digits allowed) or a JSON number."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        s = unicodedata.normalize("NFKC", raw).strip()
        if not _DECIMAL.fullmatch(s):
            return None
        value = float(s)
    else:
        return None
    return value if math.isfinite(value) else None


def _check_location(p: _Problems, line: int, lon: float, lat: float) -> bool:
    if JAPAN.contains(lon, lat):
        return True
    hint = " (latitude and longitude look swapped)" if JAPAN.looks_swapped(lon, lat) else ""
    p.error(
        line,
        "location",
        f"coordinates lon={lon}, lat={lat} are outside Japan; expected {JAPAN.describe()}"
        f"{hint} / 座標が日本の範囲外です",
    )
    return False


def _parse_int(raw: str, suffix: str) -> int | None:
    s = unicodedata.normalize("NFKC", raw).strip().removesuffix(suffix).strip()
    if re.fullmatch(r"\d{1,3}(,\d{3})+", s):
        s = s.replace(",", "")
    return int(s) if re.fullmatch(r"\d+", s) else None


def _split(raw: str) -> list[str]:
    s = unicodedata.normalize("NFKC", raw)
    # the GSI landslide name contains "、" itself: map it to its key before splitting
    for ja, key in HAZARD_KEYS.items():
        s = s.replace(unicodedata.normalize("NFKC", ja), key)
    return [_hdr(part) for part in _SEPARATORS.split(s) if part.strip()]


def _entry_from(
    p: _Problems,
    line: int,
    where: str,
    layout: _Layout,
    implied_kind: str | None,
    get: Callable[[str], object],
    location: tuple[float, float] | None,
) -> ShelterEntry | None:
    """Validate one record; report every problem; return None if there was any."""
    before = len(p.errors)
    cols = layout.fields

    def value(canon: str) -> str | None:
        return _text(get(cols[canon])) if canon in cols else None

    def plain(canon: str, required: bool) -> str:
        raw = get(cols[canon]) if canon in cols else None
        if raw is not None and not isinstance(raw, str | int):
            p.error(line, cols[canon], f"expected text, got {type(raw).__name__}")
            return ""
        text = "" if raw is None else str(raw).strip()
        if required and not text:
            p.error(line, cols.get(canon, canon), f"{canon} is empty; a value is required")
        if _CONTROL.search(text):
            p.error(line, cols[canon], "contains a control character (tab, newline, NUL …)")
        return text

    source_id = plain("id", True)
    if len(source_id) > _MAX_ID_LEN:
        p.error(line, cols["id"], f"id is longer than {_MAX_ID_LEN} characters")
    name = plain("name", True)
    address = plain("address", False)
    kana = plain("kana", False)

    if location is None:
        lon_raw, lat_raw = value("lon"), value("lat")
        if lon_raw is None or lat_raw is None:
            missing = "lat" if lat_raw is None else "lon"
            p.error(
                line,
                cols.get(missing, missing),
                "location is missing; a shelter needs coordinates / 座標がありません",
            )
        else:
            lon, lat = _parse_coordinate(lon_raw), _parse_coordinate(lat_raw)
            if lon is None:
                p.error(line, cols["lon"], f"expected a decimal longitude, got {lon_raw!r}")
            if lat is None:
                p.error(line, cols["lat"], f"expected a decimal latitude, got {lat_raw!r}")
            if lon is not None and lat is not None and _check_location(p, line, lon, lat):
                location = (lon, lat)
    elif not _check_location(p, line, *location):
        location = None

    kinds: set[str] = set()
    kind_raw = value("kind")
    if kind_raw is not None:
        for word in _split(kind_raw):
            if word in _KIND_WORDS:
                kinds.add(_KIND_WORDS[word])
            else:
                p.error(
                    line,
                    cols["kind"],
                    f"unknown kind {word!r}; expected {' / '.join(SHELTER_KINDS)}",
                )
    elif implied_kind is not None:
        kinds.add(implied_kind)
    else:
        p.error(line, cols.get("kind", "kind"), f"kind is empty; expected {SHELTER_KINDS}")

    hazards: set[str] = set()
    hazards_raw = value("hazards")
    if hazards_raw is not None:
        for word in _split(hazards_raw):
            if word in _HAZARD_WORDS:
                hazards.add(_HAZARD_WORDS[word])
            else:
                p.error(
                    line,
                    cols["hazards"],
                    f"unknown hazard {word!r}; expected keys {sorted(HAZARD_KEYS.values())} "
                    "or their Japanese names (洪水, 内水氾濫, 土砂災害 …)",
                )
    for key, col in layout.flags.items():
        flag = get(col)
        if flag == "1":
            hazards.add(key)
        elif flag not in ("", None):
            p.error(line, col, f'hazard flag must be "1" or empty, got {flag!r}')

    capacity = floors = None
    wheelchair: bool | None = None
    if (raw := value("capacity")) is not None:
        capacity = _parse_int(raw, "人")
        if capacity is None:
            p.error(line, cols["capacity"], f"expected a whole number ≥ 0, got {raw!r}")
    if (raw := value("floors")) is not None:
        floors = _parse_int(raw, "階")
        if floors is None or not 1 <= floors <= 200:
            p.error(line, cols["floors"], f"expected a whole number of floors 1–200, got {raw!r}")
            floors = None
    if (raw := value("wheelchair")) is not None:
        w = unicodedata.normalize("NFKC", raw).strip().lower()
        wheelchair = True if w in _TRUE else False if w in _FALSE else None
        if wheelchair is None:
            p.error(line, cols["wheelchair"], f"expected はい/いいえ/1/0/true/false, got {raw!r}")

    if len(p.errors) > before or location is None:
        return None
    return ShelterEntry(
        source_id=source_id,
        name=name,
        address=address,
        lon=location[0],
        lat=location[1],
        kinds=frozenset(kinds),
        hazards=frozenset(hazards),
        wheelchair=wheelchair,
        capacity=capacity,
        floors=floors,
        kana=kana,
        origin=f"{p.name} {where}",
    )


def _layout_problems(
    p: _Problems, line: int, layout: _Layout, implied: str | None, *, csv_columns: bool = False
) -> bool:
    """Report missing/duplicate columns; True when records can be read at all."""
    ok = True
    for canon, col in layout.duplicates:
        p.error(
            line,
            col,
            f"column {col!r} means {canon!r} too, which {layout.fields[canon]!r} "
            "already gives; keep one",
        )
        ok = False
    required = ["id", "name"] + ([] if implied else ["kind"])
    if csv_columns:  # GeoJSON has its geometry instead
        required += ["lat", "lon"]
    for canon in required:
        if canon not in layout.fields:
            names = " / ".join(_ALIASES[canon][:2])
            p.error(line, canon, f"required column missing: {names}")
            ok = False
    return ok


# --- CSV ---------------------------------------------------------------------------------


def _decode(data: bytes, p: _Problems) -> str | None:
    """UTF-8 (BOM optional) or CP932; None after reporting when it is neither."""
    try:
        return decode_text(data)[0]
    except TextDecodeError as exc:
        p.error(exc.line, "", str(exc))
        return None


def _read_csv(path: Path, data: bytes, p: _Problems) -> list[ShelterEntry]:
    text = _decode(data, p)
    if text is None:
        return []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    entries: list[ShelterEntry] = []
    header: list[str] | None = None
    layout: _Layout | None = None
    implied: str | None = None
    rows = 0
    prev_end = 0
    while True:
        start = prev_end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            p.error(start, "", f"malformed CSV ({exc}); unterminated quote or truncated file?")
            break
        prev_end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = row
            layout, implied = _Layout.of(header)
            if layout.unknown:
                p.warn(start, ", ".join(layout.unknown), "unknown columns ignored")
            if not _layout_problems(p, start, layout, implied, csv_columns=True):
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
        entry = _entry_from(p, start, f"line {start}", layout, implied, cells.get, None)
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


def _read_geojson(path: Path, data: bytes, p: _Problems) -> list[ShelterEntry]:
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
        layout, implied = _Layout.of(props.keys())
        unknown.update(layout.unknown)
        if not _layout_problems(p, index, layout, implied):
            continue
        location = _point_of(p, index, feature.get("geometry"))
        if location is None:
            continue
        entry = _entry_from(p, index, f"feature {index}", layout, implied, props.get, location)
        if entry is not None:
            entries.append(entry)
    if unknown:
        p.warn(-1, ", ".join(sorted(unknown)), "unknown properties ignored")
    return entries


def _point_of(p: _Problems, index: int, geometry: object) -> tuple[float, float] | None:
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
    lon, lat = _parse_coordinate(coords[0]), _parse_coordinate(coords[1])
    if lon is None or lat is None or isinstance(coords[0], str) or isinstance(coords[1], str):
        p.error(index, "geometry", f"expected numeric coordinates [lon, lat], got {coords!r}")
        return None
    return lon, lat


# --- files, merging, import --------------------------------------------------------------


def read_shelter_file(path: Path) -> tuple[list[ShelterEntry], list[RowError], list[RowError]]:
    """Read one .geojson/.json/.csv file: (valid entries, errors, warnings). Never raises
    for bad content; an unreadable file (permissions, I/O) is reported as an error too."""
    p = _Problems(path)
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
