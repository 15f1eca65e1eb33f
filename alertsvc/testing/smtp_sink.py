"""A loopback SMTP server that accepts every message: the e-mail provider of the demo.

The e-mail channel speaks real SMTP (smtplib) to it; nothing leaves the machine. Tests
that need refusals script their own aiosmtpd handler.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import Message
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["SmtpSink"]


class _Handler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content or "").encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.received.append(message)
        return "250 Message accepted"


class SmtpSink:
    """SMTP on 127.0.0.1 (a free port) accepting all mail; use as a context manager."""

    def __init__(self) -> None:
        self._handler = _Handler()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Message]:
        with self._handler.lock:
            return list(self._handler.received)
