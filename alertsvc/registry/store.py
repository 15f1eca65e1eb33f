"""Reading the register back for targeting and planning, and contact health.

``load_residents`` is what targeting builds on: every (active) resident as an
``alertsvc.models.ResidentInfo`` with contacts (health included) and supporters.
Unlocated residents are returned like everyone else (``lat``/``lon`` None): targeting
reports them, it never drops them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from alertsvc.db.tables import Contact, RejectedRow, Resident, utcnow
from alertsvc.models import (
    ChannelName,
    ContactInfo,
    ContactKind,
    DeliveryResult,
    Need,
    ResidentInfo,
    SupporterInfo,
)
from alertsvc.planning.channel_order import CONTACT_CHANNELS, channel_order

__all__ = [
    "REFUSAL_SCOPE",
    "ContactHealth",
    "RegisterEntry",
    "RejectedRowInfo",
    "block_contact",
    "contact_health",
    "contact_info",
    "list_register",
    "load_residents",
    "mark_contact_unhealthy",
    "record_refusal",
    "refusal_hook",
    "rejected_rows",
    "resident_info",
    "review_list",
]


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """A resident as the officer's list shows it: the record plus register state."""

    resident: ResidentInfo
    active: bool
    no_working_channel: bool
    deactivated_at: dt.datetime | None


def contact_info(row: Contact) -> ContactInfo:
    """Convert a ``Contact`` row to ``ContactInfo`` (unknown blocked channels skipped)."""
    blocked = frozenset(
        ChannelName(c) for c in (row.blocked_channels or []) if c in ChannelName._value2member_map_
    )
    return ContactInfo(ContactKind(row.kind), row.address, row.healthy, blocked)


def resident_info(row: Resident) -> ResidentInfo:
    """Convert a ``Resident`` row (with contacts and supporters loaded) to ``ResidentInfo``.

    Unknown enum values in stored JSON (written by a newer version) are skipped rather than
    raised on, so that one odd row never stops an alert from being planned.
    """
    needs = frozenset(Need(n) for n in row.needs if n in Need._value2member_map_)
    prefs = tuple(ChannelName(c) for c in row.channel_pref if c in ChannelName._value2member_map_)
    return ResidentInfo(
        id=row.id,
        name=row.name,
        address=row.address,
        lat=row.lat,
        lon=row.lon,
        language=row.language,
        kana=row.kana,
        floor=row.floor,
        needs=needs,
        channel_pref=prefs,
        contacts=tuple(contact_info(c) for c in row.contacts),
        supporters=tuple(
            SupporterInfo(
                id=s.id,
                name=s.name,
                phone=s.phone,
                phone_kind=ContactKind(s.phone_kind) if s.phone_kind else None,
            )
            for s in row.supporters
        ),
        consent=row.consent,
        birth_date=row.birth_date,
        review_reasons=tuple(str(r) for r in (row.review_reasons or ())),
    )


def _query(active_only: bool, ids: Sequence[str] | None = None) -> Select[Resident]:
    stmt = (
        select(Resident)
        .options(selectinload(Resident.contacts), selectinload(Resident.supporters))
        .order_by(Resident.id)
    )
    if active_only:
        stmt = stmt.where(Resident.active.is_(True))
    if ids is not None:
        stmt = stmt.where(Resident.id.in_(list(ids)))
    return stmt


def load_residents(
    session: Session, *, active_only: bool = True, ids: Sequence[str] | None = None
) -> list[ResidentInfo]:
    """All residents (active ones by default; only ``ids`` if given), ordered by id.

    Never raises for data reasons; database errors propagate as SQLAlchemy errors.
    """
    return [resident_info(row) for row in session.scalars(_query(active_only, ids))]


def list_register(session: Session, *, active_only: bool = False) -> list[RegisterEntry]:
    """Every resident with its register state, for ``alertsvc registry list``."""
    return [
        RegisterEntry(resident_info(row), row.active, row.no_working_channel, row.deactivated_at)
        for row in session.scalars(_query(active_only))
    ]


def mark_contact_unhealthy(
    session: Session, address: str, detail: str, *, now: dt.datetime | None = None
) -> int:
    """Mark every contact with ``address`` (E.164 number or push token) as unusable.

    Called when a provider says the address can never work (opted out, unregistered
    token). Recomputes ``no_working_channel`` of the residents concerned, so that a
    resident whose last working contact died shows up as unreachable. Returns the number
    of contacts changed (0 when unknown or already unhealthy); never raises for that.
    """
    now = now or utcnow()
    contacts = list(
        session.scalars(
            select(Contact).where(Contact.address == address, Contact.healthy.is_(True))
        )
    )
    residents: set[str] = set()
    for contact in contacts:
        contact.healthy = False
        contact.health_detail = detail
        contact.health_changed_at = now
        residents.add(contact.resident_id)
    _recompute_reachability(session, residents, now)
    return len(contacts)


# What a provider's permanent refusal says about the address it was sent to. Codes not
# listed here (our own configuration, a malformed message) say nothing about the contact.
REFUSAL_SCOPE: dict[str, str] = {
    "UNREGISTERED": "address",  # FCM: the app was uninstalled, the token is dead
    "SENDER_ID_MISMATCH": "address",  # FCM: the token belongs to another project
    "21211": "address",  # Twilio: invalid 'To' number
    "21217": "address",  # Twilio: the number does not appear valid
    "21610": "channel",  # Twilio: replied STOP to SMS; calls still work
    "21612": "channel",  # Twilio: not reachable by SMS
    "21614": "channel",  # Twilio: not a mobile number (no SMS); calls still work
    "21216": "channel",  # Twilio: number blocked for calls
    # SMS status callbacks (the message was accepted, then failed)
    "30004": "channel",  # blocked by the recipient
    "30005": "address",  # unknown destination handset: the number does not exist
    "30006": "channel",  # landline or carrier that cannot take SMS; calls still work
    # issue 11 channels: "channel" scope, since a FAX number is often the household's
    # phone line too (voice keeps working); the FAX/LINE/e-mail contact itself carries
    # only that channel, so it becomes unhealthy
    "invalid_number": "channel",  # FAX (Telnyx 422 on "to"): not a number we can fax
    "unfollowed": "channel",  # LINE 400: not a friend of the account, or blocked it
    "smtp550": "channel",  # mailbox does not exist
    "smtp551": "channel",  # user not local
    "smtp553": "channel",  # mailbox name not allowed
}


def record_refusal(
    session: Session, channel: ChannelName, address: str, error_code: str | None, detail: str
) -> int:
    """Apply a provider's permanent refusal to contact health (see ``REFUSAL_SCOPE``).

    Returns the number of contacts changed; 0 when the code says nothing about them.
    """
    scope = REFUSAL_SCOPE.get(error_code or "")
    if scope is None:
        return 0
    return block_contact(session, channel, address, detail, whole_address=scope == "address")


def refusal_hook(
    session: Session, channel: ChannelName, address: str, result: DeliveryResult
) -> None:
    """The dispatcher's ``on_refused`` hook: a REJECTED result updates contact health."""
    record_refusal(session, channel, address, result.error_code, result.detail)


def block_contact(
    session: Session,
    channel: ChannelName,
    address: str,
    detail: str,
    *,
    whole_address: bool = False,
    now: dt.datetime | None = None,
) -> int:
    """Stop using ``channel`` on ``address`` after a provider refused it for good.

    An opted-out number (Twilio 21610) keeps taking calls: only ``sms`` is blocked. With
    ``whole_address`` (an invalid number, an unregistered push token), or once every
    channel the contact carries is blocked, the contact is marked unhealthy. Residents
    left with no working channel are flagged. Returns the number of contacts changed.
    """
    if whole_address:
        return mark_contact_unhealthy(session, address, detail, now=now)
    now = now or utcnow()
    changed = 0
    residents: set[str] = set()
    for contact in session.scalars(
        select(Contact).where(Contact.address == address, Contact.healthy.is_(True))
    ):
        blocked = set(contact.blocked_channels or [])
        if channel.value in blocked:
            continue
        blocked.add(channel.value)
        contact.blocked_channels = sorted(blocked)
        if {c.value for c in CONTACT_CHANNELS[ContactKind(contact.kind)]} <= blocked:
            contact.healthy = False
        contact.health_detail = f"{channel.value}: {detail}"
        contact.health_changed_at = now
        residents.add(contact.resident_id)
        changed += 1
    _recompute_reachability(session, residents, now)
    return changed


def _recompute_reachability(session: Session, residents: set[str], now: dt.datetime) -> None:
    session.flush()
    for row in session.scalars(_query(False, sorted(residents))):
        info = resident_info(row)
        order = channel_order(info.needs, info.contacts, info.channel_pref)
        row.no_working_channel = not order.reachable
        row.updated_at = now


@dataclass(frozen=True, slots=True)
class ContactHealth:
    """One contact a provider has refused (the contact-health report)."""

    resident_id: str
    resident_name: str
    kind: str
    address: str
    healthy: bool
    blocked: tuple[str, ...]
    detail: str
    changed_at: dt.datetime | None
    resident_reachable: bool


def contact_health(session: Session) -> list[ContactHealth]:
    """Every contact marked unhealthy or with a blocked channel, newest first."""
    rows = session.execute(
        select(Contact, Resident)
        .join(Resident, Resident.id == Contact.resident_id)
        .where(Resident.active.is_(True))
        .order_by(Contact.health_changed_at.desc(), Contact.id)
    ).all()
    out: list[ContactHealth] = []
    for contact, resident in rows:
        if contact.healthy and not contact.blocked_channels:
            continue
        out.append(
            ContactHealth(
                resident_id=resident.id,
                resident_name=resident.name,
                kind=contact.kind,
                address=contact.address,
                healthy=contact.healthy,
                blocked=tuple(contact.blocked_channels or ()),
                detail=contact.health_detail,
                changed_at=contact.health_changed_at,
                resident_reachable=not resident.no_working_channel,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class RejectedRowInfo:
    """A register row the last written import could not store (see ``RejectedRow``)."""

    source: str
    line: int
    resident_id: str
    reasons: tuple[str, ...]
    recorded_at: dt.datetime


def rejected_rows(session: Session) -> list[RejectedRowInfo]:
    """Rows of the last written register import that could not become residents."""
    return [
        RejectedRowInfo(r.source, r.line, r.resident_id, tuple(r.reasons or ()), r.recorded_at)
        for r in session.scalars(select(RejectedRow).order_by(RejectedRow.line))
    ]


def review_list(session: Session) -> list[ResidentInfo]:
    """Active residents flagged needs_review (a cell was cleared on import), by id."""
    stmt = _query(True).where(Resident.needs_review.is_(True))
    return [resident_info(row) for row in session.scalars(stmt)]
