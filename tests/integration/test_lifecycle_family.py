"""Cancel, all-clear and correction act on an alert's whole family (#9).

An alert grows follow-ups: an update notice (the already alerted, at the new level) and an
expansion (people newly in scope), from ``alert update`` or the watcher's escalation. A
cancel, clear or correction of the original stops the unsent rows of every one of them
and tells each person any of them reached exactly once, on the row that reached them most
recently, in that row's language. Given the id of a follow-up, the command acts on its
original. A duty-desk notice under the alert is not part of its life and is left alone.
Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import Engine, select, update

from alertsvc.db import session_scope
from alertsvc.db.tables import Alert, Delivery
from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget, create_alert
from alertsvc.dispatch.verify import verify_alert
from alertsvc.errors import InputError
from alertsvc.models import ChannelName
from alertsvc.services.cap_notices import cancel_with_notice
from alertsvc.services.lifecycle import clear_alert, correct_alert
from alertsvc.testing.fakes import resident_delivery
from tests.integration.dispatch_support import T0, fast_settings

SMS = ChannelName.SMS
PUSH = ChannelName.PUSH
TOKEN = "fake-fcm-token-000000-" + "x" * 20


def _phone(i: int) -> str:
    return f"+8190{i:08d}"


def _sms(rid: str, i: int, *, language: str = "ja") -> PlannedDelivery:
    return dataclasses.replace(resident_delivery(rid, SMS, _phone(i)), language=language)


def _targets(*ids: str) -> list[PlannedTarget]:
    return [PlannedTarget(rid, 1.0, located=True, reachable=True) for rid in ids]


def _mark(engine: Engine, alert_id: str, resident_id: str, at: dt.datetime) -> None:
    """Play the worker: this person's row of ``alert_id`` went out at ``at``."""
    with engine.begin() as conn:
        conn.execute(
            update(Delivery)
            .where(Delivery.alert_id == alert_id, Delivery.resident_id == resident_id)
            .values(state="sent", sent_at=at, finished_at=at, attempts=1)
        )


def _family(engine: Engine) -> dict[str, str]:
    """Original (R0, R1 reached by SMS, R2 waiting), update notice (R0 reached later by
    push, R1's not sent yet), expansion (R3 reached in English, R4 waiting) and a duty
    notice under the original."""
    ids: dict[str, str] = {}
    with session_scope(engine) as s:
        ids["root"] = create_alert(
            s, level=3, scope={}, exercise=False, targets=_targets("R0", "R1", "R2"),
            deliveries=[_sms("R0", 0), _sms("R1", 1), _sms("R2", 2)], actor="t",
        )  # fmt: skip
        ids["update"] = create_alert(
            s, level=4, scope={"updates": ids["root"]}, exercise=False,
            targets=_targets("R0", "R1"),
            deliveries=[resident_delivery("R0", PUSH, TOKEN), _sms("R1", 1)], actor="t",
            kind="update", parent_id=ids["root"],
        )  # fmt: skip
        ids["expansion"] = create_alert(
            s, level=4, scope={"expands": ids["root"]}, exercise=False,
            targets=_targets("R3", "R4"),
            deliveries=[_sms("R3", 3, language="en"), _sms("R4", 4)], actor="t",
            kind="expansion", parent_id=ids["root"],
        )  # fmt: skip
        ids["duty"] = create_alert(
            s, level=3, scope={"resident_id": "R0"}, exercise=False, targets=_targets("R0"),
            deliveries=[_sms("R0", 900)], actor="duty", kind="duty", parent_id=ids["root"],
        )  # fmt: skip
    _mark(engine, ids["root"], "R0", T0)
    _mark(engine, ids["root"], "R1", T0)
    _mark(engine, ids["update"], "R0", T0 + dt.timedelta(seconds=60))
    _mark(engine, ids["expansion"], "R3", T0 + dt.timedelta(seconds=90))
    return ids


def _notice_rows(engine: Engine, notice_id: str | None) -> dict[str, tuple[str, str, str]]:
    """Person -> (channel, address, language) of the notice; fails on a second row."""
    assert notice_id is not None
    with session_scope(engine) as s:
        rows = s.execute(
            select(
                Delivery.resident_id, Delivery.channel, Delivery.address, Delivery.language
            ).where(Delivery.alert_id == notice_id)
        ).all()
    out = {r.resident_id: (r.channel, r.address, r.language) for r in rows}
    assert len(out) == len(rows), f"somebody notified twice: {sorted(r[0] for r in rows)}"
    return out


EXPECTED = {"R0": ("push", TOKEN, "ja"), "R1": ("sms", _phone(1), "ja"),
            "R3": ("sms", _phone(3), "en")}  # fmt: skip


def _check_family_stopped(engine: Engine, ids: dict[str, str], state: str) -> None:
    members = [ids["root"], ids["update"], ids["expansion"]]
    with session_scope(engine) as s:
        unsent = s.scalars(
            select(Delivery.key).where(
                Delivery.alert_id.in_(members),
                Delivery.state.in_(("held", "queued", "claimed")),
            )
        ).all()
        states = dict(s.execute(select(Alert.id, Alert.state)).all())
        duty_rows = set(s.scalars(select(Delivery.state).where(Delivery.alert_id == ids["duty"])))
    assert unsent == []
    assert {states[m] for m in members} == {state}
    # the duty desk still learns who needs help
    assert states[ids["duty"]] == "active" and duty_rows == {"queued"}


@pytest.mark.parametrize("given", ["root", "expansion", "update"])
def test_cancel_stops_the_whole_family_and_tells_each_person_once(
    engine: Engine, given: str
) -> None:
    settings = fast_settings(engine)
    ids = _family(engine)
    with session_scope(engine) as s:
        result = cancel_with_notice(s, settings, ids[given], reason="誤報", actor="chief")
    assert result.alert_id == ids["root"]
    assert _notice_rows(engine, result.cancellation_alert_id) == EXPECTED
    _check_family_stopped(engine, ids, "cancelled")
    with session_scope(engine) as s:
        vs = [
            v
            for aid in (ids["root"], ids["update"], ids["expansion"], result.cancellation_alert_id)
            for v in verify_alert(s, aid, settings.dispatch).violations
        ]
        rules = {v.rule for v in vs}
    assert not {r for r in rules if r.startswith("cancellation")}, vs
    with session_scope(engine) as s, pytest.raises(InputError):
        cancel_with_notice(s, settings, ids["update"], reason="again", actor="chief")


@pytest.mark.parametrize("given", ["root", "update", "expansion"])
def test_clear_stops_the_whole_family_and_tells_each_person_once(
    engine: Engine, given: str
) -> None:
    settings = fast_settings(engine)
    ids = _family(engine)
    with session_scope(engine) as s:
        result = clear_alert(s, settings, ids[given], actor="chief")
    assert result.alert_id == ids["root"]
    notices = _notice_rows(engine, result.notice_alert_id)
    assert notices == EXPECTED
    _check_family_stopped(engine, ids, "cleared")
    with session_scope(engine) as s:
        bodies = dict(
            s.execute(
                select(Delivery.resident_id, Delivery.body).where(
                    Delivery.alert_id == result.notice_alert_id
                )
            ).all()
        )
    assert "解除" in bodies["R1"] and "解除" not in bodies["R3"]  # R3 reads English


def test_correction_reaches_each_person_of_the_family_once(engine: Engine) -> None:
    settings = fast_settings(engine)
    ids = _family(engine)
    with session_scope(engine) as s:
        result = correct_alert(s, settings, ids["expansion"], actor="chief",
                               text="避難先は直方市体育館です。")  # fmt: skip
    assert result.alert_id == ids["root"]
    assert _notice_rows(engine, result.notice_alert_id) == EXPECTED
    # the unsent rows (R1's update, R2, R4) go out again corrected, the duty row is untouched
    reissued = _notice_rows(engine, result.followup_alert_id)
    assert set(reissued) == {"R1", "R2", "R4"}
    with session_scope(engine) as s:
        duty_rows = set(s.scalars(select(Delivery.state).where(Delivery.alert_id == ids["duty"])))
    assert duty_rows == {"queued"}


def test_a_duty_notice_id_is_refused_by_clear(engine: Engine) -> None:
    settings = fast_settings(engine)
    ids = _family(engine)
    with session_scope(engine) as s, pytest.raises(InputError, match="duty"):
        clear_alert(s, settings, ids["duty"], actor="chief")


def test_a_cancel_reaches_a_follow_up_row_in_flight_once_it_settles(engine: Engine) -> None:
    from alertsvc.dispatch.maintenance import notify_settled_in_flight

    settings = fast_settings(engine)
    ids = _family(engine)
    with engine.begin() as conn:  # R4's expansion message is with the provider
        conn.execute(
            update(Delivery)
            .where(Delivery.alert_id == ids["expansion"], Delivery.resident_id == "R4")
            .values(state="sending", attempts=1)
        )
    with session_scope(engine) as s:
        result = cancel_with_notice(s, settings, ids["root"], reason="誤報", actor="chief")
    assert result.awaiting_outcome == 1 and set(
        _notice_rows(engine, result.cancellation_alert_id)
    ) == {"R0", "R1", "R3"}
    with engine.begin() as conn:  # the provider accepted it after all
        conn.execute(
            update(Delivery)
            .where(Delivery.alert_id == ids["expansion"], Delivery.resident_id == "R4")
            .values(state="sent")
        )
    for _ in range(2):  # idempotent
        with session_scope(engine) as s:
            notify_settled_in_flight(s, T0)
    assert _notice_rows(engine, result.cancellation_alert_id) == {
        **EXPECTED,
        "R4": ("sms", _phone(4), "ja"),
    }
