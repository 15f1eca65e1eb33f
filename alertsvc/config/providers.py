"""Provider sections: [twilio], [fcm], [fax], [line] and [email].

Where each provider's API lives and which environment variable holds its secret. Every
default points at the loopback provider simulator (``is_loopback_url``), so the embedded
setup never reaches a real provider by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

__all__ = [
    "EmailSettings",
    "FaxSettings",
    "FcmSettings",
    "LineSettings",
    "TwilioSettings",
    "is_loopback_url",
]


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs on 127.0.0.1 / localhost / ::1 (the provider simulator)."""
    host = (urlparse(url).hostname or "").lower()
    return host in {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class TwilioSettings:
    # the embedded default points the real twilio client at the local simulator
    base_url: str = "http://127.0.0.1:8765"
    account_sid: str = "AC00000000000000000000000000000000"
    auth_token_env: str = "ALERTSVC_TWILIO_TOKEN"
    from_number: str = "+815000000000"
    messaging_service_sid: str = ""
    voice: str = "Polly.Mizuki"
    sms_validity_seconds: int = 3600
    gather_timeout_seconds: int = 15


@dataclass(frozen=True)
class FcmSettings:
    base_url: str = "http://127.0.0.1:8765"
    project_id: str = "alertsvc-demo"
    # path of a service-account JSON; empty means "generate a throwaway one for the simulator"
    credentials_file: str = ""
    credentials_env: str = "ALERTSVC_FCM_CREDENTIALS"


@dataclass(frozen=True)
class FaxSettings:
    # Telnyx Programmable Fax REST API (v2); the default is the loopback simulator
    base_url: str = "http://127.0.0.1:8767"
    api_key_env: str = "ALERTSVC_FAX_API_KEY"
    connection_id: str = "fax-app-demo"
    from_number: str = "+815000000001"
    # "rest" (Telnyx) or "smtp" (e-mail-to-fax gateway: <number>@gateway_domain)
    transport: str = "rest"
    gateway_domain: str = ""


@dataclass(frozen=True)
class LineSettings:
    # LINE Messaging API host; the default is the loopback simulator
    base_url: str = "http://127.0.0.1:8767"
    channel_token_env: str = "ALERTSVC_LINE_CHANNEL_TOKEN"
    channel_secret_env: str = "ALERTSVC_LINE_CHANNEL_SECRET"


@dataclass(frozen=True)
class EmailSettings:
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    starttls: bool = False
    username: str = ""
    password_env: str = "ALERTSVC_SMTP_PASSWORD"
    from_address: str = "bousai@example.jp"
    # the right-hand side of Message-IDs (<delivery key>@message_id_domain)
    message_id_domain: str = "alertsvc.invalid"
