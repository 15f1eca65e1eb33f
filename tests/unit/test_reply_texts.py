"""Every text a resident hears or reads after the alert is in their language (#7 item 12)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from alertsvc.channels.twilio_voice import build_twiml
from alertsvc.planning.language import (
    REPLY_TEXT_IDS,
    VOICE_LANGUAGES,
    available_languages,
    reply_text,
    reply_texts,
)

# a character every text in that language must contain (script check, not a translation check)
_SCRIPT = {
    "ja": "\u3040-\u30ff\u4e00-\u9fff",
    "ja-easy": "\u3040-\u30ff",
    "zh": "\u4e00-\u9fff",
    "ko": "\uac00-\ud7af",
}


def test_the_table_covers_every_template_language() -> None:
    table = reply_texts()
    for text_id in REPLY_TEXT_IDS:
        assert set(table[text_id]) >= available_languages(), text_id


@pytest.mark.parametrize("language", sorted(available_languages() - {"en"}))
@pytest.mark.parametrize("text_id", REPLY_TEXT_IDS)
def test_no_language_falls_back_to_english(language: str, text_id: str) -> None:
    spoken = reply_text(text_id, language, written=False)  # type: ignore[arg-type]
    assert spoken != reply_text(text_id, "en", written=False)  # type: ignore[arg-type]
    if language in _SCRIPT:
        import re

        assert re.search(f"[{_SCRIPT[language]}]", spoken), spoken


@pytest.mark.parametrize("language", ["en", "zh", "ko", "vi", "pt", "tl"])
def test_written_texts_carry_the_japanese_beside(language: str) -> None:
    written = reply_text("safe", language, written=True)
    assert written.startswith(reply_text("safe", language, written=False))
    assert written.endswith(" / " + reply_text("safe", "ja", written=False))


def test_japanese_texts_are_not_doubled() -> None:
    assert reply_text("safe", "ja", written=True) == reply_text("safe", "ja", written=False)


@pytest.mark.parametrize("language", ["zh", "ko", "vi", "pt", "tl"])
def test_voice_closing_line_is_in_the_call_language(language: str) -> None:
    say_language = VOICE_LANGUAGES[language]
    xml = build_twiml(
        "body", language=say_language, voice="Polly.Mizuki", gather_action="https://x/g",
        gather_timeout=15,
    )  # fmt: skip
    closing = ET.fromstring(xml).findall("Say")[-1]
    assert closing.get("language") == say_language
    assert closing.text == reply_text("no_keypress", language, written=False)
    assert closing.text != reply_text("no_keypress", "en", written=False)
