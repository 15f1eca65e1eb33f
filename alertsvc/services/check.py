"""The pre-season check (#10 item 6): a 【訓練】 message through every channel of every resident.

A check is an exercise alert of kind ``check`` in the ordinary outbox: one queued row per
(resident, channel, address) the resident's channel order would use — every channel at
once, no escalation chain — sent by the ordinary workers and adapters, so a provider's
refusal updates contact health exactly as in a real alert (``registry.store.refusal_hook``).

Three locks keep it an exercise (the same as every exercise alert): only addresses on
``exercise.allow_list`` get a row (the others are reported as not checked, never sent),
``create_alert`` refuses any row off the list or without the 【訓練】 prefix, and the
worker refuses to hand an off-list exercise row to a provider.

``run_check`` runs a worker in this process until every row of the check is settled or
the timeout passes; rows still waiting then are stopped (reported ``timeout``) and the
check is closed. Rows in a provider call finish and are recorded, and a later status
callback (SMS delivered / failed, a call busy) still updates its row: the report is read
from the rows (``alertsvc.services.check_report``), never copied.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, exists, select
from sqlalchemy.orm import Session

from alertsvc.audit import record as audit_record
from alertsvc.channels import Channel
from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, Contact, Delivery, utcnow
from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget, create_alert, load_alert
from alertsvc.dispatch.moves import move
from alertsvc.dispatch.runner import run_worker
from alertsvc.dispatch.states import ACTIVE_STATES, DeliveryState, Event
from alertsvc.errors import InputError, NotFound
from alertsvc.models import ChannelName, ResidentInfo
from alertsvc.planning.channel_order import CONTACT_CHANNELS, channel_order
from alertsvc.planning.check_text import render_check
from alertsvc.planning.language import pick_language
from alertsvc.redact import mask_address
from alertsvc.registry.store import refusal_hook

__all__ = [
    "CHECK_KIND",
    "CHECK_PRIORITY",
    "TIMEOUT_DETAIL",
    "CheckPlan",
    "Selection",
    "Untested",
    "channels_needed",
    "finish_check",
    "latest_check_id",
    "plan_check",
    "refusal_details",
    "run_check",
    "select_residents",
    "start_check",
]

CHECK_KIND = "check"
# behind every real message: workers claim by level, then priority
CHECK_PRIORITY = -1.0
# a check has no 警戒レベル; the outbox needs one, and 3 is claimed last
_CHECK_LEVEL = 3
TIMEOUT_DETAIL = "check: not sent before the check's timeout"
# a finished check is closed like a cancelled alert: a straggler that another worker put
# back in the queue (a retry) is withdrawn by maintenance, never sent after the check
_CLOSED = "cancelled"
_CLOSE_REASON = "registry check finished"

Mode = Literal["all", "sample", "resident"]


@dataclass(frozen=True, slots=True)
class Selection:
    """Who a check covers: every active resident, a seeded random sample, or one."""

    mode: Mode = "all"
    sample: int | None = None
    seed: int | None = None
    resident_id: str | None = None

    @classmethod
    def from_options(
        cls, *, sample: int | None, seed: int | None, resident_id: str | None
    ) -> Selection:
        """Validate the CLI's options; raises ``InputError`` naming the bad combination."""
        if sample is not None and resident_id is not None:
            raise InputError(
                "--sample と --resident は同時に使えません / "
                "--sample and --resident cannot be combined"
            )
        if seed is not None and sample is None:
            raise InputError("--seed は --sample と使います / --seed needs --sample")
        if sample is not None:
            if sample < 1:
                raise InputError(f"--sample は1以上 / --sample must be at least 1, got {sample}")
            # a fixed seed makes the sample reproducible; it is printed and stored
            return cls("sample", sample, seed if seed is not None else secrets.randbelow(2**31))
        if resident_id is not None:
            if not resident_id.strip():
                raise InputError("--resident: 名簿番号が空です / empty resident id")
            return cls("resident", resident_id=resident_id.strip())
        return cls()

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "sample": self.sample,
            "seed": self.seed,
            "resident_id": self.resident_id,
        }


@dataclass(frozen=True, slots=True)
class Untested:
    """A (resident, channel, address) the check did not send to, and why.

    ``reason``: ``not_on_allow_list`` (exercise rule), ``channel_unavailable`` (the
    channel is not configured or cannot start here) or ``refused_before`` (a provider
    refused it for good earlier: contact health; it is not tried again).
    """

    resident_id: str
    channel: str
    address: str  # masked
    reason: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "resident_id": self.resident_id,
            "channel": self.channel,
            "address": self.address,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class CheckPlan:
    """What a check will send (``deliveries``), to whom, and what it leaves untested."""

    targets: tuple[PlannedTarget, ...]
    deliveries: tuple[PlannedDelivery, ...]
    untested: tuple[Untested, ...]


def select_residents(residents: Sequence[ResidentInfo], selection: Selection) -> list[ResidentInfo]:
    """The residents a check covers, in id order. Pure.

    Raises ``NotFound`` for ``--resident`` naming nobody active, and ``InputError`` when
    there is nobody to check.
    """
    ordered = sorted(residents, key=lambda r: r.id)
    if selection.mode == "resident":
        chosen = [r for r in ordered if r.id == selection.resident_id]
        if not chosen:
            raise NotFound(
                f"有効な名簿にいません / no active resident with id {selection.resident_id!r}"
            )
        return chosen
    if not ordered:
        raise InputError("点検する住民がいません / the register has no active resident")
    if selection.mode == "sample":
        n = min(selection.sample or 0, len(ordered))
        picked = random.Random(selection.seed).sample(range(len(ordered)), n)
        return [ordered[i] for i in sorted(picked)]
    return ordered


def channels_needed(
    residents: Sequence[ResidentInfo], allow_list: Collection[str]
) -> set[ChannelName]:
    """The channels a check of ``residents`` would send on (allow-listed addresses only)."""
    allowed = set(allow_list)
    return {
        channel
        for r in residents
        for channel, address in channel_order(r.needs, r.contacts, r.channel_pref).entries
        if address in allowed
    }


def plan_check(
    residents: Sequence[ResidentInfo],
    *,
    allow_list: Collection[str],
    channels: Mapping[ChannelName, str],
    municipality: str,
    refusals: Mapping[str, str] | None = None,
) -> CheckPlan:
    """One 【訓練】 row per (resident, channel, address) of each resident's channel order
    whose address is on ``allow_list`` and whose channel is usable (``channels``: channel
    -> "" when it can send, else why not). Everything else is listed in ``untested``:
    never a row. ``refusals`` (address -> contact health detail, ``refusal_details``)
    says why a contact refused before. Pure; never raises.
    """
    refusals = refusals or {}
    allowed = set(allow_list)
    targets: list[PlannedTarget] = []
    deliveries: list[PlannedDelivery] = []
    untested: list[Untested] = []
    for r in residents:
        order = channel_order(r.needs, r.contacts, r.channel_pref)
        targets.append(PlannedTarget(r.id, CHECK_PRIORITY, r.located, order.reachable))
        language = pick_language(r.language)
        for contact in r.contacts:
            for channel in CONTACT_CHANNELS[contact.kind]:
                if not contact.healthy or channel in contact.blocked:
                    why_not = refusals.get(contact.address, "")
                    untested.append(
                        Untested(r.id, channel.value, mask_address(contact.address),
                                 "refused_before", why_not)
                    )  # fmt: skip
        for channel, address in order.entries:
            masked = mask_address(address)
            if address not in allowed:
                untested.append(Untested(r.id, channel.value, masked, "not_on_allow_list"))
                continue
            why = channels.get(channel, "not configured")
            if why:
                untested.append(Untested(r.id, channel.value, masked, "channel_unavailable", why))
                continue
            title, body = render_check(channel, language, municipality)
            deliveries.append(
                PlannedDelivery(
                    resident_id=r.id, recipient="resident", supporter_id=None, step=0,
                    channel=channel, address=address, language=language, title=title,
                    body=body, data=(("kind", CHECK_KIND),), priority=CHECK_PRIORITY,
                )
            )  # fmt: skip
    return CheckPlan(tuple(targets), tuple(deliveries), tuple(untested))


def refusal_details(session: Session, resident_ids: Collection[str]) -> dict[str, str]:
    """Address -> what a provider said (contact health) for the refused contacts of
    ``resident_ids``. The details are the adapters' (addresses masked)."""
    found: dict[str, str] = {}
    ids = list(resident_ids)
    for i in range(0, len(ids), 500):
        for address, healthy, blocked, detail in session.execute(
            select(Contact.address, Contact.healthy, Contact.blocked_channels,
                   Contact.health_detail)
            .where(Contact.resident_id.in_(ids[i : i + 500]))
        ):  # fmt: skip
            if not healthy or blocked:
                found[address] = _short(detail)
    return found


def _short(detail: str) -> str:
    text = (detail or "").strip()
    return text.splitlines()[0][:160] if text else ""


def start_check(
    session: Session,
    plan: CheckPlan,
    selection: Selection,
    *,
    allow_list: Collection[str],
    actor: str,
    now: dt.datetime | None = None,
) -> str:
    """Write the check (an exercise alert of kind ``check``) and its rows; return its id.

    Every row is queued at once (step 0). Raises ``InputError`` (nothing written) if a row
    would reach an address off ``allow_list`` or lacks 【訓練】 — ``create_alert``'s locks.
    """
    return create_alert(
        session,
        level=_CHECK_LEVEL,
        scope={
            "check": {
                "selection": selection.as_dict(),
                "untested": [u.as_dict() for u in plan.untested],
            }
        },
        exercise=True,
        targets=plan.targets,
        deliveries=plan.deliveries,
        actor=actor,
        kind=CHECK_KIND,
        allow_list=allow_list,
        now=now,
    )


def _unsettled(engine: Engine, check_id: str) -> bool:
    waiting = [s.value for s in ACTIVE_STATES]
    with session_scope(engine) as s:
        return bool(
            s.scalar(
                select(exists().where(Delivery.alert_id == check_id, Delivery.state.in_(waiting)))
            )
        )


def run_check(
    engine: Engine,
    channels: Mapping[ChannelName, Channel],
    settings: Settings,
    check_id: str,
    *,
    timeout: float,
    poll_interval: float = 0.2,
) -> bool:
    """Send the check's rows with a worker in this process; True when every row settled.

    The worker is an ordinary one: anything else queued on these channels meanwhile (a
    real alert ranks first) is sent too. It stops once no row of the check is queued,
    claimed or in a provider call, or after ``timeout`` seconds; an interrupted run
    (Ctrl-C) stops the same way, and ``finish_check`` then stops what is left.
    """
    stop = threading.Event()
    deadline = time.monotonic() + timeout
    if not channels or not _unsettled(engine, check_id):
        return not _unsettled(engine, check_id)

    def watch() -> None:
        while not stop.wait(poll_interval):
            if time.monotonic() >= deadline or not _unsettled(engine, check_id):
                stop.set()

    watcher = threading.Thread(target=watch, name=f"check-{check_id}", daemon=True)
    watcher.start()
    try:
        run_worker(
            engine,
            channels,
            settings,
            stop_event=stop,
            poll_interval=min(poll_interval, 0.1),
            on_refused=refusal_hook,
        )
    finally:
        stop.set()
        watcher.join()
    return not _unsettled(engine, check_id)


def finish_check(
    session: Session, check_id: str, *, actor: str, now: dt.datetime | None = None
) -> int:
    """Close the check: rows still waiting (never handed to a provider) are stopped with
    ``TIMEOUT_DETAIL``; rows in a provider call elsewhere keep their outcome. Audited as
    ``registry.check``. Returns the rows stopped. Raises ``NotFound`` for an unknown id."""
    now = now or utcnow()
    alert = load_alert(session, check_id, lock=True)
    if alert.kind != CHECK_KIND:
        raise NotFound(f"点検ではありません / {check_id} is not a check")
    stopped = move(
        session,
        Event.CANCEL,
        Delivery.alert_id == check_id,
        values={"finished_at": now, "updated_at": now, "detail": TIMEOUT_DETAIL},
        only={DeliveryState.HELD, DeliveryState.QUEUED, DeliveryState.CLAIMED},
    )
    alert.state = _CLOSED
    alert.cancelled_at = now
    alert.cancelled_by = actor
    alert.cancel_reason = _CLOSE_REASON
    counts: dict[str, int] = {}
    for state in session.scalars(select(Delivery.state).where(Delivery.alert_id == check_id)):
        counts[state] = counts.get(state, 0) + 1
    audit_record(
        session,
        "registry.check",
        {"check_id": check_id, "selection": dict(alert.scope.get("check", {})).get("selection")},
        {"by_state": counts, "stopped": stopped},
        actor=actor,
    )
    return stopped


def latest_check_id(session: Session) -> str | None:
    """The id of the newest check, or None when there has been none."""
    return session.scalars(
        select(Alert.id)
        .where(Alert.kind == CHECK_KIND)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(1)
    ).first()
