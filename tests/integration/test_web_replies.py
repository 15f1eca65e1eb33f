"""Who an SMS reply marks (#7 item 1): the rows sent to the replying number for the most
recent live alert it received; a resident's own reply answers for that resident, a
supporter's reply is a supporter's answer about each person named, never the person's own.

SQLite and PostgreSQL; rows are created by ``create_alert`` and moved to 'sent' the way a
worker records it, so only the webhook's own matching is under test.
"""

from __future__ import annotations

import datetime as dt
import html
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import Engine, select

from alertsvc.channels.twilio_common import SIGNATURE_HEADER, twilio_signature
from alertsvc.config import Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, AlertTarget, Delivery
from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget, create_alert
from alertsvc.dispatch.cancel import cancel_alert
from alertsvc.dispatch.status import alert_status
from alertsvc.models import ChannelName
from alertsvc.planning.language import reply_text
from alertsvc.testing.fakes import resident_delivery

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from alertsvc.web.app import create_app

AUTH = "test-twilio-auth-token"
PUBLIC = "https://alerts.example.jp"
A_MOBILE = "+819011110001"  # resident A's own mobile, also the supporter phone of B
S_MOBILE = "+819044440004"  # a 民生委員 supporting C and D
LANDLINE = "+81949001111"


def supporter_delivery(resident: str, supporter_id: int, address: str) -> PlannedDelivery:
    return PlannedDelivery(
        resident_id=resident,
        recipient="supporter",
        supporter_id=supporter_id,
        step=0,
        channel=ChannelName.SMS,
        address=address,
        language="ja",
        title="",
        body=f"{resident}さんの避難を支援してください。",
        data=(),
        priority=1.0,
        legal_basis="consent",
    )


def send(engine: Engine, plan: Sequence[PlannedDelivery], at: dt.datetime) -> str:
    """Create an alert whose step-0 SMS rows went out at ``at``; later steps stay held."""
    residents = sorted({d.resident_id for d in plan})
    with session_scope(engine) as session:
        alert_id = create_alert(
            session, level=4, scope={}, exercise=False,
            targets=[PlannedTarget(r, 1.0, True, True) for r in residents],
            deliveries=list(plan), actor="test",
        )  # fmt: skip
        session.execute(
            Delivery.__table__.update()
            .where(Delivery.alert_id == alert_id, Delivery.state == "queued")
            .values(state="sent", sent_at=at)
        )
    return alert_id


@dataclass
class World:
    engine: Engine
    client: TestClient

    def reply(self, number: str, body: str) -> str:
        params = {"From": number, "Body": body, "MessageSid": f"SM{abs(hash((number, body)))}"}
        url = PUBLIC + "/twilio/sms/inbound"
        headers = {SIGNATURE_HEADER: twilio_signature(AUTH, url, params)}
        resp = self.client.post("/twilio/sms/inbound", data=params, headers=headers)
        assert resp.status_code == 200
        return str(resp.text)

    def answers(self, alert_id: str) -> dict[str, str | None]:
        with session_scope(self.engine) as session:
            return dict(
                session.execute(
                    select(AlertTarget.resident_id, AlertTarget.ack_answer).where(
                        AlertTarget.alert_id == alert_id
                    )
                ).all()
            )

    def logged(self, alert_id: str) -> set[tuple[str, str, str]]:
        with session_scope(self.engine) as session:
            return {
                (a.resident_id, a.answer, a.answered_by)
                for a in session.scalars(
                    select(Acknowledgement).where(Acknowledgement.alert_id == alert_id)
                )
            }

    def unreached(self, alert_id: str) -> set[str]:
        with session_scope(self.engine) as session:
            return {u.resident_id for u in alert_status(session, alert_id).unreached}

    def held_voice(self, alert_id: str) -> dict[str, str]:
        with session_scope(self.engine) as session:
            return dict(
                session.execute(
                    select(Delivery.resident_id, Delivery.state).where(
                        Delivery.alert_id == alert_id, Delivery.channel == "voice"
                    )
                ).all()
            )


@pytest.fixture
def world(engine: Engine, settings: Settings) -> Iterator[World]:
    settings = replace(settings, webhooks=WebhookSettings(public_url=PUBLIC, port=0))
    app = create_app(engine, settings, auth_token=AUTH, ack_secret=b"secret")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(engine, client)


def _cancel_text(channel: ChannelName, language: str) -> tuple[str, str]:
    return "", "取消し"


NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def _a_is_b_supporter(world: World) -> str:
    return send(
        world.engine,
        [
            resident_delivery("A", ChannelName.SMS, A_MOBILE),
            replace(resident_delivery("A", ChannelName.VOICE, LANDLINE), step=1),
            resident_delivery("B", ChannelName.SMS, "+819022220002"),
            replace(resident_delivery("B", ChannelName.VOICE, "+81949002222"), step=1),
            supporter_delivery("B", 7, A_MOBILE),
        ],
        NOW,
    )


def test_help_from_a_resident_who_is_also_a_supporter_marks_the_resident(world: World) -> None:
    aid = _a_is_b_supporter(world)
    world.reply(A_MOBILE, "2")
    # A's own answer: A needs help and is not called again
    assert world.answers(aid)["A"] == "need_help"
    assert world.held_voice(aid)["A"] == "skipped"
    # as B's supporter, A says B needs help too; B did not answer and is still followed up
    assert world.answers(aid)["B"] == "need_help"
    assert world.held_voice(aid)["B"] == "held"
    assert world.logged(aid) == {("A", "need_help", "resident"), ("B", "need_help", "supporter")}
    assert world.unreached(aid) == {"B"}


def test_safe_from_a_resident_who_is_also_a_supporter_confirms_only_the_resident(
    world: World,
) -> None:
    aid = _a_is_b_supporter(world)
    world.reply(A_MOBILE, "1")
    assert world.answers(aid) == {"A": "safe", "B": None}
    assert world.logged(aid) == {("A", "safe", "resident"), ("B", "safe", "supporter")}
    # B is not confirmed by a supporter's "safe": still on the follow-up list, still called
    assert world.unreached(aid) == {"B"}
    assert world.held_voice(aid) == {"A": "skipped", "B": "held"}


def _supporter_of_c_and_d(world: World) -> str:
    return send(
        world.engine,
        [
            resident_delivery("C", ChannelName.SMS, "+819055550005"),
            resident_delivery("D", ChannelName.SMS, "+819066660006"),
            supporter_delivery("C", 11, S_MOBILE),
            supporter_delivery("D", 12, S_MOBILE),
        ],
        NOW,
    )


def test_supporter_help_marks_every_person_named(world: World) -> None:
    aid = _supporter_of_c_and_d(world)
    world.reply(S_MOBILE, "助けて")
    assert world.answers(aid) == {"C": "need_help", "D": "need_help"}
    assert world.logged(aid) == {("C", "need_help", "supporter"), ("D", "need_help", "supporter")}
    with session_scope(world.engine) as session:
        needs = alert_status(session, aid).needs_help
    assert {(n["resident_id"], n["answered_by"]) for n in needs} == {
        ("C", "supporter"),
        ("D", "supporter"),
    }


def test_supporter_safe_is_recorded_as_theirs_and_confirms_nobody(world: World) -> None:
    aid = _supporter_of_c_and_d(world)
    world.reply(S_MOBILE, "1")
    assert world.answers(aid) == {"C": None, "D": None}
    assert world.logged(aid) == {("C", "safe", "supporter"), ("D", "safe", "supporter")}
    assert world.unreached(aid) == {"C", "D"}


def test_reply_binds_to_the_most_recent_live_alert(world: World) -> None:
    live = send(world.engine, [resident_delivery("A", ChannelName.SMS, A_MOBILE)], NOW)
    later = send(
        world.engine,
        [resident_delivery("A", ChannelName.SMS, A_MOBILE)],
        NOW + dt.timedelta(minutes=5),
    )
    with session_scope(world.engine) as session:
        cancel_alert(
            session, later, reason="誤報", actor="test", render=lambda c, lang: ("", "取消し")
        )
    world.reply(A_MOBILE, "1")
    assert world.answers(live) == {"A": "safe"}
    assert world.answers(later) == {"A": None}


def test_reply_to_a_number_whose_only_alert_was_cancelled_marks_nobody(world: World) -> None:
    aid = send(world.engine, [resident_delivery("A", ChannelName.SMS, A_MOBILE)], NOW)
    with session_scope(world.engine) as session:
        cancel_alert(
            session, aid, reason="誤報", actor="test", render=lambda c, lang: ("", "取消し")
        )
    world.reply(A_MOBILE, "2")
    assert world.logged(aid) == set()


# --------------------------------------------------------------------------- languages (item 12)


def _in(language: str, delivery: PlannedDelivery) -> PlannedDelivery:
    return replace(delivery, language=language)


@pytest.mark.parametrize(("language", "say"), [("zh", "cmn-CN"), ("pt", "pt-BR"), ("ko", "ko-KR")])
def test_keypress_confirmation_is_spoken_in_the_residents_language(
    world: World, language: str, say: str
) -> None:
    send(world.engine, [_in(language, resident_delivery("V", ChannelName.VOICE, LANDLINE))], NOW)
    with session_scope(world.engine) as session:
        key = session.scalars(select(Delivery.key).where(Delivery.resident_id == "V")).one()
    params = {"CallSid": "CA" + "1" * 32, "Digits": "2"}
    path = f"/twilio/voice/gather?key={key}"
    headers = {SIGNATURE_HEADER: twilio_signature(AUTH, PUBLIC + path, params)}
    resp = world.client.post(path, data=params, headers=headers)
    assert f'<Say language="{say}">' in resp.text  # no Japanese voice on another language
    assert reply_text("need_help", language, written=False) in resp.text
    # an unanswered prompt asks again and closes in the same language
    params = {"CallSid": "CA" + "1" * 32, "Digits": "9"}
    headers = {SIGNATURE_HEADER: twilio_signature(AUTH, PUBLIC + path, params)}
    resp = world.client.post(path, data=params, headers=headers)
    assert reply_text("ask_again", language, written=False) in resp.text
    assert reply_text("closing", language, written=False) in resp.text


@pytest.mark.parametrize("language", ["vi", "tl", "ja-easy"])
def test_sms_reply_confirmation_is_written_in_the_residents_language(
    world: World, language: str
) -> None:
    send(world.engine, [_in(language, resident_delivery("W", ChannelName.SMS, A_MOBILE))], NOW)
    text = world.reply(A_MOBILE, "1")
    assert html.escape(reply_text("safe", language, written=True), quote=False) in text
    if not language.startswith("ja"):
        assert reply_text("safe", "ja", written=False) in text  # Japanese beside it
    text = world.reply(A_MOBILE, "what?")
    assert html.escape(reply_text("sms_instructions", language, written=True), quote=False) in text
