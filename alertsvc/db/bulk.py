"""Writing many rows at once in the caller's transaction: COPY on PostgreSQL, executemany
elsewhere (issue #12: ``registry import`` and ``alert send``).

``insert_rows`` takes Core dicts exactly as ``conn.execute(table.insert(), rows)`` would
and writes the same values: every value goes through its column type's bind processor
(``UTCDateTime`` turns aware datetimes into naive UTC, JSON columns are serialised), and
a column left out of the dicts gets its scalar or callable client-side default, or its
server default, or NULL. On PostgreSQL through psycopg 3 the rows go through
``COPY <table> (<columns>) FROM STDIN`` on the session's own connection, so they are part
of the same transaction; any other driver gets one executemany.

Failure modes: the database's own errors (a unique or foreign-key violation) propagate
as they would from an INSERT; the caller's transaction is then unusable, as usual.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session

__all__ = ["insert_rows"]


def insert_rows(target: Session | Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` (all with the same keys) into ``table``; return how many."""
    if not rows:
        return 0
    conn = target.connection() if isinstance(target, Session) else target
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        conn.execute(table.insert(), list(rows))
        return len(rows)
    _copy(conn, table, rows)
    return len(rows)


def _copy(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    keys = list(rows[0])
    columns = [table.c[k] for k in keys]
    defaults: list[tuple[str, Callable[[], Any]]] = []
    for col in table.columns:
        if col.name in rows[0] or col.default is None:
            continue  # the server default (if any) applies to a column not copied
        default: Any = col.default
        if default.is_scalar:
            defaults.append((col.name, functools.partial(_same, default.arg)))
        elif default.is_callable:
            # SQLAlchemy wraps a plain callable to take the execution context
            defaults.append((col.name, functools.partial(default.arg, None)))
        else:  # a SQL expression or sequence: let INSERT handle it
            conn.execute(table.insert(), list(rows))
            return
    columns += [table.c[name] for name, _ in defaults]
    dialect = conn.dialect
    procs = [c.type._cached_bind_processor(dialect) for c in columns]
    names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    sql = f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
    extra = [fn() for _, fn in defaults]
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            values = [row[k] for k in keys]
            values += extra
            copy.write_row([v if p is None else p(v) for v, p in zip(values, procs, strict=True)])


def _same(value: Any) -> Any:
    return value
