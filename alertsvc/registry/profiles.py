"""Mapping profiles: a municipality's register export as it is, onto our register layout.

A profile (TOML) says how to read the export (encoding, whether it has a header row,
the column names when it has none) and how each of our fields is made from its
columns: one column, several joined (姓 + 名, 都道府県 + 市区町村 + 町名 + 番地), code
values translated ("1" -> 男), a date format, and flag columns that set a need
(一人暮らし高齢者 = 1 -> lives_alone). ``apply_profile`` turns the export into register
CSV text that the ordinary parser then validates, and gives the physical source line of
each row, so that every error still names the line of the file the officer has. Cells
are copied as written: environment-dependent characters (①, 髙, 﨑) are never changed.

Shipped profiles live in ``alertsvc/templates/profiles/<name>.toml``; a path to a
``.toml`` file works too. Format: README "Mapping profiles".
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from alertsvc.errors import InputError, RowError
from alertsvc.ingest import csv_records
from alertsvc.models import Need
from alertsvc.registry.csv_fields import FIELD_ALIASES

__all__ = ["FieldMap", "Profile", "ProfileError", "apply_profile", "load_profile", "shipped"]

_TRUE_FLAG = frozenset({"1", "01", "true", "yes", "はい", "○", "〇", "有"})


class ProfileError(InputError):
    """A profile that cannot be read or does not fit the export (exit 3)."""


@dataclass(frozen=True, slots=True)
class FieldMap:
    """How one register field is made: ``columns`` joined by ``sep``, then ``codes``
    translated, then a date in ``date_format`` rewritten as ISO."""

    columns: tuple[str, ...]
    sep: str = ""
    codes: dict[str, str] = field(default_factory=dict)
    date_format: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    encoding: str = "auto"
    header: bool = True
    columns: tuple[str, ...] = ()  # the export's column names when it has no header
    fields: dict[str, FieldMap] = field(default_factory=dict)
    flags: dict[str, Need] = field(default_factory=dict)  # column -> need when set


def shipped() -> list[str]:
    """Names of the profiles shipped with alertsvc."""
    folder = resources.files("alertsvc") / "templates" / "profiles"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name, or a profile file by path.

    Raises ``ProfileError`` naming the file and key for anything wrong in it.
    """
    if name_or_path in shipped():
        source = resources.files("alertsvc") / "templates" / "profiles" / f"{name_or_path}.toml"
        where, text = f"profile {name_or_path}", source.read_text(encoding="utf-8")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(
                f"no profile {name_or_path!r}: not a file, and not one of the shipped "
                f"profiles ({', '.join(shipped())})"
            )
        where, text = str(path), path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML: {exc}") from exc
    return _build(raw, where)


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ProfileError(f"{where}: {key}: expected a column name or a list of them")


def _build(raw: dict[str, Any], where: str) -> Profile:
    known = {"name", "description", "encoding", "header", "columns", "fields", "flags"}
    unknown = set(raw) - known
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {sorted(unknown)} (known: {sorted(known)})")
    header = raw.get("header", True)
    if not isinstance(header, bool):
        raise ProfileError(f"{where}: header: expected true or false")
    columns = _strings(raw["columns"], "columns", where) if "columns" in raw else ()
    if not header and not columns:
        raise ProfileError(f"{where}: header = false needs columns = [...] (the column names)")
    fields: dict[str, FieldMap] = {}
    for key, spec in dict(raw.get("fields", {})).items():
        if key not in FIELD_ALIASES:
            raise ProfileError(
                f"{where}: fields.{key}: not a register field (known: {', '.join(FIELD_ALIASES)})"
            )
        if isinstance(spec, str | list):
            fields[key] = FieldMap(_strings(spec, f"fields.{key}", where))
            continue
        if not isinstance(spec, dict) or "column" not in spec:
            raise ProfileError(f"{where}: fields.{key}: expected a column or {{ column = ... }}")
        codes = spec.get("codes", {})
        if not isinstance(codes, dict) or not all(isinstance(v, str) for v in codes.values()):
            raise ProfileError(f"{where}: fields.{key}.codes: expected a table of strings")
        fields[key] = FieldMap(
            _strings(spec["column"], f"fields.{key}.column", where),
            str(spec.get("sep", "")),
            {str(k): v for k, v in codes.items()},
            str(spec.get("date_format", "")),
        )
    flags: dict[str, Need] = {}
    for column, need in dict(raw.get("flags", {})).items():
        if need not in Need._value2member_map_:
            raise ProfileError(
                f"{where}: flags.{column}: {need!r} is not a need "
                f"({', '.join(n.value for n in Need)})"
            )
        flags[column] = Need(need)
    named = set(columns)
    if named:
        used = {c for f in fields.values() for c in f.columns} | set(flags)
        missing = sorted(used - named)
        if missing:
            raise ProfileError(f"{where}: column(s) {missing} are not in columns = [...]")
    return Profile(
        name=str(raw.get("name", where)),
        encoding=str(raw.get("encoding", "auto")),
        header=header,
        columns=columns,
        fields=fields,
        flags=flags,
    )


def _value(fm: FieldMap, cells: dict[str, str]) -> str:
    parts = [cells.get(c, "").strip().rstrip("\u3000") for c in fm.columns]
    value = fm.sep.join(p for p in parts if p)
    value = fm.codes.get(value, value)
    if fm.date_format and value:
        # a calendar date, no time zone involved; a value that does not match is left as
        # written, and the register parser reports it with line and column
        with contextlib.suppress(ValueError):
            parsed = dt.datetime.strptime(value, fm.date_format)  # noqa: DTZ007
            value = parsed.date().isoformat()
    return value


def apply_profile(profile: Profile, text: str) -> tuple[str, list[int], list[RowError]]:
    """(register CSV text, source line of each output line, rows of the wrong width)
    for decoded ``text``.

    Output line 1 is the header (source line of the export's header, or 0 when it has
    none); output line n + 1 is the n-th record written. A row of the wrong width is not
    written: it comes back as an error with its line. Raises ``ProfileError`` when the
    export's header lacks a column the profile uses, ``MalformedCsv`` for an unreadable
    file (the caller reports it as a file-level error).
    """
    records = csv_records(text)
    names = list(profile.columns)
    header_line = 0
    if profile.header:
        for record in records:
            if not record.blank:
                names, header_line = [c.strip() for c in record.cells], record.line
                break
        used = {c for f in profile.fields.values() for c in f.columns} | set(profile.flags)
        missing = sorted(used - set(names))
        if missing:
            raise ProfileError(
                f"profile {profile.name}: the file's header lacks column(s) {missing}"
            )
    keys = list(profile.fields)
    if profile.flags:
        keys = [*keys, "needs"] if "needs" not in keys else keys
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([FIELD_ALIASES[k][0] for k in keys])
    lines = [header_line]
    wrong_width: list[RowError] = []
    for record in records:
        if record.blank:
            continue
        if len(record.cells) != len(names):
            # the cells are shifted: no field can be trusted, not even the id
            wrong_width.append(
                RowError(
                    record.line,
                    "",
                    f"row has {len(record.cells)} cells, but profile {profile.name} expects "
                    f"{len(names)} columns (another layout, or a missing/extra delimiter)",
                )
            )
            continue
        cells = dict(zip(names, record.cells, strict=True))
        row = {k: _value(fm, cells) for k, fm in profile.fields.items()}
        set_needs = [
            need.value
            for column, need in profile.flags.items()
            if cells.get(column, "").strip().casefold() in _TRUE_FLAG
        ]
        if set_needs:
            row["needs"] = ";".join(filter(None, [row.get("needs", ""), *set_needs]))
        # line breaks inside a cell would shift every later line: one line per record
        writer.writerow([" ".join(row.get(k, "").splitlines()) for k in keys])
        lines.append(record.line)
    return out.getvalue(), lines, wrong_width
