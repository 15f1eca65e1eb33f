"""A push that may have gone out gets the 解除 or the 取消し (#9).

A push whose outcome is unknown is sent again (the device collapses a duplicate), so it
waits in the queue for its retry looking just like a deferred one. When the officer
clears or cancels the alert then, it is never sent again — but its first attempt may
have reached the person, who must hear that the order is lifted or was a mistake
(``states.may_have_reached``). An SMS back in the queue surely did not go out (an unknown
SMS is never retried) and gets nothing. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery, NoticeWait
from alertsvc.dispatch.alerts import create_alert
from alertsvc.dispatch.runner import run_worker
from alertsvc.dispatch.sender import Dispatcher
from alertsvc.models import ChannelName, DeliveryResult, Outcome, OutgoingMessage
from alertsvc.services.cap_notices import cancel_with_notice
from alertsvc.services.lifecycle import clear_alert
from alertsvc.testing.fakes import FakePushChannel, FakeSmsChannel, simple_plan
from tests.integration.dispatch_support import fast_settings

PUSH, SMS = ChannelName.PUSH, ChannelName.SMS


def _alert(engine: Engine, channel: ChannelName, n: int = 2) -> tuple[str, list[str]]:
    targets, deliveries = simple_plan(n, channels=(channel,))
    with session_scope(engine) as s:
        aid = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t")  # fmt: skip
    return aid, [d.address for d in deliveries]


def _notified(engine: Engine, notice_id: str | None) -> list[str]:
    assert notice_id is not None
    with session_scope(engine) as s:
        return sorted(s.scalars(select(Delivery.address).where(Delivery.alert_id == notice_id)))


class ClearDuringCall(FakePushChannel):
    """The officer clears the alert while the push to ``at`` is with FCM, which then
    answers ``outcome`` (UNKNOWN: a deadline passed after the request was sent)."""

    def __init__(self, at: str, outcome: Outcome, act: Callable[[], dict[str, Any]]) -> None:
        super().__init__(script={at: outcome})
        self.at, self.act = at, act
        self.result: dict[str, Any] = {}

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        if not self.result and any(m.address == self.at for m in messages):
            self.result = self.act()
        return super().send_many(messages)


def test_a_push_in_flight_at_the_all_clear_that_may_have_gone_out_gets_the_clear(
    engine: Engine,
) -> None:
    settings = fast_settings(engine)
    aid, addresses = _alert(engine, PUSH)
    with engine.begin() as conn:  # the first person's push went out before
        conn.execute(update(Delivery).where(Delivery.address == addresses[0])
                     .values(state="sent", attempts=1))  # fmt: skip

    def clear() -> dict[str, Any]:
        with session_scope(engine) as s:
            return clear_alert(s, settings, aid, actor="chief").as_dict()

    first = ClearDuringCall(addresses[1], Outcome.UNKNOWN, clear)
    d = Dispatcher(engine, {PUSH: first}, settings, worker_id="w1")
    d.step()
    for _ in range(3):
        d.maintain()
    good = FakePushChannel()
    run_worker(engine, {PUSH: good}, settings, until_idle=True)
    assert first.result["awaiting_outcome"] == 1
    assert _notified(engine, first.result["notice_alert_id"]) == sorted(addresses)
    assert sorted(m.address for m in good.sent) == sorted(addresses)
    assert all("解除" in m.body or "解除" in m.title for m in good.sent)
    with session_scope(engine) as s:
        row = s.scalars(select(Delivery).where(Delivery.alert_id == aid,
                                               Delivery.address == addresses[1])).one()  # fmt: skip
        # recorded as what it is — may have gone out — not requeued to be withdrawn
        # later (the sender treats a cleared alert like a cancelled one); never resent
        assert row.state == "unknown", row.detail
        assert "alert cleared" in row.detail
        assert not s.scalars(select(NoticeWait.id)).all()


def _waiting_for_retry(engine: Engine, aid: str, address: str) -> None:
    """The row's attempt came back and it waits in the queue for the next one."""
    with engine.begin() as conn:
        conn.execute(
            update(Delivery)
            .where(Delivery.alert_id == aid, Delivery.address == address)
            .values(state="queued", attempts=1, detail="deadline exceeded")
        )


@pytest.mark.parametrize("channel", [PUSH, SMS])
def test_all_clear_tells_a_push_waiting_to_retry_but_not_a_deferred_sms(
    engine: Engine, channel: ChannelName
) -> None:
    settings = fast_settings(engine)
    aid, addresses = _alert(engine, channel)
    with engine.begin() as conn:
        conn.execute(update(Delivery).where(Delivery.address == addresses[0])
                     .values(state="sent", attempts=1))  # fmt: skip
    _waiting_for_retry(engine, aid, addresses[1])
    with session_scope(engine) as s:
        result = clear_alert(s, settings, aid, actor="chief")
    told = _notified(engine, result.notice_alert_id)
    assert told == (sorted(addresses) if channel is PUSH else [addresses[0]])
    worker = FakePushChannel() if channel is PUSH else FakeSmsChannel()
    run_worker(engine, {channel: worker}, settings, until_idle=True)
    assert sorted(m.address for m in worker.sent) == told  # the alert itself never again


@pytest.mark.parametrize("channel", [PUSH, SMS])
def test_cancel_tells_a_push_waiting_to_retry_but_not_a_deferred_sms(
    engine: Engine, channel: ChannelName
) -> None:
    settings = fast_settings(engine)
    aid, addresses = _alert(engine, channel)
    _waiting_for_retry(engine, aid, addresses[1])
    with session_scope(engine) as s:
        result = cancel_with_notice(s, settings, aid, reason="誤報", actor="chief")
    if channel is PUSH:
        assert _notified(engine, result.cancellation_alert_id) == [addresses[1]]
    else:
        assert result.cancellation_alert_id is None and result.notified == 0
    with session_scope(engine) as s:
        from alertsvc.dispatch.verify import verify_alert

        for alert_id in filter(None, (aid, result.cancellation_alert_id)):
            rules = {v.rule for v in verify_alert(s, alert_id, settings.dispatch).violations}
            assert not {r for r in rules if r.startswith("cancellation")}, rules
