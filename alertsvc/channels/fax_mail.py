"""FAX through an e-mail-to-fax gateway: the same one-page PDF, attached to a mail to
``<number digits>@<fax.gateway_domain>``, sent over SMTP with the ``[email]`` server.

Outcomes are the e-mail channel's (5xx permanent -> REJECTED, 4xx -> DEFERRED, …); the
gateway's later verdict (busy, no answer) arrives as a mail, which is not read: the row
stays 'sent' and escalation goes on as for any channel without a receipt.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any, ClassVar

from alertsvc.channels.email import EmailChannel, message_id_for
from alertsvc.channels.fax import fax_font, render_fax_pdf
from alertsvc.config import Settings
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, OutgoingMessage
from alertsvc.reports.fonts import FontChoice

__all__ = ["FaxMailChannel", "gateway_address"]


def gateway_address(number: str, domain: str) -> str:
    """``+81949221112`` -> ``81949221112@domain`` (digits only, as gateways expect)."""
    return "".join(ch for ch in number if ch.isdigit()) + "@" + domain


class FaxMailChannel(EmailChannel):
    """The FAX channel over an e-mail-to-fax gateway; ``send_many`` never raises for a
    recipient problem. Raises ``ChannelMisconfigured`` without a gateway domain or font."""

    name: ClassVar[ChannelName] = ChannelName.FAX
    max_batch: ClassVar[int] = 20

    def __init__(
        self,
        *,
        gateway_domain: str,
        reply_to: str,
        smtp: Mapping[str, Any],
        font: FontChoice | None = None,
    ) -> None:
        if not gateway_domain:
            raise ChannelMisconfigured("fax.transport = smtp needs fax.gateway_domain")
        super().__init__(**smtp)
        self._gateway = gateway_domain
        self._reply_to = reply_to
        self._font = font or fax_font()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = 10.0, env: Mapping[str, str] | None = None
    ) -> FaxMailChannel:
        """Build from ``[fax]`` (gateway) and ``[email]`` (SMTP server and sender)."""
        mail = EmailChannel.from_settings(settings, timeout=timeout, env=env)
        return cls(
            gateway_domain=settings.fax.gateway_domain,
            reply_to=settings.fax.from_number,
            smtp=mail.smtp_options(),
        )

    def _build(self, message: OutgoingMessage) -> EmailMessage:
        pdf = render_fax_pdf(
            title=message.title,
            body=message.body,
            language=message.language,
            reply_to=self._reply_to,
            font=self._font,
        )
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = gateway_address(message.address, self._gateway)
        mail["Subject"] = "避難情報 / evacuation information"
        mail["Message-ID"] = message_id_for(message.key, self._domain)
        mail.set_content("FAX: 1 page (PDF attached).")
        mail.add_attachment(pdf, maintype="application", subtype="pdf", filename="alert.pdf")
        return mail
