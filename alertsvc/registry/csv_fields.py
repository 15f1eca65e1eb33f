"""Register CSV cells: header spellings, value tables and one parser per field.

Each parser reads one cell of a ``Row``, reports what is wrong with it on the row (with
the column as written in the file), and returns the cleared value (None, empty, or the
default) when the cell is unusable, so that ``--skip-invalid`` can keep the resident and
flag them for review instead of dropping them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from email_validator import EmailNotValidError, validate_email

from alertsvc.errors import RowError
from alertsvc.geo.extent import JAPAN
from alertsvc.ingest import bad_character, nfkc, split_list, trim
from alertsvc.models import LANGUAGES, LINE_USER_ID, ChannelName, ContactInfo, ContactKind, Need
from alertsvc.registry.phones import PhoneError, normalise_phone, normalise_token

__all__ = [
    "CORE_FIELDS",
    "FIELD_ALIASES",
    "REQUIRED_FIELDS",
    "Column",
    "Row",
    "SupporterRecord",
    "header_key",
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
    "fax": ("FAX番号", "ファクス番号", "ファックス番号", "fax"),
    "line_user_id": ("LINEユーザーID", "line_user_id", "line_id"),
    "email": ("メールアドレス", "email", "e-mail", "mail"),
    "language": ("言語", "language"),
    "channels": ("連絡手段", "channels"),
    "needs": ("要配慮事由", "needs"),
    "supporter_name": ("支援者氏名", "supporter_name", "supporter_names"),
    "supporter_phone": ("支援者電話", "支援者電話番号", "supporter_phone", "supporter_phones"),
    "consent": ("同意", "consent"),
}
REQUIRED_FIELDS: tuple[str, ...] = ("id", "name", "address")
# without a usable value in each of these a row cannot become a resident; every other
# cell is optional: when bad it is cleared and the resident flagged for review
CORE_FIELDS: frozenset[str] = frozenset(REQUIRED_FIELDS)

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
    "ファクス": ChannelName.FAX,
    "ファックス": ChannelName.FAX,
    "メール": ChannelName.EMAIL,
    "e-mail": ChannelName.EMAIL,
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
_MAX_LEN = {"id": 64, "name": 200, "kana": 200, "address": 500, "supporter_name": 200}
_T = TypeVar("_T")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def header_key(written: str) -> str | None:
    """The field a header cell means (after NFKC + casefold), or None when unknown."""
    return _HEADER_LOOKUP.get(unicodedata.normalize("NFKC", written.strip()).casefold())


@dataclass(frozen=True, slots=True)
class Column:
    index: int
    header: str  # as written in the file


@dataclass(frozen=True, slots=True)
class SupporterRecord:
    name: str
    phone: str | None  # E.164
    phone_kind: ContactKind | None


class Row:
    """One register row being parsed: its cells, and the problems found, per field."""

    def __init__(self, line: int, cells: Sequence[str], columns: dict[str, Column]) -> None:
        self.line = line
        self.cells = cells
        self.columns = columns
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.bad_fields: set[str] = set()

    def raw(self, key: str) -> str:
        col = self.columns.get(key)
        if col is None or col.index >= len(self.cells):
            return ""
        return self.cells[col.index]

    def header(self, key: str) -> str:
        col = self.columns.get(key)
        return col.header if col else FIELD_ALIASES[key][0]

    def error(self, key: str, message: str) -> None:
        self.bad_fields.add(key)
        self.errors.append(RowError(self.line, self.header(key), message))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(RowError(self.line, self.header(key), message))

    @property
    def core_ok(self) -> bool:
        """True when id, name and address are usable: the row can become a resident."""
        return not (self.bad_fields & CORE_FIELDS)

    # --- one parser per field ----------------------------------------------------------

    def resident_id(self) -> str:
        rid = nfkc(self.raw("id"))
        if not rid:
            self.error("id", "名簿番号 is empty (required)")
            return ""
        bad = bad_character(rid)
        if bad:
            self.error("id", f"名簿番号 contains a control or invisible character ({bad})")
            return ""
        if len(rid) > _MAX_LEN["id"] or not rid.isprintable():
            self.error("id", f"名簿番号 must be at most {_MAX_LEN['id']} printable characters")
            return ""
        return rid

    def text(self, key: str, *, required: bool, normalise: bool = False) -> str:
        """A name, address or kana cell; "" (and an error) when unusable."""
        raw = self.raw(key)
        # names and addresses are stored as written (trimmed); NFKC is only for comparing
        value = nfkc(raw) if normalise else trim(raw)
        if not value:
            if required:
                self.error(key, f"{self.header(key)} is empty (required)")
            return ""
        if _LINE_BREAK.search(value):
            # municipal exports put line breaks in quoted address cells; one line is enough
            parts = (trim(part) for part in _LINE_BREAK.split(value))
            value = " ".join(part for part in parts if part)
            self.warn(key, "line break inside the cell replaced by a space")
        bad = bad_character(value)
        if bad:
            self.error(key, f"contains a control or separator character ({bad}); remove it")
            return ""
        limit = _MAX_LEN.get(key)
        if limit and len(value) > limit:
            self.error(key, f"too long: {len(value)} characters (at most {limit})")
            return ""
        return value

    def optional(self, key: str, parse: Callable[[str], _T]) -> _T | None:
        raw = nfkc(self.raw(key))
        if not raw:
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            self.error(key, str(exc))
            return None

    def lookup(self, key: str, table: dict[str, _T], expected: str) -> _T | None:
        raw = nfkc(self.raw(key))
        if not raw:
            return None
        value = table.get(raw.casefold())
        if value is None:
            self.error(key, f"{raw!r} is not understood: expected {expected}")
        return value

    def sex(self) -> str | None:
        return self.lookup("sex", _SEX, "男/女/その他 or M/F/X")

    def consent(self) -> bool | None:
        return self.lookup("consent", _CONSENT, "はい/いいえ, 1/0 or true/false")

    def _number(self, key: str) -> float | None:
        raw = nfkc(self.raw(key))
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            self.error(key, f"{raw!r} is not a decimal number (WGS84 degrees, e.g. 33.7441)")
            return None
        if not math.isfinite(value):
            self.error(key, f"{raw!r} is not a finite number")
            return None
        return value

    def coordinates(self) -> tuple[float | None, float | None]:
        errors_before = len(self.errors)
        lat, lon = self._number("lat"), self._number("lon")
        if len(self.errors) > errors_before:
            return None, None
        if (lat is None) != (lon is None):
            missing = "lon" if lon is None else "lat"
            self.error(missing, "緯度 and 経度 must both be given or both be empty")
            return None, None
        if lat is None or lon is None:
            return None, None
        lat_ok, lon_ok = JAPAN.has_lat(lat), JAPAN.has_lon(lon)
        if not lat_ok and not lon_ok and JAPAN.looks_swapped(lon, lat):
            self.error(
                "lat",
                f"緯度 {lat} and 経度 {lon} look swapped "
                f"(latitude is ~{JAPAN.min_lat:g}–{JAPAN.max_lat:g} in Japan)",
            )
            return None, None
        if not lat_ok:
            self.error(
                "lat",
                f"緯度 {lat} is outside Japan (expected {JAPAN.min_lat}–{JAPAN.max_lat})",
            )
        if not lon_ok:
            self.error(
                "lon",
                f"経度 {lon} is outside Japan (expected {JAPAN.min_lon}–{JAPAN.max_lon})",
            )
        return (lat, lon) if lat_ok and lon_ok else (None, None)

    def floor(self) -> int | None:
        raw = nfkc(self.raw("floor")).casefold()
        if not raw:
            return None
        m = _FLOOR.match(raw)
        if not m:
            self.error("floor", f"{raw!r} is not a floor: expected a whole number such as 2 or 2階")
            return None
        value = int(m[2])
        if m[1]:
            value = -value
        if value == 0 or not -5 <= value <= 100:
            self.error("floor", f"floor {value} is out of range (1–100, basement as 地下1 or B1)")
            return None
        return value

    def language(self) -> str:
        raw = nfkc(self.raw("language"))
        if not raw:
            return "ja"
        code = _LANGUAGE_ALIASES.get(raw.casefold())
        if code is None:
            self.error(
                "language",
                f"unknown language {raw!r}: expected one of {', '.join(LANGUAGES)} "
                "or a Japanese name such as 英語, やさしい日本語",
            )
            return "ja"
        return code

    def needs(self) -> list[Need]:
        needs: list[Need] = []
        for part in split_list(self.raw("needs"), _SPLIT):
            need = _NEED_ALIASES.get(part.casefold())
            if need is None:
                self.error(
                    "needs",
                    f"unknown 要配慮事由 {part!r}: expected {', '.join(n.value for n in Need)} "
                    "or 車いす, 寝たきり, 聴覚, 視覚, 認知症, 外国語, 独居",
                )
            elif need not in needs:
                needs.append(need)
        return needs

    def channels(self) -> tuple[ChannelName, ...]:
        order: list[ChannelName] = []
        for part in split_list(self.raw("channels"), _SPLIT):
            channel = _CHANNEL_ALIASES.get(part.casefold())
            if channel is None:
                self.error(
                    "channels",
                    f"unknown 連絡手段 {part!r}: expected "
                    + ", ".join(c.value for c in ChannelName),
                )
            elif channel not in order:
                order.append(channel)
        return tuple(order)

    def contacts(self) -> tuple[ContactInfo, ...]:
        contacts: list[ContactInfo] = []

        def add(kind: ContactKind, address: str, key: str) -> None:
            if any(c.kind == kind and c.address == address for c in contacts):
                self.warn(key, "the same contact appears twice; kept once")
                return
            contacts.append(ContactInfo(kind, address))

        for part in split_list(self.raw("push_tokens"), _SPLIT):
            try:
                add(ContactKind.PUSH, normalise_token(part), "push_tokens")
            except ValueError as exc:
                self.error("push_tokens", str(exc))
        for part in self._phone_parts("mobile"):
            try:
                number, kind = normalise_phone(part)
            except PhoneError as exc:
                self.error("mobile", str(exc))
                continue
            if kind != ContactKind.MOBILE:
                self.error(
                    "mobile",
                    f"not a mobile number (it is a {kind.value} number): put it in 電話番号",
                )
                continue
            add(kind, number, "mobile")
        for part in self._phone_parts("landline"):
            try:
                number, kind = normalise_phone(part)
            except PhoneError as exc:
                self.error("landline", str(exc))
                continue
            if kind == ContactKind.MOBILE:
                self.warn(
                    "landline", "a mobile number in 電話番号: kept and typed mobile (SMS too)"
                )
            add(kind, number, "landline")
        for part in self._phone_parts("fax"):
            try:
                # a FAX line is a phone number: normalised the same way; any type is kept
                number, _kind = normalise_phone(part)
            except PhoneError as exc:
                self.error("fax", str(exc))
                continue
            add(ContactKind.FAX, number, "fax")
        for part in split_list(self.raw("line_user_id"), _SPLIT):
            if not LINE_USER_ID.fullmatch(part):
                self.error(
                    "line_user_id",
                    f"{part[:40]!r} is not a LINE user id: expected U and 32 hex digits "
                    "(0-9, a-f), as the LINE account's webhook gives it",
                )
                continue
            add(ContactKind.LINE, part, "line_user_id")
        for part in split_list(self.raw("email"), _SPLIT):
            try:
                # syntax only: no DNS lookup while importing
                address = validate_email(part, check_deliverability=False).normalized
            except EmailNotValidError as exc:
                self.error("email", f"{part[:60]!r} is not an e-mail address: {exc}")
                continue
            add(ContactKind.EMAIL, address, "email")
        return tuple(contacts)

    def _phone_parts(self, key: str) -> list[str]:
        # checked before splitting: "\s" in the list separator would swallow U+2028 & co.
        bad = bad_character(nfkc(self.raw(key)), allow=" ")
        if bad:
            self.error(key, f"contains a control or separator character ({bad}); remove it")
            return []
        return split_list(self.raw(key), _SPLIT)

    def supporters(self) -> tuple[SupporterRecord, ...]:
        raw_names = trim(self.raw("supporter_name"))
        names = [n for n in (trim(p) for p in re.split(r"[;；、]", raw_names)) if n]
        phones = self._phone_parts("supporter_phone")
        if phones and len(phones) != len(names):
            self.error(
                "supporter_phone",
                f"{len(phones)} supporter phone(s) for {len(names)} supporter name(s): give "
                "them in the same order and number, or leave 支援者電話 empty",
            )
            phones = []  # cleared: the names are kept, without numbers
        supporters: list[SupporterRecord] = []
        for index, name in enumerate(names):
            bad = bad_character(name)
            if len(name) > _MAX_LEN["supporter_name"] or bad or not name.isprintable():
                why = f" ({bad})" if bad else ""
                self.error(
                    "supporter_name", f"supporter {index + 1}: name too long or not printable{why}"
                )
                continue
            phone: str | None = None
            kind: ContactKind | None = None
            if phones:
                try:
                    phone, kind = normalise_phone(phones[index])
                except PhoneError as exc:
                    self.error("supporter_phone", f"supporter {index + 1}: {exc}")
            supporters.append(SupporterRecord(name, phone, kind))
        return tuple(supporters)
