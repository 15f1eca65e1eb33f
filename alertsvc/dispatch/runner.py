"""The worker process runner: one thread per channel (and per ``concurrency``), shared
token buckets, periodic maintenance, clean stop, idle detection; channels isolated from
each other, database errors survived with back-off."""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Mapping

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from alertsvc.audit import record as audit_record
from alertsvc.channels import Channel
from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import utcnow
from alertsvc.dispatch.ratelimit import TokenBucket
from alertsvc.dispatch.sender import (
    Clock,
    Dispatcher,
    RefusalHook,
    WorkerStats,
    buckets_from_settings,
)
from alertsvc.models import ChannelName

__all__ = ["default_worker_id", "run_worker"]

log = logging.getLogger("alertsvc.dispatch.worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


class _MaintenanceTimer:
    """Lets at most one thread of a process run maintenance per interval."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = -float("inf")
        self._lock = threading.Lock()

    def due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.interval:
                return False
            self._last = now
            return True


def _short(exc: BaseException) -> str:
    """A one-line, bounded description of an error (no SQL parameters: they hold addresses)."""
    text = str(exc.orig) if isinstance(exc, DBAPIError) and exc.orig is not None else str(exc)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first}"[:300]


def _report_broken(engine: Engine, d: Dispatcher, exc: BaseException, retry: float) -> None:
    """A channel that cannot work: loud on stderr, and in the audit (``channel.broken``).

    ``alert status`` reads the audit entry. Best effort: with the database down too, the
    stderr line is all there is.
    """
    channels = ", ".join(str(c) for c in d.channels)
    detail = _short(exc)
    log.error(
        "CHANNEL BROKEN: %s cannot send (%s); other channels keep running, its rows fail "
        "over to the next channel after max_age_seconds; retrying in %.0fs",
        channels,
        detail,
        retry,
    )
    try:
        with session_scope(engine) as s:
            audit_record(
                s,
                "channel.broken",
                {"channels": [str(c) for c in d.channels], "worker_id": d.worker_id},
                {"error": detail, "retry_seconds": retry},
                actor=d.worker_id,
            )
    except SQLAlchemyError:
        log.exception("could not audit the broken channel")


def run_worker(
    engine: Engine,
    channels: Mapping[ChannelName, Channel],
    settings: Settings,
    *,
    worker_id: str | None = None,
    until_idle: bool = False,
    stop_event: threading.Event | None = None,
    clock: Clock = utcnow,
    concurrency: int = 1,
    poll_interval: float = 0.1,
    maintenance_interval: float = 1.0,
    rng: random.Random | None = None,
    buckets: Mapping[ChannelName, TokenBucket] | None = None,
    on_refused: RefusalHook | None = None,
) -> WorkerStats:
    """Run dispatcher loops until ``stop_event`` is set (or, with ``until_idle``, no work).

    Each channel gets ``concurrency`` threads of its own, so a slow provider (Twilio: one
    request per message) never holds up another channel; the threads of a channel share
    its token bucket. ``until_idle`` returns once no row of the served channels is queued
    (deferred rows included), claimed, sending, or held in a live alert. On stop, the
    in-flight call is finished and recorded and claimed-but-unsent rows are released.

    Channels are isolated: a channel that cannot work (``ChannelMisconfigured``, or an
    adapter bug outside a provider call) is reported (stderr and the audit), its claimed
    rows go back, and it is tried again every ``dispatch.channel_retry_seconds`` while the
    other channels keep running; meanwhile the max-age sweep fails its rows over to each
    person's next channel. A database error (locked SQLite, PostgreSQL restart) makes the
    thread back off exponentially (up to ``dispatch.db_retry_max_seconds``) and go on;
    rows are never lost: unsent claims go back to the queue when their lease expires and
    a call whose outcome could not be recorded becomes 'unknown'. Only an error that is
    not an ``Exception`` (KeyboardInterrupt, SystemExit) stops every thread; it is
    re-raised. ``WorkerStats.channel_errors`` / ``db_errors`` count what was survived.
    """
    stop = stop_event or threading.Event()
    base = worker_id or default_worker_id()
    shared = dict(buckets) if buckets is not None else buckets_from_settings(settings.rates)
    single = len(channels) * max(1, concurrency) == 1
    dispatchers = [
        Dispatcher(
            engine,
            {name: ch},
            settings,
            worker_id=base if single else f"{base}/{name}{i}",
            clock=clock,
            rng=rng if single else random.Random((rng or random).random()),
            buckets=shared,
            stop_event=stop,
            on_refused=on_refused,
        )
        for name, ch in channels.items()
        for i in range(max(1, concurrency))
    ]
    timer = _MaintenanceTimer(maintenance_interval)
    errors: list[BaseException] = []
    retry_channel = settings.dispatch.channel_retry_seconds
    retry_db_max = settings.dispatch.db_retry_max_seconds

    def loop(d: Dispatcher) -> None:
        db_failures = 0
        broken_until = -float("inf")
        try:
            while not stop.is_set():
                try:
                    if timer.due():
                        d.maintain()
                    n = d.step() if time.monotonic() >= broken_until else 0
                    idle = n == 0 and until_idle and not d.pending()
                    db_failures = 0
                except SQLAlchemyError as exc:
                    db_failures += 1
                    d.stats.db_errors += 1
                    wait = min(retry_db_max, poll_interval * 2.0**db_failures)
                    log.error(
                        "dispatcher %s: database error (%s); retrying in %.1fs",
                        d.worker_id,
                        _short(exc),
                        wait,
                    )
                    # whatever this thread had claimed was never handed to a provider
                    _release(d)
                    stop.wait(wait)
                    continue
                except Exception as exc:  # one channel's failure must not stop the others
                    d.stats.channel_errors += 1
                    broken_until = time.monotonic() + retry_channel
                    _report_broken(engine, d, exc, retry_channel)
                    _release(d)
                    continue
                if idle:
                    return
                if n == 0:
                    stop.wait(poll_interval)
        except BaseException as exc:
            errors.append(exc)
            stop.set()  # KeyboardInterrupt and the like: stop everything
        finally:
            _release(d)

    if single:
        loop(dispatchers[0])
    else:
        threads = [
            threading.Thread(target=loop, args=(d,), name=f"dispatch-{d.worker_id}", daemon=True)
            for d in dispatchers
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    total = WorkerStats()
    for d in dispatchers:
        total.add(d.stats)
    if errors:
        raise errors[0]
    return total


def _release(d: Dispatcher) -> None:
    try:
        d.release_claims()
    except SQLAlchemyError as exc:
        # the claims' leases expire and maintenance hands the rows back
        log.error("dispatcher %s: could not release claims (%s)", d.worker_id, _short(exc))
