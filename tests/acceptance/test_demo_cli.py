"""`alertsvc demo` end to end on SQLite and PostgreSQL: nobody lost, nothing sent twice."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from alertsvc.db import make_engine
from alertsvc.db.tables import AlertTarget, Delivery
from tests.acceptance.demo_data import ROOT
from tests.clirun import run_cli

MAIN_SIMULATOR = ("push", "sms", "voice")


def test_demo_runs_the_whole_path(cli_env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "alertsvc.toml"
    config.write_text(
        f'[data]\nzones_dir = "{ROOT / "zones"}"\nrecipients_dir = "{ROOT / "recipients"}"\n',
        encoding="utf-8",
    )
    env = {**cli_env, "ALERTSVC_CONFIG": str(config)}
    res = run_cli(["demo", "--json", "--ack-wait", "1", "--speed", "50"], env=env)
    assert res.exit_code == 0, res.stderr[-3000:]
    doc = res.json()
    # the river watcher drove it: level 3 predicted ahead of the line, level 4, the river
    # falls, an all-clear proposed (not sent); each draft approved once, as an alert
    watch = doc["watcher"]
    kinds = [(d["kind"], d["level"]) for d in watch["decisions"]]
    assert kinds == [
        ("predict", 3),
        ("enter", 4),
        ("leave", 3),
        ("leave", None),
        ("all_clear_proposal", None),
    ]
    assert watch["decisions"][0]["reading"] < 4.0  # before 避難判断水位 (4.0 m)
    assert len(watch["drafts"]) == len(watch["alerts"]) == 2
    assert watch["alerts"][-1] == doc["alert_id"]
    status = doc["status"]
    assert status["state"] == "complete"
    # the demo ends with `alert verify`, and it holds
    assert doc["verify"] == {"alert_id": doc["alert_id"], "ok": True, "violations": []}
    assert "every rule holds" in res.stderr
    counts = status["counts"]
    assert counts["queued"] == counts["sending"] == counts["unknown"] == 0
    # the simulator really injected transient errors, and they were retried, not failed
    statuses = {s for per in doc["provider_requests"].values() for s in per}
    assert statuses & {"429", "500", "503"}
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Delivery.resident_id,
                Delivery.state,
                Delivery.provider_ref,
                Delivery.detail,
                Delivery.channel,
                Delivery.recipient,
            )
        ).all()
        targets = conn.execute(select(AlertTarget.resident_id)).scalars().all()
    engine.dispose()
    # exactly once: every accepted provider request belongs to one row, and no row has two
    accepted = sum(
        n
        for per in doc["provider_requests"].values()
        for s, n in per.items()
        if s in ("200", "201")
    )
    # (the Twilio/FCM simulator's log; FAX, LINE and e-mail have their own endpoints)
    refs = [r.provider_ref for r in rows if r.provider_ref and r.channel in MAIN_SIMULATOR]
    assert accepted == len(refs) == len(set(refs))
    # #11: the deaf residents with only a landline and a FAX are reached by FAX (the
    # receiving machine took every page) and are not on the door-knock list; LINE and
    # e-mail went out through their providers' wire formats
    faxed = {r.resident_id for r in rows if r.channel == "fax" and r.state == "delivered"}
    assert faxed
    assert not faxed & {u["resident_id"] for u in status["unreached"]}
    assert any(r.channel == "line" and r.state == "sent" for r in rows)
    assert any(r.channel == "email" and r.state == "sent" for r in rows)
    # nobody is lost: each person was acknowledged, delivered to, or is on the follow-up list
    reached = {r.resident_id for r in rows if r.state in ("acknowledged", "delivered", "sent")}
    unreached = {u["resident_id"] for u in status["unreached"]}
    assert set(targets) <= reached | unreached
    assert {"unlocated", "no_channel"} <= {u["reason"] for u in status["unreached"]}
    # the scripted "press 2" answers surface as people needing help
    assert status["needs_help"]
    # no failure came from a transient error: failures are the scripted permanent ones
    assert all("429" not in (r.detail or "") for r in rows if r.state == "failed")
    # the whole follow-up list, with what a door knock needs
    import csv

    out = tmp_path / "follow-up.csv"
    res = run_cli(["alert", "status", doc["alert_id"], "--csv", str(out)], env=env)
    assert res.exit_code == 0, res.stderr
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))[1:]
    help_ids = {h["resident_id"] for h in status["needs_help"]}
    assert {r[1] for r in rows} == unreached | help_ids
    assert all(r[2] and r[3] for r in rows)  # name and address for every person
