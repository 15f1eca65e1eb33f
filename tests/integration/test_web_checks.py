"""Tests for the webhook checks that no test pinned down, or not precisely (#10: "every web
path is covered by tests that fail when its check is removed"), on SQLite and PostgreSQL.

Each test here fails when its check is neutralised (a mutation audit); most of those
mutations left every older web test green. ``tests/WEB_CHECKS.md`` lists every route, every
check and the test that kills its mutation. The signed FAX and LINE bodies are fuzzed too.
The page checks are in ``test_web_checks_pages.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, select, update

from alertsvc.acks import ack_token
from alertsvc.channels.line import postback_data
from alertsvc.channels.twilio_common import SIGNATURE_HEADER
from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import AlertTarget, Delivery
from alertsvc.web.pages import page_token
from alertsvc.web.supporter_page import supporter_token
from alertsvc.web.webhook_common import MAX_BODY_BYTES, MAX_JSON_DEPTH
from tests.integration.web_checks_support import (
    AUTH,
    DESK,
    FAX_3,
    FORGED,
    PHONE_1,
    SECRET,
    USER_4,
    World,
    asgi_post,
    open_world,
)

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from alertsvc.web.app import create_app


@pytest.fixture
def world(engine: Engine, settings: Settings) -> Iterator[World]:
    with open_world(engine, settings) as w:
        yield w


# --------------------------------------------------------------------------- every route


@pytest.mark.parametrize(
    "path",
    ["/twilio/sms/status", "/twilio/voice/status", "/twilio/voice/gather",
     "/twilio/sms/inbound", "/ack", "/fax/status", "/line/webhook"],
)  # fmt: skip
def test_webhooks_take_post_only(world: World, path: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        assert world.client.request(method, path).status_code == 405, method


def test_pages_take_get_and_post_only(world: World) -> None:
    resident = world.keys["R1/sms"]
    digest = world.keys["digest"]
    for path in (
        f"/r/{resident}/{page_token(SECRET, resident)}",
        f"/s/{digest}/{supporter_token(SECRET, digest)}",
    ):
        assert world.client.get(path).status_code == 200
        for method in ("PUT", "DELETE", "PATCH"):
            assert world.client.request(method, path).status_code == 405, (path, method)
    assert world.acks() == []


def test_create_app_refuses_empty_secrets(engine: Engine, settings: Settings) -> None:
    with pytest.raises(ValueError, match="auth_token"):
        create_app(engine, settings, auth_token="", ack_secret=SECRET)
    with pytest.raises(ValueError, match="ack_secret"):
        create_app(engine, settings, auth_token=AUTH, ack_secret=b"")


def test_unexpected_error_is_a_bare_500_that_logs_only_the_type(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="alertsvc")
    key = world.keys["R1/push"]

    def fail(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ACKNOWLEDGEMENTS"):
            raise RuntimeError(f"injected failure for {FORGED}")

    event.listen(world.engine, "before_cursor_execute", fail)
    try:
        res = world.client.post(
            "/ack", json={"key": key, "answer": "safe", "token": ack_token(SECRET, key)}
        )
    finally:
        event.remove(world.engine, "before_cursor_execute", fail)
    assert res.status_code == 500
    assert res.json() == {"error": "internal error"}
    assert FORGED not in caplog.text and "injected" not in caplog.text


# --------------------------------------------------------------------------- Twilio plumbing


def test_non_utf8_form_body_is_400_before_the_signature(world: World) -> None:
    res = world.client.post(
        "/twilio/sms/inbound",
        content=b"From=%2B819011110001&Body=\xff\xfe&MessageSid=SM1",
        headers={SIGNATURE_HEADER: "x", "content-type": "application/x-www-form-urlencoded"},
    )
    assert res.status_code == 400
    assert world.acks() == []


def test_a_repeated_form_field_counts_with_its_first_value(world: World) -> None:
    key = world.keys["R1/sms"]
    pairs = [("MessageSid", "SM1"), ("MessageStatus", "delivered"), ("MessageStatus", "failed")]
    res = world.post_signed(f"/twilio/sms/status?{urlencode({'key': key})}", pairs)
    assert res.status_code == 204
    assert world.row(key).state == "delivered"


def test_a_key_that_is_no_delivery_key_is_400(world: World) -> None:
    res = world.gather("A1 1", {"CallSid": "CA1", "Digits": "1"})
    assert res.status_code == 400
    bad = "A1 1"
    res = world.fax(bad, {"data": {"event_type": "fax.delivered", "payload": {}}})
    assert res.status_code == 400
    assert world.acks() == []


def test_a_declared_body_over_the_limit_is_refused_unread(world: World) -> None:
    headers = [
        (b"content-length", str(MAX_BODY_BYTES + 1).encode()),
        (b"content-type", b"application/json"),
    ]
    status, asked = asgi_post(world.client.app, "/ack", [b"{}"], headers)
    assert (status, asked) == (413, 0)


def test_json_nested_one_past_the_limit_is_422(world: World) -> None:
    key = world.keys["R1/push"]
    doc = {"key": key, "answer": "safe", "token": ack_token(SECRET, key)}
    at_limit = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    past = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    body = json.dumps(doc)[:-1] + ', "x": ' + past + "}"
    assert world.client.post("/ack", content=body).status_code == 422
    assert world.acks() == []
    body = json.dumps(doc)[:-1] + ', "x": ' + at_limit + "}"
    assert world.client.post("/ack", content=body).status_code == 204


def test_status_callback_refuses_a_provider_id_that_is_no_token(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="alertsvc")
    key = world.keys["R1/sms"]
    res = world.post_signed(
        "/twilio/sms/status", {"MessageSid": f"SM1 {FORGED}", "MessageStatus": "failed"}
    )
    assert res.status_code == 400
    res = world.post_signed("/twilio/voice/status", {"CallSid": "CA\n1", "CallStatus": "busy"})
    assert res.status_code == 400
    assert world.row(key).state == "sent"
    assert FORGED not in caplog.text


def test_a_non_numeric_error_code_is_ignored(world: World) -> None:
    key = world.keys["R1/sms"]
    params = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30x05"}
    res = world.post_signed(f"/twilio/sms/status?{urlencode({'key': key})}", params)
    assert res.status_code == 204
    after = world.row(key)
    assert (after.state, after.error_code) == ("failed", None)


# --------------------------------------------------------------------------- keypresses


def test_a_keypress_counts_only_on_a_voice_row(world: World) -> None:
    res = world.gather(world.keys["R1/sms"], {"CallSid": "CA1", "Digits": "2"})
    assert res.status_code == 200 and "<Gather" not in res.text
    assert world.acks() == [] and world.duty() == []


def test_a_resident_keypress_with_a_call_sid_that_is_no_token_is_400(world: World) -> None:
    res = world.gather(world.keys["R2/voice"], {"CallSid": "CA 1", "Digits": "1"})
    assert res.status_code == 400
    assert world.acks() == []


def test_only_1_and_2_answer_a_resident_call(world: World) -> None:
    for n, digit in enumerate(("3", "0", "*", "12")):
        res = world.gather(world.keys["R2/voice"], {"CallSid": f"CA{n}", "Digits": digit})
        assert res.status_code == 200 and "<Gather" in res.text, digit
    assert world.acks() == []


def test_a_supporter_call_refuses_an_overlong_person_index(world: World) -> None:
    res = world.gather(world.keys["digest"], {"CallSid": "CA1", "Digits": "1"}, p="123456")
    assert res.status_code == 400
    assert world.acks() == []


def test_a_keypress_past_the_last_person_of_a_digest_records_nothing(world: World) -> None:
    res = world.gather(world.keys["digest"], {"CallSid": "CA1", "Digits": "2"}, p="7")
    assert res.status_code == 200 and "ありがとうございました" in res.text
    assert world.acks() == [] and world.duty() == []


def test_only_1_2_3_answer_a_supporter_call(world: World) -> None:
    res = world.gather(world.keys["digest"], {"CallSid": "CA1", "Digits": "4"}, p="0")
    assert res.status_code == 200 and "2人目" in res.text  # moves on, records nothing
    assert world.acks() == []


def test_a_replayed_supporter_keypress_after_a_change_records_nothing(world: World) -> None:
    digest = world.keys["digest"]
    for digit in ("2", "1", "2"):  # the last one is a replay of the first
        assert world.gather(digest, {"CallSid": "CA9", "Digits": digit}, p="1").status_code == 200
    assert world.acks() == [("R2", "cannot_reach", "voice"), ("R2", "safe", "voice")]


# --------------------------------------------------------------------------- SMS replies


def test_a_look_alike_digit_is_no_answer(world: World) -> None:
    for n, body in enumerate(("①", "¹", "⑴")):
        res = world.post_signed(
            "/twilio/sms/inbound", {"From": PHONE_1, "Body": body, "MessageSid": f"SM{n}"}
        )
        assert res.status_code == 200
    assert world.acks() == []


def test_a_duty_officers_reply_answers_for_nobody(world: World) -> None:
    world.gather(world.keys["R2/voice"], {"CallSid": "CA1", "Digits": "2"})
    assert world.duty() == ["R2"]
    with session_scope(world.engine) as s:
        s.execute(
            update(Delivery)
            .where(Delivery.recipient == "duty")
            .values(state="sent", sent_at=dt.datetime.now(dt.UTC))
        )
    before = world.acks()
    res = world.post_signed("/twilio/sms/inbound", {"From": DESK, "Body": "1", "MessageSid": "SM1"})
    assert res.status_code == 200
    assert world.acks() == before


def test_a_reply_to_a_message_not_yet_sent_answers_nothing(world: World) -> None:
    key = world.keys["R1/sms"]
    with session_scope(world.engine) as s:
        s.execute(update(Delivery).where(Delivery.key == key).values(state="queued"))
    res = world.post_signed(
        "/twilio/sms/inbound", {"From": PHONE_1, "Body": "1", "MessageSid": "SM1"}
    )
    assert res.status_code == 200
    assert world.acks() == []


def test_an_sms_from_a_fax_number_answers_nothing(world: World) -> None:
    res = world.post_signed(
        "/twilio/sms/inbound", {"From": FAX_3, "Body": "2", "MessageSid": "SM1"}
    )
    assert res.status_code == 200
    assert world.acks() == [] and world.duty() == []


def test_need_help_stays_after_a_later_safe(world: World) -> None:
    for n, body in enumerate(("2", "1")):
        world.post_signed(
            "/twilio/sms/inbound", {"From": PHONE_1, "Body": body, "MessageSid": f"SM{n}"}
        )
    with session_scope(world.engine) as s:
        answer = s.scalars(
            select(AlertTarget.ack_answer).where(AlertTarget.resident_id == "R1")
        ).one()
    assert answer == "need_help"


# --------------------------------------------------------------------------- /ack


def test_an_ack_key_that_is_no_token_is_422_even_when_signed(world: World) -> None:
    key = "A1 1"
    res = world.client.post(
        "/ack", json={"key": key, "answer": "safe", "token": ack_token(SECRET, key)}
    )
    assert res.status_code == 422


def _last_char_flipped(token: str) -> str:
    return token[:-1] + ("0" if token[-1] != "0" else "1")


def test_a_token_wrong_only_in_its_last_character_is_403(world: World) -> None:
    key = world.keys["R1/push"]
    token = _last_char_flipped(ack_token(SECRET, key))
    res = world.client.post("/ack", json={"key": key, "answer": "safe", "token": token})
    assert res.status_code == 403
    fax = world.keys["R3/fax"]
    res = world.fax(
        fax, _fax_event("fax.delivered"), sig=_last_char_flipped(ack_token(SECRET, fax))
    )
    assert res.status_code == 403
    assert world.acks() == [] and world.row(fax).state == "sent"


# --------------------------------------------------------------------------- /fax/status


def _fax_event(kind: str, **payload: Any) -> dict[str, Any]:
    return {"data": {"event_type": kind, "payload": payload}}


def test_fax_status_without_a_key_is_403(world: World) -> None:
    key = world.keys["R3/fax"]
    ref = world.row(key).provider_ref
    assert ref
    res = world.client.post(
        f"/fax/status?{urlencode({'sig': ack_token(SECRET, key)})}",
        json=_fax_event("fax.failed", fax_id=ref, failure_reason="user_busy"),
    )
    assert res.status_code == 403
    assert world.row(key).state == "sent"


@pytest.mark.parametrize(
    ("doc", "status"),
    [
        ({"data": {"payload": {}}}, 422),
        ({"data": {"event_type": "fax.failed", "payload": []}}, 422),
        (_fax_event("fax.failed", failure_reason=5), 422),
        (_fax_event("fax.failed", fax_id=7), 422),
        (_fax_event("fax.failed", fax_id="fx 1"), 400),
        (_fax_event("call.hangup"), 204),
    ],
)
def test_fax_status_refuses_malformed_events(world: World, doc: Any, status: int) -> None:
    key = world.keys["R3/fax"]
    assert world.fax(key, doc).status_code == status
    assert world.row(key).state == "sent"


def test_fax_status_applies_only_to_fax_rows(world: World) -> None:
    key = world.keys["R1/sms"]
    res = world.fax(key, _fax_event("fax.failed", failure_reason="user_busy"))
    assert res.status_code == 204
    assert world.row(key).state == "sent"


# --------------------------------------------------------------------------- /line/webhook


def _postback(
    key: str, answer: str, event_id: str, *, user: str = USER_4, kind: str = "postback"
) -> dict[str, Any]:
    return {
        "type": kind,
        "webhookEventId": event_id,
        "source": {"type": "user", "userId": user},
        "postback": {"data": postback_data(key, answer)},
    }


def test_line_webhook_is_not_mounted_without_a_channel_secret(
    engine: Engine, settings: Settings
) -> None:
    app = create_app(engine, settings, auth_token=AUTH, ack_secret=SECRET)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/line/webhook", content=b"{}").status_code == 404


def test_line_non_utf8_body_is_403(world: World) -> None:
    body = b'{"events": []}\xff'
    res = world.client.post(
        "/line/webhook", content=body, headers={"X-Line-Signature": "c2lnbmF0dXJl"}
    )
    assert res.status_code == 403


def test_line_events_must_be_a_list(world: World) -> None:
    assert world.line({"type": "postback"}).status_code == 422


def test_line_records_only_well_formed_postbacks(world: World) -> None:
    key = world.keys["R4/line"]
    events = [
        _postback(key, "need_help", "01EV1", kind="message"),
        _postback(key, "need_help", "01 EV2"),
        _postback(key, "maybe", "01EV3"),
    ]
    assert world.line(events).status_code == 200
    assert world.acks() == []


def test_line_postback_naming_a_row_of_another_channel_records_nothing(world: World) -> None:
    key = world.keys["R1/push"]
    with session_scope(world.engine) as s:  # even where the address matches
        s.execute(update(Delivery).where(Delivery.key == key).values(address=USER_4))
    assert world.line([_postback(key, "safe", "01EV1")]).status_code == 200
    assert world.acks() == []


def test_line_postback_key_that_is_no_token_is_never_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="alertsvc")
    forged = f"x\nWARNING alertsvc.web resident {FORGED}"
    assert world.line([_postback(forged, "safe", "01EV1")]).status_code == 200
    for record in caplog.records:  # ("+" reads as a blank in postback data)
        assert "\n" not in record.getMessage() and FORGED[3:] not in record.getMessage()


def test_line_need_help_reaches_the_duty_desk(world: World) -> None:
    """Regression: a LINE "need help" was recorded but the duty desk was never told."""
    key = world.keys["R4/line"]
    assert world.line([_postback(key, "need_help", "01EV1")]).status_code == 200
    assert world.acks() == [("R4", "need_help", "line")]
    assert world.duty() == ["R4"]


# --------------------------------------------------------------------------- fuzzing

_FUZZ = hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_text = st.text(max_size=30)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=8,
)
_fax_docs = st.fixed_dictionaries(
    {},
    optional={
        "data": st.fixed_dictionaries(
            {},
            optional={
                "event_type": st.sampled_from(["fax.delivered", "fax.failed", "x"]) | _json,
                "payload": st.fixed_dictionaries(
                    {}, optional={"fax_id": _json, "failure_reason": _json}
                )
                | _json,
            },
        )
        | _json
    },
)


@_FUZZ
@given(doc=_fax_docs | _json)
def test_fuzz_signed_fax_status_never_500(world: World, doc: Any) -> None:
    res = world.fax(world.keys["R3/fax"], doc)
    assert res.status_code < 500, res.text


_line_events = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["postback", "message"]) | _json,
            "webhookEventId": _text | _json,
            "source": st.fixed_dictionaries({}, optional={"userId": st.just(USER_4) | _json})
            | _json,
            "postback": st.fixed_dictionaries(
                {}, optional={"data": st.just("key=x&answer=safe") | _text | _json}
            )
            | _json,
        },
    )
    | _json,
    max_size=3,
)


@_FUZZ
@given(events=_line_events | _json)
def test_fuzz_signed_line_webhook_never_500(world: World, events: Any) -> None:
    res = world.line(events)
    assert res.status_code < 500, res.text
