"""App push through Firebase Cloud Messaging v1 (the real ``firebase_admin`` client).

Messages go out concurrently on a bounded pool of threads (one v1 request each, as
``send_each`` makes), Android priority high with a collapse key and a notification tag
per alert (an update replaces the earlier notification), APNs with
sound, priority 10 and the time-sensitive interruption level. firebase-admin retries
500/503 itself but NOT 429 (QUOTA_EXCEEDED): that comes back as DEFERRED with the
provider's Retry-After, and the outbox retries later.

Reaching the simulator: there is no FCM emulator. A service-account credential whose
``token_uri`` names ``{fcm.base_url}/token`` makes google-auth fetch its OAuth token
there, and the send endpoint is set once, in ``FcmPush.__init__``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import firebase_admin
import google.auth.exceptions
import requests
from firebase_admin import credentials, exceptions, messaging
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from alertsvc.acks import ack_secret, ack_token
from alertsvc.channels.twilio_common import (
    classify_transport_error,
    is_loopback_url,
    mask_token,
    parse_retry_after,
)
from alertsvc.config import Settings
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, DeliveryResult, Outcome, OutgoingMessage

__all__ = [
    "ANDROID_CHANNEL_ID",
    "FCM_ERROR_OUTCOMES",
    "FcmPush",
    "classify_fcm_error",
    "fcm_error_code",
]

log = logging.getLogger(__name__)

# the Android notification channel the resident app registers for disaster alerts
ANDROID_CHANNEL_ID = "disaster_alerts"
MAX_BATCH = 500
# requests in flight per adapter: measured on the simulator (2 cores), 16-32 long-lived
# threads beat send_each's thread-per-message by ~1.7x; more only add GIL contention
DEFAULT_CONCURRENCY = 32

# Checked in order (subclasses before their bases): the first isinstance match decides.
# UNREGISTERED / SENDER_ID_MISMATCH / INVALID_ARGUMENT: the token is dead or not ours.
# THIRD_PARTY_AUTH_ERROR and UNAUTHENTICATED are our credentials, not the recipient's:
# DEFERRED so the contact is not marked dead; the detail says what to fix.
FCM_ERROR_OUTCOMES: tuple[tuple[type[exceptions.FirebaseError], Outcome, str], ...] = (
    (messaging.UnregisteredError, Outcome.REJECTED, "UNREGISTERED token"),
    (messaging.SenderIdMismatchError, Outcome.REJECTED, "SENDER_ID_MISMATCH"),
    (exceptions.InvalidArgumentError, Outcome.REJECTED, "INVALID_ARGUMENT"),
    (messaging.QuotaExceededError, Outcome.DEFERRED, "QUOTA_EXCEEDED"),
    (messaging.ThirdPartyAuthError, Outcome.DEFERRED, "APNs/web push credentials rejected"),
    (exceptions.UnauthenticatedError, Outcome.DEFERRED, "FCM credentials rejected"),
    (exceptions.UnavailableError, Outcome.DEFERRED, "UNAVAILABLE"),
    (exceptions.InternalError, Outcome.DEFERRED, "INTERNAL"),
    (exceptions.ResourceExhaustedError, Outcome.DEFERRED, "RESOURCE_EXHAUSTED"),
    # Google API semantics: a deadline may pass after the server acted
    (exceptions.DeadlineExceededError, Outcome.UNKNOWN, "deadline exceeded"),
)


def fcm_error_code(exc: exceptions.FirebaseError) -> str | None:
    """FCM's own error code for the exceptions that say something about the token."""
    if isinstance(exc, messaging.UnregisteredError):
        return "UNREGISTERED"
    if isinstance(exc, messaging.SenderIdMismatchError):
        return "SENDER_ID_MISMATCH"
    if isinstance(exc, exceptions.InvalidArgumentError):
        return "INVALID_ARGUMENT"
    return None


def classify_fcm_error(exc: exceptions.FirebaseError) -> tuple[Outcome, str, float | None]:
    """Map one ``SendResponse.exception`` to (outcome, detail, retry_after).

    Transport failures underneath (the exception's ``cause``) are told apart first:
    connection refused is DEFERRED (nothing reached FCM), a read timeout UNKNOWN.
    Anything not in ``FCM_ERROR_OUTCOMES`` is DEFERRED, as the Firebase docs advise.
    """
    retry_after = None
    response = getattr(exc, "http_response", None)
    if response is not None:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
    cause = getattr(exc, "cause", None)
    if response is None and isinstance(cause, requests.RequestException):
        outcome, detail = classify_transport_error(cause)
        return outcome, f"fcm {detail}", None
    for cls, outcome, detail in FCM_ERROR_OUTCOMES:
        if isinstance(exc, cls):
            keep = retry_after if outcome is Outcome.DEFERRED else None
            return outcome, f"fcm {detail}", keep
    return Outcome.DEFERRED, f"fcm {type(exc).__name__} ({exc.code})", retry_after


@functools.lru_cache(maxsize=1)
def _throwaway_private_key() -> str:
    """An RSA key for the simulator's credential; made once per process, never saved."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


def simulator_service_account(base_url: str, project_id: str) -> dict[str, str]:
    """A service-account dict whose token exchange goes to the simulator at ``base_url``."""
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "simulator",
        "private_key": _throwaway_private_key(),
        "client_email": f"alertsvc-simulator@{project_id}.iam.gserviceaccount.com",
        "client_id": "0",
        "token_uri": base_url.rstrip("/") + "/token",
    }


def _skip_access_boundary_lookup(cred: credentials.Certificate) -> None:
    """Keep a simulator run on this machine.

    After each token refresh google-auth looks up a "regional access boundary" at
    iamcredentials.googleapis.com. Seeding the credential with Google's no-op boundary
    ("0x0", the value for "no restriction") and a far expiry means it never does; the
    hook is the one google-auth keeps stable for the gcloud CLI.
    """
    google_cred = cred.get_credential()
    # google-auth compares against its own naive-UTC clock
    far = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=36500)
    google_cred._set_regional_access_boundary({"encodedLocations": "0x0", "expiry": far})


def _service_account(settings: Settings, env: Mapping[str, str] | None) -> dict[str, Any]:
    fcm = settings.fcm
    info: dict[str, Any] | None = None
    where = ""
    if fcm.credentials_file:
        path = Path(fcm.credentials_file)
        if not path.is_absolute() and settings.source is not None:
            path = settings.source.parent / path
        where = f"fcm.credentials_file {path}"
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ChannelMisconfigured(f"{where}: cannot read service account: {exc}") from exc
    else:
        secret = settings.secret(fcm.credentials_env, env)
        if secret is not None:
            where = f"${fcm.credentials_env}"
            try:
                info = json.loads(secret.value)
            except ValueError as exc:
                raise ChannelMisconfigured(f"{where}: not a service-account JSON") from exc
    if info is None:
        if not is_loopback_url(fcm.base_url):
            raise ChannelMisconfigured(
                "FCM の認証情報がありません / no FCM credentials: set fcm.credentials_file "
                f"or ${fcm.credentials_env} (fcm.base_url is {fcm.base_url})"
            )
        return simulator_service_account(fcm.base_url, fcm.project_id)
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ChannelMisconfigured(f"{where}: expected a service_account JSON object")
    if is_loopback_url(fcm.base_url):
        # pointed at the simulator: never send a real key's assertion to Google from here
        info = {**info, "token_uri": fcm.base_url.rstrip("/") + "/token"}
    return info


class FcmPush:
    """The push channel. ``send_many`` never raises for a recipient problem.

    DELIVERED: FCM accepted the message (provider_ref = ``projects/…/messages/…``).
    REJECTED: the token is dead (UNREGISTERED), not ours, or malformed.
    DEFERRED: 429 QUOTA_EXCEEDED (with Retry-After), 5xx, connection refused.
    UNKNOWN: timed out after the request may have been processed.
    """

    name: ClassVar[ChannelName] = ChannelName.PUSH
    max_batch: ClassVar[int] = MAX_BATCH
    max_chars: ClassVar[int | None] = None

    def __init__(
        self,
        app: firebase_admin.App,
        *,
        base_url: str,
        ttl_seconds: float,
        ack_secret: bytes | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self._app = app
        self._concurrency = concurrency
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # signs the app's "safe / need help" answer (the push data carries key and token)
        self._ack_secret = ack_secret
        project = app.project_id
        if not project:
            raise ChannelMisconfigured("fcm.project_id is empty")
        # THE one place the FCM send endpoint is set: firebase-admin 7.7 keeps it on the
        # app's messaging service as ``_fcm_url`` (built from FCM_URL in its __init__).
        service = messaging._get_messaging_service(app)
        service._fcm_url = f"{base_url.rstrip('/')}/v1/projects/{project}/messages:send"
        # firebase-admin's default Retry (urllib3) honours Retry-After on 429/503 by
        # sleeping inside send_each (4 x Retry-After) and re-sends a POST after a read
        # timeout. Waiting is the outbox's job and a timed-out send must stay UNKNOWN, so
        # keep its 500/503 retries but neither sleep on Retry-After nor retry reads.
        retry = Retry(
            connect=1,
            read=0,
            status=4,
            status_forcelist=[500, 503],
            allowed_methods=None,
            backoff_factor=0.5,
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        service._client.session.mount(
            base_url.rstrip("/"), HTTPAdapter(pool_maxsize=100, max_retries=retry)
        )
        self._ttl = dt.timedelta(seconds=ttl_seconds)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = 10.0, env: Mapping[str, str] | None = None
    ) -> FcmPush:
        """Build a named firebase App with its own credential and HTTP timeout.

        Raises ``ChannelMisconfigured`` for unreadable or missing credentials.
        """
        try:
            cred = credentials.Certificate(_service_account(settings, env))
        except ValueError as exc:
            raise ChannelMisconfigured(f"FCM service account rejected: {exc}") from exc
        if is_loopback_url(settings.fcm.base_url):
            _skip_access_boundary_lookup(cred)
        app = firebase_admin.initialize_app(
            cred,
            {"projectId": settings.fcm.project_id, "httpTimeout": timeout},
            name=f"alertsvc-fcm-{uuid.uuid4().hex}",
        )
        return cls(
            app,
            base_url=settings.fcm.base_url,
            ttl_seconds=settings.dispatch.max_age_seconds,
            ack_secret=ack_secret(settings, env),
        )

    def close(self) -> None:
        """Stop the send threads and release the firebase App (and its HTTP sessions)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        firebase_admin.delete_app(self._app)

    def build_message(self, message: OutgoingMessage) -> messaging.Message:
        """The firebase ``Message`` for one outgoing push (``fid``: ``token`` is deprecated)."""
        data = dict(message.data)
        data.setdefault("key", message.key)
        if self._ack_secret:
            data.setdefault("token", ack_token(self._ack_secret, message.key))
        collapse = message.collapse_key or None
        apns_headers = {"apns-priority": "10", "apns-push-type": "alert"}
        if collapse:
            apns_headers["apns-collapse-id"] = collapse[:64]  # APNs limit: 64 bytes
        return messaging.Message(
            fid=message.address,
            notification=messaging.Notification(title=message.title or None, body=message.body),
            data=data,
            android=messaging.AndroidConfig(
                priority="high",
                collapse_key=collapse,
                ttl=self._ttl,
                notification=messaging.AndroidNotification(
                    channel_id=ANDROID_CHANNEL_ID, tag=collapse
                ),
            ),
            apns=messaging.APNSConfig(
                headers=apns_headers,
                payload=messaging.APNSPayload(
                    aps=messaging.Aps(
                        sound="default",
                        thread_id=collapse,
                        # Aps has no interruption-level argument in 7.7
                        custom_data={"interruption-level": "time-sensitive"},
                    )
                ),
            ),
        )

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """One result per message, in order, sent concurrently on a bounded pool.

        Each message is one FCM v1 request (that is all ``send_each`` does too, on a fresh
        thread per message); ``concurrency`` long-lived threads share the app's pooled
        HTTP connections, so one worker is limited by the provider, not by waiting on one
        request at a time or by starting 500 threads per chunk.
        """
        for m in messages:
            if m.channel is not ChannelName.PUSH:
                raise ValueError(f"FcmPush cannot send a {m.channel} message")
        if not messages:
            return []
        try:
            # fetch the OAuth token first: if the exchange fails, nothing was sent
            self._app.credential.get_access_token()
        except google.auth.exceptions.TransportError as exc:
            detail = f"fcm token exchange failed: {type(exc).__name__}"
            return [DeliveryResult(Outcome.DEFERRED, self.name, None, detail) for _ in messages]
        except google.auth.exceptions.RefreshError as exc:
            raise ChannelMisconfigured(f"FCM の認証に失敗 / FCM credential refused: {exc}") from exc
        if len(messages) == 1:
            return [self._send_one(messages[0])]
        return list(self._executor().map(self._send_one, messages))

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        return self.send_many([message])[0]

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="fcm")
            return self._pool

    def _send_one(self, m: OutgoingMessage) -> DeliveryResult:
        who = mask_token(m.address)
        try:
            # firebase-admin encodes (and validates) the message before sending it
            name = messaging.send(self.build_message(m), app=self._app)
        except ValueError:
            return DeliveryResult(Outcome.REJECTED, self.name, None, f"invalid push ({who})")
        except exceptions.FirebaseError as exc:
            outcome, detail, retry = classify_fcm_error(exc)
            log.info("push %s to %s: %s", outcome, who, detail)
            return DeliveryResult(
                outcome, self.name, None, f"{detail} ({who})", retry, fcm_error_code(exc)
            )
        except Exception as exc:
            # whether the request left is unknown: "may have gone out", not retried blind
            detail = f"fcm send failed: {type(exc).__name__}"
            return DeliveryResult(Outcome.UNKNOWN, self.name, None, f"{detail} ({who})")
        return DeliveryResult(Outcome.DELIVERED, self.name, str(name))
