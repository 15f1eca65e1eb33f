"""Acknowledgement tokens for the resident's app.

The push data payload carries the delivery ``key`` and ``token = ack_token(secret, key)``;
the app posts both back to ``/ack``. The token proves the answer comes from someone who
received that push, without any login. It is an HMAC, so it cannot be forged without the
secret and it does not reveal the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from alertsvc.config import Settings, is_loopback_url
from alertsvc.errors import ConfigError

__all__ = [
    "SIMULATOR_ACK_SECRET",
    "TOKEN_LENGTH",
    "ack_secret",
    "ack_token",
    "verify_ack_token",
]

# hex characters kept from the HMAC-SHA256: 128 bits, short enough for a push payload
TOKEN_LENGTH = 32

# Used only when no secret is set AND the webhooks are on loopback (demo, tests).
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


def ack_secret(settings: Settings, env: Mapping[str, str] | None = None) -> bytes:
    """The acknowledgement secret from ``webhooks.ack_secret_env``, else the simulator's.

    The built-in fallback is allowed only while the public webhook URL is loopback (or
    empty), so a real deployment cannot run with a secret published in this source file.
    Raises ``ConfigError`` otherwise.
    """
    secret = settings.secret(settings.webhooks.ack_secret_env, env)
    if secret is not None:
        return secret.value.encode("utf-8")
    public = settings.webhooks.public_url
    if not public or is_loopback_url(public):
        return SIMULATOR_ACK_SECRET
    raise ConfigError(
        "応答トークンの秘密鍵がありません / no acknowledgement secret: set "
        f"${settings.webhooks.ack_secret_env} (webhooks.public_url is {public})"
    )
