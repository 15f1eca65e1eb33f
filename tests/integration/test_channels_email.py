"""The e-mail channel against a local aiosmtpd sink on 127.0.0.1 (real smtplib)."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from alertsvc.channels.email import EmailChannel, build_email, message_id_for
from alertsvc.channels.fax import FaxChannel
from alertsvc.channels.fax_mail import FaxMailChannel
from alertsvc.config import Settings
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, Outcome, OutgoingMessage


@dataclass
class Sink:
    """Accepts mail; ``refuse`` maps a recipient to the SMTP reply it gets at RCPT."""

    refuse: dict[str, str] = field(default_factory=dict)
    received: list[Message] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.received.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _channel(port: int) -> EmailChannel:
    s = Settings()
    return EmailChannel.from_settings(
        replace(s, email=replace(s.email, smtp_port=port, message_id_domain="test.invalid")),
        env={},
    )


def _msg(
    to: str, key: str, language: str = "ja", data: tuple[tuple[str, str], ...] = ()
) -> OutgoingMessage:
    return OutgoingMessage(
        key,
        ChannelName.EMAIL,
        to,
        "Evacuate now to Nogata Daini JHS.",
        language=language,
        title="[Level 4] Evacuate",
        data=data,
    )


def test_outcomes_and_the_mail_itself(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    handler.refuse = {
        "gone@example.jp": "550 5.1.1 No such user",
        "full@example.jp": "452 4.2.2 Mailbox full",
    }
    body_ja = "すぐに避難してください。避難先: 直方市立第二中学校。"
    results = _channel(port).send_many(
        [
            _msg("ok@example.jp", "A1:1", "en", (("body_ja", body_ja),)),
            _msg("gone@example.jp", "A1:2"),
            _msg("full@example.jp", "A1:3"),
        ]
    )
    assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.REJECTED, Outcome.DEFERRED]
    assert results[1].error_code == "smtp550"
    assert len(handler.received) == 1
    mail = handler.received[0]
    assert mail["Message-ID"] == "<A1.1@test.invalid>" == results[0].provider_ref
    assert mail["Subject"].startswith("【防災】")
    assert isinstance(mail, EmailMessage)
    text = mail.get_content()
    assert "Evacuate now" in text and body_ja in text  # their language, Japanese beside


def test_retry_carries_the_same_message_id() -> None:
    first = build_email(_msg("a@example.jp", "A9:17"), sender="b@example.jp", domain="d")
    again = build_email(_msg("a@example.jp", "A9:17"), sender="b@example.jp", domain="d")
    assert first["Message-ID"] == again["Message-ID"] == message_id_for("A9:17", "d")


def test_japanese_resident_gets_no_duplicate_japanese() -> None:
    mail = build_email(
        _msg("a@example.jp", "A1:1", "ja", (("body_ja", "x"),)), sender="b@example.jp", domain="d"
    )
    assert "日本語" not in mail.get_content()


def test_no_server_is_deferred_not_raised() -> None:
    results = _channel(_free_port()).send_many([_msg("a@example.jp", "A1:1")])
    assert results[0].outcome is Outcome.DEFERRED


def test_fax_through_an_email_to_fax_gateway(sink: tuple[Sink, int], tmp_path: Path) -> None:
    handler, port = sink
    handler.refuse = {"81949000009@fax.example.jp": "550 5.1.1 not a fax number"}
    s = Settings()
    s = replace(
        s,
        email=replace(s.email, smtp_port=port, message_id_domain="test.invalid"),
        fax=replace(s.fax, transport="smtp", gateway_domain="fax.example.jp"),
    )
    fax = FaxChannel.from_settings(s, env={})
    assert isinstance(fax, FaxMailChannel)

    def msg(to: str, key: str) -> OutgoingMessage:
        return OutgoingMessage(key, ChannelName.FAX, to, "すぐに避難", title="避難指示")

    results = fax.send_many([msg("+81949000001", "A1:1"), msg("+81949000009", "A1:2")])
    assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.REJECTED]
    (mail,) = handler.received
    assert isinstance(mail, EmailMessage)
    assert mail["To"] == "81949000001@fax.example.jp"
    (pdf,) = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    page = tmp_path / "page.pdf"
    page.write_bytes(pdf.get_content())
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(page), "-"], capture_output=True, check=True, text=True
        ).stdout
        assert "避難指示" in text


def test_fax_gateway_needs_a_domain() -> None:
    s = Settings()
    s = replace(s, fax=replace(s.fax, transport="smtp"))
    with pytest.raises(ChannelMisconfigured, match="gateway_domain"):
        FaxChannel.from_settings(s, env={})


def test_a_residents_alert_mail_carries_the_answer_page_link(sink: tuple[Sink, int]) -> None:
    """#11 item 3: the resident-page link (#10) in the person's language with the Japanese;
    a cancellation asks nothing and carries none."""
    from alertsvc.web.pages import verify_page_token

    handler, port = sink
    s = Settings()
    channel = EmailChannel.from_settings(
        replace(
            s,
            email=replace(s.email, smtp_port=port, message_id_domain="test.invalid"),
            webhooks=replace(s.webhooks, public_url="http://127.0.0.1:8766"),
        ),
        env={},
    )
    alert = _msg("en@example.jp", "A7:1", "en", (("action", "evacuate"),))
    cancel = _msg("en@example.jp", "A8:1", "en", (("cancels", "A7"),))
    results = channel.send_many([alert, cancel])
    assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.DELIVERED]
    first, second = (m.get_content() for m in handler.received)
    assert "I have evacuated / I am safe / I need help:" in first
    assert "避難しました・無事です / 助けが必要です:" in first
    [link] = [line for line in first.splitlines() if line.startswith("http://127.0.0.1:8766/r/")]
    key, token = link.rsplit("/", 2)[-2:]
    assert key == "A7:1"
    from alertsvc.acks import ack_secret

    assert verify_page_token(ack_secret(s, {}), key, token)
    assert "/r/" not in second
