"""The resident-facing words of a CAP ``info``: headline and instruction per language,
rendered from the same templates (and notice texts) the residents' messages use.

CAP wants a generic text for everyone in the area, so the per-person parts (shelter,
depth, floor) are left out: the instruction is the message a resident without a known
shelter would read — "go to a safe place nearby now" (levels 3, 4) or "secure your
safety now" (level 5). Notices use their own texts: the 取消し templates, and
``services.lifecycle.notice_text`` for corrections and all-clears.
"""

from __future__ import annotations

from typing import Any

from alertsvc.config import Settings
from alertsvc.db.tables import Alert
from alertsvc.models import ChannelName, RiverForecast
from alertsvc.planning.render import EXERCISE_PREFIX, render_cancellation, render_text

__all__ = ["CAP_LANGUAGES", "resident_texts"]

# our language code -> CAP ``language`` (xs:language, RFC 3066/BCP 47). やさしい日本語 has
# no registered subtag: a private-use one keeps it valid and distinct from plain ja.
CAP_LANGUAGES: dict[str, str] = {
    "ja": "ja",
    "ja-easy": "ja-x-easy",
    "en": "en",
    "zh": "zh",
    "ko": "ko",
    "vi": "vi",
    "pt": "pt",
    "tl": "tl",
}


def _prefixed(text: str, exercise: bool) -> str:
    return f"{EXERCISE_PREFIX}{text}" if exercise and text else text


def resident_texts(language: str, alert: Alert, settings: Settings) -> tuple[str, str]:
    """(headline, instruction) of ``alert`` in ``language``, 【訓練】 first on exercises."""
    city = settings.municipality.name
    scope = alert.scope or {}
    if alert.kind == "cancellation":
        return render_cancellation(
            ChannelName.PUSH, language, municipality=city, exercise=alert.exercise,
            reason=str(scope.get("reason") or ""),
        )  # fmt: skip
    if alert.kind in ("clear", "correction"):
        from alertsvc.services.lifecycle import notice_text

        body = notice_text(
            language, alert.kind, city=city, level=alert.level, exercise=alert.exercise,
            text=str(scope.get("text") or ""),
        )  # fmt: skip
        return body, body
    river = RiverForecast.from_dict(scope.get("river"))
    context: dict[str, Any] = {
        "exercise": alert.exercise,
        "level": alert.level,
        "municipality": city,
        "action": "secure_now" if alert.level >= 5 else "evacuate",
        "shelter": None,
        "depth": None,
        "floor": None,
        "river": river.as_dict() if river is not None else None,
    }
    title = _prefixed(render_text(language, "push_title", context), alert.exercise)
    body = _prefixed(render_text(language, "push_body", context), alert.exercise)
    return title, body
