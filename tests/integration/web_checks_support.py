"""The world the web check tests share (``test_web_checks.py``, ``test_web_checks_pages.py``):
one alert to four residents on five channels and a supporter digest, and the app over it."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, select

from alertsvc.acks import ack_token
from alertsvc.channels.twilio_common import SIGNATURE_HEADER, twilio_signature
from alertsvc.config import DutyContact, DutySettings, Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, Delivery, Resident
from alertsvc.dispatch.alerts import PlannedDelivery
from alertsvc.models import ChannelName
from alertsvc.testing.fakes import resident_delivery
from alertsvc.testing.reach_simulator import line_signature
from tests.integration.test_web_app import send_alert

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from alertsvc.web.app import create_app

AUTH = "test-twilio-auth-token"
SECRET = b"test-ack-secret"
LINE_SECRET = "line-secret"
PUBLIC = "https://alerts.example.jp"
PHONE_1 = "+819011110001"
PHONE_2 = "+819022220002"
PHONE_S = "+819055550005"  # a supporter looking after R1 and R2
FAX_3 = "+81949330003"
USER_4 = "U" + "4" * 32
PUSH_1 = "fcm-token-resident-1-aaaaaaaaaaaaaaaa"
DESK = "+815011112222"
FORGED = "+819087654321"  # a phone number an attacker tries to plant in the log


@dataclass
class World:
    engine: Engine
    settings: Settings
    client: TestClient
    keys: dict[str, str]  # "R1/sms", "digest", ... -> key

    def post_signed(self, path: str, params: dict[str, str] | list[tuple[str, str]]) -> Any:
        headers = {
            SIGNATURE_HEADER: twilio_signature(AUTH, PUBLIC + path, params),
            "content-type": "application/x-www-form-urlencoded",
        }
        return self.client.post(path, content=urlencode(params), headers=headers)

    def gather(self, key: str, params: dict[str, str], **query: str) -> Any:
        return self.post_signed(f"/twilio/voice/gather?{urlencode({'key': key, **query})}", params)

    def line(self, events: list[Any] | Any, *, raw: bytes | None = None) -> Any:
        body = raw if raw is not None else json.dumps({"events": events}).encode()
        sig = line_signature(LINE_SECRET, body)
        return self.client.post("/line/webhook", content=body, headers={"X-Line-Signature": sig})

    def fax(self, key: str, doc: Any, *, sig: str | None = None) -> Any:
        query = urlencode({"key": key, "sig": ack_token(SECRET, key) if sig is None else sig})
        return self.client.post(f"/fax/status?{query}", json=doc)

    def acks(self) -> list[tuple[str, str, str]]:
        with session_scope(self.engine) as s:
            return [
                (a.resident_id, a.answer, a.via)
                for a in s.scalars(select(Acknowledgement).order_by(Acknowledgement.id))
            ]

    def row(self, key: str) -> Delivery:
        with session_scope(self.engine) as s:
            found = s.scalars(select(Delivery).where(Delivery.key == key)).one()
            s.expunge(found)
            return found

    def duty(self) -> list[str]:
        with session_scope(self.engine) as s:
            return list(s.scalars(select(Delivery.resident_id).where(Delivery.recipient == "duty")))


def digest_plan(phone: str, people: list[str]) -> PlannedDelivery:
    return PlannedDelivery(
        resident_id="", recipient="supporter", supporter_id=None, step=0,
        channel=ChannelName.SMS, address=phone, language="ja", title="",
        body="避難支援のお願い", data=(("kind", "supporter_digest"),), priority=1.0,
        legal_basis="per_person",
        disclosures=tuple((rid, n + 1, "consent", "evacuate") for n, rid in enumerate(people)),
    )  # fmt: skip


@contextmanager
def open_world(engine: Engine, settings: Settings) -> Iterator[World]:
    """R1 (SMS with a page, push), R2 (voice), R3 (FAX), R4 (LINE) and one supporter digest
    naming R1 and R2, all sent by the real worker; the app with a LINE secret."""
    settings = replace(
        settings,
        webhooks=WebhookSettings(public_url=PUBLIC, port=0),
        duty=DutySettings(contacts=(DutyContact("当番", DESK, "sms"),)),
    )
    with session_scope(engine) as s:
        for rid in ("R1", "R2", "R3", "R4"):
            s.add(Resident(id=rid, name=f"氏名{rid}", address="福岡県直方市古町1番"))
    r1 = replace(resident_delivery("R1", ChannelName.SMS, PHONE_1), data=(("action", "evacuate"),))
    by_address = send_alert(
        engine,
        settings,
        [
            r1,
            resident_delivery("R1", ChannelName.PUSH, PUSH_1),
            resident_delivery("R2", ChannelName.VOICE, PHONE_2),
            resident_delivery("R3", ChannelName.FAX, FAX_3),
            resident_delivery("R4", ChannelName.LINE, USER_4),
            digest_plan(PHONE_S, ["R1", "R2"]),
        ],
    )
    keys = {("digest" if k.startswith("/") else k): v for k, v in by_address.items()}
    app = create_app(
        engine, settings, auth_token=AUTH, ack_secret=SECRET, line_channel_secret=LINE_SECRET
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(engine, settings, client, keys)


def asgi_post(
    app: Any, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, int]:
    """POST ``chunks`` straight through ASGI; (status, chunks the app asked for)."""
    asked = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if asked > len(chunks):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunks[asked - 1], "more_body": asked < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    path_only, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "https", "path": path_only, "raw_path": path_only.encode(),
        "query_string": query.encode(), "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("alerts.example.jp", 443), "root_path": "",
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return status, asked
