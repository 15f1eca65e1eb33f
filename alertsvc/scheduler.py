"""APScheduler 3.x wiring only: which jobs run, how often, and only in the leading process.

Every job runs on a ``BackgroundScheduler`` in UTC with ``coalesce=True`` (missed runs
collapse into one), ``max_instances=1`` (a slow run is never overlapped by the next)
and an explicit ``misfire_grace_time``. The jobs themselves (watcher poll, dispatcher
wake-up, escalation check) are built by the CLI, the composition root.

Leadership: on PostgreSQL one process leads, holding a session advisory lock on a
dedicated connection; the others are followers that try again every
``retry_seconds``. When the leader dies its connection closes, the server drops the
lock, and a follower takes over within ``retry_seconds``. On SQLite there is one
process, which always leads.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

__all__ = [
    "LOCK_KEY",
    "Job",
    "LeaderScheduler",
    "Leadership",
    "PgAdvisoryLock",
    "SingleProcess",
    "build_scheduler",
    "leadership_for",
]

log = logging.getLogger(__name__)

# pg advisory lock key of the scheduler leader ("alsv" in ASCII)
LOCK_KEY = 0x616C7376


@dataclass(frozen=True)
class Job:
    """One periodic job: ``func`` every ``seconds``, allowed ``misfire_grace_seconds`` late."""

    id: str
    func: Callable[[], object]
    seconds: float
    misfire_grace_seconds: float
    run_at_start: bool = True


def build_scheduler(jobs: Sequence[Job]) -> BackgroundScheduler:
    """A UTC BackgroundScheduler with every job coalesced, single-instance, grace explicit."""
    scheduler = BackgroundScheduler(
        timezone=dt.UTC, job_defaults={"coalesce": True, "max_instances": 1}
    )
    now = dt.datetime.now(dt.UTC)
    for job in jobs:
        scheduler.add_job(
            _logged(job),
            IntervalTrigger(seconds=job.seconds, timezone=dt.UTC),
            id=job.id,
            name=job.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, round(job.misfire_grace_seconds)),
            next_run_time=now if job.run_at_start else None,
            replace_existing=True,
        )
    return scheduler


def _logged(job: Job) -> Callable[[], None]:
    def run() -> None:
        try:
            job.func()
        except Exception:
            # one failing run must not stop the schedule: the next run tries again
            log.exception("scheduled job %s failed", job.id)

    run.__name__ = f"job_{job.id}"
    return run


class Leadership(Protocol):
    def try_acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def release(self) -> None: ...


class SingleProcess:
    """SQLite: one process, always the leader."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        return None


class PgAdvisoryLock:
    """A PostgreSQL session advisory lock held on a dedicated connection."""

    def __init__(self, engine: Engine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return self.still_held()
        try:
            conn = self.engine.connect()
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            )
            conn.commit()  # keep the connection idle, not "idle in transaction"
        except SQLAlchemyError:
            log.warning("scheduler: cannot reach the database to take the lead", exc_info=True)
            return False
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid() AND objid::bigint = :k AND granted"
                ),
                {"k": self.key & 0xFFFFFFFF},
            ).scalar()
            self._conn.commit()
        except SQLAlchemyError:
            held = 0
        if not held:
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._conn.commit()
        except SQLAlchemyError:
            pass  # the lock goes with the connection anyway
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()  # never hand a lock-holding connection back to the pool
                self._conn.close()
            except SQLAlchemyError:
                pass
            self._conn = None


def leadership_for(engine: Engine) -> Leadership:
    """PostgreSQL: the advisory lock; SQLite: one process."""
    if engine.dialect.name == "postgresql":
        return PgAdvisoryLock(engine)
    return SingleProcess()


class LeaderScheduler:
    """Runs ``jobs`` on a scheduler only while ``leadership`` is held.

    ``on_change("leader" | "follower")`` is called when the role changes (the serve
    command prints it). ``stop()`` calls ``on_stop``, shuts the scheduler down and
    releases the lead.
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        leadership: Leadership,
        *,
        retry_seconds: float,
        on_change: Callable[[str], None] = lambda _role: None,
        on_stop: Callable[[], None] = lambda: None,
    ) -> None:
        self.jobs = list(jobs)
        self.leadership = leadership
        self.retry_seconds = retry_seconds
        self.on_change = on_change
        self.on_stop = on_stop
        self.role = "none"
        self._scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeaderScheduler:
        self._thread = threading.Thread(target=self._loop, name="scheduler-leader", daemon=True)
        self._thread.start()
        return self

    def _set_role(self, role: str) -> None:
        if role != self.role:
            self.role = role
            self.on_change(role)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._scheduler is not None:
                if not self.leadership.still_held():
                    log.warning("scheduler: lost the lead; stopping jobs")
                    self._scheduler.shutdown(wait=False)
                    self._scheduler = None
                    self._set_role("follower")
            elif self.leadership.try_acquire():
                self._scheduler = build_scheduler(self.jobs)
                self._scheduler.start()
                self._set_role("leader")
            else:
                self._set_role("follower")
            self._stop.wait(self.retry_seconds)

    def stop(self) -> None:
        """Stop the jobs (waiting for running ones) and release the lead. Idempotent.

        ``on_stop`` runs first, so that long jobs (a dispatcher run) end their work early.
        """
        self._stop.set()
        self.on_stop()
        if self._thread is not None:
            self._thread.join(timeout=self.retry_seconds + 10)
            self._thread = None
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.leadership.release()
