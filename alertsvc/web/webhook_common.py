"""Plumbing shared by the webhook routes: refusals, body limits, JSON and TwiML helpers,
and ``WebhookContext`` (the engine, settings and secrets every route works with, plus the
answer, signature and status helpers the Twilio and provider routes share).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from alertsvc.channels.twilio_common import SIGNATURE_HEADER, is_valid_twilio_signature
from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch.inbound import (
    Answer,
    CallbackRefusalHook,
    answer_subject,
    record_acknowledgement,
    record_provider_status,
)
from alertsvc.duty import notify_duty
from alertsvc.models import ChannelName
from alertsvc.planning.language import ReplyTextId, reply_text, voice_language

__all__ = [
    "ANSWERS",
    "CONFIRM",
    "ERROR_CODE_RE",
    "KEYPRESS",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "TOKEN_RE",
    "Handler",
    "Reject",
    "WebhookContext",
    "guarded",
    "loggable",
    "message_twiml",
    "parse_json",
    "read_body",
    "say_twiml",
    "twiml_response",
]

log = logging.getLogger("alertsvc.web")

MAX_BODY_BYTES = 64 * 1024
# an /ack body is one flat object; deeper nesting is refused before json.loads recurses
MAX_JSON_DEPTH = 8

KEYPRESS: dict[str, Answer] = {"1": "safe", "2": "need_help"}
ANSWERS: dict[str, Answer] = {"safe": "safe", "need_help": "need_help"}
CONFIRM: dict[Answer, ReplyTextId] = {"safe": "safe", "need_help": "need_help"}
# delivery keys ("<alert id>:<n>") and provider ids (SM…, CA…): anything else is refused
# or, where it must not be, never logged as given
TOKEN_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
ERROR_CODE_RE = re.compile(r"[0-9]{1,9}")

Handler = Callable[[Request], Awaitable[Response]]


class Reject(Exception):
    """Stop handling the request and answer with ``status`` (nothing has been written)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class WebhookContext:
    """What every webhook route works with; built once by ``create_app``."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        auth_token: str,
        ack_secret: bytes,
        on_refused: CallbackRefusalHook | None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.auth_token = auth_token
        self.ack_secret = ack_secret
        self.on_refused = on_refused

    def answered(self, session: Session, key: str, answer: Answer, via: str) -> bool:
        """Record the answer; a "need help" also queues the duty desk's notice in the
        same transaction (also after a cancellation: the person still needs help)."""
        if not record_acknowledgement(session, key=key, answer=answer, via=via):
            return False
        if answer == "need_help":
            row = session.scalars(select(Delivery).where(Delivery.key == key)).one()
            notify_duty(
                session,
                self.settings.duty,
                alert_id=row.alert_id,
                resident_id=answer_subject(session, row) or row.resident_id,
                answered_by="resident" if row.recipient == "resident" else "supporter",
                via=via,
            )
        return True

    def public_url(self, request: Request) -> str:
        base = str(getattr(request.app.state, "public_url", "") or "").rstrip("/")
        if not base:
            base = f"{request.url.scheme}://{request.url.netloc}"
        query = bytes(request.scope.get("query_string", b"")).decode("latin-1")
        return f"{base}{request.url.path}" + (f"?{query}" if query else "")

    async def signed_form(self, request: Request) -> dict[str, str]:
        body = await read_body(request)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Reject(400, "form body is not UTF-8 form data") from exc
        url = self.public_url(request)
        if not is_valid_twilio_signature(
            self.auth_token, url, pairs, request.headers.get(SIGNATURE_HEADER)
        ):
            log.warning("refused %s: missing or invalid Twilio signature", request.url.path)
            raise Reject(403, "invalid signature")
        # PostgreSQL text cannot hold NUL: refuse it here, not as a DataError later
        if any("\x00" in v for pair in pairs for v in pair) or "\x00" in url:
            raise Reject(400, "NUL character in a parameter")
        form: dict[str, str] = {}
        for name, value in pairs:
            form.setdefault(name, value)
        return form

    def delivery_key(self, request: Request) -> str | None:
        """The ``key`` query parameter: None when absent, 400 when not a delivery key."""
        key = request.query_params.get("key", "")
        if not key:
            return None
        if not TOKEN_RE.fullmatch(key):
            raise Reject(400, "key: expected a delivery key")
        return key

    def apply_status(
        self, key: str | None, ref: str | None, status: str, code: int | None, channel: ChannelName
    ) -> bool:
        with session_scope(self.engine) as session:
            return record_provider_status(
                session,
                provider_ref=ref,
                key=key,
                status=status,
                error_code=code,
                on_refused=self.on_refused,
                channel=channel,
            )


def guarded(handler: Handler) -> Handler:
    """Turn ``_Reject`` into its status and any other error into a bare 500.

    Only the exception type is logged: database errors quote the statement's parameters,
    which may hold phone numbers. The session was rolled back by ``session_scope``.
    """

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Reject as rej:
            return JSONResponse({"error": rej.detail}, status_code=rej.status)
        except Exception as exc:
            log.error("webhook %s failed: %s", request.url.path, type(exc).__name__)
            return JSONResponse({"error": "internal error"}, status_code=500)

    return run


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes without reading it all
    (a declared Content-Length over it is refused before a byte is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Reject(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Reject(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """``json.loads`` that refuses, with 422, what it would choke on: non-UTF-8, bad JSON,
    numbers too long to convert, and nesting past ``MAX_JSON_DEPTH`` (checked before
    parsing, because json's recursion would raise ``RecursionError``)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                raise Reject(422, f"JSON nested deeper than {MAX_JSON_DEPTH}")
        elif byte in (0x5D, 0x7D):
            depth -= 1
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Reject(422, "body is not JSON") from exc
    return doc


def loggable(value: str) -> str:
    """``value`` when it is a plain token, else a fixed marker: request text never reaches
    a log line as given (no forged lines, no phone numbers)."""
    return value if TOKEN_RE.fullmatch(value) else "(invalid)"


def say_twiml(text_id: ReplyTextId, language: str | None, voice: str) -> str:
    """One ``<Say>`` of a reply text in the resident's language; the configured voice
    only reads Japanese, so other languages use Twilio's default voice."""
    say_language = voice_language(language)
    voice_attr = f" voice={quoteattr(voice)}" if say_language == "ja-JP" and voice else ""
    text = reply_text(text_id, language, written=False)
    return f"<Say language={quoteattr(say_language)}{voice_attr}>{escape(text)}</Say>"


def message_twiml(text_id: ReplyTextId, language: str | None) -> str:
    return f"<Message>{escape(reply_text(text_id, language, written=True))}</Message>"


def twiml_response(inner: str) -> Response:
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return Response(xml, media_type="text/xml; charset=utf-8")
