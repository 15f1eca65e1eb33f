"""The worker process runner: one thread per channel (and per ``concurrency``), shared
token buckets, periodic maintenance, clean stop, idle detection."""

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
from sqlalchemy.exc import SQLAlchemyError

from alertsvc.channels import Channel
from alertsvc.config import Settings
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
    in-flight batches are finished and recorded and claimed-but-unsent rows are released.
    Raises ``ChannelMisconfigured`` (after requeueing the rows it could not send) when a
    channel cannot work at all; any error in one thread stops the others.
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

    def loop(d: Dispatcher) -> None:
        try:
            while not stop.is_set():
                if timer.due():
                    d.maintain()
                try:
                    n = d.step()
                except SQLAlchemyError:
                    log.exception("dispatcher %s: database error; pausing", d.worker_id)
                    stop.wait(1.0)
                    continue
                if n == 0:
                    if until_idle and not d.pending():
                        return
                    stop.wait(poll_interval)
        except BaseException as exc:
            errors.append(exc)
            stop.set()  # one broken thread stops the others: fail loud, not half-working
        finally:
            d.release_claims()

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
