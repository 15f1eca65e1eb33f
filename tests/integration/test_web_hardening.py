"""The webhook app under hostile input (#7 items 9 and 19), on SQLite and PostgreSQL.

No request may produce a 500 or write request text into a log; app-ack tokens expire
with their alert; an answer is idempotent; a cancellation notice cannot be answered;
each status route takes only its own provider's callbacks; inbound SMS and keypresses are
deduplicated by their provider ids. Every endpoint is fuzzed with hypothesis.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from alertsvc.acks import ack_token
from alertsvc.channels.twilio_common import SIGNATURE_HEADER, twilio_signature
from alertsvc.config import Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, Alert, AlertTarget, Delivery
from alertsvc.dispatch.alerts import PlannedTarget, create_alert
from alertsvc.dispatch.cancel import cancel_alert
from alertsvc.models import ChannelName
from alertsvc.testing.fakes import resident_delivery

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from alertsvc.web.app import create_app

AUTH = "test-twilio-auth-token"
SECRET = b"test-ack-secret"
PUBLIC = "https://alerts.example.jp"
PHONE = "+819011110001"
CALLEE = "+81949002222"
PUSH = "fcm-token-resident-1-aaaaaaaaaaaaaaaa"
FORGED = "+819087654321"  # a phone number an attacker tries to plant in the log

_SIDS = itertools.count(1)


@dataclass
class World:
    engine: Engine
    client: TestClient
    alert_id: str
    keys: dict[str, str]  # channel -> key

    def post_signed(self, path: str, params: dict[str, str]) -> Any:
        headers = {SIGNATURE_HEADER: twilio_signature(AUTH, PUBLIC + path, params)}
        return self.client.post(path, data=params, headers=headers)

    def ack(self, key: str, answer: str = "safe", token: str | None = None) -> Any:
        body = {"key": key, "answer": answer, "token": token or ack_token(SECRET, key)}
        return self.client.post("/ack", json=body)

    def n_acks(self) -> int:
        with session_scope(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(Acknowledgement)) or 0)

    def state(self, key: str) -> str:
        with session_scope(self.engine) as session:
            return str(session.scalars(select(Delivery.state).where(Delivery.key == key)).one())


def send(engine: Engine, at: dt.datetime | None = None) -> tuple[str, dict[str, str]]:
    plan = [
        resident_delivery("R1", ChannelName.SMS, PHONE),
        resident_delivery("R1", ChannelName.PUSH, PUSH),
        resident_delivery("R2", ChannelName.VOICE, CALLEE),
    ]
    with session_scope(engine) as session:
        alert_id = create_alert(
            session, level=4, scope={}, exercise=False,
            targets=[PlannedTarget(r, 1.0, True, True) for r in ("R1", "R2")],
            deliveries=plan, actor="test",
        )  # fmt: skip
        session.execute(
            Delivery.__table__.update()
            .where(Delivery.alert_id == alert_id)
            .values(state="sent", sent_at=at or dt.datetime.now(dt.UTC))
        )
        keys = dict(
            session.execute(
                select(Delivery.channel, Delivery.key).where(Delivery.alert_id == alert_id)
            ).all()
        )
    return alert_id, keys


@pytest.fixture
def world(engine: Engine, settings: Settings) -> Iterator[World]:
    settings = replace(settings, webhooks=WebhookSettings(public_url=PUBLIC, port=0))
    alert_id, keys = send(engine)
    app = create_app(engine, settings, auth_token=AUTH, ack_secret=SECRET)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(engine, client, alert_id, keys)


def _cancel_text(channel: ChannelName, language: str) -> tuple[str, str]:
    return "取消し", "取消し"


def _cancel(engine: Engine, alert_id: str) -> None:
    with session_scope(engine) as session:
        cancel_alert(
            session,
            alert_id,
            reason="誤報",
            actor="test",
            render=lambda c, lang: ("取消し", "取消し"),
        )


# --------------------------------------------------------------------------- /ack


def test_deeply_nested_json_is_422_not_500(world: World) -> None:
    for depth in (990, 5000, 30_000):
        body = b"[" * depth + b"]" * depth
        resp = world.client.post("/ack", content=body)
        assert resp.status_code == 422, depth
    nested_key = json.dumps({"key": [[[[[[[[[["x"]]]]]]]]]], "answer": "safe", "token": "t"})
    assert world.client.post("/ack", content=nested_key).status_code == 422


def test_ack_key_is_never_logged_before_the_token_is_checked(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="alertsvc")
    forged = f"x\nWARNING alertsvc.web resident {FORGED} answered"
    resp = world.client.post("/ack", json={"key": forged, "answer": "safe", "token": "0" * 32})
    assert resp.status_code == 422  # not even a key
    resp = world.client.post("/ack", json={"key": "A1:1", "answer": "safe", "token": "0" * 32})
    assert resp.status_code == 403
    assert FORGED not in caplog.text
    assert "A1:1" not in caplog.text


def test_ack_replay_adds_no_row(world: World) -> None:
    key = world.keys["push"]
    assert world.ack(key).status_code == 204
    assert world.ack(key).status_code == 204
    assert world.n_acks() == 1
    # a different answer is a new answer, and need_help stays visible
    assert world.ack(key, "need_help").status_code == 204
    assert world.ack(key, "need_help").status_code == 204
    assert world.n_acks() == 2


def test_ack_token_expires_when_the_alert_is_cancelled(world: World) -> None:
    _cancel(world.engine, world.alert_id)
    before = world.n_acks()
    assert world.ack(world.keys["push"]).status_code == 410
    assert world.n_acks() == before


def test_ack_token_expires_with_the_alert_age(world: World, settings: Settings) -> None:
    with session_scope(world.engine) as session:
        alert = session.get(Alert, world.alert_id)
        assert alert is not None
        alert.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(
            seconds=settings.webhooks.ack_valid_seconds + 60
        )
    assert world.ack(world.keys["push"]).status_code == 410
    assert world.n_acks() == 0


def test_a_cancellation_notice_cannot_be_acknowledged(world: World) -> None:
    _cancel(world.engine, world.alert_id)
    with session_scope(world.engine) as session:
        notice = session.scalars(
            select(Delivery.key).where(
                Delivery.is_cancellation.is_(True), Delivery.channel == "push"
            )
        ).one()
    assert world.ack(notice).status_code == 409
    assert world.n_acks() == 0
    # nor by keypress or SMS reply: nothing is recorded
    with session_scope(world.engine) as session:
        call = session.scalars(
            select(Delivery.key).where(
                Delivery.is_cancellation.is_(True), Delivery.channel == "voice"
            )
        ).one()
    resp = world.post_signed(
        f"/twilio/voice/gather?{urlencode({'key': call})}", {"CallSid": "CA7", "Digits": "1"}
    )
    assert resp.status_code == 200
    reply = {"From": PHONE, "Body": "1", "MessageSid": "SM7"}
    assert world.post_signed("/twilio/sms/inbound", reply).status_code == 200
    assert world.n_acks() == 0
    with session_scope(world.engine) as session:
        targets = session.scalars(select(AlertTarget.acknowledged_at)).all()
    assert set(targets) == {None}


# --------------------------------------------------------------------------- Twilio routes


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/twilio/sms/status", {"MessageSid": "SM1", "MessageStatus": "deli\x00vered"}),
        ("/twilio/voice/status", {"CallSid": "CA1", "CallStatus": "completed", "To": "\x00"}),
        ("/twilio/voice/gather?key=A1%3A1", {"CallSid": "CA\x001", "Digits": "1"}),
        ("/twilio/voice/gather?key=A1%00", {"CallSid": "CA1", "Digits": "1"}),
        ("/twilio/sms/inbound", {"From": "+8190\x001", "Body": "1", "MessageSid": "SM1"}),
        ("/twilio/sms/inbound", {"From": PHONE, "Body": "1", "MessageSid": "SM\x00"}),
    ],
)
def test_nul_bytes_in_signed_parameters_are_400(
    world: World, path: str, params: dict[str, str]
) -> None:
    before = world.n_acks()
    resp = world.post_signed(path, params)
    assert resp.status_code == 400
    assert world.n_acks() == before


def test_status_callback_logs_no_request_text(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="alertsvc")
    status = f"queued\nERROR alertsvc resident {FORGED}"
    resp = world.post_signed("/twilio/sms/status", {"MessageSid": "SMx", "MessageStatus": status})
    assert resp.status_code == 204
    assert FORGED not in caplog.text and "\nERROR" not in caplog.text


def test_huge_error_code_is_ignored_not_500(world: World) -> None:
    key = world.keys["sms"]
    params = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "9" * 30}
    resp = world.post_signed(f"/twilio/sms/status?key={key}", params)
    assert resp.status_code == 204
    assert world.state(key) == "failed"


def test_signed_sms_callback_is_refused_on_the_voice_status_route(world: World) -> None:
    sms_key = world.keys["sms"]
    # what Twilio posts for an SMS (both spellings), replayed against the voice route
    sms_callback = {
        "MessageSid": "SM9",
        "SmsSid": "SM9",
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
    }
    resp = world.post_signed(f"/twilio/voice/status?key={sms_key}", sms_callback)
    assert resp.status_code == 400
    assert world.state(sms_key) == "sent"
    # a voice-shaped callback naming an SMS row matches nothing either
    voice_shaped = {"CallSid": "CA9", "CallStatus": "completed"}
    resp = world.post_signed(f"/twilio/voice/status?key={sms_key}", voice_shaped)
    assert resp.status_code == 204
    assert world.state(sms_key) == "sent"


# --------------------------------------------------------------------------- replays (item 9)


def test_replayed_sms_reply_changes_nothing_and_is_200(world: World, engine: Engine) -> None:
    first = {"From": PHONE, "Body": "2", "MessageSid": "SM" + "a" * 32}
    assert world.post_signed("/twilio/sms/inbound", first).status_code == 200
    assert world.n_acks() == 1
    # a later alert to the same number: the captured "2" must not bind to it
    later, keys = send(engine, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    resp = world.post_signed("/twilio/sms/inbound", first)
    assert resp.status_code == 200
    assert "<Message>" not in resp.text
    assert world.n_acks() == 1
    assert world.state(keys["sms"]) == "sent"
    # a new message (new MessageSid) is a new answer
    fresh = {**first, "MessageSid": "SM" + "b" * 32}
    assert world.post_signed("/twilio/sms/inbound", fresh).status_code == 200
    assert world.state(keys["sms"]) == "acknowledged"
    assert later


def test_replayed_keypress_changes_nothing_and_is_200(world: World) -> None:
    key = world.keys["voice"]
    path = f"/twilio/voice/gather?{urlencode({'key': key})}"
    press = {"CallSid": "CA" + "c" * 32, "Digits": "2"}
    assert world.post_signed(path, press).status_code == 200
    assert world.n_acks() == 1
    replay = world.post_signed(path, press)
    assert replay.status_code == 200
    assert world.n_acks() == 1
    # the other key in the same call is a different event
    assert world.post_signed(path, {**press, "Digits": "1"}).status_code == 200
    assert world.n_acks() == 2


def test_inbound_sms_without_message_sid_is_refused(world: World) -> None:
    resp = world.post_signed("/twilio/sms/inbound", {"From": PHONE, "Body": "1"})
    assert resp.status_code == 400
    assert world.n_acks() == 0


# --------------------------------------------------------------------------- fuzzing

_FUZZ = hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_text = st.text(max_size=40)
_params = st.dictionaries(
    st.sampled_from(
        ["From", "Body", "MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "CallSid",
         "CallStatus", "Digits", "ErrorCode", "To"]
    ) | _text,
    _text,
    max_size=6,
)  # fmt: skip
_paths = st.sampled_from(
    ["/twilio/sms/status", "/twilio/voice/status", "/twilio/voice/gather", "/twilio/sms/inbound"]
)


def _assert_clean_log(caplog: pytest.LogCaptureFixture, *given_text: str) -> None:
    for record in caplog.records:
        line = record.getMessage()
        assert "\n" not in line and "\r" not in line, line
        for text in given_text:
            if len(text) >= 6:
                assert text not in line, line


@_FUZZ
@given(path=_paths, params=_params, key=_text, retry=st.booleans())
def test_fuzz_signed_twilio_routes_never_500(
    world: World,
    caplog: pytest.LogCaptureFixture,
    path: str,
    params: dict[str, str],
    key: str,
    retry: bool,
) -> None:
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="alertsvc")
    query = {"key": key, **({"retry": "1"} if retry else {})}
    resp = world.post_signed(f"{path}?{urlencode(query)}", params)
    assert resp.status_code < 500, resp.text
    _assert_clean_log(caplog, *params.values(), *params.keys())


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=10,
)


@_FUZZ
@given(
    doc=st.fixed_dictionaries(
        {}, optional={"key": _json | _text, "answer": _json, "token": _json | _text}
    )
    | _json,
    sign=st.booleans(),
)
def test_fuzz_ack_never_500(
    world: World, caplog: pytest.LogCaptureFixture, doc: Any, sign: bool
) -> None:
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="alertsvc")
    if sign and isinstance(doc, dict) and isinstance(doc.get("key"), str):
        doc["token"] = ack_token(SECRET, doc["key"])
    resp = world.client.post("/ack", content=json.dumps(doc, allow_nan=True))
    assert resp.status_code < 500, resp.text
    texts = [v for v in (doc.values() if isinstance(doc, dict) else []) if isinstance(v, str)]
    _assert_clean_log(caplog, *texts)


@_FUZZ
@given(body=st.binary(max_size=200))
def test_fuzz_raw_bodies_never_500(world: World, body: bytes) -> None:
    for path in ("/ack", "/twilio/sms/inbound", "/twilio/voice/status"):
        resp = world.client.post(path, content=body)
        assert resp.status_code < 500
