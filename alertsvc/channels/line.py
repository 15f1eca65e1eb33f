"""LINE official account push through the LINE Messaging API (official ``line-bot-sdk`` v3).

Each message is one ``push_message`` to the resident's LINE user id (collected when they
followed the city's account) with two messages: the alert text, then a buttons template
asking "無事ですか" with two postback buttons (``key=<delivery key>&answer=safe`` /
``need_help``). The postback comes back through our webhook (``/line/webhook``), signed
with ``X-Line-Signature``.

``X-Line-Retry-Key`` is a UUID derived from the delivery key, so every retry of one row
carries the same key and LINE delivers it at most once: a retry of a push LINE already
accepted answers 409 with ``x-line-accepted-request-id``, which is DELIVERED here.

Reaching the simulator: ``Configuration(host=line.base_url)``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import ClassVar

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ButtonsTemplate,
    Configuration,
    MessagingApi,
    PostbackAction,
    PushMessageRequest,
    TemplateMessage,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException

from alertsvc.acks import exposed_endpoints
from alertsvc.channels.twilio_common import parse_retry_after
from alertsvc.config import Settings, is_loopback_url
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, DeliveryResult, Outcome, OutgoingMessage

__all__ = [
    "BUTTONS",
    "SIMULATOR_LINE_SECRET",
    "SIMULATOR_LINE_TOKEN",
    "LineChannel",
    "line_channel_secret",
    "mask_line_id",
    "postback_data",
    "retry_key_for",
]

log = logging.getLogger(__name__)

SIMULATOR_LINE_TOKEN = "simulator-line-token"
SIMULATOR_LINE_SECRET = "simulator-line-secret"
# retry keys are UUIDs; uuid5 of the delivery key in this namespace
_RETRY_NAMESPACE = uuid.UUID("6f1c9a0e-3b1e-4d7a-9c55-2a6c0b9e11a1")
# LINE text limits: buttons template text 160 characters, message text 5000
_TEXT_MAX = 5000

# language -> (question, safe label, need-help label); labels at most 20 characters
BUTTONS: dict[str, tuple[str, str, str]] = {
    "ja": ("無事ですか？ボタンで教えてください。", "無事です", "助けてほしい"),
    "ja-easy": ("だいじょうぶですか？ ボタンを おしてください。", "だいじょうぶ", "たすけて"),
    "en": ("Are you safe? Please tap a button.", "I am safe", "I need help"),
    "zh": ("您平安吗？请点击按钮。", "我平安", "我需要帮助"),
    "ko": ("무사하십니까? 버튼을 눌러 주세요.", "무사합니다", "도움이 필요합니다"),
    "vi": ("Bạn có an toàn không? Hãy bấm nút.", "Tôi an toàn", "Tôi cần giúp"),
    "pt": ("Você está seguro? Toque em um botão.", "Estou seguro", "Preciso de ajuda"),
    "tl": ("Ligtas ka ba? Pindutin ang isang button.", "Ligtas ako", "Kailangan ko ng tulong"),
}


def mask_line_id(user_id: str) -> str:
    """``U1234…cdef``: enough to tell two ids apart in a log."""
    return f"{user_id[:5]}…{user_id[-4:]}" if len(user_id) > 9 else "U…"


def line_channel_secret(
    settings: Settings, env: Mapping[str, str] | None = None, *, listen_hosts: Sequence[str] = ()
) -> str:
    """The channel secret that checks ``X-Line-Signature``, from ``line.channel_secret_env``.

    The built-in simulator secret only when everything is loopback; otherwise "" (the
    webhook is not mounted, so no unsigned postback can mark anyone).
    """
    secret = settings.secret(settings.line.channel_secret_env, env)
    if secret is not None:
        return secret.value
    return "" if exposed_endpoints(settings, listen_hosts) else SIMULATOR_LINE_SECRET


def retry_key_for(key: str) -> str:
    """The ``X-Line-Retry-Key`` of delivery row ``key``: the same UUID on every attempt."""
    return str(uuid.uuid5(_RETRY_NAMESPACE, key))


def postback_data(key: str, answer: str) -> str:
    """The postback ``data`` of an answer button (LINE allows 300 characters)."""
    return f"key={key}&answer={answer}"


class LineChannel:
    """The LINE channel. ``send_many`` never raises for a recipient problem.

    Outcomes: DELIVERED on 200 (provider_ref = ``x-line-request-id``) and on 409 for a
    retry key LINE already accepted; REJECTED on 400 (user id unknown, not a friend or
    blocked the account; error_code ``unfollowed``); DEFERRED on 429 (Retry-After kept),
    5xx and a refused connection; UNKNOWN for a read timeout or a dropped connection
    after sending (the retry key makes a later retry safe). Raises
    ``ChannelMisconfigured`` for 401/403 (channel access token).
    """

    name: ClassVar[ChannelName] = ChannelName.LINE
    max_batch: ClassVar[int] = 1

    def __init__(self, api: MessagingApi, *, timeout: float = 10.0) -> None:
        self._api = api
        self._timeout = timeout

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = 10.0, env: Mapping[str, str] | None = None
    ) -> LineChannel:
        """Build from ``[line]``; the channel access token from ``line.channel_token_env``
        (a built-in one only when ``line.base_url`` is the loopback simulator)."""
        line = settings.line
        secret = settings.secret(line.channel_token_env, env)
        if secret is None and not is_loopback_url(line.base_url):
            raise ChannelMisconfigured(
                f"LINE needs the channel access token in ${line.channel_token_env}"
            )
        config = Configuration(
            host=line.base_url.rstrip("/"),
            access_token=secret.value if secret is not None else SIMULATOR_LINE_TOKEN,
        )
        # no hidden retries below us: the outbox retries, with the same retry key
        config.retries = False
        return cls(MessagingApi(ApiClient(config)), timeout=timeout)

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """One result per message, in order (see the class docstring)."""
        return [self.send(m) for m in messages]

    def _request(self, message: OutgoingMessage) -> PushMessageRequest:
        question, safe, need_help = BUTTONS.get(message.language, BUTTONS["ja"])
        text = f"{message.title}\n{message.body}" if message.title else message.body
        buttons = TemplateMessage(
            alt_text=question,
            template=ButtonsTemplate(
                text=question,
                actions=[
                    PostbackAction(
                        label=safe, data=postback_data(message.key, "safe"), display_text=safe
                    ),
                    PostbackAction(
                        label=need_help,
                        data=postback_data(message.key, "need_help"),
                        display_text=need_help,
                    ),
                ],
            ),
        )
        return PushMessageRequest(
            to=message.address,
            messages=[TextMessage(text=text[:_TEXT_MAX]), buttons],
            notification_disabled=False,
        )

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        if message.channel is not ChannelName.LINE:
            raise ValueError(f"LineChannel cannot send a {message.channel} message")
        who = mask_line_id(message.address)
        try:
            response = self._api.push_message_with_http_info(
                self._request(message),
                x_line_retry_key=retry_key_for(message.key),
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            return self._refused(exc, who)
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            return DeliveryResult(Outcome.DEFERRED, self.name, detail="line connect failed")
        except urllib3.exceptions.HTTPError as exc:
            log.warning("line push to %s: %s after sending", who, type(exc).__name__)
            return DeliveryResult(Outcome.UNKNOWN, self.name, detail="line lost after sending")
        ref = (response.headers or {}).get("x-line-request-id")
        return DeliveryResult(Outcome.DELIVERED, self.name, provider_ref=ref)

    def _refused(self, exc: ApiException, who: str) -> DeliveryResult:
        status = int(exc.status or 0)
        headers = exc.headers or {}
        if status == 409 and headers.get("x-line-accepted-request-id"):
            # the same retry key was accepted before: delivered once, not twice
            ref = headers.get("x-line-accepted-request-id")
            return DeliveryResult(Outcome.DELIVERED, self.name, provider_ref=ref)
        if status == 429 or status >= 500:
            retry = parse_retry_after(headers.get("Retry-After"))
            return DeliveryResult(
                Outcome.DEFERRED, self.name, detail=f"line http {status}", retry_after=retry
            )
        if status == 400:
            log.info("line push to %s refused (400): not a friend or unknown id", who)
            return DeliveryResult(
                Outcome.REJECTED, self.name, detail="line 400 unfollowed", error_code="unfollowed"
            )
        if status == 0:
            return DeliveryResult(Outcome.DEFERRED, self.name, detail="line connect failed")
        raise ChannelMisconfigured(
            f"LINE refused our request (HTTP {status}): check line.channel_token_env"
        )
