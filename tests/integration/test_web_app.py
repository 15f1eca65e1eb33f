"""The webhook app against a real outbox on SQLite and PostgreSQL.

Deliveries are created with the dispatch engineer's ``create_alert`` and moved to 'sent'
by the real worker with fake channels, so every test starts from rows as production
would have them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, event, func, select
from starlette.exceptions import StarletteDeprecationWarning

from alertsvc.acks import ack_token
from alertsvc.channels.twilio_common import SIGNATURE_HEADER, twilio_signature
from alertsvc.config import Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, AlertTarget, Delivery
from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget, create_alert
from alertsvc.dispatch.runner import run_worker
from alertsvc.models import ChannelName
from alertsvc.testing.fakes import fake_channels, resident_delivery

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; httpx (what we ship) still works.
    # Narrow and local: drop this once httpx2 is a dev dependency.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from alertsvc.web.app import (
    MAX_BODY_BYTES,
    MSG_ASK_AGAIN,
    MSG_CLOSING,
    MSG_NEED_HELP,
    MSG_NOT_RECORDED,
    MSG_SAFE,
    MSG_SMS_INSTRUCTIONS,
    create_app,
)

AUTH = "test-twilio-auth-token"
SECRET = b"test-ack-secret"
PUBLIC = "https://alerts.example.jp"

PHONE_1 = "+819011110001"
PHONE_2 = "+819022220002"
PUSH_1 = "fcm-token-resident-1-aaaaaaaaaaaaaaaa"


@dataclass
class World:
    engine: Engine
    settings: Settings
    client: TestClient
    keys: dict[tuple[str, str], str]  # (resident, channel) -> key


def send_alert(engine: Engine, settings: Settings, plan: list[PlannedDelivery]) -> dict[str, str]:
    """Create an alert and let the real worker send it with fake channels; key per address."""
    residents = sorted({d.resident_id for d in plan})
    with session_scope(engine) as session:
        alert_id = create_alert(
            session,
            level=4,
            scope={"test": True},
            exercise=False,
            targets=[PlannedTarget(r, 1.0, True, True) for r in residents],
            deliveries=plan,
            actor="test",
        )
    run_worker(engine, fake_channels(), settings, until_idle=True, poll_interval=0.01)
    with session_scope(engine) as session:
        rows = session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)).all()
        assert all(r.state == "sent" for r in rows)
        return {f"{r.resident_id}/{r.channel}": r.key for r in rows}


@pytest.fixture
def world(engine: Engine, settings: Settings) -> Iterator[World]:
    settings = replace(settings, webhooks=WebhookSettings(public_url=PUBLIC, port=0))
    keys = send_alert(
        engine,
        settings,
        [
            resident_delivery("R1", ChannelName.SMS, PHONE_1),
            resident_delivery("R1", ChannelName.PUSH, PUSH_1),
            resident_delivery("R2", ChannelName.VOICE, PHONE_2),
        ],
    )
    app = create_app(engine, settings, auth_token=AUTH, ack_secret=SECRET)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(
            engine,
            settings,
            client,
            {(k.split("/")[0], k.split("/")[1]): v for k, v in keys.items()},
        )


def row(engine: Engine, key: str) -> Delivery:
    with session_scope(engine) as session:
        found = session.scalars(select(Delivery).where(Delivery.key == key)).one()
        session.expunge(found)
        return found


def acks(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        return [
            (a.delivery_key, a.answer, a.via)
            for a in session.scalars(select(Acknowledgement).order_by(Acknowledgement.id))
        ]


def snapshot(engine: Engine) -> list[tuple[Any, ...]]:
    """Everything a webhook may change, to prove a refused request changed nothing."""
    with session_scope(engine) as session:
        deliveries = session.execute(
            select(Delivery.key, Delivery.state, Delivery.updated_at, Delivery.provider_ref)
            .order_by(Delivery.key)
        ).all()  # fmt: skip
        targets = session.execute(
            select(AlertTarget.resident_id, AlertTarget.ack_answer).order_by(AlertTarget.id)
        ).all()
        n_acks = session.scalar(select(func.count()).select_from(Acknowledgement))
    return [tuple(r) for r in deliveries] + [tuple(t) for t in targets] + [(n_acks,)]


_SIDS = itertools.count(1)


def post_signed(
    client: TestClient,
    path: str,
    params: dict[str, str],
    *,
    token: str = AUTH,
    signed_url: str | None = None,
) -> Any:
    url = signed_url if signed_url is not None else PUBLIC + path
    if path.startswith("/twilio/sms/inbound") and "MessageSid" not in params:
        # Twilio sends a unique MessageSid with every inbound SMS; replays reuse it
        params = {**params, "MessageSid": f"SM{next(_SIDS):032x}"}
    headers = {SIGNATURE_HEADER: twilio_signature(token, url, params)}
    return client.post(path, data=params, headers=headers)


def q(path: str, **query: str) -> str:
    return f"{path}?{urlencode(query)}"


# --------------------------------------------------------------------------- status callbacks


def test_sms_status_moves_sent_to_delivered(world: World) -> None:
    key = world.keys[("R1", "sms")]
    before = row(world.engine, key)
    resp = post_signed(
        world.client,
        q("/twilio/sms/status", key=key),
        {"MessageSid": before.provider_ref or "", "MessageStatus": "delivered"},
    )
    assert resp.status_code == 204
    assert row(world.engine, key).state == "delivered"
    assert row(world.engine, key).delivered_at is not None


def test_sms_status_undelivered_marks_failed_with_error_code(world: World) -> None:
    key = world.keys[("R1", "sms")]
    resp = post_signed(
        world.client,
        q("/twilio/sms/status", key=key),
        {"MessageSid": "SMxyz", "MessageStatus": "undelivered", "ErrorCode": "30005"},
    )
    assert resp.status_code == 204
    after = row(world.engine, key)
    assert (after.state, after.error_code) == ("failed", 30005)


def test_intermediate_sms_status_keeps_state(world: World) -> None:
    key = world.keys[("R1", "sms")]
    resp = post_signed(
        world.client,
        q("/twilio/sms/status", key=key),
        {"MessageSid": "SM1", "MessageStatus": "sent"},
    )
    assert resp.status_code == 204
    assert row(world.engine, key).state == "sent"


@pytest.mark.parametrize(
    ("call_status", "state"),
    [("completed", "delivered"), ("no-answer", "failed"), ("busy", "failed")],
)
def test_voice_status_found_by_call_sid(world: World, call_status: str, state: str) -> None:
    key = world.keys[("R2", "voice")]
    sid = row(world.engine, key).provider_ref
    assert sid
    # no ?key=: the row is found by the provider reference the worker stored
    resp = post_signed(
        world.client, "/twilio/voice/status", {"CallSid": sid, "CallStatus": call_status}
    )
    assert resp.status_code == 204
    assert row(world.engine, key).state == state


def test_status_for_unknown_delivery_is_accepted_and_changes_nothing(world: World) -> None:
    before = snapshot(world.engine)
    resp = post_signed(
        world.client,
        q("/twilio/sms/status", key="A0:999"),
        {"MessageSid": "SMnone", "MessageStatus": "delivered"},
    )
    assert resp.status_code == 204
    assert snapshot(world.engine) == before


def test_status_without_status_field_is_400(world: World) -> None:
    key = world.keys[("R1", "sms")]
    resp = post_signed(world.client, q("/twilio/sms/status", key=key), {"MessageSid": "SM1"})
    assert resp.status_code == 400
    assert row(world.engine, key).state == "sent"


# --------------------------------------------------------------------------- signatures


@pytest.mark.parametrize(
    "path",
    ["/twilio/sms/status", "/twilio/voice/status", "/twilio/voice/gather", "/twilio/sms/inbound"],
)
@pytest.mark.parametrize("how", ["missing", "wrong_token", "internal_url", "tampered"])
def test_bad_signature_is_403_and_writes_nothing(world: World, path: str, how: str) -> None:
    key = world.keys[("R2", "voice")] if "voice" in path else world.keys[("R1", "sms")]
    full = q(path, key=key)
    params = {
        "MessageSid": "SM1",
        "MessageStatus": "delivered",
        "CallSid": "CA1",
        "CallStatus": "completed",
        "Digits": "2",
        "From": PHONE_1,
        "Body": "2",
    }
    before = snapshot(world.engine)
    if how == "missing":
        resp = world.client.post(full, data=params)
    elif how == "wrong_token":
        resp = post_signed(world.client, full, params, token="not-the-token")
    elif how == "internal_url":
        # signed over the URL this process sees, not the public one Twilio called
        resp = post_signed(world.client, full, params, signed_url="http://testserver" + full)
    else:
        sig = twilio_signature(AUTH, PUBLIC + full, {**params, "Digits": "1", "Body": "1"})
        resp = world.client.post(full, data=params, headers={SIGNATURE_HEADER: sig})
    assert resp.status_code == 403
    assert snapshot(world.engine) == before


def test_signature_covers_the_query_string(world: World) -> None:
    """A valid signature for one key cannot be replayed against another key."""
    sms_key, voice_key = world.keys[("R1", "sms")], world.keys[("R2", "voice")]
    params = {"CallSid": "CA1", "Digits": "2"}
    sig = twilio_signature(AUTH, PUBLIC + q("/twilio/voice/gather", key=voice_key), params)
    before = snapshot(world.engine)
    resp = world.client.post(
        q("/twilio/voice/gather", key=sms_key), data=params, headers={SIGNATURE_HEADER: sig}
    )
    assert resp.status_code == 403
    assert snapshot(world.engine) == before


# --------------------------------------------------------------------------- keypresses


@pytest.mark.parametrize(
    ("digits", "answer", "spoken"), [("1", "safe", MSG_SAFE), ("2", "need_help", MSG_NEED_HELP)]
)
def test_gather_keypress_records_answer(
    world: World, digits: str, answer: str, spoken: str
) -> None:
    key = world.keys[("R2", "voice")]
    resp = post_signed(
        world.client, q("/twilio/voice/gather", key=key), {"CallSid": "CA1", "Digits": digits}
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/xml")
    assert spoken in resp.text
    assert 'language="ja-JP"' in resp.text
    assert row(world.engine, key).state == "acknowledged"
    assert acks(world.engine) == [(key, answer, "voice")]
    with session_scope(world.engine) as session:
        target = session.scalars(select(AlertTarget).where(AlertTarget.resident_id == "R2")).one()
        assert target.ack_answer == answer


def test_gather_other_key_asks_once_more_then_closes(world: World) -> None:
    key = world.keys[("R2", "voice")]
    first = post_signed(
        world.client, q("/twilio/voice/gather", key=key), {"CallSid": "CA1", "Digits": "9"}
    )
    assert first.status_code == 200
    assert MSG_ASK_AGAIN in first.text
    assert "<Gather" in first.text
    # the retry action is the same endpoint for the same key, on the PUBLIC URL
    action = first.text.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert action.startswith(PUBLIC + "/twilio/voice/gather?")
    assert f"key={urlencode({'k': key})[2:]}" in action
    retry_path = action[len(PUBLIC) :]
    second = post_signed(world.client, retry_path, {"CallSid": "CA1", "Digits": "*"})
    assert second.status_code == 200
    assert MSG_CLOSING in second.text
    assert "<Gather" not in second.text
    assert row(world.engine, key).state == "sent"
    assert acks(world.engine) == []
    # a right key on the second chance still counts
    third = post_signed(world.client, retry_path, {"CallSid": "CA1", "Digits": "2"})
    assert MSG_NEED_HELP in third.text
    assert acks(world.engine) == [(key, "need_help", "voice")]


def test_gather_for_unknown_key_says_not_recorded(world: World) -> None:
    before = snapshot(world.engine)
    resp = post_signed(
        world.client, q("/twilio/voice/gather", key="A0:404"), {"CallSid": "CA1", "Digits": "1"}
    )
    assert resp.status_code == 200
    assert MSG_NOT_RECORDED in resp.text
    assert snapshot(world.engine) == before


# --------------------------------------------------------------------------- SMS replies


def test_sms_reply_acknowledges_latest_delivery_to_that_number(world: World) -> None:
    first_key = world.keys[("R1", "sms")]
    later = send_alert(
        world.engine, world.settings, [resident_delivery("R1", ChannelName.SMS, PHONE_1)]
    )
    latest_key = later["R1/sms"]
    resp = post_signed(world.client, "/twilio/sms/inbound", {"From": PHONE_1, "Body": "２"})
    assert resp.status_code == 200
    assert "<Message>" in resp.text
    assert MSG_NEED_HELP in resp.text
    assert acks(world.engine) == [(latest_key, "need_help", "sms")]
    assert row(world.engine, latest_key).state == "acknowledged"
    assert row(world.engine, first_key).state == "sent"


def test_sms_reply_matches_voiceresident_delivery(world: World) -> None:
    key = world.keys[("R2", "voice")]
    resp = post_signed(world.client, "/twilio/sms/inbound", {"From": PHONE_2, "Body": "無事"})
    assert MSG_SAFE in resp.text
    assert acks(world.engine) == [(key, "safe", "sms")]


def test_sms_reply_unknown_text_records_nothing(world: World) -> None:
    before = snapshot(world.engine)
    resp = post_signed(
        world.client, "/twilio/sms/inbound", {"From": PHONE_1, "Body": "今どこですか"}
    )
    assert resp.status_code == 200
    assert MSG_SMS_INSTRUCTIONS in resp.text
    assert snapshot(world.engine) == before


def test_sms_reply_from_unknown_number_records_nothing(world: World) -> None:
    before = snapshot(world.engine)
    resp = post_signed(world.client, "/twilio/sms/inbound", {"From": "+819099990009", "Body": "1"})
    assert resp.status_code == 200
    assert MSG_NOT_RECORDED in resp.text
    assert snapshot(world.engine) == before


# --------------------------------------------------------------------------- app acks


def test_app_ack_with_good_token(world: World) -> None:
    key = world.keys[("R1", "push")]
    resp = world.client.post(
        "/ack", json={"key": key, "answer": "safe", "token": ack_token(SECRET, key)}
    )
    assert resp.status_code == 204
    assert row(world.engine, key).state == "acknowledged"
    assert acks(world.engine) == [(key, "safe", "push")]


def test_app_ack_with_bad_token_is_403(world: World) -> None:
    key = world.keys[("R1", "push")]
    before = snapshot(world.engine)
    for token in (ack_token(b"wrong-secret", key), ack_token(SECRET, key + "0"), "x"):
        resp = world.client.post("/ack", json={"key": key, "answer": "need_help", "token": token})
        assert resp.status_code == 403
    assert snapshot(world.engine) == before


def test_app_ack_unknown_key_is_404(world: World) -> None:
    before = snapshot(world.engine)
    resp = world.client.post(
        "/ack", json={"key": "A0:404", "answer": "safe", "token": ack_token(SECRET, "A0:404")}
    )
    assert resp.status_code == 404
    assert snapshot(world.engine) == before


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        json.dumps({"answer": "safe", "token": "t"}).encode(),
        json.dumps({"key": "A1:1", "answer": "maybe", "token": "t"}).encode(),
        json.dumps({"key": "A1:1", "answer": "safe"}).encode(),
        json.dumps({"key": 5, "answer": "safe", "token": "t"}).encode(),
    ],
)
def test_app_ack_malformed_is_422(world: World, body: bytes) -> None:
    before = snapshot(world.engine)
    resp = world.client.post("/ack", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert snapshot(world.engine) == before


# --------------------------------------------------------------------------- limits, errors


def test_body_too_large_is_413(world: World) -> None:
    key = world.keys[("R1", "push")]
    before = snapshot(world.engine)
    big = {
        "key": key,
        "answer": "safe",
        "token": ack_token(SECRET, key),
        "pad": "x" * MAX_BODY_BYTES,
    }
    assert world.client.post("/ack", json=big).status_code == 413
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "Pad": "x" * MAX_BODY_BYTES}
    resp = post_signed(world.client, q("/twilio/sms/status", key=world.keys[("R1", "sms")]), params)
    assert resp.status_code == 413
    assert snapshot(world.engine) == before


def test_body_too_large_without_content_length_is_413(world: World) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024

    resp = world.client.post("/ack", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 413


def test_database_failure_is_500_with_nothing_written(world: World) -> None:
    """The answer is logged and the row updated before the target is: all or nothing."""
    key = world.keys[("R1", "push")]
    before = snapshot(world.engine)

    def fail_on_target_update(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE ALERT_TARGETS"):
            raise RuntimeError("injected database failure")

    event.listen(world.engine, "before_cursor_execute", fail_on_target_update)
    try:
        resp = world.client.post(
            "/ack", json={"key": key, "answer": "need_help", "token": ack_token(SECRET, key)}
        )
    finally:
        event.remove(world.engine, "before_cursor_execute", fail_on_target_update)
    assert resp.status_code == 500
    assert PHONE_1 not in resp.text
    assert snapshot(world.engine) == before


def test_healthz(world: World) -> None:
    resp = world.client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"ok": True}


def test_logs_carry_no_full_phone_number(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="alertsvc")
    post_signed(world.client, "/twilio/sms/inbound", {"From": "+819099990009", "Body": "1"})
    world.client.post("/twilio/sms/inbound", data={"From": PHONE_1, "Body": "1"})
    assert caplog.records, "expected the unmatched reply and the refusal to be logged"
    text = caplog.text
    assert "+819099990009" not in text
    assert PHONE_1 not in text


# --------------------------------------------------------------------------- shared phones

SHARED = "+819033330003"


def _shared_world(engine: Engine, settings: Settings) -> tuple[TestClient, dict[str, str]]:
    """Two residents (a couple) on one mobile, each with a later voice step held."""
    settings = replace(settings, webhooks=WebhookSettings(public_url=PUBLIC, port=0))
    plan = [
        resident_delivery("A", ChannelName.SMS, SHARED),
        resident_delivery("B", ChannelName.SMS, SHARED),
        replace(resident_delivery("A", ChannelName.VOICE, "+81949001111"), step=1),
        replace(resident_delivery("B", ChannelName.VOICE, "+81949002222"), step=1),
    ]
    residents = ["A", "B"]
    with session_scope(engine) as session:
        alert_id = create_alert(
            session, level=4, scope={}, exercise=False,
            targets=[PlannedTarget(r, 1.0, True, True) for r in residents],
            deliveries=plan, actor="test",
        )  # fmt: skip
        # the SMS went out (as a worker would record it); the voice steps stay held
        now = dt.datetime.now(dt.UTC)
        session.execute(
            Delivery.__table__.update()
            .where(Delivery.alert_id == alert_id, Delivery.channel == "sms")
            .values(state="sent", sent_at=now)
        )
    app = create_app(engine, settings, auth_token=AUTH, ack_secret=SECRET)
    return TestClient(app, raise_server_exceptions=False), {"alert": alert_id}


def _target_answers(engine: Engine) -> dict[str, str | None]:
    with session_scope(engine) as session:
        return dict(session.execute(select(AlertTarget.resident_id, AlertTarget.ack_answer)).all())


def test_safe_reply_from_a_shared_phone_marks_nobody(engine: Engine, settings: Settings) -> None:
    client, _ = _shared_world(engine, settings)
    with client:
        resp = post_signed(client, "/twilio/sms/inbound", {"From": SHARED, "Body": "1"})
    assert resp.status_code == 200 and "複数の方" in resp.text
    assert _target_answers(engine) == {"A": None, "B": None}
    with session_scope(engine) as session:
        voice = session.scalars(select(Delivery.state).where(Delivery.channel == "voice")).all()
    assert set(voice) == {"held"}  # both still get their call


def test_help_reply_from_a_shared_phone_marks_everyone(engine: Engine, settings: Settings) -> None:
    client, _ = _shared_world(engine, settings)
    with client:
        resp = post_signed(client, "/twilio/sms/inbound", {"From": SHARED, "Body": "2"})
    assert resp.status_code == 200 and MSG_NEED_HELP in resp.text
    assert _target_answers(engine) == {"A": "need_help", "B": "need_help"}
