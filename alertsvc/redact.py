"""Masking of personal data for logs and default CLI output."""

from __future__ import annotations

__all__ = ["mask_address", "mask_phone", "mask_token"]


def mask_phone(number: str) -> str:
    """'+819012345678' -> '+81…5678'. Short or odd input is masked whole."""
    digits = number.strip()
    if len(digits) < 8:
        return "…"
    head = digits[:3] if digits.startswith("+") else digits[:2]
    return f"{head}…{digits[-4:]}"


def mask_token(token: str) -> str:
    """A push token shows only its first 4 characters."""
    token = token.strip()
    return f"{token[:4]}…" if len(token) > 8 else "…"


def mask_address(address: str) -> str:
    """Mask an E.164 number or a push token, whichever ``address`` is."""
    return mask_phone(address) if address.startswith("+") else mask_token(address)
