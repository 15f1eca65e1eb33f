"""SMS through Twilio Messages (the real ``twilio`` client).

Each message is one ``messages.create`` call with a status callback URL carrying the
outbox key (``?key=``) and a ``validity_period``, so Twilio drops a message it could
not hand to the carrier in time instead of delivering a stale alert hours late.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar
from urllib.parse import urlencode

from alertsvc.channels.twilio_common import (
    TWILIO_CONCURRENCY,
    TwilioCall,
    make_twilio_client,
    mask_phone,
    send_via_twilio,
)
from alertsvc.config import Settings
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, DeliveryResult, OutgoingMessage

__all__ = ["TwilioSms"]


# Twilio accepts ValidityPeriod between 1 and 36000 seconds (10 hours)
_VALIDITY_RANGE = (1, 36000)


class TwilioSms:
    """The SMS channel. ``send_many`` never raises for a recipient problem.

    Outcomes: DELIVERED when Twilio accepted the message (provider_ref = the SM sid;
    the carrier's verdict arrives later through the status callback); REJECTED for
    permanent recipient problems (21610 opted out, 21614 not a mobile, 21211 invalid,
    …); DEFERRED for 429/5xx/connection refused (``retry_after`` from Retry-After);
    UNKNOWN for a read timeout. Raises ``ChannelMisconfigured`` for bad credentials or
    sender (401, 21212, 21606, …).
    """

    name: ClassVar[ChannelName] = ChannelName.SMS
    # one request per message, up to TWILIO_CONCURRENCY of them at once (send_many)
    max_batch: ClassVar[int] = TWILIO_CONCURRENCY
    # one stand-alone Japanese SMS segment (UCS-2)
    max_chars: ClassVar[int] = 70

    def __init__(
        self,
        twilio: TwilioCall,
        *,
        public_url: str,
        from_number: str = "",
        messaging_service_sid: str = "",
        validity_seconds: int = 3600,
        body_for: Callable[[OutgoingMessage], str] | None = None,
    ) -> None:
        if not from_number and not messaging_service_sid:
            raise ChannelMisconfigured(
                "SMS の送信元がありません / SMS needs twilio.from_number or "
                "twilio.messaging_service_sid"
            )
        low, high = _VALIDITY_RANGE
        if not low <= validity_seconds <= high:
            raise ChannelMisconfigured(
                f"twilio.sms_validity_seconds must be {low}..{high}, got {validity_seconds}"
            )
        self._twilio = twilio
        self._status_url = public_url.rstrip("/") + "/twilio/sms/status"
        self._from = from_number
        self._service = messaging_service_sid
        self._validity = validity_seconds
        # the text actually sent (the resident page link added); None: the row's body
        self._body_for = body_for

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = 10.0, env: Mapping[str, str] | None = None
    ) -> TwilioSms:
        """Build the channel from settings (client aimed at ``twilio.base_url``)."""
        from alertsvc.acks import ack_secret
        from alertsvc.planning.supporters import is_digest
        from alertsvc.web.pages import is_resident_alert_sms, page_link, with_page_link
        from alertsvc.web.supporter_page import supporter_link

        tw = settings.twilio
        client = make_twilio_client(settings, timeout=timeout, env=env)
        # the resident page link goes in at send time, so planning's texts stay as they are
        secret = ack_secret(settings, env)
        base = settings.webhooks.public_url

        def body_for(message: OutgoingMessage) -> str:
            if base and is_digest(message.data):
                # a supporter digest: the supporter page lists every person it names
                link = supporter_link(base, secret, message.key)
                return with_page_link(message.body, link) or f"{message.body}\n{link}"
            if not base or not is_resident_alert_sms(message.data):
                return message.body
            linked = with_page_link(message.body, page_link(base, secret, message.key))
            return message.body if linked is None else linked

        return cls(
            client,
            public_url=settings.webhooks.public_url,
            from_number=tw.from_number,
            messaging_service_sid=tw.messaging_service_sid,
            validity_seconds=tw.sms_validity_seconds,
            body_for=body_for,
        )

    def status_callback_url(self, key: str) -> str:
        """The status callback URL for outbox row ``key`` (the webhook finds the row by it)."""
        return f"{self._status_url}?{urlencode({'key': key})}"

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """One result per message, in order (see the class docstring)."""
        return self._twilio.send_each(self.name, messages, self.send)

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        if message.channel is not ChannelName.SMS:
            raise ValueError(f"TwilioSms cannot send a {message.channel} message")
        who = mask_phone(message.address)
        sender: dict[str, str] = (
            {"messaging_service_sid": self._service} if self._service else {"from_": self._from}
        )
        return send_via_twilio(
            self.name,
            self._twilio,
            who,
            lambda: self._twilio.client.messages.create(
                to=message.address,
                body=self._body_for(message) if self._body_for else message.body,
                status_callback=self.status_callback_url(message.key),
                validity_period=self._validity,
                **sender,
            ),
            "sms",
        )
