"""Scripted residents answer like real ones, through the app `alertsvc serve` runs.

Worker -> real Twilio adapters -> loopback simulator -> the scripted actor replies by SMS
(form-encoded, signed), presses a key at the <Gather>, or follows the page link in the
SMS and submits its form -> WebhookServer.from_settings (uvicorn thread) -> answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import Engine, select

from alertsvc.channels import build_channels
from alertsvc.config import Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, Delivery
from alertsvc.dispatch.alerts import PlannedTarget, create_alert
from alertsvc.dispatch.runner import run_worker
from alertsvc.models import ChannelName
from alertsvc.testing.fakes import resident_delivery
from alertsvc.testing.sim_actors import click_page, key_of, parse_forms, post_form
from alertsvc.testing.simulator import Actor, ActorRecord, ProviderSimulator
from alertsvc.web.server import WebhookServer

BODY = "避難指示が出ました。すぐに避難してください。"
PHONES = {
    "R1": "+819011110001",  # replies "2" by SMS
    "R2": "+819022220002",  # presses 1 (voice)
    "R3": "+819033330003",  # clicks 「避難しました・無事です」 on the page
    "R4": "+819044440004",  # unreachable
    "R5": "+819055550005",  # never answers
    "R6": "+819066660006",  # clicks 「助けが必要です」 after a delay
}
ACTORS = {
    PHONES["R1"]: Actor("sms", "2"),
    PHONES["R2"]: Actor("keypress", "1"),
    PHONES["R3"]: Actor("page", "safe"),
    PHONES["R4"]: Actor("unreachable"),
    PHONES["R5"]: Actor("never"),
    PHONES["R6"]: Actor("page", "need_help", delay_s=0.3),
}


def _run(
    engine: Engine, settings: Settings, actors: dict[str, Actor], *, app_token: str = ""
) -> tuple[str, list[ActorRecord], str]:
    """Send one alert to R1..R6 through the simulator; (alert id, actions, webhook url)."""
    base = replace(settings, webhooks=WebhookSettings(public_url="", host="127.0.0.1", port=0))
    # the app `alertsvc serve` runs (loopback: the built-in secrets are accepted)
    app_env = {base.twilio.auth_token_env: app_token} if app_token else {}
    server = WebhookServer.from_settings(engine, base, port=0, env=app_env)
    with server:
        sim = ProviderSimulator(callback_delay_s=0.0, script=actors, callback_url=server.url)
        with sim:
            live = replace(
                base,
                webhooks=replace(base.webhooks, public_url=server.url),
                twilio=replace(base.twilio, base_url=sim.url),
            )
            channels = build_channels(live, only=[ChannelName.SMS, ChannelName.VOICE], env={})
            plan = []
            for rid, phone in PHONES.items():
                channel = ChannelName.VOICE if rid == "R2" else ChannelName.SMS
                d = resident_delivery(rid, channel, phone, body=BODY)
                plan.append(replace(d, data=(("action", "evacuate"),)))
            with session_scope(engine) as session:
                alert_id = create_alert(
                    session,
                    level=4,
                    scope={},
                    exercise=False,
                    targets=[PlannedTarget(r, 1.0, True, True) for r in PHONES],
                    deliveries=plan,
                    actor="test",
                )
            run_worker(engine, channels, live, until_idle=True, poll_interval=0.01)
            assert sim.wait_for_callbacks(timeout=30)
            return alert_id, sim.actions, server.url


def _answers(engine: Engine) -> dict[str, tuple[str, str]]:
    with session_scope(engine) as s:
        return {a.resident_id: (a.answer, a.via) for a in s.scalars(select(Acknowledgement))}


def test_scripted_residents_answer_through_the_served_app(
    engine: Engine, settings: Settings
) -> None:
    alert_id, actions, _url = _run(engine, settings, ACTORS)
    by_address = {a.address: a for a in actions}
    # every actor that got its message did what it was scripted to do, and was accepted
    assert set(by_address) == {PHONES[r] for r in ("R1", "R2", "R3", "R6")}
    assert all(a.accepted for a in actions), actions
    assert by_address[PHONES["R1"]].via == "sms"
    assert by_address[PHONES["R1"]].path == "/twilio/sms/inbound"
    assert by_address[PHONES["R2"]].via == "keypress"
    assert by_address[PHONES["R3"]].path.startswith("/r/")
    # each action names the delivery it answered
    assert all(a.in_reply_to.startswith(f"{alert_id}:") for a in actions)
    assert _answers(engine) == {
        "R1": ("need_help", "sms"),
        "R2": ("safe", "voice"),
        "R3": ("safe", "web"),
        "R6": ("need_help", "web"),
    }
    with session_scope(engine) as s:
        states = {r.resident_id: r.state for r in s.scalars(select(Delivery))}
    assert states["R4"] == "failed"  # undelivered (30003)
    assert states["R5"] == "delivered"  # delivered, never answered


def test_actor_posts_signed_with_another_token_are_refused(
    engine: Engine, settings: Settings
) -> None:
    # the app checks X-Twilio-Signature with its own token: a simulator signing with
    # another one gets 403 for the SMS reply and the keypress, and nothing is recorded
    actors = {PHONES["R1"]: Actor("sms", "2"), PHONES["R2"]: Actor("keypress", "1")}
    _alert, actions, _url = _run(engine, settings, actors, app_token="the-apps-own-token")
    assert sorted((a.via, a.status) for a in actions) == [("keypress", 403), ("sms", 403)]
    assert not any(a.accepted for a in actions)
    assert _answers(engine) == {}


def test_unsigned_inbound_sms_is_refused(engine: Engine, settings: Settings) -> None:
    base = replace(settings, webhooks=WebhookSettings(public_url="", host="127.0.0.1", port=0))
    with WebhookServer.from_settings(engine, base, port=0, env={}) as server:
        fields = [("MessageSid", "SM" + "0" * 32), ("From", PHONES["R1"]), ("Body", "2")]
        status, _text, _err = post_form(f"{server.url}/twilio/sms/inbound", fields)
    assert status == 403


# ------------------------------------------------------------------ the page-click, alone

SUPPORTER_PAGE = """<!DOCTYPE html><html lang="ja"><body>
<h1>支援者ページ</h1>
{forms}
<form method="get" action="/elsewhere"><button name="answer" value="safe">x</button></form>
</body></html>"""
PERSON_FORM = """<form method="post">
  <input type="hidden" name="person" value="{person}">
  <button type="submit" name="answer" value="safe">無事を確認</button>
  <button type="submit" name="answer" value="cannot_reach">連絡がとれない</button>
  <button type="submit" name="answer" value="helping">支援中</button>
</form>"""


@pytest.fixture
def supporter_page() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """A page in the supporter page's shape (one form per person); records its POSTs."""
    posts: list[tuple[str, dict[str, str]]] = []
    html = SUPPORTER_PAGE.format(
        forms="\n".join(PERSON_FORM.format(person=p) for p in ("NG00001", "NG00002"))
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            posts.append((self.path, dict(parse_qsl(raw.decode()))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/s/A1:7/tok", posts
    finally:
        server.shutdown()
        server.server_close()


def test_page_click_picks_the_form_of_the_person_and_the_button(
    supporter_page: tuple[str, list[tuple[str, dict[str, str]]]],
) -> None:
    url, posts = supporter_page
    status, outcome, path, _detail = click_page(url, "cannot_reach", person="NG00002")
    assert (status, outcome, path) == (200, "posted", "/s/A1:7/tok")
    assert posts == [("/s/A1:7/tok", {"person": "NG00002", "answer": "cannot_reach"})]
    # no form for an unknown person or answer: nothing is posted, and it says why
    assert click_page(url, "cannot_reach", person="NG09999")[1] == "no_form"
    assert click_page(url, "maybe", person="NG00001")[1] == "no_form"
    assert len(posts) == 1
    assert key_of(url) == "A1:7"


def test_page_click_never_leaves_loopback() -> None:
    assert click_page("https://example.jp/r/A1:1/tok", "safe")[1] == "error"
    assert post_form("https://example.jp/twilio/sms/inbound", [("a", "b")])[0] == 0


def test_parse_forms_reads_the_resident_page_shape() -> None:
    html = (
        '<form method="post" action="/r/K/T"><button class="safe" type="submit" name="answer" '
        'value="safe">無事</button><button type="submit" name="answer" value="need_help">'
        "助けて</button></form>"
    )
    (form,) = parse_forms(html)
    assert (form.action, form.method) == ("/r/K/T", "post")
    assert form.buttons == [("answer", "safe"), ("answer", "need_help")]
