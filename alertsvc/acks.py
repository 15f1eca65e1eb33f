"""Acknowledgement tokens for the resident's app.

The push data payload carries the delivery ``key`` and ``token = ack_token(secret, key)``;
the app posts both back to ``/ack``. The token proves the answer comes from someone who
received that push, without any login. It is an HMAC, so it cannot be forged without the
secret and it does not reveal the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Mapping

from alertsvc.channels.twilio_common import SIMULATOR_AUTH_TOKEN
from alertsvc.config import Settings, is_loopback_url
from alertsvc.errors import ConfigError

__all__ = [
    "SIMULATOR_ACK_SECRET",
    "TOKEN_LENGTH",
    "ack_secret",
    "ack_token",
    "exposed_endpoints",
    "verify_ack_token",
    "webhook_auth_token",
]

# hex characters kept from the HMAC-SHA256: 128 bits, short enough for a push payload
TOKEN_LENGTH = 32

# Used only when no secret is set AND everything is on loopback (demo, tests).
SIMULATOR_ACK_SECRET = b"alertsvc-simulator-ack-secret"


def ack_token(secret: bytes, key: str) -> str:
    """HMAC-SHA256 of the delivery ``key`` under ``secret``, hex, first 32 characters.

    Raises ``ValueError`` for an empty secret: a token anyone can compute is no token.
    """
    if not secret:
        raise ValueError("ack secret must not be empty")
    digest = hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:TOKEN_LENGTH]


def verify_ack_token(secret: bytes, key: str, token: str) -> bool:
    """True when ``token`` is ``ack_token(secret, key)``; compared in constant time.

    Never raises: a token of the wrong length or type is simply invalid.
    """
    if not secret or not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return False
    expected = ack_token(secret, key)
    return hmac.compare_digest(expected.encode("ascii"), token.encode("utf-8", "replace"))


def exposed_endpoints(settings: Settings, listen_hosts: Iterable[str] = ()) -> list[str]:
    """Every listener and URL that is not loopback, as ``"<setting>=<value>"``.

    Listeners: ``webhooks.host`` and each of ``listen_hosts`` (``serve --host``); URLs:
    ``webhooks.public_url`` (empty means "the listener's own URL", covered above),
    ``twilio.base_url``, ``fcm.base_url``, ``fax.base_url`` and ``line.base_url``. Empty
    when everything stays on this machine.
    """
    exposed: list[str] = []
    for name, host in [("webhooks.host", settings.webhooks.host)] + [
        ("serve --host", h) for h in listen_hosts
    ]:
        if not _is_loopback_host(host):
            exposed.append(f"{name}={host}")
    for name, url in (
        ("webhooks.public_url", settings.webhooks.public_url),
        ("twilio.base_url", settings.twilio.base_url),
        ("fcm.base_url", settings.fcm.base_url),
        ("fax.base_url", settings.fax.base_url),
        ("line.base_url", settings.line.base_url),
    ):
        if url and not is_loopback_url(url):
            exposed.append(f"{name}={url}")
    return exposed


def ack_secret(
    settings: Settings,
    env: Mapping[str, str] | None = None,
    *,
    listen_hosts: Iterable[str] = (),
) -> bytes:
    """The acknowledgement secret from ``webhooks.ack_secret_env``, else the built-in one.

    The built-in secret is published in this file, so anyone could compute ``/ack``
    tokens with it and mark a person safe: it is used only when every listener, the
    public URL and every provider URL are loopback (``exposed_endpoints`` is empty).
    Raises ``ConfigError`` (exit 1) naming ``webhooks.ack_secret_env`` otherwise.
    """
    secret = settings.secret(settings.webhooks.ack_secret_env, env)
    if secret is not None:
        return secret.value.encode("utf-8")
    exposed = exposed_endpoints(settings, listen_hosts)
    if not exposed:
        return SIMULATOR_ACK_SECRET
    raise ConfigError(
        "応答トークンの秘密鍵がありません / no acknowledgement secret: set "
        f"${settings.webhooks.ack_secret_env} (webhooks.ack_secret_env); the built-in one "
        f"is only for loopback, but {', '.join(exposed)}"
    )


def webhook_auth_token(
    settings: Settings,
    env: Mapping[str, str] | None = None,
    *,
    listen_hosts: Iterable[str] = (),
) -> str:
    """The Twilio auth token the webhooks check signatures with: ``$<twilio.auth_token_env>``,
    else the simulator's, under the same rule as ``ack_secret`` (a token published in
    the source would let anyone sign a keypress or an SMS reply). Raises ``ConfigError``.
    """
    secret = settings.secret(settings.twilio.auth_token_env, env)
    if secret is not None:
        return secret.value
    exposed = exposed_endpoints(settings, listen_hosts)
    if not exposed:
        return SIMULATOR_AUTH_TOKEN
    raise ConfigError(
        "Twilio の認証トークンがありません / no Twilio auth token: set "
        f"${settings.twilio.auth_token_env} (twilio.auth_token_env); the built-in one is "
        f"only for loopback, but {', '.join(exposed)}"
    )


def _is_loopback_host(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere
