"""The simulator's Twilio side: ``Messages.json`` and ``Calls.json`` as Twilio answers them.

Requests are form-encoded with HTTP Basic auth (account SID, auth token); answers are
``201`` with the ``api.v2010.account.message`` / ``api.v2010.account.call`` shapes or
Twilio's error body ``{"code", "message", "more_info", "status"}``. What happens next
(status callbacks, a keypress, a scripted resident's reply) is handed to the simulator as
``Step`` lists to POST in the background.
"""

from __future__ import annotations

import base64
import re
import secrets
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from alertsvc.testing.sim_base import Reply, RequestRecord, now, rfc2822

if TYPE_CHECKING:
    from alertsvc.testing.simulator import ProviderSimulator

__all__ = ["TWILIO_PATH", "handle_twilio"]

TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/(?P<kind>Messages|Calls)\.json$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


def _twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


_INJECTED_TWILIO = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


def _check_basic_auth(sim: ProviderSimulator, handler: BaseHTTPRequestHandler, sid: str) -> bool:
    header = handler.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    return user == sid and password == sim.auth_token


def handle_twilio(
    sim: ProviderSimulator, handler: BaseHTTPRequestHandler, sid: str, kind: str, raw: bytes
) -> Reply:
    pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    form = dict(pairs)
    events = [v for k, v in pairs if k == "StatusCallbackEvent"]
    provider = "twilio-sms" if kind == "Messages" else "twilio-voice"
    to = form.get("To", "")
    body: dict[str, Any] = dict(form)
    if events:
        body["StatusCallbackEvent"] = events

    def done(reply: Reply, sid_: str | None = None, fault: str = "") -> Reply:
        sim._record(
            RequestRecord(provider, to, reply.status, now(), body, handler.path, sid_, fault)
        )
        return reply

    if not _check_basic_auth(sim, handler, sid):
        return done(Reply(401, _twilio_error(401, 20003, "Authenticate")))
    faults = sim.faults(provider)
    sim._sleep(faults.latency_ms / 1000)
    fault, status = sim._roll(provider)
    if fault == "error":
        code, message = _INJECTED_TWILIO[status]
        headers = {"Retry-After": str(faults.retry_after_seconds)} if status == 429 else {}
        return done(Reply(status, _twilio_error(status, code, message), headers), None, "error")
    behaviour = sim._behaviour(provider, to)
    if behaviour == "fail":
        return done(
            Reply(503, _twilio_error(503, 20503, "Service Unavailable")), None, "script:fail"
        )
    if kind == "Messages":
        reply, ref = _twilio_message(sim, sid, form, behaviour)
    else:
        reply, ref = _twilio_call(sim, sid, form, events, behaviour)
    tag = f"script:{behaviour}" if behaviour else ""
    if fault == "timeout":
        # processed and logged, then the answer is held past the client's timeout
        done(reply, ref, "timeout")
        sim._sleep(faults.timeout_seconds)
        return reply
    return done(reply, ref, tag)


def _twilio_message(
    sim: ProviderSimulator, account: str, form: dict[str, str], behaviour: str
) -> tuple[Reply, str | None]:
    to = form.get("To", "")
    if not to:
        return Reply(400, _twilio_error(400, 21604, "A 'To' phone number is required.")), None
    if not form.get("From") and not form.get("MessagingServiceSid"):
        msg = "A 'From' phone number or a 'MessagingServiceSid' is required."
        return Reply(400, _twilio_error(400, 21603, msg)), None
    if not form.get("Body"):
        return Reply(400, _twilio_error(400, 21602, "Message body is required.")), None
    if behaviour == "invalid" or not _E164.match(to):
        return Reply(400, _twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")), None
    if behaviour == "opted_out":
        msg = "Attempt to send to unsubscribed recipient"
        return Reply(400, _twilio_error(400, 21610, msg)), None
    if behaviour == "landline":
        msg = f"To number: {to}, is not a mobile number"
        return Reply(400, _twilio_error(400, 21614, msg)), None
    created = rfc2822(now())
    msid = "SM" + secrets.token_hex(16)
    uri = f"/2010-04-01/Accounts/{account}/Messages/{msid}.json"
    text = form["Body"]
    record = {
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": text,
        "date_created": created,
        "date_sent": None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From") or None,
        "messaging_service_sid": form.get("MessagingServiceSid") or None,
        "num_media": "0",
        # GSM-7 vs UCS-2: Japanese text is 70 characters per single SMS, 67 per segment
        "num_segments": str(_segments(text)),
        "price": None,
        "price_unit": "USD",
        "sid": msid,
        "status": "queued",
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "to": to,
        "uri": uri,
    }
    callback = form.get("StatusCallback") or (
        f"{sim.callback_url}/twilio/sms/status" if sim.callback_url else ""
    )
    base = {
        "MessageSid": msid,
        "SmsSid": msid,
        "AccountSid": account,
        "From": form.get("From", ""),
        "To": to,
        "ApiVersion": "2010-04-01",
    }
    if form.get("MessagingServiceSid"):
        base["MessagingServiceSid"] = form["MessagingServiceSid"]
    steps: list[tuple[str, dict[str, str]]] = [(callback, _sms_status(base, "sent"))]
    if behaviour == "unreachable":
        steps.append((callback, _sms_status(base, "undelivered", "30003")))
    else:
        steps.append((callback, _sms_status(base, "delivered")))
    sim._accepted(to, callback)
    # a scripted resident answers only what reached their handset
    follow = sim._sms_follow_up(account, form) if behaviour != "unreachable" else []
    return Reply(201, record, after=lambda: sim._schedule("twilio-sms", steps, follow)), msid


def _sms_status(base: dict[str, str], status: str, error_code: str = "") -> dict[str, str]:
    params = {**base, "MessageStatus": status, "SmsStatus": status}
    if error_code:
        params["ErrorCode"] = error_code
    return params


def _segments(text: str) -> int:
    if all(ord(c) < 128 for c in text):
        return 1 if len(text) <= 160 else -(-len(text) // 153)
    return 1 if len(text) <= 70 else -(-len(text) // 67)


def _twilio_call(
    sim: ProviderSimulator,
    account: str,
    form: dict[str, str],
    events: list[str],
    behaviour: str,
) -> tuple[Reply, str | None]:
    to, from_ = form.get("To", ""), form.get("From", "")
    if not to:
        return Reply(400, _twilio_error(400, 21201, "No 'To' number is specified")), None
    if not from_:
        return Reply(400, _twilio_error(400, 21213, "No 'From' number is specified")), None
    if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
        return Reply(400, _twilio_error(400, 21205, "Url parameter is required.")), None
    if behaviour == "invalid" or not _E164.match(to):
        return Reply(400, _twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")), None
    gather_action = ""
    if form.get("Twiml"):
        try:
            root = ElementTree.fromstring(form["Twiml"])
        except ElementTree.ParseError:
            return Reply(400, _twilio_error(400, 21208, "Invalid TwiML")), None
        gather = root.find("Gather")
        gather_action = gather.get("action", "") if gather is not None else ""
    at = now()
    csid = "CA" + secrets.token_hex(16)
    uri = f"/2010-04-01/Accounts/{account}/Calls/{csid}.json"
    record = {
        "account_sid": account,
        "answered_by": None,
        "api_version": "2010-04-01",
        "caller_name": None,
        "date_created": rfc2822(at),
        "date_updated": rfc2822(at),
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": from_,
        "from_formatted": from_,
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": "PN" + "0" * 32,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": csid,
        "start_time": None,
        "status": "queued",
        "subresource_uris": {"notifications": uri.replace(".json", "/Notifications.json")},
        "to": to,
        "to_formatted": to,
        "trunk_sid": None,
        "uri": uri,
    }
    callback = form.get("StatusCallback") or (
        f"{sim.callback_url}/twilio/voice/status" if sim.callback_url else ""
    )
    wanted = set(events) or {"completed"}  # Twilio's default: only the final event
    steps = _call_steps(account, csid, from_, to, callback, gather_action, wanted, behaviour)
    sim._accepted(to, gather_action or callback)
    return Reply(201, record, after=lambda: sim._schedule("twilio-voice", steps)), csid


def _call_steps(
    account: str,
    csid: str,
    from_: str,
    to: str,
    callback: str,
    gather_action: str,
    wanted: set[str],
    behaviour: str,
) -> list[tuple[str, dict[str, str]]]:
    """The status callbacks (and keypress) one simulated call produces, in order."""
    base = {
        "CallSid": csid,
        "AccountSid": account,
        "From": from_,
        "To": to,
        "ApiVersion": "2010-04-01",
        "Direction": "outbound-api",
        "CallbackSource": "call-progress-events",
    }
    if behaviour == "busy":
        plan = [("initiated", "initiated"), ("ringing", "ringing"), ("completed", "busy")]
    elif behaviour == "unreachable":
        plan = [("initiated", "initiated"), ("ringing", "ringing"), ("completed", "no-answer")]
    else:
        plan = [
            ("initiated", "initiated"),
            ("ringing", "ringing"),
            ("answered", "in-progress"),
            ("completed", "completed"),
        ]
    steps: list[tuple[str, dict[str, str]]] = []
    for seq, (event, status) in enumerate(plan):
        if event == "completed" and behaviour.startswith("answers:") and gather_action:
            digits = behaviour.split(":", 1)[1]
            keypress = {k: v for k, v in base.items() if k != "CallbackSource"}
            keypress.update(CallStatus="in-progress", Digits=digits, FinishedOnKey="")
            steps.append((gather_action, keypress))
        if event not in wanted:
            continue
        params = {
            **base,
            "CallStatus": status,
            "SequenceNumber": str(seq),
            "Timestamp": rfc2822(now()),
        }
        if event == "completed":
            answered = status == "completed"
            params["CallDuration"] = "35" if answered else "0"
            params["Duration"] = "1" if answered else "0"
        steps.append((callback, params))
    return steps
