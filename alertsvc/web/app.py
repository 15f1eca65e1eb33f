"""The webhook and acknowledgement app (Starlette).

Endpoints (POST unless noted):

* ``/twilio/sms/status``, ``/twilio/voice/status``: Twilio status callbacks -> the
  delivery's state (``record_provider_status``). Each route takes only its own fields
  (MessageSid/MessageStatus, CallSid/CallStatus) and rows of its own channel. 204.
* ``/twilio/voice/gather?key=K``: the keypress of an alert call. 1 = safe, 2 = need help;
  anything else is asked once more, then the call closes. TwiML.
* ``/twilio/voice/gather?key=K&p=N``: a supporter's call (``key`` a supporter digest):
  reads person N of the digest and takes 1 = confirmed safe, 2 = cannot reach (the duty
  desk is told), 3 = helping, then asks about person N + 1 (``web.supporter_voice``).
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
  from the LINE user the row was sent to records the answer ("need help" also tells the
  duty desk); events are deduplicated by ``webhookEventId``. 200. Mounted only when a
  channel secret is given.
* ``GET /healthz``: 200 ``{"ok": true}``.
* ``GET|POST /r/{key}/{token}``: the resident page (``web.pages``).
* ``GET|POST /s/{key}/{token}``: the supporter page (``web.supporter_page``).
  A page's POST body is at most ``MAX_PAGE_BODY`` (1 KiB), else 413 unread.

Every check on these routes, and the test that fails when it is removed, is listed in
``tests/WEB_CHECKS.md``.

The routes live in ``web.twilio_hooks`` (Twilio) and ``web.provider_hooks`` (app acks,
FAX, LINE); their shared plumbing in ``web.webhook_common``.

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

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alertsvc.config import Settings
from alertsvc.dispatch.inbound import CallbackRefusalHook
from alertsvc.planning.language import reply_text
from alertsvc.web.pages import page_routes
from alertsvc.web.provider_hooks import provider_routes
from alertsvc.web.supporter_page import supporter_page_routes
from alertsvc.web.twilio_hooks import twilio_routes
from alertsvc.web.webhook_common import MAX_BODY_BYTES, MAX_JSON_DEPTH, WebhookContext

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

# The Japanese texts (the table is alertsvc/templates/replies.toml; kept here for tests)
MSG_SAFE = reply_text("safe", "ja", written=False)
MSG_NEED_HELP = reply_text("need_help", "ja", written=False)
MSG_ASK_AGAIN = reply_text("ask_again", "ja", written=False)
MSG_CLOSING = reply_text("closing", "ja", written=False)
MSG_NOT_RECORDED = reply_text("not_recorded", "ja", written=False)
MSG_SMS_INSTRUCTIONS = reply_text("sms_instructions", "ja", written=False)
MSG_SHARED_NUMBER = reply_text("shared_number", "ja", written=False)


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
    ctx = WebhookContext(
        engine, settings, auth_token=auth_token, ack_secret=ack_secret, on_refused=on_refused
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        *twilio_routes(ctx),
        *provider_routes(ctx, line_channel_secret=line_channel_secret),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    # the resident page (signed link per person and alert in every SMS)
    routes.extend(page_routes(engine, settings, secret=ack_secret))
    # the supporter page (signed link per supporter digest)
    routes.extend(supporter_page_routes(engine, settings, secret=ack_secret))
    app = Starlette(routes=routes)
    app.state.public_url = settings.webhooks.public_url.rstrip("/")
    return app
