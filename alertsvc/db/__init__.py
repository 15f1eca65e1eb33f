"""Engine, sessions and schema upgrades.

SQLite (embedded default): WAL, foreign keys on, busy timeout, file created with mode
0600 because it holds personal data. PostgreSQL: the multi-machine store. The same
Alembic migrations run on both; ``ensure_schema`` upgrades an empty or old database.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from alertsvc.errors import StorageError

if TYPE_CHECKING:
    # Alembic costs ~0.3 s to import and to read the scripts: only an upgrade needs it
    from alembic.config import Config as AlembicConfig

__all__ = ["current_revision", "ensure_schema", "head_revision", "make_engine", "session_scope"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite, create the file 0600 and set the pragmas.

    SQL parameters are hidden from error messages: a logged database error must never
    carry a resident's name, phone number or push token.
    """
    url = normalise_url(url)
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            path = Path(db)
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # let SQLAlchemy emit BEGIN so that transactions really are atomic
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # IMMEDIATE: take the write lock up front so concurrent writers wait, not fail
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_schema(engine: Engine) -> str:
    """Upgrade the database to the newest schema; returns the revision it is at."""
    try:
        fast = _scripts_head()
        if fast is not None and _stored_revision(engine) == fast:
            return fast
        if current_revision(engine) != head_revision():
            from alembic import command

            command.upgrade(_alembic_config(engine), "head")
        rev = current_revision(engine)
    except OperationalError as exc:
        raise StorageError(f"database unreachable: {exc.orig}") from exc
    assert rev is not None
    return rev


_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)


@functools.cache
def _scripts_head() -> str | None:
    """The single head of the migration scripts, read from their text (no Alembic import).

    None when the scripts are anything but one plain chain of string revisions (a merge,
    a tuple, an unusual layout): ``ensure_schema`` then asks Alembic itself.
    """
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(source), _DOWN.findall(source)
        if len(rev) != 1 or len(down) != 1:
            return None
        revisions.add(rev[0])
        value = down[0].strip()
        if value == "None":
            continue
        quoted = re.fullmatch(r"[\"']([^\"']+)[\"']", value)
        if quoted is None:
            return None
        downs.add(quoted.group(1))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 and downs <= revisions else None


def _stored_revision(engine: Engine) -> str | None:
    """The revision recorded in ``alembic_version``, or None (no table, several rows)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except Exception:  # no table yet, or anything unusual: the Alembic path decides
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any exception."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
