"""An alert's notices for ``alert status``: updates, expansions, corrections, reissues,
all-clears and cancellations belong under the alert they are about, not beside it as
unrelated alerts.

``family_of(session, alert_id)`` returns the original alert's id and one summary per
notice (every family member but the original), oldest first; for a notice id the
original is found first, so the same list is shown whichever member is asked about.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from alertsvc.dispatch.status import alert_status
from alertsvc.interop.cap_export import alert_family

__all__ = ["EXERCISE_MARK", "KIND_LABELS", "family_of"]

# the mark every line about an exercise carries (human text, CSV cells)
EXERCISE_MARK = "【訓練】"

KIND_LABELS = {
    "alert": "警報 / alert",
    "update": "更新 / update",
    "expansion": "追加対象 / newly in scope",
    "correction": "訂正 / correction",
    "reissue": "再送 / reissue",
    "clear": "解除 / all-clear",
    "cancellation": "取消し / cancellation",
    "duty": "当番 / duty desk",
}


def family_of(session: Session, alert_id: str) -> tuple[str, list[dict[str, Any]]]:
    """(original alert id, notice summaries). NotFound for an unknown id.

    Each summary: ``alert_id``, ``kind``, ``level``, ``exercise``, ``state`` (the
    notice's delivery state: sending | waiting | complete | cancelled), ``created_at``,
    ``targets`` and ``counts`` (as ``alert status --json`` of that notice).
    """
    family = alert_family(session, alert_id)
    root = family[0]
    notices: list[dict[str, Any]] = []
    for member in family[1:]:
        st = alert_status(session, member.id, family=False)
        notices.append(
            {
                "alert_id": member.id,
                "kind": member.kind,
                "level": member.level,
                "exercise": member.exercise,
                "state": st.state,
                "created_at": member.created_at.isoformat(),
                "targets": st.targets,
                "counts": st.counts,
            }
        )
    return root.id, notices
