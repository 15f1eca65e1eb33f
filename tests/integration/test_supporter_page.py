"""The supporter page over the webhook app (SQLite and PostgreSQL): a signed link per
supporter digest, one form per person, answers recorded as the supporter's, misuse
refused with nothing recorded, "cannot reach" first on the follow-up list and at the
duty desk."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from alertsvc.config import (
    DatabaseSettings,
    DutyContact,
    DutySettings,
    Settings,
    WebhookSettings,
)
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, AlertTarget, Delivery, utcnow
from alertsvc.dispatch.status import alert_status
from alertsvc.reports.followup import build_followup
from alertsvc.web.supporter_page import supporter_token
from tests.acceptance.demo_data import import_demo
from tests.acceptance.test_supporter_digest_cli import PHONE_A, PHONE_B, held_out_register
from tests.clirun import run_cli
from tests.integration.test_web_app import AUTH, PUBLIC, SECRET

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from alertsvc.web.app import create_app

DESK = "+815011112222"


@pytest.fixture
def sent(cli_env: dict[str, str], engine: Engine, tmp_path: Path) -> tuple[Engine, str]:
    import_demo(cli_env, held_out_register(tmp_path / "held_out.csv"))
    res = run_cli(["alert", "send", "--level", "3", "--zone-set", "flood", "--yes", "--json"],
                  env=cli_env)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return engine, res.json()["alert_id"]


@pytest.fixture
def page_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        webhooks=WebhookSettings(public_url=PUBLIC, port=0),
        duty=DutySettings(contacts=(DutyContact("当番", DESK, "sms"),)),
    )


@pytest.fixture
def client(sent: tuple[Engine, str], page_settings: Settings) -> Iterator[TestClient]:
    app = create_app(sent[0], page_settings, auth_token=AUTH, ack_secret=SECRET)
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


def _digest_key(engine: Engine, alert_id: str, phone: str) -> str:
    with session_scope(engine) as s:
        return s.scalars(
            select(Delivery.key).where(
                Delivery.alert_id == alert_id,
                Delivery.recipient == "supporter",
                Delivery.address == phone,
            )
        ).one()


def _path(key: str, token: str | None = None) -> str:
    return f"/s/{key}/{token or supporter_token(SECRET, key)}"


def _acks(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as s:
        return [
            (a.resident_id, a.answer, a.answered_by)
            for a in s.scalars(select(Acknowledgement).order_by(Acknowledgement.id))
        ]


def test_page_lists_every_person_one_form_each_without_js(
    sent: tuple[Engine, str], client: TestClient
) -> None:
    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_B)
    res = client.get(_path(key))
    assert res.status_code == 200
    html = res.text
    assert "<script" not in html  # works without JavaScript: plain forms
    assert '<html lang="ja">' in html
    forms = re.findall(r"<form method=\"post\"[^>]*>(.*?)</form>", html, re.S)
    people = [re.search(r'name="person" value="([^"]+)"', f).group(1) for f in forms]  # type: ignore[union-attr]
    assert people == ["T081", "T082", "T083", "T084", "T085"]
    for form in forms:
        values = re.findall(r'<button[^>]*name="answer" value="([a-z_]+)"', form)
        assert values == ["safe", "cannot_reach", "helping"]
    for text in ("無事を確認", "連絡がつかない", "支援中", "未回答", "試験 082子", "へ避難"):
        assert text in html
    assert "寝たきり" not in html  # never the support reason


def test_supporter_answers_are_the_supporters_never_the_persons_own(
    sent: tuple[Engine, str], client: TestClient
) -> None:
    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_B)
    res = client.post(_path(key), data={"person": "T083", "answer": "safe"})
    assert res.status_code == 200 and "記録しました" in res.text
    res = client.post(_path(key), data={"person": "T084", "answer": "helping"})
    assert res.status_code == 200
    assert "支援中" in res.text
    assert _acks(engine) == [("T083", "safe", "supporter"), ("T084", "helping", "supporter")]
    with session_scope(engine) as s:
        t = s.scalars(
            select(AlertTarget).where(
                AlertTarget.alert_id == alert_id, AlertTarget.resident_id == "T083"
            )
        ).one()
        # the supporter's "safe" confirms nobody: the person is still not reached
        assert t.acknowledged_at is None
        unreached = {u.resident_id for u in alert_status(s, alert_id).unreached}
        assert "T083" in unreached
        # nobody's own rows were skipped by the supporter's answer
        skipped = s.scalar(
            select(func.count()).where(Delivery.alert_id == alert_id, Delivery.state == "skipped")
        )
        assert skipped == 0
        # alert verify accepts the digest and the supporter's answers on it
        from alertsvc.config import DispatchSettings
        from alertsvc.dispatch.verify import verify_alert

        found = verify_alert(s, alert_id, DispatchSettings()).violations
        assert not [v for v in found if v.rule == "acknowledgement_owner" or not v.resident_id]


def test_cannot_reach_tops_followup_and_notifies_the_duty_desk(
    sent: tuple[Engine, str], client: TestClient
) -> None:
    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_A)
    with session_scope(engine) as s:
        before = build_followup(s, alert_id)
    # the lowest on the list among the people A looks after (T001..T081)
    last = [p.resident_id for p in before.people if p.resident_id <= "T081"][-1]
    assert before.people[0].resident_id != last
    res = client.post(_path(key), data={"person": last, "answer": "cannot_reach"})
    assert res.status_code == 200
    with session_scope(engine) as s:
        sheet = build_followup(s, alert_id)
        assert sheet.people[0].resident_id == last
        assert sheet.people[0].reason == "cannot_reach"
        duty = s.scalars(select(Delivery).where(Delivery.recipient == "duty")).all()
        assert [(d.address, d.resident_id) for d in duty] == [(DESK, last)]


def test_cannot_reach_lists_a_person_whose_message_was_delivered(
    sent: tuple[Engine, str], client: TestClient, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A delivered message is not a person found: the supporter's "cannot reach" puts
    them on every form of the follow-up list (regression: the sheet only re-labelled
    people already unreached, so the demo's scripted "cannot reach" went missing)."""
    from sqlalchemy import update

    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_B)
    with session_scope(engine) as s:
        # T083 answered on their own: reached, off the list
        s.execute(
            update(AlertTarget)
            .where(AlertTarget.alert_id == alert_id, AlertTarget.resident_id == "T083")
            .values(acknowledged_at=utcnow())
        )
    with session_scope(engine) as s:
        assert "T083" not in {p.resident_id for p in build_followup(s, alert_id).people}
    res = client.post(_path(key), data={"person": "T083", "answer": "cannot_reach"})
    assert res.status_code == 200
    with session_scope(engine) as s:
        st = alert_status(s, alert_id)
        assert st.cannot_reach == ["T083"]
        assert st.follow_up()["T083"][0] == "cannot_reach"
        sheet = build_followup(s, alert_id)
        assert sheet.people[0].resident_id == "T083"
        assert sheet.people[0].reason == "cannot_reach"
    out = tmp_path / "follow-up.csv"
    res = run_cli(["alert", "status", alert_id, "--csv", str(out)], env=cli_env)
    assert res.exit_code == 0, res.stderr
    rows = out.read_text(encoding="utf-8-sig").splitlines()[1:]
    assert rows[0].split(",")[1] == "T083"
    assert "cannot reach" in rows[0]
    assert len(rows) == len(sheet.people)


@pytest.mark.parametrize(
    "case", ["tampered", "other_supporter", "other_alert_key", "foreign_person"]
)
def test_misuse_is_refused_and_records_nothing(
    sent: tuple[Engine, str], client: TestClient, case: str
) -> None:
    engine, alert_id = sent
    key_a = _digest_key(engine, alert_id, PHONE_A)
    key_b = _digest_key(engine, alert_id, PHONE_B)
    person = "T083"  # on B's list, not on A's
    if case == "tampered":
        token = supporter_token(SECRET, key_b)
        path = _path(key_b, ("A" if token[0] != "A" else "B") + token[1:])
    elif case == "other_supporter":
        path = _path(key_b, supporter_token(SECRET, key_a))  # A's token on B's key
    elif case == "other_alert_key":
        # a resident's row of the same alert with a (valid-for-B) token: no such link
        path = _path(f"{alert_id}:1", supporter_token(SECRET, key_b))
    else:
        path = _path(key_a)  # A's own valid link, a person A does not look after
    get = client.get(path)
    post = client.post(path, data={"person": person, "answer": "cannot_reach"})
    assert post.status_code == 403, case
    if case != "foreign_person":
        assert get.status_code == 403
        assert "試験" not in get.text
    assert _acks(engine) == []
    with session_scope(engine) as s:
        assert s.scalars(select(Delivery).where(Delivery.recipient == "duty")).all() == []


def test_a_residents_own_row_is_no_supporter_page(
    sent: tuple[Engine, str], client: TestClient
) -> None:
    engine, alert_id = sent
    key = f"{alert_id}:1"  # a resident's own message, correctly signed
    assert client.get(_path(key)).status_code == 404
    assert client.post(_path(key), data={"person": "T001", "answer": "safe"}).status_code == 404
    assert _acks(engine) == []


def test_bad_answer_is_refused(sent: tuple[Engine, str], client: TestClient) -> None:
    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_B)
    res = client.post(_path(key), data={"person": "T083", "answer": "need_help_now"})
    assert res.status_code == 422
    assert _acks(engine) == []


def test_voice_reads_each_person_and_takes_a_keypress_per_person(
    sent: tuple[Engine, str], client: TestClient
) -> None:
    from tests.integration.test_web_app import post_signed

    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_B)
    call = {"CallSid": "CA" + "5" * 32}
    first = post_signed(client, f"/twilio/voice/gather?key={key}&p=0", call)
    assert first.status_code == 200
    assert "1人目" in first.text and "試験 081子" not in first.text  # reads the kana
    assert "しけん" in first.text and "p=0" in first.text and "p=1" in first.text
    # person 0 (T081): 1 safe; person 1 (T082): 2 cannot reach; person 2 (T083): 3 helping
    for index, digit in ((0, "1"), (1, "2"), (2, "3")):
        res = post_signed(
            client, f"/twilio/voice/gather?key={key}&p={index}", {**call, "Digits": digit}
        )
        assert res.status_code == 200
        assert f"{index + 2}人目" in res.text
    # a replayed keypress records nothing twice
    post_signed(client, f"/twilio/voice/gather?key={key}&p=1", {**call, "Digits": "2"})
    assert _acks(engine) == [
        ("T081", "safe", "supporter"),
        ("T082", "cannot_reach", "supporter"),
        ("T083", "helping", "supporter"),
    ]
    last = post_signed(client, f"/twilio/voice/gather?key={key}&p=4", {**call, "Digits": "1"})
    assert "ありがとうございました" in last.text
    with session_scope(engine) as s:
        duty = s.scalars(select(Delivery).where(Delivery.recipient == "duty")).all()
        assert [d.resident_id for d in duty] == ["T082"]
    # an unsigned keypress is refused before anything is read
    bad = client.post(f"/twilio/voice/gather?key={key}&p=4", data={**call, "Digits": "2"})
    assert bad.status_code == 403


def test_digest_sms_carries_the_supporter_page_link(sent: tuple[Engine, str]) -> None:
    from alertsvc.channels.twilio_sms import TwilioSms
    from alertsvc.channels.twilio_voice import TwilioVoice
    from alertsvc.models import ChannelName, OutgoingMessage

    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_A)
    with session_scope(engine) as s:
        row = s.scalars(select(Delivery).where(Delivery.key == key)).one()
        body, data = row.body, tuple(tuple(p) for p in row.data)
    settings = Settings(webhooks=WebhookSettings(public_url=PUBLIC, port=0))
    env = {"ALERTSVC_TWILIO_TOKEN": AUTH,
           "ALERTSVC_ACK_SECRET": SECRET.decode()}  # fmt: skip
    sms = TwilioSms.from_settings(settings, env=env)
    msg = OutgoingMessage(key=key, channel=ChannelName.SMS, address=PHONE_A, body=body,
                          language="ja", data=data)  # type: ignore[arg-type]  # fmt: skip
    sent_body = sms._body_for(msg) if sms._body_for else ""
    assert sent_body.startswith(body) and f"/s/{key}/" in sent_body
    voice = TwilioVoice(sms._twilio, public_url=PUBLIC, from_number="+815000000000")
    vmsg = OutgoingMessage(key=key, channel=ChannelName.VOICE, address=PHONE_A, body="案内",
                           language="ja", data=data)  # type: ignore[arg-type]  # fmt: skip
    twiml = voice.twiml(vmsg)
    assert "<Redirect" in twiml and "p=0" in twiml and "<Gather" not in twiml


def test_link_expires_with_the_alert(sent: tuple[Engine, str], client: TestClient) -> None:
    import datetime as dt

    from sqlalchemy import update

    from alertsvc.db.tables import Alert

    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_B)
    with session_scope(engine) as s:
        s.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        )
    assert client.get(_path(key)).status_code == 410
    res = client.post(_path(key), data={"person": "T083", "answer": "cannot_reach"})
    assert res.status_code == 410
    assert _acks(engine) == []


def test_supporter_call_refuses_a_bad_person_index(
    sent: tuple[Engine, str], client: TestClient
) -> None:
    from tests.integration.test_web_app import post_signed

    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_B)
    call = {"CallSid": "CA" + "6" * 32, "Digits": "2"}
    assert post_signed(client, f"/twilio/voice/gather?key={key}&p=-1", call).status_code == 400
    bad_sid = {"CallSid": "x y", "Digits": "2"}
    assert post_signed(client, f"/twilio/voice/gather?key={key}&p=1", bad_sid).status_code == 400
    # a resident's own row is no digest: nothing is read out, nothing recorded
    res = post_signed(client, f"/twilio/voice/gather?key={alert_id}:1&p=0", call)
    assert res.status_code == 200 and "<Gather" not in res.text
    assert _acks(engine) == []


def test_oversized_post_is_refused(sent: tuple[Engine, str], client: TestClient) -> None:
    engine, alert_id = sent
    key = _digest_key(engine, alert_id, PHONE_B)
    res = client.post(_path(key), data={"person": "T083", "answer": "safe", "x": "y" * 2000})
    assert res.status_code == 413
    assert _acks(engine) == []


def _digest(phone: str, people: list[str]) -> object:
    from alertsvc.dispatch.alerts import PlannedDelivery
    from alertsvc.models import ChannelName

    return PlannedDelivery(
        resident_id="", recipient="supporter", supporter_id=None, step=0,
        channel=ChannelName.SMS, address=phone, language="ja", title="",
        body="避難支援のお願い", data=(("kind", "supporter_digest"),), priority=1.0,
        legal_basis="per_person",
        disclosures=tuple((rid, n + 1, "consent", "evacuate") for n, rid in enumerate(people)),
    )  # fmt: skip


def test_sms_reply_to_a_digest_counts_only_when_it_names_one_person(
    engine: Engine, page_settings: Settings
) -> None:
    from alertsvc.db.tables import Resident
    from alertsvc.models import ChannelName
    from alertsvc.testing.fakes import resident_delivery
    from tests.integration.test_web_app import post_signed, send_alert

    with session_scope(engine) as s:
        for rid in ("R1", "R2", "R3"):
            s.add(Resident(id=rid, name=f"氏名{rid}", address="直方市古町1番"))
    send_alert(
        engine,
        page_settings,
        [
            resident_delivery("R1", ChannelName.SMS, "+819000000001"),
            resident_delivery("R2", ChannelName.SMS, "+819000000002"),
            resident_delivery("R3", ChannelName.SMS, "+819000000003"),
            _digest(PHONE_A, ["R1"]),  # type: ignore[list-item]
            _digest(PHONE_B, ["R2", "R3"]),  # type: ignore[list-item]
        ],
    )
    app = create_app(engine, page_settings, auth_token=AUTH, ack_secret=SECRET)
    with TestClient(app, raise_server_exceptions=True) as c:
        one = post_signed(c, "/twilio/sms/inbound", {"From": PHONE_A, "Body": "2"})
        many = post_signed(c, "/twilio/sms/inbound", {"From": PHONE_B, "Body": "2"})
    assert one.status_code == many.status_code == 200
    # the supporter of one person answered about that person; "2" from the supporter of
    # two says nothing about which of them
    assert _acks(engine) == [("R1", "need_help", "supporter")]
    with session_scope(engine) as s:
        duty = s.scalars(select(Delivery).where(Delivery.recipient == "duty")).all()
        assert [d.resident_id for d in duty] == ["R1"]
