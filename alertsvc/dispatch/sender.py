"""Dispatcher: claim due rows, call the providers, record what happened.

One pass (``Dispatcher.step``), per channel:

1. take tokens from the channel's bucket; claim at most that many due 'queued' rows,
   cancellations first, then by alert level and person priority (PostgreSQL:
   ``FOR UPDATE SKIP LOCKED``; SQLite: ``BEGIN IMMEDIATE`` serialises claims, so SQLite
   means one worker process) and lease them (commit);
2. for each provider call (``max_batch`` rows, sent concurrently by the channel: up to
   16 Twilio requests, up to 500 FCM messages): move just those rows to 'sending'
   (commit), call ``channel.send_many``, and record the results with the retry policy,
   guarded by our lease — in the transaction that marks the next call's rows 'sending',
   so one commit per call. The rest of the claim stays 'claimed' — never called, so a
   crash hands it back to the queue.

Claiming is ``alertsvc.dispatch.claims``, recording the outcomes
``alertsvc.dispatch.recording``; maintenance (``alertsvc.dispatch.maintenance``) runs in the
same loop; the process runner (threads, signals, idle detection) is
``alertsvc.dispatch.runner``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from alertsvc.audit import record as audit_record
from alertsvc.channels import Channel
from alertsvc.config import Settings
from alertsvc.db.tables import Delivery, utcnow
from alertsvc.dispatch.claims import ClaimedRow, claim_rows
from alertsvc.dispatch.maintenance import (
    ACTIVE_ALERTS,
    cancel_rows_of_cancelled_alerts,
    expire_unsent_rows,
    has_pending_work,
    notify_settled_in_flight,
    recover_expired_leases,
    release_due_escalations,
)
from alertsvc.dispatch.moves import move, move_returning_ids
from alertsvc.dispatch.ratelimit import TokenBucket, buckets_from_settings
from alertsvc.dispatch.recording import RefusalHook, record_results
from alertsvc.dispatch.reminders import REMIND_EVERY, remind_supporters
from alertsvc.dispatch.retry import RetryPolicy, policy_for
from alertsvc.dispatch.states import DeliveryState, Event
from alertsvc.dispatch.worker_stats import WorkerStats
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, DeliveryResult, Outcome

__all__ = [
    "CLAIM_CALLS",
    "Clock",
    "Dispatcher",
    "RefusalHook",
    "WorkerStats",
    "buckets_from_settings",
]

log = logging.getLogger("alertsvc.dispatch.worker")

Clock = Callable[[], dt.datetime]

S = DeliveryState
CLAIM_CALLS = 20
# one provider call's rows and their results, not yet recorded
_Done = tuple[Sequence[ClaimedRow], Sequence[DeliveryResult]]


class Dispatcher:
    """One worker thread's view: claims, sends and records for the given channels.

    Thread-confined; several dispatchers (threads or processes) may work on one database.
    ``clock`` gives aware UTC datetimes (tests inject one that jumps); ``buckets`` may be
    shared between the dispatchers of one process.
    """

    def __init__(
        self,
        engine: Engine,
        channels: Mapping[ChannelName, Channel],
        settings: Settings,
        *,
        worker_id: str,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        buckets: Mapping[ChannelName, TokenBucket] | None = None,
        stop_event: threading.Event | None = None,
        on_refused: RefusalHook | None = None,
    ) -> None:
        self.engine = engine
        self.on_refused = on_refused
        self.channels = dict(channels)
        self.settings = settings
        self.dispatch = settings.dispatch
        self.worker_id = worker_id
        self.clock = clock
        self.rng = rng or random.Random()
        self.buckets = (
            dict(buckets) if buckets is not None else buckets_from_settings(settings.rates)
        )
        self.stop_event = stop_event or threading.Event()
        self.stats = WorkerStats()
        self.policies: dict[str, RetryPolicy] = {
            str(c): policy_for(c, settings.dispatch) for c in ChannelName
        }
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._pg = engine.dialect.name == "postgresql"
        self._allow = frozenset(settings.exercise.allow_list)
        # supporter reminders scan every live alert: not on every maintenance pass
        self._reminded_at: dt.datetime | None = None

    # -- maintenance ---------------------------------------------------------------

    def maintain(self) -> None:
        """Recover expired leases, fail rows past max age, release due escalation steps.

        One transaction; a row failed by the max-age sweep is audited
        (``delivery.expired``) and its person's next step is released in the same pass.
        Raises ``SQLAlchemyError`` on a database error (nothing is half-applied).
        """
        now = self.clock()
        with self._sessions.begin() as s:
            requeued, lost = recover_expired_leases(s, now)
            cancel_rows_of_cancelled_alerts(s, now)
            notify_settled_in_flight(s, now)
            expired = expire_unsent_rows(s, self.dispatch, now)
            if expired:
                audit_record(
                    s,
                    "delivery.expired",
                    {"worker_id": self.worker_id, "max_age_seconds": self.dispatch.max_age_seconds},
                    {"channels": expired},
                    actor=self.worker_id,
                )
            released = release_due_escalations(s, self.dispatch, now)
            # people still silent after the wait: their supporters are asked (#10)
            due = self._reminded_at is None or now - self._reminded_at >= REMIND_EVERY
            if due:
                remind_supporters(s, self.dispatch, now)
                self._reminded_at = now
        self.stats.recovered_claims += requeued
        self.stats.recovered_unknown += lost
        self.stats.expired += sum(expired.values())
        self.stats.released += released

    def pending(self) -> bool:
        with self._sessions.begin() as s:
            return has_pending_work(s, [str(c) for c in self.channels])

    # -- one pass ------------------------------------------------------------------

    def step(self) -> int:
        """Claim, send and record one batch per channel; returns rows handed to providers."""
        handled = 0
        for name, channel in self.channels.items():
            if self.stop_event.is_set():
                break
            bucket = self.buckets[ChannelName(name)]
            # at most CLAIM_CALLS provider calls per claim: for one-message-per-request
            # channels (Twilio) that keeps the 'sending' window short and lets other
            # workers share the queue instead of one worker taking a whole batch
            limit = min(self.dispatch.batch_size, max(1, channel.max_batch) * CLAIM_CALLS)
            tokens = bucket.take_up_to(limit)
            if tokens == 0:
                continue
            rows = self._claim(str(name), tokens)
            bucket.give_back(tokens - len(rows))
            if not rows:
                continue
            if self.stop_event.is_set():
                self.release_claims()
                break
            handled += self._send(channel, rows)
        return handled

    def _claim(self, channel: str, limit: int) -> list[ClaimedRow]:
        now = self.clock()
        lease_until = now + dt.timedelta(seconds=self.dispatch.lease_seconds)
        with self._sessions.begin() as s:
            rows = claim_rows(
                s,
                channel,
                limit,
                worker_id=self.worker_id,
                now=now,
                lease_until=lease_until,
                skip_locked=self._pg,
            )
        self.stats.claimed += len(rows)
        return rows

    def release_claims(self) -> int:
        """Give every row this worker claimed but did not send back to the queue."""
        now = self.clock()
        with self._sessions.begin() as s:
            n = move(
                s,
                Event.RELEASE_CLAIM,
                Delivery.lease_owner == self.worker_id,
                values={"lease_owner": None, "lease_expires_at": None, "updated_at": now},
            )
        return n

    def _send(self, channel: Channel, rows: Sequence[ClaimedRow]) -> int:
        # a third lock for exercises: never hand an off-list address to a provider
        refused = [r for r in rows if r.exercise and r.address not in self._allow]
        sendable = [r for r in rows if not (r.exercise and r.address not in self._allow)]
        if refused:
            self._refuse(refused)
        size = max(1, int(channel.max_batch))
        handled = 0
        renewed = time.monotonic()
        # the results of the last call, recorded in the transaction that marks the next
        # call's rows 'sending' (one commit per provider call instead of two)
        done: _Done | None = None
        try:
            for i in range(0, len(sendable), size):
                if self.stop_event.is_set():
                    break  # the runner releases the rest of the claim
                if time.monotonic() - renewed > self.dispatch.lease_seconds / 3:
                    # slow provider: keep the lease on the rest of the claim
                    self._renew([r.id for r in sendable[i:]])
                    renewed = time.monotonic()
                chunk = sendable[i : i + size]
                going = self._start_call(chunk, done)
                done = None
                batch = [r for r in chunk if r.id in going]
                if not batch:
                    continue
                try:
                    results = self._call(channel, batch)
                except ChannelMisconfigured:
                    # nothing can have gone out on a channel that cannot work at all
                    self._requeue(batch)
                    raise
                done = (batch, results)
                handled += len(batch)
        finally:
            if done is not None:
                self._record(*done)
        return handled

    def _refuse(self, refused: Sequence[ClaimedRow]) -> None:
        now = self.clock()
        with self._sessions.begin() as s:
            move(
                s,
                Event.REFUSE,
                Delivery.id.in_([r.id for r in refused]),
                Delivery.lease_owner == self.worker_id,
                values={
                    "detail": "exercise: address not on exercise.allow_list; not sent",
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "finished_at": now,
                    "updated_at": now,
                },
            )
        self.stats.refused += len(refused)
        log.error("exercise: %d rows refused (address not on allow-list)", len(refused))

    def _start_call(self, chunk: Sequence[ClaimedRow], done: _Done | None) -> set[int]:
        """Commit 'sending' for exactly the rows of the next provider call (and, in the
        same transaction, the results of the previous call); return the ids now 'sending'.

        So a crash at any moment leaves at most one call's rows 'sending' (later marked
        unknown); the rest of the claim is still 'claimed' and goes back to the queue. If
        the combined transaction fails, the previous results are recorded on their own
        (riding out the outage, see ``_record``) before the rows are marked.
        """
        if done is not None:
            try:
                with self._sessions.begin() as s:
                    counts = self._record_in(s, *done)
                    going = self._mark_sending(s, chunk)
            except SQLAlchemyError:
                self.stats.db_errors += 1
                self._record(*done)
            else:
                self._count(counts)
                return going
        with self._sessions.begin() as s:
            return self._mark_sending(s, chunk)

    def _mark_sending(self, s: Session, chunk: Sequence[ClaimedRow]) -> set[int]:
        now = self.clock()
        lease_until = now + dt.timedelta(seconds=self.dispatch.lease_seconds)
        return set(
            move_returning_ids(
                s,
                Event.CALL_PROVIDER,
                Delivery.id.in_([r.id for r in chunk]),
                Delivery.lease_owner == self.worker_id,
                # cancelled since the claim: cancel_alert has taken the row already, but
                # a cancellation committed between claim and now must win here too
                Delivery.alert_id.in_(ACTIVE_ALERTS),
                values={
                    "attempts": Delivery.attempts + 1,
                    "lease_expires_at": lease_until,
                    "updated_at": now,
                },
            )
        )

    def _call(self, channel: Channel, chunk: Sequence[ClaimedRow]) -> list[DeliveryResult]:
        messages = [r.message() for r in chunk]
        try:
            got = list(channel.send_many(messages))
        except ChannelMisconfigured:
            raise
        except Exception as exc:
            # an adapter bug mid-call: the provider may have acted, so this is UNKNOWN
            log.exception("channel %s raised; %d rows marked unknown", channel.name, len(chunk))
            detail = f"adapter error: {type(exc).__name__}"
            return [DeliveryResult(Outcome.UNKNOWN, str(channel.name), detail=detail)] * len(chunk)
        if len(got) != len(chunk):
            log.error("channel %s returned %d results for %d", channel.name, len(got), len(chunk))
            got = got[: len(chunk)]
            missing = DeliveryResult(Outcome.UNKNOWN, str(channel.name), detail="no result")
            got += [missing] * (len(chunk) - len(got))
        return got

    def _renew(self, ids: Sequence[int]) -> None:
        until = self.clock() + dt.timedelta(seconds=self.dispatch.lease_seconds)
        try:
            with self._sessions.begin() as s:
                s.execute(
                    update(Delivery)
                    .where(
                        Delivery.id.in_(ids),
                        Delivery.state.in_([S.CLAIMED.value, S.SENDING.value]),
                        Delivery.lease_owner == self.worker_id,
                    )
                    .values(lease_expires_at=until)
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError:
            # not fatal: at worst the rows are marked unknown, and we still record them
            log.exception("lease renewal failed")

    def _requeue(self, rows: Sequence[ClaimedRow]) -> None:
        if not rows:
            return
        now = self.clock()
        with self._sessions.begin() as s:
            # the provider was never called: hand the rows back as if never attempted
            move(
                s,
                Event.RETRY,
                Delivery.id.in_([r.id for r in rows]),
                Delivery.lease_owner == self.worker_id,
                values={
                    "attempts": Delivery.attempts - 1,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "updated_at": now,
                },
                only={S.SENDING},
            )
            # the alert may have been cancelled while these were in flight
            cancel_rows_of_cancelled_alerts(s, now)

    def _record(self, rows: Sequence[ClaimedRow], results: Sequence[DeliveryResult]) -> None:
        """Record the outcomes, riding out a database error (restart, lock) with back-off.

        Keeps trying for twice the lease: the rows stay 'sending' meanwhile; if their lease
        expires first, maintenance marks them unknown and our late record still resolves
        them (the lease owner is kept). Only if the database stays away longer do they
        remain 'unknown' — the honest answer, never a lost row.
        """
        if not rows:
            return
        deadline = time.monotonic() + 2 * self.dispatch.lease_seconds
        wait = 0.1
        attempt = 0
        while True:
            attempt += 1
            try:
                self._record_once(rows, results)
                return
            except SQLAlchemyError as exc:
                self.stats.db_errors += 1
                if time.monotonic() + wait > deadline:
                    log.error(
                        "gave up recording %d results (%s); they stay unknown",
                        len(rows),
                        type(exc).__name__,
                    )
                    return
                log.error(
                    "recording %d results failed (attempt %d, %s); retrying in %.1fs",
                    len(rows),
                    attempt,
                    type(exc).__name__,
                    wait,
                )
                time.sleep(wait)
                wait = min(wait * 2, self.dispatch.db_retry_max_seconds)

    def _record_once(self, rows: Sequence[ClaimedRow], results: Sequence[DeliveryResult]) -> None:
        with self._sessions.begin() as s:
            counts = self._record_in(s, rows, results)
        self._count(counts)

    def _record_in(
        self, s: Session, rows: Sequence[ClaimedRow], results: Sequence[DeliveryResult]
    ) -> dict[str, int]:
        return record_results(
            s,
            rows,
            results,
            worker_id=self.worker_id,
            policies=self.policies,
            rng=self.rng,
            now=self.clock(),
            on_refused=self.on_refused,
        )

    def _count(self, counts: Mapping[str, int]) -> None:
        """Add committed outcomes to the stats."""
        self.stats.sent += counts.get(Event.ACCEPTED.value, 0)
        self.stats.retried += counts.get(Event.RETRY.value, 0)
        self.stats.failed += counts.get(Event.GIVE_UP.value, 0)
        self.stats.unknown += counts.get(Event.OUTCOME_UNKNOWN.value, 0)
