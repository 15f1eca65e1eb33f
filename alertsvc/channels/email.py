"""E-mail (登録制の防災メール) over SMTP with the standard library's ``smtplib``.

Plain text in the resident's language with the Japanese text beside it (the ``body_ja``
entry of the message data, filled by planning for non-Japanese residents). The
``Message-ID`` is derived from the delivery key, so a retried message carries the same
id and a mail system (or a person) recognises the copy.

The SMTP server's verdict is mapped at this edge: a 5xx reply to the recipient or the
data is permanent (REJECTED), a 4xx reply transient (DEFERRED); a refused or timed-out
connection is DEFERRED (nothing was handed over); a connection lost after the data was
sent is UNKNOWN. Bounces that arrive later by mail are not read.
"""

from __future__ import annotations

import logging
import re
import smtplib
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, ClassVar

from alertsvc.config import Settings
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, DeliveryResult, Outcome, OutgoingMessage

__all__ = ["EmailChannel", "build_email", "mask_email", "message_id_for", "smtp_outcome"]

log = logging.getLogger(__name__)

# characters allowed in the left part of a Message-ID (RFC 5322 dot-atom-text)
_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")

_SUBJECT_JA = "【防災】避難情報"


def mask_email(address: str) -> str:
    """``ta****@example.jp``: enough to tell two addresses apart in a log, no more."""
    local, _, domain = address.partition("@")
    return f"{local[:2]}****@{domain}"


def message_id_for(key: str, domain: str) -> str:
    """``<key@domain>`` with characters not allowed in a Message-ID replaced by ``.``.

    Deterministic: every attempt of one delivery row gets the same id.
    """
    return f"<{_ATEXT.sub('.', key)}@{domain}>"


def smtp_outcome(code: int) -> Outcome:
    """5xx -> REJECTED (permanent), anything else (4xx) -> DEFERRED."""
    return Outcome.REJECTED if 500 <= code < 600 else Outcome.DEFERRED


def build_email(
    message: OutgoingMessage, *, sender: str, domain: str, answer: str | None = None
) -> EmailMessage:
    """The plain-text mail for one delivery row (see the module docstring); ``answer`` is
    the resident page's link line, for a resident's own alert."""
    data = dict(message.data)
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.address
    subject = message.title or _SUBJECT_JA
    mail["Subject"] = subject if subject.startswith("【") else f"{_SUBJECT_JA} {subject}"
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id_for(message.key, domain)
    mail["Content-Language"] = message.language
    parts = [message.body]
    body_ja = data.get("body_ja", "")
    if message.language != "ja" and body_ja and body_ja != message.body:
        parts.append("――― 日本語 ―――\n" + body_ja)
    if answer:
        parts.append(answer)
    mail.set_content("\n\n".join(parts), charset="utf-8")
    return mail


class EmailChannel:
    """The e-mail channel. ``send_many`` never raises for a recipient problem.

    One SMTP session per batch. Raises ``ChannelMisconfigured`` when the server refuses
    our login or our sender address for good (5xx).
    """

    name: ClassVar[ChannelName] = ChannelName.EMAIL
    max_batch: ClassVar[int] = 50

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        message_id_domain: str,
        starttls: bool = False,
        username: str = "",
        password: str = "",
        timeout: float = 10.0,
        answer_for: Callable[[OutgoingMessage], str | None] | None = None,
    ) -> None:
        if not sender or "@" not in sender:
            raise ChannelMisconfigured("e-mail needs email.from_address")
        self._host, self._port = host, port
        self._sender = sender
        self._domain = message_id_domain
        self._starttls = starttls
        self._username, self._password = username, password
        self._timeout = timeout
        self._answer_for = answer_for

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = 10.0, env: Mapping[str, str] | None = None
    ) -> EmailChannel:
        """Build from ``[email]``; the SMTP password from ``email.password_env``."""
        from alertsvc.acks import ack_secret
        from alertsvc.web.pages import answer_line, is_resident_alert_sms, page_link

        mail = settings.email
        password = settings.secret(mail.password_env, env)
        # the resident page link, as in the SMS: only a resident's own alert asks for answers
        secret = ack_secret(settings, env)
        base = settings.webhooks.public_url

        def answer_for(message: OutgoingMessage) -> str | None:
            if not base or not is_resident_alert_sms(message.data):
                return None
            return answer_line(page_link(base, secret, message.key), message.language)

        if mail.username and password is None:
            raise ChannelMisconfigured(
                f"email.username is set: put the password in ${mail.password_env}"
            )
        return cls(
            host=mail.smtp_host,
            port=mail.smtp_port,
            sender=mail.from_address,
            message_id_domain=mail.message_id_domain,
            starttls=mail.starttls,
            username=mail.username,
            password=password.value if password is not None else "",
            timeout=timeout,
            answer_for=answer_for,
        )

    def smtp_options(self) -> dict[str, Any]:
        """The keyword arguments this channel was built with (for a channel on the same
        server, such as the e-mail-to-fax transport)."""
        return {
            "host": self._host,
            "port": self._port,
            "sender": self._sender,
            "message_id_domain": self._domain,
            "starttls": self._starttls,
            "username": self._username,
            "password": self._password,
            "timeout": self._timeout,
        }

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        try:
            if self._starttls:
                smtp.starttls()
            if self._username:
                smtp.login(self._username, self._password)
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise ChannelMisconfigured(f"SMTP login refused ({exc.smtp_code})") from exc
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """One result per message, in order (see the class docstring)."""
        for m in messages:
            if m.channel is not self.name:
                raise ValueError(f"{type(self).__name__} cannot send a {m.channel} message")
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            # nothing was handed over: every message can be tried again
            detail = f"smtp connect failed: {type(exc).__name__}"
            return [DeliveryResult(Outcome.DEFERRED, self.name, detail=detail) for _ in messages]
        results: list[DeliveryResult] = []
        try:
            for message in messages:
                results.append(self._send_one(smtp, message))
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return results

    def _build(self, message: OutgoingMessage) -> EmailMessage:
        """The mail for one row (a subclass attaches a FAX page instead)."""
        answer = self._answer_for(message) if self._answer_for else None
        return build_email(message, sender=self._sender, domain=self._domain, answer=answer)

    def _send_one(self, smtp: smtplib.SMTP, message: OutgoingMessage) -> DeliveryResult:
        mail = self._build(message)
        who = mask_email(str(mail["To"]))
        try:
            refused = smtp.send_message(mail, from_addr=self._sender, to_addrs=[str(mail["To"])])
        except smtplib.SMTPRecipientsRefused as exc:
            code, _reply = next(iter(exc.recipients.values()))
            return self._refused(code, who, "recipient")
        except smtplib.SMTPSenderRefused as exc:
            if 500 <= exc.smtp_code < 600:
                raise ChannelMisconfigured(
                    f"SMTP server refuses our sender email.from_address ({exc.smtp_code})"
                ) from exc
            return self._refused(exc.smtp_code, who, "sender")
        except smtplib.SMTPResponseException as exc:
            return self._refused(exc.smtp_code, who, "data")
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            log.warning("mail to %s: %s after sending", who, type(exc).__name__)
            return DeliveryResult(Outcome.UNKNOWN, self.name, detail="smtp lost after sending")
        if refused:
            code = next(iter(refused.values()))[0]
            return self._refused(code, who, "recipient")
        return DeliveryResult(Outcome.DELIVERED, self.name, provider_ref=mail["Message-ID"])

    def _refused(self, code: int, who: str, stage: str) -> DeliveryResult:
        outcome = smtp_outcome(code)
        log.info("mail to %s: SMTP %s at %s", who, code, stage)
        return DeliveryResult(
            outcome, self.name, detail=f"smtp {code} at {stage}", error_code=f"smtp{code}"
        )
