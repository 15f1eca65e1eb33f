"""The prepared correction (訂正) and all-clear (解除) notices (#9 item 5): one per kind,
level and language, in the resident templates, each naming its level."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment, PackageLoader

from alertsvc.models import ChannelName
from alertsvc.planning.language import available_languages
from alertsvc.planning.render import EXERCISE_PREFIX, NOTICE_TEMPLATES, render_notice
from alertsvc.planning.sms import MAX_SEGMENTS, sms_segments

LANGUAGES = sorted(available_languages())
LEVELS = (3, 4, 5)
RIVER_LEVELS = (2, 3, 4, 5)
CITY = "直方市"
# an officer's correction of typical length: the new shelter with its address
TEXT = "避難先は直方市立植木小学校体育館（直方市植木1000番地）に変更します。"
CHANNELS = (ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE, ChannelName.FAX,
            ChannelName.LINE, ChannelName.EMAIL)  # fmt: skip
_ENV = Environment(loader=PackageLoader("alertsvc", "templates"))


def _macro(language: str, macro: str, level: int) -> str:
    source = f'{{% import "{language}/_common.j2" as c %}}{{{{ c.{macro}({level}) }}}}'
    return _ENV.from_string(source).render()


def test_every_language_has_the_prepared_notices() -> None:
    assert {"ja", "ja-easy", "en", "zh", "ko", "vi", "pt", "tl"} <= set(LANGUAGES)
    assert set(NOTICE_TEMPLATES) == {"correction", "clear"}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("kind", NOTICE_TEMPLATES)
def test_every_kind_level_and_language_renders_and_names_its_level(
    kind: str, level: int, language: str
) -> None:
    label = _macro(language, "label", level)
    assert label and "避難勧告" not in label
    for channel in CHANNELS:
        for exercise in (False, True):
            title, body = render_notice(
                kind, channel, language, municipality=CITY, level=level, exercise=exercise,
                text=TEXT if kind == "correction" else "",
            )  # fmt: skip
            assert body.strip(), (kind, level, language, channel)
            assert "避難勧告" not in title + body
            # the level is named: its number and its official name in this language
            assert str(level) in body and label in body, (kind, language, channel, body)
            if channel is ChannelName.SMS:
                assert title == ""
                parts, _encoding = sms_segments(body)
                assert parts <= MAX_SEGMENTS, (kind, level, language, parts, body)
            elif channel is ChannelName.VOICE:
                assert title == ""
            else:
                assert title.strip()
            if exercise:
                assert body.startswith(EXERCISE_PREFIX)
                assert not title or title.startswith(EXERCISE_PREFIX)
            if kind == "correction":
                assert body.endswith(TEXT)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("river_level", RIVER_LEVELS)
@pytest.mark.parametrize("kind", NOTICE_TEMPLATES)
def test_river_forecast_is_named_with_the_2026_names(
    kind: str, river_level: int, language: str
) -> None:
    forecast = _macro(language, "river_forecast", river_level)
    assert forecast and str(river_level) in forecast
    for channel in (ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE):
        _title, body = render_notice(
            kind, channel, language, municipality=CITY, level=4, exercise=True,
            text=TEXT if kind == "correction" else "",
            river={"name": "遠賀川", "level": river_level},
        )  # fmt: skip
        assert "遠賀川" in body and forecast in body
        assert "避難勧告" not in body
        if channel is ChannelName.SMS:
            assert sms_segments(body)[0] <= MAX_SEGMENTS, body


def test_japanese_names_are_the_official_ones() -> None:
    names = [_macro("ja", "river_forecast", n) for n in RIVER_LEVELS]
    assert names == ["レベル2氾濫注意報", "レベル3氾濫警報", "レベル4氾濫危険警報",
                     "レベル5氾濫特別警報"]  # fmt: skip
    bodies = {n: render_notice("clear", ChannelName.SMS, "ja", municipality=CITY, level=n,
                               exercise=False)[1] for n in LEVELS}  # fmt: skip
    assert bodies[3].startswith("【解除】直方市：警戒レベル3 高齢者等避難")
    assert "警戒レベル4 避難指示" in bodies[4] and "警戒レベル5 緊急安全確保" in bodies[5]


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown notice kind"):
        render_notice("update", ChannelName.SMS, "ja", municipality=CITY, level=4,
                      exercise=False)  # fmt: skip


_LINE = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=60,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=60, deadline=None)
@given(text=_LINE, language=st.sampled_from(LANGUAGES), level=st.sampled_from(LEVELS))
def test_the_officers_correction_is_carried_verbatim_last(
    text: str, language: str, level: int
) -> None:
    for channel in (ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE):
        _title, body = render_notice("correction", channel, language, municipality=CITY,
                                     level=level, exercise=False, text=text)  # fmt: skip
        assert body.endswith(text)
