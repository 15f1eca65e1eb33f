"""FAX for deaf and hard-of-hearing residents without a mobile phone.

Each message becomes a one-page A4 PDF in large type (never below 24 pt): the title
(level and action), the body (action, shelter), and an instruction to answer by FAX or
tell a supporter, in the resident's language with Japanese beside it. The Japanese font
comes from ``reports.fonts`` (found at run time; fpdf2 embeds the subset used).

Transport: the Telnyx Programmable Fax REST API v2 (``POST /v2/faxes``, multipart with
the PDF as ``contents``, ``connection_id``, ``to``, ``from``, ``webhook_url``; answer
202 with ``data.id``) over httpx, or an e-mail-to-fax gateway over SMTP
(``<number digits>@gateway_domain`` with the PDF attached). Telnyx then reports
``fax.queued`` -> ``fax.sending.started`` -> ``fax.delivered`` / ``fax.failed`` to the
webhook; ``FAX_FAILURES`` maps a failure reason to an outcome at this edge.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlencode

import httpx
from fpdf import FPDF

from alertsvc.acks import ack_secret, ack_token
from alertsvc.channels.twilio_common import mask_phone, parse_retry_after
from alertsvc.config import Settings, is_loopback_url
from alertsvc.errors import ChannelMisconfigured, ConfigError
from alertsvc.models import ChannelName, DeliveryResult, Outcome, OutgoingMessage
from alertsvc.reports.fonts import FontChoice, find_japanese_font

if TYPE_CHECKING:
    from alertsvc.channels.fax_mail import FaxMailChannel

__all__ = [
    "FAX_FAILURES",
    "MIN_POINTS",
    "REPLY_INSTRUCTION",
    "SIMULATOR_FAX_KEY",
    "FaxChannel",
    "fax_event_outcome",
    "fax_font",
    "render_fax_pdf",
]

log = logging.getLogger(__name__)

MIN_POINTS = 24.0
TITLE_POINTS = 32.0
SIMULATOR_FAX_KEY = "simulator-fax-key"

# what to do after reading, in each resident language; Japanese is always printed too
REPLY_INSTRUCTION: dict[str, str] = {
    "ja": "無事なら「無事」、助けが必要なら「助けて」と書いて、このFAXに返信してください。"
    "または支援者に伝えてください。",
    "ja-easy": "だいじょうぶなら「ぶじ」、たすけが ひつようなら「たすけて」と かいて、"
    "FAXで かえしてください。または しえんしゃに つたえてください。",
    "en": "Write SAFE or HELP and send this page back by FAX, or tell your supporter.",
    "zh": "请写上“平安”或“求助”，用传真回复本页，或告诉您的支援者。",
    "ko": "'무사' 또는 '도움'이라고 써서 이 팩스로 답장하거나 지원자에게 알려 주세요.",
    "vi": "Hãy viết AN TOÀN hoặc CẦN GIÚP và gửi lại trang này bằng FAX, "
    "hoặc báo cho người hỗ trợ.",
    "pt": "Escreva SEGURO ou AJUDA e devolva esta página por FAX, ou avise seu apoiador.",
    "tl": "Isulat ang LIGTAS o TULONG at ibalik ang pahinang ito sa FAX, "
    "o sabihan ang iyong tagasuporta.",
}

# Telnyx ``failure_reason`` -> (outcome, the status word our outbox records). A busy line
# or no answer is worth another try; a number that is not a fax line never will be.
FAX_FAILURES: dict[str, tuple[Outcome, str]] = {
    "user_busy": (Outcome.DEFERRED, "busy"),
    "receiver_busy": (Outcome.DEFERRED, "busy"),
    "no_answer": (Outcome.DEFERRED, "no-answer"),
    "receiver_no_answer": (Outcome.DEFERRED, "no-answer"),
    "fax_initial_communication_timeout": (Outcome.DEFERRED, "no-answer"),
    "receiver_invalid_number_format": (Outcome.REJECTED, "failed"),
    "receiver_unallocated_number": (Outcome.REJECTED, "failed"),
    "destination_invalid": (Outcome.REJECTED, "failed"),
    "invalid_number": (Outcome.REJECTED, "failed"),
}

# Telnyx event type -> our provider status words (as record_provider_status reads them)
_EVENT_STATUS: dict[str, str] = {
    "fax.queued": "queued",
    "fax.media.processed": "queued",
    "fax.sending.started": "sending",
    "fax.delivered": "delivered",
    "fax.failed": "failed",
}


def fax_event_outcome(event_type: str, failure_reason: str = "") -> tuple[str, Outcome | None]:
    """(status word, outcome) for one Telnyx fax webhook event.

    The status word is what ``record_provider_status`` reads (queued, sending, delivered,
    busy, no-answer, failed). Outcome is None while the fax is still on its way. A
    ``fax.failed`` reason not in ``FAX_FAILURES`` is DEFERRED / "failed" (fail safe:
    try again rather than give up on a person). Raises ``KeyError`` for an event type
    that is not a fax status.
    """
    status = _EVENT_STATUS[event_type]
    if status == "delivered":
        return status, Outcome.DELIVERED
    if status == "failed":
        outcome, word = FAX_FAILURES.get(failure_reason, (Outcome.DEFERRED, "failed"))
        return word, outcome
    return status, None


def fax_font() -> FontChoice:
    """The Japanese font for FAX pages; raises ``ChannelMisconfigured`` when none is
    installed, so the channel is reported broken at start rather than per message."""
    try:
        return find_japanese_font()
    except ConfigError as exc:
        raise ChannelMisconfigured(f"FAX cannot render its page: {exc}") from exc


def _wrap(pdf: FPDF, text: str, size: float, width: float) -> list[str]:
    """Greedy wrap by rendered width: Japanese has no spaces, so break between any chars."""
    pdf.set_font_size(size)
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for char in paragraph:
            if pdf.get_string_width(current + char) > width and current:
                # Latin text breaks at the last space, so words stay whole
                cut = current.rfind(" ") if char.isascii() and current[-1:].isascii() else -1
                if cut > 0:
                    lines.append(current[:cut])
                    current = current[cut + 1 :] + char
                else:
                    lines.append(current)
                    current = char.lstrip()
            else:
                current += char
        lines.append(current)
    return lines


def render_fax_pdf(
    *, title: str, body: str, language: str, reply_to: str, font: FontChoice | None = None
) -> bytes:
    """One A4 page: title at 32 pt, the rest at 24 pt, Japanese instruction always present.

    Text that does not fit on one page is cut at the page end with "…" (a fax of several
    pages is often only half read); the reply instruction is printed first at the bottom
    so it is never the part cut. Raises ``ChannelMisconfigured`` without a Japanese font.
    """
    font_path, index = font or fax_font()
    pdf = FPDF(orientation="P", unit="pt", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.add_font("jp", "", str(font_path), collection_font_number=index)
    pdf.set_font("jp", size=MIN_POINTS)
    pdf.set_title("避難情報 / Evacuation information")
    pdf.add_page()
    page_h = pdf.h
    margin = 40.0
    width = pdf.w - 2 * margin
    instruction = REPLY_INSTRUCTION["ja"]
    if language != "ja" and language in REPLY_INSTRUCTION:
        instruction += "\n" + REPLY_INSTRUCTION[language]
    if reply_to:
        instruction += f"\nFAX: {reply_to}"
    footer = _wrap(pdf, instruction, MIN_POINTS, width)
    leading = MIN_POINTS * 1.25
    top_of_footer = page_h - margin - leading * len(footer)  # y grows downwards
    y = margin + TITLE_POINTS
    title_lines = _wrap(pdf, title, TITLE_POINTS, width)
    pdf.set_font_size(TITLE_POINTS)
    for line in title_lines:
        pdf.text(margin, y, line)
        y += TITLE_POINTS * 1.3
    body_lines = _wrap(pdf, body, MIN_POINTS, width)
    room = max(0, int((top_of_footer - y) // leading))
    if len(body_lines) > room:
        body_lines = [*body_lines[: max(0, room - 1)], "…"]
    pdf.set_font_size(MIN_POINTS)
    for line in body_lines:
        pdf.text(margin, y, line)
        y += leading
    y = top_of_footer + leading - MIN_POINTS * 0.25
    for line in footer:
        pdf.text(margin, y, line)
        y += leading
    return bytes(pdf.output())


class FaxChannel:
    """The FAX channel over the Telnyx REST API. ``send_many`` never raises for a recipient.

    Outcomes: DELIVERED when Telnyx accepted the fax (202; provider_ref = fax id; the
    line's verdict arrives by webhook); REJECTED for 422 on ``to`` (invalid number,
    error_code ``invalid_number``); DEFERRED for 429 (Retry-After kept), 5xx and
    connection failures; UNKNOWN for a read timeout after sending. Raises
    ``ChannelMisconfigured`` for 401/403 and other 4xx (our request or account).
    """

    name: ClassVar[ChannelName] = ChannelName.FAX
    max_batch: ClassVar[int] = 1

    def __init__(
        self,
        client: httpx.Client,
        *,
        public_url: str,
        connection_id: str,
        from_number: str,
        ack_secret: bytes,
        font: FontChoice | None = None,
    ) -> None:
        if not connection_id or not from_number:
            raise ChannelMisconfigured("FAX needs fax.connection_id and fax.from_number")
        self._client = client
        self._webhook = public_url.rstrip("/") + "/fax/status"
        self._connection = connection_id
        self._from = from_number
        # the status webhook URL carries an HMAC of the key: only the URL we handed the
        # provider can move a row (Telnyx's own ed25519 signature needs its public key)
        self._secret = ack_secret
        # fail at start-up, not at the first alert, when no font is installed
        self._font = font or fax_font()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = 10.0, env: Mapping[str, str] | None = None
    ) -> FaxChannel | FaxMailChannel:
        """Build from ``[fax]``: the API key from ``fax.api_key_env`` (a built-in one only
        when ``fax.base_url`` is the loopback simulator); ``fax.transport = "smtp"`` builds
        the e-mail-to-fax gateway channel instead (``alertsvc.channels.fax_mail``)."""
        fax = settings.fax
        if fax.transport == "smtp":
            from alertsvc.channels.fax_mail import FaxMailChannel

            return FaxMailChannel.from_settings(settings, timeout=timeout, env=env)
        if fax.transport != "rest":
            raise ChannelMisconfigured(f"fax.transport must be rest or smtp, got {fax.transport!r}")
        secret = settings.secret(fax.api_key_env, env)
        if secret is None and not is_loopback_url(fax.base_url):
            raise ChannelMisconfigured(f"FAX needs the API key in ${fax.api_key_env}")
        key = secret.value if secret is not None else SIMULATOR_FAX_KEY
        client = httpx.Client(
            base_url=fax.base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
        )
        return cls(
            client,
            public_url=settings.webhooks.public_url,
            connection_id=fax.connection_id,
            from_number=fax.from_number,
            ack_secret=ack_secret(settings, env),
        )

    def status_callback_url(self, key: str) -> str:
        """The webhook URL for outbox row ``key``: ``?key=…&sig=<ack token of key>``."""
        return f"{self._webhook}?{urlencode({'key': key, 'sig': ack_token(self._secret, key)})}"

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """One result per message, in order (see the class docstring)."""
        return [self.send(m) for m in messages]

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        if message.channel is not ChannelName.FAX:
            raise ValueError(f"FaxChannel cannot send a {message.channel} message")
        pdf = render_fax_pdf(
            title=message.title,
            body=message.body,
            language=message.language,
            reply_to=self._from,
            font=self._font,
        )
        fields = {
            "connection_id": self._connection,
            "to": message.address,
            "from": self._from,
            "webhook_url": self.status_callback_url(message.key),
        }
        who = mask_phone(message.address)
        try:
            response = self._client.post(
                "/v2/faxes",
                data=fields,
                files={"contents": ("alert.pdf", pdf, "application/pdf")},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            return DeliveryResult(Outcome.DEFERRED, self.name, detail="fax connect failed")
        except httpx.TransportError as exc:
            log.warning("fax to %s: %s after sending", who, type(exc).__name__)
            return DeliveryResult(Outcome.UNKNOWN, self.name, detail="fax timeout after sending")
        return self._classify(response, who)

    def _classify(self, response: httpx.Response, who: str) -> DeliveryResult:
        status = response.status_code
        if status in (200, 201, 202):
            fax_id = _json_path(response, "data", "id")
            return DeliveryResult(Outcome.DELIVERED, self.name, provider_ref=fax_id)
        if status == 429 or status >= 500:
            retry = parse_retry_after(response.headers.get("Retry-After"))
            return DeliveryResult(
                Outcome.DEFERRED, self.name, detail=f"fax http {status}", retry_after=retry
            )
        if status == 422 and _error_pointer(response) == "/to":
            log.info("fax to %s refused: invalid number", who)
            return DeliveryResult(
                Outcome.REJECTED,
                self.name,
                detail="fax 422 invalid number",
                error_code="invalid_number",
            )
        raise ChannelMisconfigured(
            f"fax provider refused our request (HTTP {status}): check [fax] settings and key"
        )


def _json_path(response: httpx.Response, *path: str) -> str | None:
    try:
        node: object = response.json()
    except ValueError:
        return None
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node if isinstance(node, str) else None


def _error_pointer(response: httpx.Response) -> str | None:
    try:
        doc = response.json()
    except ValueError:
        return None
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    source = errors[0].get("source")
    pointer = source.get("pointer") if isinstance(source, dict) else None
    return pointer if isinstance(pointer, str) else None
