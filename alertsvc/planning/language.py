"""Which template language a resident gets, and how each language is spoken and joined.

A resident's language is used when a template set exists for it; otherwise やさしい日本語
(ja-easy), which most residents with some Japanese can follow; otherwise Japanese.
Supporters always get Japanese.
"""

from __future__ import annotations

from importlib import resources

__all__ = [
    "FALLBACKS",
    "JOINERS",
    "SUPPORTER_LANGUAGE",
    "VOICE_LANGUAGES",
    "available_languages",
    "normalise_language",
    "pick_language",
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
