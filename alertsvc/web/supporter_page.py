"""The supporter page: one signed link per supporter digest, answered per person without JS.

``GET /s/{key}/{token}`` lists the people supporter digest ``key`` named (Japanese first,
English beside it): name, address, action, and each one's current state — 無事と回答
(answered safe), 助けが必要 (need help), 未回答 (no answer yet), 連絡手段なし (not
reachable) — and the supporter's own last answer. Each person is one separate
``<form method="post">`` holding ``<input type="hidden" name="person" value="ID">`` and
three submit buttons ``<button name="answer" value="safe|cannot_reach|helping">``
(無事を確認 / 連絡がつかない / 支援中). ``POST`` records the supporter's answer
(``record_supporter_answer``: the supporter's, never the person's own); "cannot_reach"
also queues the duty desk's notice (``alertsvc.duty``, as a resident's "need help" does).

The token is an HMAC of the digest key under the ack secret with its own purpose prefix
(neither the resident page's nor the app's token). 403: a bad token, or a person the
digest did not name (nothing recorded). 404: the key is no digest. 410: the alert is
older than ``webhooks.ack_valid_seconds`` (the link expires with the alert).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import parse_qsl

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import (
    Acknowledgement,
    Alert,
    AlertTarget,
    Delivery,
    Resident,
    Shelter,
    utcnow,
)
from alertsvc.dispatch.inbound import (
    SUPPORTER_ANSWERS,
    SupporterAnswer,
    digest_people,
    record_supporter_answer,
)
from alertsvc.duty import notify_duty
from alertsvc.planning.supporters import action_text
from alertsvc.web.pages import (
    MAX_PAGE_BODY,
    PAGE_TEMPLATES,
    PAGE_TOKEN_LENGTH,
    plain_page,
    refused_page,
    signed_token,
    verify_signed_token,
)
from alertsvc.web.webhook_common import Reject, read_body

__all__ = [
    "STATE_LABELS",
    "SUPPORTER_TOKEN_LENGTH",
    "supporter_link",
    "supporter_page_routes",
    "supporter_token",
    "verify_supporter_token",
]

SUPPORTER_TOKEN_LENGTH = PAGE_TOKEN_LENGTH
_PURPOSE = b"alertsvc supporter page v1\x00"
# the person's state, as the supporter sees it (Japanese / English)
STATE_LABELS: dict[str, tuple[str, str]] = {
    "need_help": ("助けが必要", "needs help"),
    "cannot_reach": ("連絡がつかない（支援者）", "supporter cannot reach"),
    "safe": ("無事と回答", "answered safe"),
    "no_answer": ("未回答", "no answer yet"),
    "not_reachable": ("連絡手段なし", "not reachable"),
}
ANSWER_LABELS: dict[str, tuple[str, str]] = {
    "safe": ("無事を確認", "Confirmed safe"),
    "cannot_reach": ("連絡がつかない", "Cannot reach"),
    "helping": ("支援中", "Helping now"),
}


def supporter_token(secret: bytes, key: str) -> str:
    """The link token of digest ``key`` (``pages.signed_token`` with the supporter page's
    own purpose). Raises ``ValueError`` for an empty secret."""
    return signed_token(secret, _PURPOSE, key)


def verify_supporter_token(secret: bytes, key: str, token: str) -> bool:
    """True when ``token`` is ``supporter_token(secret, key)`` (constant time); never raises."""
    return verify_signed_token(secret, _PURPOSE, key, token)


def supporter_link(public_url: str, secret: bytes, key: str) -> str:
    """The link put in supporter digest ``key``."""
    return f"{public_url.rstrip('/')}/s/{key}/{supporter_token(secret, key)}"


@dataclass(frozen=True, slots=True)
class _Person:
    resident_id: str
    name: str
    address: str
    action: str
    state: str  # a key of STATE_LABELS
    answer: str  # the supporter's last answer ("" none)


@dataclass(frozen=True, slots=True)
class _View:
    level: int
    exercise: bool
    cancelled: bool
    people: tuple[_Person, ...]


def _state(session: Session, alert_ids: list[str], resident_id: str) -> str:
    targets = list(
        session.scalars(
            select(AlertTarget).where(
                AlertTarget.alert_id.in_(alert_ids), AlertTarget.resident_id == resident_id
            )
        )
    )
    helps = session.scalars(
        select(Acknowledgement.id).where(
            Acknowledgement.alert_id.in_(alert_ids),
            Acknowledgement.resident_id == resident_id,
            Acknowledgement.answer == "need_help",
        )
    ).first()
    if helps is not None or any(t.ack_answer == "need_help" for t in targets):
        return "need_help"
    if any(t.acknowledged_at is not None for t in targets):
        return "safe"
    if targets and not any(t.reachable for t in targets):
        return "not_reachable"
    return "no_answer"


def _shelters(session: Session, alert_ids: list[str], people: list[str]) -> dict[str, str]:
    """The shelter name each person's own message named (resident id -> name)."""
    ids: dict[str, str] = {}
    for rid, data in session.execute(
        select(Delivery.resident_id, Delivery.data).where(
            Delivery.alert_id.in_(alert_ids),
            Delivery.recipient == "resident",
            Delivery.resident_id.in_(people),
        )
    ):
        shelter = {str(k): str(v) for k, v, *_ in (data or [])}.get("shelter_id", "")
        if shelter:
            ids[rid] = shelter
    found = session.execute(
        select(Shelter.id, Shelter.name).where(Shelter.id.in_(set(ids.values())))
    )
    names: dict[str, str] = {str(row[0]): str(row[1]) for row in found}
    return {rid: names.get(sid, "") for rid, sid in ids.items()}


def supporter_page_routes(engine: Engine, settings: Settings, *, secret: bytes) -> list[Route]:
    """The supporter page's route, to add to the webhook app. Raises ``ValueError`` for
    an empty secret."""
    if not secret:
        raise ValueError("secret must not be empty")
    valid_for = dt.timedelta(seconds=settings.webhooks.ack_valid_seconds)

    def load(key: str) -> _View | int:
        with session_scope(engine) as s:
            found = s.execute(
                select(Delivery, Alert)
                .join(Alert, Alert.id == Delivery.alert_id)
                .where(Delivery.key == key)
            ).first()
            if found is None:
                return 404
            row, alert = found
            named = digest_people(s, key)
            if row.recipient != "supporter" or not named:
                return 404
            if alert.created_at + valid_for < utcnow():
                return 410
            root = alert.parent_id if alert.kind != "alert" and alert.parent_id else alert.id
            family = [root, *s.scalars(select(Alert.id).where(Alert.parent_id == root))]
            residents = {
                r.id: r
                for r in s.scalars(
                    select(Resident).where(Resident.id.in_([d.resident_id for d in named]))
                )
            }
            shelters = _shelters(s, family, [d.resident_id for d in named])
            mine: dict[str, str] = {}
            for rid, answer in s.execute(
                select(Acknowledgement.resident_id, Acknowledgement.answer)
                .where(Acknowledgement.delivery_key == key)
                .order_by(Acknowledgement.id)
            ):
                mine[rid] = answer
            people = []
            for d in named:
                r = residents.get(d.resident_id)
                state = _state(s, family, d.resident_id)
                if mine.get(d.resident_id) == "cannot_reach" and state != "need_help":
                    state = "cannot_reach"
                people.append(
                    _Person(
                        resident_id=d.resident_id,
                        name=r.name if r else d.resident_id,
                        address=r.address if r else "",
                        action=action_text(
                            d.action, shelters.get(d.resident_id, ""), (r.floor or 0) if r else 0
                        )
                        if d.action
                        else "",
                        state=state,
                        answer=mine.get(d.resident_id, ""),
                    )
                )
            states = s.scalars(select(Alert.state).where(Alert.id.in_(family)))
            return _View(
                level=row.level,
                exercise=alert.exercise,
                cancelled=any(st != "active" for st in states),
                people=tuple(people),
            )

    def answer(key: str, resident_id: str, value: SupporterAnswer) -> bool:
        with session_scope(engine) as s:
            alert_id = record_supporter_answer(
                s, key=key, resident_id=resident_id, answer=value, via="web"
            )
            if alert_id is None:
                return False
            if value == "cannot_reach":
                notify_duty(
                    s,
                    settings.duty,
                    alert_id=alert_id,
                    resident_id=resident_id,
                    answered_by="supporter",
                    via="web",
                )
            return True

    async def page(request: Request) -> Response:
        key = str(request.path_params.get("key", ""))
        token = str(request.path_params.get("token", ""))
        # the token first: a forged link learns nothing, not even whether the key exists
        if len(key) > 64 or not verify_supporter_token(secret, key, token):
            return plain_page(403, "このリンクは無効です / This link is not valid.")
        done: tuple[str, str] | None = None
        if request.method == "POST":
            try:
                body = await read_body(request, limit=MAX_PAGE_BODY)
            except Reject:
                return plain_page(413, "too large")
            form = dict(parse_qsl(body.decode("utf-8", "replace")))
            value = form.get("answer", "")
            person = form.get("person", "")
            # PostgreSQL text cannot hold NUL: refuse it here, not as a 500 later
            if value not in SUPPORTER_ANSWERS or not person or len(person) > 64 or "\x00" in person:
                return plain_page(422, "answer: expected safe, cannot_reach or helping")
            view = load(key)
            if isinstance(view, int):
                return refused_page(view)
            # record_supporter_answer refuses a person the digest did not name
            if not answer(key, person, value):
                return plain_page(403, "この方はあなたの一覧にありません / Not on your list.")
            done = (person, value)
        view = load(key)
        if isinstance(view, int):
            return refused_page(view)
        html = PAGE_TEMPLATES.get_template("supporter.html").render(
            v=view,
            states=STATE_LABELS,
            answers=ANSWER_LABELS,
            done=done,
            action_url=str(request.url.path),
        )
        return HTMLResponse(html)

    return [Route("/s/{key}/{token}", page, methods=["GET", "POST"])]
