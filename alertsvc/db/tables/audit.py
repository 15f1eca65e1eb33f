"""The audit log: append-only entries in a hash chain, and the chain's head row.

See ``alertsvc.audit`` for how the chain is written and verified (migration 0005).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from alertsvc.db.tables.base import Base, UTCDateTime, utcnow

__all__ = ["AuditChainHead", "AuditEntry"]


class AuditEntry(Base):
    """Append-only: who did what, when, with which arguments, and what came of it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # hash chain (migration 0005; see alertsvc.audit): set when the row is flushed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """One row (id 1): how many audit entries there are and the last one's hash.

    Anchors the end of the chain, so deleting the newest entries is detectable.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
