"""Need help reaches the duty desk: through the webhook app, the outbox and the real worker
(SQLite and PostgreSQL), also after the alert was cancelled."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine, select

from alertsvc.config import DutyContact, DutySettings, Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, Delivery, Resident
from alertsvc.dispatch import cancel_alert
from alertsvc.dispatch.runner import run_worker
from alertsvc.dispatch.status import alert_status
from alertsvc.models import ChannelName
from alertsvc.reports.followup import build_followup
from alertsvc.testing.fakes import fake_channels, resident_delivery
from tests.integration.test_web_app import AUTH, PUBLIC, SECRET, post_signed, send_alert

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from alertsvc.web.app import create_app

PHONE_1 = "+819011110001"
PHONE_2 = "+819022220002"
DESK_1 = "+815011112222"
DESK_2 = "+815033334444"


@pytest.fixture
def duty_settings(settings: Settings) -> Settings:
    return replace(
        settings,
        webhooks=WebhookSettings(public_url=PUBLIC, port=0),
        duty=DutySettings(
            contacts=(
                DutyContact(name="当番A", phone=DESK_1, channel="sms"),
                DutyContact(name="当番B", phone=DESK_2, channel="sms"),
            )
        ),
    )


@pytest.fixture
def alert_keys(engine: Engine, duty_settings: Settings) -> dict[str, str]:
    with session_scope(engine) as s:
        s.add(Resident(id="R1", name="中村 二郎", address="福岡県直方市植木19番12号", floor=3,
                       needs=["車いす"]))  # fmt: skip
        s.add(Resident(id="R2", name="白石 チヨ", address="福岡県直方市古町7番1号", floor=1))
    return send_alert(
        engine,
        duty_settings,
        [
            resident_delivery("R1", ChannelName.SMS, PHONE_1),
            resident_delivery("R2", ChannelName.VOICE, PHONE_2),
        ],
    )


@pytest.fixture
def client(engine: Engine, duty_settings: Settings) -> Iterator[TestClient]:
    app = create_app(engine, duty_settings, auth_token=AUTH, ack_secret=SECRET)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _duty_rows(engine: Engine) -> list[Delivery]:
    with session_scope(engine) as s:
        rows = list(s.scalars(select(Delivery).where(Delivery.recipient == "duty")))
        s.expunge_all()
        return rows


def _send_all(engine: Engine, settings: Settings) -> list[tuple[str, str]]:
    chans = fake_channels()
    run_worker(engine, chans, settings, until_idle=True, poll_interval=0.01)
    return [(m.address, m.body) for m in chans[ChannelName.SMS].sent]


def test_need_help_sms_reply_notifies_every_duty_contact_once(
    engine: Engine, duty_settings: Settings, alert_keys: dict[str, str], client: TestClient
) -> None:
    res = post_signed(client, "/twilio/sms/inbound", {"From": PHONE_1, "Body": "助けて"})
    assert res.status_code == 200
    # a second "need help" (another channel, a replay with a new id) adds no second notice
    res = post_signed(client, "/twilio/sms/inbound", {"From": PHONE_1, "Body": "2"})
    assert res.status_code == 200
    rows = _duty_rows(engine)
    assert sorted(r.address for r in rows) == [DESK_1, DESK_2]
    assert {r.state for r in rows} == {"queued"} and {r.resident_id for r in rows} == {"R1"}
    sent = _send_all(engine, duty_settings)
    assert sorted(a for a, _ in sent) == [DESK_1, DESK_2]
    body = sent[0][1]
    # the support reason never leaves the database in a message: only that there is one
    assert "車いす" not in body
    for part in ("中村 二郎", "R1", "植木19番12号", "3階", "配慮:あり", "--show-needs", "本人"):
        assert part in body
    assert all(r.state == "sent" for r in _duty_rows(engine))
    # the answered alert's status is unchanged by the duty alert: no phantom cancellation
    alert_id = alert_keys["R1/sms"].split(":")[0]
    with session_scope(engine) as s:
        st = alert_status(s, alert_id)
        assert st.cancellation_ids == []
        assert [h["resident_id"] for h in st.needs_help] == ["R1"]
        sheet = build_followup(s, alert_id)
        assert sheet.people[0].resident_id == "R1" and sheet.people[0].reason == "need_help"


def test_safe_answer_notifies_nobody(
    engine: Engine, alert_keys: dict[str, str], client: TestClient
) -> None:
    res = post_signed(client, "/twilio/sms/inbound", {"From": PHONE_1, "Body": "1"})
    assert res.status_code == 200
    assert _duty_rows(engine) == []


def test_need_help_after_cancellation_is_recorded_and_still_notifies(
    engine: Engine, duty_settings: Settings, alert_keys: dict[str, str], client: TestClient
) -> None:
    alert_id = alert_keys["R2/voice"].split(":")[0]
    with session_scope(engine) as s:
        cancel_alert(s, alert_id, reason="誤報", actor="t", render=lambda _c, _l: ("取消", "取消"))
    _send_all(engine, duty_settings)  # the cancellation notices go out
    # the resident presses 2 on the call they received before the cancellation
    key = alert_keys["R2/voice"]
    res = post_signed(
        client, f"/twilio/voice/gather?key={key}", {"CallSid": "CA" + "7" * 32, "Digits": "2"}
    )
    assert res.status_code == 200
    with session_scope(engine) as s:
        assert [h["resident_id"] for h in alert_status(s, alert_id).needs_help] == ["R2"]
    with session_scope(engine) as s:
        assert s.get(Alert, alert_id).state == "cancelled"  # type: ignore[union-attr]
    sent = _send_all(engine, duty_settings)
    assert sorted(a for a, _ in sent) == [DESK_1, DESK_2]
    assert "白石 チヨ" in sent[0][1]
