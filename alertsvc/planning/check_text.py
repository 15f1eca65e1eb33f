"""The pre-season check's message (``alertsvc registry check``): pure.

The texts are one table, ``alertsvc/templates/check.toml`` (channel text x language). Every
text starts with 【訓練】, put in front here in code, so no table row can forget it. The
check asks for nothing (no keypress, no reply): it only finds out whether a channel works.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

from alertsvc.models import ChannelName
from alertsvc.planning.language import pick_language
from alertsvc.planning.render import EXERCISE_PREFIX

__all__ = ["CHECK_TEXT_IDS", "render_check"]

CHECK_TEXT_IDS: tuple[str, ...] = ("sms", "voice", "title", "body")

# channels that carry a title and a written body (the push notification's shape)
_WRITTEN = frozenset({ChannelName.PUSH, ChannelName.FAX, ChannelName.LINE, ChannelName.EMAIL})


@cache
def _table() -> dict[str, dict[str, str]]:
    raw = files("alertsvc").joinpath("templates/check.toml").read_text("utf-8")
    return tomllib.loads(raw)


def _text(text_id: str, language: str, municipality: str) -> str:
    row = _table()[text_id]
    return EXERCISE_PREFIX + (row.get(language) or row["ja"]).format(municipality=municipality)


def render_check(channel: ChannelName, language: str, municipality: str) -> tuple[str, str]:
    """(title, body) of the check message for ``channel`` in the resident's ``language``.

    The title is "" for SMS and voice. An unknown language falls back like a resident's
    (やさしい日本語, then Japanese). Never raises for data reasons.
    """
    lang = pick_language(language)
    if channel in _WRITTEN:
        return _text("title", lang, municipality), _text("body", lang, municipality)
    if channel is ChannelName.SMS:
        return "", _text("sms", lang, municipality)
    return "", _text("voice", lang, municipality)
