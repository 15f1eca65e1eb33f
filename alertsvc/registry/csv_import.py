"""Import of the 避難行動要支援者名簿 (support register) CSV: the writing half.

``csv_parse`` turns the file into records (pure); ``apply_register`` upserts them keyed
by 名簿番号 in the caller's transaction: added / changed / unchanged, and active residents
missing from the file deactivated (never deleted). ``import_register`` runs both in ONE
transaction with the audit entry and the rejected-rows record.

Safety rules (issue #7 items 6 and 16):

* a row with a usable id, name and address is always stored; a bad optional cell is
  cleared and the resident flagged ``needs_review`` (with ``--skip-invalid``);
* rows that cannot be stored are kept in ``register_rejected_rows`` (replaced by every
  written import), which ``registry health`` lists;
* when any row's id cell is unusable (empty, invisible characters, shifted cells) nobody
  is deactivated: that row may have been meant for anyone missing from the file;
* an import that would deactivate more than ``registry.max_removal_share`` of the active
  residents is refused (``RemovalsRefused``, exit 3, naming the count and the ids) unless
  ``allow_removals``.

Failure modes: a file that cannot be decoded, has no usable header or no rows raises
``RegisterImportFailed`` (an ``InputError``, exit 3) even with ``skip_invalid``. Row errors
raise it too unless ``skip_invalid`` is given. Nothing is written when it is raised, and
nothing is written on dry runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from alertsvc import audit
from alertsvc.db import session_scope
from alertsvc.db.bulk import insert_rows
from alertsvc.db.tables import Contact, RejectedRow, Resident, Supporter, utcnow
from alertsvc.errors import RegisterDataError, RowError
from alertsvc.models import ContactInfo, ImportReport
from alertsvc.planning.channel_order import channel_order
from alertsvc.registry.csv_fields import FIELD_ALIASES, REQUIRED_FIELDS, SupporterRecord
from alertsvc.registry.csv_parse import (
    ParseResult,
    RejectedRecord,
    ResidentRecord,
    decode_register,
    parse_register,
    read_register,
    stream_register,
)
from alertsvc.registry.profiles import Profile
from alertsvc.registry.store import contact_info

__all__ = [
    "DEFAULT_MAX_REMOVAL_SHARE",
    "FIELD_ALIASES",
    "REQUIRED_FIELDS",
    "ParseResult",
    "RegisterImportFailed",
    "RegisterReport",
    "RejectedRecord",
    "RemovalsRefused",
    "ResidentRecord",
    "SupporterRecord",
    "apply_register",
    "decode_register",
    "import_register",
    "parse_register",
    "read_register",
]

DEFAULT_MAX_REMOVAL_SHARE = 0.10


@dataclass
class RegisterReport(ImportReport):
    """``ImportReport`` plus who would go, who needs review and which rows were rejected.

    ``as_dict`` adds ``removed_ids``, ``needs_review`` (``[{"id", "line", "reasons"}]``)
    and ``rejected`` (``[{"line", "id", "reasons"}]``) to the shared import contract.
    """

    removed_ids: list[str] = field(default_factory=list)
    needs_review: list[ResidentRecord] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        doc = super().as_dict()
        doc["removed_ids"] = list(self.removed_ids)
        doc["needs_review"] = [
            {"id": r.id, "line": r.line, "reasons": list(r.review)} for r in self.needs_review
        ]
        doc["rejected"] = [
            {"line": r.line, "id": r.resident_id, "reasons": list(r.reasons)} for r in self.rejected
        ]
        return doc


class RegisterImportFailed(RegisterDataError):
    """The register has invalid rows (or cannot be read); nothing was written."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message, report.errors)
        self.report = report


class RemovalsRefused(RegisterImportFailed):
    """The import would deactivate too many residents; nothing was written."""


# records written per round trip; also bounds the ORM objects held for changed residents
WRITE_BATCH = 2000


class _Upsert:
    """Upsert records batch by batch in the caller's transaction (see ``apply_register``).

    New residents (the bulk of a first import) are written with ``insert_rows`` (COPY on
    PostgreSQL, executemany elsewhere); changed ones go through the ORM so that a contact
    that stays keeps its health and supporters keep their ids; unchanged ones are only
    counted. Memory: the ids seen so far, and one batch.
    """

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.now = now
        self.report = RegisterReport()
        self.seen: set[str] = set()

    def add(self, batch: Sequence[ResidentRecord]) -> None:
        if not batch:
            return
        ids = [r.id for r in batch]
        self.seen.update(ids)
        known = {
            row.id: (row.active, row.fingerprint)
            for row in self.session.execute(
                select(Resident.id, Resident.active, Resident.fingerprint).where(
                    Resident.id.in_(ids)
                )
            )
        }
        new: list[tuple[ResidentRecord, str]] = []
        changed: dict[str, tuple[ResidentRecord, str]] = {}
        for record in batch:
            fingerprint = record.fingerprint()
            state = known.get(record.id)
            if state is None:
                new.append((record, fingerprint))
            elif state == (True, fingerprint):
                self.report.unchanged += 1
            else:
                # a re-appearing (deactivated) resident is re-activated and counted as changed
                changed[record.id] = (record, fingerprint)
        self._insert(new)
        self.report.added += len(new)
        if changed:
            rows = list(
                self.session.scalars(
                    select(Resident)
                    .where(Resident.id.in_(list(changed)))
                    .options(selectinload(Resident.contacts), selectinload(Resident.supporters))
                )
            )
            for row in rows:
                record, fingerprint = changed[row.id]
                _fill(row, record, fingerprint, self.now)
            self.session.flush()
            for row in rows:
                self.session.expunge(row)
            self.report.changed += len(changed)

    def _insert(self, new: Sequence[tuple[ResidentRecord, str]]) -> None:
        residents: list[dict[str, Any]] = []
        contacts: list[dict[str, Any]] = []
        supporters: list[dict[str, Any]] = []
        now = self.now
        for record, fingerprint in new:
            infos = [ContactInfo(c.kind, c.address, True, frozenset()) for c in record.contacts]
            order = channel_order(frozenset(record.needs), infos, record.channel_pref)
            residents.append(
                {
                    "id": record.id,
                    "name": record.name,
                    "kana": record.kana,
                    "birth_date": record.birth_date,
                    "sex": record.sex,
                    "address": record.address,
                    "lat": record.lat,
                    "lon": record.lon,
                    "floor": record.floor,
                    "language": record.language,
                    "needs": [n.value for n in record.needs],
                    "channel_pref": [c.value for c in record.channel_pref],
                    "consent": record.consent,
                    "active": True,
                    "no_working_channel": not order.reachable,
                    "needs_review": bool(record.review),
                    "review_reasons": list(record.review),
                    "fingerprint": fingerprint,
                    "created_at": now,
                    "updated_at": now,
                    "deactivated_at": None,
                }
            )
            for position, info in enumerate(record.contacts):
                contacts.append(
                    {
                        "resident_id": record.id,
                        "kind": info.kind.value,
                        "address": info.address,
                        "position": position,
                        "healthy": True,
                    }
                )
            for position, sup in enumerate(record.supporters):
                supporters.append(
                    {
                        "resident_id": record.id,
                        "position": position,
                        "name": sup.name,
                        "phone": sup.phone,
                        "phone_kind": sup.phone_kind.value if sup.phone_kind else None,
                    }
                )
        insert_rows(self.session, _table(Resident), residents)
        insert_rows(self.session, _table(Contact), contacts)
        insert_rows(self.session, _table(Supporter), supporters)

    def finish(self, keep_ids: Iterable[str], deactivate: bool) -> RegisterReport:
        """Deactivate the active residents neither seen nor in ``keep_ids``."""
        keep = self.seen | set(keep_ids)
        missing = sorted(
            rid
            for rid in self.session.scalars(select(Resident.id).where(Resident.active.is_(True)))
            if rid not in keep
        )
        if deactivate:
            for i in range(0, len(missing), WRITE_BATCH):
                self.session.execute(
                    update(Resident)
                    .where(Resident.id.in_(missing[i : i + WRITE_BATCH]))
                    .values(active=False, deactivated_at=self.now, updated_at=self.now)
                    .execution_options(synchronize_session=False)
                )
            self.report.removed = len(missing)
            self.report.removed_ids = missing
        return self.report


def _table(model: type[Resident] | type[Contact] | type[Supporter]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def apply_register(
    session: Session,
    records: Iterable[ResidentRecord],
    *,
    keep_ids: Iterable[str] = (),
    deactivate: bool = True,
    now: dt.datetime | None = None,
) -> RegisterReport:
    """Upsert ``records`` into the caller's transaction and deactivate the missing.

    Residents whose id is neither in ``records`` nor in ``keep_ids`` (rows that were in
    the file but invalid) are deactivated unless ``deactivate`` is false: ``active``
    false, ``deactivated_at`` set; never deleted. A contact that stays in the register
    keeps its health (an opted-out number stays marked). Returns the counts and
    ``removed_ids``; ``errors``/``warnings`` are left empty. ``records`` is consumed
    once, ``WRITE_BATCH`` at a time.
    """
    upsert = _Upsert(session, now or utcnow())
    for batch in _batched(records):
        upsert.add(batch)
    report = upsert.finish(keep_ids, deactivate)
    session.flush()
    return report


def _batched(records: Iterable[ResidentRecord]) -> Iterator[list[ResidentRecord]]:
    batch: list[ResidentRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= WRITE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


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
    row.needs_review = bool(record.review)
    row.review_reasons = list(record.review)
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


def _replace_rejected(
    session: Session, source: str, rejected: list[RejectedRecord], now: dt.datetime
) -> None:
    session.execute(delete(RejectedRow))
    for r in rejected:
        session.add(
            RejectedRow(
                source=source,
                line=r.line,
                resident_id=r.resident_id,
                reasons=list(r.reasons),
                recorded_at=now,
            )
        )


def import_register(
    engine: Engine,
    path: Path,
    *,
    encoding: str = "auto",
    dry_run: bool = False,
    skip_invalid: bool = False,
    allow_removals: bool = False,
    max_removal_share: float = DEFAULT_MAX_REMOVAL_SHARE,
    actor: str | None = None,
    profile: Profile | None = None,
) -> RegisterReport:
    """Validate ``path`` and upsert it in one transaction with a ``registry.import`` audit.

    Raises ``RegisterImportFailed`` (exit 3, nothing written, ``report`` attached) on a
    file-level problem, or on row errors without ``skip_invalid``; ``RemovalsRefused``
    when more than ``max_removal_share`` of the active residents would be deactivated
    and ``allow_removals`` is false (dry runs too, so that they predict the real run).
    With ``dry_run`` the counts are computed inside a transaction that is rolled back.
    ``profile`` maps a municipality's own export onto the register first
    (``alertsvc.registry.profiles``).
    """
    stream = stream_register(path, encoding, profile)
    parsed = stream.result
    report = RegisterReport()
    report.dry_run = dry_run

    def refuse_if_invalid() -> None:
        """Copy the problems found into the report; raise if nothing may be written."""
        report.errors, report.warnings = list(parsed.errors), list(parsed.warnings)
        report.rejected = list(parsed.rejected)
        if parsed.fatal or (parsed.errors and not skip_invalid):
            what = (
                "cannot be imported" if parsed.fatal else f"has {len(parsed.errors)} invalid row(s)"
            )
            raise RegisterImportFailed(
                f"名簿を取り込めません / register {path} {what}; nothing was written", report
            )

    if parsed.fatal:
        refuse_if_invalid()  # the file cannot be read at all: no transaction opened
    with session_scope(engine) as session:
        active_before = (
            session.scalar(
                select(func.count()).select_from(Resident).where(Resident.active.is_(True))
            )
            or 0
        )
        upsert = _Upsert(session, utcnow())
        for batch in _batched(stream.records):
            report.needs_review += [r for r in batch if r.review]
            # a row error without --skip-invalid: nothing will be written, so stop writing
            # (the rest is still parsed, to report every problem)
            if skip_invalid or not stream.failed():
                upsert.add(batch)
        try:
            refuse_if_invalid()
        except RegisterImportFailed:
            session.rollback()  # what was written before the first bad row goes too
            raise
        deactivate = not parsed.id_damaged
        counts = upsert.finish(parsed.bad_ids, deactivate)
        report.added, report.changed = counts.added, counts.changed
        report.removed, report.unchanged = counts.removed, counts.unchanged
        report.removed_ids = counts.removed_ids
        if not deactivate:
            lines = ", ".join(str(n) for n in parsed.id_damaged[:20])
            report.warnings.append(
                RowError(
                    -1,
                    "名簿番号",
                    "nobody was deactivated: the 名簿番号 of line(s) "
                    f"{lines} is unusable, so those rows may be anyone missing from the file; "
                    "fix them and import again / 名簿番号が読めない行があるため無効化しません",
                )
            )
        limit = max_removal_share * active_before
        if report.removed > limit and not allow_removals:
            session.rollback()
            raise RemovalsRefused(
                f"名簿の取り込みを中止しました / refused: the import would deactivate "
                f"{report.removed} of {active_before} active residents (more than "
                f"{max_removal_share:.0%}, registry.max_removal_share); check the file "
                "(a partial export?), see who would go with --dry-run, and give "
                "--allow-removals if this is intended; nothing was written",
                report,
            )
        if dry_run:
            session.rollback()
            return report
        report.written = True
        _replace_rejected(session, path.name, parsed.rejected, utcnow())
        audit.record(
            session,
            "registry.import",
            {
                "path": str(path),
                "encoding": parsed.encoding,
                "profile": profile.name if profile else None,
                "skip_invalid": skip_invalid,
                "allow_removals": allow_removals,
            },
            {
                "added": report.added,
                "changed": report.changed,
                "removed": report.removed,
                "unchanged": report.unchanged,
                "errors": len(report.errors),
                "warnings": len(report.warnings),
                "needs_review": len(report.needs_review),
                "rejected": len(report.rejected),
            },
            actor=actor,
        )
    return report
