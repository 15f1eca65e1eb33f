"""Acknowledgement tokens and SMS reply parsing (pure)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertsvc.acks import (
    SIMULATOR_ACK_SECRET,
    TOKEN_LENGTH,
    ack_secret,
    ack_token,
    exposed_endpoints,
    verify_ack_token,
    webhook_auth_token,
)
from alertsvc.config import Settings
from alertsvc.dispatch.inbound import parse_reply
from alertsvc.errors import ConfigError

SECRET = b"unit-test-secret"


def test_ack_token_is_truncated_hmac_sha256_of_the_key() -> None:
    key = "A20261123200000ab12:7"
    expected = hmac.new(SECRET, key.encode(), hashlib.sha256).hexdigest()[:32]
    assert ack_token(SECRET, key) == expected
    assert len(ack_token(SECRET, key)) == TOKEN_LENGTH == 32


def test_token_depends_on_key_and_secret() -> None:
    assert ack_token(SECRET, "A1:1") != ack_token(SECRET, "A1:2")
    assert ack_token(SECRET, "A1:1") != ack_token(b"other", "A1:1")


def test_verify_accepts_only_the_right_token() -> None:
    token = ack_token(SECRET, "A1:1")
    assert verify_ack_token(SECRET, "A1:1", token)
    assert not verify_ack_token(SECRET, "A1:2", token)
    assert not verify_ack_token(b"other", "A1:1", token)
    assert not verify_ack_token(SECRET, "A1:1", token[:-1])
    assert not verify_ack_token(SECRET, "A1:1", token.upper())
    assert not verify_ack_token(SECRET, "A1:1", "")
    assert not verify_ack_token(SECRET, "A1:1", "é" * TOKEN_LENGTH)
    assert not verify_ack_token(b"", "A1:1", token)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        ack_token(b"", "A1:1")


def test_ack_secret_from_environment() -> None:
    settings = Settings()
    assert ack_secret(settings, {"ALERTSVC_ACK_SECRET": "s3cret"}) == b"s3cret"


def test_ack_secret_fallback_only_on_loopback() -> None:
    loopback = Settings()
    assert ack_secret(loopback, {}) == SIMULATOR_ACK_SECRET
    public = replace(
        loopback, webhooks=replace(loopback.webhooks, public_url="https://alerts.example.jp")
    )
    with pytest.raises(ConfigError, match="ALERTSVC_ACK_SECRET"):
        ack_secret(public, {})
    assert ack_secret(public, {"ALERTSVC_ACK_SECRET": "x"}) == b"x"


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("1", "safe"),
        ("１", "safe"),
        (" 1\n", "safe"),
        ("無事", "safe"),
        ("無事。", "safe"),
        ("ぶじ", "safe"),
        ("safe", "safe"),
        ("OK", "safe"),
        ("ok", "safe"),
        ("ＯＫ", "safe"),
        ("2", "need_help"),
        ("２", "need_help"),
        ("助けて", "need_help"),
        ("たすけて！", "need_help"),
        ("help", "need_help"),
        ("HELP", "need_help"),
        ("", None),
        ("3", None),
        ("12", None),
        ("無事ではない", None),
        ("STOP", None),
        # look-alikes that NFKC would turn into "1"/"2"/"ok" (#7 item 17)
        ("①", None),
        ("②", None),
        ("¹", None),
        ("⑴", None),
        ("⒈", None),
        ("𝟏", None),
        ("١", None),
        ("o\u212a", None),  # Kelvin sign
        ("１。", "safe"),
        ("\u3000２\u3000", "need_help"),
    ],
)
def test_parse_reply(body: str, answer: str | None) -> None:
    assert parse_reply(body) == answer


@given(st.text(max_size=8))
def test_parse_reply_counts_only_documented_words(body: str) -> None:
    answer = parse_reply(body)
    if answer is None:
        return
    # whatever was accepted is, after width folding and trimming, one of the words
    folded = "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in body).strip(
        " \t\r\n.。!！、,\u3000"
    )
    words = {
        "safe": {"1", "無事", "ぶじ", "safe", "ok"},
        "need_help": {"2", "助けて", "たすけて", "help"},
    }
    assert (folded.lower() if folded.isascii() else folded) in words[answer]


def _with(settings: Settings, **changes: str) -> Settings:
    webhooks, twilio, fcm = settings.webhooks, settings.twilio, settings.fcm
    for name, value in changes.items():
        section, field = name.split("__")
        if section == "webhooks":
            webhooks = replace(webhooks, **{field: value})
        elif section == "twilio":
            twilio = replace(twilio, **{field: value})
        else:
            fcm = replace(fcm, **{field: value})
    return replace(settings, webhooks=webhooks, twilio=twilio, fcm=fcm)


@pytest.mark.parametrize(
    ("changes", "listen", "named"),
    [
        ({}, ["0.0.0.0"], "serve --host=0.0.0.0"),
        ({}, ["::"], "serve --host=::"),
        ({}, ["alerts.example.jp"], "serve --host=alerts.example.jp"),
        ({"webhooks__host": "192.168.1.10"}, [], "webhooks.host=192.168.1.10"),
        ({"webhooks__public_url": "https://a.example.jp"}, [], "webhooks.public_url"),
        ({"fcm__base_url": "https://fcm.googleapis.com"}, [], "fcm.base_url"),
        ({"twilio__base_url": "https://api.twilio.com"}, [], "twilio.base_url"),
    ],
)
def test_builtin_secrets_only_when_everything_is_loopback(
    changes: dict[str, str], listen: list[str], named: str
) -> None:
    """#7 item 3: one exposed listener or provider URL and the published secrets go."""
    settings = _with(Settings(), **changes)
    with pytest.raises(ConfigError, match="ack_secret_env") as err:
        ack_secret(settings, {}, listen_hosts=listen)
    assert named in str(err.value)
    with pytest.raises(ConfigError, match="ALERTSVC_TWILIO_TOKEN"):
        webhook_auth_token(settings, {}, listen_hosts=listen)
    env = {"ALERTSVC_ACK_SECRET": "s", "ALERTSVC_TWILIO_TOKEN": "t"}
    assert ack_secret(settings, env, listen_hosts=listen) == b"s"
    assert webhook_auth_token(settings, env, listen_hosts=listen) == "t"


@pytest.mark.parametrize("listen", [[], ["127.0.0.1"], ["localhost"], ["::1"], ["127.0.0.2"]])
def test_builtin_secrets_on_loopback(listen: list[str]) -> None:
    assert ack_secret(Settings(), {}, listen_hosts=listen) == SIMULATOR_ACK_SECRET
    assert exposed_endpoints(Settings(), listen) == []
    assert webhook_auth_token(Settings(), {}, listen_hosts=listen)
