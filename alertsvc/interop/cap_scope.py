"""A CAP alert as an alertsvc scope: ``alert preview|send --cap FILE-or-URL``.

The polygons and circles of every ``info/area`` become the area; the level comes from
``--level`` or else from the CAP severity (``cap_import.SEVERITY_LEVEL``). A CAP whose
status is not ``Actual`` (Exercise, Test, Draft, System) is planned as an exercise:
it can only reach the exercise allow-list, never a live send. An ``Update`` or
``Cancel`` is not a new alert: ``services.cap_notices`` applies it to the alert it
references. Every refusal is a
``ScopeError`` (exit 3) saying why; nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from alertsvc.config import Settings
from alertsvc.db.tables import Alert
from alertsvc.errors import ScopeError
from alertsvc.geo.extent import JAPAN
from alertsvc.interop.cap_export import cap_identifier
from alertsvc.interop.cap_import import CapAlert, fetch_cap, read_cap, union_area
from alertsvc.interop.cap_schema import CapInvalid
from alertsvc.services.scope import Scope

__all__ = ["CapScope", "cap_scope", "referenced_alert_ids"]


@dataclass(frozen=True)
class CapScope:
    level: int
    scope: Scope
    exercise: bool  # True unless every alert in the document is status Actual
    msg_type: str
    references: tuple[str, ...]  # our alert ids the document refers to


def referenced_alert_ids(session: Session, settings: Settings, alerts: list[CapAlert]) -> list[str]:
    """Our alerts that the documents' ``references`` name (by our CAP identifier)."""
    prefix = cap_identifier(settings, "")
    found: list[str] = []
    for alert in alerts:
        for ref in alert.references:
            if ref.identifier.startswith(prefix):
                alert_id = ref.identifier[len(prefix) :]
                if session.get(Alert, alert_id) is not None and alert_id not in found:
                    found.append(alert_id)
    return found


def cap_scope(
    session: Session,
    settings: Settings,
    source: str,
    level: int | None,
    alerts: list[CapAlert] | None = None,
) -> CapScope:
    """Read ``source`` (unless ``alerts`` holds it read already) and turn it into a scope.

    ScopeError (exit 3) with the reason. Update and Cancel documents are carried out by
    ``services.cap_notices`` before this is reached; a Cancel here is refused.
    """
    if alerts is None:
        try:
            alerts = read_cap(fetch_cap(source))
        except CapInvalid as exc:
            raise ScopeError(
                f"{source}: CAP 1.2 として無効です / not valid CAP 1.2: {exc}"
            ) from None
    msg_types = {a.msg_type for a in alerts}
    refs = tuple(referenced_alert_ids(session, settings, alerts))
    if "Cancel" in msg_types:
        target = f": alertsvc alert cancel {refs[0]} --reason ..." if refs else ""
        raise ScopeError(
            f"{source}: 取消し (msgType Cancel) は新しい警報ではありません / a CAP Cancel is "
            f"not a new alert{target}"
        )
    area = union_area(alerts)
    if area is None or area.is_empty or area.area == 0:
        raise ScopeError(
            f"{source}: 範囲 (polygon/circle) がありません / the CAP alert has no polygon or "
            "circle to target (geocodes alone are not used)"
        )
    minx, miny, _maxx, _maxy = area.bounds
    if not JAPAN.covers(area.bounds):
        raise ScopeError(f"{source}: the CAP area lies outside Japan ({miny:.2f},{minx:.2f})")
    levels = [a.level for a in alerts if a.level is not None]
    chosen = level if level is not None else (max(levels) if levels else None)
    if chosen is None:
        raise ScopeError(f"{source}: severity does not map to a 警戒レベル; give --level 3, 4 or 5")
    return CapScope(
        level=chosen,
        scope=Scope(area_file=source, area=area),
        exercise=not all(a.live for a in alerts),
        msg_type="Update" if "Update" in msg_types else "Alert",
        references=refs,
    )
