"""Voice calls through Twilio Calls with inline TwiML (the real ``twilio`` client).

The call reads the message twice inside ``<Gather numDigits="1">`` (a long timeout
for elderly listeners) whose action URL carries the outbox key, so a keypress of
1 (safe) or 2 (need help) reaches the webhook; a closing ``<Say>`` follows when nobody
presses anything. Progress arrives through the status callback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

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
from alertsvc.planning.language import VOICE_LANGUAGES, reply_text
from alertsvc.planning.supporters import is_digest

__all__ = ["CLOSING_TEXT", "STATUS_EVENTS", "TwilioVoice", "build_twiml"]


STATUS_EVENTS: tuple[str, ...] = ("initiated", "ringing", "answered", "completed")

# Said after the Gather times out without a keypress, by <Say> language; the texts live in
# the one table of reply texts (templates/replies.toml). ja-JP is read in plain Japanese.
CLOSING_TEXT: dict[str, str] = {
    say: reply_text("no_keypress", lang, written=False)
    for lang, say in VOICE_LANGUAGES.items()
    if lang != "ja-easy"
}


def build_twiml(
    body: str,
    *,
    language: str,
    voice: str,
    gather_action: str,
    gather_timeout: int,
) -> str:
    """Inline TwiML for one alert call (no XML declaration; Twilio accepts either).

    ``voice`` (e.g. ``Polly.Mizuki``) is only applied to ``ja-*`` languages: a Japanese
    voice cannot read another language, so other languages use Twilio's default voice.
    """
    say_voice = voice if voice and language.lower().startswith("ja") else None
    response = VoiceResponse()
    gather = response.gather(
        action=gather_action, method="POST", num_digits=1, timeout=gather_timeout
    )
    gather.say(body, language=language, voice=say_voice)
    gather.pause(length=2)
    gather.say(body, language=language, voice=say_voice)
    closing = CLOSING_TEXT.get(language, CLOSING_TEXT["en-US"])
    response.say(closing, language=language, voice=say_voice)
    return str(response.to_xml(xml_declaration=False))


class TwilioVoice:
    """The voice channel. ``send_many`` never raises for a recipient problem.

    DELIVERED means Twilio queued the call (provider_ref = the CA sid); whether it was
    answered arrives by status callback. Other outcomes as for SMS (see
    ``twilio_common.TWILIO_ERROR_CODES``). Raises ``ChannelMisconfigured`` for bad
    credentials or caller ID.
    """

    name: ClassVar[ChannelName] = ChannelName.VOICE
    # one request per message, up to TWILIO_CONCURRENCY of them at once (send_many)
    max_batch: ClassVar[int] = TWILIO_CONCURRENCY
    max_chars: ClassVar[int | None] = None

    def __init__(
        self,
        twilio: TwilioCall,
        *,
        public_url: str,
        from_number: str,
        voice: str = "Polly.Mizuki",
        gather_timeout_seconds: int = 15,
    ) -> None:
        if not from_number:
            raise ChannelMisconfigured("通話の発信元がありません / voice needs twilio.from_number")
        if gather_timeout_seconds <= 0:
            raise ChannelMisconfigured(
                f"twilio.gather_timeout_seconds must be > 0, got {gather_timeout_seconds}"
            )
        self._twilio = twilio
        base = public_url.rstrip("/")
        self._status_url = base + "/twilio/voice/status"
        self._gather_url = base + "/twilio/voice/gather"
        self._from = from_number
        self._voice = voice
        self._gather_timeout = gather_timeout_seconds

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = 10.0, env: Mapping[str, str] | None = None
    ) -> TwilioVoice:
        """Build the channel from settings (client aimed at ``twilio.base_url``)."""
        tw = settings.twilio
        return cls(
            make_twilio_client(settings, timeout=timeout, env=env),
            public_url=settings.webhooks.public_url,
            from_number=tw.from_number,
            voice=tw.voice,
            gather_timeout_seconds=tw.gather_timeout_seconds,
        )

    def status_callback_url(self, key: str) -> str:
        return f"{self._status_url}?{urlencode({'key': key})}"

    def gather_url(self, key: str) -> str:
        return f"{self._gather_url}?{urlencode({'key': key})}"

    def twiml(self, message: OutgoingMessage) -> str:
        """The TwiML this channel sends for ``message``: a supporter digest says its
        introduction and hands over to the webhook, which reads each person in turn
        (``alertsvc.web.supporter_voice``)."""
        if is_digest(message.data):
            say_voice = self._voice if message.voice_language.lower().startswith("ja") else None
            response = VoiceResponse()
            response.say(message.body, language=message.voice_language, voice=say_voice)
            response.redirect(f"{self.gather_url(message.key)}&p=0", method="POST")
            return str(response.to_xml(xml_declaration=False))
        return build_twiml(
            message.body,
            language=message.voice_language,
            voice=self._voice,
            gather_action=self.gather_url(message.key),
            gather_timeout=self._gather_timeout,
        )

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """One result per message, in order, up to ``max_batch`` calls at once; the
        dispatcher's token bucket paces them (``rates.calls_per_second``)."""
        return self._twilio.send_each(self.name, messages, self.send)

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        if message.channel is not ChannelName.VOICE:
            raise ValueError(f"TwilioVoice cannot send a {message.channel} message")
        who = mask_phone(message.address)
        return send_via_twilio(
            self.name,
            self._twilio,
            who,
            lambda: self._twilio.client.calls.create(
                to=message.address,
                from_=self._from,
                twiml=self.twiml(message),
                status_callback=self.status_callback_url(message.key),
                status_callback_event=list(STATUS_EVENTS),
                status_callback_method="POST",
            ),
            "call",
        )
