"""Import of the 避難行動要支援者名簿 (support register) CSV.

Two stages, kept apart so that the pure part can be tested without a database:

1. ``read_register`` / ``parse_register``: bytes → text (UTF-8, UTF-8 with BOM or CP932)
   → validated, normalised ``ResidentRecord`` values plus every ``RowError`` found (all
   of them, never just the first) and warnings.
2. ``apply_register``: the upsert keyed by 名簿番号, in the caller's transaction: added /
   changed / unchanged, and active residents missing from the file deactivated (never
   deleted). ``import_register`` runs both in ONE transaction with the audit entry.

Failure modes: a file that cannot be decoded, has no usable header or no rows raises
``RegisterImportFailed`` (an ``InputError``, exit 3) even with ``skip_invalid``. Row errors
raise it too unless ``skip_invalid`` is given; then the good rows are written and the bad
ones reported. Nothing is written when it is raised, and nothing is written on dry runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from alertsvc import audit
from alertsvc.db import session_scope
from alertsvc.db.tables import Contact, Resident, Supporter, utcnow
from alertsvc.errors import RegisterDataError, RowError
from alertsvc.models import LANGUAGES, ChannelName, ContactInfo, ContactKind, ImportReport, Need
from alertsvc.planning.channel_order import channel_order, preference_problems
from alertsvc.registry.phones import PhoneError, normalise_phone, normalise_token
from alertsvc.registry.store import contact_info
from alertsvc.registry.wareki import parse_date
from alertsvc.textdecode import decode_text as decode_register

__all__ = [
    "FIELD_ALIASES",
    "REQUIRED_FIELDS",
    "ParseResult",
    "RegisterImportFailed",
    "ResidentRecord",
    "SupporterRecord",
    "apply_register",
    "decode_register",
    "import_register",
    "parse_register",
    "read_register",
]

# field key -> accepted header spellings (compared after NFKC + casefold)
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("名簿番号", "id", "register_id"),
    "name": ("氏名", "name"),
    "kana": ("ふりがな", "フリガナ", "kana"),
    "birth_date": ("生年月日", "birth_date"),
    "sex": ("性別", "sex"),
    "address": ("住所", "address"),
    "lat": ("緯度", "lat", "latitude"),
    "lon": ("経度", "lon", "lng", "longitude"),
    "floor": ("居住階", "floor"),
    "landline": ("電話番号", "landline", "phone"),
    "mobile": ("携帯電話", "携帯電話番号", "mobile"),
    "push_tokens": ("FCMトークン", "push_tokens", "push_token"),
    "language": ("言語", "language"),
    "channels": ("連絡手段", "channels"),
    "needs": ("要配慮事由", "needs"),
    "supporter_name": ("支援者氏名", "supporter_name", "supporter_names"),
    "supporter_phone": ("支援者電話", "支援者電話番号", "supporter_phone", "supporter_phones"),
    "consent": ("同意", "consent"),
}
REQUIRED_FIELDS: tuple[str, ...] = ("id", "name", "address")

_HEADER_LOOKUP: dict[str, str] = {
    unicodedata.normalize("NFKC", alias).casefold(): key
    for key, aliases in FIELD_ALIASES.items()
    for alias in aliases
}

_LANGUAGE_ALIASES: dict[str, str] = {
    **{code: code for code in LANGUAGES},
    "日本語": "ja",
    "japanese": "ja",
    "やさしい日本語": "ja-easy",
    "易しい日本語": "ja-easy",
    "easy japanese": "ja-easy",
    "英語": "en",
    "english": "en",
    "中国語": "zh",
    "chinese": "zh",
    "zh-cn": "zh",
    "韓国語": "ko",
    "韓国・朝鮮語": "ko",
    "朝鮮語": "ko",
    "korean": "ko",
    "ベトナム語": "vi",
    "vietnamese": "vi",
    "ポルトガル語": "pt",
    "portuguese": "pt",
    "pt-br": "pt",
    "タガログ語": "tl",
    "フィリピノ語": "tl",
    "フィリピン語": "tl",
    "tagalog": "tl",
    "filipino": "tl",
    "fil": "tl",
}

_NEED_ALIASES: dict[str, Need] = {
    **{need.value: need for need in Need},
    "車いす": Need.WHEELCHAIR,
    "車椅子": Need.WHEELCHAIR,
    "車イス": Need.WHEELCHAIR,
    "寝たきり": Need.BEDRIDDEN,
    "聴覚": Need.HEARING,
    "聴覚障害": Need.HEARING,
    "難聴": Need.HEARING,
    "視覚": Need.SIGHT,
    "視覚障害": Need.SIGHT,
    "認知症": Need.COGNITIVE,
    "外国語": Need.LANGUAGE,
    "独居": Need.LIVES_ALONE,
    "一人暮らし": Need.LIVES_ALONE,
    "ひとり暮らし": Need.LIVES_ALONE,
    "lives alone": Need.LIVES_ALONE,
}

_CHANNEL_ALIASES: dict[str, ChannelName] = {
    **{c.value: c for c in ChannelName},
    "プッシュ": ChannelName.PUSH,
    "アプリ": ChannelName.PUSH,
    "ショートメール": ChannelName.SMS,
    "音声": ChannelName.VOICE,
    "電話": ChannelName.VOICE,
    "call": ChannelName.VOICE,
}

_SEX: dict[str, str] = {
    "男": "M",
    "男性": "M",
    "m": "M",
    "女": "F",
    "女性": "F",
    "f": "F",
    "その他": "X",
    "x": "X",
}

_CONSENT: dict[str, bool] = {
    "はい": True,
    "いいえ": False,
    "1": True,
    "0": False,
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "同意": True,
    "不同意": False,
}

_SPLIT = re.compile(r"\s*[;、,]\s*")
_FLOOR = re.compile(r"^(?:(地下|b)\s*)?(\d{1,3})\s*(?:階|f)?$")
# Japan's extent with a margin (Okinotorishima ~20.4N, Minamitorishima ~154.0E)
_LAT_RANGE = (20.0, 46.0)
_LON_RANGE = (122.0, 154.0)
_MAX_LEN = {"id": 64, "name": 200, "kana": 200, "address": 500, "supporter_name": 200}
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SupporterRecord:
    name: str
    phone: str | None  # E.164
    phone_kind: ContactKind | None


@dataclass(frozen=True, slots=True)
class ResidentRecord:
    """One validated, normalised register row."""

    line: int
    id: str
    name: str
    address: str
    kana: str = ""
    birth_date: dt.date | None = None
    sex: str | None = None
    lat: float | None = None
    lon: float | None = None
    floor: int | None = None
    language: str = "ja"
    needs: tuple[Need, ...] = ()
    channel_pref: tuple[ChannelName, ...] = ()
    contacts: tuple[ContactInfo, ...] = ()
    supporters: tuple[SupporterRecord, ...] = ()
    consent: bool | None = None

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    def fingerprint(self) -> str:
        """Hash of everything the register says about this person (not the line number)."""
        doc = {
            "name": self.name,
            "address": self.address,
            "kana": self.kana,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "sex": self.sex,
            "lat": self.lat,
            "lon": self.lon,
            "floor": self.floor,
            "language": self.language,
            "needs": [n.value for n in self.needs],
            "channel_pref": [c.value for c in self.channel_pref],
            "contacts": [[c.kind.value, c.address] for c in self.contacts],
            "supporters": [[s.name, s.phone] for s in self.supporters],
            "consent": self.consent,
        }
        raw = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()


@dataclass(slots=True)
class ParseResult:
    """Outcome of parsing: good records, row errors, warnings, and ids seen on bad rows."""

    records: list[ResidentRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    # ids of rows that had errors: such residents must not be deactivated by --skip-invalid
    bad_ids: set[str] = field(default_factory=set)
    # a file-level problem (encoding, header, empty): nothing can be imported at all
    fatal: bool = False
    encoding: str = ""


class RegisterImportFailed(RegisterDataError):
    """The register has invalid rows (or cannot be read); nothing was written."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message, report.errors)
        self.report = report


# --- decoding ---------------------------------------------------------------------------


# --- parsing ----------------------------------------------------------------------------


def read_register(path: Path, encoding: str = "auto") -> ParseResult:
    """Read and validate a register file; never raises for bad content (see ``fatal``)."""
    result = ParseResult()
    try:
        data = path.read_bytes()
    except OSError as exc:
        result.errors.append(RowError(-1, "", f"cannot read {path}: {exc.strerror or exc}"))
        result.fatal = True
        return result
    try:
        text, used = decode_register(data, encoding)
    except ValueError as exc:
        result.errors.append(RowError(-1, "", str(exc)))
        result.fatal = True
        return result
    parsed = parse_register(text)
    parsed.encoding = used
    return parsed


def parse_register(text: str) -> ParseResult:
    """Validate decoded register text into records; collects every problem found."""
    result = ParseResult()
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # leading blank lines before the header
    except csv.Error as exc:
        result.errors.append(RowError(reader.line_num, "", f"unreadable CSV header: {exc}"))
        result.fatal = True
        return result
    if header is None:
        result.errors.append(RowError(1, "", "empty file: expected a header row and residents"))
        result.fatal = True
        return result
    header_line = reader.line_num
    columns = _map_header(header, header_line, result)
    if result.fatal:
        return result

    first_line: dict[str, int] = {}
    prev_line = header_line
    rows = 0
    truncated = False
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # strict mode: a quote left open at the end of a cut-off file lands here
            result.errors.append(
                RowError(prev_line + 1, "", f"malformed CSV (truncated file?): {exc}")
            )
            truncated = True
            break
        line = prev_line + 1
        prev_line = reader.line_num
        if not cells or not any(c.strip() for c in cells):
            continue
        rows += 1
        if len(cells) != len(header):
            what = "fewer" if len(cells) < len(header) else "more"
            result.errors.append(
                RowError(
                    line,
                    "",
                    f"row has {len(cells)} cells, {what} than the {len(header)} columns of "
                    "the header (truncated line or a missing/extra delimiter)",
                )
            )
            truncated = len(cells) < len(header)
            raw_id = _cell_for(cells, columns, "id")
            if raw_id:
                result.bad_ids.add(unicodedata.normalize("NFKC", raw_id).strip())
            continue
        truncated = False
        _parse_row(line, cells, columns, result, first_line)
    if truncated:
        # a cut-off file must never be imported in part: with --skip-invalid every resident
        # after the cut would be deactivated
        result.fatal = True
    if rows == 0 and not result.errors:
        result.errors.append(RowError(header_line, "", "header only: the file has no residents"))
        result.fatal = True
    return result


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    header: str  # as written in the file


def _map_header(header: list[str], line: int, result: ParseResult) -> dict[str, _Column]:
    columns: dict[str, _Column] = {}
    for index, raw in enumerate(header):
        written = raw.strip()
        key = _HEADER_LOOKUP.get(unicodedata.normalize("NFKC", written).casefold())
        if key is None:
            if written:
                result.warnings.append(RowError(line, written, "unknown column ignored"))
            elif any(h.strip() for h in header[index + 1 :]):
                result.warnings.append(
                    RowError(line, f"#{index + 1}", "column without a header ignored")
                )
            continue
        if key in columns:
            result.errors.append(
                RowError(
                    line,
                    written,
                    f"duplicate column: {columns[key].header!r} (column {columns[key].index + 1})"
                    f" and {written!r} (column {index + 1}) both mean {key}",
                )
            )
            result.fatal = True
            continue
        columns[key] = _Column(index, written)
    missing = [key for key in REQUIRED_FIELDS if key not in columns]
    hint = ""
    if missing and not columns:
        hint = " (no known column at all: wrong encoding or not a register file?)"
    for key in missing:
        ja, en = FIELD_ALIASES[key][0], FIELD_ALIASES[key][1] if key != "id" else "id"
        result.errors.append(RowError(line, ja, f"required column {ja}/{en} is missing{hint}"))
        result.fatal = True
    return columns


def _cell_for(cells: Sequence[str], columns: dict[str, _Column], key: str) -> str:
    col = columns.get(key)
    if col is None or col.index >= len(cells):
        return ""
    return cells[col.index]


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _split(text: str) -> list[str]:
    value = _nfkc(text)
    return [part for part in _SPLIT.split(value) if part] if value else []


class _Row:
    """Accumulates errors and warnings for one row."""

    def __init__(self, line: int, cells: Sequence[str], columns: dict[str, _Column]) -> None:
        self.line = line
        self.cells = cells
        self.columns = columns
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []

    def raw(self, key: str) -> str:
        return _cell_for(self.cells, self.columns, key)

    def header(self, key: str) -> str:
        col = self.columns.get(key)
        return col.header if col else FIELD_ALIASES[key][0]

    def error(self, key: str, message: str) -> None:
        self.errors.append(RowError(self.line, self.header(key), message))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(RowError(self.line, self.header(key), message))


def _parse_row(
    line: int,
    cells: Sequence[str],
    columns: dict[str, _Column],
    result: ParseResult,
    first_line: dict[str, int],
) -> None:
    row = _Row(line, cells, columns)

    rid = _nfkc(row.raw("id"))
    if not rid:
        row.error("id", "名簿番号 is empty (required)")
    elif len(rid) > _MAX_LEN["id"] or any(not ch.isprintable() for ch in rid):
        row.error("id", f"名簿番号 must be at most {_MAX_LEN['id']} printable characters")
    elif rid in first_line:
        row.error("id", f"duplicate 名簿番号 {rid!r}: already on line {first_line[rid]}")
    else:
        first_line[rid] = line

    name = _text(row, "name", required=True)
    address = _text(row, "address", required=True)
    kana = _text(row, "kana", required=False, normalise=True)
    birth_date = _optional(row, "birth_date", parse_date)
    sex = _lookup(row, "sex", _SEX, "男/女/その他 or M/F/X")
    lat, lon = _coordinates(row)
    floor = _floor(row)
    language = _language(row)
    needs = _needs(row)
    channel_pref = _channels(row)
    contacts = _contacts(row)
    supporters = _supporters(row)
    consent = _lookup(row, "consent", _CONSENT, "はい/いいえ, 1/0 or true/false")

    contact_columns = {row.header(k) for k in ("push_tokens", "mobile", "landline", "needs")}
    if channel_pref and not any(e.column in contact_columns for e in row.errors):
        for problem in preference_problems(frozenset(needs), contacts, channel_pref):
            row.error("channels", problem)

    result.warnings.extend(row.warnings)
    if row.errors:
        result.errors.extend(row.errors)
        if rid:
            result.bad_ids.add(rid)
        return
    record = ResidentRecord(
        line=line,
        id=rid,
        name=name,
        address=address,
        kana=kana,
        birth_date=birth_date,
        sex=sex,
        lat=lat,
        lon=lon,
        floor=floor,
        language=language,
        needs=tuple(sorted(set(needs), key=lambda n: n.value)),
        channel_pref=channel_pref,
        contacts=contacts,
        supporters=supporters,
        consent=consent,
    )
    if not record.located:
        result.warnings.append(
            RowError(line, row.header("lat"), "no coordinates: imported as unlocated (位置不明)")
        )
    order = channel_order(frozenset(record.needs), record.contacts, record.channel_pref)
    if not order.reachable:
        result.warnings.append(
            RowError(
                line,
                row.header("channels"),
                f"no working channel, imported and flagged: {order.unreachable_reason}",
            )
        )
    result.records.append(record)


def _text(row: _Row, key: str, *, required: bool, normalise: bool = False) -> str:
    raw = row.raw(key)
    # names and addresses are stored as written (trimmed); NFKC is only for comparing
    value = _nfkc(raw) if normalise else raw.strip()
    if not value:
        if required:
            row.error(key, f"{row.header(key)} is empty (required)")
        return ""
    if any(ch in "\r\n" for ch in value):
        # municipal exports put line breaks in quoted address cells; one line is enough
        value = " ".join(part.strip() for part in value.splitlines() if part.strip())
        row.warn(key, "line break inside the cell replaced by a space")
    if any(not ch.isprintable() and not ch.isspace() for ch in value):
        row.error(key, "contains control characters")
    limit = _MAX_LEN.get(key)
    if limit and len(value) > limit:
        row.error(key, f"too long: {len(value)} characters (at most {limit})")
    return value


def _optional(row: _Row, key: str, parse: Callable[[str], _T]) -> _T | None:
    raw = _nfkc(row.raw(key))
    if not raw:
        return None
    try:
        return parse(raw)
    except ValueError as exc:
        row.error(key, str(exc))
        return None


def _lookup(row: _Row, key: str, table: dict[str, _T], expected: str) -> _T | None:
    raw = _nfkc(row.raw(key))
    if not raw:
        return None
    value = table.get(raw.casefold())
    if value is None:
        row.error(key, f"{raw!r} is not understood: expected {expected}")
    return value


def _number(row: _Row, key: str) -> float | None:
    raw = _nfkc(row.raw(key))
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        row.error(key, f"{raw!r} is not a decimal number (WGS84 degrees, e.g. 33.7441)")
        return None
    if not math.isfinite(value):
        row.error(key, f"{raw!r} is not a finite number")
        return None
    return value


def _coordinates(row: _Row) -> tuple[float | None, float | None]:
    errors_before = len(row.errors)
    lat, lon = _number(row, "lat"), _number(row, "lon")
    if len(row.errors) > errors_before:
        return None, None
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        row.error(missing, "緯度 and 経度 must both be given or both be empty")
        return None, None
    if lat is None or lon is None:
        return None, None
    lat_ok = _LAT_RANGE[0] <= lat <= _LAT_RANGE[1]
    lon_ok = _LON_RANGE[0] <= lon <= _LON_RANGE[1]
    swapped = _LAT_RANGE[0] <= lon <= _LAT_RANGE[1] and _LON_RANGE[0] <= lat <= _LON_RANGE[1]
    if not lat_ok and not lon_ok and swapped:
        row.error("lat", f"緯度 {lat} and 経度 {lon} look swapped (latitude is ~20–46 in Japan)")
        return None, None
    if not lat_ok:
        row.error("lat", f"緯度 {lat} is outside Japan (expected {_LAT_RANGE[0]}–{_LAT_RANGE[1]})")
    if not lon_ok:
        row.error("lon", f"経度 {lon} is outside Japan (expected {_LON_RANGE[0]}–{_LON_RANGE[1]})")
    return (lat, lon) if lat_ok and lon_ok else (None, None)


def _floor(row: _Row) -> int | None:
    raw = _nfkc(row.raw("floor")).casefold()
    if not raw:
        return None
    m = _FLOOR.match(raw)
    if not m:
        row.error("floor", f"{raw!r} is not a floor: expected a whole number such as 2 or 2階")
        return None
    value = int(m[2])
    if m[1]:
        value = -value
    if value == 0 or not -5 <= value <= 100:
        row.error("floor", f"floor {value} is out of range (1–100, basement as 地下1 or B1)")
        return None
    return value


def _language(row: _Row) -> str:
    raw = _nfkc(row.raw("language"))
    if not raw:
        return "ja"
    code = _LANGUAGE_ALIASES.get(raw.casefold())
    if code is None:
        row.error(
            "language",
            f"unknown language {raw!r}: expected one of {', '.join(LANGUAGES)} "
            "or a Japanese name such as 英語, やさしい日本語",
        )
        return "ja"
    return code


def _needs(row: _Row) -> list[Need]:
    needs: list[Need] = []
    for part in _split(row.raw("needs")):
        need = _NEED_ALIASES.get(part.casefold())
        if need is None:
            row.error(
                "needs",
                f"unknown 要配慮事由 {part!r}: expected {', '.join(n.value for n in Need)} "
                "or 車いす, 寝たきり, 聴覚, 視覚, 認知症, 外国語, 独居",
            )
        elif need not in needs:
            needs.append(need)
    return needs


def _channels(row: _Row) -> tuple[ChannelName, ...]:
    order: list[ChannelName] = []
    for part in _split(row.raw("channels")):
        channel = _CHANNEL_ALIASES.get(part.casefold())
        if channel is None:
            row.error("channels", f"unknown 連絡手段 {part!r}: expected push, sms or voice")
        elif channel not in order:
            order.append(channel)
    return tuple(order)


def _contacts(row: _Row) -> tuple[ContactInfo, ...]:
    contacts: list[ContactInfo] = []

    def add(kind: ContactKind, address: str, key: str) -> None:
        if any(c.kind == kind and c.address == address for c in contacts):
            row.warn(key, "the same contact appears twice; kept once")
            return
        contacts.append(ContactInfo(kind, address))

    for part in _split(row.raw("push_tokens")):
        try:
            add(ContactKind.PUSH, normalise_token(part), "push_tokens")
        except ValueError as exc:
            row.error("push_tokens", str(exc))
    for part in _split(row.raw("mobile")):
        try:
            number, kind = normalise_phone(part)
        except PhoneError as exc:
            row.error("mobile", str(exc))
            continue
        if kind != ContactKind.MOBILE:
            row.error(
                "mobile",
                f"not a mobile number (it is a {kind.value} number): put it in 電話番号",
            )
            continue
        add(kind, number, "mobile")
    for part in _split(row.raw("landline")):
        try:
            number, kind = normalise_phone(part)
        except PhoneError as exc:
            row.error("landline", str(exc))
            continue
        if kind == ContactKind.MOBILE:
            row.warn("landline", "a mobile number in 電話番号: kept and typed mobile (SMS too)")
        add(kind, number, "landline")
    return tuple(contacts)


def _supporters(row: _Row) -> tuple[SupporterRecord, ...]:
    raw_names = row.raw("supporter_name").strip()
    names = [n for n in (p.strip() for p in re.split(r"[;；、]", raw_names)) if n]
    phones = _split(row.raw("supporter_phone"))
    if phones and len(phones) != len(names):
        row.error(
            "supporter_phone",
            f"{len(phones)} supporter phone(s) for {len(names)} supporter name(s): give them "
            "in the same order and number, or leave 支援者電話 empty",
        )
        return ()
    supporters: list[SupporterRecord] = []
    for index, name in enumerate(names):
        if len(name) > _MAX_LEN["supporter_name"] or any(not ch.isprintable() for ch in name):
            row.error("supporter_name", f"supporter {index + 1}: name too long or not printable")
            continue
        phone: str | None = None
        kind: ContactKind | None = None
        if phones:
            try:
                phone, kind = normalise_phone(phones[index])
            except PhoneError as exc:
                row.error("supporter_phone", f"supporter {index + 1}: {exc}")
        supporters.append(SupporterRecord(name, phone, kind))
    return tuple(supporters)


# --- writing ----------------------------------------------------------------------------


def apply_register(
    session: Session,
    records: Iterable[ResidentRecord],
    *,
    keep_ids: Iterable[str] = (),
    now: dt.datetime | None = None,
) -> ImportReport:
    """Upsert ``records`` into the caller's transaction and deactivate the missing.

    Residents whose id is neither in ``records`` nor in ``keep_ids`` (rows that were in
    the file but invalid) are deactivated: ``active`` false, ``deactivated_at`` set; never
    deleted. A contact that stays in the register keeps its health (an opted-out number
    stays marked). Returns the counts; ``errors``/``warnings`` are left empty.
    """
    now = now or utcnow()
    report = ImportReport()
    existing = {
        r.id: r
        for r in session.scalars(
            select(Resident).options(
                selectinload(Resident.contacts), selectinload(Resident.supporters)
            )
        )
    }
    seen: set[str] = set()
    for record in records:
        seen.add(record.id)
        fingerprint = record.fingerprint()
        row = existing.get(record.id)
        if row is None:
            row = Resident(id=record.id, created_at=now, contacts=[], supporters=[])
            _fill(row, record, fingerprint, now)
            session.add(row)
            report.added += 1
        elif row.active and row.fingerprint == fingerprint:
            report.unchanged += 1
        else:
            # a re-appearing (deactivated) resident is re-activated and counted as changed
            _fill(row, record, fingerprint, now)
            report.changed += 1
    keep = seen | set(keep_ids)
    for rid, row in existing.items():
        if rid not in keep and row.active:
            row.active = False
            row.deactivated_at = now
            row.updated_at = now
            report.removed += 1
    session.flush()
    return report


def _fill(row: Resident, record: ResidentRecord, fingerprint: str, now: dt.datetime) -> None:
    row.name = record.name
    row.kana = record.kana
    row.birth_date = record.birth_date
    row.sex = record.sex
    row.address = record.address
    row.lat = record.lat
    row.lon = record.lon
    row.floor = record.floor
    row.language = record.language
    row.needs = [n.value for n in record.needs]
    row.channel_pref = [c.value for c in record.channel_pref]
    row.consent = record.consent
    row.fingerprint = fingerprint
    row.active = True
    row.deactivated_at = None
    row.updated_at = now

    old = {(c.kind, c.address): c for c in row.contacts}
    contacts: list[Contact] = []
    for position, info in enumerate(record.contacts):
        kept = old.pop((info.kind.value, info.address), None)
        if kept is None:
            kept = Contact(kind=info.kind.value, address=info.address, healthy=True)
        kept.position = position
        contacts.append(kept)
    row.contacts = contacts  # orphans are deleted by the cascade

    # supporters are updated in place by position so their ids (used by the outbox) stay
    supporters = list(row.supporters)
    for position, sup in enumerate(record.supporters):
        if position < len(supporters):
            target = supporters[position]
        else:
            target = Supporter(position=position)
            supporters.append(target)
        target.name = sup.name
        target.phone = sup.phone
        target.phone_kind = sup.phone_kind.value if sup.phone_kind else None
    row.supporters = supporters[: len(record.supporters)]

    infos = [contact_info(c) for c in contacts]
    order = channel_order(frozenset(record.needs), infos, record.channel_pref)
    row.no_working_channel = not order.reachable


def import_register(
    engine: Engine,
    path: Path,
    *,
    encoding: str = "auto",
    dry_run: bool = False,
    skip_invalid: bool = False,
    actor: str | None = None,
) -> ImportReport:
    """Validate ``path`` and upsert it in one transaction with a ``registry.import`` audit.

    Raises ``RegisterImportFailed`` (exit 3, nothing written, ``report`` attached) on a
    file-level problem, or on row errors without ``skip_invalid``. With ``dry_run`` the
    counts are computed inside a transaction that is rolled back.
    """
    parsed = read_register(path, encoding)
    report = ImportReport(errors=list(parsed.errors), warnings=list(parsed.warnings))
    report.dry_run = dry_run
    if parsed.fatal or (parsed.errors and not skip_invalid):
        what = "cannot be imported" if parsed.fatal else f"has {len(parsed.errors)} invalid row(s)"
        raise RegisterImportFailed(
            f"名簿を取り込めません / register {path} {what}; nothing was written", report
        )
    with session_scope(engine) as session:
        counts = apply_register(session, parsed.records, keep_ids=parsed.bad_ids)
        report.added, report.changed = counts.added, counts.changed
        report.removed, report.unchanged = counts.removed, counts.unchanged
        if dry_run:
            session.rollback()
            return report
        report.written = True
        audit.record(
            session,
            "registry.import",
            {
                "path": str(path),
                "encoding": parsed.encoding,
                "skip_invalid": skip_invalid,
            },
            {
                "added": report.added,
                "changed": report.changed,
                "removed": report.removed,
                "unchanged": report.unchanged,
                "errors": len(report.errors),
                "warnings": len(report.warnings),
            },
            actor=actor,
        )
    return report
