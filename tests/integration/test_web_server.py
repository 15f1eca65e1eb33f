"""WebhookServer on a real socket: the provider simulator calls it back, end to end.

Worker -> real Twilio adapters -> loopback simulator -> signed status callbacks and a
keypress -> WebhookServer (uvicorn thread) -> outbox rows.
"""

from __future__ import annotations

import socket
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import Engine, select

from alertsvc.channels import build_channels
from alertsvc.channels.twilio_common import SIGNATURE_HEADER, SIMULATOR_AUTH_TOKEN, twilio_signature
from alertsvc.config import Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, Delivery
from alertsvc.dispatch.alerts import PlannedTarget, create_alert
from alertsvc.dispatch.runner import run_worker
from alertsvc.models import ChannelName
from alertsvc.testing.fakes import resident_delivery
from alertsvc.testing.simulator import ProviderSimulator
from alertsvc.web.app import create_app
from alertsvc.web.server import WebhookServer

SMS_TO = "+819011110001"
CALL_TO = "+819022220002"
BODY = "避難指示が出ました。すぐに避難してください。"


def test_simulator_callbacks_reach_the_outbox(engine: Engine, settings: Settings) -> None:
    base = replace(settings, webhooks=WebhookSettings(public_url="", host="127.0.0.1", port=0))
    app = create_app(engine, base, auth_token=SIMULATOR_AUTH_TOKEN, ack_secret=b"s")
    with (
        WebhookServer(app, host="127.0.0.1", port=0) as server,
        ProviderSimulator(callback_delay_s=0.0) as sim,
    ):
        sim.script(CALL_TO, "answers:2")
        live = replace(
            base,
            webhooks=replace(base.webhooks, public_url=server.url),
            twilio=replace(base.twilio, base_url=sim.url),
        )
        channels = build_channels(live, only=[ChannelName.SMS, ChannelName.VOICE], env={})
        with session_scope(engine) as session:
            alert_id = create_alert(
                session,
                level=4,
                scope={},
                exercise=False,
                targets=[
                    PlannedTarget("R1", 1.0, True, True),
                    PlannedTarget("R2", 2.0, True, True),
                ],
                deliveries=[
                    resident_delivery("R1", ChannelName.SMS, SMS_TO, body=BODY),
                    resident_delivery("R2", ChannelName.VOICE, CALL_TO, body=BODY),
                ],
                actor="test",
            )
        run_worker(engine, channels, live, until_idle=True, poll_interval=0.01)
        assert sim.wait_for_callbacks(timeout=30)
        callbacks = sim.callbacks
    assert callbacks, "the simulator sent no callbacks"
    # every signed callback was accepted: 204 for status, 200 (TwiML) for the keypress
    assert sorted({c.status for c in callbacks}) == [200, 204]
    with session_scope(engine) as session:
        states = {
            r.channel: r.state
            for r in session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
        }
        answers = [
            (a.resident_id, a.answer, a.via) for a in session.scalars(select(Acknowledgement))
        ]
    assert states == {"sms": "delivered", "voice": "acknowledged"}
    assert answers == [("R2", "need_help", "voice")]


def test_server_binds_ephemeral_port_and_stops(engine: Engine, settings: Settings) -> None:
    app = create_app(engine, settings, auth_token="t", ack_secret=b"s")
    server = WebhookServer(app, host="127.0.0.1", port=0).start()
    try:
        assert server.bound_port > 0
        assert server.url == f"http://127.0.0.1:{server.bound_port}"
        # a configured public URL is kept: signatures are checked against it
        assert server.public_url == settings.webhooks.public_url
        resp = httpx.get(server.url + "/healthz", timeout=5)
        assert (resp.status_code, resp.json()) == (200, {"ok": True})
        unsigned = httpx.post(server.url + "/twilio/sms/status", data={"x": "1"}, timeout=5)
        assert unsigned.status_code == 403
        port = server.bound_port
    finally:
        server.stop()
    server.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)


def test_signed_post_over_the_wire(engine: Engine, settings: Settings) -> None:
    """Public URL empty: the server's own bound URL is what Twilio signs."""
    base = replace(settings, webhooks=WebhookSettings(public_url="", port=0))
    app = create_app(engine, base, auth_token="tok", ack_secret=b"s")
    with WebhookServer(app) as server:
        assert server.public_url == server.url
        url = server.url + "/twilio/sms/inbound"
        params = {"From": "+819099990009", "Body": "こんにちは", "MessageSid": "SM" + "0" * 32}
        sig = twilio_signature("tok", url, params)
        resp = httpx.post(url, data=params, headers={SIGNATURE_HEADER: sig}, timeout=5)
    assert resp.status_code == 200
    assert "<Message>" in resp.text


def test_port_in_use_raises_oserror(engine: Engine, settings: Settings) -> None:
    app = create_app(engine, settings, auth_token="t", ack_secret=b"s")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = WebhookServer(app, host="127.0.0.1", port=port)
        with pytest.raises(OSError):
            server.start()
        server.stop()
