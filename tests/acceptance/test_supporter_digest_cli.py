"""The held-out case: one supporter (民生委員) looks after 81 people. Each alert event —
alert, update, cancellation — reaches that supporter exactly once, listing their people;
every person disclosed keeps their own legal basis in the database."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select, text

from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery, SupporterDisclosure
from alertsvc.dispatch.status import alert_status
from alertsvc.reports.followup import build_followup
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli

SCOPE = ["--zone-set", "flood"]
PHONE_A = "+819011112222"  # the 民生委員 with 81 people
PHONE_B = "+819033334444"  # a neighbour with 5
HEADER = ["名簿番号", "氏名", "ふりがな", "住所", "緯度", "経度", "居住階", "携帯電話",
          "要配慮事由", "支援者氏名", "支援者電話", "同意"]  # fmt: skip
# a point inside the synthetic flood zone (NG00002's address in the demo register)
LAT, LON = "33.755886", "130.713935"


def held_out_register(path: Path) -> Path:
    rows = []
    for n in range(1, 86):
        rid = f"T{n:03d}"
        if n <= 80:
            names, phones = "山本 民生委員", "090-1111-2222"
        elif n == 81:  # looked after by both
            names, phones = "山本 民生委員;近所 花子", "090-1111-2222;090-3333-4444"
        else:
            names, phones = "近所 花子", "090-3333-4444"
        rows.append([rid, f"試験 {n:03d}子", "しけん", f"福岡県直方市植木{n}番1号", LAT, LON,
                     "1", f"080-5555-{n:04d}", "寝たきり", names, phones,
                     "はい" if n % 2 else "いいえ"])  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _supporter_rows(engine: Engine, alert_ids: list[str]) -> list[Delivery]:
    with engine.connect() as conn:
        return list(
            conn.execute(  # type: ignore[arg-type]
                select(Delivery.__table__).where(
                    Delivery.alert_id.in_([a for a in alert_ids if a]),
                    Delivery.recipient == "supporter",
                )
            ).all()
        )


def test_one_message_per_supporter_per_alert_event(cli_env, engine: Engine, tmp_path) -> None:
    import_demo(cli_env, held_out_register(tmp_path / "held_out.csv"))
    sent = run_cli(["alert", "send", "--level", "3", *SCOPE, "--yes", "--json"], env=cli_env)
    assert sent.exit_code == 0, sent.stderr
    root = sent.json()["alert_id"]

    rows = _supporter_rows(engine, [root])
    assert Counter(r.address for r in rows) == {PHONE_A: 1, PHONE_B: 1}
    digest = {r.address: r for r in rows}
    body = digest[PHONE_A].body
    assert "81人" in body and "試験 001子" in body and "ほか" in body
    assert "寝たきり" not in body  # never the support reason
    with engine.connect() as conn:
        disclosed = conn.execute(
            select(SupporterDisclosure.delivery_key, SupporterDisclosure.resident_id,
                   SupporterDisclosure.legal_basis)
        ).all()  # fmt: skip
    by_key = Counter(k for k, _r, _b in disclosed)
    assert by_key == {digest[PHONE_A].key: 81, digest[PHONE_B].key: 5}
    # the legal basis of every person disclosed, per person, as the register says
    for key, rid, basis in disclosed:
        n = int(rid[1:])
        assert basis == ("consent" if n % 2 else "disaster_exception_49_11"), (key, rid)

    # status and the door-knock sheet show the digest under each person it named
    with session_scope(engine) as s:
        unreached = {u.resident_id: u for u in alert_status(s, root).unreached}
        assert [(n.channel, n.state) for n in unreached["T050"].supporters] == [("sms", "queued")]
        assert len(unreached["T081"].supporters) == 2  # both of T081's supporters
        sheet = {p.resident_id: p for p in build_followup(s, root).people}
        assert [a.recipient for a in sheet["T050"].attempts].count("supporter") == 1

    # the supporter's message went out (play the worker), then the level rises
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE deliveries SET state = 'sent' WHERE alert_id = '{root}'"))
    up = run_cli(["alert", "update", root, "--level", "4", *SCOPE, "--json"], env=cli_env)
    assert up.exit_code == 0, up.stderr
    ids = [up.json()["notice_alert_id"], up.json()["followup_alert_id"]]
    assert Counter(r.address for r in _supporter_rows(engine, ids)) == {PHONE_A: 1, PHONE_B: 1}

    # cancellation: exactly one 取消し to each supporter
    res = run_cli(["alert", "cancel", root, "--reason", "誤報のため", "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    cancel_id = res.json()["cancellation_alert_id"]
    assert Counter(r.address for r in _supporter_rows(engine, [cancel_id])) == {
        PHONE_A: 1,
        PHONE_B: 1,
    }


def test_correction_reissues_an_unsent_digest_with_its_people(
    cli_env, engine: Engine, tmp_path
) -> None:
    """A correction stops the digest that had not gone out yet and re-sends it with the
    correction appended: one message to that supporter, the same people, each with their
    legal basis recorded again."""
    import_demo(cli_env, held_out_register(tmp_path / "held_out.csv"))
    sent = run_cli(["alert", "send", "--level", "3", *SCOPE, "--yes", "--json"], env=cli_env)
    root = sent.json()["alert_id"]
    res = run_cli(["alert", "correct", root, "--text", "避難先は直方市体育館", "--json"],
                  env=cli_env)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    again = res.json()["followup_alert_id"]
    rows = _supporter_rows(engine, [res.json()["notice_alert_id"], again])
    assert Counter(r.address for r in rows) == {PHONE_A: 1, PHONE_B: 1}
    digest = next(r for r in rows if r.address == PHONE_A)
    assert digest.alert_id == again and digest.body.endswith("避難先は直方市体育館")
    with engine.connect() as conn:
        named = conn.execute(
            select(SupporterDisclosure.resident_id, SupporterDisclosure.legal_basis).where(
                SupporterDisclosure.delivery_key == digest.key
            )
        ).all()
    assert len(named) == 81
    assert all(b == ("consent" if int(r[1:]) % 2 else "disaster_exception_49_11")
               for r, b in named)  # fmt: skip
    assert ["kind", "supporter_digest"] in [list(p) for p in digest.data]
    # every digest of the family went out; the all-clear reaches each supporter once
    with engine.begin() as conn:
        conn.execute(text("UPDATE deliveries SET state = 'sent'"))
    done = run_cli(["alert", "clear", root, "--json"], env=cli_env)
    assert done.exit_code == 0, done.stderr
    clear = _supporter_rows(engine, [done.json()["notice_alert_id"]])
    assert Counter(r.address for r in clear) == {PHONE_A: 1, PHONE_B: 1}
    assert all("81人" not in r.body and "試験" not in r.body for r in clear)
