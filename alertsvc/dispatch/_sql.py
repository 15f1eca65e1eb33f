"""Small typed helpers for the Core-level updates of the dispatcher."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Result, Table

from alertsvc.db.tables import Delivery


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE (0 when the driver cannot tell)."""
    rc = getattr(result, "rowcount", -1)
    return int(rc) if isinstance(rc, int) and rc > 0 else 0


def deliveries_table() -> Table:
    return cast(Table, Delivery.__table__)
