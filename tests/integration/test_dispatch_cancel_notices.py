"""A 取消し goes only to addresses a provider accepted or may have accepted (#7 item 7).

Rows in a provider call when the officer cancels get their notice only once their
outcome is known: accepted or unknown -> notified; deferred (withdrawn) -> not.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, Delivery
from alertsvc.dispatch.alerts import create_alert
from alertsvc.dispatch.cancel import cancel_alert
from alertsvc.dispatch.runner import run_worker
from alertsvc.dispatch.sender import Dispatcher
from alertsvc.models import ChannelName, DeliveryResult, Outcome, OutgoingMessage
from alertsvc.testing.fakes import FakeSmsChannel, simple_plan
from tests.integration.dispatch_support import Clock
from tests.integration.dispatch_support import fast_settings as _settings

NOTICE = "【取消し】"


def _alert(engine: Engine, n: int) -> tuple[str, list[str]]:
    targets, deliveries = simple_plan(n, channels=(ChannelName.SMS,))
    with session_scope(engine) as s:
        aid = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t")  # fmt: skip
    return aid, [d.address for d in deliveries]


def _cancel(engine: Engine, alert_id: str) -> dict[str, object]:
    with session_scope(engine) as s:
        return cancel_alert(s, alert_id, reason="誤報", actor="officer",
                            render=lambda _c, _l: ("", NOTICE)).as_dict()  # fmt: skip


class CancelDuringCall(FakeSmsChannel):
    """The officer cancels while the call for ``at_address`` is with the provider, which
    then answers ``outcome`` for it."""

    def __init__(self, engine: Engine, alert_id: str, at_address: str, outcome: Outcome) -> None:
        super().__init__(script={at_address: outcome})
        self.engine, self.alert_id, self.at = engine, alert_id, at_address
        self.result: dict[str, object] = {}

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        if any(m.address == self.at for m in messages):
            self.result = _cancel(self.engine, self.alert_id)
        return super().send_many(messages)


def _notified(sms: FakeSmsChannel) -> list[str]:
    return sorted(m.address for m in sms.sent if m.body == NOTICE)


def test_a_send_in_flight_that_comes_back_deferred_gets_no_cancellation(engine: Engine) -> None:
    aid, addresses = _alert(engine, 3)
    first = CancelDuringCall(engine, aid, addresses[1], Outcome.DEFERRED)
    Dispatcher(engine, {ChannelName.SMS: first}, _settings(engine), worker_id="w1").step()
    assert first.result["notified"] == 1 and first.result["awaiting_outcome"] == 1
    good = FakeSmsChannel()
    run_worker(engine, {ChannelName.SMS: good}, _settings(engine), until_idle=True)
    # only the address the provider accepted before the cancel; addresses[1] was
    # deferred (never reached anybody) and addresses[2] was never sent
    assert _notified(good) == [addresses[0]]
    with session_scope(engine) as s:
        states = dict(s.execute(select(Delivery.address, Delivery.state)
                                .where(Delivery.alert_id == aid)).all())  # fmt: skip
    assert states == {addresses[0]: "sent", addresses[1]: "cancelled", addresses[2]: "cancelled"}


def test_a_send_in_flight_that_was_accepted_is_notified_once_it_settles(engine: Engine) -> None:
    aid, addresses = _alert(engine, 3)
    first = CancelDuringCall(engine, aid, addresses[1], Outcome.DELIVERED)
    d = Dispatcher(engine, {ChannelName.SMS: first}, _settings(engine), worker_id="w1")
    d.step()
    d.maintain()
    d.maintain()  # idempotent: no second notice for the same address
    good = FakeSmsChannel()
    run_worker(engine, {ChannelName.SMS: good}, _settings(engine), until_idle=True)
    assert _notified(good) == sorted(addresses[:2])
    with session_scope(engine) as s:
        notice = s.scalars(select(Alert).where(Alert.parent_id == aid)).one()
        keys = sorted(s.scalars(select(Delivery.key).where(Delivery.alert_id == notice.id)))
    assert keys == [f"{notice.id}:1", f"{notice.id}:2"]


def test_a_send_in_flight_whose_worker_died_is_notified_as_may_have_gone_out(
    engine: Engine,
) -> None:
    clock = Clock()
    targets, deliveries = simple_plan(1, channels=(ChannelName.SMS,))
    with session_scope(engine) as s:
        aid = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t", now=clock())  # fmt: skip
    settings = _settings(engine, lease_seconds=30)
    dead = Dispatcher(engine, {}, settings, worker_id="dead", clock=clock)
    rows = dead._claim("sms", 1)
    with session_scope(engine) as s:
        # the dead worker got to 'sending' (its provider call may have gone out)
        from alertsvc.dispatch.moves import move
        from alertsvc.dispatch.states import Event

        move(s, Event.CALL_PROVIDER, Delivery.id == rows[0].id)
        result = cancel_alert(s, aid, reason="誤報", actor="o", now=clock(),
                              render=lambda _c, _l: ("", NOTICE))  # fmt: skip
    assert result.notified == 0 and result.awaiting_outcome == 1
    assert result.cancellation_alert_id is not None
    clock.advance(31)
    good = FakeSmsChannel()
    run_worker(engine, {ChannelName.SMS: good}, settings, until_idle=True, clock=clock)
    assert _notified(good) == [deliveries[0].address]


def test_a_push_in_flight_that_timed_out_is_notified_not_withdrawn(engine: Engine) -> None:
    from alertsvc.testing.fakes import FakePushChannel

    targets, deliveries = simple_plan(2, channels=(ChannelName.PUSH,))
    with session_scope(engine) as s:
        aid = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t")  # fmt: skip
    addresses = [d.address for d in deliveries]

    class CancelDuringPush(FakePushChannel):
        def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
            _cancel(engine, aid)
            return super().send_many(messages)

    # the push call times out after the cancel: it may have been shown on the phone
    first = CancelDuringPush(script={addresses[0]: Outcome.UNKNOWN})
    Dispatcher(engine, {ChannelName.PUSH: first}, _settings(engine), worker_id="w").step()
    good = FakePushChannel()
    run_worker(engine, {ChannelName.PUSH: good}, _settings(engine), until_idle=True)
    assert sorted(m.address for m in good.sent if m.body == NOTICE) == sorted(addresses)
    with session_scope(engine) as s:
        states = dict(s.execute(select(Delivery.address, Delivery.state)
                                .where(Delivery.alert_id == aid)).all())  # fmt: skip
    assert states == {addresses[0]: "unknown", addresses[1]: "sent"}
