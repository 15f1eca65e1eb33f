"""Jinja2 rendering of the per-person, supporter and cancellation messages (pure).

Templates live in ``alertsvc/templates/<language>/<name>.j2``. The environment uses
``StrictUndefined`` (a missing variable is a bug, not an empty string) and no autoescape:
every output is plain text, and escaping for TwiML is the voice adapter's job.

Template lines are stripped and joined (``language.JOINERS``: nothing in Japanese and
Chinese, one space elsewhere), so templates can put each sentence on its own line and
wrap optional parts in ``{% if %}`` blocks. In exercise mode ``【訓練】`` is put in front of
every title and body here, in code, so no template can forget it.

SMS follow the loudspeaker order (level and action first, then where and why) and must fit
``MAX_SEGMENTS`` parts; when a text is longer, optional tail parts are dropped in the order
of ``SMS_SHORTENING`` until it fits. The head is never cut.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from alertsvc.models import ChannelName
from alertsvc.planning.language import JOINERS, VOICE_LANGUAGES, pick_language
from alertsvc.planning.sms import MAX_SEGMENTS, sms_segments

__all__ = [
    "EXERCISE_PREFIX",
    "NOTICE_TEMPLATES",
    "SMS_SHORTENING",
    "RenderCache",
    "RenderedMessage",
    "render_cancellation",
    "render_message",
    "render_notice",
    "render_text",
]

EXERCISE_PREFIX = "【訓練】"

# optional parts, all on first; each step turns one more off (address, why, walk, reply)
SMS_SHORTENING: tuple[dict[str, bool], ...] = (
    {"with_address": True, "with_why": True, "with_walk": True, "with_reply": True},
    {"with_address": False, "with_why": True, "with_walk": True, "with_reply": True},
    {"with_address": False, "with_why": False, "with_walk": True, "with_reply": True},
    {"with_address": False, "with_why": False, "with_walk": False, "with_reply": True},
    {"with_address": False, "with_why": False, "with_walk": False, "with_reply": False},
)
_ALL_ON = SMS_SHORTENING[0]

_ENV = Environment(
    loader=PackageLoader("alertsvc", "templates"),
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One message for one channel, ready for the outbox."""

    channel: ChannelName
    language: str
    title: str  # push only; "" for SMS and voice
    body: str  # push body, SMS text or voice script (plain text; the adapter reads it twice)
    data: tuple[tuple[str, str], ...] = ()  # push data payload, all strings
    segments: int | None = None  # SMS only
    encoding: str | None = None  # SMS only: "GSM-7" | "UCS-2"
    voice_language: str = "ja-JP"


# written channels that carry the push notification's title and full body (issue 11)
_WRITTEN = frozenset({ChannelName.PUSH, ChannelName.FAX, ChannelName.LINE, ChannelName.EMAIL})


def render_text(language: str, name: str, context: Mapping[str, Any]) -> str:
    """Render ``templates/<language>/<name>.j2`` and join its stripped non-empty lines.

    Raises ``jinja2.TemplateNotFound`` for a missing file and ``jinja2.UndefinedError``
    for a variable the context lacks (both are programming errors).
    """
    raw = _ENV.get_template(f"{language}/{name}.j2").render(**context)
    lines = (line.strip() for line in raw.splitlines())
    return JOINERS.get(language, " ").join(line for line in lines if line)


def _prefixed(text: str, exercise: bool) -> str:
    return f"{EXERCISE_PREFIX}{text}" if exercise and text else text


def _render_sms(language: str, name: str, context: Mapping[str, Any]) -> tuple[str, int, str]:
    text = ""
    count, encoding = 0, ""
    for flags in SMS_SHORTENING:
        text = _prefixed(render_text(language, name, {**context, **flags}), context["exercise"])
        count, encoding = sms_segments(text)
        if count <= MAX_SEGMENTS:
            break
    return text, count, encoding


def render_message(
    channel: ChannelName,
    language: str,
    context: Mapping[str, Any],
    *,
    prefix: str = "",
    data: tuple[tuple[str, str], ...] = (),
) -> RenderedMessage:
    """Render the message for ``channel`` from the ``<prefix>push_title`` / ``push_body`` /
    ``sms`` / ``voice`` templates of ``language`` (``prefix="supporter_"`` for supporters).

    ``context`` must hold ``exercise`` plus whatever the templates use. An SMS that still
    has more than ``MAX_SEGMENTS`` parts after every shortening step is returned as is;
    the caller sees it in ``segments`` and must warn.
    """
    exercise = bool(context["exercise"])
    voice_language = VOICE_LANGUAGES.get(language, "ja-JP")
    if channel is ChannelName.SMS:
        body, count, encoding = _render_sms(language, f"{prefix}sms", context)
        return RenderedMessage(
            channel, language, "", body, data, count, encoding, voice_language=voice_language
        )
    full = {**context, **_ALL_ON}
    if channel in _WRITTEN:
        title = _prefixed(render_text(language, f"{prefix}push_title", full), exercise)
        body = _prefixed(render_text(language, f"{prefix}push_body", full), exercise)
        extra: tuple[tuple[str, str], ...] = data if channel is ChannelName.PUSH else ()
        if channel is ChannelName.EMAIL and language != "ja":
            # the e-mail carries the Japanese text beside the resident's language
            body_ja = _prefixed(render_text("ja", f"{prefix}push_body", full), exercise)
            extra = (("body_ja", body_ja),)
        return RenderedMessage(channel, language, title, body, extra, voice_language=voice_language)
    body = _prefixed(render_text(language, f"{prefix}voice", full), exercise)
    return RenderedMessage(channel, language, "", body, (), voice_language=voice_language)


def _freeze(value: Any) -> Any:
    """A hashable, order-independent image of a context value (dicts, lists, scalars)."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


class RenderCache:
    """``render_message`` remembered per (channel, language, prefix, context).

    Rendering is a pure function of those inputs, so two people whose contexts are equal
    (same level, action, shelter, distance, floor, depth...) share one rendering: the
    text is exactly what ``render_message`` gives, only computed once. ``data`` (the push
    payload, which names the person) is attached per call and is not part of the key.
    Not thread-safe; one cache per planning run.
    """

    __slots__ = ("_done", "_probes", "_quick", "renders", "shelter_text")

    def __init__(self, shelter_text: tuple[int, int] = (0, 0)) -> None:
        self._done: dict[tuple[Any, ...], RenderedMessage] = {}
        self._probes: dict[tuple[Any, ...], bool] = {}
        # the probe's verdict per cheap key (see _probe_key): MAX_SEGMENTS fits, 0 does not
        self._quick: dict[tuple[Any, ...], int] = {}
        # longest shelter name and address (UTF-16 units): the SMS probe's placeholders
        self.shelter_text = shelter_text
        self.renders = 0  # distinct renderings, for tests and profiling

    def render(
        self,
        channel: ChannelName,
        language: str,
        context: Mapping[str, Any],
        *,
        prefix: str = "",
        data: tuple[tuple[str, str], ...] = (),
    ) -> RenderedMessage:
        """As ``render_message`` (same failure modes)."""
        key = (channel, language, prefix, _freeze(context))
        message = self._done.get(key)
        if message is None:
            message = render_message(channel, language, context, prefix=prefix)
            self._done[key] = message
            self.renders += 1
        # the push payload; an SMS keeps it too: it marks the resident's own alert (the
        # SMS channel adds the resident page link by it) and names the page's shelter
        keep = channel in (ChannelName.PUSH, ChannelName.SMS)
        return replace(message, data=data) if data and keep else message

    def sms_segments(self, language: str, context: Mapping[str, Any]) -> int:
        """Parts of the SMS ``render_message`` would give, or a bound that proves it fits.

        The proof renders a probe: the full text (every optional part on) with the floor,
        the shelter's distance and walk written as nines of the same widths, and its name
        and address as "あ" x the longest of any shelter (``shelter_text``, UTF-16 units).
        Every person's full text then has no more characters and no more UTF-16 units than
        the probe (numbers appear verbatim in the templates), so when the probe is within
        ``MAX_SEGMENTS`` parts with a unit to spare per part (a part never splits a
        surrogate pair), the person's SMS fits at the first step and needs no note. GSM-7
        text fits too: at most 2 septets a character, and 153 >= 2 x 67 per part.
        Otherwise the person's own SMS is rendered (cached) and its parts returned.
        """
        quick: tuple[Any, ...] | None
        try:
            quick = (language, *_probe_key(context, self.shelter_text))
        except TypeError:  # an unhashable value: the general key below still works
            quick = None
        if quick is not None:
            known = self._quick.get(quick)
            if known is not None:
                return known if known else self._segments(language, context)
        fits = self._probe_fits(language, context)
        if quick is not None:
            self._quick[quick] = MAX_SEGMENTS if fits else 0
        return MAX_SEGMENTS if fits else self._segments(language, context)

    def _segments(self, language: str, context: Mapping[str, Any]) -> int:
        segments = self.render(ChannelName.SMS, language, context).segments
        return segments or 0

    def _probe_fits(self, language: str, context: Mapping[str, Any]) -> bool:
        shelter = context.get("shelter")
        probe: dict[str, Any] = {
            **context,
            "floor": _nines(context.get("floor", 0)),
            **_ALL_ON,
        }
        if isinstance(shelter, Mapping):
            name_len, address_len = self.shelter_text
            probe["shelter"] = {
                **shelter,
                "name": "あ" * max(name_len, _utf16_len(shelter["name"])),
                "address": "あ" * max(address_len, _utf16_len(shelter["address"])),
                "reading": "",
                "id": "",
                "distance": _nines(shelter["distance"]),
                "walk": _nines(shelter["walk"]),
            }
        key = ("probe", language, _freeze(probe))
        fits = self._probes.get(key)
        if fits is None:
            text = _prefixed(render_text(language, "sms", probe), bool(context["exercise"]))
            budget = MAX_SEGMENTS * _UCS2_PART - MAX_SEGMENTS
            fits = _utf16_len(text) <= budget
            self._probes[key] = fits
        return fits


# the keys of ``plan.message_context`` and of its shelter: _probe_key knows their meaning
_CONTEXT_KEYS = frozenset(
    {"exercise", "level", "action", "municipality", "floor", "shelter", "depth"}
)
_SHELTER_KEYS = frozenset({"id", "name", "reading", "address", "distance", "walk", "welfare"})


def _probe_key(context: Mapping[str, Any], shelter_text: tuple[int, int]) -> tuple[Any, ...]:
    """Everything the SMS probe of ``context`` depends on, as a flat hashable tuple.

    Far cheaper than freezing the probe itself: the shelter's name and address count by
    their probe widths, its numbers by their digit counts (``_nines``). Raises ``TypeError``
    for a context of another shape or with an unhashable value (the caller then freezes
    the probe itself).
    """
    if context.keys() != _CONTEXT_KEYS:
        raise TypeError("not a plan.message_context")
    depth = context["depth"]
    shelter = context["shelter"]
    if not (depth is None or isinstance(depth, Mapping)) or not (
        shelter is None or isinstance(shelter, Mapping)
    ):
        raise TypeError("not a plan.message_context")
    head = (
        context["exercise"],
        context["level"],
        context["action"],
        context["municipality"],
        _nines(context["floor"]),
        None if depth is None else tuple(depth.items()),
    )
    if shelter is None:
        return (*head, None)
    if shelter.keys() != _SHELTER_KEYS:
        raise TypeError("not a plan.message_context shelter")
    name_len, address_len = shelter_text
    key = (
        *head,
        max(name_len, _text_units(shelter["name"])),
        max(address_len, _text_units(shelter["address"])),
        _nines(shelter["distance"]),
        _nines(shelter["walk"]),
        shelter["welfare"],
    )
    hash(key)
    return key


# UTF-16 units per part of a concatenated UCS-2 message (see planning.sms)
_UCS2_PART = 67


@functools.lru_cache(maxsize=8192)
def _text_units(text: str) -> int:
    # a city has a few hundred shelter names and addresses: count each once
    return _utf16_len(text)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _nines(value: Any) -> Any:
    """An int of the same width made of nines (more digits never mean a shorter text)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return int("9" * len(str(value)))
    return value


def render_cancellation(
    channel: ChannelName, language: str, *, municipality: str, exercise: bool, reason: str = ""
) -> tuple[str, str]:
    """(title, body) of the 取消し message for ``channel`` in ``language``.

    The title is "" for SMS and voice; FAX, LINE and e-mail get push's. ``reason`` is the
    officer's free text, shown as given; for SMS it is dropped when it would push the text
    past ``MAX_SEGMENTS`` parts.
    An unknown language falls back like a resident's (ja-easy, then ja).
    """
    language = pick_language(language)
    context: dict[str, Any] = {
        "exercise": exercise,
        "municipality": municipality,
        "reason": reason.strip(),
    }
    if channel in _WRITTEN:
        title = render_text(language, "cancel_push_title", context)
        body = render_text(language, "cancel_push_body", context)
        return _prefixed(title, exercise), _prefixed(body, exercise)
    if channel is ChannelName.SMS:
        body = _prefixed(render_text(language, "cancel_sms", context), exercise)
        if sms_segments(body)[0] > MAX_SEGMENTS:
            body = _prefixed(
                render_text(language, "cancel_sms", {**context, "reason": ""}), exercise
            )
        return "", body
    return "", _prefixed(render_text(language, "cancel_voice", context), exercise)


# prepared notices with a template per language: the correction (訂正) and the all-clear
# (解除), each naming the level it is about (3 高齢者等避難, 4 避難指示, 5 緊急安全確保)
NOTICE_TEMPLATES = ("correction", "clear")


def render_notice(
    kind: str,
    channel: ChannelName,
    language: str,
    *,
    municipality: str,
    level: int,
    exercise: bool,
    text: str = "",
    river: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """(title, body) of the ``kind`` notice (``NOTICE_TEMPLATES``) for ``channel``.

    ``level`` is the alert level the notice is about (3, 4 or 5); ``text`` is the
    officer's correction (last in the text, shown as given, never dropped: the caller
    sees an overlong SMS by its segments); ``river`` (``{"name": ..., "level": 2..5}``)
    names the river flood forecast (レベル2氾濫注意報 … レベル5氾濫特別警報) when the
    alert came from one. The title is "" for SMS and voice; FAX, LINE and e-mail get
    push's. An unknown language falls back like a resident's (ja-easy, then ja).
    Raises ``ValueError`` for an unknown kind.
    """
    if kind not in NOTICE_TEMPLATES:
        raise ValueError(f"unknown notice kind {kind!r}; expected one of {NOTICE_TEMPLATES}")
    language = pick_language(language)
    context: dict[str, Any] = {
        "exercise": exercise,
        "municipality": municipality,
        "level": int(level),
        "text": text.strip(),
        "river": dict(river) if river else None,
    }

    def part(name: str) -> str:
        return _prefixed(render_text(language, kind, {**context, "part": name}), exercise)

    if channel in _WRITTEN:
        return part("title"), part("body")
    if channel is ChannelName.SMS:
        return "", part("sms")
    return "", part("voice")
