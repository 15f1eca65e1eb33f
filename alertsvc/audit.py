"""Append-only, hash-chained audit log: who did what, when, with which arguments.

Every row carries ``prev_hash`` (the previous row's ``hash``) and ``hash`` = SHA-256 of
``prev_hash`` and the row's canonical content (time, actor, action, args, result). An
edited row no longer matches its hash; a deleted or reordered row breaks the next
row's ``prev_hash``; a deleted tail no longer matches the chain head
(``audit_chain_head``: row count and last hash). Triggers refuse UPDATE and DELETE on
``audit_log`` on both backends (migration 0005); the chain catches whoever drops them.

Appends are serialised: on PostgreSQL by a transaction-level advisory lock taken before
the head row is read (held until commit, so two transactions never chain onto the same
row); on SQLite by the write lock ``BEGIN IMMEDIATE`` already holds. The chain is built
in a ``before_insert`` hook on ``AuditEntry``, so every way of adding an entry is
chained, not only ``record``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event, insert, select, text, update
from sqlalchemy.orm import Mapper, Session

from alertsvc.db.tables import AuditChainHead, AuditEntry, utcnow

__all__ = [
    "GENESIS",
    "ChainBreak",
    "VerifyReport",
    "append_only_ddl",
    "current_actor",
    "drop_append_only_ddl",
    "entry_hash",
    "record",
    "verify_chain",
]

GENESIS = "0" * 64
# any constant bigint; only alertsvc takes this advisory lock
_PG_LOCK_KEY = 0x616C657274617564  # "alertaud"


_REFUSE = "audit_log is append-only"


def append_only_ddl(dialect: str) -> list[str]:
    """SQL creating the triggers that refuse UPDATE and DELETE on ``audit_log``."""
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{_REFUSE}'; END $$",
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        ]
    return [
        f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
        for verb in ("UPDATE", "DELETE")
    ]


def drop_append_only_ddl(dialect: str) -> list[str]:
    """SQL dropping those triggers (downgrade; tamper tests play the attacker with it)."""
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
            "DROP FUNCTION IF EXISTS audit_log_append_only()",
        ]
    return [
        "DROP TRIGGER IF EXISTS audit_log_no_update",
        "DROP TRIGGER IF EXISTS audit_log_no_delete",
    ]


def current_actor(env: Mapping[str, str] | None = None) -> str:
    """The officer's identity: ``$ALERTSVC_OPERATOR`` (the CLI's ``--operator`` sets
    it), else the OS user, else ``unknown``."""
    env = os.environ if env is None else env
    if env.get("ALERTSVC_OPERATOR"):
        return env["ALERTSVC_OPERATOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def _canonical_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    at: dt.datetime,
    actor: str,
    action: str,
    args: Mapping[str, Any],
    result: Mapping[str, Any],
) -> str:
    """SHA-256 (hex) of the previous hash and one entry's canonical content.

    Canonical: UTC time with microseconds, JSON with sorted keys and no whitespace, so
    the value is the same after a round trip through either database.
    """
    doc = json.dumps(
        [prev_hash, _canonical_time(at), actor, action, args, result],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def record(
    session: Session,
    action: str,
    args: Mapping[str, Any],
    result: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session``; it commits with the work it describes.

    The chain link is computed when the entry is flushed. Raises ``TypeError`` when
    ``args`` or ``result`` is not JSON-serialisable (nothing is written).
    """
    entry = AuditEntry(
        actor=actor or current_actor(),
        action=action,
        # a JSON round trip now, so that the hashed content is what the database keeps
        args=json.loads(json.dumps(dict(args), ensure_ascii=False)),
        result=json.loads(json.dumps(dict(result or {}), ensure_ascii=False)),
    )
    session.add(entry)
    return entry


@event.listens_for(AuditEntry, "before_insert")
def _chain(mapper: Mapper[AuditEntry], conn: Connection, entry: AuditEntry) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = conn.execute(
        select(AuditChainHead.count, AuditChainHead.last_hash).where(AuditChainHead.id == 1)
    ).one_or_none()
    count: int = head[0] if head is not None else 0
    prev: str = head[1] if head is not None else GENESIS
    if entry.at is None:
        entry.at = utcnow()
    entry.args = json.loads(json.dumps(entry.args or {}, ensure_ascii=False))
    entry.result = json.loads(json.dumps(entry.result or {}, ensure_ascii=False))
    entry.prev_hash = prev
    entry.hash = entry_hash(prev, entry.at, entry.actor, entry.action, entry.args, entry.result)
    if head is None:
        conn.execute(insert(AuditChainHead).values(id=1, count=1, last_hash=entry.hash))
    else:
        conn.execute(
            update(AuditChainHead)
            .where(AuditChainHead.id == 1)
            .values(count=count + 1, last_hash=entry.hash)
        )


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first link that does not hold: ``entry_id`` (None for the chain head)."""

    entry_id: int | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class VerifyReport:
    entries: int
    head_hash: str
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "broken": self.broken.as_dict() if self.broken else None,
        }


def verify_chain(session: Session, *, batch: int = 5000) -> VerifyReport:
    """Walk the whole chain in id order; report the first broken link, if any.

    Also checks the chain head (count and last hash), which catches a deleted tail.
    Reads in batches so a long log does not need to fit in memory.
    """
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > last_id)
                .order_by(AuditEntry.id)
                .limit(batch)
            )
        )
        if not rows:
            break
        # each batch continues the chain from the last hash of the previous one
        tail_prev, broken = _check_from(prev, rows)
        if broken is not None:
            return VerifyReport(count, tail_prev, broken)
        prev = tail_prev
        count += len(rows)
        last_id = rows[-1].id
    head = session.get(AuditChainHead, 1)
    head_count, head_hash = (head.count, head.last_hash) if head is not None else (0, GENESIS)
    if head_count != count or head_hash != prev:
        return VerifyReport(
            count,
            prev,
            ChainBreak(
                None,
                f"chain head says {head_count} entries ending in {head_hash[:12]}…, the log "
                f"has {count} ending in {prev[:12]}… (entries at the end were deleted)",
            ),
        )
    return VerifyReport(count, prev, None)


def _check_from(prev: str, rows: Sequence[AuditEntry]) -> tuple[str, ChainBreak | None]:
    for row in rows:
        if row.prev_hash != prev:
            return prev, ChainBreak(
                row.id,
                f"entry {row.id}: prev_hash does not match the previous entry "
                "(an entry before it was deleted, inserted or moved)",
            )
        want = entry_hash(prev, row.at, row.actor, row.action, row.args, row.result)
        if row.hash != want:
            return prev, ChainBreak(
                row.id, f"entry {row.id}: content does not match its hash (edited)"
            )
        prev = row.hash
    return prev, None
