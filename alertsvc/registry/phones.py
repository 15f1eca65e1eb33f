"""Phone numbers and push tokens: normalisation to E.164, typing, masking.

Numbers are parsed with ``phonenumbers`` for region JP after NFKC normalisation, so
``090-1234-5678``, ``０９０−１２３４−５６７８`` and ``+81 90 1234 5678`` are the same number.
Types: MOBILE → ``ContactKind.MOBILE``; FIXED_LINE (and the ambiguous FIXED_LINE_OR_MOBILE,
treated as voice-only to be safe) → ``LANDLINE``; VOIP (050) → ``IP_PHONE``. Other types
(toll-free, pager, premium, …) cannot reach a person and are refused.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from alertsvc.ingest.values import bad_character
from alertsvc.models import ContactKind
from alertsvc.redact import mask_phone, mask_token

__all__ = ["PhoneError", "mask_phone", "mask_token", "normalise_phone", "normalise_token"]

_KINDS: dict[int, ContactKind] = {
    phonenumbers.PhoneNumberType.MOBILE: ContactKind.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE: ContactKind.LANDLINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: ContactKind.LANDLINE,
    phonenumbers.PhoneNumberType.VOIP: ContactKind.IP_PHONE,
}
_TYPE_NAMES: dict[int, str] = {
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll-free",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium-rate",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared-cost",
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "personal (060/0x0 forwarding)",
    phonenumbers.PhoneNumberType.PAGER: "pager",
    phonenumbers.PhoneNumberType.UAN: "UAN",
    phonenumbers.PhoneNumberType.VOICEMAIL: "voicemail",
}
# dashes and separators people type, after NFKC (which leaves U+2212 and U+30FC alone)
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー()（）.]")
_TOKEN_MIN, _TOKEN_MAX = 20, 4096


class PhoneError(ValueError):
    """A phone number that cannot be used; the message says why."""


def normalise_phone(text: str) -> tuple[str, ContactKind]:
    """Return (E.164, kind) for a Japanese phone number; raise ``PhoneError`` otherwise.

    The error message never repeats the full number (it ends up in reports and logs).
    """
    raw = unicodedata.normalize("NFKC", text).strip(" \t\r\n")
    bad = bad_character(raw, allow=" \t")
    if bad:
        # "\s" below would silently swallow U+2028, NEL or a form feed
        raise PhoneError(f"a phone number cannot contain {bad}")
    compact = _SEPARATORS.sub("", raw)
    if not compact:
        raise PhoneError("empty phone number")
    if not re.fullmatch(r"\+?\d+", compact):
        raise PhoneError(f"{mask_phone(compact)}: a phone number has only digits, + and hyphens")
    try:
        parsed = phonenumbers.parse(compact, "JP")
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"{mask_phone(compact)}: not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneError(
            f"{mask_phone(compact)}: not a valid number (wrong length or unassigned prefix)"
        )
    number_type = phonenumbers.number_type(parsed)
    kind = _KINDS.get(number_type)
    if kind is None:
        what = _TYPE_NAMES.get(number_type, "unusable")
        raise PhoneError(f"{mask_phone(compact)}: a {what} number cannot reach a resident")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), kind


def normalise_token(text: str) -> str:
    """Return an FCM registration token trimmed; raise ``ValueError`` if it cannot be one."""
    token = text.strip()
    if not token:
        raise ValueError("empty push token")
    if any(ch.isspace() for ch in token):
        raise ValueError(f"push token {mask_token(token)} contains whitespace")
    if not token.isascii() or not token.isprintable():
        raise ValueError(f"push token {mask_token(token)} has non-ASCII characters")
    if not _TOKEN_MIN <= len(token) <= _TOKEN_MAX:
        raise ValueError(
            f"push token {mask_token(token)} has {len(token)} characters "
            f"(expected {_TOKEN_MIN}–{_TOKEN_MAX})"
        )
    return token
