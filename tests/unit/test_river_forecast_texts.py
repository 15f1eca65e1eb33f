"""An alert raised on a river flood forecast names it, in every language (#9)."""

from __future__ import annotations

from typing import Any

import pytest

from alertsvc.models import LANGUAGES, ChannelName, RiverForecast
from alertsvc.planning.render import render_message

FORECAST = {
    "ja": "レベル4氾濫危険警報",
    "en": "Level 4 Flood Danger Warning",
}


def _context(river: RiverForecast | None) -> dict[str, Any]:
    return {
        "exercise": False,
        "level": 4,
        "action": "evacuate",
        "municipality": "直方市",
        "floor": 1,
        "shelter": None,
        "depth": None,
        "river": river.as_dict() if river else None,
    }


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_push_and_sms_name_the_river_forecast(language: str) -> None:
    river = RiverForecast("遠賀川", 4)
    for channel in (ChannelName.PUSH, ChannelName.SMS):
        with_river = render_message(channel, language, _context(river)).body
        without = render_message(channel, language, _context(None)).body
        assert "遠賀川" in with_river and "遠賀川" not in without, (channel, with_river)
        if language in FORECAST:
            assert FORECAST[language] in with_river


def test_a_scope_keeps_its_river_through_a_draft() -> None:
    assert RiverForecast.from_dict({"name": "遠賀川", "level": 4}) == RiverForecast("遠賀川", 4)
    for bad in (None, {}, {"name": ""}, {"name": "x", "level": 9}, {"name": "x", "level": "?"}):
        assert RiverForecast.from_dict(bad) is None
