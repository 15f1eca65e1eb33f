"""Shelter records: column spellings, value tables and the validation of one record.

Shared by the CSV and GeoJSON readers of ``shelter_import``: ``Layout`` says what the
columns (CSV header or GeoJSON property keys) of a record mean, ``entry_from`` validates
one record and reports every problem on the file's ``Problems`` collector.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from alertsvc.geo.extent import JAPAN
from alertsvc.ingest import Problems, bad_character, parse_decimal, trim
from alertsvc.models import HAZARD_KEYS, SHELTER_KINDS

__all__ = [
    "EMERGENCY_SITE",
    "EVACUATION_SHELTER",
    "WELFARE_SHELTER",
    "Layout",
    "ShelterEntry",
    "check_location",
    "entry_from",
    "layout_problems",
    "normalise_key",
]

EVACUATION_SHELTER, EMERGENCY_SITE, WELFARE_SHELTER = SHELTER_KINDS
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


# --- field parsing shared by CSV and GeoJSON ---------------------------------------------


@dataclass(slots=True)
class Layout:
    """What the columns (CSV header or GeoJSON property keys) of a record mean."""

    fields: dict[str, str]  # canonical field -> original column name
    flags: dict[str, str]  # hazard key -> original GSI flag column name
    unknown: list[str]
    duplicates: list[tuple[str, str]]  # (canonical field, second column name)

    @classmethod
    def of(cls, columns: Iterable[str]) -> tuple[Layout, str | None]:
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


def check_location(p: Problems, line: int, lon: float, lat: float) -> bool:
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


def entry_from(
    p: Problems,
    line: int,
    where: str,
    layout: Layout,
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
        text = "" if raw is None else trim(str(raw))
        if required and not text:
            p.error(line, cols.get(canon, canon), f"{canon} is empty; a value is required")
        bad = bad_character(text)
        if bad:
            p.error(line, cols[canon], f"contains a control or separator character ({bad})")
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
            lon, lat = parse_decimal(lon_raw), parse_decimal(lat_raw)
            if lon is None:
                p.error(line, cols["lon"], f"expected a decimal longitude, got {lon_raw!r}")
            if lat is None:
                p.error(line, cols["lat"], f"expected a decimal latitude, got {lat_raw!r}")
            if lon is not None and lat is not None and check_location(p, line, lon, lat):
                location = (lon, lat)
    elif not check_location(p, line, *location):
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
        origin=f"{p.source} {where}",
    )


def layout_problems(
    p: Problems, line: int, layout: Layout, implied: str | None, *, csv_columns: bool = False
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
