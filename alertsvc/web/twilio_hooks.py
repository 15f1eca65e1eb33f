"""Twilio webhooks: SMS and call status callbacks, keypresses (a resident's 1/2, a
supporter's per-person 1/2/3), and inbound SMS replies. See ``alertsvc.web.app`` for
the contract of each route; every request's ``X-Twilio-Signature`` is checked first.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch.inbound import Answer, claim_inbound, parse_reply, reply_targets
from alertsvc.models import ChannelName
from alertsvc.redact import mask_phone
from alertsvc.web.supporter_voice import digest_gather_twiml
from alertsvc.web.webhook_common import (
    CONFIRM,
    ERROR_CODE_RE,
    KEYPRESS,
    TOKEN_RE,
    Reject,
    WebhookContext,
    guarded,
    loggable,
    message_twiml,
    say_twiml,
    twiml_response,
)

__all__ = ["twilio_routes"]

log = logging.getLogger("alertsvc.web")


def twilio_routes(ctx: WebhookContext) -> list[Route]:
    """The Twilio webhook routes on ``ctx``."""
    engine, settings = ctx.engine, ctx.settings
    voice = settings.twilio.voice
    gather_timeout = settings.twilio.gather_timeout_seconds
    answered, public_url, signed_form = ctx.answered, ctx.public_url, ctx.signed_form
    delivery_key, apply_status = ctx.delivery_key, ctx.apply_status

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
            raise Reject(400, f"{status_field} missing")
        if ref is not None and not TOKEN_RE.fullmatch(ref):
            raise Reject(400, f"{sid_field}: expected a provider id")
        key = delivery_key(request)
        code = form.get("ErrorCode", "")
        error_code = int(code) if ERROR_CODE_RE.fullmatch(code) else None
        matched = await run_in_threadpool(apply_status, key, ref, status, error_code, channel)
        if not matched:
            # Twilio does not retry on our error, and there is nothing to retry: log it
            log.warning(
                "%s status callback %s for unknown delivery key=%s ref=%s",
                channel.value,
                loggable(status),
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
                raise Reject(400, "p: expected a person index")
            call_sid = form.get("CallSid", "")
            if not TOKEN_RE.fullmatch(call_sid):
                raise Reject(400, "CallSid: expected a provider id")
            base = public_url(request).split("?", 1)[0]
            inner = await run_in_threadpool(
                apply_digest_keypress, key, int(person), form.get("Digits", ""), call_sid, base
            )
            if inner is None:
                return twiml_response(say_twiml("not_recorded", "ja", voice))
            return twiml_response(inner)
        retried = request.query_params.get("retry") == "1"
        digits = form.get("Digits", "").strip()
        call_sid = form.get("CallSid", "")
        answer = KEYPRESS.get(digits)
        if answer is not None and key:
            if not TOKEN_RE.fullmatch(call_sid):
                raise Reject(400, "CallSid: expected a provider id")
            outcome, language = await run_in_threadpool(
                apply_keypress, key, answer, f"{call_sid}:{digits}"
            )
            if outcome == "unknown":
                log.warning("keypress for unknown delivery key=%s", key)
                return twiml_response(say_twiml("not_recorded", language, voice))
            # a replay changes nothing; the caller hears the same confirmation
            return twiml_response(say_twiml(CONFIRM[answer], language, voice))
        language = await run_in_threadpool(call_language, key)
        if retried or not key:
            return twiml_response(say_twiml("closing", language, voice))
        # ask once more; the retry marker in the action makes the second miss final
        base = public_url(request).split("?", 1)[0]
        action = f"{base}?{urlencode({'key': key, 'retry': '1'})}"
        gather = (
            f'<Gather numDigits="1" timeout="{gather_timeout}" method="POST" '
            f"action={quoteattr(action)}>{say_twiml('ask_again', language, voice)}</Gather>"
        )
        return twiml_response(gather + say_twiml("closing", language, voice))

    async def sms_inbound(request: Request) -> Response:
        form = await signed_form(request)
        from_number = form.get("From", "")
        message_sid = form.get("MessageSid", "")
        if not TOKEN_RE.fullmatch(message_sid):
            raise Reject(400, "MessageSid: expected a provider id")
        answer = parse_reply(form.get("Body", ""))
        outcome, language = await run_in_threadpool(
            apply_sms_reply, from_number, answer, message_sid
        )
        if outcome == "unparsed":
            return twiml_response(message_twiml("sms_instructions", language))
        if outcome == "replay":
            # the first copy was answered already; say nothing twice
            log.info("replayed SMS reply %s ignored", message_sid)
            return twiml_response("")
        if outcome is None:
            log.warning("SMS reply from %s matches no delivery", mask_phone(from_number))
            return twiml_response(message_twiml("not_recorded", language))
        if outcome == "shared":
            log.warning("safe reply from shared number %s: nobody marked", mask_phone(from_number))
            return twiml_response(message_twiml("shared_number", language))
        assert answer is not None
        return twiml_response(message_twiml(CONFIRM[answer], language))

    return [
        Route("/twilio/sms/status", guarded(sms_status), methods=["POST"]),
        Route("/twilio/voice/status", guarded(voice_status), methods=["POST"]),
        Route("/twilio/voice/gather", guarded(voice_gather), methods=["POST"]),
        Route("/twilio/sms/inbound", guarded(sms_inbound), methods=["POST"]),
    ]
