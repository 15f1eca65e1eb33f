"""`alert send` end to end: confirmation, the outbox rows, the exercise lock."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from alertsvc.db import make_engine
from alertsvc.db.tables import Alert, AlertTarget, AuditEntry, Delivery
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli

SCOPE = ["--zone-set", "flood", "--zone-set", "collapse"]


@pytest.fixture
def demo_env(cli_env: dict[str, str]) -> dict[str, str]:
    import_demo(cli_env)
    return cli_env


def _count(db_url: str, table: type) -> int:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return int(n)


def test_send_writes_one_row_per_message_and_every_person(demo_env, db_url: str) -> None:
    preview = run_cli(["alert", "preview", "--level", "4", *SCOPE, "--json"], env=demo_env).json()
    res = run_cli(["alert", "send", "--level", "4", *SCOPE, "--yes", "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert set(doc) == {"alert_id", "deliveries"}
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(Delivery.recipient, Delivery.resident_id, Delivery.step)).all()
        targets = conn.execute(select(AlertTarget.resident_id, AlertTarget.located)).all()
        alert = conn.execute(select(Alert.id, Alert.level)).one()
        audit = conn.execute(
            select(AuditEntry.result).where(AuditEntry.action == "alert.send")
        ).one()
    engine.dispose()
    assert doc["deliveries"] == len(rows) and alert.id == doc["alert_id"] and alert.level == 4
    assert audit.result["alert_id"] == doc["alert_id"]
    # every target and every unlocated resident is a person of the alert: nobody dropped
    expected_people = {t["resident_id"] for t in preview["targets"]} | {
        u["resident_id"] for u in preview["unlocated"]
    }
    assert {t.resident_id for t in targets} == expected_people
    assert {t.resident_id for t in targets if not t.located} == {
        u["resident_id"] for u in preview["unlocated"]
    }
    # one supporter row per supporter notice in the preview
    assert sum(1 for r in rows if r.recipient == "supporter") == len(preview["supporters"])
    # every reachable person has a first step
    reachable = {t["resident_id"] for t in preview["targets"] if t["channels"]}
    assert {r.resident_id for r in rows if r.recipient == "resident" and r.step == 0} == reachable


def test_send_without_confirmation_writes_nothing(demo_env, db_url: str) -> None:
    res = run_cli(["alert", "send", "--level", "4", *SCOPE], env=demo_env, input="yes\n")
    assert res.exit_code == 1
    assert "not confirmed" in res.stderr
    assert _count(db_url, Alert) == 0 and _count(db_url, Delivery) == 0


@pytest.mark.parametrize("phrase", ["送信 レベル4", "send level 4", "SEND  LEVEL ４"])
def test_a_fixed_phrase_no_longer_sends_live(demo_env, db_url: str, phrase: str) -> None:
    """#9: a live send is confirmed by a one-time code at a terminal (see
    test_approval_cli.py), never by a phrase the fingers learn; scripts use --yes."""
    res = run_cli(["alert", "send", "--level", "4", *SCOPE], env=demo_env, input=phrase + "\n")
    assert res.exit_code == 1 and "--yes" in res.stderr
    assert _count(db_url, Alert) == 0


def test_wrong_level_phrase_is_refused(demo_env, db_url: str) -> None:
    res = run_cli(["alert", "send", "--level", "5", *SCOPE], env=demo_env, input="send level 4\n")
    assert res.exit_code == 1 and _count(db_url, Alert) == 0


def test_exercise_off_the_allow_list_is_refused_and_writes_nothing(demo_env, db_url: str) -> None:
    res = run_cli(
        ["alert", "send", "--level", "4", *SCOPE, "--exercise", "--yes", "--json"], env=demo_env
    )
    assert res.exit_code == 3
    doc = res.json()
    assert doc["errors"] and all("exercise" in e["message"] for e in doc["errors"])
    # numbers are masked in the errors: no run of 6+ digits after the country code
    assert not re.search(r"\+81\d{6,}", res.stdout + res.stderr)
    assert _count(db_url, Alert) == 0 and _count(db_url, Delivery) == 0


def test_every_message_carries_the_real_alert_id(demo_env, db_url: str) -> None:
    """#7 item 8: push data said alert_id = "preview" for every production push."""
    res = run_cli(["alert", "send", "--level", "4", *SCOPE, "--yes", "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    alert_id = res.json()["alert_id"]
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(Delivery.key, Delivery.channel, Delivery.data)).all()
    engine.dispose()
    assert any(channel == "push" for _k, channel, _d in rows)
    for key, channel, data in rows:
        fields = dict(data)
        if channel == "push" or "alert_id" in fields:
            assert fields.get("alert_id") == alert_id, (key, fields)
        assert "preview" not in fields.values()
        assert key.startswith(f"{alert_id}:")  # the key every callback and ack carries
