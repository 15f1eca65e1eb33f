"""The follow-up list covers the whole alert family (#9, session 4).

Level 3 goes to R0, R1, R2; an update to level 4 tells the reached (R0, R1) the new level
(kind ``update``) and sends the full alert to the people newly in scope, R3 and R4 (kind
``expansion``). The door-knock list of the original — and of any member — must be one
list: R0 answered on the update's message (off the list), R3's SMS of the expansion was
delivered to the handset (off), R4 of the expansion was never reached (on), R1 asked
for help on the update's message (on, need help), R2 failed at level 3 (on). A
supporter's "cannot reach" on the expansion's digest counts too. Notices (a correction)
are not targets, and a duty-desk notice keeps its own list. SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import Engine, select, update

from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget, create_alert
from alertsvc.dispatch.inbound import (
    record_acknowledgement,
    record_supporter_answer,
    reply_targets,
)
from alertsvc.dispatch.status import alert_status
from alertsvc.dispatch.verify import verify_alert
from alertsvc.models import DIGEST_RESIDENT, ChannelName
from alertsvc.planning.supporters import DIGEST_LEGAL_BASIS, LEGAL_CONSENT
from alertsvc.reports.followup import build_followup, write_csv
from alertsvc.testing.fakes import resident_delivery
from tests.integration.dispatch_support import T0, fast_settings

SMS = ChannelName.SMS
SUPPORTER_PHONE = "+819099990000"


def _phone(i: int) -> str:
    return f"+8190{i:08d}"


def _targets(*ids: str) -> list[PlannedTarget]:
    return [PlannedTarget(rid, 1.0, located=True, reachable=True) for rid in ids]


def _set(engine: Engine, alert_id: str, resident_id: str, state: str, at: dt.datetime) -> None:
    """Play the worker and the provider: this person's rows of ``alert_id`` are ``state``."""
    with engine.begin() as conn:
        conn.execute(
            update(Delivery)
            .where(Delivery.alert_id == alert_id, Delivery.resident_id == resident_id)
            .values(state=state, sent_at=at, finished_at=at, attempts=1)
        )


def _key(engine: Engine, alert_id: str, resident_id: str) -> str:
    with session_scope(engine) as s:
        return s.scalars(
            select(Delivery.key).where(
                Delivery.alert_id == alert_id, Delivery.resident_id == resident_id
            )
        ).one()


def _digest() -> PlannedDelivery:
    """A supporter digest naming R4 (one message per supporter, #supporters)."""
    return PlannedDelivery(
        resident_id=DIGEST_RESIDENT,
        recipient="supporter",
        supporter_id=None,
        step=0,
        channel=SMS,
        address=SUPPORTER_PHONE,
        language="ja",
        title="避難指示",
        body="支援が必要な方がいます。",
        data=(),
        priority=1.0,
        legal_basis=DIGEST_LEGAL_BASIS,
        disclosures=(("R4", 7, LEGAL_CONSENT, "evacuate"),),
    )


def _family(engine: Engine) -> dict[str, str]:
    ids: dict[str, str] = {}
    with session_scope(engine) as s:
        ids["root"] = create_alert(
            s, level=3, scope={}, exercise=False, targets=_targets("R0", "R1", "R2"),
            deliveries=[resident_delivery(f"R{i}", SMS, _phone(i)) for i in range(3)],
            actor="t", now=T0,
        )  # fmt: skip
        ids["update"] = create_alert(
            s, level=4, scope={"updates": ids["root"]}, exercise=False,
            targets=_targets("R0", "R1"),
            deliveries=[resident_delivery(f"R{i}", SMS, _phone(i)) for i in range(2)],
            actor="t", kind="update", parent_id=ids["root"], now=T0,
        )  # fmt: skip
        ids["expansion"] = create_alert(
            s, level=4, scope={"expands": ids["root"]}, exercise=False,
            targets=_targets("R3", "R4"),
            deliveries=[resident_delivery("R3", SMS, _phone(3)),
                        resident_delivery("R4", SMS, _phone(4)), _digest()],
            actor="t", kind="expansion", parent_id=ids["root"], now=T0,
        )  # fmt: skip
        # a notice is not a target: R9 here must never be on the list
        ids["correction"] = create_alert(
            s, level=4, scope={"corrects": ids["root"], "text": "x"}, exercise=False,
            targets=_targets("R9"), deliveries=[resident_delivery("R9", SMS, _phone(9))],
            actor="t", kind="correction", parent_id=ids["root"], now=T0,
        )  # fmt: skip
        ids["duty"] = create_alert(
            s, level=3, scope={"resident_id": "R0"}, exercise=False, targets=_targets("D0"),
            deliveries=[resident_delivery("D0", SMS, _phone(900))], actor="duty",
            kind="duty", parent_id=ids["root"], now=T0,
        )  # fmt: skip
    later = T0 + dt.timedelta(seconds=60)
    for rid in ("R0", "R1"):
        _set(engine, ids["root"], rid, "sent", T0)  # accepted, no handset receipt
        _set(engine, ids["update"], rid, "sent", later)
    _set(engine, ids["root"], "R2", "failed", T0)
    _set(engine, ids["expansion"], "R3", "delivered", later)  # SMS handset receipt
    _set(engine, ids["expansion"], "R4", "failed", later)
    r0, r1 = _key(engine, ids["update"], "R0"), _key(engine, ids["update"], "R1")
    digest = _key(engine, ids["expansion"], DIGEST_RESIDENT)
    with session_scope(engine) as s:
        # answers on the update notice, the new level's message (voice keypress, app)
        assert record_acknowledgement(s, key=r0, answer="safe", via="voice", now=later)
        assert record_acknowledgement(s, key=r1, answer="need_help", via="voice", now=later)
        answered = record_supporter_answer(
            s, key=digest, resident_id="R4", answer="cannot_reach", via="page", now=later
        )
        assert answered == ids["expansion"]
    return ids


EXPECTED = {"R1": "need_help", "R2": "failed", "R4": "cannot_reach"}


def test_follow_up_list_covers_the_family(engine: Engine) -> None:
    ids = _family(engine)
    with session_scope(engine) as s:
        for member in ("root", "update", "expansion", "correction"):
            st = alert_status(s, ids[member])
            got = {rid: reason for rid, (reason, _p) in st.follow_up().items()}
            assert got == EXPECTED, member
            assert st.family is not None and st.family.root_id == ids["root"]
        root = alert_status(s, ids["root"])
        # the original's own counts and targets are unchanged: backward compatible JSON
        assert root.targets == 3
        assert root.counts["sent"] == 2 and root.counts["failed"] == 1
        doc = root.as_dict()
        assert doc["family"]["root_id"] == ids["root"]
        assert doc["family"]["targets"] == 5  # R0..R4; not the correction's R9
        assert doc["family"]["follow_up"] == 3
        assert set(doc["family"]["members"]) == {
            ids["root"], ids["update"], ids["expansion"], ids["correction"]
        }  # fmt: skip
        # a duty-desk notice is no part of the alert's life: its own list only
        duty = alert_status(s, ids["duty"])
        assert set(duty.follow_up()) == {"D0"}
        # the per-alert view ``alert verify`` checks stays the alert's own
        own = alert_status(s, ids["root"], family=False)
        assert {u.resident_id for u in own.unreached} == {"R0", "R1", "R2"}
        for member in ("root", "update", "expansion"):
            v = verify_alert(s, ids[member], fast_settings(engine).dispatch, now=T0)
            assert [x for x in v.violations if x.rule == "person_accounted"] == [], member


def test_sms_reply_of_a_person_newly_in_scope_answers_the_expansion(engine: Engine) -> None:
    """R3 first heard of the flood in the expansion: their SMS reply answers it (it was
    bound to original alerts only, and lost)."""
    ids = _family(engine)
    r3 = _key(engine, ids["expansion"], "R3")
    with session_scope(engine) as s:
        bound = reply_targets(s, _phone(3))
        assert bound.alert_id == ids["expansion"]
        assert bound.own == (r3,)
        # R0's reply after the update notice answers the original's row to that number
        assert reply_targets(s, _phone(0)).alert_id == ids["root"]


def test_followup_sheet_covers_the_family(engine: Engine, tmp_path: Path) -> None:
    ids = _family(engine)
    with session_scope(engine) as s:
        sheet = build_followup(s, ids["expansion"])
    by_id = {p.resident_id: p for p in sheet.people}
    assert {rid: p.reason for rid, p in by_id.items()} == EXPECTED
    assert sheet.root_id == ids["root"] and sheet.family_level == 4
    # attempts from every member: R1's level-3 SMS, the update's SMS and the answer to it
    outcomes = [(a.recipient, a.outcome) for a in by_id["R1"].attempts]
    assert outcomes.count(("resident", "sent")) == 1
    assert ("resident", "acknowledged") in outcomes
    assert ("answer", "need_help") in outcomes
    # R4, newly in scope: the expansion's SMS, the supporter's digest and their answer
    r4 = [(a.recipient, a.outcome) for a in by_id["R4"].attempts]
    assert ("resident", "failed") in r4 and ("answer", "cannot_reach") in r4
    doc = json.loads(json.dumps(sheet.as_dict()))
    assert doc["root_id"] == ids["root"] and doc["count"] == 3
    assert write_csv(sheet, tmp_path / "sheet.csv") == 3
