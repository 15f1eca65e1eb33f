"""An alert's notices for ``alert status``: updates, expansions, corrections, reissues,
all-clears and cancellations belong under the alert they are about, not beside it as
unrelated alerts.

``family_of(session, alert_id)`` returns the original alert's id and one summary per
notice (every family member but the original), oldest first; for a notice id the
original is found first, so the same list is shown whichever member is asked about.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from alertsvc.dispatch.alerts import alert_family
from alertsvc.dispatch.status import AlertStatus, alert_status

__all__ = ["EXERCISE_MARK", "KIND_LABELS", "family_of", "family_totals"]

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


def family_totals(session: Session, alert_id: str) -> AlertStatus:
    """The status of ``alert_id``'s whole family, as the original's: ``counts``,
    ``by_channel``, ``unknown`` and ``channel_problems`` summed over every member (the
    original, updates, expansions, notices; never a duty-desk notice), ``targets`` the
    people any member targeted, ``state`` the busiest member's (sending, then waiting);
    the follow-up part is the family's already. What the demo shows while it sends.
    NotFound for an unknown id."""
    st = alert_status(session, alert_id)
    assert st.family is not None
    root = st if st.alert_id == st.family.root_id else alert_status(session, st.family.root_id)
    counts = dict(root.counts)
    by_channel = {ch: dict(per) for ch, per in root.by_channel.items()}
    unknown, problems, states = list(root.unknown), list(root.channel_problems), {root.state}
    for member in st.family.members:
        if member == root.alert_id:
            continue
        m = alert_status(session, member, family=False)
        states.add(m.state)
        unknown += m.unknown
        problems += [p for p in m.channel_problems if p not in problems]
        for key, n in m.counts.items():
            counts[key] = counts.get(key, 0) + n
        for ch, per in m.by_channel.items():
            into = by_channel.setdefault(ch, dict.fromkeys(per, 0))
            for key, n in per.items():
                into[key] = into.get(key, 0) + n
    state = root.state
    if state != "cancelled":
        state = next((s for s in ("sending", "waiting") if s in states), "complete")
    return replace(
        root,
        counts=counts,
        by_channel=dict(sorted(by_channel.items())),
        unknown=unknown,
        channel_problems=problems,
        state=state,
        targets=root.family_targets,
    )
