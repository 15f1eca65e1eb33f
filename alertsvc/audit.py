"""Append-only audit log: who did what, when, with which arguments."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from alertsvc.db.tables import AuditEntry

__all__ = ["current_actor", "record"]


def current_actor(env: Mapping[str, str] | None = None) -> str:
    """The officer's identity: ``$ALERTSVC_OPERATOR``, else the OS user."""
    env = os.environ if env is None else env
    if env.get("ALERTSVC_OPERATOR"):
        return env["ALERTSVC_OPERATOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def record(
    session: Session,
    action: str,
    args: Mapping[str, Any],
    result: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session``; it commits with the work it describes."""
    entry = AuditEntry(
        actor=actor or current_actor(),
        action=action,
        args=dict(args),
        result=dict(result or {}),
    )
    session.add(entry)
    return entry
