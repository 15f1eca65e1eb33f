"""CLI end to end: ``alert followup`` agrees with ``alert status`` (SQLite and PostgreSQL),
groups and orders the door-knock sheet, guards mobility needs, and writes CSV/HTML/PDF."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from alertsvc.db import session_scope
from alertsvc.db.tables import AuditEntry, Resident, Supporter
from alertsvc.dispatch import create_alert
from alertsvc.dispatch.inbound import record_acknowledgement
from alertsvc.models import ChannelName, Outcome
from alertsvc.testing import FakeChannel, fake_channels, simple_plan
from tests.clirun import channels_from, run_cli

# (name, address, floor, needs, supporter): districts 古町 (R0, R1, R4) and 植木 (R2, R3, R5)
PEOPLE = [
    ("村上 久子", "福岡県直方市古町4番5号", 2, ["車いす"], "原田 浩二"),
    ("白石 チヨ", "福岡県直方市古町7番1号", 1, ["視覚"], "原田 浩二"),
    ("中村 二郎", "福岡県直方市植木19番12号", 3, ["寝たきり"], "平野 修"),
    ("髙橋 﨑子", "福岡県直方市植木2番3号", 1, [], None),
    ("山田 花子", "福岡県直方市古町1番1号", 1, ["聴覚"], "原田 浩二"),
    ("佐藤 一郎", "福岡県直方市植木5番5号", 2, [], "平野 修"),
]


@pytest.fixture
def fakes() -> dict[ChannelName, FakeChannel]:
    return dict(fake_channels())


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    cfg = tmp_path / "alertsvc.toml"
    cfg.write_text(
        "[rates]\nsms_per_second = 100000.0\ncalls_per_second = 100000.0\n"
        "push_per_second = 100000.0\n[dispatch]\nbackoff_seconds = 0.001\n"
        "jitter_seconds = 0.001\n",
        encoding="utf-8",
    )
    return {**cli_env, "ALERTSVC_CONFIG": str(cfg), "ALERTSVC_OPERATOR": "officer-1"}


@pytest.fixture
def sent_alert(engine: Engine, env: dict[str, str], fakes: dict[ChannelName, FakeChannel]) -> str:
    """Six people sent an SMS: R0 answers safe, R2 asks for help, R3's number fails;
    nobody else answered. Returns the alert id."""
    targets, deliveries = simple_plan(len(PEOPLE), channels=(ChannelName.SMS,))
    with session_scope(engine) as s:
        for i, (name, address, floor, needs, supporter) in enumerate(PEOPLE):
            r = Resident(id=f"R{i:05d}", name=name, address=address, floor=floor, needs=needs)
            if supporter:
                r.supporters.append(Supporter(name=supporter, phone=None, position=0))
            s.add(r)
        s.flush()
        aid = create_alert(s, level=3, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t")  # fmt: skip
    fakes[ChannelName.SMS].script[deliveries[3].address] = Outcome.REJECTED
    assert (
        run_cli(["worker", "--until-idle", "--json"], env, channels=channels_from(fakes)).exit_code
        == 0
    )
    with session_scope(engine) as s:
        assert record_acknowledgement(s, key=f"{aid}:1", answer="safe", via="sms")
        assert record_acknowledgement(s, key=f"{aid}:3", answer="need_help", via="web")
    return aid


def test_followup_lists_exactly_status_unreached_plus_need_help(
    sent_alert: str, env: dict[str, str]
) -> None:
    st = run_cli(["alert", "status", sent_alert, "--json"], env).json()
    res = run_cli(["alert", "followup", sent_alert, "--json"], env)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    people = [p for g in doc["groups"] for p in g["people"]]
    ids = [p["resident_id"] for p in people]
    expected = {u["resident_id"] for u in st["unreached"]} | {
        h["resident_id"] for h in st["needs_help"]
    }
    assert sorted(ids) == sorted(expected) == ["R00001", "R00002", "R00003", "R00004", "R00005"]
    assert doc["count"] == 5 and doc["by"] == "district"
    # the need-help person's district comes first, and they head it
    assert doc["groups"][0]["title"] == "植木"
    assert [p["resident_id"] for p in doc["groups"][0]["people"]] == ["R00002", "R00003", "R00005"]
    assert doc["groups"][0]["people"][0]["reason"] == "need_help"
    assert [p["resident_id"] for p in doc["groups"][1]["people"]] == ["R00001", "R00004"]
    by_id = {p["resident_id"]: p for p in people}
    assert by_id["R00003"]["reason"] == "failed"
    assert by_id["R00001"]["reason"] == "not_confirmed"
    assert by_id["R00002"]["floor"] == 3 and by_id["R00002"]["address"].endswith("植木19番12号")
    outcomes = [(a["recipient"], a["outcome"]) for a in by_id["R00002"]["attempts"]]
    assert outcomes == [("resident", "acknowledged"), ("answer", "need_help")]
    assert [a["outcome"] for a in by_id["R00003"]["attempts"]] == ["failed"]
    # phone numbers masked; needs never shown without the authorisation flag
    assert all("…" in a["address"] for p in people for a in p["attempts"] if a["address"])
    assert all("needs" not in p for p in people)
    assert "寝たきり" not in res.stdout


def test_followup_by_supporter(sent_alert: str, env: dict[str, str]) -> None:
    doc = run_cli(["alert", "followup", sent_alert, "--by", "supporter", "--json"], env).json()
    groups = {g["title"]: [p["resident_id"] for p in g["people"]] for g in doc["groups"]}
    assert groups == {
        "平野 修": ["R00002", "R00005"],
        "原田 浩二": ["R00001", "R00004"],
        "(支援者なし / no supporter)": ["R00003"],
    }
    assert doc["groups"][0]["title"] == "平野 修"  # holds the need-help person


def test_show_needs_is_audited(sent_alert: str, env: dict[str, str], engine: Engine) -> None:
    doc = run_cli(["alert", "followup", sent_alert, "--show-needs", "--json"], env).json()
    needs = {p["resident_id"]: p["needs"] for g in doc["groups"] for p in g["people"]}
    assert needs["R00002"] == ["寝たきり"] and needs["R00003"] == []
    with session_scope(engine) as s:
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "alert.followup.show_needs")
        ).all()
        assert [(e.actor, e.args["alert_id"]) for e in entries] == [("officer-1", sent_alert)]


def test_bad_grouping_and_unknown_alert_are_clear_errors(
    sent_alert: str, env: dict[str, str], tmp_path: Path
) -> None:
    res = run_cli(["alert", "followup", sent_alert, "--by", "street", "--json"], env)
    assert res.exit_code == 3 and "--by" in res.json()["error"]
    res = run_cli(["alert", "followup", "A20260101000000beef", "--json"], env)
    assert res.exit_code == 3 and "A20260101000000beef" in res.json()["error"]
    res = run_cli(
        ["alert", "followup", sent_alert, "--csv", str(tmp_path / "no" / "x.csv"), "--json"], env
    )
    assert res.exit_code == 3 and not (tmp_path / "no").exists()


def test_csv_and_html_sheets(sent_alert: str, env: dict[str, str], tmp_path: Path) -> None:
    out_csv, out_html = tmp_path / "f.csv", tmp_path / "f.html"
    res = run_cli(
        ["alert", "followup", sent_alert, "--csv", str(out_csv), "--html", str(out_html)], env
    )
    assert res.exit_code == 0, res.stderr
    with out_csv.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert [r[3] for r in rows[1:]] == ["R00002", "R00003", "R00005", "R00001", "R00004"]
    assert all(r[1] == "☐" for r in rows[1:])
    html = out_html.read_text(encoding="utf-8")
    assert html.count("<section>") == 2 and "中村 二郎" in html and 'lang="ja"' in html
    assert "寝たきり" not in html


@pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) not installed: apt-get install poppler-utils",
)
def test_pdf_sheet_has_a_page_per_district_and_japanese_text(
    sent_alert: str, env: dict[str, str], tmp_path: Path
) -> None:
    from alertsvc.errors import ConfigError
    from alertsvc.reports.fonts import find_japanese_font

    try:
        find_japanese_font()
    except ConfigError as exc:
        pytest.skip(str(exc))
    pdf = tmp_path / "sheet.pdf"
    res = run_cli(["alert", "followup", sent_alert, "--pdf", str(pdf)], env)
    assert res.exit_code == 0, res.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "A4" in info.stdout
    assert re.search(r"^Pages:\s+2$", info.stdout, re.M)  # one page per district
    pages = [
        subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), "-layout", str(pdf), "-"],
            capture_output=True, text=True, check=True,
        ).stdout
        for n in (1, 2)
    ]  # fmt: skip
    assert "植木" in pages[0] and "中村 二郎" in pages[0] and "髙橋 﨑子" in pages[0]
    assert "古町" in pages[1] and "白石 チヨ" in pages[1] and "中村 二郎" not in pages[1]
    assert "【至急】" in pages[0] and "村上 久子" not in "".join(pages)  # R0 answered safe
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    assert "yes" in fonts.stdout.splitlines()[-1].split()  # embedded
    png = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(png)],
                   check=True)  # fmt: skip
    assert next(tmp_path.glob("page*.png")).stat().st_size > 1000
