"""SMS replies: what a reply's words mean, and which rows a reply from a number answers.

A reply binds to the rows sent to that number for the most recent live alert the number
received that asks for an answer — an original alert, an update's expansion (people newly
in scope) or a correction's re-issued messages; never a notice (an update notice's reply
answers the original's row to that number). ``alertsvc.dispatch.inbound`` re-exports
these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.db.tables import Alert, Delivery

__all__ = ["Answer", "ReplyTargets", "latest_reply_target", "parse_reply", "reply_targets"]

Answer = Literal["safe", "need_help"]

# SMS reply words, compared after folding full-width ASCII (１ -> 1, ＯＫ -> OK) and case.
# Not NFKC: it turns look-alikes such as ① ¹ ⑴ into "1", and a reply must mean what it says.
_SAFE_WORDS = frozenset({"1", "無事", "ぶじ", "safe", "ok"})
_HELP_WORDS = frozenset({"2", "助けて", "たすけて", "help"})
# trailing punctuation people add to a one-word reply ("無事です。" is not matched on purpose)
_STRIP = " \t\r\n.。!！、,\u3000"
# full-width forms U+FF01..U+FF5E are ASCII U+0021..U+007E shifted by 0xFEE0
_FULL_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}

# rows whose message went out: a reply to that number answers the latest of them
_REPLYABLE_STATES = ("sent", "delivered", "acknowledged", "unknown")
# alerts whose messages ask for an answer: the original, the full alert to people newly
# in scope (an update's expansion) and messages re-issued after a correction
_ASKING_KINDS = ("alert", "expansion", "reissue")


def parse_reply(body: str) -> Answer | None:
    """The answer in an SMS reply body, or None when it is not one of the known words.

    ``1``/``１``/``無事``/``ぶじ``/``safe``/``OK`` -> safe; ``2``/``２``/``助けて``/``たすけて``/
    ``help`` -> need_help (case- and width-insensitive, surrounding blanks and a final
    punctuation mark ignored). Only ASCII and full-width digits count: ① or ¹ is not 1.
    Never raises.
    """
    text = body.translate(_FULL_WIDTH).strip(_STRIP)
    # lower-case ASCII only: casefold() would also turn the Kelvin sign into "k"
    text = text.lower() if text.isascii() else text
    if text in _SAFE_WORDS:
        return "safe"
    if text in _HELP_WORDS:
        return "need_help"
    return None


@dataclass(frozen=True, slots=True)
class ReplyTargets:
    """The rows an SMS reply from one number answers, split by who that number is.

    ``own``: one key per resident whose own message went to the number; ``supporter``:
    one key per person named in a supporter notice to the number. Both belong to the
    same alert (``alert_id``), the most recent live alert the number received.
    """

    alert_id: str | None = None
    own: tuple[str, ...] = ()
    supporter: tuple[str, ...] = ()

    @property
    def shared(self) -> bool:
        """Several residents' own messages went to this number: the reply cannot say who."""
        return len(self.own) > 1

    @property
    def keys(self) -> tuple[str, ...]:
        return self.own + self.supporter


def reply_targets(session: Session, from_number: str) -> ReplyTargets:
    """Which rows an SMS reply from ``from_number`` answers (never raises; empty when none).

    The reply binds to the rows sent to that number for the most recent live (not
    cancelled) alert the number received. Rows are split by recipient kind, because the
    same phone can be a resident's own mobile and another resident's supporter phone:
    a resident's own reply answers for that resident, a supporter's is a supporter's
    answer about each person named in the notices (see ``record_acknowledgement``).
    Cancellation notices never count. An update's expansion (people newly in scope) and
    a correction's re-issued messages are live alerts too; an update notice's reply
    answers the alert it is about (the rows of the original to that number).
    """
    if not from_number:
        return ReplyTargets()
    sent_to_number = (
        Delivery.address == from_number,
        Delivery.channel.in_(("sms", "voice")),
        Delivery.state.in_(_REPLYABLE_STATES),
        Delivery.is_cancellation.is_(False),
    )
    alert_id = session.scalars(
        select(Delivery.alert_id)
        .join(Alert, Alert.id == Delivery.alert_id)
        .where(*sent_to_number, Alert.state == "active", Alert.kind.in_(_ASKING_KINDS))
        .order_by(Delivery.sent_at.desc().nulls_last(), Delivery.id.desc())
        .limit(1)
    ).first()
    if alert_id is None:
        return ReplyTargets()
    rows = session.execute(
        select(Delivery.key, Delivery.recipient, Delivery.resident_id)
        .where(Delivery.alert_id == alert_id, *sent_to_number)
        .order_by(Delivery.sent_at.desc().nulls_last(), Delivery.id.desc())
    ).all()
    own: dict[str, str] = {}
    supporter: dict[str, str] = {}
    for key, recipient, resident_id in rows:
        # the latest row per person, so one reply is one answer per person
        (own if recipient == "resident" else supporter).setdefault(resident_id, key)
    return ReplyTargets(alert_id, tuple(own.values()), tuple(supporter.values()))


def latest_reply_target(session: Session, from_number: str) -> str | None:
    """The key of the latest non-cancellation SMS or voice row that went to
    ``from_number`` for its most recent live alert (own messages first), or None."""
    targets = reply_targets(session, from_number)
    return targets.keys[0] if targets.keys else None
