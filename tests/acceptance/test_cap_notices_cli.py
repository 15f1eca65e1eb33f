"""`alert preview|send --cap` with a CAP Update or Cancel: applied to the alert its
``references`` name (the same path as `alert update` / `alert cancel`), or refused."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from alertsvc.db import make_engine
from alertsvc.db.tables import Alert, Delivery
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli

SCOPE = ["--zone-set", "flood"]


@pytest.fixture
def demo_env(cli_env: dict[str, str]) -> dict[str, str]:
    import_demo(cli_env)
    return cli_env


def _rows(engine: Engine, alert_id: str) -> list[Delivery]:
    with engine.connect() as conn:
        q = select(Delivery.__table__).where(Delivery.alert_id == alert_id)
        return list(conn.execute(q).all())  # type: ignore[arg-type]


def _ident(r: Delivery) -> tuple[str, str, int, str, str]:
    return (r.recipient, r.resident_id, r.supporter_id, r.channel, r.address)


def _who(ident: tuple[str, str, int, str, str]) -> tuple[object, ...]:
    """Whom a row told: a resident, a supporter about a resident, or (a digest, about
    several people) the supporter's phone."""
    recipient, resident_id, supporter_id, _channel, address = ident
    return (recipient, resident_id, supporter_id) if resident_id else (recipient, address)


def _counts(engine: Engine) -> tuple[int, int, list[tuple[str, str]]]:
    with engine.connect() as conn:
        alerts = conn.execute(select(func.count()).select_from(Alert)).scalar_one()
        rows = conn.execute(select(func.count()).select_from(Delivery)).scalar_one()
        states = sorted(conn.execute(select(Alert.id, Alert.state)).all())
    return alerts, rows, [tuple(s) for s in states]  # type: ignore[misc]


def _send_and_reach_half(env: dict[str, str], engine: Engine, level: str = "3") -> str:
    sent = run_cli(["alert", "send", "--level", level, *SCOPE, "--yes", "--json"], env=env)
    assert sent.exit_code == 0, sent.stderr
    root = str(sent.json()["alert_id"])
    first = [r for r in _rows(engine, root) if r.step == 0 and r.recipient == "resident"]
    half = ", ".join(f"'{rid}'" for rid in sorted({r.resident_id for r in first})[::2])
    with engine.begin() as conn:  # play the worker: these went out
        conn.execute(text(f"UPDATE deliveries SET state = 'sent' WHERE alert_id = '{root}' "
                          f"AND step = 0 AND resident_id IN ({half})"))  # fmt: skip
    return root


def _export(env: dict[str, str], alert_id: str, path: Path) -> bytes:
    res = run_cli(["alert", "cap", alert_id, "--out", str(path)], env=env)
    assert res.exit_code == 0, res.stderr
    return path.read_bytes()


def _tag(xml: bytes, name: str) -> str:
    found = re.search(rf"<{name}>([^<]*)</{name}>".encode(), xml)
    assert found is not None, name
    return found.group(1).decode()


def _notice(
    original: bytes,
    msg_type: str,
    *,
    identifier: str = "ext-notice-1",
    references: str | None = None,
    severity: str | None = None,
    status: str | None = None,
) -> bytes:
    """A CAP Update/Cancel built from an exported alert, referencing it."""
    refs = references or ",".join(_tag(original, t) for t in ("sender", "identifier", "sent"))
    xml = original.replace(b"<msgType>Alert</msgType>", f"<msgType>{msg_type}</msgType>".encode())
    xml = re.sub(rb"<identifier>[^<]*</identifier>", f"<identifier>{identifier}</identifier>"
                 .encode(), xml, count=1)  # fmt: skip
    xml = xml.replace(b"<scope>Public</scope>",
                      f"<scope>Public</scope><references>{refs}</references>".encode())  # fmt: skip
    if severity is not None:
        xml = re.sub(rb"<severity>[^<]*</severity>", f"<severity>{severity}</severity>".encode(),
                     xml)  # fmt: skip
    if status is not None:
        xml = xml.replace(b"<status>Actual</status>", f"<status>{status}</status>".encode())
    return xml


def test_cap_update_reaches_old_and_new_recipients_once_each(
    demo_env, db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    root = _send_and_reach_half(demo_env, engine)
    reached = {_ident(r) for r in _rows(engine, root) if r.state == "sent"}
    original = _export(demo_env, root, tmp_path / "a.xml")
    update = tmp_path / "update.xml"
    update.write_bytes(_notice(original, "Update", severity="Severe"))

    # preview: says what it would do, changes nothing
    before = _counts(engine)
    res = run_cli(["alert", "preview", "--cap", str(update), "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["cap"]["action"] == "update" and doc["cap"]["alert_id"] == root
    assert doc["level"] == 4 and doc["targets"]
    assert _counts(engine) == before

    res = run_cli(["alert", "send", "--cap", str(update), "--yes", "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    up = res.json()
    assert up["alert_id"] == root and up["cap"]["msgType"] == "Update"
    notice = _rows(engine, up["notice_alert_id"])
    expansion = _rows(engine, up["followup_alert_id"])
    # the reached get level 4 on the addresses that reached them; the rest the full alert
    own = [r for r in notice if r.recipient == "resident"]
    assert {_ident(r) for r in own} == {i for i in reached if i[0] == "resident"}
    assert all(r.level == 4 for r in notice + expansion)
    assert not {r.resident_id for r in own} & {r.resident_id for r in expansion}
    # supporters: one digest each about their people, whichever part of the update
    digests = Counter((r.channel, r.address) for r in notice + expansion
                      if r.recipient == "supporter")  # fmt: skip
    assert digests and max(digests.values()) == 1
    per_person = Counter((r.resident_id, r.channel, r.address) for r in notice + expansion
                         if r.recipient == "resident")  # fmt: skip
    assert max(per_person.values()) == 1
    # not a second, unrelated alert: both hang off the original
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(Alert.kind, Alert.parent_id)
                                  .where(Alert.id != root)).all())  # fmt: skip
    assert kinds == {"update": root, "expansion": root}
    # applying the same Update again changes nothing (level 4 is not higher than 4)
    again = run_cli(["alert", "send", "--cap", str(update), "--yes", "--json"], env=demo_env)
    assert again.exit_code == 3 and "not higher" in again.json()["error"]

    # Cancel, referencing the update notice's CAP document: cancels the original
    notice_xml = _export(demo_env, up["notice_alert_id"], tmp_path / "n.xml")
    cancel = tmp_path / "cancel.xml"
    cancel.write_bytes(
        _notice(
            original,
            "Cancel",
            identifier="ext-cancel-1",
            references=",".join(_tag(notice_xml, t) for t in ("sender", "identifier", "sent")),
        )
    )
    res = run_cli(["alert", "send", "--cap", str(cancel), "--yes", "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    done = res.json()
    assert done["alert_id"] == root and done["cap"]["action"] == "cancel"
    with engine.connect() as conn:
        assert conn.execute(select(Alert.state).where(Alert.id == root)).scalar_one() == (
            "cancelled"
        )
    cancel_rows = _rows(engine, done["cancellation_alert_id"])
    # once per person reached, on an address that reached them; the family stops too
    assert {_ident(r) for r in cancel_rows} <= reached
    assert sorted(_who(_ident(r)) for r in cancel_rows) == sorted(set(map(_who, reached)))
    with engine.connect() as conn:
        others = select(Alert.state).where(Alert.id != done["cancellation_alert_id"])
        states = set(conn.execute(others).scalars())
    assert states == {"cancelled"}
    shown = run_cli(["audit", "show", "--alert", root, "--json"], env=demo_env).json()
    assert [e["action"] for e in shown].count("alert.cap_import") == 2
    engine.dispose()


def test_cap_update_of_an_alert_imported_from_cap(demo_env, db_url: str, tmp_path: Path) -> None:
    """An agency's Alert sent through alertsvc, then its Update: matched by the agency's
    sender and identifier, kept with the alert when it was sent."""
    engine = make_engine(db_url)
    root = _send_and_reach_half(demo_env, engine)
    original = _export(demo_env, root, tmp_path / "a.xml")
    run_cli(["alert", "cancel", root, "--reason", "test", "--json"], env=demo_env)
    agency = re.sub(rb"<sender>[^<]*</sender>", b"<sender>river@pref.example.jp</sender>",
                    original)  # fmt: skip
    agency = re.sub(rb"<identifier>[^<]*</identifier>", b"<identifier>PREF-001</identifier>",
                    agency, count=1)  # fmt: skip
    first = tmp_path / "agency.xml"
    first.write_bytes(agency)
    res = run_cli(["alert", "send", "--cap", str(first), "--yes", "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    imported = res.json()["alert_id"]
    update = tmp_path / "agency-update.xml"
    update.write_bytes(_notice(agency, "Update", identifier="PREF-002", severity="Extreme"))
    res = run_cli(["alert", "send", "--cap", str(update), "--yes", "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    assert res.json()["alert_id"] == imported and res.json()["cap"]["level"] == 5
    engine.dispose()


def test_cap_all_clear_export_clears_the_alert(demo_env, db_url: str, tmp_path: Path) -> None:
    """Our own all-clear document (msgType Update, responseType AllClear) clears."""
    engine = make_engine(db_url)
    root = _send_and_reach_half(demo_env, engine)
    original = _export(demo_env, root, tmp_path / "a.xml")
    clear = re.sub(rb"<responseType>[^<]*</responseType>", b"<responseType>AllClear"
                   b"</responseType>", _notice(original, "Update", severity="Minor"))  # fmt: skip
    path = tmp_path / "clear.xml"
    path.write_bytes(clear)
    res = run_cli(["alert", "send", "--cap", str(path), "--yes", "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    assert res.json()["cap"]["action"] == "clear"
    with engine.connect() as conn:
        assert conn.execute(select(Alert.state).where(Alert.id == root)).scalar_one() == ("cleared")
    engine.dispose()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unknown_ours", "no alert of ours"),
        ("foreign", "no alert of ours"),
        ("no_references", "without references"),
        ("test_status", "never acts on the live alert"),
        ("cancel_test_status", "never acts on the live alert"),
        ("mixed", "mixes msgTypes"),
        ("draft_status", "not actionable"),
    ],
)
def test_cap_notice_refusals_change_nothing(
    demo_env, db_url: str, tmp_path: Path, case: str, reason: str
) -> None:
    engine = make_engine(db_url)
    root = _send_and_reach_half(demo_env, engine)
    original = _export(demo_env, root, tmp_path / "a.xml")
    prefix = _tag(original, "identifier")[: -len(root)]
    sender = _tag(original, "sender")
    doc = {
        "unknown_ours": lambda: _notice(original, "Update", severity="Severe",
                                        references=f"{sender},{prefix}A0000,2026-01-01T00:00:00+09:00"),
        "foreign": lambda: _notice(original, "Update", severity="Severe",
                                   references="x@example.org,EXT-1,2026-01-01T00:00:00+09:00"),
        "no_references": lambda: original.replace(b"<msgType>Alert<", b"<msgType>Update<"),
        "test_status": lambda: _notice(original, "Update", severity="Severe", status="Test"),
        "cancel_test_status": lambda: _notice(original, "Cancel", status="Exercise"),
        "draft_status": lambda: _notice(original, "Update", severity="Severe", status="Draft"),
        "mixed": lambda: b"<alerts>" + re.sub(rb"<\?xml[^>]*\?>", b"", original)
        + re.sub(rb"<\?xml[^>]*\?>", b"", _notice(original, "Update", severity="Severe"))
        + b"</alerts>",
    }[case]()  # fmt: skip
    path = tmp_path / "notice.xml"
    path.write_bytes(doc)
    before = _counts(engine)
    for command in ("preview", "send"):
        args = ["alert", command, "--cap", str(path), "--json"]
        res = run_cli([*args, "--yes"] if command == "send" else args, env=demo_env)
        assert res.exit_code == 3, (command, res.stdout, res.stderr)
        assert reason in res.json()["error"], res.json()["error"]
        assert _counts(engine) == before
    engine.dispose()


def test_cap_update_send_needs_confirmation(demo_env, db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    root = _send_and_reach_half(demo_env, engine)
    original = _export(demo_env, root, tmp_path / "a.xml")
    path = tmp_path / "update.xml"
    path.write_bytes(_notice(original, "Update", severity="Severe"))
    before = _counts(engine)
    res = run_cli(["alert", "send", "--cap", str(path), "--json"], env=demo_env)
    assert res.exit_code == 1 and _counts(engine) == before
    engine.dispose()
