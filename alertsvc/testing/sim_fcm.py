"""The simulator's FCM side: the v1 ``messages:send`` endpoint behind Google's OAuth2
JWT-bearer token exchange (``POST /token``), with errors in Google's format carrying
``google.firebase.fcm.v1.FcmError`` details.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from alertsvc.testing.sim_base import Reply, RequestRecord, now

if TYPE_CHECKING:
    from alertsvc.testing.simulator import ProviderSimulator

__all__ = ["FCM_PATH", "handle_fcm", "handle_token"]

FCM_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

# Message fields of the FCM v1 discovery document (Message schema), plus ``fid`` which
# firebase-admin 7.x sends instead of the deprecated ``token``.
_FCM_MESSAGE_FIELDS = frozenset(
    {
        "name",
        "data",
        "notification",
        "android",
        "webpush",
        "apns",
        "fcmOptions",
        "fcm_options",
        "token",
        "topic",
        "condition",
        "fid",
    }
)
_FCM_TARGETS = ("token", "topic", "condition", "fid")


_FCM_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _fcm_error(status: int, message: str, fcm_code: str | None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": status, "message": message, "status": _FCM_STATUS[status]}
    if fcm_code:
        err["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        ]
    return {"error": err}


_INJECTED_FCM = {
    429: ("Quota exceeded for sending messages.", "QUOTA_EXCEEDED"),
    500: ("Internal error encountered.", "INTERNAL"),
    503: ("The service is currently unavailable.", "UNAVAILABLE"),
}


def handle_token(sim: ProviderSimulator, raw: bytes) -> Reply:
    """OAuth2 JWT-bearer exchange as Google's token endpoint does it for service accounts."""
    form = dict(parse_qsl(raw.decode("utf-8", "replace")))
    if form.get("grant_type") != _JWT_BEARER:
        return Reply(400, {"error": "unsupported_grant_type"})
    claims = _jwt_claims(form.get("assertion", ""))
    if claims is None or not claims.get("iss"):
        return Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT"})
    return Reply(
        200,
        {"access_token": sim._new_access_token(), "expires_in": 3600, "token_type": "Bearer"},
    )


def _jwt_claims(assertion: str) -> dict[str, Any] | None:
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, json.JSONDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def handle_fcm(
    sim: ProviderSimulator, handler: BaseHTTPRequestHandler, project: str, raw: bytes
) -> Reply:
    try:
        payload = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        payload = None
    message = payload.get("message") if isinstance(payload, dict) else None
    to = ""
    if isinstance(message, dict):
        to = next((str(message[t]) for t in _FCM_TARGETS if t in message), "")

    def done(reply: Reply, ref: str | None = None, fault: str = "") -> Reply:
        body = payload if isinstance(payload, dict) else {}
        sim._record(RequestRecord("fcm", to, reply.status, now(), body, handler.path, ref, fault))
        return reply

    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not sim._token_known(auth[7:]):
        msg = "Request had invalid authentication credentials."
        return done(Reply(401, _fcm_error(401, msg, None)))
    problem = _fcm_problem(payload)
    if problem:
        return done(Reply(400, _fcm_error(400, problem, "INVALID_ARGUMENT")))
    faults = sim.faults("fcm")
    sim._sleep(faults.latency_ms / 1000)
    fault, status = sim._roll("fcm")
    if fault == "error":
        message_text, code = _INJECTED_FCM[status]
        headers = {"Retry-After": str(faults.retry_after_seconds)} if status == 429 else {}
        return done(Reply(status, _fcm_error(status, message_text, code), headers), None, "error")
    behaviour = sim._behaviour("fcm", to)
    if behaviour == "fail":
        reply = Reply(503, _fcm_error(503, _INJECTED_FCM[503][0], "UNAVAILABLE"))
        return done(reply, None, "script:fail")
    if behaviour == "dead_token":
        reply = Reply(404, _fcm_error(404, "Requested entity was not found.", "UNREGISTERED"))
        return done(reply, None, "script:dead_token")
    if behaviour == "invalid":
        msg = "The registration token is not a valid FCM registration token"
        return done(Reply(400, _fcm_error(400, msg, "INVALID_ARGUMENT")), None, "script:invalid")
    name = f"projects/{project}/messages/{secrets.token_hex(8)}"
    reply = Reply(200, {"name": name})
    if fault == "timeout":
        done(reply, name, "timeout")
        sim._sleep(faults.timeout_seconds)
        return reply
    return done(reply, name)


def _fcm_problem(payload: Any) -> str:
    """The essentials of the v1 ``SendMessageRequest`` / ``Message`` schema; '' when valid."""
    if not isinstance(payload, dict) or not isinstance(payload.get("message"), dict):
        return "Invalid JSON payload received. 'message' is required."
    extra = set(payload) - {"message", "validate_only", "validateOnly"}
    if extra:
        return (
            f'Invalid JSON payload received. Unknown name "{sorted(extra)[0]}": Cannot find field.'
        )
    message = payload["message"]
    unknown = set(message) - _FCM_MESSAGE_FIELDS
    if unknown:
        return (
            f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}" at '
            "'message': Cannot find field."
        )
    targets = [t for t in _FCM_TARGETS if t in message]
    if len(targets) != 1:
        return "Exactly one of token, topic or condition must be specified."
    if not isinstance(message[targets[0]], str) or not message[targets[0]]:
        return f"Invalid value at 'message.{targets[0]}' (TYPE_STRING)"
    android = message.get("android")
    android_data = android.get("data") if isinstance(android, dict) else None
    for where, data in (
        ("message.data", message.get("data")),
        ("message.android.data", android_data),
    ):
        if data is None:
            continue
        if not isinstance(data, dict):
            return f"Invalid value at '{where}' (type.googleapis.com/google.protobuf.Struct)"
        for i, value in enumerate(data.values()):
            if not isinstance(value, str):
                return f"Invalid value at '{where}[{i}].value' (TYPE_STRING), {value}"
    if (
        isinstance(android, dict)
        and "priority" in android
        and str(android["priority"]).upper() not in {"NORMAL", "HIGH"}
    ):
        return f"Invalid value at 'message.android.priority' ({android['priority']})"
    return ""
