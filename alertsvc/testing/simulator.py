"""A loopback simulator of the Twilio and FCM HTTP APIs, with fault injection.

It speaks the providers' documented wire formats so that the REAL ``twilio`` and
``firebase_admin`` clients can be pointed at it by configuration alone:

* Twilio ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` and ``Calls.json``
  (form-encoded, HTTP Basic auth), answering ``201`` with the
  ``api.v2010.account.message`` / ``api.v2010.account.call`` shapes, or Twilio's
  error body ``{"code", "message", "more_info", "status"}``. Status callbacks (and
  ``<Gather>`` keypresses for scripted answers) are POSTed afterwards to the URLs the
  request named, signed with ``X-Twilio-Signature`` using the configured auth token.
* FCM v1 ``POST /v1/projects/{project}/messages:send`` behind the OAuth2 JWT-bearer
  exchange ``POST /token`` that a service-account credential performs; errors in the
  Google format with ``google.firebase.fcm.v1.FcmError`` details.

Fault injection per provider (``"fcm"``, ``"twilio-sms"``, ``"twilio-voice"``):
``latency_ms``, ``error_rate`` (429 with Retry-After, 500 or 503, chosen at random),
``timeout_rate`` (the request is processed and logged, then the answer is held longer
than any sane client timeout). Randomness comes from one seeded generator, so a run
with the same seed and request order is reproducible.

Per-address scripts (``script(address, behaviour)``): ``unreachable``, ``opted_out``,
``landline``, ``invalid``, ``dead_token``, ``answers:1``, ``answers:2``, ``busy``,
``fail_first:N``.

Every request received is kept in ``requests`` (thread-safe) and, with ``log_path``,
appended as one JSON line ``{"provider", "to", "status", "at"}`` where ``to`` is masked
(``+8190****0001``, ``abcd…wxyz``) unless ``log_unmasked=True`` (tests that match
numbers). Callback attempts,
including failed ones, are kept in ``callbacks`` and never crash the server.

Usage::

    with ProviderSimulator(auth_token="t") as sim:
        settings = replace(settings, twilio=replace(settings.twilio, base_url=sim.url))
        ...
        sim.wait_for_callbacks(timeout=5)
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import random
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse
from xml.etree import ElementTree

from alertsvc.channels.twilio_common import (
    SIGNATURE_HEADER,
    SIMULATOR_AUTH_TOKEN,
    is_loopback_url,
    mask_address,
    twilio_signature,
)

__all__ = [
    "BEHAVIOURS",
    "PROVIDERS",
    "CallbackRecord",
    "Faults",
    "ProviderSimulator",
    "RequestRecord",
    "load_script",
]

log = logging.getLogger(__name__)

PROVIDERS: tuple[str, ...] = ("fcm", "twilio-sms", "twilio-voice")
BEHAVIOURS: tuple[str, ...] = (
    "unreachable",
    "opted_out",
    "landline",
    "invalid",
    "dead_token",
    "answers:1",
    "answers:2",
    "busy",
    "fail_first:N",
)

_TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/(?P<kind>Messages|Calls)\.json$")
_FCM_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
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


@dataclass(frozen=True)
class Faults:
    """Fault injection for one provider. Rates are fractions of requests (0..1)."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    # how long an injected timeout holds the answer; longer than the client's timeout
    timeout_seconds: float = 5.0
    # Retry-After sent with an injected 429
    retry_after_seconds: int = 1
    # the statuses an injected error picks from (tests force one, e.g. (429,))
    error_statuses: tuple[int, ...] = (429, 500, 503)

    def __post_init__(self) -> None:
        for name in ("error_rate", "timeout_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0 or self.timeout_seconds < 0:
            raise ValueError("latency_ms and timeout_seconds must not be negative")
        if not self.error_statuses or set(self.error_statuses) - {429, 500, 503}:
            raise ValueError(f"error_statuses must be some of 429, 500, 503: {self.error_statuses}")


@dataclass(frozen=True)
class RequestRecord:
    """One provider request the simulator received and how it answered."""

    provider: str
    to: str
    status: int
    at: dt.datetime
    body: Mapping[str, Any]
    path: str
    sid: str | None = None  # SM…/CA… or the FCM message name when accepted
    fault: str = ""  # "error", "timeout", "script:<behaviour>" or ""

    def as_log_line(self, *, masked: bool = True) -> dict[str, Any]:
        """The JSON log line; ``to`` is masked (``+8190****0001``) unless ``masked=False``."""
        return {
            "provider": self.provider,
            "to": mask_address(self.to) if masked else self.to,
            "status": self.status,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class CallbackRecord:
    """One callback the simulator POSTed (or failed to POST) to our webhook."""

    provider: str
    url: str
    params: Mapping[str, str]
    status: int  # HTTP status our webhook answered; 0 when delivery failed
    at: dt.datetime
    error: str = ""


@dataclass
class _State:
    faults: dict[str, Faults]
    script: dict[str, str]
    fail_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    requests: list[RequestRecord] = field(default_factory=list)
    callbacks: list[CallbackRecord] = field(default_factory=list)


def load_script(path: Path) -> dict[str, str]:
    """Read a JSON script ``{"<address>": "<behaviour>", ...}``.

    Raises ``ValueError`` naming the entry for a non-object file or an unknown behaviour.
    """
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object of address -> behaviour")
    out: dict[str, str] = {}
    for address, behaviour in raw.items():
        if not isinstance(behaviour, str):
            raise ValueError(f"{path}: {address!r}: behaviour must be a string")
        _check_behaviour(behaviour)
        out[str(address)] = behaviour
    return out


def _check_behaviour(behaviour: str) -> None:
    if behaviour.startswith("fail_first:"):
        count = behaviour.split(":", 1)[1]
        if not count.isdigit():
            raise ValueError(f"fail_first needs a whole number, got {behaviour!r}")
        return
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r} (known: {', '.join(BEHAVIOURS)})")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rfc2822(when: dt.datetime) -> str:
    return format_datetime(when, usegmt=False).replace("-0000", "+0000")


class ProviderSimulator:
    """The loopback Twilio + FCM simulator. Start with ``start()`` or a ``with`` block.

    ``port=0`` picks a free ephemeral port; the server binds 127.0.0.1 only and runs in
    a daemon thread, so it never outlives the process. ``stop()`` is idempotent and
    releases any injected timeout that is still holding a request.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        auth_token: str = SIMULATOR_AUTH_TOKEN,
        latency_ms: float = 0.0,
        error_rate: float = 0.0,
        timeout_rate: float = 0.0,
        timeout_seconds: float = 5.0,
        faults: Mapping[str, Faults] | None = None,
        script: Mapping[str, str] | None = None,
        seed: int = 0,
        log_path: Path | None = None,
        log_unmasked: bool = False,
        callback_url: str | None = None,
        callback_delay_s: float = 0.05,
    ) -> None:
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the simulator only binds a loopback address")
        default = Faults(latency_ms, error_rate, timeout_rate, timeout_seconds)
        all_faults = dict.fromkeys(PROVIDERS, default)
        for provider, f in (faults or {}).items():
            if provider not in PROVIDERS:
                raise ValueError(f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})")
            all_faults[provider] = f
        for behaviour in (script or {}).values():
            _check_behaviour(behaviour)
        if callback_url is not None and not is_loopback_url(callback_url):
            raise ValueError("callback_url must be a 127.0.0.1/localhost URL")
        self._host = host
        self._port = port
        self.auth_token = auth_token
        self.log_path = log_path
        # phone numbers and tokens are personal data: the log masks them unless a test asks
        self.log_unmasked = log_unmasked
        self.callback_url = callback_url.rstrip("/") if callback_url else None
        self.callback_delay_s = callback_delay_s
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending_callbacks = 0
        self._rng = random.Random(seed)
        self._state = _State(faults=all_faults, script=dict(script or {}))
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ProviderSimulator:
        """Bind and serve in a background thread. Raises ``OSError`` if the port is taken."""
        if self._server is not None:
            return self
        handler = _make_handler(self)
        server = ThreadingHTTPServer((self._host, self._port), handler)
        server.daemon_threads = True
        self._server = server
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sim-callback")
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; pending callbacks are abandoned. Safe to call twice."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ProviderSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for both ``twilio.base_url`` and ``fcm.base_url``."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ scripting

    def script(self, address: str, behaviour: str | None) -> None:
        """Script ``address`` (E.164 number or push token); ``None`` clears it."""
        with self._lock:
            if behaviour is None:
                self._state.script.pop(address, None)
            else:
                _check_behaviour(behaviour)
                self._state.script[address] = behaviour
            self._state.fail_counts = {
                k: v for k, v in self._state.fail_counts.items() if k[1] != address
            }

    def set_faults(self, provider: str, **changes: Any) -> None:
        """Change fault injection for one provider, e.g. ``set_faults("fcm", error_rate=1)``."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        with self._lock:
            self._state.faults[provider] = replace(self._state.faults[provider], **changes)

    def faults(self, provider: str) -> Faults:
        with self._lock:
            return self._state.faults[provider]

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of every provider request received so far, in arrival order."""
        with self._lock:
            return list(self._state.requests)

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """A copy of every callback attempt so far (failed ones have status 0)."""
        with self._lock:
            return list(self._state.callbacks)

    def wait_for_callbacks(self, timeout: float = 10.0) -> bool:
        """Block until no callback is pending; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending_callbacks == 0, timeout=timeout)

    # ------------------------------------------------------------------ internals

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._state.requests.append(record)
            if self.log_path is not None:
                # one JSON line per request, appended under the lock so lines never interleave
                with self.log_path.open("a", encoding="utf-8") as fh:
                    line = record.as_log_line(masked=not self.log_unmasked)
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _behaviour(self, provider: str, address: str) -> str:
        with self._lock:
            behaviour = self._state.script.get(address, "")
            if behaviour.startswith("fail_first:"):
                limit = int(behaviour.split(":", 1)[1])
                seen = self._state.fail_counts.get((provider, address), 0)
                self._state.fail_counts[(provider, address)] = seen + 1
                return "fail" if seen < limit else ""
            return behaviour

    def _roll(self, provider: str) -> tuple[str, int]:
        """Decide an injected fault: ("error", status) / ("timeout", 0) / ("", 0)."""
        with self._lock:
            f = self._state.faults[provider]
            if f.error_rate and self._rng.random() < f.error_rate:
                return "error", self._rng.choice(f.error_statuses)
            if f.timeout_rate and self._rng.random() < f.timeout_rate:
                return "timeout", 0
            return "", 0

    def _sleep(self, seconds: float) -> None:
        # interruptible, so stop() never waits for an injected timeout to run out
        if seconds > 0:
            self._stopping.wait(seconds)

    def _new_access_token(self) -> str:
        token = "ya29.sim-" + secrets.token_hex(16)
        with self._lock:
            self._state.tokens.add(token)
        return token

    def _token_known(self, token: str) -> bool:
        with self._lock:
            return token in self._state.tokens

    def _schedule(self, provider: str, steps: list[tuple[str, dict[str, str]]]) -> None:
        """POST ``steps`` (url, params) in order, one after another, in the background."""
        steps = [(url, params) for url, params in steps if url and is_loopback_url(url)]
        if not steps or self._pool is None or self._stopping.is_set():
            return
        with self._lock:
            self._pending_callbacks += 1
        try:
            future: Future[None] = self._pool.submit(self._run_callbacks, provider, steps)
        except RuntimeError:  # pool shut down between the check and the submit
            self._callback_done()
            return
        future.add_done_callback(lambda _f: self._callback_done())

    def _callback_done(self) -> None:
        with self._idle:
            self._pending_callbacks -= 1
            self._idle.notify_all()

    def _run_callbacks(self, provider: str, steps: list[tuple[str, dict[str, str]]]) -> None:
        for url, params in steps:
            self._sleep(self.callback_delay_s)
            if self._stopping.is_set():
                return
            self._post_signed(provider, url, params)

    def _post_signed(self, provider: str, url: str, params: dict[str, str]) -> None:
        body = urlencode(params).encode()
        req = urllib.request.Request(url, data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header(SIGNATURE_HEADER, twilio_signature(self.auth_token, url, params))
        req.add_header("User-Agent", "TwilioProxy/1.1 (alertsvc simulator)")
        status, error = 0, ""
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                status = int(resp.status)
        except urllib.error.HTTPError as exc:
            status, error = int(exc.code), f"http {exc.code}"
        except (OSError, ValueError) as exc:  # refused, timed out, bad URL
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._state.callbacks.append(
                CallbackRecord(provider, url, dict(params), status, _now(), error)
            )
        if error:
            log.info("simulator callback to %s failed: %s", urlparse(url).path, error)


# ---------------------------------------------------------------------- request handling


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


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None  # runs once the answer is decided (callbacks)


def _make_handler(sim: ProviderSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "alertsvc-provider-simulator"
        protocol_version = "HTTP/1.1"
        # headers and body are separate writes: without this, delayed ACK stalls each reply 40 ms
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the simulator keeps its own structured log

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(_Reply(200, {"ok": True}))
            else:
                self._send(_Reply(404, {"error": "not found"}))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = urlparse(self.path).path
            try:
                if path == "/token":
                    reply = _token(sim, raw)
                elif m := _TWILIO_PATH.match(path):
                    reply = _twilio(sim, self, m["sid"], m["kind"], raw)
                elif m := _FCM_PATH.match(path):
                    reply = _fcm(sim, self, m["project"], raw)
                else:
                    reply = _Reply(404, {"error": f"no such endpoint {path}"})
            except Exception as exc:  # a simulator bug must answer, not hang the client
                log.exception("simulator error on %s", path)
                reply = _Reply(500, {"error": f"simulator error: {type(exc).__name__}"})
            self._send(reply)

        def _send(self, reply: _Reply) -> None:
            data = json.dumps(reply.body, ensure_ascii=False).encode()
            if reply.after is not None:
                # scheduled before answering, so wait_for_callbacks() after the client
                # got its answer always sees them; they still start callback_delay_s later
                reply.after()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (injected timeout): nothing to answer

    return Handler


def _token(sim: ProviderSimulator, raw: bytes) -> _Reply:
    """OAuth2 JWT-bearer exchange as Google's token endpoint does it for service accounts."""
    form = dict(parse_qsl(raw.decode("utf-8", "replace")))
    if form.get("grant_type") != _JWT_BEARER:
        return _Reply(400, {"error": "unsupported_grant_type"})
    claims = _jwt_claims(form.get("assertion", ""))
    if claims is None or not claims.get("iss"):
        return _Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT"})
    return _Reply(
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


def _check_basic_auth(sim: ProviderSimulator, handler: BaseHTTPRequestHandler, sid: str) -> bool:
    header = handler.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    return user == sid and password == sim.auth_token


def _twilio(
    sim: ProviderSimulator, handler: BaseHTTPRequestHandler, sid: str, kind: str, raw: bytes
) -> _Reply:
    pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    form = dict(pairs)
    events = [v for k, v in pairs if k == "StatusCallbackEvent"]
    provider = "twilio-sms" if kind == "Messages" else "twilio-voice"
    to = form.get("To", "")
    body: dict[str, Any] = dict(form)
    if events:
        body["StatusCallbackEvent"] = events

    def done(reply: _Reply, sid_: str | None = None, fault: str = "") -> _Reply:
        sim._record(
            RequestRecord(provider, to, reply.status, _now(), body, handler.path, sid_, fault)
        )
        return reply

    if not _check_basic_auth(sim, handler, sid):
        return done(_Reply(401, _twilio_error(401, 20003, "Authenticate")))
    faults = sim.faults(provider)
    sim._sleep(faults.latency_ms / 1000)
    fault, status = sim._roll(provider)
    if fault == "error":
        code, message = _INJECTED_TWILIO[status]
        headers = {"Retry-After": str(faults.retry_after_seconds)} if status == 429 else {}
        return done(_Reply(status, _twilio_error(status, code, message), headers), None, "error")
    behaviour = sim._behaviour(provider, to)
    if behaviour == "fail":
        return done(
            _Reply(503, _twilio_error(503, 20503, "Service Unavailable")), None, "script:fail"
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
) -> tuple[_Reply, str | None]:
    to = form.get("To", "")
    if not to:
        return _Reply(400, _twilio_error(400, 21604, "A 'To' phone number is required.")), None
    if not form.get("From") and not form.get("MessagingServiceSid"):
        msg = "A 'From' phone number or a 'MessagingServiceSid' is required."
        return _Reply(400, _twilio_error(400, 21603, msg)), None
    if not form.get("Body"):
        return _Reply(400, _twilio_error(400, 21602, "Message body is required.")), None
    if behaviour == "invalid" or not _E164.match(to):
        return _Reply(400, _twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")), None
    if behaviour == "opted_out":
        msg = "Attempt to send to unsubscribed recipient"
        return _Reply(400, _twilio_error(400, 21610, msg)), None
    if behaviour == "landline":
        msg = f"To number: {to}, is not a mobile number"
        return _Reply(400, _twilio_error(400, 21614, msg)), None
    now = _rfc2822(_now())
    msid = "SM" + secrets.token_hex(16)
    uri = f"/2010-04-01/Accounts/{account}/Messages/{msid}.json"
    text = form["Body"]
    record = {
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": text,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
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
    return _Reply(201, record, after=lambda: sim._schedule("twilio-sms", steps)), msid


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
) -> tuple[_Reply, str | None]:
    to, from_ = form.get("To", ""), form.get("From", "")
    if not to:
        return _Reply(400, _twilio_error(400, 21201, "No 'To' number is specified")), None
    if not from_:
        return _Reply(400, _twilio_error(400, 21213, "No 'From' number is specified")), None
    if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
        return _Reply(400, _twilio_error(400, 21205, "Url parameter is required.")), None
    if behaviour == "invalid" or not _E164.match(to):
        return _Reply(400, _twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")), None
    gather_action = ""
    if form.get("Twiml"):
        try:
            root = ElementTree.fromstring(form["Twiml"])
        except ElementTree.ParseError:
            return _Reply(400, _twilio_error(400, 21208, "Invalid TwiML")), None
        gather = root.find("Gather")
        gather_action = gather.get("action", "") if gather is not None else ""
    now = _now()
    csid = "CA" + secrets.token_hex(16)
    uri = f"/2010-04-01/Accounts/{account}/Calls/{csid}.json"
    record = {
        "account_sid": account,
        "answered_by": None,
        "api_version": "2010-04-01",
        "caller_name": None,
        "date_created": _rfc2822(now),
        "date_updated": _rfc2822(now),
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
    return _Reply(201, record, after=lambda: sim._schedule("twilio-voice", steps)), csid


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
            "Timestamp": _rfc2822(_now()),
        }
        if event == "completed":
            answered = status == "completed"
            params["CallDuration"] = "35" if answered else "0"
            params["Duration"] = "1" if answered else "0"
        steps.append((callback, params))
    return steps


def _fcm(
    sim: ProviderSimulator, handler: BaseHTTPRequestHandler, project: str, raw: bytes
) -> _Reply:
    try:
        payload = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        payload = None
    message = payload.get("message") if isinstance(payload, dict) else None
    to = ""
    if isinstance(message, dict):
        to = next((str(message[t]) for t in _FCM_TARGETS if t in message), "")

    def done(reply: _Reply, ref: str | None = None, fault: str = "") -> _Reply:
        body = payload if isinstance(payload, dict) else {}
        sim._record(RequestRecord("fcm", to, reply.status, _now(), body, handler.path, ref, fault))
        return reply

    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not sim._token_known(auth[7:]):
        msg = "Request had invalid authentication credentials."
        return done(_Reply(401, _fcm_error(401, msg, None)))
    problem = _fcm_problem(payload)
    if problem:
        return done(_Reply(400, _fcm_error(400, problem, "INVALID_ARGUMENT")))
    faults = sim.faults("fcm")
    sim._sleep(faults.latency_ms / 1000)
    fault, status = sim._roll("fcm")
    if fault == "error":
        message_text, code = _INJECTED_FCM[status]
        headers = {"Retry-After": str(faults.retry_after_seconds)} if status == 429 else {}
        return done(_Reply(status, _fcm_error(status, message_text, code), headers), None, "error")
    behaviour = sim._behaviour("fcm", to)
    if behaviour == "fail":
        reply = _Reply(503, _fcm_error(503, _INJECTED_FCM[503][0], "UNAVAILABLE"))
        return done(reply, None, "script:fail")
    if behaviour == "dead_token":
        reply = _Reply(404, _fcm_error(404, "Requested entity was not found.", "UNREGISTERED"))
        return done(reply, None, "script:dead_token")
    if behaviour == "invalid":
        msg = "The registration token is not a valid FCM registration token"
        return done(_Reply(400, _fcm_error(400, msg, "INVALID_ARGUMENT")), None, "script:invalid")
    name = f"projects/{project}/messages/{secrets.token_hex(8)}"
    reply = _Reply(200, {"name": name})
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


def describe(record: RequestRecord) -> str:
    """A one-line, redacted description of a request (for human CLI output)."""
    return f"{record.at:%H:%M:%S} {record.provider} {mask_address(record.to)} -> {record.status}"
