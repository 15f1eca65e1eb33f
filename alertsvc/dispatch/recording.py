"""Recording provider results: the retry policy decides, ``moves`` writes (one transaction).

A DELIVERED result is 'sent'; a retryable one goes back to 'queued' with its back-off (or
is withdrawn when the alert was cancelled meanwhile, or stays 'unknown' if it may have
gone out); a permanent one is 'failed' — and a REJECTED one is handed to the refusal hook
in the same transaction, so the row and the contact's health change together.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from alertsvc.db.tables import Alert
from alertsvc.dispatch._sql import deliveries_table
from alertsvc.dispatch.claims import ClaimedRow
from alertsvc.dispatch.maintenance import STOPPED_ALERT_STATES
from alertsvc.dispatch.moves import move_each
from alertsvc.dispatch.retry import Decision, RetryPolicy
from alertsvc.dispatch.states import DeliveryState, Event
from alertsvc.models import ChannelName, DeliveryResult, Outcome

__all__ = ["RefusalHook", "record_results"]

S = DeliveryState

# Called inside the recording transaction for every REJECTED result: the composition
# root wires it to contact health (alertsvc.registry.store.record_refusal), so that an
# opted-out number or a dead token is not tried again in the next alert.
RefusalHook = Callable[[Session, ChannelName, str, DeliveryResult], None]


def record_results(
    s: Session,
    rows: Sequence[ClaimedRow],
    results: Sequence[DeliveryResult],
    *,
    worker_id: str,
    policies: Mapping[str, RetryPolicy],
    rng: random.Random,
    now: dt.datetime,
    on_refused: RefusalHook | None = None,
) -> dict[str, int]:
    """Apply the retry policy to each result and move its row, in ``s``'s transaction.

    Only rows still 'sending' (or 'unknown': lease recovery got there first) under our
    lease are moved. Returns how many rows took each event (``Event`` values).
    """
    by_event: dict[Event, list[dict[str, Any]]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    alert_state = dict(
        s.execute(
            select(Alert.id, Alert.state).where(Alert.id.in_({r.alert_id for r in rows}))
        ).all()
    )
    for row, res in zip(rows, results, strict=True):
        attempt = row.attempts + 1
        age = max(0.0, (now - row.queued_at).total_seconds())
        decision = policies[row.channel].decide(
            res.outcome, attempt, age=age, retry_after=res.retry_after, rng=rng
        )
        p: dict[str, Any] = {
            "b_id": row.id,
            "b_owner": worker_id,
            "provider_ref": res.provider_ref,
            "detail": "; ".join(x for x in (decision.reason, res.detail) if x)[:500],
            "next_attempt_at": now,
            "sent_at": None,
            "finished_at": now,
            "lease_owner": None,
            "updated_at": now,
        }
        event: Event
        if decision.decision is Decision.SENT:
            event = Event.ACCEPTED
            p.update(sent_at=now)
        elif decision.decision is Decision.RETRY:
            stopped = alert_state.get(row.alert_id)
            if stopped in STOPPED_ALERT_STATES:  # cancelled or cleared (解除) meanwhile
                if res.outcome is Outcome.UNKNOWN:
                    # a push that may have gone out: it gets the cancellation / all-clear
                    event = Event.OUTCOME_UNKNOWN
                    p.update(detail=f"may have gone out; alert {stopped}, not resent")
                else:
                    event = Event.WITHDRAW
                    p.update(detail=f"alert {stopped} before retry")
            else:
                event = Event.RETRY
                p.update(
                    finished_at=None,
                    next_attempt_at=now + dt.timedelta(seconds=decision.delay),
                    detail=(res.detail or "deferred")[:500],
                )
        elif decision.decision is Decision.FAIL:
            event = Event.GIVE_UP
            if res.outcome is Outcome.REJECTED and on_refused is not None:
                # same transaction: the row and the contact's health change together
                on_refused(s, ChannelName(row.channel), row.address, res)
        else:
            event = Event.OUTCOME_UNKNOWN
        counts[event.value] += 1
        by_event[event].append(p)
    t = deliveries_table()
    for event, params in by_event.items():
        move_each(
            s,
            event,
            params,
            t.c.id == bindparam("b_id"),
            t.c.lease_owner == bindparam("b_owner"),
            values={
                "provider_ref": bindparam("provider_ref"),
                "detail": bindparam("detail"),
                "next_attempt_at": bindparam("next_attempt_at"),
                "sent_at": bindparam("sent_at"),
                "finished_at": bindparam("finished_at"),
                "lease_owner": bindparam("lease_owner"),
                "lease_expires_at": None,
                "updated_at": bindparam("updated_at"),
            },
            # 'unknown': lease recovery got there first but we now know the outcome
            only={S.SENDING, S.UNKNOWN},
        )
    return dict(counts)
