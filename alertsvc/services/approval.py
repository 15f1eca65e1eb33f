"""The two-person rule and the live-send confirmation code.

Where ``[approval]`` says an alert needs approval (its level is listed, or it reaches
at least ``min_recipients`` people; never an exercise), ``alert send`` saves it as a
draft marked ``needs_approval``; ``approve`` records a second officer's approval (the
author cannot approve their own draft); only then does ``alert send --draft ID`` send
it. ``--yes`` skips the typed confirmation, never the approval.

A live send at a terminal asks for a one-time code shown on screen, new each time,
so that the confirmation cannot become a phrase the fingers type without reading.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.audit import current_actor, record
from alertsvc.db.tables import AlertDraft, utcnow
from alertsvc.errors import AlertsvcError, InputError, NotFound
from alertsvc.services.drafts import save_draft
from alertsvc.services.preview import Preview

__all__ = [
    "ApprovalRefused",
    "approve_draft",
    "confirm_with_code",
    "hold_for_approval",
    "is_approved",
    "one_time_code",
]


class ApprovalRefused(AlertsvcError):
    """The approval is refused (the author cannot approve their own alert); exit 1."""


def hold_for_approval(
    session: Session, preview: Preview, *, draft_id: str | None = None, actor: str | None = None
) -> str:
    """Save ``preview`` as a draft needing approval (or mark ``draft_id`` so); its id."""
    actor = actor or current_actor()
    if draft_id is None:
        draft_id = save_draft(session, preview, actor=actor)
    draft = session.get(AlertDraft, draft_id)
    assert draft is not None
    draft.needs_approval = True
    record(
        session,
        "alert.hold_for_approval",
        {"draft_id": draft_id, "level": int(preview.level), "exercise": preview.exercise},
        {"recipients": len(preview.plans)},
        actor=actor,
    )
    return draft_id


def is_approved(draft: AlertDraft) -> bool:
    return draft.approved_by is not None


def approve_draft(session: Session, draft_id: str, *, actor: str | None = None) -> AlertDraft:
    """Record ``actor``'s approval of an open draft.

    ``NotFound`` (exit 3) for an unknown draft; ``InputError`` (exit 3) when it is not
    open or already approved; ``ApprovalRefused`` (exit 1) when ``actor`` wrote the
    draft. Nothing changes on any refusal. The row is locked so two approvals of the
    same draft serialise.
    """
    actor = actor or current_actor()
    draft = session.scalars(
        select(AlertDraft).where(AlertDraft.id == draft_id).with_for_update()
    ).one_or_none()
    if draft is None:
        raise NotFound(f"下書きがありません / no such draft: {draft_id}")
    if draft.state != "open":
        raise InputError(
            f"下書き {draft_id} は {draft.state} です / draft {draft_id} is {draft.state}"
        )
    if draft.approved_by is not None:
        raise InputError(
            f"承認済みです / draft {draft_id} was already approved by {draft.approved_by}"
        )
    if actor == draft.created_by:
        raise ApprovalRefused(
            f"作成者本人は承認できません / {actor} wrote draft {draft_id}; a different "
            "officer must approve it"
        )
    draft.approved_by = actor
    draft.approved_at = utcnow()
    record(
        session,
        "alert.approve",
        {"draft_id": draft_id, "level": draft.level, "exercise": draft.exercise},
        {"author": draft.created_by},
        actor=actor,
    )
    return draft


def one_time_code() -> str:
    """Six random digits, new for every send."""
    return f"{secrets.randbelow(1_000_000):06d}"


def confirm_with_code(
    *,
    level: int,
    recipients: int,
    code: str,
    say: Callable[[str], None],
    ask: Callable[[str], str],
) -> bool:
    """Show the recipient count and ``code``; True only if the officer types the code."""
    import unicodedata

    say(
        f"警戒レベル{level}を {recipients} 人に送信します / sending level {level} to "
        f"{recipients} people.\n確認コード / confirmation code: {code}"
    )
    typed = ask("確認コードを入力 / type the code: ")
    return unicodedata.normalize("NFKC", typed).strip() == code
