"""The outbox rows `alert send` writes for the demo register, against a saved snapshot.

The snapshot (``tests/data/outbox/demo_send_rows.json``) was written by the ORM bulk
insert that preceded the executemany / COPY write (#12): the rows must stay exactly what
they were — every column but the ids and clock times, which are checked for shape. Runs
on SQLite (executemany) and on PostgreSQL (COPY). Regenerate only on an intended change:
``ALERTSVC_WRITE_SNAPSHOT=1 pytest tests/integration/test_send_rows_snapshot.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alertsvc.db import make_engine
from alertsvc.db.tables import AlertTarget, AuditEntry, Delivery
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "outbox" / "demo_send_rows.json"
SCOPE = ["--zone-set", "flood", "--zone-set", "collapse"]
CLOCK = ("created_at", "next_attempt_at", "updated_at")


def _rows(db_url: str, alert_id: str) -> dict[str, list[dict[str, Any]]]:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        deliveries = conn.execute(select(Delivery).order_by(Delivery.id)).mappings().all()
        targets = conn.execute(select(AlertTarget).order_by(AlertTarget.id)).mappings().all()
        audit = conn.execute(
            select(AuditEntry.result).where(AuditEntry.action == "alert.create")
        ).scalar_one()
    engine.dispose()
    out: list[dict[str, Any]] = []
    for d in deliveries:
        row = dict(d)
        row.pop("id")
        # the key is "<alert id>:<row number>" and data carries the alert id
        assert row.pop("key") == f"{alert_id}:{len(out) + 1}"
        assert row.pop("alert_id") == alert_id
        row["data"] = [[k, "<alert>" if v == alert_id else v] for k, v in row["data"]]
        stamps = {row.pop(c) for c in CLOCK}
        queued = row.pop("queued_at")
        assert len(stamps) == 1 and queued in (None, *stamps)
        row["queued"] = queued is not None
        out.append(row)
    tgts = [{k: v for k, v in dict(t).items() if k not in ("id", "alert_id")} for t in targets]
    assert all(t["alert_id"] == alert_id for t in targets)
    audit = {k: v for k, v in dict(audit).items() if k != "alert_id"}
    return {"deliveries": out, "targets": tgts, "audit": [audit]}


@pytest.mark.parametrize("level", ["4", "5"])
def test_send_writes_the_same_rows_as_before(cli_env, db_url: str, level: str) -> None:
    import_demo(cli_env)
    res = run_cli(["alert", "send", "--level", level, *SCOPE, "--yes", "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    got = json.loads(json.dumps(_rows(db_url, res.json()["alert_id"]), default=str))
    path = SNAPSHOT.with_name(f"{SNAPSHOT.stem}_level{level}.json")
    if os.environ.get("ALERTSVC_WRITE_SNAPSHOT") and db_url.startswith("sqlite"):
        path.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    want = json.loads(path.read_text(encoding="utf-8"))
    assert len(got["deliveries"]) == len(want["deliveries"]) > 100
    for n, (g, w) in enumerate(zip(got["deliveries"], want["deliveries"], strict=True)):
        assert g == w, n
    assert got == want
