"""Shared Twilio plumbing: webhook signatures, client construction, outcome tables.

Public surface used outside the channels package:

* ``twilio_signature(auth_token, url, params)`` and
  ``is_valid_twilio_signature(auth_token, url, params, signature)``: the
  ``X-Twilio-Signature`` scheme (HMAC-SHA1 over the full URL plus the sorted POST
  parameters, base64), computed by twilio's own ``RequestValidator``. The webhook app
  validates with these; the provider simulator signs with them.
* ``twilio_auth_token(settings)``: the one place that decides which auth token the
  client, the simulator and the webhook app share.
What a status callback (message or call status) means for a delivery is decided in one
place, ``alertsvc.dispatch.inbound`` (its provider status table), not here.

Outcome tables are plain dicts (``TWILIO_ERROR_CODES``, ``TWILIO_MISCONFIGURED_CODES``)
so tests iterate them and a reader sees the retry semantics on one screen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from alertsvc.config import Settings, is_loopback_url
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import DeliveryResult, Outcome, OutgoingMessage
from alertsvc.redact import mask_address, mask_phone, mask_token

log = logging.getLogger(__name__)

__all__ = [
    "SIGNATURE_HEADER",
    "SIMULATOR_AUTH_TOKEN",
    "TWILIO_CONCURRENCY",
    "TWILIO_ERROR_CODES",
    "TWILIO_MISCONFIGURED_CODES",
    "TwilioCall",
    "classify_transport_error",
    "classify_twilio_error",
    "classify_twilio_exception",
    "is_loopback_url",
    "is_valid_twilio_signature",
    "make_twilio_client",
    "mask_address",
    "mask_phone",
    "mask_token",
    "parse_retry_after",
    "result_for_exception",
    "send_via_twilio",
    "twilio_auth_token",
    "twilio_signature",
]

# Used only when no token is configured AND the base URL is the loopback simulator:
# the client, the simulator and the webhook app then agree on this value.
SIMULATOR_AUTH_TOKEN = "alertsvc-simulator-auth-token"

SIGNATURE_HEADER = "X-Twilio-Signature"

Params = Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str]] | str | None


# --------------------------------------------------------------------------- signatures


class _MultiParams:
    """Form parameters with repeated names, in the shape RequestValidator reads (getlist)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def __iter__(self) -> Any:
        return iter({k for k, _ in self._pairs})

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self._pairs if k == name]


def _normalise(params: Params) -> Any:
    """Turn dicts, multi-dicts (Starlette FormData) and pair lists into one shape."""
    if params is None:
        return {}
    if isinstance(params, str):
        return params  # raw JSON body, checked through ?bodySHA256=
    if hasattr(params, "getlist") or hasattr(params, "getall"):
        return params
    pairs: list[tuple[str, str]] = []
    if isinstance(params, Mapping):
        for key, value in params.items():
            if isinstance(value, str):
                pairs.append((str(key), value))
            else:
                pairs.extend((str(key), str(v)) for v in value)
    else:
        pairs.extend((str(k), str(v)) for k, v in params)
    return _MultiParams(pairs)


def twilio_signature(auth_token: str, url: str, params: Params) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for a POST of ``params`` to ``url``.

    ``url`` is the full URL including the query string, exactly as the request line and
    Host header give it. ``params`` may be a dict of str, a dict of lists (repeated
    names), a multi-dict with ``getlist`` or a list of pairs. Never raises for odd input.
    """
    return str(RequestValidator(auth_token).compute_signature(url, _normalise(params)))


def is_valid_twilio_signature(
    auth_token: str, url: str, params: Params, signature: str | None
) -> bool:
    """True when ``signature`` is Twilio's signature of ``url`` + ``params``.

    Accepts the URL with or without the default port, as twilio's validator does. A
    missing or empty signature, or an empty auth token, is simply invalid (False).
    """
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, _normalise(params), signature))


# --------------------------------------------------------------------------- client


def twilio_auth_token(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """The Twilio auth token: ``$<twilio.auth_token_env>``, else the simulator's token.

    Raises ``ChannelMisconfigured`` when no token is set and the base URL is not the
    loopback simulator (a real Twilio account always needs one).
    """
    secret = settings.secret(settings.twilio.auth_token_env, env)
    if secret is not None:
        return secret.value
    if is_loopback_url(settings.twilio.base_url):
        return SIMULATOR_AUTH_TOKEN
    raise ChannelMisconfigured(
        f"Twilio の認証トークンがありません / no Twilio auth token: set "
        f"${settings.twilio.auth_token_env} (twilio.base_url is {settings.twilio.base_url})"
    )


class _RetryAfterHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """TwilioHttpClient that remembers, per thread, the last response's Retry-After.

    ``TwilioRestException`` carries no headers, so a 429's Retry-After would be lost;
    adapters read it back with ``last_retry_after()`` right after a failed create.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self._local.retry_after = None
        response: Response = super().request(*args, **kwargs)
        self._local.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return response

    def last_retry_after(self) -> float | None:
        value = getattr(self._local, "retry_after", None)
        return value if isinstance(value, float) else None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import datetime as dt

        when = parsedate_to_datetime(value)
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


# Twilio takes one message (or call) per request: a channel sends up to this many requests
# at once on one worker thread's batch, over the client's pooled keep-alive connections
# (issue #12: one request at a time left the worker at a fifth of the raw client loop).
TWILIO_CONCURRENCY = 16


@dataclass(frozen=True)
class TwilioCall:
    """A ready Twilio client plus what adapters need around it.

    ``send_each`` runs one Twilio request per message on a bounded thread pool shared by
    every thread using this client (``concurrency`` threads, as many pooled connections).
    """

    client: Client
    http: _RetryAfterHttpClient
    account_sid: str
    concurrency: int = TWILIO_CONCURRENCY
    _pool: list[ThreadPoolExecutor] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def last_retry_after(self) -> float | None:
        return self.http.last_retry_after()

    def send_each(
        self,
        channel: str,
        messages: Sequence[OutgoingMessage],
        send_one: Callable[[OutgoingMessage], DeliveryResult],
    ) -> list[DeliveryResult]:
        """``send_one`` for every message, concurrently; one result per message, in order.

        ``ChannelMisconfigured`` is raised only when every request raised it (then nothing
        went out and the caller may hand the rows back). When some requests went through,
        the refused ones are DEFERRED results instead — the provider did not act on them —
        so that rows already accepted are never handed back and sent twice.
        """
        if len(messages) <= 1 or self.concurrency <= 1:
            return [send_one(m) for m in messages]
        futures = [self._executor().submit(send_one, m) for m in messages]
        results: list[DeliveryResult | None] = []
        refused: ChannelMisconfigured | None = None
        for future in futures:
            try:
                results.append(future.result())
            except ChannelMisconfigured as exc:
                refused = refused or exc
                results.append(None)
        if refused is None:
            return [r for r in results if r is not None]
        if all(r is None for r in results):
            raise refused
        detail = f"not sent, provider refused our configuration: {refused}"[:300]
        return [r or DeliveryResult(Outcome.DEFERRED, channel, None, detail) for r in results]

    def close(self) -> None:
        """Stop the send threads (the pool is started again on the next send)."""
        with self._lock:
            while self._pool:
                self._pool.pop().shutdown(wait=True)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if not self._pool:
                self._pool.append(ThreadPoolExecutor(self.concurrency, thread_name_prefix="twilio"))
            return self._pool[0]


def make_twilio_client(
    settings: Settings, *, timeout: float = 10.0, env: Mapping[str, str] | None = None
) -> TwilioCall:
    """Build the real ``twilio.rest.Client`` aimed at ``settings.twilio.base_url``.

    ``client.api.base_url`` is the seam: in twilio 9.13 every Messages/Calls URL is
    ``Domain.absolute_url`` = base_url + path, and with no edge/region configured
    ``get_hostname`` leaves it untouched. Raises ``ChannelMisconfigured`` for a missing
    token or account SID.
    """
    tw = settings.twilio
    if not tw.account_sid.startswith("AC"):
        raise ChannelMisconfigured(
            f"twilio.account_sid は AC で始まる必要があります / must start with AC, "
            f"got {tw.account_sid[:4]!r}…"
        )
    if timeout <= 0:
        raise ChannelMisconfigured(f"Twilio timeout must be > 0, got {timeout}")
    http = _RetryAfterHttpClient(timeout=timeout)
    if http.session is not None:
        # one keep-alive connection per concurrent request (requests keeps 10 by default)
        adapter = HTTPAdapter(pool_maxsize=max(10, TWILIO_CONCURRENCY))
        http.session.mount("http://", adapter)
        http.session.mount("https://", adapter)
    client = Client(tw.account_sid, twilio_auth_token(settings, env), http_client=http)
    client.api.base_url = tw.base_url.rstrip("/")
    return TwilioCall(client=client, http=http, account_sid=tw.account_sid)


# --------------------------------------------------------------------------- outcome tables

# Twilio error code -> (outcome, short reason). Codes checked against
# https://www.twilio.com/docs/api/errors. Anything else: 429/5xx DEFERRED, other 4xx REJECTED.
TWILIO_ERROR_CODES: dict[int, tuple[Outcome, str]] = {
    20429: (Outcome.DEFERRED, "too many requests"),
    21211: (Outcome.REJECTED, "invalid To number"),
    21214: (Outcome.REJECTED, "To number cannot be reached"),
    21215: (Outcome.REJECTED, "geo permissions do not allow this number"),
    21216: (Outcome.REJECTED, "number blocked for calls"),
    21217: (Outcome.REJECTED, "number does not appear valid"),
    21408: (Outcome.REJECTED, "SMS not enabled for this region"),
    21610: (Outcome.REJECTED, "opted out (STOP)"),
    21612: (Outcome.REJECTED, "To number not reachable by SMS"),
    21614: (Outcome.REJECTED, "To number is not a mobile number"),
}

# Codes that mean OUR setup is wrong (credentials, sender): no recipient is at fault, so
# the adapter raises ChannelMisconfigured instead of marking a contact unhealthy.
TWILIO_MISCONFIGURED_CODES: dict[int, str] = {
    20003: "authentication failed (account SID / auth token)",
    20404: "account or resource not found",
    21212: "invalid From number",
    21606: "From number cannot send SMS",
    21659: "From is not a Twilio number",
    21210: "caller ID From number not verified",
}


def classify_twilio_error(
    status: int, code: int | None, retry_after: float | None = None
) -> tuple[Outcome, str, float | None]:
    """Map an HTTP status and Twilio error code to (outcome, detail, retry_after).

    Raises ``ChannelMisconfigured`` for a 401 or a code in ``TWILIO_MISCONFIGURED_CODES``.
    """
    if status == 401 or (code is not None and code in TWILIO_MISCONFIGURED_CODES):
        reason = TWILIO_MISCONFIGURED_CODES.get(code or 0, "authentication failed")
        raise ChannelMisconfigured(
            f"Twilio の設定が正しくありません / Twilio misconfigured: {code} {reason}"
        )
    if code is not None and code in TWILIO_ERROR_CODES:
        outcome, reason = TWILIO_ERROR_CODES[code]
        return (
            outcome,
            f"twilio {code}: {reason}",
            retry_after if outcome is Outcome.DEFERRED else None,
        )
    if status == 429 or status >= 500:
        return Outcome.DEFERRED, f"twilio http {status} (code {code})", retry_after
    return Outcome.REJECTED, f"twilio http {status} code {code}", None


def classify_twilio_exception(
    exc: TwilioRestException | TwilioServiceException, retry_after: float | None = None
) -> tuple[Outcome, str, float | None]:
    """``classify_twilio_error`` for the exception the twilio client raised."""
    code = exc.code if isinstance(exc.code, int) else None
    return classify_twilio_error(int(exc.status), code, retry_after)


def classify_transport_error(exc: requests.RequestException) -> tuple[Outcome, str]:
    """Map a ``requests`` failure (twilio's HttpClient lets them through) to an outcome.

    Connect failures (refused, DNS, connect timeout) mean nothing reached the provider:
    DEFERRED. A read timeout or a connection dropped after the request was written may
    have been processed: UNKNOWN. Anything else unexpected is UNKNOWN too (fail safe:
    never assume an ambiguous send did not happen).
    """
    if isinstance(exc, requests.ConnectTimeout):
        return Outcome.DEFERRED, "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return Outcome.UNKNOWN, "read timeout after sending"
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc.args[0]) if exc.args else ""
        # urllib3 wraps connect-phase failures in NewConnectionError / NameResolutionError
        if "NewConnectionError" in text or "NameResolutionError" in text:
            return Outcome.DEFERRED, "connection refused"
        return Outcome.UNKNOWN, "connection dropped after sending"
    return Outcome.UNKNOWN, f"transport error {type(exc).__name__}"


def result_for_exception(
    exc: Exception, channel: str, twilio: TwilioCall, who: str
) -> DeliveryResult | None:
    """The DeliveryResult for an exception from ``messages.create`` / ``calls.create``.

    Returns None for exceptions that are not provider or transport failures (the caller
    re-raises those: they are our bugs). ``who`` is the already-masked address.
    """
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        outcome, detail, retry = classify_twilio_exception(exc, twilio.last_retry_after())
        code = str(exc.code) if isinstance(exc.code, int) else None
        return DeliveryResult(outcome, channel, None, f"{detail} ({who})", retry, code)
    if isinstance(exc, requests.RequestException):
        outcome, detail = classify_transport_error(exc)
        return DeliveryResult(outcome, channel, None, f"{detail} ({who})")
    return None


def send_via_twilio(
    channel: str, twilio: TwilioCall, who: str, create: Callable[[], Any], what: str
) -> DeliveryResult:
    """Run one Twilio ``create`` call and return its DeliveryResult; never raises for
    provider or transport failures (our own bugs propagate). ``who`` is masked already.

    DELIVERED means Twilio accepted the request (201: queued); what happened next
    arrives later by status callback.
    """
    try:
        created = create()
    except Exception as exc:
        result = result_for_exception(exc, channel, twilio, who)
        if result is None:
            raise
        log.info("%s %s to %s: %s", what, result.outcome, who, result.detail)
        return result
    sid = str(created.sid)
    log.info("%s accepted to %s as %s", what, who, sid)
    return DeliveryResult(Outcome.DELIVERED, channel, sid, f"twilio {created.status}")
