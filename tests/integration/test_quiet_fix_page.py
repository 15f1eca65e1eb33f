"""Quiet fix (#9 item 6): a shelter's name and address fixed in a running alert show on
the resident page — also for a message that went out before the fix — and in the
messages not yet sent, without messaging anyone again. SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest
from sqlalchemy import Engine, func, select

from alertsvc.config import Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, AuditEntry, Delivery, Resident, Shelter
from alertsvc.dispatch.alerts import PlannedTarget, create_alert
from alertsvc.models import ChannelName
from alertsvc.services.lifecycle import quiet_fix_shelter
from alertsvc.testing.fakes import resident_delivery
from alertsvc.web.pages import page_token
from tests.integration.test_web_app import AUTH, PUBLIC, SECRET, send_alert

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from alertsvc.web.app import create_app

OLD_NAME, OLD_ADDRESS = "植木小学校", "福岡県直方市植木100"
NEW_NAME, NEW_ADDRESS = "植木中学校", "福岡県直方市植木250"
BODY = f"{OLD_NAME}へ今すぐ避難してください。住所：{OLD_ADDRESS}。"


@pytest.fixture
def page_settings(settings: Settings) -> Settings:
    return replace(settings, webhooks=WebhookSettings(public_url=PUBLIC, port=0))


@pytest.fixture
def sent_key(engine: Engine, page_settings: Settings) -> str:
    """The key of a message naming shelter S1 that has gone out."""
    with session_scope(engine) as s:
        s.add(Shelter(id="S1", name=OLD_NAME, address=OLD_ADDRESS, lat=33.760, lon=130.714))
        s.add(Resident(id="R1", name="中村 二郎", address="福岡県直方市植木19番12号",
                       lat=33.755886, lon=130.713935))  # fmt: skip
        s.add(Resident(id="R2", name="白石 チヨ", address="福岡県直方市古町7番1号"))
    r1 = resident_delivery("R1", ChannelName.SMS, "+819011110001", body=BODY)
    r1 = replace(r1, data=(("action", "evacuate"), ("shelter_id", "S1")))
    return send_alert(engine, page_settings, [r1])["R1/sms"]


def _waiting_alert(engine: Engine) -> str:
    """A second running alert whose message to R2 has not gone out yet."""
    r2 = resident_delivery("R2", ChannelName.SMS, "+819022220002", body=BODY)
    with session_scope(engine) as s:
        return create_alert(s, level=4, scope={}, exercise=False, deliveries=[r2],
                            targets=[PlannedTarget("R2", 1.0, True, True)], actor="t")  # fmt: skip


def _counts(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as s:
        return (
            int(s.scalar(select(func.count()).select_from(Alert)) or 0),
            int(s.scalar(select(func.count()).select_from(Delivery)) or 0),
        )


def test_fixed_shelter_shows_on_the_page_and_in_unsent_messages_only(
    engine: Engine, page_settings: Settings, sent_key: str
) -> None:
    waiting = _waiting_alert(engine)
    before = _counts(engine)
    app = create_app(engine, page_settings, auth_token=AUTH, ack_secret=SECRET)
    with TestClient(app, raise_server_exceptions=False) as client:
        path = f"/r/{sent_key}/{page_token(SECRET, sent_key)}"
        assert OLD_NAME in client.get(path).text
        with session_scope(engine) as s:
            fix = quiet_fix_shelter(s, "S1", actor="officer", name=NEW_NAME,
                                    address=NEW_ADDRESS)  # fmt: skip
        page = client.get(path)
    assert page.status_code == 200
    assert NEW_NAME in page.text and NEW_ADDRESS in page.text
    assert OLD_NAME not in page.text and OLD_ADDRESS not in page.text
    # nobody is messaged again: no new alert, no new delivery
    assert _counts(engine) == before
    with session_scope(engine) as s:
        bodies = {row[0]: row[1] for row in s.execute(select(Delivery.alert_id, Delivery.body))}
        audit = s.scalars(
            select(AuditEntry.args).where(AuditEntry.action == "shelter.quiet_fix")
        ).all()
    assert fix.rewritten == 1
    assert bodies[waiting] == f"{NEW_NAME}へ今すぐ避難してください。住所：{NEW_ADDRESS}。"
    sent_alert = next(a for a in bodies if a != waiting)
    assert bodies[sent_alert] == BODY  # what went out is history
    assert len(audit) == 1 and audit[0]["before"] == {"name": OLD_NAME, "address": OLD_ADDRESS}


def test_two_fixes_in_a_row_show_the_latest(
    engine: Engine, page_settings: Settings, sent_key: str
) -> None:
    with session_scope(engine) as s:
        quiet_fix_shelter(s, "S1", actor="officer", name="植木小学校（仮）")
    with session_scope(engine) as s:
        quiet_fix_shelter(s, "S1", actor="officer", name=NEW_NAME)
    app = create_app(engine, page_settings, auth_token=AUTH, ack_secret=SECRET)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get(f"/r/{sent_key}/{page_token(SECRET, sent_key)}")
    assert NEW_NAME in page.text and "（仮）" not in page.text and OLD_NAME not in page.text
