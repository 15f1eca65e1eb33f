"""Other providers' webhooks: the resident app's ``/ack``, Telnyx FAX status events and
LINE postbacks. See ``alertsvc.web.app`` for the contract of each route.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal
from urllib.parse import parse_qsl

from linebot.v3 import SignatureValidator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alertsvc.acks import verify_ack_token
from alertsvc.channels.fax import fax_event_outcome
from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch.inbound import (
    AckRefusal,
    Answer,
    ack_refusal,
    claim_inbound,
)
from alertsvc.models import ChannelName
from alertsvc.web.webhook_common import (
    ANSWERS,
    TOKEN_RE,
    Reject,
    WebhookContext,
    guarded,
    parse_json,
    read_body,
)

__all__ = ["provider_routes"]

log = logging.getLogger("alertsvc.web")


def provider_routes(ctx: WebhookContext, *, line_channel_secret: str = "") -> list[Route]:
    """``/ack`` and ``/fax/status``, and ``/line/webhook`` when a LINE secret is given."""
    engine, ack_secret, answered = ctx.engine, ctx.ack_secret, ctx.answered
    delivery_key, apply_status = ctx.delivery_key, ctx.apply_status
    ack_valid_for = dt.timedelta(seconds=ctx.settings.webhooks.ack_valid_seconds)

    def apply_app_ack(key: str, answer: Answer) -> AckRefusal | None:
        with session_scope(engine) as session:
            refusal = ack_refusal(session, key, valid_for=ack_valid_for)
            if refusal is None and not answered(session, key, answer, "push"):
                refusal = "unknown"
            return refusal

    async def app_ack(request: Request) -> Response:
        body = await read_body(request)
        doc = parse_json(body)
        if not isinstance(doc, dict):
            raise Reject(422, "expected a JSON object")
        key, token = doc.get("key"), doc.get("token")
        raw_answer = doc.get("answer")
        answer = ANSWERS.get(raw_answer) if isinstance(raw_answer, str) else None
        problems = []
        if not isinstance(key, str) or not TOKEN_RE.fullmatch(key):
            problems.append("key: expected a delivery key")
        if answer is None:
            problems.append("answer: expected 'safe' or 'need_help'")
        if not isinstance(token, str) or not token:
            problems.append("token: expected a string")
        if problems or not isinstance(key, str) or not isinstance(token, str) or answer is None:
            raise Reject(422, "; ".join(problems))
        # the token is checked before the key is looked up, so keys cannot be probed; the
        # key is logged only once the token proves we issued it
        if not verify_ack_token(ack_secret, key, token):
            log.warning("refused app ack: bad token")
            raise Reject(403, "invalid token")
        refusal = await run_in_threadpool(apply_app_ack, key, answer)
        if refusal == "unknown":
            raise Reject(404, "unknown key")
        if refusal == "cancellation":
            raise Reject(409, "a cancellation notice cannot be answered")
        if refusal == "expired":
            raise Reject(410, "the alert has ended; this token has expired")
        return Response(status_code=204)

    async def fax_status(request: Request) -> Response:
        body = await read_body(request)
        key = delivery_key(request)
        sig = request.query_params.get("sig", "")
        # the signature is checked before the body is read into any decision
        if key is None or not verify_ack_token(ack_secret, key, sig):
            log.warning("refused fax status: missing or invalid sig")
            raise Reject(403, "invalid signature")
        doc = parse_json(body)
        data = doc.get("data") if isinstance(doc, dict) else None
        payload = data.get("payload") if isinstance(data, dict) else None
        event_type = data.get("event_type") if isinstance(data, dict) else None
        if not isinstance(event_type, str) or not isinstance(payload, dict):
            raise Reject(422, "expected data.event_type and data.payload")
        reason = payload.get("failure_reason") or ""
        ref = payload.get("fax_id")
        if not isinstance(reason, str) or (ref is not None and not isinstance(ref, str)):
            raise Reject(422, "failure_reason and fax_id must be strings")
        if ref is not None and not TOKEN_RE.fullmatch(ref):
            raise Reject(400, "fax_id: expected a provider id")
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
                # ctx.answered: a "need help" also reaches the duty desk, as from any channel
                if not answered(session, key, answer, "line"):
                    return "unknown"
                return "recorded"
        except IntegrityError:
            return "replay"

    async def line_webhook(request: Request) -> Response:
        body = await read_body(request)
        signature = request.headers.get("x-line-signature", "")
        if not _line_signature_ok(line_channel_secret, body, signature):
            log.warning("refused LINE webhook: missing or invalid X-Line-Signature")
            raise Reject(403, "invalid signature")
        doc = parse_json(body)
        events = doc.get("events") if isinstance(doc, dict) else None
        if not isinstance(events, list):
            raise Reject(422, "expected events")
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

    routes = [
        Route("/ack", guarded(app_ack), methods=["POST"]),
        Route("/fax/status", guarded(fax_status), methods=["POST"]),
    ]
    if line_channel_secret:
        routes.append(Route("/line/webhook", guarded(line_webhook), methods=["POST"]))
    return routes


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
    if not isinstance(event_id, str) or not TOKEN_RE.fullmatch(event_id):
        return None
    fields = dict(parse_qsl(data))
    key, answer = fields.get("key", ""), ANSWERS.get(fields.get("answer", ""))
    if answer is None or not TOKEN_RE.fullmatch(key) or not TOKEN_RE.fullmatch(user_id):
        return None
    return user_id, key, answer, f"line:{event_id}"
