"""What the municipality's Lアラート (公共情報コモンズ) evacuation entry needs, as JSON.

Lアラート's own XML is members-only and usually sent by the municipality's vendor, so
alertsvc writes the facts for that entry (EvacuationOrder: 発令区分 = Sort, 発令/解除 =
IssueOrLift, areas, times) rather than the XML. Post-2021 names only (``levels``);
避難勧告 never appears. A notice after the original (update, correction, all-clear,
cancellation) is a new revision of the same document id, as in the コモンズ skeletons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from alertsvc.config import Settings
from alertsvc.db.tables import Alert
from alertsvc.interop.levels import terms_for

__all__ = ["lalert_document"]


def _when(alert: Alert, tz: str) -> str:
    return alert.created_at.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def lalert_document(
    settings: Settings, family: Sequence[Alert], areas: Sequence[str]
) -> dict[str, Any]:
    """The entry for the newest state of ``family`` (root first) with every revision.

    ``areas``: the area names (zone sets, zones) the alert covers. An alert that was
    cleared or cancelled ends with its 解除 (a cancellation lifts an order issued by
    mistake: the コモンズ entry is lifted too, with the reason in the remarks).
    """
    tz = settings.municipality.timezone
    root = family[0]
    revisions: list[dict[str, Any]] = []
    issued: str | None = None
    for n, alert in enumerate(family, start=1):
        terms = terms_for(alert.level)
        if alert.kind in ("clear", "cancellation"):
            sort, action = issued or terms.lalert_sort, "解除"
        else:
            sort, action = terms.lalert_sort, "発令"
            issued = sort
        revisions.append(
            {
                "revision": n,
                "alert_id": alert.id,
                "kind": alert.kind,
                "発令区分": sort,
                "発令解除": action,
                "label": f"{sort}{'の解除' if action == '解除' else ''}",
                "level": alert.level,
                "datetime": _when(alert, tz),
                "exercise": alert.exercise,
                "remarks": str(
                    (alert.scope or {}).get("reason") or (alert.scope or {}).get("text") or ""
                ),
            }
        )
    if root.state in ("cancelled", "cleared") and revisions[-1]["発令解除"] != "解除":
        # cancelled before anyone was reached: no notice row, but the order is lifted
        at = root.cancelled_at or root.created_at
        revisions.append(
            {
                "revision": len(revisions) + 1,
                "alert_id": root.id,
                "kind": "cancellation" if root.state == "cancelled" else "clear",
                "発令区分": issued or terms_for(root.level).lalert_sort,
                "発令解除": "解除",
                "label": f"{issued or terms_for(root.level).lalert_sort}の解除",
                "level": root.level,
                "datetime": at.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat(),
                "exercise": root.exercise,
                "remarks": root.cancel_reason or "",
            }
        )
    last = revisions[-1]
    return {
        "document_id": f"{settings.municipality.code}-{root.id}",
        "category": "EvacuationOrder",
        "organization_code": settings.municipality.code,
        "organization_name": settings.municipality.name,
        "distribution_status": "Exercise" if root.exercise else "Actual",
        "exercise": root.exercise,
        "発令区分": last["発令区分"],
        "発令解除": last["発令解除"],
        "label": last["label"],
        "areas": [{"areaName": a} for a in areas],
        "revisions": revisions,
    }
