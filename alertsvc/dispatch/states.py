"""The delivery state machine, as data.

Every outbox row (``alertsvc.db.tables.Delivery``) is in exactly one ``DeliveryState``;
``TRANSITIONS`` is the only way the dispatcher, the webhooks and the officer commands decide
the next state: every write of a row's state goes through ``alertsvc.dispatch.moves``,
which guards the SQL update by the states the event applies in (so two processes racing
on one row cannot both win) and sets the state this table gives. A test walks the code
base for any other write.

See the README section "Delivery: the outbox and its state machine" for the diagram.
"""

from __future__ import annotations

import enum

__all__ = [
    "ACTIVE_STATES",
    "REACHED_STATES",
    "RESENT_AFTER_UNKNOWN",
    "RESENT_WAITING_STATES",
    "SETTLED_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "DeliveryState",
    "Event",
    "InvalidTransition",
    "may_have_reached",
    "transition",
]


class DeliveryState(enum.StrEnum):
    HELD = "held"  # a later escalation step, waiting for the earlier one to fail or time out
    QUEUED = "queued"  # due at next_attempt_at (new, or a deferred retry)
    CLAIMED = "claimed"  # leased by a worker; the provider has NOT been called
    SENDING = "sending"  # committed before the provider call: it may be going out right now
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # status callback: delivered / completed
    ACKNOWLEDGED = "acknowledged"  # the person answered (1/2 key, SMS reply, app or web)
    FAILED = "failed"  # permanent: rejected, undelivered/no-answer/busy, retries exhausted
    UNKNOWN = "unknown"  # may have gone out; never resent automatically (SMS/voice)
    CANCELLED = "cancelled"  # the alert was cancelled before this row was sent
    SKIPPED = "skipped"  # no longer needed: the person already answered


class Event(enum.StrEnum):
    RELEASE = "release"  # escalation: the earlier step failed or was not acknowledged in time
    CLAIM = "claim"  # a worker leased the row
    LEASE_EXPIRED = "lease_expired"  # the worker holding the lease died or stalled
    RELEASE_CLAIM = "release_claim"  # clean shutdown: give an unsent claimed row back
    CALL_PROVIDER = "call_provider"  # committed right before the provider call
    ACCEPTED = "accepted"  # Outcome.DELIVERED from the adapter
    RETRY = "retry"  # DEFERRED (or push UNKNOWN) and the retry policy allows another attempt
    GIVE_UP = "give_up"  # REJECTED, or the retry policy is exhausted
    OUTCOME_UNKNOWN = "outcome_unknown"  # UNKNOWN for SMS/voice (or push with retries spent)
    STATUS_DELIVERED = "status_delivered"  # provider callback: delivered / completed
    STATUS_FAILED = "status_failed"  # provider callback: undelivered / failed / busy / no-answer
    ACK = "ack"  # the person answered
    CANCEL = "cancel"  # the officer cancelled the alert
    SKIP = "skip"  # the person answered on another row; this one is no longer needed
    REFUSE = "refuse"  # exercise row to an address off the allow-list: never handed over
    # the provider surely did not act (DEFERRED) and the alert was cancelled meanwhile
    WITHDRAW = "withdraw"
    # the max-age sweep: not handed to a provider within max_age_seconds (its channel is
    # broken, not served, or stalled), so the person's next channel can go
    EXPIRE = "expire"


class InvalidTransition(ValueError):
    """``event`` is not allowed in ``state`` (a stale update; the caller must not apply it)."""


S = DeliveryState
E = Event

TRANSITIONS: dict[tuple[DeliveryState, Event], DeliveryState] = {
    (S.HELD, E.RELEASE): S.QUEUED,
    (S.HELD, E.CANCEL): S.CANCELLED,
    (S.HELD, E.SKIP): S.SKIPPED,
    (S.QUEUED, E.CLAIM): S.CLAIMED,
    (S.QUEUED, E.CANCEL): S.CANCELLED,
    (S.QUEUED, E.SKIP): S.SKIPPED,
    # an answer proves the person got an earlier message; this one need not go out
    (S.QUEUED, E.ACK): S.ACKNOWLEDGED,
    (S.QUEUED, E.EXPIRE): S.FAILED,
    (S.CLAIMED, E.CALL_PROVIDER): S.SENDING,
    # the provider was never called, so handing the row back cannot duplicate anything
    (S.CLAIMED, E.LEASE_EXPIRED): S.QUEUED,
    (S.CLAIMED, E.RELEASE_CLAIM): S.QUEUED,
    (S.CLAIMED, E.CANCEL): S.CANCELLED,
    (S.CLAIMED, E.SKIP): S.SKIPPED,
    (S.CLAIMED, E.ACK): S.ACKNOWLEDGED,
    (S.CLAIMED, E.REFUSE): S.FAILED,
    # a claim past max_age: its worker stalled; the provider has not been called
    (S.CLAIMED, E.EXPIRE): S.FAILED,
    (S.SENDING, E.ACCEPTED): S.SENT,
    (S.SENDING, E.RETRY): S.QUEUED,
    (S.SENDING, E.GIVE_UP): S.FAILED,
    (S.SENDING, E.OUTCOME_UNKNOWN): S.UNKNOWN,
    # the worker died during the provider call: it may have gone out
    (S.SENDING, E.LEASE_EXPIRED): S.UNKNOWN,
    (S.SENDING, E.WITHDRAW): S.CANCELLED,
    # a status callback can overtake the worker's own commit
    (S.SENDING, E.STATUS_DELIVERED): S.DELIVERED,
    (S.SENDING, E.STATUS_FAILED): S.FAILED,
    (S.SENDING, E.ACK): S.ACKNOWLEDGED,
    (S.SENT, E.STATUS_DELIVERED): S.DELIVERED,
    (S.SENT, E.STATUS_FAILED): S.FAILED,
    (S.SENT, E.ACK): S.ACKNOWLEDGED,
    (S.DELIVERED, E.ACK): S.ACKNOWLEDGED,
    # an 'unknown' row is resolved by whatever evidence arrives later, never by a resend
    (S.UNKNOWN, E.ACCEPTED): S.SENT,
    (S.UNKNOWN, E.RETRY): S.QUEUED,
    (S.UNKNOWN, E.GIVE_UP): S.FAILED,
    (S.UNKNOWN, E.OUTCOME_UNKNOWN): S.UNKNOWN,
    (S.UNKNOWN, E.STATUS_DELIVERED): S.DELIVERED,
    (S.UNKNOWN, E.STATUS_FAILED): S.FAILED,
    (S.UNKNOWN, E.ACK): S.ACKNOWLEDGED,
    # a late DEFERRED for a row lease recovery marked unknown: it did not go out after all
    (S.UNKNOWN, E.WITHDRAW): S.CANCELLED,
    (S.FAILED, E.ACK): S.ACKNOWLEDGED,  # e.g. a call marked no-answer that was answered after all
}

# rows a worker or a provider still has in hand
ACTIVE_STATES: frozenset[DeliveryState] = frozenset({S.QUEUED, S.CLAIMED, S.SENDING})
# a step is settled when none of its rows is held or active
SETTLED_STATES: frozenset[DeliveryState] = frozenset(
    {S.SENT, S.DELIVERED, S.ACKNOWLEDGED, S.FAILED, S.UNKNOWN, S.CANCELLED, S.SKIPPED}
)
# no event except a late acknowledgement or callback changes these
TERMINAL_STATES: frozenset[DeliveryState] = frozenset(
    {S.DELIVERED, S.ACKNOWLEDGED, S.FAILED, S.CANCELLED, S.SKIPPED}
)
# a provider accepted the message, or may have: a cancellation goes to these. A row still
# 'sending' is not among them: its notice waits until its outcome is known (maintenance),
# because a send that comes back deferred never reached anybody.
REACHED_STATES: frozenset[DeliveryState] = frozenset(
    {S.SENT, S.DELIVERED, S.ACKNOWLEDGED, S.UNKNOWN}
)
# channels whose retry policy sends again after an UNKNOWN outcome (``retry.policy_for``):
# a push, because the device collapses a duplicate. Such a row back in the queue after an
# attempt may already have reached its person — the row keeps no outcome, so a deferral
# (surely not sent) and an unknown outcome (maybe sent) look the same.
RESENT_AFTER_UNKNOWN: frozenset[str] = frozenset({"push"})
# where such a row waits for its next attempt
RESENT_WAITING_STATES: frozenset[DeliveryState] = frozenset({S.QUEUED, S.CLAIMED})


def may_have_reached(state: DeliveryState | str, channel: str, attempts: int) -> bool:
    """The one rule of who is owed a closing notice (取消し, 解除): the row reached its
    address, or may have.

    True for ``REACHED_STATES`` (unknown included), and for a row of a
    ``RESENT_AFTER_UNKNOWN`` channel waiting for another attempt after at least one
    (``RESENT_WAITING_STATES``, ``attempts > 0``): its earlier attempt may have gone out.
    Evaluate it before the stop of unsent rows turns such a row 'cancelled'. An update or
    a correction does not need the second half: they send such a person the alert again.
    """
    current = DeliveryState(state)
    if current in REACHED_STATES:
        return True
    return channel in RESENT_AFTER_UNKNOWN and attempts > 0 and current in RESENT_WAITING_STATES


def transition(state: DeliveryState | str, event: Event) -> DeliveryState:
    """The state after ``event`` in ``state``.

    Raises ``InvalidTransition`` when the event does not apply (for example a late
    'delivered' callback for a row that was already acknowledged); callers treat that
    as "leave the row alone", never as an error to retry.
    """
    current = DeliveryState(state)
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidTransition(f"{event.value} is not allowed in state {current.value}") from None


def sources(event: Event) -> frozenset[DeliveryState]:
    """Every state in which ``event`` applies: the guard of the SQL update that applies it."""
    return frozenset(s for (s, e) in TRANSITIONS if e is event)
