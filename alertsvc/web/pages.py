"""The resident page: a signed short link per person and alert, answered without JavaScript.

``GET /r/{key}/{token}`` shows the alert of delivery ``key`` in the person's language with
the Japanese beside it: level, action, shelter with address, straight-line distance and
walking minutes, and two large buttons (「避難しました・無事です」, 「助けが必要です」) in a plain
HTML form. ``POST`` to the same URL with ``answer=safe|need_help`` records the same
acknowledgement as a keypress (``record_acknowledgement``, via ``web``); "need help" also
queues the duty desk's notice (``alertsvc.duty``).

The token is an HMAC of the key under the ack secret with its own purpose prefix, so it
neither equals nor derives the app's ack token; it is checked before anything is read.
403: a bad token (nothing recorded, nothing looked up). 404: the key names no resident
message. 410: the alert is older than ``webhooks.ack_valid_seconds`` (the link expires
with the alert). A cancelled alert still takes answers: someone who needs help after a
cancellation must still be heard. The page shows nothing beyond what the SMS said: no
name, no address of the person, no support reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, Delivery, Resident, Shelter, utcnow
from alertsvc.dispatch.inbound import Answer, asks_for_answer, record_acknowledgement
from alertsvc.duty import notify_duty
from alertsvc.planning.language import pick_language
from alertsvc.planning.sms import MAX_SEGMENTS, split_sms
from alertsvc.services.lifecycle.quiet_fix import apply_fixes, shelter_fixes
from alertsvc.web.webhook_common import Reject, read_body

__all__ = [
    "MAX_PAGE_BODY",
    "PAGE_TEMPLATES",
    "PAGE_TOKEN_LENGTH",
    "is_resident_alert_sms",
    "page_link",
    "page_routes",
    "page_token",
    "plain_page",
    "refused_page",
    "signed_token",
    "verify_page_token",
    "verify_signed_token",
    "with_page_link",
]

PAGE_TOKEN_LENGTH = 16  # base64url characters: 96 bits, short enough for an SMS
# a page's form is one or two short fields; more is refused (413) without reading it all
MAX_PAGE_BODY = 1024
_PURPOSE = b"alertsvc resident page v1\x00"
_ANSWERS: dict[str, Answer] = {"safe": "safe", "need_help": "need_help"}
# the templates of the resident and supporter pages
PAGE_TEMPLATES = Environment(
    loader=PackageLoader("alertsvc", "templates/pages"),
    autoescape=select_autoescape(["html"]),
)


def signed_token(secret: bytes, purpose: bytes, key: str) -> str:
    """HMAC-SHA256 of ``key`` under ``secret`` with a ``purpose`` prefix (one per kind of
    page), base64url, 16 characters. Raises ``ValueError`` for an empty secret."""
    if not secret:
        raise ValueError("page secret must not be empty")
    digest = hmac.new(secret, purpose + key.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


def verify_signed_token(secret: bytes, purpose: bytes, key: str, token: str) -> bool:
    """True when ``token`` is ``signed_token(secret, purpose, key)`` (constant time);
    never raises."""
    if not secret or len(token) != PAGE_TOKEN_LENGTH:
        return False
    expected = signed_token(secret, purpose, key).encode()
    return hmac.compare_digest(expected, token.encode("utf-8", "replace"))


def page_token(secret: bytes, key: str) -> str:
    """The link token of delivery ``key`` (``signed_token`` with the resident page's
    purpose). Raises ``ValueError`` for an empty secret."""
    return signed_token(secret, _PURPOSE, key)


def verify_page_token(secret: bytes, key: str, token: str) -> bool:
    """True when ``token`` is ``page_token(secret, key)`` (constant time); never raises."""
    return verify_signed_token(secret, _PURPOSE, key, token)


def page_link(public_url: str, secret: bytes, key: str) -> str:
    """The short link put in the SMS of delivery ``key``."""
    return f"{public_url.rstrip('/')}/r/{key}/{page_token(secret, key)}"


def with_page_link(body: str, link: str) -> str | None:
    """``body`` with ``link`` on its own last line, or None when the link would break the
    SMS rules: the body's first part must still be whole in the first part sent (it must
    stand alone on a handset that does not join parts), and the link may add at most one
    part beyond ``MAX_SEGMENTS``. Pure; never raises.
    """
    text = f"{body}\n{link}"
    first = split_sms(body)[0]
    parts = split_sms(text)
    if not parts[0].startswith(first) or len(parts) > MAX_SEGMENTS + 1:
        return None
    return text


def is_resident_alert_sms(data: tuple[tuple[str, str], ...]) -> bool:
    """True for a resident's own alert message, judged by its data: planning gives those
    an ``action``; cancellations (``cancels``), supporter notices and duty notices
    (``duty_for``) get no page."""
    keys = {k for k, _ in data}
    return "action" in keys and not keys & {"cancels", "duty_for"}


@cache
def _texts() -> dict[str, dict[str, str]]:
    raw = files("alertsvc").joinpath("templates/pages/page_texts.toml").read_text("utf-8")
    return tomllib.loads(raw)


def _text(text_id: str, language: str) -> str:
    table = _texts()[text_id]
    return table.get(language) or table["ja"]


def answer_line(link: str, language: str) -> str:
    """The line that offers the page in a written message (e-mail): the two answers in the
    person's language, then in Japanese when that is another language, then the link."""
    lines = [f"{_text('safe_button', language)} / {_text('help_button', language)}:"]
    if language != "ja":
        lines.append(f"{_text('safe_button', 'ja')} / {_text('help_button', 'ja')}:")
    return "\n".join([*lines, link])


@dataclass(frozen=True, slots=True)
class _View:
    language: str
    level: int
    action: str
    body: str
    exercise: bool
    cancelled: bool
    shelter_name: str
    shelter_address: str
    distance_m: int | None
    walk_min: int | None


def page_routes(engine: Engine, settings: Settings, *, secret: bytes) -> list[Route]:
    """The routes of the resident page, to add to the webhook app. Raises ``ValueError``
    for an empty secret."""
    if not secret:
        raise ValueError("secret must not be empty")
    valid_for = dt.timedelta(seconds=settings.webhooks.ack_valid_seconds)
    speed = settings.targeting.walking_speed_m_per_min

    def load(key: str) -> _View | int:
        """The page's content, or the HTTP status refusing it (404, 410)."""
        with session_scope(engine) as s:
            found = s.execute(
                select(Delivery, Alert)
                .join(Alert, Alert.id == Delivery.alert_id)
                .where(Delivery.key == key)
            ).first()
            if found is None:
                return 404
            row, alert = found
            # a resident's own message that asks for an answer (an update's new level
            # does; a 取消し, 訂正 or 解除 does not)
            if row.recipient != "resident" or not asks_for_answer(row.is_cancellation, alert.kind):
                return 404
            if alert.created_at + valid_for < utcnow():
                return 410
            data = {str(p[0]): str(p[1]) for p in (row.data or [])}
            shelter = s.get(Shelter, data.get("shelter_id", "")) if data.get("shelter_id") else None
            person = s.get(Resident, row.resident_id)
            distance = walk = None
            if shelter is not None and person is not None and person.lat is not None:
                assert person.lon is not None
                distance = round(_metres(person.lat, person.lon, shelter.lat, shelter.lon), -1)
                walk = max(1, math.ceil(distance / speed))
            return _View(
                language=pick_language(row.language),
                level=row.level,
                action=data.get("action", "evacuate"),
                # a quietly fixed shelter name or address reads as fixed here too, also
                # in a message that went out before the fix (#9 item 6)
                body=apply_fixes(row.body, shelter_fixes(s, shelter.id)) if shelter else row.body,
                exercise=alert.exercise,
                cancelled=alert.state == "cancelled",
                shelter_name=shelter.name if shelter else "",
                shelter_address=shelter.address if shelter else "",
                distance_m=int(distance) if distance is not None else None,
                walk_min=walk,
            )

    def answer(key: str, value: Answer) -> None:
        with session_scope(engine) as s:
            if record_acknowledgement(s, key=key, answer=value, via="web") and value == "need_help":
                row = s.execute(
                    select(Delivery.alert_id, Delivery.resident_id).where(Delivery.key == key)
                ).one()
                notify_duty(
                    s,
                    settings.duty,
                    alert_id=row.alert_id,
                    resident_id=row.resident_id,
                    answered_by="resident",
                    via="web",
                )

    async def page(request: Request) -> Response:
        key = str(request.path_params.get("key", ""))
        token = str(request.path_params.get("token", ""))
        # the token first: a forged link learns nothing, not even whether the key exists
        if len(key) > 64 or not verify_page_token(secret, key, token):
            return plain_page(403, "このリンクは無効です / This link is not valid.")
        answered: Answer | None = None
        if request.method == "POST":
            try:
                body = await read_body(request, limit=MAX_PAGE_BODY)
            except Reject:
                return plain_page(413, "too large")
            form = dict(parse_qsl(body.decode("utf-8", "replace")))
            value = _ANSWERS.get(form.get("answer", ""))
            if value is None:
                return plain_page(422, "answer: expected safe or need_help")
            view = load(key)
            if isinstance(view, int):
                return refused_page(view)
            answer(key, value)
            answered = value
        else:
            view = load(key)
            if isinstance(view, int):
                return refused_page(view)
        return HTMLResponse(_render(view, answered, str(request.url.path)))

    return [Route("/r/{key}/{token}", page, methods=["GET", "POST"])]


def _render(view: _View, answered: Answer | None, action_url: str) -> str:
    lang = view.language

    def both(text_id: str, **fmt: Any) -> dict[str, str]:
        own = _text(text_id, lang).format(**fmt)
        ja = _text(text_id, "ja").format(**fmt)
        return {"own": own, "ja": ja if ja != own else ""}

    return PAGE_TEMPLATES.get_template("resident.html").render(
        v=view,
        lang=lang,
        both=both,
        answered=answered,
        action_url=action_url,
    )


def refused_page(status: int) -> Response:
    """The plain page refusing a link: 410 the alert has ended, else 404."""
    if status == 410:
        return plain_page(410, "この避難情報は終了しました / This alert has ended.")
    return plain_page(404, "見つかりません / Not found.")


def plain_page(status: int, text: str) -> Response:
    """A minimal, bilingual page with ``status`` (the resident and supporter pages)."""
    html = (
        '<!DOCTYPE html><html lang="ja"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{status}</title><p style="font-size:1.4em">{text}</p></html>'
    )
    return HTMLResponse(html, status_code=status)


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))
