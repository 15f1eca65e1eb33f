"""Workers ride out database errors: nothing lost, nothing sent twice (#7 item 4).

Errors are injected with a SQLAlchemy event hook on the test's engine (SQLite "database
is locked", a dropped PostgreSQL connection) into every kind of statement — claims,
recording, maintenance, the idle check — and a real PostgreSQL server (a throwaway
cluster on its own port, never the shared one) is stopped and started again while a
provider call is in flight.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from alertsvc.db import ensure_schema, make_engine, session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch import create_alert, run_worker
from alertsvc.models import ChannelName, DeliveryResult, OutgoingMessage
from alertsvc.testing import FakeChannel, simple_plan
from alertsvc.testing.pgcluster import ThrowawayCluster, pg_bin
from tests.integration.dispatch_support import fast_settings as _settings

PUSH, SMS = ChannelName.PUSH, ChannelName.SMS


class Faults:
    """Fails a seeded share of SELECT/UPDATE/INSERT statements with the driver's own error."""

    def __init__(self, engine: Engine, share: float, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.share = share
        self.raised = 0
        self.on = True
        self._lock = threading.Lock()
        self._error = engine.dialect.loaded_dbapi.OperationalError
        self._message = (
            "database is locked"
            if engine.dialect.name == "sqlite"
            else "server closed the connection unexpectedly"
        )
        event.listen(engine, "before_cursor_execute", self._hook)
        self.engine = engine

    def _hook(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT")):
            return
        with self._lock:
            fire = self.on and self.rng.random() < self.share
            if fire:
                self.raised += 1
        if fire:
            raise self._error(self._message)

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._hook)


def _alert(engine: Engine, n: int, channels: tuple[ChannelName, ...]) -> str:
    targets, deliveries = simple_plan(n, channels=channels)
    with session_scope(engine) as s:
        return create_alert(s, level=5, scope={}, exercise=False, targets=targets,
                            deliveries=deliveries, actor="t")  # fmt: skip


def _states(engine: Engine) -> Counter[str]:
    with session_scope(engine) as s:
        return Counter(s.scalars(select(Delivery.state)))


def test_worker_survives_injected_database_errors(engine: Engine) -> None:
    _alert(engine, 60, (PUSH, SMS))  # level 5: both channels at once, two threads
    push, sms = FakeChannel.of(PUSH), FakeChannel.of(SMS)
    settings = _settings(engine, db_retry_max_seconds=0.05, backoff_seconds=0.001,
                         jitter_seconds=0.001)  # fmt: skip
    faults = Faults(engine, share=0.15)
    try:
        stats = run_worker(
            engine, {PUSH: push, SMS: sms}, settings, until_idle=True,
            poll_interval=0.005, maintenance_interval=0.0,
        )  # fmt: skip
    finally:
        faults.on = False
        faults.remove()
    assert faults.raised > 10 and stats.db_errors >= faults.raised // 2
    # every row went out exactly once and is recorded as such
    assert _states(engine) == {"sent": 120}
    assert set(sms.sent_keys.values()) == {1} and len(sms.sent_keys) == 60
    assert set(push.sent_keys.values()) == {1} and len(push.sent_keys) == 60


@pytest.fixture
def own_cluster() -> Iterator[ThrowawayCluster]:
    if pg_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    cluster = ThrowawayCluster().init()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.mark.postgres
def test_worker_survives_a_postgresql_restart_during_a_send(own_cluster: ThrowawayCluster) -> None:
    engine = make_engine(own_cluster.create_database("chaos"))
    ensure_schema(engine)
    _alert(engine, 30, (SMS,))
    restarted = threading.Event()
    calls = 0

    def on_send(_m: OutgoingMessage, _r: DeliveryResult) -> None:
        nonlocal calls
        calls += 1
        if calls == 10:
            # the server dies while this provider call is in flight and comes back later
            own_cluster.stop("immediate")
            threading.Timer(1.0, lambda: (own_cluster.start(), restarted.set())).start()

    sms = FakeChannel.of(SMS, on_send=on_send)
    settings = _settings(engine, db_retry_max_seconds=0.5)
    stats = run_worker(engine, {SMS: sms}, settings, until_idle=True, poll_interval=0.01)
    assert restarted.wait(30)
    assert stats.db_errors >= 1
    assert _states(engine) == {"sent": 30}
    assert len(sms.sent_keys) == 30 and set(sms.sent_keys.values()) == {1}
    engine.dispose()
