"""A supporter's call: the digest's people read one by one, a keypress per person.

The call's TwiML (``alertsvc.channels.twilio_voice``) says the digest's introduction and
redirects to ``/twilio/voice/gather?key=K&p=0``. For person ``p`` this answers with a
``<Gather>`` naming them (「○○さん、住所…。無事を確認したら1、連絡がつかなければ2、支援中
なら3」) whose action is ``…&p=P``; a keypress there records the supporter's answer about
person ``p`` (``record_supporter_answer``, via ``voice``; 2 also reaches the duty desk)
and asks about person ``p + 1``. No keypress moves on to the next person. After the last
person the call thanks the supporter and ends.
"""

from __future__ import annotations

from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alertsvc.config import Settings
from alertsvc.db.tables import Resident
from alertsvc.dispatch.inbound import (
    SupporterAnswer,
    claim_inbound,
    digest_people,
    record_supporter_answer,
)
from alertsvc.duty import notify_duty

__all__ = ["KEYPRESS_ANSWERS", "digest_gather_twiml"]

KEYPRESS_ANSWERS: dict[str, SupporterAnswer] = {"1": "safe", "2": "cannot_reach", "3": "helping"}
_ASK = "無事を確認できたら1、連絡がつかなければ2、支援中なら3を押してください。"
_THANKS = "ありがとうございました。ご自身の安全を最優先にしてください。"


def _say(text: str, voice: str) -> str:
    voice_attr = f" voice={quoteattr(voice)}" if voice else ""
    return f'<Say language="ja-JP"{voice_attr}>{escape(text)}</Say>'


def digest_gather_twiml(
    session: Session,
    settings: Settings,
    *,
    key: str,
    person: int,
    digits: str,
    call_sid: str,
    base_url: str,
) -> str | None:
    """The TwiML (inside ``<Response>``) for person ``person`` of digest ``key``, after
    recording ``digits`` about them; None when ``key`` is no digest. A replayed keypress
    (same CallSid, person and digit) records nothing twice."""
    people = digest_people(session, key)
    if not people:
        return None
    voice = settings.twilio.voice
    answer = KEYPRESS_ANSWERS.get(digits.strip())
    ask = person
    if digits and 0 <= person < len(people):
        if answer is not None:
            try:
                fresh = claim_inbound(session, f"{call_sid}:{person}:{digits}", "keypress")
            except IntegrityError:
                fresh = False
            rid = people[person].resident_id
            if fresh:
                alert_id = record_supporter_answer(
                    session, key=key, resident_id=rid, answer=answer, via="voice"
                )
                if alert_id is not None and answer == "cannot_reach":
                    notify_duty(session, settings.duty, alert_id=alert_id, resident_id=rid,
                                answered_by="supporter", via="voice")  # fmt: skip
        ask = person + 1
    if ask >= len(people) or ask < 0:
        return _say(_THANKS, voice)
    who = people[ask]
    resident = session.scalars(select(Resident).where(Resident.id == who.resident_id)).first()
    reading = (resident.kana or resident.name) if resident else who.resident_id
    address = resident.address if resident else ""
    action = f"{base_url}?{urlencode({'key': key, 'p': str(ask)})}"
    after = f"{base_url}?{urlencode({'key': key, 'p': str(ask + 1)})}"
    timeout = settings.twilio.gather_timeout_seconds
    text = f"{ask + 1}人目、{reading}さん、{address}。{_ASK}"
    return (
        f'<Gather numDigits="1" timeout="{timeout}" method="POST" action={quoteattr(action)}>'
        f"{_say(text, voice)}</Gather>"
        f'<Redirect method="POST">{escape(after)}</Redirect>'
    )
