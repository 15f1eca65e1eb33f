"""An update to a higher level reaches a reached person's message that was in flight at
the time, once it settles as reached; never when it fails (#9). SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, select, text

from alertsvc.db import make_engine, session_scope
from alertsvc.db.tables import Delivery, utcnow
from alertsvc.dispatch.maintenance import notify_settled_in_flight
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli


def _set(engine: Engine, state: str, ids: list[int]) -> None:
    """Play the worker and the provider (tests may write states directly)."""
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE deliveries SET state = '{state}' "
                          f"WHERE id IN ({', '.join(map(str, ids))})"))  # fmt: skip


def test_update_reaches_a_send_in_flight_once_it_is_accepted(cli_env, db_url: str) -> None:
    import_demo(cli_env)
    engine = make_engine(db_url)
    root = run_cli(["alert", "send", "--level", "3", "--zone-set", "flood", "--yes", "--json"],
                   env=cli_env).json()["alert_id"]  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(
            select(Delivery.__table__).where(
                Delivery.alert_id == root, Delivery.recipient == "resident"
            )
        ).all()
    by_person: dict[str, dict[int, object]] = {}
    for r in rows:
        by_person.setdefault(r.resident_id, {})[r.step] = r
    two = sorted(p for p, steps in by_person.items() if 0 in steps and 1 in steps)[:2]
    assert len(two) == 2, "the demo register has people with two channels"
    # both were reached on their first channel and their second is with the provider now
    first = [by_person[p][0] for p in two]
    second = [by_person[p][1] for p in two]
    _set(engine, "sent", [r.id for r in first])  # type: ignore[attr-defined]
    _set(engine, "sending", [r.id for r in second])  # type: ignore[attr-defined]
    # a third person's only message so far is with the provider: not reached yet
    third = sorted(p for p in by_person if p not in two and 0 in by_person[p])[0]
    _set(engine, "sending", [by_person[third][0].id])  # type: ignore[attr-defined]

    res = run_cli(["alert", "update", root, "--level", "4", "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    up = res.json()

    def notice() -> dict[str, Delivery]:
        with engine.connect() as conn:
            found = conn.execute(
                select(Delivery.__table__).where(Delivery.alert_id == up["notice_alert_id"])
            ).all()
        return {r.address: r for r in found if r.resident_id in two}  # type: ignore[misc]

    assert set(notice()) == {r.address for r in first}  # type: ignore[attr-defined]
    # one provider accepts, the other fails; the next maintenance pass settles both
    _set(engine, "sent", [second[0].id])  # type: ignore[attr-defined]
    _set(engine, "failed", [second[1].id])  # type: ignore[attr-defined]
    for _ in range(2):  # idempotent
        with session_scope(engine) as s:
            notify_settled_in_flight(s, utcnow())
    after = notice()
    assert set(after) == {r.address for r in first} | {second[0].address}  # type: ignore[attr-defined]
    late = after[second[0].address]  # type: ignore[attr-defined]
    assert late.level == 4 and late.state == "queued" and late.is_cancellation
    # the level-4 wording (a push carries the level in its title)
    old = second[0]
    assert (late.title, late.body) != (old.title, old.body)  # type: ignore[attr-defined]
    assert "避難勧告" not in late.title + late.body
    # the third person gets the full level-4 alert at once, and no notice on top of it
    _set(engine, "sent", [by_person[third][0].id])  # type: ignore[attr-defined]
    with session_scope(engine) as s:
        notify_settled_in_flight(s, utcnow())
        expansion = s.scalars(
            select(Delivery.step).where(
                Delivery.alert_id == up["followup_alert_id"], Delivery.resident_id == third
            )
        ).all()
        in_notice = s.scalars(
            select(Delivery.id).where(
                Delivery.alert_id == up["notice_alert_id"], Delivery.resident_id == third
            )
        ).all()
    assert 0 in expansion and not in_notice
    assert up["awaiting_outcome"] == 2
    engine.dispose()
