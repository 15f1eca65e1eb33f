"""The only code that changes a delivery's state: guarded UPDATEs decided by the table.

``move(session, event, *where, values=..., only=...)`` applies ``event`` to the rows
matched by ``where``: the UPDATE is guarded by every state the event applies in
(``states.sources``, optionally narrowed by ``only``) and sets the state the table
(``states.TRANSITIONS``) gives. ``move_each`` does the same for an executemany parameter
list. An event that leads to different states from different sources (``LEASE_EXPIRED``:
claimed -> queued, sending -> unknown) must be narrowed with ``only`` so that one UPDATE
has one target. ``InvalidTransition`` is raised, before anything is written, for a
source the event does not apply in: a programming error, never a runtime race (a race
simply matches no row).

``tests/unit/test_state_writes.py`` walks the code base and fails when any other code
writes a delivery's state.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.orm import Session

from alertsvc.db.tables import Delivery
from alertsvc.dispatch._sql import deliveries_table, rowcount
from alertsvc.dispatch.states import (
    TRANSITIONS,
    DeliveryState,
    Event,
    InvalidTransition,
    sources,
)

__all__ = ["edge", "move", "move_each", "move_returning_ids"]


def edge(
    event: Event, only: Collection[DeliveryState] | None = None
) -> tuple[list[str], DeliveryState]:
    """The guard (source state values) and the single target state of ``event``.

    Raises ``InvalidTransition`` when ``only`` names a state the event does not apply in,
    or when the sources lead to more than one state.
    """
    allowed = sources(event)
    if only is not None:
        wanted = frozenset(DeliveryState(s) for s in only)
        stray = wanted - allowed
        if stray:
            names = ", ".join(sorted(s.value for s in stray))
            raise InvalidTransition(f"{event.value} is not allowed in state {names}")
        allowed = wanted
    targets = {TRANSITIONS[(s, event)] for s in allowed}
    if len(targets) != 1:
        raise InvalidTransition(
            f"{event.value} leads to {sorted(t.value for t in targets)} from "
            f"{sorted(s.value for s in allowed)}: narrow it with only="
        )
    return sorted(s.value for s in allowed), targets.pop()


def move(
    session: Session,
    event: Event,
    *where: ColumnElement[bool],
    values: Mapping[str, Any] | None = None,
    only: Collection[DeliveryState] | None = None,
) -> int:
    """Apply ``event`` to the rows matching ``where``; returns how many rows changed."""
    guard, target = edge(event, only)
    stmt = (
        update(Delivery)
        .where(Delivery.state.in_(guard), *where)
        .values(state=target.value, **dict(values or {}))
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.execute(stmt))


def move_returning_ids(
    session: Session,
    event: Event,
    *where: ColumnElement[bool],
    values: Mapping[str, Any] | None = None,
    only: Collection[DeliveryState] | None = None,
) -> set[int]:
    """``move``, returning the ids of the rows that changed (UPDATE … RETURNING)."""
    guard, target = edge(event, only)
    stmt = (
        update(Delivery)
        .where(Delivery.state.in_(guard), *where)
        .values(state=target.value, **dict(values or {}))
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return set(session.scalars(stmt))


def move_each(
    session: Session,
    event: Event,
    params: Sequence[Mapping[str, Any]],
    *where: ColumnElement[bool],
    values: Mapping[str, Any] | None = None,
    only: Collection[DeliveryState] | None = None,
) -> int:
    """``move`` as one executemany: ``where`` and ``values`` use ``bindparam``s whose names
    are keys of every item of ``params`` (prefix them, e.g. ``b_id``, so they do not clash
    with column names). Returns the rows changed (the driver's count, when it gives one)."""
    if not params:
        return 0
    guard, target = edge(event, only)
    t = deliveries_table()
    stmt = (
        t.update()
        # executemany cannot expand an IN list: spell the guard out
        .where(or_(*(t.c.state == g for g in guard)), *where)
        .values(state=target.value, **dict(values or {}))
    )
    return rowcount(session.execute(stmt, list(params)))
