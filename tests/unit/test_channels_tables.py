"""Outcome tables of the channel adapters, signatures and TwiML (pure, no network)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests
import urllib3.exceptions
from firebase_admin import exceptions, messaging
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from alertsvc.channels.fcm import FCM_ERROR_OUTCOMES, classify_fcm_error
from alertsvc.channels.twilio_common import (
    TWILIO_ERROR_CODES,
    TWILIO_MISCONFIGURED_CODES,
    classify_transport_error,
    classify_twilio_error,
    classify_twilio_exception,
    is_valid_twilio_signature,
    parse_retry_after,
    twilio_signature,
)
from alertsvc.channels.twilio_voice import CLOSING_TEXT, build_twiml
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import Outcome

VECTORS = Path(__file__).parents[1] / "data" / "providers" / "twilio_request_validator_vectors.json"


# --------------------------------------------------------------------------- Twilio table


@pytest.mark.parametrize(("code", "expected"), sorted(TWILIO_ERROR_CODES.items()))
def test_every_twilio_code_in_the_table_maps_as_declared(
    code: int, expected: tuple[Outcome, str]
) -> None:
    status = 429 if code == 20429 else 400
    outcome, detail, retry = classify_twilio_error(status, code, retry_after=7.0)
    assert outcome is expected[0]
    assert str(code) in detail
    # only a retryable outcome carries the provider's Retry-After
    assert retry == (7.0 if outcome is Outcome.DEFERRED else None)


def test_the_issue_named_permanent_codes_are_rejected() -> None:
    for code in (21610, 21614, 21211, 21612):
        assert classify_twilio_error(400, code)[0] is Outcome.REJECTED


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (429, None, Outcome.DEFERRED),
        (500, 20500, Outcome.DEFERRED),
        (502, None, Outcome.DEFERRED),
        (503, 20503, Outcome.DEFERRED),
        (400, 21999, Outcome.REJECTED),  # unknown 4xx: permanent, code kept in the detail
        (404, None, Outcome.REJECTED),
    ],
)
def test_twilio_status_fallbacks(status: int, code: int | None, outcome: Outcome) -> None:
    got, detail, _ = classify_twilio_error(status, code, retry_after=3.0)
    assert got is outcome
    assert str(status) in detail


def test_twilio_429_keeps_retry_after_and_4xx_drops_it() -> None:
    assert classify_twilio_error(429, None, 12.0)[2] == 12.0
    assert classify_twilio_error(400, 21610, 12.0)[2] is None


@pytest.mark.parametrize("code", sorted(TWILIO_MISCONFIGURED_CODES))
def test_our_own_misconfiguration_raises(code: int) -> None:
    with pytest.raises(ChannelMisconfigured, match=str(code)):
        classify_twilio_error(400, code)


def test_401_raises_misconfigured() -> None:
    with pytest.raises(ChannelMisconfigured):
        classify_twilio_error(401, None)


def test_classify_exception_reads_status_and_code() -> None:
    exc = TwilioRestException(400, "/Messages.json", "Unable to create record", 21614, "POST")
    assert classify_twilio_exception(exc)[0] is Outcome.REJECTED


# --------------------------------------------------------------------------- transport


def _pool() -> urllib3.HTTPConnectionPool:
    return urllib3.HTTPConnectionPool("127.0.0.1", 9)


def test_connection_refused_is_deferred() -> None:
    conn = urllib3.connection.HTTPConnection("127.0.0.1", 9)
    refused = urllib3.exceptions.NewConnectionError(conn, "Connection refused")
    exc = requests.ConnectionError(urllib3.exceptions.MaxRetryError(_pool(), "/", refused))
    assert classify_transport_error(exc)[0] is Outcome.DEFERRED


def test_connect_timeout_is_deferred_read_timeout_unknown() -> None:
    assert classify_transport_error(requests.ConnectTimeout("x"))[0] is Outcome.DEFERRED
    assert classify_transport_error(requests.ReadTimeout("x"))[0] is Outcome.UNKNOWN


def test_connection_dropped_after_sending_is_unknown() -> None:
    dropped = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
    assert classify_transport_error(requests.ConnectionError(dropped))[0] is Outcome.UNKNOWN


@pytest.mark.parametrize(
    ("header", "seconds"), [("5", 5.0), ("0", 0.0), (" 2.5 ", 2.5), ("", None), ("soon", None)]
)
def test_parse_retry_after(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_http_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# --------------------------------------------------------------------------- FCM table


def _http_response(status: int, retry_after: str | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    if retry_after is not None:
        resp.headers["Retry-After"] = retry_after
    return resp


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (messaging.UnregisteredError("gone", http_response=_http_response(404)), Outcome.REJECTED),
        (messaging.SenderIdMismatchError("x", http_response=_http_response(403)), Outcome.REJECTED),
        (
            exceptions.InvalidArgumentError("bad", http_response=_http_response(400)),
            Outcome.REJECTED,
        ),
        (messaging.QuotaExceededError("q", http_response=_http_response(429)), Outcome.DEFERRED),
        (exceptions.UnavailableError("u", http_response=_http_response(503)), Outcome.DEFERRED),
        (exceptions.InternalError("i", http_response=_http_response(500)), Outcome.DEFERRED),
        (exceptions.DeadlineExceededError("d"), Outcome.UNKNOWN),
        (
            messaging.ThirdPartyAuthError("apns", http_response=_http_response(401)),
            Outcome.DEFERRED,
        ),
        # not in the table: the catch-all is DEFERRED, as the Firebase docs advise
        (exceptions.AbortedError("a", http_response=_http_response(409)), Outcome.DEFERRED),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_fcm_error_outcomes(exc: exceptions.FirebaseError, outcome: Outcome) -> None:
    assert classify_fcm_error(exc)[0] is outcome


def test_every_fcm_table_row_is_reachable() -> None:
    """No row is shadowed by an earlier, more general row."""
    for i, (cls, outcome, _detail) in enumerate(FCM_ERROR_OUTCOMES):
        exc = cls("x")
        first = next(j for j, row in enumerate(FCM_ERROR_OUTCOMES) if isinstance(exc, row[0]))
        assert first == i, f"{cls.__name__} is shadowed by row {first}"
        assert classify_fcm_error(exc)[0] is outcome


def test_fcm_quota_exceeded_keeps_retry_after() -> None:
    exc = messaging.QuotaExceededError("q", http_response=_http_response(429, "30"))
    assert classify_fcm_error(exc) == (Outcome.DEFERRED, "fcm QUOTA_EXCEEDED", 30.0)


def test_fcm_transport_causes_are_told_apart() -> None:
    conn = urllib3.connection.HTTPConnection("127.0.0.1", 9)
    refused = requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            _pool(), "/", urllib3.exceptions.NewConnectionError(conn, "refused")
        )
    )
    assert classify_fcm_error(exceptions.UnavailableError("x", cause=refused))[0] is (
        Outcome.DEFERRED
    )
    timed_out = exceptions.DeadlineExceededError("t", cause=requests.ReadTimeout("t"))
    assert classify_fcm_error(timed_out)[0] is Outcome.UNKNOWN


# --------------------------------------------------------------------------- signatures


def test_signature_matches_twilio_published_vector() -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert twilio_signature(v["auth_token"], v["url"], v["params"]) == v["expected_signature"]
    assert is_valid_twilio_signature(
        v["auth_token"], v["url"], v["params"], v["expected_signature"]
    )


def test_signature_port_variants() -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    for variant in v["port_variants"]:
        assert is_valid_twilio_signature(
            v["auth_token"], variant["url"], v["params"], variant["valid_signature"]
        ), variant["note"]


def test_signature_with_repeated_parameters() -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    pairs = [tuple(p) for p in v["duplicate_params"]["params_multi"]]
    expected = v["duplicate_params"]["expected_signature"]
    assert twilio_signature(v["auth_token"], v["url"], pairs) == expected
    as_lists = {"Sid": ["CA123"], "SidAccount": ["AC123"], "Digits": ["5678", "1234"]}
    assert is_valid_twilio_signature(v["auth_token"], v["url"], as_lists, expected)


def test_signature_json_body() -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    j = v["json_body"]
    assert is_valid_twilio_signature(v["auth_token"], j["url"], j["body"], j["expected_signature"])


def test_signature_rejects_tampering_and_wrong_token() -> None:
    v = json.loads(VECTORS.read_text(encoding="utf-8"))
    good = v["expected_signature"]
    tampered = {**v["params"], "Digits": "2"}
    assert not is_valid_twilio_signature(v["auth_token"], v["url"], tampered, good)
    assert not is_valid_twilio_signature("54321", v["url"], v["params"], good)
    assert not is_valid_twilio_signature(v["auth_token"], v["url"], v["params"], "")
    assert not is_valid_twilio_signature(v["auth_token"], v["url"], v["params"], None)
    assert not is_valid_twilio_signature("", v["url"], v["params"], good)


def test_our_signature_is_what_twilio_validator_accepts() -> None:
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "Body": "避難"}
    url = "http://127.0.0.1:8766/twilio/sms/status?key=a%2F1"
    sig = twilio_signature("tok", url, params)
    assert RequestValidator("tok").validate(url, params, sig)


# --------------------------------------------------------------------------- TwiML


def test_twiml_reads_the_message_twice_inside_gather() -> None:
    xml = build_twiml(
        "警戒レベル3、高齢者等避難。",
        language="ja-JP",
        voice="Polly.Mizuki",
        gather_action="http://127.0.0.1:8766/twilio/voice/gather?key=k-1",
        gather_timeout=15,
    )
    root = ElementTree.fromstring(xml)
    assert root.tag == "Response"
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    assert gather.get("timeout") == "15"
    assert gather.get("action") == "http://127.0.0.1:8766/twilio/voice/gather?key=k-1"
    says = gather.findall("Say")
    assert [s.text for s in says] == ["警戒レベル3、高齢者等避難。"] * 2
    assert all(s.get("language") == "ja-JP" and s.get("voice") == "Polly.Mizuki" for s in says)
    assert gather.find("Pause") is not None
    closing = root.findall("Say")
    assert [c.text for c in closing] == [CLOSING_TEXT["ja-JP"]]


def test_twiml_other_language_uses_default_voice() -> None:
    xml = build_twiml(
        "Level 3.",
        language="en-US",
        voice="Polly.Mizuki",
        gather_action="http://x/",
        gather_timeout=9,
    )
    root = ElementTree.fromstring(xml)
    assert all(s.get("voice") is None for s in root.iter("Say"))
    assert root.findall("Say")[0].text == CLOSING_TEXT["en-US"]
