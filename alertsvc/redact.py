"""Masking of personal data for logs and default CLI output."""

from __future__ import annotations

__all__ = ["mask_address", "mask_phone", "mask_token"]


def mask_phone(number: str) -> str:
    """``"+819012345678"`` → ``"+81…5678"``: country code and last four digits only.

    A national number keeps its first digit (``"0…5678"``); short input keeps at most
    its last two characters.
    """
    number = number.strip()
    if len(number) <= 6:
        return "…" + number[-2:] if len(number) > 2 else "…"
    head = number[:3] if number.startswith("+") else number[:1]
    return f"{head}…{number[-4:]}"


def mask_token(token: str) -> str:
    """A push token shown as its first 4 and last 4 characters (nothing if short)."""
    token = token.strip()
    if len(token) <= 12:
        return "…"
    return f"{token[:4]}…{token[-4:]}"


def mask_address(address: str) -> str:
    """Mask an E.164 number or a push token, whichever ``address`` is."""
    return mask_phone(address) if address.startswith("+") else mask_token(address)
