"""An alert's whole life on the demo data: level 3 -> update to 4 -> correction ->
all-clear, each reaching exactly the right people, the audit chain verifying at the end."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine, select, text

from alertsvc.db import make_engine
from alertsvc.db.tables import Alert, AuditEntry, Delivery
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli

SCOPE = ["--zone-set", "flood"]


@pytest.fixture
def demo_env(cli_env: dict[str, str]) -> dict[str, str]:
    import_demo(cli_env)
    return cli_env


def _rows(engine: Engine, alert_id: str | None) -> list[Delivery]:
    with engine.connect() as conn:
        q = select(Delivery.__table__)
        if alert_id is not None:
            q = q.where(Delivery.alert_id == alert_id)
        return list(conn.execute(q).all())  # type: ignore[arg-type]


def _mark_sent(engine: Engine, where: str) -> None:
    """Play the worker: these rows went out (tests may write states directly)."""
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE deliveries SET state = 'sent' WHERE {where}"))


def _ident(r: Delivery) -> tuple[str, str, int, str, str]:
    return (r.recipient, r.resident_id, r.supporter_id, r.channel, r.address)


def _who(ident: tuple[str, str, int, str, str]) -> tuple[object, ...]:
    """Whom a row told: a resident, a supporter about a resident, or (a digest, about
    several people) the supporter's phone."""
    recipient, resident_id, supporter_id, _channel, address = ident
    return (recipient, resident_id, supporter_id) if resident_id else (recipient, address)


def test_whole_life(demo_env, db_url: str) -> None:
    engine = make_engine(db_url)
    sent = run_cli(["alert", "send", "--level", "3", *SCOPE, "--yes", "--json"], env=demo_env)
    root = sent.json()["alert_id"]
    # half the people were reached on their first channel; the rest still wait
    first = [r for r in _rows(engine, root) if r.step == 0 and r.recipient == "resident"]
    reached_ids = sorted({r.resident_id for r in first})[::2]
    quoted = ", ".join(f"'{rid}'" for rid in reached_ids)
    _mark_sent(engine, f"alert_id = '{root}' AND step = 0 AND resident_id IN ({quoted})")
    reached = {_ident(r) for r in _rows(engine, root) if r.state == "sent"}

    # --- update to level 4 -------------------------------------------------------
    res = run_cli(["alert", "update", root, "--level", "4", "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    up = res.json()
    notice = _rows(engine, up["notice_alert_id"])
    expansion = _rows(engine, up["followup_alert_id"])
    # the reached get the level-4 message on exactly the addresses that reached them
    own = {_ident(r) for r in notice if r.recipient == "resident"}
    assert own == {i for i in reached if i[0] == "resident"}
    # each supporter gets one digest of the update (#10), whoever of theirs was reached
    digests = Counter((r.channel, r.address) for r in notice if r.recipient == "supporter")
    assert digests and max(digests.values()) == 1
    assert all(r.resident_id == "" for r in notice if r.recipient == "supporter")
    assert all(r.level == 4 and r.is_cancellation for r in notice)  # queued ahead
    old_text = {_ident(r): (r.title, r.body) for r in _rows(engine, root)}
    # the level-4 wording (push carries the level in its title)
    same = [r.channel for r in notice if (r.title, r.body) == old_text[_ident(r)]]
    assert not same, same[:3]
    # the others get the full level-4 alert; nobody gets level 4 twice
    assert not {r.resident_id for r in notice} & {r.resident_id for r in expansion}
    assert expansion and not any(r.is_cancellation for r in expansion)
    per_person = Counter((r.resident_id, r.channel, r.address) for r in notice + expansion
                         if r.recipient == "resident")  # fmt: skip
    assert max(per_person.values()) == 1
    assert not [r for r in _rows(engine, root) if r.state in ("queued", "held")]
    again = run_cli(["alert", "update", root, "--level", "4", "--json"], env=demo_env)
    assert again.exit_code == 3 and "not higher" in again.json()["error"]

    # --- correction ---------------------------------------------------------------
    _mark_sent(engine, f"alert_id = '{up['notice_alert_id']}'")
    res = run_cli(
        ["alert", "correct", root, "--text", "避難先は直方市体育館", "--operator", "chief",
         "--json"], env=demo_env,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    fix = res.json()
    reached_now = {_ident(r) for aid in (root, up["notice_alert_id"], up["followup_alert_id"])
                   for r in _rows(engine, aid) if r.state == "sent"}  # fmt: skip
    correction = _rows(engine, fix["notice_alert_id"])
    # once per person, on an address that reached them
    assert {_ident(r) for r in correction} <= reached_now
    assert sorted(map(_who, map(_ident, correction))) == sorted(set(map(_who, reached_now)))
    assert all("訂正" in r.body or "Correction" in r.body or "correction" in r.body.lower()
               or r.language not in ("ja", "en") for r in correction)  # fmt: skip
    reissued = _rows(engine, fix["followup_alert_id"])
    assert reissued and all(r.body.endswith("避難先は直方市体育館") for r in reissued)

    # --- all-clear ----------------------------------------------------------------
    _mark_sent(engine, f"alert_id = '{fix['followup_alert_id']}' AND step = 0")
    res = run_cli(["alert", "clear", root, "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    done = res.json()
    everyone_reached = {_ident(r) for r in _rows(engine, None)
                        if r.state == "sent" and r.alert_id != done["notice_alert_id"]}  # fmt: skip
    clear_rows = _rows(engine, done["notice_alert_id"])
    assert {_ident(r) for r in clear_rows} <= everyone_reached
    assert sorted(map(_who, map(_ident, clear_rows))) == sorted(set(map(_who, everyone_reached)))
    assert all(r.step == 0 for r in clear_rows)  # no escalation chain
    with engine.connect() as conn:
        states = dict(conn.execute(select(Alert.id, Alert.state)).all())
        report = conn.execute(
            select(AuditEntry.result).where(AuditEntry.action == "alert.clear")
        ).scalar_one()
    assert states[root] == "cleared" and states[done["notice_alert_id"]] == "active"
    assert {"unreached", "needs_help"} <= set(report["final_report"][0])
    assert run_cli(["alert", "clear", root, "--json"], env=demo_env).exit_code == 3

    # --- the audit chain holds, with every transition and its operator ------------
    assert run_cli(["audit", "verify"], env=demo_env).exit_code == 0
    shown = run_cli(["audit", "show", "--alert", root, "--json"], env=demo_env).json()
    actions = [(e["action"], e["actor"]) for e in shown]
    assert ("alert.update", "test-officer") in actions
    assert ("alert.correct", "chief") in actions and ("alert.clear", "test-officer") in actions
    lalert = run_cli(["alert", "lalert", root], env=demo_env).json()
    assert (lalert["発令区分"], lalert["発令解除"]) == ("避難指示", "解除")
    engine.dispose()


def test_update_of_an_unknown_alert_is_exit_3(demo_env) -> None:
    res = run_cli(["alert", "update", "A0000", "--level", "4", "--json"], env=demo_env)
    assert res.exit_code == 3


def test_quiet_fix_of_a_shelter_rewrites_unsent_messages_only(demo_env, db_url: str) -> None:
    engine = make_engine(db_url)
    root = run_cli(
        ["alert", "send", "--level", "4", *SCOPE, "--yes", "--json"], env=demo_env
    ).json()["alert_id"]
    rows = _rows(engine, root)
    with engine.connect() as conn:
        shelter_id, old_name = conn.execute(
            text("SELECT id, name FROM shelters ORDER BY id")
        ).all()[0]
    naming = [r for r in rows if old_name in r.body]
    if not naming:  # pick the shelter the plan used most
        from collections import Counter as C

        with engine.connect() as conn:
            shelters = conn.execute(text("SELECT id, name FROM shelters")).all()
        counts = C({sid: sum(1 for r in rows if nm in r.body) for sid, nm in shelters})
        shelter_id = counts.most_common(1)[0][0]
        old_name = dict(shelters)[shelter_id]
        naming = [r for r in rows if old_name in r.body]
    assert naming
    sent_one = naming[0]
    _mark_sent(engine, f"id = {sent_one.id}")
    res = run_cli(
        ["alert", "fix-shelter", shelter_id, "--name", "訂正後の避難所", "--json"], env=demo_env
    )
    assert res.exit_code == 0, res.stderr
    after = {r.id: r for r in _rows(engine, None)}
    assert res.json()["rewritten"] == len(naming) - 1
    assert old_name in after[sent_one.id].body  # what went out is history
    assert all("訂正後の避難所" in after[r.id].body for r in naming[1:])
    # nobody re-notified: no new alert, no new rows
    assert set(after) == {r.id for r in rows}
    engine.dispose()


@pytest.mark.parametrize("command", ["cancel", "clear"])
def test_cancel_and_clear_of_an_updated_alert_act_on_its_whole_family(
    demo_env, db_url: str, command: str
) -> None:
    """``alert update`` hangs an update notice and an expansion under the original; a
    cancel or clear given the expansion's id stops the unsent rows of all three and
    tells each person reached (by any of them) once."""
    engine = make_engine(db_url)
    root = run_cli(["alert", "send", "--level", "3", *SCOPE, "--yes", "--json"],
                   env=demo_env).json()["alert_id"]  # fmt: skip
    first = sorted({r.resident_id for r in _rows(engine, root)
                    if r.step == 0 and r.recipient == "resident"})  # fmt: skip
    quoted = ", ".join(f"'{rid}'" for rid in first[::2])
    _mark_sent(engine, f"alert_id = '{root}' AND step = 0 AND resident_id IN ({quoted})")
    up = run_cli(["alert", "update", root, "--level", "4", "--json"], env=demo_env).json()
    notice, expansion = up["notice_alert_id"], up["followup_alert_id"]
    # some of the update notices and of the newly alerted went out too
    _mark_sent(engine, f"alert_id = '{notice}' AND id % 2 = 0")
    _mark_sent(engine, f"alert_id = '{expansion}' AND step = 0 AND id % 2 = 0")
    reached = {_ident(r) for r in _rows(engine, None) if r.state == "sent"}
    assert {i[1] for i in reached} & {r.resident_id for r in _rows(engine, expansion)}
    args = ["--reason", "誤報"] if command == "cancel" else []
    res = run_cli(["alert", command, expansion, *args, "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    done = res.json()
    assert done["alert_id"] == root
    members = (root, notice, expansion)
    assert not [r for aid in members for r in _rows(engine, aid)
                if r.state in ("held", "queued", "claimed")]  # fmt: skip
    told = _rows(engine, done["cancellation_alert_id" if command == "cancel"
                              else "notice_alert_id"])  # fmt: skip
    people = Counter(_who(_ident(r)) for r in told)
    assert people and max(people.values()) == 1  # nobody twice
    assert set(people) == set(map(_who, reached))  # everyone reached, by any member
    assert {_ident(r) for r in told} <= reached  # on an address that reached them
    with engine.connect() as conn:
        states = dict(conn.execute(select(Alert.id, Alert.state)
                                   .where(Alert.id.in_(members))).all())  # fmt: skip
    assert set(states.values()) == {"cancelled" if command == "cancel" else "cleared"}
    engine.dispose()
