"""Scheduler wiring: job options, a hanging job does not stall the others, leader election."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alertsvc.scheduler import Job, LeaderScheduler, PgAdvisoryLock, build_scheduler


def test_every_job_is_utc_coalesced_single_instance_with_explicit_grace() -> None:
    jobs = [Job("a", lambda: None, 5, 30), Job("b", lambda: None, 60, 7.4)]
    scheduler = build_scheduler(jobs)
    scheduler.start(paused=True)
    try:
        assert str(scheduler.timezone) == "UTC"
        got = {
            j.id: (j.coalesce, j.max_instances, j.misfire_grace_time) for j in scheduler.get_jobs()
        }
        assert got == {"a": (True, 1, 30), "b": (True, 1, 7)}
    finally:
        scheduler.shutdown(wait=False)


def test_a_hanging_job_does_not_stall_the_others() -> None:
    release = threading.Event()
    hung = threading.Event()
    ticks = threading.Semaphore(0)

    def hang() -> None:
        hung.set()
        release.wait()

    def tick() -> None:
        ticks.release()

    scheduler = build_scheduler([Job("hang", hang, 0.05, 1), Job("tick", tick, 0.05, 1)])
    scheduler.start()
    try:
        assert hung.wait(30)
        # the other job keeps running while the first is stuck (max_instances=1 on each)
        for _ in range(5):
            assert ticks.acquire(timeout=30)
    finally:
        release.set()
        scheduler.shutdown(wait=True)


class FakeLock:
    """Leadership that a test hands out and takes back."""

    def __init__(self) -> None:
        self.free = threading.Event()
        self.held = False

    def try_acquire(self) -> bool:
        if self.free.is_set():
            self.held = True
        return self.held

    def still_held(self) -> bool:
        return self.held and self.free.is_set()

    def release(self) -> None:
        self.held = False


def test_jobs_run_only_while_leading() -> None:
    lock = FakeLock()
    roles: list[str] = []
    changed = threading.Semaphore(0)
    ran = threading.Event()

    def on_change(role: str) -> None:
        roles.append(role)
        changed.release()

    leader = LeaderScheduler(
        [Job("j", ran.set, 0.05, 1)], lock, retry_seconds=0.02, on_change=on_change
    ).start()
    try:
        assert changed.acquire(timeout=30) and roles == ["follower"]
        assert not ran.is_set()
        lock.free.set()
        assert changed.acquire(timeout=30) and roles[-1] == "leader"
        assert ran.wait(30)
        lock.free.clear()  # the lead is lost (the connection died)
        assert changed.acquire(timeout=30) and roles[-1] == "follower"
    finally:
        leader.stop()


@pytest.mark.postgres
def test_advisory_lock_one_holder(pg_engine: Engine) -> None:
    a, b = PgAdvisoryLock(pg_engine, key=4242), PgAdvisoryLock(pg_engine, key=4242)
    try:
        assert a.try_acquire() and a.still_held()
        assert not b.try_acquire()
        a.release()
        assert b.try_acquire() and b.still_held()
    finally:
        a.release()
        b.release()


def _serve(db_url: str, cwd: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ALERTSVC_DATABASE_URL": db_url,
        "ALERTSVC_CONFIG": str(cwd / "alertsvc.toml"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "alertsvc", "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


class Lines:
    """Reads a process's stderr in a thread; ``wait_for`` blocks until a line matches."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        assert proc.stderr is not None
        stream = proc.stderr
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: any(text in x for x in self.lines), timeout)


@pytest.fixture
def serve_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "alertsvc.toml").write_text("[watcher]\nleader_retry_seconds = 0.5\n")
    yield tmp_path


@pytest.mark.postgres
def test_two_serves_elect_one_leader_and_fail_over(
    pg_engine: Engine, pg_url: str, serve_dir: Path
) -> None:
    first = _serve(pg_url, serve_dir)
    second: subprocess.Popen[str] | None = None
    try:
        out1 = Lines(first)
        assert out1.wait_for("scheduler: leader"), out1.lines
        second = _serve(pg_url, serve_dir)
        out2 = Lines(second)
        assert out2.wait_for("scheduler: follower"), out2.lines
        assert not any("scheduler: leader" in x for x in out2.lines)
        first.send_signal(signal.SIGKILL)  # the leader dies without cleaning up
        first.wait(30)
        # the server dropped the dead session's lock: the follower takes the lead
        assert out2.wait_for("scheduler: leader"), out2.lines
    finally:
        for proc in (first, second):
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
            if proc.stderr is not None:
                proc.stderr.close()


def test_serve_watcher_job_auto_sends_and_wakes_the_dispatcher(
    engine: Engine, settings: object, tmp_path: Path
) -> None:
    """The watcher job of `serve` with policy auto: decide, send, first provider request."""
    import datetime as dt
    import json
    from dataclasses import replace

    from sqlalchemy import select

    from alertsvc.cli.watch import scheduler_jobs
    from alertsvc.config import Settings, StationSettings
    from alertsvc.db import session_scope
    from alertsvc.db.tables import Alert, WatchEvent
    from alertsvc.geo.zone_import import import_zones
    from alertsvc.registry.csv_import import import_register
    from alertsvc.testing.simulator import ProviderSimulator

    root = Path(__file__).resolve().parents[2]
    import_zones(engine, root / "zones" / "nogata_flood_synthetic.geojson", "flood", actor="t")
    import_register(engine, root / "recipients" / "register.csv", actor="t")
    feed = tmp_path / "feed.json"
    now = dt.datetime.now(dt.UTC)
    # synthetic 川の防災情報-shaped document: two readings over 避難判断水位 4.0 m
    values = [3.9, 4.1, 4.2]
    feed.write_text(
        json.dumps(
            {
                "obsFcd": "0901000400101",
                "spclWarnStg": 4.0,
                "min10Values": [
                    {
                        "obsTime": (now - dt.timedelta(minutes=10 * (2 - i))).isoformat(),
                        "stg": v,
                        "stgCcd": 0,
                    }
                    for i, v in enumerate(values)
                ],
            }
        )
    )
    assert isinstance(settings, Settings)
    station = StationSettings(
        id="auto",
        source="river_json",
        url=feed.as_uri(),
        code="0901000400101",
        zone_sets_level3=("flood",),
        policy_level3="auto",
    )
    stop = threading.Event()
    with ProviderSimulator(callback_delay_s=0.0) as sim:
        run_settings = replace(
            settings,
            twilio=replace(settings.twilio, base_url=sim.url),
            fcm=replace(settings.fcm, base_url=sim.url),
            dispatch=replace(settings.dispatch, ack_wait_level3_seconds=0.0),
            watcher=replace(settings.watcher, stations=(station,)),
        )
        jobs = {j.id: j for j in scheduler_jobs(engine, run_settings, stop)}
        assert set(jobs) == {"watcher-poll", "dispatch-wakeup", "escalation-check"}
        jobs["watcher-poll"].func()
        with session_scope(engine) as session:
            alert_ids = session.scalars(select(Alert.id)).all()
            event = session.scalars(select(WatchEvent).where(WatchEvent.kind == "enter")).one()
        assert len(alert_ids) == 1 and event.alert_id == alert_ids[0] and event.level == 3
        # the dispatcher was woken by the watcher, not by its own schedule
        got = threading.Event()
        for _ in range(600):
            if sim.requests:
                got.set()
                break
            stop.wait(0.05)
        stop.set()
        for thread in threading.enumerate():
            if thread.name == "dispatch-kick":
                thread.join(60)  # the stopped dispatcher finishes its batch first
        assert got.is_set()
