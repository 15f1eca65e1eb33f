"""Notices reach rows that were in flight at an update, a correction or an all-clear (#9).

The officer acts while one message is with the provider ('sending'). Its person gets the
notice once the row settles as reached, never when it fails; a row deferred back to the
queue goes out carrying the notice instead. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, func, select

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, Delivery, NoticeWait
from alertsvc.dispatch.alerts import create_alert
from alertsvc.dispatch.runner import run_worker
from alertsvc.dispatch.sender import Dispatcher
from alertsvc.models import ChannelName, DeliveryResult, Outcome, OutgoingMessage
from alertsvc.services.lifecycle import clear_alert, correct_alert
from alertsvc.testing.fakes import FakeSmsChannel, simple_plan
from tests.integration.dispatch_support import fast_settings

TEXT = "避難先は直方市体育館です。"


def _alert(engine: Engine, n: int, level: int = 4) -> tuple[str, list[str]]:
    targets, deliveries = simple_plan(n, channels=(ChannelName.SMS,))
    with session_scope(engine) as s:
        aid = create_alert(s, level=level, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t")  # fmt: skip
    return aid, [d.address for d in deliveries]


class ActDuringCall(FakeSmsChannel):
    """The officer acts (``act``) while the message to ``at`` is with the provider,
    which then answers ``outcome`` for it."""

    def __init__(self, at: str, outcome: Outcome, act: Callable[[], dict[str, Any]]) -> None:
        super().__init__(script={at: outcome})
        self.at, self.act = at, act
        self.result: dict[str, Any] = {}

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        if not self.result and any(m.address == self.at for m in messages):
            self.result = self.act()
        return super().send_many(messages)


def _correct(engine: Engine, settings: Settings, aid: str) -> Callable[[], dict[str, Any]]:
    def act() -> dict[str, Any]:
        with session_scope(engine) as s:
            return correct_alert(s, settings, aid, actor="chief", text=TEXT).as_dict()

    return act


def _clear(engine: Engine, settings: Settings, aid: str) -> Callable[[], dict[str, Any]]:
    def act() -> dict[str, Any]:
        with session_scope(engine) as s:
            return clear_alert(s, settings, aid, actor="chief").as_dict()

    return act


def _run(engine: Engine, first: FakeSmsChannel, settings: Settings) -> FakeSmsChannel:
    d = Dispatcher(engine, {ChannelName.SMS: first}, settings, worker_id="w1")
    d.step()
    d.maintain()
    d.maintain()  # idempotent: a second pass adds nothing
    good = FakeSmsChannel()
    run_worker(engine, {ChannelName.SMS: good}, settings, until_idle=True)
    return good


def _notice_addresses(engine: Engine, notice_id: str) -> list[str]:
    with session_scope(engine) as s:
        return sorted(s.scalars(select(Delivery.address).where(Delivery.alert_id == notice_id)))


def _waits(engine: Engine) -> int:
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(NoticeWait)) or 0)


def test_correction_reaches_a_send_in_flight_once_it_is_accepted(engine: Engine) -> None:
    settings = fast_settings(engine)
    aid, addresses = _alert(engine, 3)
    first = ActDuringCall(addresses[1], Outcome.DELIVERED, _correct(engine, settings, aid))
    good = _run(engine, first, settings)
    result = first.result
    # addresses[0] was reached before, addresses[1] during the correction: both get it
    assert _notice_addresses(engine, result["notice_alert_id"]) == sorted(addresses[:2])
    assert result["notified"] == 1 and result["awaiting_outcome"] == 1
    corrected = sorted(m.address for m in good.sent if m.body.startswith("【訂正】"))
    assert corrected == sorted(addresses[:2])
    assert all(m.body.endswith(TEXT) for m in good.sent)
    # addresses[2] was still waiting: its message went out again with the correction
    assert [m.address for m in good.sent if not m.body.startswith("【訂正】")] == [addresses[2]]
    assert _waits(engine) == 0


def test_correction_is_not_sent_to_a_send_in_flight_that_failed(engine: Engine) -> None:
    settings = fast_settings(engine)
    aid, addresses = _alert(engine, 3)
    first = ActDuringCall(addresses[1], Outcome.REJECTED, _correct(engine, settings, aid))
    good = _run(engine, first, settings)
    assert _notice_addresses(engine, first.result["notice_alert_id"]) == [addresses[0]]
    assert addresses[1] not in {m.address for m in good.sent}
    with session_scope(engine) as s:
        state = s.scalar(select(Delivery.state).where(Delivery.address == addresses[1],
                                                      Delivery.alert_id == aid))  # fmt: skip
    assert state == "failed"  # unreached: on the follow-up list, as any failed send
    assert _waits(engine) == 0


def test_a_send_deferred_during_a_correction_goes_out_corrected_once(engine: Engine) -> None:
    settings = fast_settings(engine)
    aid, addresses = _alert(engine, 2)
    first = ActDuringCall(addresses[1], Outcome.DEFERRED, _correct(engine, settings, aid))
    good = _run(engine, first, settings)
    to_1 = [m.body for m in good.sent if m.address == addresses[1]]
    # the retry carries the correction; no separate notice follows it
    assert len(to_1) == 1 and to_1[0].endswith(TEXT) and not to_1[0].startswith("【訂正】")
    assert _notice_addresses(engine, first.result["notice_alert_id"]) == [addresses[0]]
    assert _waits(engine) == 0


def test_all_clear_reaches_a_send_in_flight_once_it_is_accepted(engine: Engine) -> None:
    settings = fast_settings(engine)
    aid, addresses = _alert(engine, 3)
    first = ActDuringCall(addresses[1], Outcome.DELIVERED, _clear(engine, settings, aid))
    good = _run(engine, first, settings)
    result = first.result
    assert _notice_addresses(engine, result["notice_alert_id"]) == sorted(addresses[:2])
    assert result["notified"] == 1 and result["awaiting_outcome"] == 1
    cleared = sorted(m.address for m in good.sent)
    assert cleared == sorted(addresses[:2])  # addresses[2] was stopped: never alerted
    assert all("解除" in m.body and "避難指示" in m.body for m in good.sent)


def test_all_clear_during_a_deferred_send_withdraws_it(engine: Engine) -> None:
    settings = fast_settings(engine)
    aid, addresses = _alert(engine, 2)
    first = ActDuringCall(addresses[1], Outcome.DEFERRED, _clear(engine, settings, aid))
    good = _run(engine, first, settings)  # returns: nothing is left queued for ever
    assert sorted(m.address for m in good.sent) == [addresses[0]]
    with session_scope(engine) as s:
        state = s.scalar(select(Delivery.state).where(Delivery.address == addresses[1],
                                                      Delivery.alert_id == aid))  # fmt: skip
        states = set(s.scalars(select(Alert.state).where(Alert.id == aid)))
    assert state == "cancelled" and states == {"cleared"}
    assert _waits(engine) == 0


def test_a_correction_owed_when_the_alert_is_cancelled_gives_way_to_the_cancellation(
    engine: Engine,
) -> None:
    from alertsvc.dispatch.cancel import cancel_alert

    settings = fast_settings(engine)
    aid, addresses = _alert(engine, 2)
    correct = _correct(engine, settings, aid)

    def correct_then_cancel() -> dict[str, Any]:
        result = correct()
        with session_scope(engine) as s:
            cancel_alert(s, aid, reason="誤報", actor="chief",
                         render=lambda _c, _l: ("", "【取消し】"))  # fmt: skip
        return result

    first = ActDuringCall(addresses[1], Outcome.DELIVERED, correct_then_cancel)
    good = _run(engine, first, settings)
    # the send in flight was accepted after both: it gets the 取消し, not the 訂正
    to_1 = [m.body for m in good.sent if m.address == addresses[1]]
    assert to_1 == ["【取消し】"]
    assert _notice_addresses(engine, first.result["notice_alert_id"]) == [addresses[0]]
    assert _waits(engine) == 0
