from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select

from alertsvc.db import current_revision, ensure_schema, head_revision, make_engine, session_scope
from alertsvc.db.tables import AuditEntry
from tests.clirun import run_cli


def test_migrations_reach_head_on_both_backends(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    names = set(inspect(engine).get_table_names())
    assert {
        "zones",
        "zone_sets",
        "shelters",
        "residents",
        "contacts",
        "supporters",
        "audit_log",
    } <= names


def test_ensure_schema_is_idempotent(engine: Engine) -> None:
    assert ensure_schema(engine) == ensure_schema(engine) == head_revision()


def test_times_come_back_aware_utc(engine: Engine) -> None:
    jst = dt.timezone(dt.timedelta(hours=9))
    at = dt.datetime(2026, 7, 1, 9, 0, tzinfo=jst)
    with session_scope(engine) as s:
        s.add(AuditEntry(at=at, actor="a", action="t", args={}, result={}))
    with session_scope(engine) as s:
        got = s.scalars(select(AuditEntry)).one().at
    assert got == at and got.tzinfo is not None and got.utcoffset() == dt.timedelta(0)


def test_naive_datetime_is_refused(engine: Engine) -> None:
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError), session_scope(engine) as s:
        s.add(AuditEntry(at=dt.datetime(2026, 1, 1), actor="a", action="t", args={}, result={}))  # noqa: DTZ001
        s.flush()


def test_sqlite_file_is_private_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_cli_db_upgrade_json(cli_env: dict[str, str]) -> None:
    res = run_cli(["db", "upgrade", "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    assert res.json()["revision"] == head_revision()


def test_database_errors_never_carry_parameters(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as err, session_scope(engine) as s:
        s.add(AuditEntry(id=1, actor="+819012345678", action="a", args={}, result={}))
        s.flush()
        s.add(AuditEntry(id=1, actor="+819012345678", action="a", args={}, result={}))
        s.flush()
    assert "+819012345678" not in str(err.value)


def test_migrations_match_the_models(engine: Engine) -> None:
    """No drift: the tables the migrations build are exactly the ORM models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from alertsvc.db.tables import Base

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
