"""Drafts: alerts prepared but not sent (a saved preview, later a watcher recommendation).

A draft stores the level and the resolved scope; sending it re-targets and re-plans with
the register as it is at send time, so nobody added since the draft is left out.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.audit import current_actor, record
from alertsvc.db.tables import AlertDraft, utcnow
from alertsvc.errors import InputError, NotFound
from alertsvc.services.preview import Preview

if TYPE_CHECKING:
    from alertsvc.config import Settings
    from alertsvc.services.lifecycle import LifecycleResult

__all__ = ["apply_update_draft", "claim_draft", "list_drafts", "load_draft", "save_draft"]


def _new_id(now: dt.datetime) -> str:
    return "D" + now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)


def save_draft(
    session: Session,
    preview: Preview,
    *,
    source: str = "officer",
    actor: str | None = None,
    note: str = "",
    updates: str | None = None,
) -> str:
    """Store ``preview``'s level and scope as an open draft; returns its id.

    ``updates`` names a live alert: sending the draft then raises that alert to the
    draft's level (``alert update``) instead of sending a second alert (the watcher's
    escalation); kept in the draft's scope under ``"updates"``.

    ``source`` is "officer" or "watcher"; ``note`` says why the draft exists (the watcher
    writes the reading, the line and the rule, e.g. "予測: 45分後に避難判断水位").
    """
    actor = actor or current_actor()
    draft = AlertDraft(
        id=_new_id(utcnow()),
        level=int(preview.level),
        scope={**preview.scope.as_dict(), **({"updates": updates} if updates else {})},
        exercise=preview.exercise,
        source=source,
        note=note,
        state="open",
        created_by=actor,
    )
    session.add(draft)
    record(
        session,
        "alert.draft",
        {
            "level": draft.level,
            "scope": draft.scope,
            "exercise": draft.exercise,
            "source": source,
            "note": note,
        },
        {"draft_id": draft.id, "targets": len(preview.plans)},
        actor=actor,
    )
    return draft.id


def load_draft(session: Session, draft_id: str) -> AlertDraft:
    """The draft ``draft_id``; NotFound (exit 3) when there is none."""
    draft = session.get(AlertDraft, draft_id)
    if draft is None:
        raise NotFound(f"下書きがありません / no such draft: {draft_id}")
    return draft


def claim_draft(session: Session, draft_id: str, alert_id: str, actor: str | None = None) -> None:
    """Mark the draft sent as ``alert_id``, in the sending transaction.

    The row is locked (PostgreSQL ``FOR UPDATE``; SQLite's write lock is already held), so
    two officers sending the same draft cannot both succeed. InputError when it was sent
    or discarded already.
    """
    draft = session.scalars(
        select(AlertDraft).where(AlertDraft.id == draft_id).with_for_update()
    ).one_or_none()
    if draft is None:
        raise NotFound(f"下書きがありません / no such draft: {draft_id}")
    if draft.state != "open":
        already = f" as {draft.alert_id}" if draft.alert_id else ""
        raise InputError(
            f"下書き {draft_id} は送信済みまたは破棄済みです / draft {draft_id} is "
            f"{draft.state}{already}"
        )
    draft.state = "sent"
    draft.alert_id = alert_id
    draft.sent_by = actor or current_actor()
    draft.sent_at = utcnow()


def list_drafts(session: Session, *, open_only: bool = True) -> list[AlertDraft]:
    query = select(AlertDraft).order_by(AlertDraft.created_at.desc())
    if open_only:
        query = query.where(AlertDraft.state == "open")
    return list(session.scalars(query))


def apply_update_draft(
    session: Session, settings: Settings, draft_id: str, *, actor: str
) -> LifecycleResult | None:
    """Send a draft that ``updates`` a live alert (the watcher's escalation) the way
    ``alert update`` does, and mark the draft sent as that alert, in one transaction.

    None when the draft is an ordinary one (send it as a new alert). NotFound for an
    unknown draft; InputError when it was sent already or the alert cannot be raised.
    """
    from alertsvc.models import Level
    from alertsvc.services.lifecycle import update_alert
    from alertsvc.services.preview import build_preview
    from alertsvc.services.scope import scope_from_dict

    draft = load_draft(session, draft_id)
    root_id = (draft.scope or {}).get("updates")
    if not root_id:
        return None
    preview = build_preview(
        session, settings, level=Level(draft.level), scope=scope_from_dict(session, draft.scope),
        exercise=draft.exercise,
    )  # fmt: skip
    result = update_alert(session, settings, str(root_id), preview, actor=actor)
    claim_draft(session, draft_id, str(root_id), actor=actor)
    return result
