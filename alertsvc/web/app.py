"""The webhook and acknowledgement app (Starlette).

Endpoints (POST unless noted):

* ``/twilio/sms/status``, ``/twilio/voice/status``: Twilio status callbacks -> the
  delivery's state (``record_provider_status``). 204.
* ``/twilio/voice/gather?key=K``: the keypress of an alert call. 1 = safe, 2 = need help;
  anything else is asked once more, then the call closes. TwiML.
* ``/twilio/sms/inbound``: an SMS reply (1 / 2 / 無事 / 助けて / …) matched to the latest
  SMS or call that reached the sending number (``reply_targets``: a "safe" from a number
  several residents share marks nobody; a "need help" marks all of them). TwiML.
* ``/ack``: the resident's app, JSON ``{"key", "answer", "token"}`` with
  ``token = ack_token(secret, key)``. 204, 403 bad token, 404 unknown key, 422 malformed.
* ``GET /healthz``: 200 ``{"ok": true}``.

Twilio requests must carry a valid ``X-Twilio-Signature`` computed over the PUBLIC URL
Twilio called (``webhooks.public_url`` + path + query: a proxy may sit in front, so the
URL this process sees is not the one Twilio signed); anything else is refused with 403
before a single row is touched. Each request changes state in one transaction; an error
is a 500 with nothing written. Bodies over 64 KiB are refused with 413. Logs never carry
a full phone number or token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alertsvc.acks import verify_ack_token
from alertsvc.channels.twilio_common import SIGNATURE_HEADER, is_valid_twilio_signature
from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.dispatch.inbound import (
    Answer,
    CallbackRefusalHook,
    parse_reply,
    record_acknowledgement,
    record_provider_status,
    reply_targets,
)
from alertsvc.redact import mask_phone

__all__ = [
    "MAX_BODY_BYTES",
    "MSG_ASK_AGAIN",
    "MSG_CLOSING",
    "MSG_NEED_HELP",
    "MSG_NOT_RECORDED",
    "MSG_SAFE",
    "MSG_SHARED_NUMBER",
    "MSG_SMS_INSTRUCTIONS",
    "create_app",
]

log = logging.getLogger("alertsvc.web")

MAX_BODY_BYTES = 64 * 1024

# Resident-facing words, spoken by <Say language="ja-JP"> or sent as an SMS reply.
MSG_SAFE = "ありがとうございました。安全にお過ごしください。"
MSG_NEED_HELP = "支援が必要なことを市に伝えました。"
MSG_ASK_AGAIN = "無事なら1を、助けが必要なら2を押してください。"
MSG_CLOSING = "応答を受け付けられませんでした。緊急の場合は119番に電話してください。"
MSG_NOT_RECORDED = "応答を記録できませんでした。緊急の場合は119番に電話してください。"
MSG_SMS_INSTRUCTIONS = "無事なら1、助けが必要なら2を返信してください"
# a "safe" reply from a number several residents share: we cannot tell who answered
MSG_SHARED_NUMBER = (
    "この番号は複数の方が登録されています。お一人ずつ市から確認の連絡をします。"
    "緊急の場合は119番に電話してください。"
)

_KEYPRESS: dict[str, Answer] = {"1": "safe", "2": "need_help"}
_ANSWERS: dict[str, Answer] = {"safe": "safe", "need_help": "need_help"}

Handler = Callable[[Request], Awaitable[Response]]


class _Reject(Exception):
    """Stop handling the request and answer with ``status`` (nothing has been written)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def create_app(
    engine: Engine,
    settings: Settings,
    *,
    auth_token: str,
    ack_secret: bytes,
    on_refused: CallbackRefusalHook | None = None,
) -> Starlette:
    """Build the webhook app on ``engine``.

    ``auth_token`` is the Twilio auth token the signatures are checked with (see
    ``alertsvc.channels.twilio_common.twilio_auth_token``); ``ack_secret`` keys the app
    acknowledgement tokens (``alertsvc.acks``). ``app.state.public_url`` is the base
    URL Twilio calls; it starts as ``settings.webhooks.public_url`` and, when that is
    empty, the request's own URL is trusted (``WebhookServer`` fills in its bound URL).
    ``on_refused`` records what a failing status callback says about the contact
    (``alertsvc.registry.store.record_refusal``).
    Raises ``ValueError`` for an empty auth token or secret: every request would fail.
    """
    if not auth_token:
        raise ValueError("auth_token must not be empty")
    if not ack_secret:
        raise ValueError("ack_secret must not be empty")
    voice = settings.twilio.voice
    gather_timeout = settings.twilio.gather_timeout_seconds

    def public_url(request: Request) -> str:
        base = str(getattr(request.app.state, "public_url", "") or "").rstrip("/")
        if not base:
            base = f"{request.url.scheme}://{request.url.netloc}"
        query = bytes(request.scope.get("query_string", b"")).decode("latin-1")
        return f"{base}{request.url.path}" + (f"?{query}" if query else "")

    async def signed_form(request: Request) -> dict[str, str]:
        body = await _read_body(request)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Reject(400, "form body is not UTF-8 form data") from exc
        url = public_url(request)
        if not is_valid_twilio_signature(
            auth_token, url, pairs, request.headers.get(SIGNATURE_HEADER)
        ):
            log.warning("refused %s: missing or invalid Twilio signature", request.url.path)
            raise _Reject(403, "invalid signature")
        form: dict[str, str] = {}
        for name, value in pairs:
            form.setdefault(name, value)
        return form

    def apply_status(key: str | None, ref: str | None, status: str, code: int | None) -> bool:
        with session_scope(engine) as session:
            return record_provider_status(
                session,
                provider_ref=ref,
                key=key,
                status=status,
                error_code=code,
                on_refused=on_refused,
            )

    def apply_ack(key: str, answer: Answer, via: str) -> bool:
        with session_scope(engine) as session:
            return record_acknowledgement(session, key=key, answer=answer, via=via)

    def apply_sms_reply(from_number: str, answer: Answer) -> str | None:
        """Record the reply; returns the outcome: "recorded", "shared" or None (no match)."""
        with session_scope(engine) as session:
            keys, ambiguous = reply_targets(session, from_number)
            if not keys:
                return None
            if ambiguous and answer == "safe":
                # we cannot tell which of them is safe: mark nobody, keep escalating
                return "shared"
            # one person; or "need help" from a shared phone: everyone on it gets help
            for key in keys:
                record_acknowledgement(session, key=key, answer=answer, via="sms")
            return "recorded"

    async def status_callback(request: Request, sid_field: str, status_field: str) -> Response:
        form = await signed_form(request)
        status = form.get(status_field, "") or form.get("SmsStatus", "")
        ref = form.get(sid_field) or form.get("SmsSid") or None
        if not status:
            raise _Reject(400, f"{status_field} missing")
        key = request.query_params.get("key") or None
        matched = await run_in_threadpool(
            apply_status, key, ref, status, _int_or_none(form.get("ErrorCode"))
        )
        if not matched:
            # Twilio does not retry on our error, and there is nothing to retry: log it
            log.warning("status callback %s for unknown delivery key=%s ref=%s", status, key, ref)
        return Response(status_code=204)

    async def sms_status(request: Request) -> Response:
        return await status_callback(request, "MessageSid", "MessageStatus")

    async def voice_status(request: Request) -> Response:
        return await status_callback(request, "CallSid", "CallStatus")

    async def voice_gather(request: Request) -> Response:
        form = await signed_form(request)
        key = request.query_params.get("key", "")
        retried = request.query_params.get("retry") == "1"
        digits = form.get("Digits", "").strip()
        answer = _KEYPRESS.get(digits)
        if answer is not None and key:
            if await run_in_threadpool(apply_ack, key, answer, "voice"):
                return _twiml(_say(MSG_SAFE if answer == "safe" else MSG_NEED_HELP, voice))
            log.warning("keypress for unknown delivery key=%s", key)
            return _twiml(_say(MSG_NOT_RECORDED, voice))
        if retried or not key:
            return _twiml(_say(MSG_CLOSING, voice))
        # ask once more; the retry marker in the action makes the second miss final
        base = public_url(request).split("?", 1)[0]
        action = f"{base}?{urlencode({'key': key, 'retry': '1'})}"
        gather = (
            f'<Gather numDigits="1" timeout="{gather_timeout}" method="POST" '
            f"action={quoteattr(action)}>{_say(MSG_ASK_AGAIN, voice)}</Gather>"
        )
        return _twiml(gather + _say(MSG_CLOSING, voice))

    async def sms_inbound(request: Request) -> Response:
        form = await signed_form(request)
        from_number = form.get("From", "")
        answer = parse_reply(form.get("Body", ""))
        if answer is None:
            return _twiml(_message(MSG_SMS_INSTRUCTIONS))
        outcome = await run_in_threadpool(apply_sms_reply, from_number, answer)
        if outcome is None:
            log.warning("SMS reply from %s matches no delivery", mask_phone(from_number))
            return _twiml(_message(MSG_NOT_RECORDED))
        if outcome == "shared":
            log.warning("safe reply from shared number %s: nobody marked", mask_phone(from_number))
            return _twiml(_message(MSG_SHARED_NUMBER))
        return _twiml(_message(MSG_SAFE if answer == "safe" else MSG_NEED_HELP))

    async def app_ack(request: Request) -> Response:
        body = await _read_body(request)
        try:
            doc: Any = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Reject(422, "body is not JSON") from exc
        if not isinstance(doc, dict):
            raise _Reject(422, "expected a JSON object")
        key, token = doc.get("key"), doc.get("token")
        raw_answer = doc.get("answer")
        answer = _ANSWERS.get(raw_answer) if isinstance(raw_answer, str) else None
        problems = []
        if not isinstance(key, str) or not key or len(key) > 64:
            problems.append("key: expected a delivery key")
        if answer is None:
            problems.append("answer: expected 'safe' or 'need_help'")
        if not isinstance(token, str) or not token:
            problems.append("token: expected a string")
        if problems or not isinstance(key, str) or not isinstance(token, str) or answer is None:
            raise _Reject(422, "; ".join(problems))
        # the token is checked before the key is looked up, so keys cannot be probed
        if not verify_ack_token(ack_secret, key, token):
            log.warning("refused app ack for key=%s: bad token", key)
            raise _Reject(403, "invalid token")
        if not await run_in_threadpool(apply_ack, key, answer, "push"):
            raise _Reject(404, "unknown key")
        return Response(status_code=204)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/twilio/sms/status", _guarded(sms_status), methods=["POST"]),
        Route("/twilio/voice/status", _guarded(voice_status), methods=["POST"]),
        Route("/twilio/voice/gather", _guarded(voice_gather), methods=["POST"]),
        Route("/twilio/sms/inbound", _guarded(sms_inbound), methods=["POST"]),
        Route("/ack", _guarded(app_ack), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.public_url = settings.webhooks.public_url.rstrip("/")
    return app


def _guarded(handler: Handler) -> Handler:
    """Turn ``_Reject`` into its status and any other error into a bare 500.

    Only the exception type is logged: database errors quote the statement's parameters,
    which may hold phone numbers. The session was rolled back by ``session_scope``.
    """

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except _Reject as rej:
            return JSONResponse({"error": rej.detail}, status_code=rej.status)
        except Exception as exc:
            log.error("webhook %s failed: %s", request.url.path, type(exc).__name__)
            return JSONResponse({"error": "internal error"}, status_code=500)

    return run


async def _read_body(request: Request) -> bytes:
    """The request body, refused with 413 past ``MAX_BODY_BYTES`` without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _Reject(413, f"body larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Reject(413, f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _say(text: str, voice: str) -> str:
    return f'<Say language="ja-JP" voice={quoteattr(voice)}>{escape(text)}</Say>'


def _message(text: str) -> str:
    return f"<Message>{escape(text)}</Message>"


def _twiml(inner: str) -> Response:
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return Response(xml, media_type="text/xml; charset=utf-8")
