from __future__ import annotations

import pytest

from alertsvc.redact import mask_address, mask_phone, mask_token


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+819012345678", "+81…5678"),
        ("+81949221111", "+81…1111"),
        ("09012345678", "0…5678"),
        ("12345", "…45"),
        ("12", "…"),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_mask_token_and_address() -> None:
    token = "fcm-token-abcdefghijklmnopqrstuvwxyz"
    assert mask_token(token) == "fcm-…wxyz"
    assert mask_address(token) == "fcm-…wxyz"
    assert mask_token("short") == "…"
    assert mask_address("+819012345678") == "+81…5678"
    assert "12345678" not in mask_address("+819012345678")
