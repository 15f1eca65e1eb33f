"""CLI end to end on the demo data: after ``alert update`` to level 4 with a wider scope,
``alert status ROOT`` (JSON and --csv) and ``alert followup`` (ROOT or any member) show
one follow-up list for the whole family (SQLite and PostgreSQL).

Level 3 goes to the house-collapse zones; every first message goes out (accepted, no
answer yet). The update to level 4 adds the flood zones: the reached get the update
notice, the people newly in scope the full alert (the expansion). One reached person
answers "safe" to the update's message: off the list. The newly in scope, not reached
yet, are on the original's door-knock list.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from alertsvc.db import make_engine, session_scope
from alertsvc.db.tables import AlertTarget, Delivery
from alertsvc.dispatch.inbound import record_acknowledgement
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli


@pytest.fixture
def demo_env(cli_env: dict[str, str]) -> dict[str, str]:
    import_demo(cli_env)
    return cli_env


def _targets(engine: Engine, alert_id: str) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.scalars(select(AlertTarget.resident_id).where(AlertTarget.alert_id == alert_id))
        )


def test_follow_up_list_is_the_familys(demo_env, db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    sent = run_cli(["alert", "send", "--level", "3", "--zone-set", "collapse", "--yes",
                    "--json"], env=demo_env)  # fmt: skip
    assert sent.exit_code == 0, sent.stderr
    root = sent.json()["alert_id"]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE deliveries SET state = 'sent', attempts = 1 "
                 "WHERE alert_id = :a AND step = 0 AND recipient = 'resident'"),
            {"a": root},
        )  # fmt: skip
    up = run_cli(["alert", "update", root, "--level", "4", "--zone-set", "flood",
                  "--zone-set", "collapse", "--json"], env=demo_env)  # fmt: skip
    assert up.exit_code == 0, up.stderr
    notice, expansion = up.json()["notice_alert_id"], up.json()["followup_alert_id"]
    assert notice and expansion
    newly = _targets(engine, expansion) - _targets(engine, root)
    assert newly, "level 4 adds people to the scope"
    with session_scope(engine) as s:
        key, answerer = s.execute(
            select(Delivery.key, Delivery.resident_id)
            .where(Delivery.alert_id == notice, Delivery.recipient == "resident")
            .order_by(Delivery.id)
            .limit(1)
        ).one()
    with session_scope(engine) as s:
        # the keypress of the update's call (or its app page): the new level's message
        assert record_acknowledgement(s, key=key, answer="safe", via="voice")

    csv_file = tmp_path / "follow.csv"
    st = run_cli(["alert", "status", root, "--json", "--csv", str(csv_file)], env=demo_env)
    assert st.exit_code == 0, st.stderr
    doc = st.json()
    listed = {u["resident_id"] for u in doc["unreached"]}
    assert newly <= listed  # the people newly in scope are on the original's list
    assert answerer not in listed  # answered on the update's message
    # the original's own counts stay its own; the family block says what the list covers
    assert doc["targets"] == len(_targets(engine, root))
    assert doc["family"]["root_id"] == root
    assert {notice, expansion} <= set(doc["family"]["members"])
    assert doc["family"]["follow_up"] == len(listed)
    with csv_file.open(encoding="utf-8-sig") as fh:
        from_csv = {row[1] for row in list(csv.reader(fh))[1:]}
    assert from_csv == listed

    for member in (root, expansion, notice):
        sheet = run_cli(["alert", "followup", member, "--json"], env=demo_env)
        assert sheet.exit_code == 0, sheet.stderr
        got = sheet.json()
        people = {p["resident_id"] for g in got["groups"] for p in g["people"]}
        assert people == listed, member
        assert got["root_id"] == root and got["family_level"] == 4
    engine.dispose()
