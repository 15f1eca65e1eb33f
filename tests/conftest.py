"""Shared fixtures: settings, SQLite and PostgreSQL engines, the CLI runner.

PostgreSQL tests use ``$ALERTSVC_TEST_POSTGRES_URL`` (``.ci/run`` sets it). Each pytest
process gets its own fresh database so parallel runs never collide; tables are emptied
between tests. Without the variable those tests are skipped with a visible reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from alertsvc.config import DatabaseSettings, Settings
from alertsvc.db import ensure_schema, make_engine, normalise_url
from alertsvc.db.tables import Base

DATA = Path(__file__).parent / "data"
PG_ENV = "ALERTSVC_TEST_POSTGRES_URL"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'alertsvc.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this pytest process, dropped at the end."""
    base = os.environ.get(PG_ENV, "")
    if not base:
        pytest.skip(
            f"PostgreSQL tests need ${PG_ENV} (for example postgresql://postgres@127.0.0.1:5432/test)"
        )
    url = make_url(normalise_url(base))
    name = f"alertsvc_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = url.set(database=name).render_as_string(hide_password=False)
    try:
        yield test_url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    ensure_schema(engine)
    _truncate_all(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test once on SQLite and once on PostgreSQL (empty schema each time)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alertsvc.db'}"
    url: str = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    ensure_schema(engine)
    _truncate_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    ensure_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database=DatabaseSettings(url=db_url))


@pytest.fixture
def cli_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    """Environment for CLI runs: its own database, no stray config."""
    return {
        "ALERTSVC_DATABASE_URL": db_url,
        "ALERTSVC_CONFIG": "",
        "ALERTSVC_OPERATOR": "test-officer",
    }
