"""Escalation to supporters (#10 item 4): people silent past the level's wait after their
last channel are listed in ONE reminder per supporter, through the real worker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, select, text, update

from alertsvc.config import DispatchSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, AlertTarget, Delivery, SupporterDisclosure, utcnow
from alertsvc.dispatch.inbound import record_supporter_answer
from alertsvc.dispatch.reminders import remind_supporters
from alertsvc.dispatch.runner import run_worker
from alertsvc.models import ChannelName
from alertsvc.testing.fakes import fake_channels
from tests.acceptance.demo_data import import_demo
from tests.acceptance.test_supporter_digest_cli import PHONE_A, PHONE_B, held_out_register
from tests.clirun import run_cli
from tests.integration.dispatch_support import fast_settings


def _send(cli_env: dict[str, str], engine: Engine, tmp_path: Path) -> tuple[Engine, str]:
    import_demo(cli_env, held_out_register(tmp_path / "held_out.csv"))
    res = run_cli(["alert", "send", "--level", "3", "--zone-set", "flood", "--yes", "--json"],
                  env=cli_env)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return engine, res.json()["alert_id"]


def _settle(engine: Engine, alert_id: str, ago: dt.timedelta) -> None:
    """Play the worker: every row went out ``ago``; T002 is still being tried, T001
    answered, and T003's supporter already answered about them."""
    past = utcnow() - ago
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE deliveries SET state = 'sent', finished_at = :t WHERE alert_id = :a"),
            {"t": past, "a": alert_id},
        )
        conn.execute(
            text("UPDATE deliveries SET state = 'queued' WHERE alert_id = :a AND "
                 "resident_id = 'T002'"), {"a": alert_id},
        )  # fmt: skip
    with session_scope(engine) as s:
        s.execute(
            update(AlertTarget)
            .where(AlertTarget.alert_id == alert_id, AlertTarget.resident_id == "T001")
            .values(acknowledged_at=past, ack_answer="safe")
        )
        key = s.scalars(
            select(Delivery.key).where(
                Delivery.alert_id == alert_id,
                Delivery.recipient == "supporter",
                Delivery.address == PHONE_A,
            )
        ).one()
        assert record_supporter_answer(s, key=key, resident_id="T003", answer="safe", via="web")


def _reminders(engine: Engine, alert_id: str) -> dict[str, tuple[str, list[str]]]:
    with session_scope(engine) as s:
        rows = s.scalars(
            select(Delivery)
            .join(Alert, Alert.id == Delivery.alert_id)
            .where(Alert.parent_id == alert_id, Alert.kind == "reminder")
        ).all()
        out = {}
        for r in rows:
            named = s.scalars(
                select(SupporterDisclosure.resident_id)
                .where(SupporterDisclosure.delivery_key == r.key)
                .order_by(SupporterDisclosure.position)
            ).all()
            assert r.address not in out, "one reminder per supporter"
            out[r.address] = (r.body, list(named))
        return out


def test_silent_people_are_listed_in_one_reminder_per_supporter(
    cli_env, engine: Engine, tmp_path: Path
) -> None:
    engine, alert_id = _send(cli_env, engine, tmp_path)
    _settle(engine, alert_id, dt.timedelta(minutes=20))  # level 3 waits 15 minutes
    # the worker's maintenance pass asks the supporters, and the reminders go out
    chans = fake_channels()
    run_worker(engine, chans, fast_settings(engine), until_idle=True, poll_interval=0.01)
    reminders = _reminders(engine, alert_id)
    assert set(reminders) == {PHONE_A, PHONE_B}
    body_a, named_a = reminders[PHONE_A]
    # T001 answered, T002 is still being tried, T003's supporter answered already
    assert sorted(named_a) == [f"T{n:03d}" for n in range(4, 82)]
    assert "78人" in body_a and "応答がありません" in body_a and "寝たきり" not in body_a
    assert sorted(reminders[PHONE_B][1]) == ["T081", "T082", "T083", "T084", "T085"]
    # (the pass that added them may have ended the run: a second run sends what is due)
    run_worker(engine, chans, fast_settings(engine), until_idle=True, poll_interval=0.01)
    sent_to = [m.address for m in chans[ChannelName.SMS].sent]
    assert sent_to.count(PHONE_A) == 1 and sent_to.count(PHONE_B) == 1
    # a second pass adds nobody twice
    with session_scope(engine) as s:
        assert remind_supporters(s, DispatchSettings(), utcnow()) == 0


def test_nobody_is_reminded_before_the_wait(cli_env, engine: Engine, tmp_path: Path) -> None:
    engine, alert_id = _send(cli_env, engine, tmp_path)
    _settle(engine, alert_id, dt.timedelta(minutes=5))
    with session_scope(engine) as s:
        assert remind_supporters(s, DispatchSettings(), utcnow()) == 0
    assert _reminders(engine, alert_id) == {}
