"""The resident page over the webhook app (SQLite and PostgreSQL): signed links, answers
without JavaScript, expiry, misuse, and the duty desk on "need help"."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine, func, select, update

from alertsvc.config import DutyContact, DutySettings, Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, Alert, AlertTarget, Delivery, Resident, Shelter
from alertsvc.dispatch import cancel_alert
from alertsvc.models import ChannelName
from alertsvc.testing.fakes import resident_delivery
from alertsvc.web.pages import page_link, page_token
from tests.integration.test_web_app import AUTH, PUBLIC, SECRET, send_alert

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from alertsvc.web.app import create_app

PHONE_1 = "+819011110001"
PHONE_2 = "+819022220002"


@pytest.fixture
def page_settings(settings: Settings) -> Settings:
    return replace(
        settings,
        webhooks=WebhookSettings(public_url=PUBLIC, port=0),
        duty=DutySettings(contacts=(DutyContact("当番", "+815011112222", "sms"),)),
    )


@pytest.fixture
def keys(engine: Engine, page_settings: Settings) -> dict[str, str]:
    with session_scope(engine) as s:
        s.add(Shelter(id="S1", name="植木小学校", address="福岡県直方市植木100", lat=33.760,
                      lon=130.714))  # fmt: skip
        s.add(Resident(id="R1", name="中村 二郎", address="福岡県直方市植木19番12号",
                       lat=33.755886, lon=130.713935, needs=["寝たきり"],
                       language="en"))  # fmt: skip
        s.add(Resident(id="R2", name="白石 チヨ", address="福岡県直方市古町7番1号"))
    r1 = resident_delivery("R1", ChannelName.SMS, PHONE_1)
    r1 = replace(r1, language="en", data=(("action", "evacuate"), ("shelter_id", "S1")))
    return send_alert(
        engine, page_settings, [r1, resident_delivery("R2", ChannelName.SMS, PHONE_2)]
    )


@pytest.fixture
def client(engine: Engine, page_settings: Settings) -> Iterator[TestClient]:
    app = create_app(engine, page_settings, auth_token=AUTH, ack_secret=SECRET)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _path(key: str, token: str | None = None) -> str:
    return f"/r/{key}/{token or page_token(SECRET, key)}"


def _acks(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as s:
        return [
            (a.resident_id, a.answer, a.via)
            for a in s.scalars(select(Acknowledgement).order_by(Acknowledgement.id))
        ]


def test_page_shows_the_alert_in_the_persons_language_with_japanese(
    keys: dict[str, str], client: TestClient
) -> None:
    res = client.get(_path(keys["R1/sms"]))
    assert res.status_code == 200
    html = res.text
    assert '<html lang="en">' in html and 'lang="ja"' in html
    assert "I have evacuated / I am safe" in html and "避難しました・無事です" in html
    assert "I need help" in html and "助けが必要です" in html
    assert "植木小学校" in html and "福岡県直方市植木100" in html
    assert "min on foot" in html and "徒歩約" in html
    assert '<form method="post"' in html and "<script" not in html
    # nothing beyond the SMS: not the name, not the address, not the support reason
    for private in ("中村", "植木19番12号", "寝たきり", PHONE_1):
        assert private not in html


def test_form_post_records_a_web_answer_without_javascript(
    engine: Engine, keys: dict[str, str], client: TestClient
) -> None:
    res = client.post(_path(keys["R1/sms"]), data={"answer": "safe"})
    assert res.status_code == 200 and "Thank you" in res.text
    assert _acks(engine) == [("R1", "safe", "web")]
    with session_scope(engine) as s:
        target = s.scalars(select(AlertTarget).where(AlertTarget.resident_id == "R1")).one()
        assert target.acknowledged_at is not None and target.ack_answer == "safe"


def test_need_help_on_the_page_reaches_the_duty_desk(
    engine: Engine, keys: dict[str, str], client: TestClient
) -> None:
    res = client.post(_path(keys["R2/sms"]), data={"answer": "need_help"})
    assert res.status_code == 200
    assert _acks(engine) == [("R2", "need_help", "web")]
    with session_scope(engine) as s:
        duty = s.scalars(select(Delivery).where(Delivery.recipient == "duty")).all()
        assert [(d.resident_id, d.state) for d in duty] == [("R2", "queued")]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_tampered_link_is_403_and_records_nothing(
    engine: Engine, keys: dict[str, str], client: TestClient, method: str
) -> None:
    key = keys["R1/sms"]
    good = page_token(SECRET, key)
    bad = ("A" if good[0] != "A" else "B") + good[1:]
    for path in (_path(key, bad), _path(key, good[:-1]), f"/r/{key}x/{good}"):
        res = client.request(method, path, data={"answer": "need_help"})
        assert res.status_code == 403, path
    assert _acks(engine) == []


def test_link_for_one_person_cannot_answer_for_another(
    engine: Engine, keys: dict[str, str], client: TestClient
) -> None:
    # R1's token on R2's key, and the app's ack token in place of the page token
    from alertsvc.acks import ack_token

    res = client.post(_path(keys["R2/sms"], page_token(SECRET, keys["R1/sms"])),
                      data={"answer": "safe"})  # fmt: skip
    assert res.status_code == 403
    res = client.post(f"/r/{keys['R2/sms']}/{ack_token(SECRET, keys['R2/sms'])[:16]}",
                      data={"answer": "safe"})  # fmt: skip
    assert res.status_code == 403
    assert _acks(engine) == []


def test_expired_link_is_refused(
    engine: Engine, keys: dict[str, str], client: TestClient, page_settings: Settings
) -> None:
    key = keys["R1/sms"]
    old = dt.datetime.now(dt.UTC) - dt.timedelta(
        seconds=page_settings.webhooks.ack_valid_seconds + 60
    )
    with session_scope(engine) as s:
        s.execute(update(Alert).values(created_at=old))
    assert client.get(_path(key)).status_code == 410
    assert client.post(_path(key), data={"answer": "safe"}).status_code == 410
    assert _acks(engine) == []


def test_cancelled_alert_still_takes_need_help(
    engine: Engine, keys: dict[str, str], client: TestClient
) -> None:
    key = keys["R2/sms"]
    with session_scope(engine) as s:
        cancel_alert(s, key.split(":")[0], reason="誤報", actor="t",
                     render=lambda _c, _l: ("取消", "取消"))  # fmt: skip
    res = client.get(_path(key))
    assert res.status_code == 200 and "取り消されました" in res.text
    assert client.post(_path(key), data={"answer": "need_help"}).status_code == 200
    assert _acks(engine) == [("R2", "need_help", "web")]
    with session_scope(engine) as s:
        n = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.recipient == "duty"))
        assert n == 1


def test_bad_answer_and_unknown_key(
    engine: Engine, keys: dict[str, str], client: TestClient
) -> None:
    assert client.post(_path(keys["R1/sms"]), data={"answer": "maybe"}).status_code == 422
    assert client.get(_path("A20260101000000beef:1")).status_code == 404
    assert _acks(engine) == []


def test_page_link_shape() -> None:
    link = page_link("https://a.example.jp/", SECRET, "A20261130230757abcd:12")
    assert link == "https://a.example.jp/r/A20261130230757abcd:12/" + page_token(
        SECRET, "A20261130230757abcd:12"
    )
    assert len(page_token(SECRET, "k")) == 16


def test_an_update_notice_is_answerable_on_the_page_a_correction_is_not(
    engine: Engine, keys: dict[str, str], client: TestClient
) -> None:
    """The update's message (the new level, with the page link) asks for an answer like
    the alert did; a 訂正 asks nothing. Regression: the page refused every notice row."""
    from alertsvc.db.tables import Delivery as D
    from alertsvc.dispatch.alerts import PlannedTarget, create_alert

    with session_scope(engine) as s:
        root = s.scalars(select(D.alert_id).where(D.key == keys["R1/sms"])).one()
        r1 = replace(resident_delivery("R1", ChannelName.SMS, PHONE_1), language="en",
                     data=(("action", "evacuate"), ("shelter_id", "S1")))  # fmt: skip
        ids = {}
        for kind in ("update", "correction"):
            ids[kind] = create_alert(
                s, level=4, scope={}, exercise=False,
                targets=[PlannedTarget("R1", 1.0, located=True, reachable=True)],
                deliveries=[r1], actor="t", kind=kind, parent_id=root,
            )  # fmt: skip
    with session_scope(engine) as s:
        key = {k: s.scalars(select(D.key).where(D.alert_id == v)).one() for k, v in ids.items()}
    assert client.get(_path(key["correction"])).status_code == 404
    assert client.post(_path(key["correction"]), data={"answer": "safe"}).status_code == 404
    assert client.get(_path(key["update"])).status_code == 200
    res = client.post(_path(key["update"]), data={"answer": "need_help"})
    assert res.status_code == 200
    assert _acks(engine) == [("R1", "need_help", "web")]
