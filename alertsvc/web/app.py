"""The webhook and acknowledgement app (Starlette).

Endpoints (POST unless noted):

* ``/twilio/sms/status``, ``/twilio/voice/status``: Twilio status callbacks -> the
  delivery's state (``record_provider_status``). Each route takes only its own fields
  (MessageSid/MessageStatus, CallSid/CallStatus) and rows of its own channel. 204.
* ``/twilio/voice/gather?key=K``: the keypress of an alert call. 1 = safe, 2 = need help;
  anything else is asked once more, then the call closes. TwiML.
* ``/twilio/sms/inbound``: an SMS reply (1 / 2 / 無事 / 助けて / …) bound to the rows sent
  to that number for its most recent live alert (``reply_targets``): a resident's own
  reply answers for them, a supporter's is the supporter's answer about each person
  named; a "safe" from a number several residents share marks nobody, a "need help"
  marks all of them. TwiML.
* ``/ack``: the resident's app, JSON ``{"key", "answer", "token"}`` with
  ``token = ack_token(secret, key)``. 204 (also for a replay: no second row), 403 bad
  token, 404 unknown key, 409 a cancellation notice, 410 the alert has ended (cancelled
  or older than ``webhooks.ack_valid_seconds``), 422 malformed.
* ``/fax/status?key=K&sig=S``: Telnyx fax webhook events (JSON ``data.event_type`` and
  ``data.payload.failure_reason``) -> the delivery's state; ``sig`` is
  ``ack_token(secret, key)``, put in the URL by the FAX channel. 204; 403 bad sig.
* ``/line/webhook``: LINE Messaging API webhook events, ``X-Line-Signature`` checked
  with the channel secret (403 otherwise). A postback ``key=K&answer=safe|need_help``
  from the LINE user the row was sent to records the answer; events are deduplicated
  by ``webhookEventId``. 200. Mounted only when a channel secret is given.
* ``GET /healthz``: 200 ``{"ok": true}``.

Twilio requests must carry a valid ``X-Twilio-Signature`` computed over the PUBLIC URL
Twilio called (``webhooks.public_url`` + path + query: a proxy may sit in front, so the
URL this process sees is not the one Twilio signed); anything else is refused with 403
before a single row is touched. Signatures carry no timestamp, so inbound SMS and
keypresses are deduplicated by MessageSid and CallSid + Digits: a replay changes nothing
and gets 200. Each request changes state in one transaction; malformed input (NUL
characters, keys and provider ids that are not tokens, JSON nested past
``MAX_JSON_DEPTH``) is a 4xx, never a 500. Bodies over 64 KiB are refused with 413. Log
lines carry no request text as given: no full phone number, token or forged line.
Every text the resident hears or reads is in the language of their delivery row
(``alertsvc/templates/replies.toml``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape, quoteattr

from linebot.v3 import SignatureValidator
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alertsvc.acks import verify_ack_token
from alertsvc.channels.fax import fax_event_outcome
from alertsvc.channels.twilio_common import SIGNATURE_HEADER, is_valid_twilio_signature
from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch.inbound import (
    AckRefusal,
    Answer,
    CallbackRefusalHook,
    ack_refusal,
    claim_inbound,
    parse_reply,
    record_acknowledgement,
    record_provider_status,
    reply_targets,
)
from alertsvc.duty import notify_duty
from alertsvc.models import ChannelName
from alertsvc.planning.language import ReplyTextId, reply_text, voice_language
from alertsvc.redact import mask_phone
from alertsvc.web.pages import page_routes
from alertsvc.web.supporter_page import supporter_page_routes
from alertsvc.web.supporter_voice import digest_gather_twiml

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
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
# an /ack body is one flat object; deeper nesting is refused before json.loads recurses
MAX_JSON_DEPTH = 8

# The Japanese texts (the table is alertsvc/templates/replies.toml; kept here for tests)
MSG_SAFE = reply_text("safe", "ja", written=False)
MSG_NEED_HELP = reply_text("need_help", "ja", written=False)
MSG_ASK_AGAIN = reply_text("ask_again", "ja", written=False)
MSG_CLOSING = reply_text("closing", "ja", written=False)
MSG_NOT_RECORDED = reply_text("not_recorded", "ja", written=False)
MSG_SMS_INSTRUCTIONS = reply_text("sms_instructions", "ja", written=False)
MSG_SHARED_NUMBER = reply_text("shared_number", "ja", written=False)

_KEYPRESS: dict[str, Answer] = {"1": "safe", "2": "need_help"}
_ANSWERS: dict[str, Answer] = {"safe": "safe", "need_help": "need_help"}
_CONFIRM: dict[Answer, ReplyTextId] = {"safe": "safe", "need_help": "need_help"}
# delivery keys ("<alert id>:<n>") and provider ids (SM…, CA…): anything else is refused
# or, where it must not be, never logged as given
_TOKEN_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_ERROR_CODE_RE = re.compile(r"[0-9]{1,9}")

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
    line_channel_secret: str = "",
) -> Starlette:
    """Build the webhook app on ``engine``.

    ``auth_token`` is the Twilio auth token the signatures are checked with (see
    ``alertsvc.channels.twilio_common.twilio_auth_token``); ``ack_secret`` keys the app
    acknowledgement tokens (``alertsvc.acks``). ``app.state.public_url`` is the base
    URL Twilio calls; it starts as ``settings.webhooks.public_url`` and, when that is
    empty, the request's own URL is trusted (``WebhookServer`` fills in its bound URL).
    ``on_refused`` records what a failing status callback says about the contact
    (``alertsvc.registry.store.record_refusal``). ``line_channel_secret`` checks LINE
    webhook signatures; without it ``/line/webhook`` is not mounted.
    Raises ``ValueError`` for an empty auth token or secret: every request would fail.
    """
    if not auth_token:
        raise ValueError("auth_token must not be empty")
    if not ack_secret:
        raise ValueError("ack_secret must not be empty")
    voice = settings.twilio.voice
    gather_timeout = settings.twilio.gather_timeout_seconds
    ack_valid_for = dt.timedelta(seconds=settings.webhooks.ack_valid_seconds)

    def answered(session: Session, key: str, answer: Answer, via: str) -> bool:
        """Record the answer; a "need help" also queues the duty desk's notice in the
        same transaction (also after a cancellation: the person still needs help)."""
        if not record_acknowledgement(session, key=key, answer=answer, via=via):
            return False
        if answer == "need_help":
            row = session.execute(
                select(Delivery.alert_id, Delivery.resident_id, Delivery.recipient).where(
                    Delivery.key == key
                )
            ).one()
            notify_duty(
                session,
                settings.duty,
                alert_id=row.alert_id,
                resident_id=row.resident_id,
                answered_by="resident" if row.recipient == "resident" else "supporter",
                via=via,
            )
        return True

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
        # PostgreSQL text cannot hold NUL: refuse it here, not as a DataError later
        if any("\x00" in v for pair in pairs for v in pair) or "\x00" in url:
            raise _Reject(400, "NUL character in a parameter")
        form: dict[str, str] = {}
        for name, value in pairs:
            form.setdefault(name, value)
        return form

    def delivery_key(request: Request) -> str | None:
        """The ``key`` query parameter: None when absent, 400 when not a delivery key."""
        key = request.query_params.get("key", "")
        if not key:
            return None
        if not _TOKEN_RE.fullmatch(key):
            raise _Reject(400, "key: expected a delivery key")
        return key

    def apply_status(
        key: str | None, ref: str | None, status: str, code: int | None, channel: ChannelName
    ) -> bool:
        with session_scope(engine) as session:
            return record_provider_status(
                session,
                provider_ref=ref,
                key=key,
                status=status,
                error_code=code,
                on_refused=on_refused,
                channel=channel,
            )

    def apply_keypress(key: str, answer: Answer, event_id: str) -> tuple[str, str | None]:
        """("recorded" | "replay" | "unknown", the row's language)."""
        try:
            with session_scope(engine) as session:
                language = session.scalars(
                    select(Delivery.language).where(
                        Delivery.key == key, Delivery.channel == ChannelName.VOICE.value
                    )
                ).first()
                if language is None:
                    return "unknown", None
                if not claim_inbound(session, event_id, "keypress"):
                    return "replay", language
                if not answered(session, key, answer, "voice"):
                    return "unknown", language
                return "recorded", language
        except IntegrityError:
            return "replay", None  # a concurrent copy of the same keypress won

    def call_language(key: str | None) -> str | None:
        if not key:
            return None
        with session_scope(engine) as session:
            return session.scalars(select(Delivery.language).where(Delivery.key == key)).first()

    def apply_app_ack(key: str, answer: Answer) -> AckRefusal | None:
        with session_scope(engine) as session:
            refusal = ack_refusal(session, key, valid_for=ack_valid_for)
            if refusal is None and not answered(session, key, answer, "push"):
                refusal = "unknown"
            return refusal

    def apply_sms_reply(
        from_number: str, answer: Answer | None, event_id: str
    ) -> tuple[str | None, str | None]:
        """Record the reply. Returns (outcome, language of the rows it answers): outcome
        "recorded", "shared", "replay", "unparsed" or None (no match)."""
        try:
            with session_scope(engine) as session:
                targets = reply_targets(session, from_number)
                language = None
                if targets.keys:
                    language = session.scalars(
                        select(Delivery.language).where(Delivery.key == targets.keys[0])
                    ).first()
                if answer is None:
                    return "unparsed", language
                if not claim_inbound(session, event_id, "sms"):
                    return "replay", language
                if not targets.keys:
                    return None, None
                if targets.shared and answer == "safe":
                    # we cannot tell which of them is safe: mark nobody, keep escalating
                    return "shared", language
                # each row says whose answer it is: the resident's own, or a supporter's
                # about the person named (a supporter's "safe" confirms nobody); "need
                # help" from a shared phone: everyone on it gets help
                for key in targets.keys:
                    answered(session, key, answer, "sms")
                return "recorded", language
        except IntegrityError:
            return "replay", None

    async def status_callback(
        request: Request, sid_field: str, status_field: str, channel: ChannelName
    ) -> Response:
        form = await signed_form(request)
        # each route takes only its own provider's fields: a signed SMS callback posted
        # to the voice route (or the reverse) is refused, not applied to some row
        status = form.get(status_field, "")
        ref = form.get(sid_field) or None
        if not status:
            raise _Reject(400, f"{status_field} missing")
        if ref is not None and not _TOKEN_RE.fullmatch(ref):
            raise _Reject(400, f"{sid_field}: expected a provider id")
        key = delivery_key(request)
        code = form.get("ErrorCode", "")
        error_code = int(code) if _ERROR_CODE_RE.fullmatch(code) else None
        matched = await run_in_threadpool(apply_status, key, ref, status, error_code, channel)
        if not matched:
            # Twilio does not retry on our error, and there is nothing to retry: log it
            log.warning(
                "%s status callback %s for unknown delivery key=%s ref=%s",
                channel.value,
                _loggable(status),
                key,
                ref,
            )
        return Response(status_code=204)

    async def sms_status(request: Request) -> Response:
        return await status_callback(request, "MessageSid", "MessageStatus", ChannelName.SMS)

    async def voice_status(request: Request) -> Response:
        return await status_callback(request, "CallSid", "CallStatus", ChannelName.VOICE)

    def apply_digest_keypress(
        key: str, person: int, digits: str, call_sid: str, base: str
    ) -> str | None:
        with session_scope(engine) as session:
            return digest_gather_twiml(session, settings, key=key, person=person,
                                       digits=digits, call_sid=call_sid, base_url=base)  # fmt: skip

    async def voice_gather(request: Request) -> Response:
        form = await signed_form(request)
        key = delivery_key(request)
        person = request.query_params.get("p")
        if key and person is not None:
            # a supporter's call: one keypress per person of the digest
            if not person.isdigit() or len(person) > 5:
                raise _Reject(400, "p: expected a person index")
            call_sid = form.get("CallSid", "")
            if not _TOKEN_RE.fullmatch(call_sid):
                raise _Reject(400, "CallSid: expected a provider id")
            base = public_url(request).split("?", 1)[0]
            inner = await run_in_threadpool(
                apply_digest_keypress, key, int(person), form.get("Digits", ""), call_sid, base
            )
            if inner is None:
                return _twiml(_say("not_recorded", "ja", voice))
            return _twiml(inner)
        retried = request.query_params.get("retry") == "1"
        digits = form.get("Digits", "").strip()
        call_sid = form.get("CallSid", "")
        answer = _KEYPRESS.get(digits)
        if answer is not None and key:
            if not _TOKEN_RE.fullmatch(call_sid):
                raise _Reject(400, "CallSid: expected a provider id")
            outcome, language = await run_in_threadpool(
                apply_keypress, key, answer, f"{call_sid}:{digits}"
            )
            if outcome == "unknown":
                log.warning("keypress for unknown delivery key=%s", key)
                return _twiml(_say("not_recorded", language, voice))
            # a replay changes nothing; the caller hears the same confirmation
            return _twiml(_say(_CONFIRM[answer], language, voice))
        language = await run_in_threadpool(call_language, key)
        if retried or not key:
            return _twiml(_say("closing", language, voice))
        # ask once more; the retry marker in the action makes the second miss final
        base = public_url(request).split("?", 1)[0]
        action = f"{base}?{urlencode({'key': key, 'retry': '1'})}"
        gather = (
            f'<Gather numDigits="1" timeout="{gather_timeout}" method="POST" '
            f"action={quoteattr(action)}>{_say('ask_again', language, voice)}</Gather>"
        )
        return _twiml(gather + _say("closing", language, voice))

    async def sms_inbound(request: Request) -> Response:
        form = await signed_form(request)
        from_number = form.get("From", "")
        message_sid = form.get("MessageSid", "")
        if not _TOKEN_RE.fullmatch(message_sid):
            raise _Reject(400, "MessageSid: expected a provider id")
        answer = parse_reply(form.get("Body", ""))
        outcome, language = await run_in_threadpool(
            apply_sms_reply, from_number, answer, message_sid
        )
        if outcome == "unparsed":
            return _twiml(_message("sms_instructions", language))
        if outcome == "replay":
            # the first copy was answered already; say nothing twice
            log.info("replayed SMS reply %s ignored", message_sid)
            return _twiml("")
        if outcome is None:
            log.warning("SMS reply from %s matches no delivery", mask_phone(from_number))
            return _twiml(_message("not_recorded", language))
        if outcome == "shared":
            log.warning("safe reply from shared number %s: nobody marked", mask_phone(from_number))
            return _twiml(_message("shared_number", language))
        assert answer is not None
        return _twiml(_message(_CONFIRM[answer], language))

    async def app_ack(request: Request) -> Response:
        body = await _read_body(request)
        doc = _parse_json(body)
        if not isinstance(doc, dict):
            raise _Reject(422, "expected a JSON object")
        key, token = doc.get("key"), doc.get("token")
        raw_answer = doc.get("answer")
        answer = _ANSWERS.get(raw_answer) if isinstance(raw_answer, str) else None
        problems = []
        if not isinstance(key, str) or not _TOKEN_RE.fullmatch(key):
            problems.append("key: expected a delivery key")
        if answer is None:
            problems.append("answer: expected 'safe' or 'need_help'")
        if not isinstance(token, str) or not token:
            problems.append("token: expected a string")
        if problems or not isinstance(key, str) or not isinstance(token, str) or answer is None:
            raise _Reject(422, "; ".join(problems))
        # the token is checked before the key is looked up, so keys cannot be probed; the
        # key is logged only once the token proves we issued it
        if not verify_ack_token(ack_secret, key, token):
            log.warning("refused app ack: bad token")
            raise _Reject(403, "invalid token")
        refusal = await run_in_threadpool(apply_app_ack, key, answer)
        if refusal == "unknown":
            raise _Reject(404, "unknown key")
        if refusal == "cancellation":
            raise _Reject(409, "a cancellation notice cannot be answered")
        if refusal == "expired":
            raise _Reject(410, "the alert has ended; this token has expired")
        return Response(status_code=204)

    async def fax_status(request: Request) -> Response:
        body = await _read_body(request)
        key = delivery_key(request)
        sig = request.query_params.get("sig", "")
        # the signature is checked before the body is read into any decision
        if key is None or not verify_ack_token(ack_secret, key, sig):
            log.warning("refused fax status: missing or invalid sig")
            raise _Reject(403, "invalid signature")
        doc = _parse_json(body)
        data = doc.get("data") if isinstance(doc, dict) else None
        payload = data.get("payload") if isinstance(data, dict) else None
        event_type = data.get("event_type") if isinstance(data, dict) else None
        if not isinstance(event_type, str) or not isinstance(payload, dict):
            raise _Reject(422, "expected data.event_type and data.payload")
        reason = payload.get("failure_reason") or ""
        ref = payload.get("fax_id")
        if not isinstance(reason, str) or (ref is not None and not isinstance(ref, str)):
            raise _Reject(422, "failure_reason and fax_id must be strings")
        if ref is not None and not _TOKEN_RE.fullmatch(ref):
            raise _Reject(400, "fax_id: expected a provider id")
        try:
            status, _outcome = fax_event_outcome(event_type, reason)
        except KeyError:
            return Response(status_code=204)  # another event kind: nothing to record
        matched = await run_in_threadpool(apply_status, key, ref, status, None, ChannelName.FAX)
        if not matched:
            log.warning("fax status %s for unknown delivery key=%s", status, key)
        return Response(status_code=204)

    def apply_line_postback(
        user_id: str, key: str, answer: Answer, event_id: str
    ) -> Literal["recorded", "replay", "unknown"]:
        try:
            with session_scope(engine) as session:
                address = session.scalars(
                    select(Delivery.address).where(
                        Delivery.key == key, Delivery.channel == ChannelName.LINE.value
                    )
                ).first()
                # a postback counts only from the LINE user the row was sent to
                if address is None or address != user_id:
                    return "unknown"
                if not claim_inbound(session, event_id, "line"):
                    return "replay"
                if not record_acknowledgement(session, key=key, answer=answer, via="line"):
                    return "unknown"
                return "recorded"
        except IntegrityError:
            return "replay"

    async def line_webhook(request: Request) -> Response:
        body = await _read_body(request)
        signature = request.headers.get("x-line-signature", "")
        if not _line_signature_ok(line_channel_secret, body, signature):
            log.warning("refused LINE webhook: missing or invalid X-Line-Signature")
            raise _Reject(403, "invalid signature")
        doc = _parse_json(body)
        events = doc.get("events") if isinstance(doc, dict) else None
        if not isinstance(events, list):
            raise _Reject(422, "expected events")
        for event in events:
            answer_of = _line_postback(event)
            if answer_of is None:
                continue  # follows, messages, …: nothing to record
            user_id, key, answer, event_id = answer_of
            outcome = await run_in_threadpool(apply_line_postback, user_id, key, answer, event_id)
            if outcome == "unknown":
                log.warning("LINE postback for unknown delivery key=%s", key)
        # LINE redelivers on anything but 200: an event we cannot use is still answered
        return JSONResponse({})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/twilio/sms/status", _guarded(sms_status), methods=["POST"]),
        Route("/twilio/voice/status", _guarded(voice_status), methods=["POST"]),
        Route("/twilio/voice/gather", _guarded(voice_gather), methods=["POST"]),
        Route("/twilio/sms/inbound", _guarded(sms_inbound), methods=["POST"]),
        Route("/ack", _guarded(app_ack), methods=["POST"]),
        Route("/fax/status", _guarded(fax_status), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if line_channel_secret:
        routes.append(Route("/line/webhook", _guarded(line_webhook), methods=["POST"]))
    # the resident page (signed link per person and alert in every SMS)
    routes.extend(page_routes(engine, settings, secret=ack_secret))
    # the supporter page (signed link per supporter digest)
    routes.extend(supporter_page_routes(engine, settings, secret=ack_secret))
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


def _parse_json(body: bytes) -> Any:
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
                raise _Reject(422, f"JSON nested deeper than {MAX_JSON_DEPTH}")
        elif byte in (0x5D, 0x7D):
            depth -= 1
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Reject(422, "body is not JSON") from exc
    return doc


def _line_signature_ok(secret: str, body: bytes, signature: str) -> bool:
    """``X-Line-Signature`` check with the SDK's validator; False for non-UTF-8 bodies."""
    if not secret or not signature:
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(SignatureValidator(secret).validate(text, signature))


def _line_postback(event: Any) -> tuple[str, str, Answer, str] | None:
    """(user id, delivery key, answer, event id) of an answer postback, else None."""
    if not isinstance(event, dict) or event.get("type") != "postback":
        return None
    source, postback = event.get("source"), event.get("postback")
    event_id = event.get("webhookEventId")
    if not isinstance(source, dict) or not isinstance(postback, dict):
        return None
    user_id, data = source.get("userId"), postback.get("data")
    if not isinstance(user_id, str) or not isinstance(data, str):
        return None
    if not isinstance(event_id, str) or not _TOKEN_RE.fullmatch(event_id):
        return None
    fields = dict(parse_qsl(data))
    key, answer = fields.get("key", ""), _ANSWERS.get(fields.get("answer", ""))
    if answer is None or not _TOKEN_RE.fullmatch(key) or not _TOKEN_RE.fullmatch(user_id):
        return None
    return user_id, key, answer, f"line:{event_id}"


def _loggable(value: str) -> str:
    """``value`` when it is a plain token, else a fixed marker: request text never reaches
    a log line as given (no forged lines, no phone numbers)."""
    return value if _TOKEN_RE.fullmatch(value) else "(invalid)"


def _say(text_id: ReplyTextId, language: str | None, voice: str) -> str:
    """One ``<Say>`` of a reply text in the resident's language; the configured voice
    only reads Japanese, so other languages use Twilio's default voice."""
    say_language = voice_language(language)
    voice_attr = f" voice={quoteattr(voice)}" if say_language == "ja-JP" and voice else ""
    text = reply_text(text_id, language, written=False)
    return f"<Say language={quoteattr(say_language)}{voice_attr}>{escape(text)}</Say>"


def _message(text_id: ReplyTextId, language: str | None) -> str:
    return f"<Message>{escape(reply_text(text_id, language, written=True))}</Message>"


def _twiml(inner: str) -> Response:
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return Response(xml, media_type="text/xml; charset=utf-8")
