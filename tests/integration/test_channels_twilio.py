"""Twilio SMS and voice adapters (real twilio client) against the provider simulator.

A small stdlib webhook receiver stands in for our webhook app: it records every
callback and checks its X-Twilio-Signature with twilio's own RequestValidator.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlparse

import pytest
from twilio.request_validator import RequestValidator

from alertsvc.channels import build_channels
from alertsvc.channels.twilio_sms import TwilioSms
from alertsvc.channels.twilio_voice import TwilioVoice
from alertsvc.config import Settings
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, Outcome, OutgoingMessage
from alertsvc.testing.simulator import ProviderSimulator

TOKEN = "test-auth-token-0123"
REFERENCE = (
    Path(__file__).parents[1] / "data" / "providers" / "twilio_status_callback_reference.json"
)


class Webhook:
    """Records callbacks; answers 204 like our webhook app does."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                url = f"http://127.0.0.1:{hook.port}{self.path}"
                params = dict(parse_qsl(body, keep_blank_values=True))
                sig = self.headers.get("X-Twilio-Signature", "")
                hook.received.append(
                    {
                        "path": urlparse(self.path).path,
                        "key": parse_qs(urlparse(self.path).query).get("key", [""])[0],
                        "params": params,
                        "valid": RequestValidator(TOKEN).validate(url, params, sig),
                    }
                )
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def sim() -> Iterator[ProviderSimulator]:
    with ProviderSimulator(auth_token=TOKEN, callback_delay_s=0.0) as s:
        yield s


def settings_for(base_url: str, public_url: str, **twilio: Any) -> Settings:
    s = Settings()
    return dataclasses.replace(
        s,
        twilio=dataclasses.replace(s.twilio, base_url=base_url, **twilio),
        fcm=dataclasses.replace(s.fcm, base_url=base_url),
        webhooks=dataclasses.replace(s.webhooks, public_url=public_url),
    )


ENV = {"ALERTSVC_TWILIO_TOKEN": TOKEN}


def sms(sim: ProviderSimulator, webhook: Webhook, timeout: float = 5.0, **tw: Any) -> TwilioSms:
    return TwilioSms.from_settings(
        settings_for(sim.url, webhook.url, **tw), timeout=timeout, env=ENV
    )


def voice(sim: ProviderSimulator, webhook: Webhook) -> TwilioVoice:
    return TwilioVoice.from_settings(settings_for(sim.url, webhook.url), env=ENV)


def msg(key: str, to: str, channel: ChannelName = ChannelName.SMS) -> OutgoingMessage:
    return OutgoingMessage(key, channel, to, "【警戒レベル3】高齢者等避難。直方市役所")


# behaviour scripted at the simulator -> (outcome at create, Twilio code in the detail)
SMS_TABLE: list[tuple[str | None, Outcome, str]] = [
    (None, Outcome.DELIVERED, ""),
    ("opted_out", Outcome.REJECTED, "21610"),
    ("landline", Outcome.REJECTED, "21614"),
    ("invalid", Outcome.REJECTED, "21211"),
    ("unreachable", Outcome.DELIVERED, ""),  # accepted; the callback says undelivered
    ("fail_first:1", Outcome.DEFERRED, "503"),
]


@pytest.mark.parametrize(("behaviour", "outcome", "code"), SMS_TABLE)
def test_sms_outcome_table(
    sim: ProviderSimulator, webhook: Webhook, behaviour: str | None, outcome: Outcome, code: str
) -> None:
    number = "+819012340001"
    sim.script(number, behaviour)
    [result] = sms(sim, webhook).send_many([msg("k-1", number)])
    assert result.outcome is outcome
    assert result.channel == ChannelName.SMS
    assert code in result.detail
    assert number not in result.detail  # masked
    if outcome is Outcome.DELIVERED:
        assert result.provider_ref is not None and result.provider_ref.startswith("SM")
        assert len(result.provider_ref) == 34
    else:
        assert result.provider_ref is None


def test_sms_request_carries_callback_validity_and_sender(
    sim: ProviderSimulator, webhook: Webhook
) -> None:
    [result] = sms(sim, webhook).send_many([msg("alert-7/res-3/sms", "+819012340002")])
    [req] = sim.requests
    assert req.body["To"] == "+819012340002"
    assert req.body["From"] == "+815000000000"
    assert req.body["ValidityPeriod"] == "3600"
    assert (
        req.body["StatusCallback"] == f"{webhook.url}/twilio/sms/status?key=alert-7%2Fres-3%2Fsms"
    )
    assert req.sid == result.provider_ref


def test_sms_with_messaging_service(sim: ProviderSimulator, webhook: Webhook) -> None:
    channel = sms(sim, webhook, messaging_service_sid="MG" + "1" * 32)
    [result] = channel.send_many([msg("k", "+819012340003")])
    assert result.outcome is Outcome.DELIVERED
    [req] = sim.requests
    assert req.body["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in req.body


def test_sms_fail_first_then_succeeds(sim: ProviderSimulator, webhook: Webhook) -> None:
    sim.script("+819012340004", "fail_first:2")
    channel = sms(sim, webhook)
    outcomes = [channel.send(msg("k", "+819012340004")).outcome for _ in range(3)]
    assert outcomes == [Outcome.DEFERRED, Outcome.DEFERRED, Outcome.DELIVERED]


def test_sms_callbacks_are_signed_and_named_as_documented(
    sim: ProviderSimulator, webhook: Webhook
) -> None:
    sim.script("+819012340006", "unreachable")
    sms(sim, webhook).send_many([msg("ok-1", "+819012340005"), msg("off-1", "+819012340006")])
    assert sim.wait_for_callbacks(10)
    documented = json.loads(REFERENCE.read_text(encoding="utf-8"))["sms_status_callback"]
    names = {p.split(" ")[0] for p in documented["params"]}
    statuses = set(documented["message_status_enum_from_oai"])
    assert webhook.received and all(r["valid"] for r in webhook.received)
    by_key: dict[str, list[str]] = {}
    for r in webhook.received:
        assert r["path"] == "/twilio/sms/status"
        assert set(r["params"]) <= names
        assert r["params"]["MessageStatus"] in statuses
        by_key.setdefault(r["key"], []).append(r["params"]["MessageStatus"])
    assert by_key == {"ok-1": ["sent", "delivered"], "off-1": ["sent", "undelivered"]}
    [undelivered] = [r for r in webhook.received if r["params"]["MessageStatus"] == "undelivered"]
    assert undelivered["params"]["ErrorCode"] == "30003"


def test_429_with_retry_after_is_deferred(sim: ProviderSimulator, webhook: Webhook) -> None:
    sim.set_faults("twilio-sms", error_rate=1.0, error_statuses=(429,), retry_after_seconds=17)
    [result] = sms(sim, webhook).send_many([msg("k", "+819012340007")])
    assert result.outcome is Outcome.DEFERRED
    assert result.retry_after == 17.0


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_deferred(sim: ProviderSimulator, webhook: Webhook, status: int) -> None:
    sim.set_faults("twilio-sms", error_rate=1.0, error_statuses=(status,))
    [result] = sms(sim, webhook).send_many([msg("k", "+819012340008")])
    assert result.outcome is Outcome.DEFERRED
    assert result.retry_after is None


def test_read_timeout_is_unknown(sim: ProviderSimulator, webhook: Webhook) -> None:
    sim.set_faults("twilio-sms", timeout_rate=1.0, timeout_seconds=5.0)
    [result] = sms(sim, webhook, timeout=0.3).send_many([msg("k", "+819012340009")])
    assert result.outcome is Outcome.UNKNOWN
    # the simulator processed it: exactly the "may have gone out" case
    [req] = sim.requests
    assert req.status == 201 and req.fault == "timeout"


def test_connection_refused_is_deferred(webhook: Webhook) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = TwilioSms.from_settings(
        settings_for(f"http://127.0.0.1:{port}", webhook.url), timeout=2.0, env=ENV
    )
    [result] = channel.send_many([msg("k", "+819012340010")])
    assert result.outcome is Outcome.DEFERRED
    assert "refused" in result.detail


def test_wrong_auth_token_raises_misconfigured(sim: ProviderSimulator, webhook: Webhook) -> None:
    channel = TwilioSms.from_settings(
        settings_for(sim.url, webhook.url), env={"ALERTSVC_TWILIO_TOKEN": "wrong"}
    )
    with pytest.raises(ChannelMisconfigured, match="20003"):
        channel.send_many([msg("k", "+819012340011")])


def test_no_token_outside_the_simulator_is_misconfigured(webhook: Webhook) -> None:
    with pytest.raises(ChannelMisconfigured, match="ALERTSVC_TWILIO_TOKEN"):
        TwilioSms.from_settings(settings_for("https://api.twilio.com", webhook.url), env={})


# --------------------------------------------------------------------------- voice

VOICE_TABLE: list[tuple[str | None, Outcome, list[str], str | None]] = [
    # behaviour -> outcome at create, CallStatus sequence in callbacks, digits pressed
    (None, Outcome.DELIVERED, ["initiated", "ringing", "in-progress", "completed"], None),
    ("answers:1", Outcome.DELIVERED, ["initiated", "ringing", "in-progress", "completed"], "1"),
    ("answers:2", Outcome.DELIVERED, ["initiated", "ringing", "in-progress", "completed"], "2"),
    ("busy", Outcome.DELIVERED, ["initiated", "ringing", "busy"], None),
    ("unreachable", Outcome.DELIVERED, ["initiated", "ringing", "no-answer"], None),
    ("invalid", Outcome.REJECTED, [], None),
]


@pytest.mark.parametrize(("behaviour", "outcome", "statuses", "digits"), VOICE_TABLE)
def test_voice_outcome_table(
    sim: ProviderSimulator,
    webhook: Webhook,
    behaviour: str | None,
    outcome: Outcome,
    statuses: list[str],
    digits: str | None,
) -> None:
    number = "+819012340020"
    sim.script(number, behaviour)
    [result] = voice(sim, webhook).send_many([msg("call-1", number, ChannelName.VOICE)])
    assert result.outcome is outcome
    assert sim.wait_for_callbacks(10)
    assert all(r["valid"] for r in webhook.received)
    status_calls = [r for r in webhook.received if r["path"] == "/twilio/voice/status"]
    assert [r["params"]["CallStatus"] for r in status_calls] == statuses
    assert all(r["key"] == "call-1" for r in webhook.received)
    if status_calls:
        assert {r["params"]["CallSid"] for r in status_calls} == {result.provider_ref}
    gathers = [r for r in webhook.received if r["path"] == "/twilio/voice/gather"]
    assert [g["params"]["Digits"] for g in gathers] == ([digits] if digits else [])


def test_voice_request_has_twiml_and_all_status_events(
    sim: ProviderSimulator, webhook: Webhook
) -> None:
    channel = voice(sim, webhook)
    message = msg("call-2", "+819012340021", ChannelName.VOICE)
    channel.send_many([message])
    [req] = sim.requests
    assert req.provider == "twilio-voice"
    assert req.body["Twiml"] == channel.twiml(message)
    assert (
        '<Gather action="' + webhook.url + '/twilio/voice/gather?key=call-2"' in req.body["Twiml"]
    )
    assert req.body["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert req.body["StatusCallback"] == f"{webhook.url}/twilio/voice/status?key=call-2"


def test_build_channels_builds_every_channel(sim: ProviderSimulator, webhook: Webhook) -> None:
    channels = build_channels(settings_for(sim.url, webhook.url), env=ENV)
    try:
        assert set(channels) == set(ChannelName)
        assert all(c.name == n for n, c in channels.items())
        assert channels[ChannelName.PUSH].max_batch == 500
    finally:
        close = getattr(channels[ChannelName.PUSH], "close", None)
        if close is not None:
            close()


def test_resident_sms_carries_the_signed_page_link(
    sim: ProviderSimulator, webhook: Webhook
) -> None:
    from alertsvc.acks import SIMULATOR_ACK_SECRET
    from alertsvc.web.pages import page_link

    data = (("key", "A1:1"), ("action", "evacuate"), ("resident_id", "R1"))
    own = OutgoingMessage("A1:1", ChannelName.SMS, "+819012340021", "避難してください。", data=data)
    cancel = OutgoingMessage("A2:1", ChannelName.SMS, "+819012340022", "取消し",
                             data=(("cancels", "A1"),))  # fmt: skip
    sms(sim, webhook).send_many([own, cancel])
    bodies = {r.body["To"]: r.body["Body"] for r in sim.requests}
    assert bodies["+819012340021"] == "避難してください。\n" + page_link(
        webhook.url, SIMULATOR_ACK_SECRET, "A1:1"
    )
    assert bodies["+819012340022"] == "取消し"
