"""The LINE channel through the real line-bot-sdk against the loopback simulator, and the
LINE / FAX webhooks of the web app on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine, select

from alertsvc.acks import ack_token
from alertsvc.channels.line import (
    SIMULATOR_LINE_SECRET,
    LineChannel,
    line_channel_secret,
    postback_data,
    retry_key_for,
)
from alertsvc.config import Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, Delivery
from alertsvc.dispatch.alerts import PlannedTarget, create_alert
from alertsvc.dispatch.runner import run_worker
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, Outcome, OutgoingMessage
from alertsvc.testing.fakes import fake_channels, resident_delivery
from alertsvc.testing.reach_simulator import ReachSimulator, line_signature
from alertsvc.web.app import create_app

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

USER_1 = "U" + "1" * 32
USER_2 = "U" + "2" * 32
SECRET = b"test-ack-secret"


def _line(sim_url: str) -> LineChannel:
    s = Settings()
    return LineChannel.from_settings(replace(s, line=replace(s.line, base_url=sim_url)), env={})


def _msg(to: str, key: str, language: str = "ja") -> OutgoingMessage:
    return OutgoingMessage(
        key, ChannelName.LINE, to, "すぐに避難してください。", language=language, title="避難指示"
    )


def test_outcomes_and_the_pushed_message() -> None:
    with ReachSimulator() as sim:
        sim.script("U" + "a" * 32, "unfollowed")
        sim.script("U" + "b" * 32, "rate_limited")
        sim.script("U" + "c" * 32, "server_error")
        results = _line(sim.url).send_many(
            [
                _msg(USER_1, "A1:1", "en"),
                _msg("U" + "a" * 32, "A1:2"),
                _msg("U" + "b" * 32, "A1:3"),
                _msg("U" + "c" * 32, "A1:4"),
            ]
        )
        pushed = list(sim.line_delivered)
        headers = [r.headers["X-Line-Retry-Key"] for r in sim.requests]
    assert [r.outcome for r in results] == [
        Outcome.DELIVERED,
        Outcome.REJECTED,
        Outcome.DEFERRED,
        Outcome.DEFERRED,
    ]
    assert results[1].error_code == "unfollowed"
    assert results[0].provider_ref
    assert headers[0] == retry_key_for("A1:1")
    (doc,) = pushed
    assert doc["to"] == USER_1
    text, buttons = doc["messages"]
    assert text["type"] == "text" and "避難" in text["text"]
    actions = buttons["template"]["actions"]
    assert [a["type"] for a in actions] == ["postback", "postback"]
    assert [a["data"] for a in actions] == [
        postback_data("A1:1", "safe"),
        postback_data("A1:1", "need_help"),
    ]
    assert actions[0]["label"] == "I am safe"  # the resident's language


def test_a_retry_carries_the_same_key_and_is_delivered_once() -> None:
    with ReachSimulator() as sim:
        line = _line(sim.url)
        first = line.send(_msg(USER_1, "A7:3"))
        again = line.send(_msg(USER_1, "A7:3"))
        keys = [r.headers["X-Line-Retry-Key"] for r in sim.requests]
        delivered = len(sim.line_delivered)
    assert keys[0] == keys[1]
    assert first.outcome is again.outcome is Outcome.DELIVERED
    assert again.provider_ref == first.provider_ref  # x-line-accepted-request-id
    assert delivered == 1


def test_refused_connection_is_deferred_and_token_required_off_loopback() -> None:
    assert _line("http://127.0.0.1:9").send(_msg(USER_1, "A1:1")).outcome is Outcome.DEFERRED
    s = Settings()
    s = replace(s, line=replace(s.line, base_url="https://api.line.me"))
    with pytest.raises(ChannelMisconfigured, match="ALERTSVC_LINE_CHANNEL_TOKEN"):
        LineChannel.from_settings(s, env={})
    # off loopback without a channel secret the webhook is not mounted at all
    assert line_channel_secret(s, env={}) == ""
    assert line_channel_secret(Settings(), env={}) == SIMULATOR_LINE_SECRET


@pytest.fixture
def sent(engine: Engine, settings: Settings) -> Iterator[tuple[Settings, dict[str, str]]]:
    settings = replace(settings, webhooks=WebhookSettings(public_url="http://testserver", port=0))
    plan = [
        resident_delivery("R1", ChannelName.LINE, USER_1),
        resident_delivery("R2", ChannelName.FAX, "+81949220001"),
    ]
    with session_scope(engine) as session:
        create_alert(
            session,
            level=4,
            scope={"test": True},
            exercise=False,
            targets=[PlannedTarget(r, 1.0, True, True) for r in ("R1", "R2")],
            deliveries=plan,
            actor="test",
        )
    run_worker(engine, fake_channels(), settings, until_idle=True, poll_interval=0.01)
    with session_scope(engine) as session:
        keys = {r.channel: r.key for r in session.scalars(select(Delivery))}
    yield settings, keys


def _postback(user: str, key: str, answer: str, event_id: str) -> bytes:
    event = {
        "type": "postback",
        "webhookEventId": event_id,
        "source": {"type": "user", "userId": user},
        "postback": {"data": postback_data(key, answer)},
    }
    return json.dumps({"destination": USER_2, "events": [event]}).encode()


def _acks(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        return [(a.delivery_key, a.answer, a.via) for a in session.scalars(select(Acknowledgement))]


def _state(engine: Engine, key: str) -> str:
    with session_scope(engine) as session:
        return session.scalars(select(Delivery.state).where(Delivery.key == key)).one()


def test_line_postback_signed_forged_and_from_someone_else(
    engine: Engine, sent: tuple[Settings, dict[str, str]]
) -> None:
    settings, keys = sent
    key = keys["line"]
    app = create_app(
        engine, settings, auth_token="t", ack_secret=SECRET, line_channel_secret="line-secret"
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        body = _postback(USER_1, key, "safe", "01EV1")
        forged = client.post(
            "/line/webhook", content=body, headers={"X-Line-Signature": line_signature("x", body)}
        )
        unsigned = client.post("/line/webhook", content=body)
        assert (forged.status_code, unsigned.status_code) == (403, 403)
        assert _acks(engine) == []
        # a correctly signed postback from another LINE user answers nothing
        other = _postback(USER_2, key, "need_help", "01EV2")
        sig = line_signature("line-secret", other)
        assert (
            client.post(
                "/line/webhook", content=other, headers={"X-Line-Signature": sig}
            ).status_code
            == 200
        )
        assert _acks(engine) == []
        sig = line_signature("line-secret", body)
        for _ in range(2):  # a redelivered event is recorded once
            ok = client.post("/line/webhook", content=body, headers={"X-Line-Signature": sig})
            assert ok.status_code == 200
    assert _acks(engine) == [(key, "safe", "line")]
    assert _state(engine, key) == "acknowledged"


def test_line_webhook_through_the_simulator(
    engine: Engine, sent: tuple[Settings, dict[str, str]]
) -> None:
    settings, keys = sent
    app = create_app(
        engine, settings, auth_token="t", ack_secret=SECRET, line_channel_secret="line-secret"
    )
    from alertsvc.web.server import WebhookServer

    server = WebhookServer(app, host="127.0.0.1", port=0)
    server.start()
    try:
        with ReachSimulator(channel_secret="line-secret") as sim:
            status = sim.line_postback(
                f"{server.url}/line/webhook", USER_1, postback_data(keys["line"], "need_help")
            )
    finally:
        server.stop()
    assert status == 200
    assert _acks(engine) == [(keys["line"], "need_help", "line")]


def test_fax_status_callbacks(engine: Engine, sent: tuple[Settings, dict[str, str]]) -> None:
    settings, keys = sent
    key = keys["fax"]
    app = create_app(engine, settings, auth_token="t", ack_secret=SECRET)

    def event(kind: str, reason: str = "") -> dict[str, object]:
        payload = {"fax_id": "fx-1", "failure_reason": reason}
        return {"data": {"event_type": kind, "payload": payload}}

    url = f"/fax/status?key={key}&sig={ack_token(SECRET, key)}"
    with TestClient(app, raise_server_exceptions=False) as client:
        forged = client.post(f"/fax/status?key={key}&sig={'0' * 32}", json=event("fax.delivered"))
        assert forged.status_code == 403
        assert _state(engine, key) == "sent"
        assert client.post(url, json=event("fax.queued")).status_code == 204
        assert client.post(url, json=event("fax.sending.started")).status_code == 204
        assert _state(engine, key) == "sent"
        assert client.post(url, json=event("fax.failed", "user_busy")).status_code == 204
        assert _state(engine, key) == "failed"
        assert client.post(url, json={"data": "x"}).status_code == 422
