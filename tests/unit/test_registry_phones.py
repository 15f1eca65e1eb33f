from __future__ import annotations

import pytest

from alertsvc.models import ContactKind
from alertsvc.registry.phones import (
    PhoneError,
    mask_phone,
    mask_token,
    normalise_phone,
    normalise_token,
)


@pytest.mark.parametrize(
    ("text", "e164", "kind"),
    [
        ("090-1234-5678", "+819012345678", ContactKind.MOBILE),
        ("０９０−１２３４−５６７８", "+819012345678", ContactKind.MOBILE),
        ("０９０－１２３４－５６７８", "+819012345678", ContactKind.MOBILE),
        ("+81 90 1234 5678", "+819012345678", ContactKind.MOBILE),
        ("(080)2345-6789", "+818023456789", ContactKind.MOBILE),
        ("0949-22-1111", "+81949221111", ContactKind.LANDLINE),
        ("0949-00-1234", "+81949001234", ContactKind.LANDLINE),
        ("050-1234-5678", "+815012345678", ContactKind.IP_PHONE),
    ],
)
def test_normalises_and_types(text: str, e164: str, kind: ContactKind) -> None:
    assert normalise_phone(text) == (e164, kind)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("090-1234-567", "not a valid number"),
        ("090-0000-1234", "not a valid number"),
        ("0120-123-456", "toll-free"),
        ("020-1234-5678", "pager"),
        ("090-1234-567x", "only digits"),
        ("=1+2", "only digits"),
        ("", "empty"),
    ],
)
def test_refuses_unusable_numbers(text: str, fragment: str) -> None:
    with pytest.raises(PhoneError, match=fragment):
        normalise_phone(text)


def test_error_message_never_carries_the_full_number() -> None:
    with pytest.raises(PhoneError) as info:
        normalise_phone("090-1234-567")
    assert "1234567" not in str(info.value).replace("-", "")


def test_masks() -> None:
    assert mask_phone("+819012345678") == "+81…5678"
    assert mask_phone("09012345678") == "0…5678"
    token = "abcd" + "x" * 40 + "wxyz"
    assert mask_token(token) == "abcd…wxyz"
    assert mask_token("short") == "…"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("short", "characters"),
        ("has space" + "a" * 30, "whitespace"),
        ("トークン" + "a" * 30, "non-ASCII"),
        ("x" * 4097, "characters"),
    ],
)
def test_bad_tokens(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        normalise_token(text)


def test_good_token_is_trimmed() -> None:
    token = "dGVzdA:APA91b" + "Z" * 30
    assert normalise_token(f"  {token} ") == token
