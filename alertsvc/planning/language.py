"""Which template language a resident gets, and how each language is spoken and joined.

A resident's language is used when a template set exists for it; otherwise やさしい日本語
(ja-easy), which most residents with some Japanese can follow; otherwise Japanese.
Supporters always get Japanese.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal

__all__ = [
    "FALLBACKS",
    "JOINERS",
    "REPLY_TEXT_IDS",
    "SUPPORTER_LANGUAGE",
    "VOICE_LANGUAGES",
    "ReplyTextId",
    "available_languages",
    "normalise_language",
    "pick_language",
    "reply_text",
    "reply_texts",
    "voice_language",
]

SUPPORTER_LANGUAGE = "ja"
FALLBACKS: tuple[str, ...] = ("ja-easy", "ja")

# Twilio <Say language=...> per template language
VOICE_LANGUAGES: dict[str, str] = {
    "ja": "ja-JP",
    "ja-easy": "ja-JP",
    "en": "en-US",
    "zh": "cmn-CN",
    "ko": "ko-KR",
    "vi": "vi-VN",
    "pt": "pt-BR",
    "tl": "fil-PH",
}

# Template lines are stripped and joined with this: no space in Japanese and Chinese
# script, a space where words are separated (やさしい日本語 is written with spaces too).
JOINERS: dict[str, str] = {"ja": "", "zh": ""}

# spellings seen in municipal registers -> our codes
_ALIASES: dict[str, str] = {
    "jp": "ja",
    "ja-jp": "ja",
    "japanese": "ja",
    "日本語": "ja",
    "easy": "ja-easy",
    "ja_easy": "ja-easy",
    "easy-ja": "ja-easy",
    "やさしい日本語": "ja-easy",
    "en-us": "en",
    "en-gb": "en",
    "english": "en",
    "zh-cn": "zh",
    "zh-hans": "zh",
    "cmn": "zh",
    "ko-kr": "ko",
    "vi-vn": "vi",
    "pt-br": "pt",
    "fil": "tl",
    "fil-ph": "tl",
    "tl-ph": "tl",
}

# the files a language needs before residents are given it
REQUIRED_TEMPLATES: tuple[str, ...] = (
    "push_title",
    "push_body",
    "sms",
    "voice",
    "cancel_push_title",
    "cancel_push_body",
    "cancel_sms",
    "cancel_voice",
)


def available_languages() -> frozenset[str]:
    """Languages with a complete template set under ``alertsvc/templates``."""
    root = resources.files("alertsvc").joinpath("templates")
    found: set[str] = set()
    for entry in root.iterdir():
        if entry.is_dir() and all(
            entry.joinpath(f"{name}.j2").is_file() for name in REQUIRED_TEMPLATES
        ):
            found.add(entry.name)
    return frozenset(found)


_AVAILABLE: frozenset[str] | None = None


def normalise_language(code: str) -> str:
    """Lower-case, trimmed, alias-resolved language code (``"pt-BR"`` -> ``"pt"``)."""
    key = code.strip().lower().replace("_", "-")
    return _ALIASES.get(key, key)


def pick_language(code: str | None) -> str:
    """The template language for a resident: theirs, else ja-easy, else ja. Never raises."""
    global _AVAILABLE
    if _AVAILABLE is None:
        _AVAILABLE = available_languages()
    wanted = normalise_language(code or "")
    for candidate in (wanted, *FALLBACKS):
        if candidate in _AVAILABLE:
            return candidate
    return "ja"


ReplyTextId = Literal[
    "safe",
    "need_help",
    "ask_again",
    "closing",
    "not_recorded",
    "sms_instructions",
    "shared_number",
    "no_keypress",
]
REPLY_TEXT_IDS: tuple[ReplyTextId, ...] = (
    "safe",
    "need_help",
    "ask_again",
    "closing",
    "not_recorded",
    "sms_instructions",
    "shared_number",
    "no_keypress",
)


@cache
def reply_texts() -> dict[str, dict[str, str]]:
    """The table ``templates/replies.toml``: text id -> template language -> text.

    Raises ``KeyError`` (at first use, so a test catches it) when a text lacks a
    language that has a template set: every resident must hear and read their own.
    """
    raw = resources.files("alertsvc").joinpath("templates", "replies.toml").read_bytes()
    table: dict[str, dict[str, str]] = tomllib.loads(raw.decode("utf-8"))
    for text_id in REPLY_TEXT_IDS:
        missing = available_languages() - set(table[text_id])
        if missing:
            raise KeyError(f"replies.toml [{text_id}] lacks {sorted(missing)}")
    return table


def reply_text(text_id: ReplyTextId, language: str | None, *, written: bool) -> str:
    """The text ``text_id`` in the resident's ``language`` (fallbacks as ``pick_language``).

    Written texts (SMS) in a language other than Japanese carry the Japanese beside them
    (``"<text> / <日本語>"``), so a family member or helper can read it too; spoken ones
    are in one language, because one ``<Say>`` has one voice. Never raises for a
    language: an unknown one gets the fallback.
    """
    # no row to read a language from (an unknown key or number): Japanese, the default
    lang = pick_language(language) if language else "ja"
    entry = reply_texts()[text_id]
    text = entry[lang]
    if written and not lang.startswith("ja"):
        return f"{text} / {entry['ja']}"
    return text


def voice_language(language: str | None) -> str:
    """Twilio ``<Say language>`` for a resident's template language (ja-JP when unknown)."""
    return VOICE_LANGUAGES.get(pick_language(language), "ja-JP") if language else "ja-JP"
