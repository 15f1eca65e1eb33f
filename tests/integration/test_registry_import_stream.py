"""Register import in batches (#12): the bulk insert writes what the ORM upsert writes, and
a bad row after many good batches still leaves nothing written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from alertsvc.db import ensure_schema, make_engine, session_scope
from alertsvc.db.tables import Contact, Resident, Supporter
from alertsvc.registry import RegisterImportFailed, import_register
from alertsvc.registry.csv_import import WRITE_BATCH

ROOT = Path(__file__).resolve().parents[2]
REGISTER = ROOT / "recipients" / "register.csv"
STAMPS = {"created_at", "updated_at", "deactivated_at", "health_changed_at"}


def _tables(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with session_scope(engine) as s:
        for name, table, order in (
            ("residents", Resident, (Resident.id,)),
            ("contacts", Contact, (Contact.resident_id, Contact.position)),
            ("supporters", Supporter, (Supporter.resident_id, Supporter.position)),
        ):
            rows = s.execute(select(table.__table__).order_by(*order)).mappings().all()
            out[name] = [
                {k: v for k, v in r.items() if k not in STAMPS and k != "id"}
                if name != "residents"
                else {k: v for k, v in r.items() if k not in STAMPS}
                for r in rows
            ]
    return out


def test_bulk_insert_writes_what_the_orm_update_writes(engine: Engine, tmp_path: Path) -> None:
    """The same register reached two ways: inserted (executemany / COPY) into one
    database, and into another as a change of every resident (ORM path)."""
    fresh = import_register(engine, REGISTER)
    assert fresh.added > 250 and fresh.changed == 0
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    other = make_engine(other_url)
    ensure_schema(other)
    try:
        text = REGISTER.read_bytes().decode("utf-8-sig")
        lines = text.splitlines(keepends=True)
        # every resident renamed: the second import changes each of them
        altered = tmp_path / "altered.csv"
        altered.write_text(
            lines[0] + "".join(ln.replace(",", ",旧", 1) for ln in lines[1:]), encoding="utf-8"
        )
        import_register(other, altered)
        again = import_register(other, REGISTER)
        assert (again.added, again.changed) == (0, fresh.added)
        assert _tables(other) == _tables(engine)
    finally:
        other.dispose()


def _register(n: int, bad_at: int | None) -> str:
    head = "名簿番号,氏名,住所,緯度,経度,携帯電話\n"
    rows = []
    for i in range(n):
        lat = "33.74" if i != bad_at else ""
        name = f"住民{i}" if i != bad_at else ""  # no name: the row cannot be stored
        phone = f"090-{2000 + i // 10000:04d}-{i % 10000:04d}"
        rows.append(f"S{i:06d},{name},福岡県直方市新町{i}番,{lat},130.73,{phone}\n")
    return head + "".join(rows)


@pytest.mark.parametrize("existing", [False, True])
def test_bad_row_after_many_batches_writes_nothing(
    engine: Engine, tmp_path: Path, existing: bool
) -> None:
    n = WRITE_BATCH * 2 + 10
    if existing:
        first = tmp_path / "first.csv"
        first.write_text(_register(10, None), encoding="utf-8")
        import_register(engine, first)
    with session_scope(engine) as s:
        before = s.execute(select(Resident.id, Resident.active, Resident.name)).all()
    path = tmp_path / "late.csv"
    path.write_text(_register(n, n - 1), encoding="utf-8")
    with pytest.raises(RegisterImportFailed) as info:
        import_register(engine, path, allow_removals=True)
    assert {e.line for e in info.value.report.errors} == {n + 1}
    with session_scope(engine) as s:
        assert s.execute(select(Resident.id, Resident.active, Resident.name)).all() == before
        assert s.scalar(select(func.count()).select_from(Contact)) == (10 if existing else 0)
    # with --skip-invalid the good rows are written, the bad one rejected
    report = import_register(engine, path, skip_invalid=True, allow_removals=True)
    assert report.written and report.added == n - 1 - (10 if existing else 0)
    assert [r.line for r in report.rejected] == [n + 1]
