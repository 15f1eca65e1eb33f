"""A CAP ``Update`` or ``Cancel`` applied to the alert it references.

``alert preview|send --cap FILE`` with msgType ``Update`` or ``Cancel`` is not a new
alert: its ``references`` ("sender,identifier,sent" triples) name earlier CAP documents,
and each must be one of ours —

- a document alertsvc exported (identifier ``jp.lg.<code>.alertsvc.<alert id>``,
  ``interop.cap_export.cap_identifier``), any member of an alert's family, or
- a CAP alert alertsvc imported and sent (its sender and identifier are kept in the
  alert's scope under ``"cap"``, ``remember_cap``).

Every reference must resolve, and all to the same original alert; otherwise the
document is refused (``ScopeError``, exit 3, nothing written). There is deliberately no
"treat it as a new alert" fallback: an Update whose predecessor we never sent would
alert people out of the blue with a message that presumes they heard the first one —
the officer sends it as a new alert (msgType Alert) if that is what is meant.

What each does (the same code path as the officer's commands):

- ``Update`` -> ``services.lifecycle.update_alert`` (``alert update ID --level N``): the
  level from ``--level`` or the CAP severity, the scope from the CAP area, else the
  alert's own scope. A level that is not higher is refused as ``alert update`` does.
- ``Update`` whose every ``info`` says ``responseType AllClear`` (or urgency ``Past``
  without a level), as our own all-clear export does -> ``clear_alert`` (``alert clear``).
- ``Cancel`` -> ``dispatch.cancel.cancel_alert`` (``alert cancel ID``), the CAP note or
  description as the reason.

Status: ``Draft`` is refused (CAP: not actionable); any other status but ``Actual``
(Exercise, Test, System) may only act on an exercise alert, and an ``Actual`` one only on
a live alert — a test document never produces a live send, and an exercise never
becomes live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.config import Settings
from alertsvc.db.tables import Alert
from alertsvc.errors import ScopeError
from alertsvc.interop.cap_export import alert_family, cap_identifier
from alertsvc.interop.cap_import import CapAlert, CapReference, fetch_cap, read_cap, union_area
from alertsvc.interop.cap_schema import CapInvalid
from alertsvc.models import ChannelName
from alertsvc.services.scope import Scope, scope_from_dict

__all__ = [
    "CapNotice",
    "apply_cap_notice",
    "cancel_with_notice",
    "cap_notice",
    "check_status",
    "read_cap_source",
    "remember_cap",
]

NOTICE_TYPES = ("Update", "Cancel")


@dataclass(frozen=True)
class CapNotice:
    """What a CAP Update/Cancel will do: ``action`` (update | clear | cancel) on ``alert_id``."""

    source: str
    msg_type: str  # Update | Cancel
    action: str  # update | clear | cancel
    alert_id: str  # the original alert (family root)
    identifiers: tuple[str, ...]  # the CAP identifiers of the document(s)
    level: int | None  # update: the new level
    exercise: bool  # the document's status is not Actual
    scope: Scope | None  # update: the CAP area (None: the alert's own scope)
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "msgType": self.msg_type,
            "action": self.action,
            "alert_id": self.alert_id,
            "identifiers": list(self.identifiers),
            "level": self.level,
            "exercise": self.exercise,
            "reason": self.reason,
        }


def read_cap_source(source: str) -> list[CapAlert]:
    """Fetch and parse ``source``; ScopeError (exit 3) with the reason when invalid."""
    try:
        return read_cap(fetch_cap(source))
    except CapInvalid as exc:
        raise ScopeError(f"{source}: CAP 1.2 として無効です / not valid CAP 1.2: {exc}") from None


def _ref_text(ref: CapReference) -> str:
    return f"{ref.sender},{ref.identifier},{ref.sent}"


def _resolve(session: Session, settings: Settings, ref: CapReference) -> str | None:
    """The alert id a reference names, or None when it is none of ours."""
    prefix = cap_identifier(settings, "")
    if ref.identifier.startswith(prefix):
        alert_id = ref.identifier[len(prefix) :]
        return alert_id if session.get(Alert, alert_id) is not None else None
    # a CAP alert we imported and sent: matched by sender and identifier (CAP 1.2 3.2.1:
    # the identifier is unique per sender)
    rows = session.execute(select(Alert.id, Alert.scope).where(Alert.parent_id.is_(None)))
    for alert_id, scope in rows:
        for known in (scope or {}).get("cap", []):
            if known.get("sender") == ref.sender and known.get("identifier") == ref.identifier:
                return str(alert_id)
    return None


def _is_clear(alerts: Sequence[CapAlert]) -> bool:
    responses = [r for a in alerts for r in a.response_types]
    if responses:
        return all(r == "AllClear" for r in responses)
    urgencies = [u for a in alerts for u in a.urgencies if u]
    return bool(urgencies) and all(u == "Past" for u in urgencies)


def cap_notice(
    session: Session,
    settings: Settings,
    source: str,
    alerts: Sequence[CapAlert],
    level: int | None,
) -> CapNotice | None:
    """The Update/Cancel ``alerts`` carry out, or None when they are new alerts.

    ScopeError (exit 3, nothing written) when the document mixes new alerts and
    notices, has no references, or a reference names no alert of ours, or the
    references name more than one alert.
    """
    types = {a.msg_type for a in alerts}
    if not types & set(NOTICE_TYPES):
        return None
    if any(a.status == "Draft" for a in alerts):
        # CAP 1.2 3.2.1: a Draft is "not actionable in its current form"
        raise ScopeError(
            f"{source}: status Draft の CAP は適用できません / a CAP {'/'.join(sorted(types))} "
            "with status Draft is not actionable: nothing changed"
        )
    if len(types) > 1:
        raise ScopeError(
            f"{source}: msgType が混在しています / the document mixes msgTypes "
            f"{sorted(types)}: send them one by one"
        )
    (msg_type,) = types
    refs = [r for a in alerts for r in a.references]
    if not refs:
        raise ScopeError(
            f"{source}: {msg_type} に references がありません / a CAP {msg_type} without "
            "references names no alert"
        )
    roots: dict[str, None] = {}
    for ref in refs:
        alert_id = _resolve(session, settings, ref)
        if alert_id is None:
            raise ScopeError(
                f"{source}: 参照先のアラートがありません / the CAP {msg_type} references "
                f"{_ref_text(ref)}, which is no alert of ours: nothing changed (send it as a "
                "new alert only if that is what is meant)"
            )
        roots.setdefault(alert_family(session, alert_id)[0].id)
    if len(roots) > 1:
        raise ScopeError(
            f"{source}: 複数のアラートを参照しています / the CAP {msg_type} references "
            f"several alerts ({', '.join(roots)}): one document per alert"
        )
    (root_id,) = roots
    exercise = not all(a.live for a in alerts)
    reason = next((a.reason for a in alerts if a.reason), "")
    identifiers = tuple(a.identifier for a in alerts)
    if msg_type == "Cancel":
        return CapNotice(source, msg_type, "cancel", root_id, identifiers, None, exercise,
                         None, reason or f"CAP Cancel {identifiers[0]}")  # fmt: skip
    levels = [a.level for a in alerts if a.level is not None]
    chosen = level if level is not None else (max(levels) if levels else None)
    if chosen is None and _is_clear(alerts):
        return CapNotice(source, msg_type, "clear", root_id, identifiers, None, exercise,
                         None, reason)  # fmt: skip
    if chosen not in (3, 4, 5):
        raise ScopeError(f"{source}: severity does not map to a 警戒レベル; give --level 3, 4 or 5")
    area = union_area(alerts)
    scope = None
    if area is not None and not area.is_empty and area.area > 0:
        from alertsvc.geo.extent import JAPAN

        if not JAPAN.covers(area.bounds):
            raise ScopeError(f"{source}: the CAP area lies outside Japan")
        scope = Scope(area_file=source, area=area)
    return CapNotice(source, msg_type, "update", root_id, identifiers, chosen, exercise,
                     scope, reason)  # fmt: skip


def check_status(session: Session, notice: CapNotice) -> Alert:
    """The original alert; ScopeError when the document's status does not match it (a
    Test/Exercise/Draft document never acts on a live alert, Actual never on an
    exercise)."""
    root = session.get(Alert, notice.alert_id)
    assert root is not None  # resolved in cap_notice, in this transaction or an earlier one
    if notice.exercise and not root.exercise:
        raise ScopeError(
            f"{notice.source}: status が Actual ではない CAP は本番のアラート {root.id} を変更"
            f"できません / a CAP {notice.msg_type} whose status is not Actual never acts on "
            f"the live alert {root.id}: nothing changed"
        )
    if root.exercise and not notice.exercise:
        raise ScopeError(
            f"{notice.source}: {root.id} は訓練です / {root.id} is an exercise; an Actual "
            f"CAP {notice.msg_type} cannot act on it: nothing changed"
        )
    return root


def update_scope(session: Session, notice: CapNotice) -> Scope:
    """The scope an Update plans for: the CAP area, else the alert's own scope."""
    if notice.scope is not None:
        return notice.scope
    root = session.get(Alert, notice.alert_id)
    assert root is not None
    return scope_from_dict(session, root.scope or {})


def cancel_with_notice(
    session: Session, settings: Settings, alert_id: str, *, reason: str, actor: str
) -> Any:
    """``alert cancel``: stop the unsent messages of the alert's whole family (``alert_id``
    may name any alert of it: the original is cancelled with everything under it), one
    取消し to each person reached (CancelResult, ``alert_id`` the original's)."""
    from alertsvc.dispatch.cancel import cancel_alert
    from alertsvc.planning.render import render_cancellation
    from alertsvc.services.lifecycle._family import cancel_family

    alert_id, members = cancel_family(session, alert_id)
    alert = session.get(Alert, alert_id)
    exercise = bool(alert.exercise) if alert is not None else False

    def render(channel: ChannelName, language: str) -> tuple[str, str]:
        return render_cancellation(
            channel,
            language,
            municipality=settings.municipality.name,
            exercise=exercise,
            reason=reason,
        )

    return cancel_alert(
        session, alert_id, reason=reason, actor=actor, render=render, members=members
    )


def apply_cap_notice(
    session: Session, settings: Settings, notice: CapNotice, *, actor: str
) -> dict[str, Any]:
    """Carry out ``notice`` in this transaction; returns the command's JSON document.

    ScopeError / InputError (exit 3, nothing written) when the status does not match
    the alert (exercise vs live), the level is not higher, or the alert is closed.
    """
    from alertsvc.audit import record

    check_status(session, notice)
    doc: dict[str, Any] = {"cap": notice.as_dict()}
    if notice.action == "cancel":
        doc.update(cancel_with_notice(session, settings, notice.alert_id,
                                      reason=notice.reason, actor=actor).as_dict())  # fmt: skip
    elif notice.action == "clear":
        from alertsvc.services.lifecycle import clear_alert

        doc.update(clear_alert(session, settings, notice.alert_id, actor=actor).as_dict())
    else:
        from alertsvc.models import Level
        from alertsvc.services.lifecycle import update_alert
        from alertsvc.services.preview import build_preview

        assert notice.level is not None
        preview = build_preview(
            session, settings, level=Level(notice.level), scope=update_scope(session, notice),
            exercise=notice.exercise,
        )  # fmt: skip
        doc.update(update_alert(session, settings, notice.alert_id, preview, actor=actor).as_dict())
    record(session, "alert.cap_import", {"source": notice.source, **notice.as_dict()},
           {"alert_id": notice.alert_id, "action": notice.action}, actor=actor)  # fmt: skip
    return doc


def remember_cap(session: Session, alert_id: str, alerts: Sequence[CapAlert]) -> None:
    """Keep the sender and identifier of the CAP alert(s) ``alert_id`` was sent from, so a
    later CAP Update or Cancel that references them finds it."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        return
    known = [{"sender": a.sender, "identifier": a.identifier, "sent": a.sent} for a in alerts]
    alert.scope = {**(alert.scope or {}), "cap": known}
