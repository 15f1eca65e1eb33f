"""Quiet fix: a shelter's name or address corrected in a running alert without messaging
anyone again (the trap of re-announcing an edited Lアラート item).

The fix itself is the audit entry ``shelter.quiet_fix`` (before and after); the resident
page reads the fixes back (``shelter_fixes``) so that a message that already went out is
shown with the shelter's current name and address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alertsvc.audit import record
from alertsvc.db.tables import Alert, AuditEntry, Delivery, NoticeWait, Shelter, utcnow
from alertsvc.errors import InputError, NotFound

__all__ = ["QuietFix", "apply_fixes", "quiet_fix_shelter", "shelter_fixes"]

QUIET_FIX_ACTION = "shelter.quiet_fix"
Swap = tuple[str, str]


@dataclass(frozen=True, slots=True)
class QuietFix:
    shelter_id: str
    rewritten: int  # unsent messages that now carry the fixed name/address
    awaiting: int = 0  # notices owed to rows in flight that now carry it

    def as_dict(self) -> dict[str, Any]:
        return {"shelter_id": self.shelter_id, "rewritten": self.rewritten,
                "awaiting": self.awaiting}  # fmt: skip


def apply_fixes(text: str, swaps: Sequence[Swap]) -> str:
    """``text`` with every (old, new) of ``swaps`` replaced, in order (A->B then B->C)."""
    for old, new in swaps:
        text = text.replace(old, new)
    return text


def shelter_fixes(session: Session, shelter_id: str) -> list[Swap]:
    """Every quiet fix of ``shelter_id``, oldest first, as (old text, new text) pairs."""
    swaps: list[Swap] = []
    for args in session.scalars(
        select(AuditEntry.args).where(AuditEntry.action == QUIET_FIX_ACTION).order_by(AuditEntry.id)
    ):
        if not isinstance(args, dict) or args.get("shelter_id") != shelter_id:
            continue
        before = args.get("before") or {}
        for field in ("name", "address"):
            old, new = before.get(field), args.get(field)
            if old and new and old != new:
                swaps.append((str(old), str(new)))
    return swaps


def quiet_fix_shelter(
    session: Session, shelter_id: str, *, actor: str, name: str | None = None,
    address: str | None = None,
) -> QuietFix:  # fmt: skip
    """Fix a shelter's name or address without re-notifying anyone.

    The shelter row changes (so later plans use it), every unsent message (held, queued)
    of an active alert that names the old text is rewritten in place, and so is every
    notice still owed to a row in flight; the resident page shows the new text from now
    on, also for messages already sent (``shelter_fixes``). Messages already sent are
    left alone — nobody is messaged again for a typo. ``NotFound`` for an unknown
    shelter, ``InputError`` when nothing is given to change.
    """
    if not name and not address:
        raise InputError("--name か --address が必要です / give --name and/or --address")
    shelter = session.get(Shelter, shelter_id)
    if shelter is None:
        raise NotFound(f"避難所がありません / no such shelter: {shelter_id}")
    swaps = [(old, new) for old, new in ((shelter.name, name), (shelter.address, address))
             if new and old and old != new]  # fmt: skip
    before = {"name": shelter.name, "address": shelter.address}
    if name:
        shelter.name = name
    if address:
        shelter.address = address
    shelter.updated_at = utcnow()
    active = select(Alert.id).where(Alert.state == "active").scalar_subquery()
    rewritten = awaiting = 0
    if swaps:
        rows = session.execute(
            select(Delivery.id, Delivery.title, Delivery.body).where(
                Delivery.alert_id.in_(active), Delivery.state.in_(("held", "queued"))
            )
        ).all()
        for row_id, title, body in rows:
            new_title, new_body = apply_fixes(title, swaps), apply_fixes(body, swaps)
            if (new_title, new_body) != (title, body):
                # text only; the state is untouched (a row already claimed keeps its text)
                session.execute(
                    update(Delivery)
                    .where(Delivery.id == row_id, Delivery.state.in_(("held", "queued")))
                    .values(title=new_title, body=new_body)
                    .execution_options(synchronize_session=False)
                )
                rewritten += 1
        for wait in session.scalars(select(NoticeWait).where(NoticeWait.notice_id.in_(active))):
            new_title, new_body = apply_fixes(wait.title, swaps), apply_fixes(wait.body, swaps)
            if (new_title, new_body) != (wait.title, wait.body):
                wait.title, wait.body = new_title, new_body
                awaiting += 1
    result = QuietFix(shelter_id, rewritten, awaiting)
    record(session, QUIET_FIX_ACTION, {"shelter_id": shelter_id, "before": before,
           "name": name, "address": address}, result.as_dict(), actor=actor)  # fmt: skip
    return result
