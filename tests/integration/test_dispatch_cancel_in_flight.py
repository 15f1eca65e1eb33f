"""A cancel that lands while a batch is in flight: nothing of the cancelled alert goes out
after its 取消し, whatever path puts its rows back in the queue."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, select

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch.alerts import create_alert
from alertsvc.dispatch.cancel import cancel_alert
from alertsvc.dispatch.runner import run_worker
from alertsvc.dispatch.sender import Dispatcher
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, DeliveryResult, OutgoingMessage
from alertsvc.testing.fakes import FakeSmsChannel, simple_plan


def test_requeued_rows_of_a_cancelled_alert_are_never_sent(
    engine: Engine, settings: Settings
) -> None:
    targets, deliveries = simple_plan(3, channels=(ChannelName.SMS,))
    with session_scope(engine) as s:
        alert_id = create_alert(
            s, level=4, scope={}, exercise=False, targets=targets, deliveries=deliveries,
            actor="t",
        )  # fmt: skip

    class CancelThenBreak(FakeSmsChannel):
        calls = 0

        def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
            CancelThenBreak.calls += 1
            if CancelThenBreak.calls == 1:
                return super().send_many(messages)
            # the officer cancels while this worker is mid-batch, then the channel breaks:
            # the row in this call is requeued, in a cancelled alert
            with session_scope(engine) as s:
                cancel_alert(
                    s, alert_id, reason="誤報", actor="officer",
                    render=lambda _c, _l: ("", "【取消し】"),
                )  # fmt: skip
            raise ChannelMisconfigured("twilio 401 (token rotated)")

    with pytest.raises(ChannelMisconfigured):
        Dispatcher(engine, {ChannelName.SMS: CancelThenBreak()}, settings, worker_id="w1").step()

    good = FakeSmsChannel()
    run_worker(engine, {ChannelName.SMS: good}, settings, until_idle=True)
    # after the cancellation only cancellation notices went out
    assert good.sent and all(m.body == "【取消し】" for m in good.sent)
    with session_scope(engine) as s:
        states = dict(
            s.execute(
                select(Delivery.key, Delivery.state).where(Delivery.alert_id == alert_id)
            ).all()
        )
    assert states[f"{alert_id}:1"] == "sent"  # it went out before the cancel
    assert {states[f"{alert_id}:2"], states[f"{alert_id}:3"]} == {"cancelled"}
