"""Parsing the 避難行動要支援者名簿 (support register) CSV into validated records (pure).

``read_register`` / ``parse_register``: bytes → text (UTF-8, UTF-8 with BOM or CP932,
mixed encodings refused) → ``ResidentRecord`` values plus every ``RowError`` found (all
of them, never just the first) and warnings. Line numbers are physical lines of the file
(see ``alertsvc.ingest.csvrows``).

What a bad row becomes (the rule ``--skip-invalid`` applies):

* a usable 名簿番号, 氏名 and 住所 but a bad optional cell (floor 「二階建ての2階」, a bad
  landline, …): the row is still a record, the bad cell cleared, the error reported and
  the record's ``review`` naming what was cleared (the resident is flagged needs_review);
* no usable id, name or address, or a row with the wrong number of cells: a
  ``RejectedRecord`` (kept in the rejected-rows table by the import). When its id cell
  is unusable (empty, control or invisible characters, cells shifted) nobody can tell
  which resident it was meant to be: ``ParseResult.id_damaged`` then forbids every
  deactivation in that import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from alertsvc.errors import RowError
from alertsvc.ingest import CsvRecord, MalformedCsv, Problems, csv_records, nfkc
from alertsvc.ingest.csvrows import csv_records_from_lines
from alertsvc.models import ChannelName, ContactInfo, Need
from alertsvc.planning.channel_order import channel_order, preference_problems
from alertsvc.registry.csv_fields import (
    FIELD_ALIASES,
    REQUIRED_FIELDS,
    Column,
    Row,
    SupporterRecord,
    header_key,
)
from alertsvc.registry.profiles import Profile, apply_profile
from alertsvc.registry.wareki import parse_date
from alertsvc.textdecode import decode_text as decode_register
from alertsvc.textdecode import iter_text_lines, scan_file

__all__ = [
    "ParseResult",
    "RegisterStream",
    "RejectedRecord",
    "ResidentRecord",
    "decode_register",
    "parse_register",
    "read_register",
    "stream_register",
]


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
    # cells that were unusable and cleared ("居住階: '二階建ての2階' is not a floor …")
    review: tuple[str, ...] = ()

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    def fingerprint(self) -> str:
        """Hash of everything the register says about this person (not the line number)."""
        doc: dict[str, object] = {
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
        if self.review:
            # only when present, so clean rows keep the hashes earlier imports stored
            doc["review"] = list(self.review)
        raw = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A row that cannot become a resident: its line, the id cell as read, and why."""

    line: int
    resident_id: str  # "" when the id cell is empty or unusable
    reasons: tuple[str, ...]


@dataclass(slots=True)
class ParseResult:
    """Outcome of parsing: good records, rejected rows, row errors and warnings."""

    records: list[ResidentRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)
    # usable ids of rejected rows: such residents must not be deactivated by --skip-invalid
    bad_ids: set[str] = field(default_factory=set)
    # lines of rejected rows whose id cell is unusable: no deactivation at all then
    id_damaged: list[int] = field(default_factory=list)
    # a file-level problem (encoding, header, empty): nothing can be imported at all
    fatal: bool = False
    encoding: str = ""


def read_register(
    path: Path, encoding: str = "auto", profile: Profile | None = None
) -> ParseResult:
    """Read and validate a register file; never raises for bad content (see ``fatal``).

    With ``profile`` the file is a municipality's own export, mapped onto the register
    first (``alertsvc.registry.profiles``); every line reported is the export's own.
    Raises ``ProfileError`` when the export lacks a column the profile uses.
    """
    result = ParseResult()
    try:
        data = path.read_bytes()
    except OSError as exc:
        result.errors.append(RowError(-1, "", f"cannot read {path}: {exc.strerror or exc}"))
        result.fatal = True
        return result
    if profile is not None and encoding == "auto":
        encoding = profile.encoding
    try:
        text, used = decode_register(data, encoding)
    except ValueError as exc:
        # a file-level problem (line -1); the message names the physical line
        result.errors.append(RowError(-1, "", str(exc)))
        result.fatal = True
        return result
    if profile is None:
        parsed = parse_register(text)
    else:
        try:
            mapped, lines, wrong_width = apply_profile(profile, text)
        except MalformedCsv as exc:
            result.errors.append(RowError(exc.line, "", f"malformed CSV: {exc.detail}"))
            result.fatal = True
            return result
        if len(lines) == 1 and wrong_width:
            parsed = ParseResult(fatal=True)  # no row fits the profile: not this layout
        else:
            parsed = _source_lines(parse_register(mapped), lines)
        parsed.errors = sorted([*parsed.errors, *wrong_width], key=lambda e: e.line)
        parsed.rejected += [RejectedRecord(e.line, "", (e.message,)) for e in wrong_width]
        parsed.id_damaged += [e.line for e in wrong_width]
    parsed.encoding = used
    return parsed


def _source_lines(parsed: ParseResult, lines: list[int]) -> ParseResult:
    """Renumber a mapped file's lines as the export's physical lines."""

    def at(line: int) -> int:
        return lines[line - 1] if 0 < line <= len(lines) else line

    parsed.errors = [replace(e, line=at(e.line)) for e in parsed.errors]
    parsed.warnings = [replace(w, line=at(w.line)) for w in parsed.warnings]
    parsed.records = [replace(r, line=at(r.line)) for r in parsed.records]
    parsed.rejected = [replace(r, line=at(r.line)) for r in parsed.rejected]
    parsed.id_damaged = [at(n) for n in parsed.id_damaged]
    return parsed


def parse_register(text: str) -> ParseResult:
    """Validate decoded register text into records; collects every problem found."""
    result = ParseResult()
    result.records = list(_parse_records(csv_records(text), result))
    return result


@dataclass(slots=True)
class RegisterStream:
    """A register being read: ``records`` yields the valid records one at a time.

    ``result`` holds the errors, warnings, rejected rows and flags found so far; it is
    complete (as ``read_register``'s, with ``records`` left empty) once ``records`` is
    exhausted. ``failed()`` says whether a row error was found so far.
    """

    result: ParseResult
    records: Iterator[ResidentRecord]
    problems: Problems

    def failed(self) -> bool:
        return bool(self.result.errors or self.problems.errors or self.result.fatal)


def stream_register(
    path: Path, encoding: str = "auto", profile: Profile | None = None
) -> RegisterStream:
    """``read_register`` that reads the file one line at a time (bounded memory).

    The file is read twice: once to check the encoding as ``decode_register`` would
    (a file-level problem makes ``result.fatal`` true before any record), then to parse.
    With a ``profile`` the export is mapped in memory first (``read_register``).
    """
    result = ParseResult()
    problems = Problems()
    if profile is not None:
        parsed = read_register(path, encoding, profile)
        records, parsed.records = parsed.records, []
        return RegisterStream(parsed, iter(records), problems)
    try:
        used = scan_file(path, encoding)
    except OSError as exc:
        result.errors.append(RowError(-1, "", f"cannot read {path}: {exc.strerror or exc}"))
        result.fatal = True
        return RegisterStream(result, iter(()), problems)
    except ValueError as exc:
        result.errors.append(RowError(-1, "", str(exc)))
        result.fatal = True
        return RegisterStream(result, iter(()), problems)
    result.encoding = used
    lines = csv_records_from_lines(iter_text_lines(path, used))
    return RegisterStream(result, _parse_records(lines, result, problems), problems)


def _parse_records(
    records: Iterator[CsvRecord], result: ParseResult, problems: Problems | None = None
) -> Iterator[ResidentRecord]:
    """Yield the valid records; ``result`` gets every problem, completed at the end."""
    problems = problems if problems is not None else Problems()
    header: list[str] | None = None
    header_line = 1
    try:
        for record in records:
            if not record.blank:  # leading blank lines before the header
                header, header_line = record.cells, record.line
                break
    except MalformedCsv as exc:
        problems.error(exc.line, "", f"unreadable CSV header: {exc.detail}")
        _finish(result, problems, fatal=True)
        return
    if header is None:
        problems.error(1, "", "empty file: expected a header row and residents")
        _finish(result, problems, fatal=True)
        return
    columns = _map_header(header, header_line, problems)
    if problems.errors:
        _finish(result, problems, fatal=True)
        return

    first_line: dict[str, int] = {}
    rows = 0
    truncated = False
    try:
        for record in records:
            if not record.cells or record.blank:
                continue
            rows += 1
            if len(record.cells) != len(header):
                truncated = len(record.cells) < len(header)
                _wrong_width(record.line, record.cells, len(header), columns, problems, result)
                continue
            truncated = False
            parsed = _parse_row(Row(record.line, record.cells, columns), problems, result,
                                first_line)  # fmt: skip
            if parsed is not None:
                yield parsed
    except MalformedCsv as exc:
        # strict mode: a quote left open at the end of a cut-off file lands here
        problems.error(exc.line, "", f"malformed CSV (truncated file?): {exc.detail}")
        truncated = True
    if rows == 0 and not problems.errors:
        problems.error(header_line, "", "header only: the file has no residents")
        _finish(result, problems, fatal=True)
        return
    # a cut-off file must never be imported in part: with --skip-invalid every resident
    # after the cut would be deactivated
    _finish(result, problems, fatal=truncated)


def _finish(result: ParseResult, problems: Problems, *, fatal: bool) -> ParseResult:
    result.errors.extend(problems.errors)
    result.warnings.extend(problems.warnings)
    result.fatal = result.fatal or fatal
    return result


def _map_header(header: list[str], line: int, problems: Problems) -> dict[str, Column]:
    columns: dict[str, Column] = {}
    for index, raw in enumerate(header):
        written = raw.strip()
        key = header_key(written)
        if key is None:
            if written:
                problems.warn(line, written, "unknown column ignored")
            elif any(h.strip() for h in header[index + 1 :]):
                problems.warn(line, f"#{index + 1}", "column without a header ignored")
            continue
        if key in columns:
            problems.error(
                line,
                written,
                f"duplicate column: {columns[key].header!r} (column {columns[key].index + 1})"
                f" and {written!r} (column {index + 1}) both mean {key}",
            )
            continue
        columns[key] = Column(index, written)
    missing = [key for key in REQUIRED_FIELDS if key not in columns]
    hint = ""
    if missing and not columns:
        hint = " (no known column at all: wrong encoding or not a register file?)"
    for key in missing:
        ja, en = FIELD_ALIASES[key][0], FIELD_ALIASES[key][1] if key != "id" else "id"
        problems.error(line, ja, f"required column {ja}/{en} is missing{hint}")
    return columns


def _wrong_width(
    line: int,
    cells: list[str],
    width: int,
    columns: dict[str, Column],
    problems: Problems,
    result: ParseResult,
) -> None:
    what = "fewer" if len(cells) < width else "more"
    message = (
        f"row has {len(cells)} cells, {what} than the {width} columns of the header "
        "(truncated line or a missing/extra delimiter)"
    )
    problems.error(line, "", message)
    # the cells are shifted: the id cell cannot be trusted to name the right resident
    col = columns["id"]
    raw_id = nfkc(cells[col.index]) if col.index < len(cells) else ""
    if raw_id:
        result.bad_ids.add(raw_id)
    result.id_damaged.append(line)
    result.rejected.append(RejectedRecord(line, raw_id, (message,)))


def _parse_row(
    row: Row, problems: Problems, result: ParseResult, first_line: dict[str, int]
) -> ResidentRecord | None:
    rid = row.resident_id()
    if rid and rid in first_line:
        row.error("id", f"duplicate 名簿番号 {rid!r}: already on line {first_line[rid]}")
    elif rid:
        first_line[rid] = row.line
    name = row.text("name", required=True)
    address = row.text("address", required=True)
    kana = row.text("kana", required=False, normalise=True)
    birth_date = row.optional("birth_date", parse_date)
    sex = row.sex()
    lat, lon = row.coordinates()
    floor = row.floor()
    language = row.language()
    needs = row.needs()
    channel_pref = row.channels()
    contacts = row.contacts()
    supporters = row.supporters()
    consent = row.consent()

    if channel_pref and not row.bad_fields & {"push_tokens", "mobile", "landline", "needs"}:
        for problem in preference_problems(frozenset(needs), contacts, channel_pref):
            row.error("channels", problem)
    if "channels" in row.bad_fields:
        channel_pref = ()  # cleared: the order is derived from contacts and needs

    for warning in row.warnings:
        problems.warn(warning.line, warning.column, warning.message)
    for error in row.errors:
        problems.error(error.line, error.column, error.message)
    reasons = tuple(f"{e.column}: {e.message}" for e in row.errors)
    if not row.core_ok:
        if rid and "id" not in row.bad_fields:
            result.bad_ids.add(rid)
        elif "id" in row.bad_fields and not (rid and rid in first_line):
            result.id_damaged.append(row.line)
        result.rejected.append(RejectedRecord(row.line, rid or nfkc(row.raw("id")), reasons))
        return None
    record = ResidentRecord(
        line=row.line,
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
        review=reasons,
    )
    if not record.located:
        problems.warn(
            row.line, row.header("lat"), "no coordinates: imported as unlocated (位置不明)"
        )
    order = channel_order(frozenset(record.needs), record.contacts, record.channel_pref)
    if not order.reachable:
        problems.warn(
            row.line,
            row.header("channels"),
            f"no working channel, imported and flagged: {order.unreachable_reason}",
        )
    return record
