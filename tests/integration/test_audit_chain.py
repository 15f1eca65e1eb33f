"""The audit log is append-only and hash-chained, on SQLite and PostgreSQL.

The tamper tests act as an attacker with database access would: they drop the
append-only triggers first, then edit, delete or reorder rows; ``audit verify`` must
name the first broken link.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from alertsvc.audit import (
    GENESIS,
    append_only_ddl,
    drop_append_only_ddl,
    entry_hash,
    record,
    verify_chain,
)
from alertsvc.db import session_scope
from alertsvc.db.tables import AuditEntry
from tests.clirun import run_cli


def _write(engine: Engine, n: int, actor: str = "officer-a") -> None:
    for i in range(n):
        with session_scope(engine) as s:
            record(
                s, "test.step", {"i": i, "text": "避難指示", "f": 1.5}, {"ok": True}, actor=actor
            )


@pytest.fixture
def engine(engine: Engine) -> Iterator[Engine]:
    """The test engine; the triggers a tamper test dropped are put back afterwards
    (the PostgreSQL database is shared by the whole run)."""
    yield engine
    with engine.begin() as conn:
        for sql in drop_append_only_ddl(engine.dialect.name):
            conn.execute(text(sql))
        for sql in append_only_ddl(engine.dialect.name):
            conn.execute(text(sql))


def _drop_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        for sql in drop_append_only_ddl(engine.dialect.name):
            conn.execute(text(sql))


def _verify(engine: Engine) -> tuple[bool, int | None, str]:
    with session_scope(engine) as s:
        report = verify_chain(s)
    broken = report.broken
    return report.ok, broken.entry_id if broken else None, broken.reason if broken else ""


def test_rows_are_chained_from_genesis(engine: Engine) -> None:
    _write(engine, 3)
    with session_scope(engine) as s:
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert rows[0].prev_hash == GENESIS
    for prev, row in itertools.pairwise(rows):
        assert row.prev_hash == prev.hash
    last = rows[-1]
    assert last.hash == entry_hash(
        last.prev_hash, last.at, last.actor, last.action, last.args, last.result
    )
    assert _verify(engine) == (True, None, "")


def test_update_and_delete_are_refused_by_triggers(engine: Engine) -> None:
    _write(engine, 2)
    for sql in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert _verify(engine)[0]


def test_edit_is_detected(engine: Engine) -> None:
    _write(engine, 4)
    _drop_triggers(engine)
    with engine.begin() as conn:
        second = conn.execute(text("SELECT id FROM audit_log ORDER BY id")).scalars().all()[1]
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = :i"), {"i": second})
    ok, entry, reason = _verify(engine)
    assert not ok and entry == second and "edited" in reason


def test_delete_in_the_middle_is_detected(engine: Engine) -> None:
    _write(engine, 4)
    _drop_triggers(engine)
    with engine.begin() as conn:
        ids = conn.execute(text("SELECT id FROM audit_log ORDER BY id")).scalars().all()
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[1]})
    ok, entry, reason = _verify(engine)
    assert not ok and entry == ids[2] and "prev_hash" in reason


def test_delete_of_the_newest_entry_is_detected(engine: Engine) -> None:
    _write(engine, 3)
    _drop_triggers(engine)
    with engine.begin() as conn:
        last = conn.execute(text("SELECT max(id) FROM audit_log")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": last})
    ok, entry, reason = _verify(engine)
    assert not ok and entry is None and "chain head" in reason


def test_reorder_is_detected(engine: Engine) -> None:
    """Swap two rows' positions: each still matches its own hash, the links do not."""
    _write(engine, 4)
    _drop_triggers(engine)
    with engine.begin() as conn:
        ids = conn.execute(text("SELECT id FROM audit_log ORDER BY id")).scalars().all()
        a, b = ids[1], ids[2]
        for old, new in ((a, -1), (b, a), (-1, b)):
            conn.execute(text("UPDATE audit_log SET id = :n WHERE id = :o"), {"n": new, "o": old})
    ok, entry, _ = _verify(engine)
    assert not ok and entry == a


def test_cli_verify_exit_codes(engine: Engine, cli_env: dict[str, str]) -> None:
    _write(engine, 3)
    res = run_cli(["audit", "verify", "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    assert res.json()["ok"] is True and res.json()["entries"] == 3
    _drop_triggers(engine)
    with engine.begin() as conn:
        first = conn.execute(text("SELECT min(id) FROM audit_log")).scalar_one()
        conn.execute(text("UPDATE audit_log SET action = 'x' WHERE id = :i"), {"i": first})
    res = run_cli(["audit", "verify", "--json"], env=cli_env)
    assert res.exit_code == 1
    doc = res.json()
    assert doc["ok"] is False and doc["broken"]["entry_id"] == first
    assert f"entry {first}" in res.stderr


def test_cli_show_filters_by_alert_and_names_the_operator(
    engine: Engine, cli_env: dict[str, str]
) -> None:
    with session_scope(engine) as s:
        record(s, "alert.send", {"level": 4}, {"alert_id": "A1"}, actor="a")
        record(s, "alert.cancel", {"alert_id": "A2", "reason": "x"}, {}, actor="b")
    res = run_cli(["audit", "show", "--alert", "A2", "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    docs = res.json()
    assert [(d["action"], d["actor"]) for d in docs] == [("alert.cancel", "b")]
    res = run_cli(["--operator", "chief", "audit", "show", "--json"], env=cli_env)
    assert len(res.json()) == 2


def test_concurrent_appends_keep_one_chain(engine: Engine) -> None:
    """Writers in parallel transactions never chain onto the same previous row."""
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            _write(engine, 10, actor=name)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ok, _, reason = _verify(engine)
    assert ok, reason
    with session_scope(engine) as s:
        assert len(list(s.scalars(select(AuditEntry.id)))) == 40


def test_upgrade_chains_entries_written_before_the_chain(tmp_path) -> None:
    """Migration 0005 chains the rows an older database already holds, in id order."""
    from alembic import command

    from alertsvc.db import _alembic_config, make_engine

    old = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(_alembic_config(old), "0004")
    with old.begin() as conn:
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, args, result) "
                    "VALUES ('2026-07-01 00:00:0' || :i, 'a', 'old', '{\"i\": 1}', '{}')"
                ),
                {"i": i},
            )
    command.upgrade(_alembic_config(old), "head")
    _write(old, 1)
    ok, _, reason = _verify(old)
    assert ok, reason
    with session_scope(old) as s:
        assert [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))] == [
            "old", "old", "old", "test.step"
        ]  # fmt: skip
    old.dispose()
