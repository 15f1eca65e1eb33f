"""Property: an exercise alert never writes a message to an address off the allow-list,
whatever the register looks like (hypothesis over random registers and allow-lists)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from alertsvc.db.tables import Delivery
from alertsvc.dispatch.alerts import EXERCISE_PREFIX, PlannedDelivery, PlannedTarget, create_alert
from alertsvc.errors import InputError
from alertsvc.models import ChannelName

PHONES = [f"+8190{n:08d}" for n in range(12)]


@st.composite
def registers(draw: st.DrawFn) -> tuple[list[PlannedTarget], list[PlannedDelivery], set[str]]:
    people = draw(st.integers(min_value=1, max_value=8))
    targets = [PlannedTarget(f"R{i}", 1.0, True, True) for i in range(people)]
    deliveries: list[PlannedDelivery] = []
    for i in range(people):
        addresses = draw(st.lists(st.sampled_from(PHONES), max_size=3, unique=True))
        channels = draw(
            st.lists(st.sampled_from([ChannelName.SMS, ChannelName.VOICE]), min_size=1,
                     max_size=2, unique=True)
        )  # fmt: skip
        for step, (channel, address) in enumerate((c, a) for c in channels for a in addresses):
            prefixed = draw(st.booleans()) or draw(st.booleans())
            deliveries.append(
                PlannedDelivery(
                    resident_id=f"R{i}", recipient="resident", supporter_id=None, step=step,
                    channel=channel, address=address, language="ja", title="",
                    body=(EXERCISE_PREFIX if prefixed else "") + "避難してください",
                    data=(), priority=1.0,
                )
            )  # fmt: skip
    allow = set(draw(st.lists(st.sampled_from(PHONES), max_size=len(PHONES), unique=True)))
    return targets, deliveries, allow


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(registers())
def test_exercise_never_reaches_an_address_off_the_allow_list(
    sqlite_engine: Engine, register: tuple[list[PlannedTarget], list[PlannedDelivery], set[str]]
) -> None:
    targets, deliveries, allow = register
    with Session(sqlite_engine) as session:
        try:
            alert_id = create_alert(
                session, level=4, scope={}, exercise=True, targets=targets,
                deliveries=deliveries, actor="t", allow_list=allow,
            )  # fmt: skip
        except InputError:
            written = session.scalars(select(Delivery.address)).all()
            assert written == []  # refused before anything was written
            offending = [d for d in deliveries if d.address not in allow
                         or not d.body.startswith(EXERCISE_PREFIX)]  # fmt: skip
            assert offending
        else:
            written = session.scalars(
                select(Delivery.address).where(Delivery.alert_id == alert_id)
            ).all()
            assert set(written) <= allow
            assert len(written) == len(deliveries)
        finally:
            session.rollback()
