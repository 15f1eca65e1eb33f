"""`alert status` shows an alert's notices under it; every output about an exercise
carries its mark (【訓練】 / EXERCISE) on every line: status, audit show, followup (JSON,
CSV, HTML), cap, lalert."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from alertsvc.db import make_engine, session_scope
from alertsvc.db.tables import Resident
from alertsvc.dispatch import create_alert
from alertsvc.models import ChannelName, Outcome
from alertsvc.testing import FakeChannel, fake_channels, simple_plan
from tests.acceptance.demo_data import import_demo
from tests.clirun import channels_from, run_cli

MARK = "【訓練】"


def test_status_groups_notices_under_their_alert(cli_env: dict[str, str], db_url: str) -> None:
    import_demo(cli_env)
    sent = run_cli(["alert", "send", "--level", "3", "--zone-set", "flood", "--yes", "--json"],
                   env=cli_env)  # fmt: skip
    root = sent.json()["alert_id"]
    engine = make_engine(db_url)
    with engine.begin() as conn:  # play the worker: some first messages went out
        conn.execute(text(f"UPDATE deliveries SET state = 'sent' WHERE alert_id = '{root}' "
                          "AND step = 0 AND id % 2 = 0"))  # fmt: skip
    engine.dispose()
    up = run_cli(["alert", "update", root, "--level", "4", "--json"], env=cli_env).json()
    fix = run_cli(["alert", "correct", root, "--text", "避難先は体育館", "--json"],
                  env=cli_env).json()  # fmt: skip
    res = run_cli(["alert", "status", root, "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["root_id"] == root and doc["alert_id"] == root and doc["kind"] == "alert"
    kinds = [(n["kind"], n["alert_id"]) for n in doc["notices"]]
    assert ("update", up["notice_alert_id"]) in kinds
    assert ("expansion", up["followup_alert_id"]) in kinds
    assert ("correction", fix["notice_alert_id"]) in kinds
    assert all(n["level"] == 4 and n["counts"] for n in doc["notices"])
    # the human view lists them under the alert
    assert "notices of alert" in res.stderr and up["notice_alert_id"] in res.stderr
    # asked about a notice: the same family, the notice pointed at
    res = run_cli(["alert", "status", up["notice_alert_id"], "--json"], env=cli_env)
    doc2 = res.json()
    assert doc2["root_id"] == root and doc2["kind"] == "update"
    assert [n["alert_id"] for n in doc2["notices"]] == [n["alert_id"] for n in doc["notices"]]
    assert f"of {root}" in " ".join(res.stderr.split())


@pytest.fixture
def fakes() -> dict[ChannelName, FakeChannel]:
    return dict(fake_channels())


def _alert(engine: Engine, env: dict[str, str], fakes: dict[ChannelName, FakeChannel],
           *, exercise: bool) -> str:  # fmt: skip
    targets, deliveries = simple_plan(4, channels=(ChannelName.SMS,), exercise=exercise)
    with session_scope(engine) as s:
        for i in range(4):
            s.add(Resident(id=f"R{i:05d}", name=f"住民{i}", address=f"直方市古町{i}番"))
        s.flush()
        aid = create_alert(
            s, level=4, scope={"zone_sets": ["flood"]}, exercise=exercise, targets=targets,
            deliveries=deliveries, actor="t", allow_list={d.address for d in deliveries},
        )  # fmt: skip
    fakes[ChannelName.SMS].script[deliveries[1].address] = Outcome.REJECTED
    res = run_cli(["worker", "--until-idle", "--json"], env, channels=channels_from(fakes))
    assert res.exit_code == 0, res.stderr
    return aid


@pytest.mark.parametrize("exercise", [True, False])
def test_every_output_marks_an_exercise(
    engine: Engine,
    cli_env: dict[str, str],
    fakes: dict[ChannelName, FakeChannel],
    tmp_path: Path,
    exercise: bool,
) -> None:
    env = {**cli_env, "COLUMNS": "200"}
    aid = _alert(engine, env, fakes, exercise=exercise)

    def marked(lines: list[str]) -> bool:
        """Every line carries the mark (True), or none does (False)."""
        assert lines
        flags = {MARK in line for line in lines}
        assert len(flags) == 1, lines
        return flags.pop()

    # alert status: JSON field, every row of the human tables, the CSV column
    csv_path = tmp_path / "status.csv"
    st = run_cli(["alert", "status", aid, "--json", "--csv", str(csv_path)], env)
    assert st.exit_code == 0, st.stderr
    assert st.json()["exercise"] is exercise
    rows = [line for line in st.stderr.splitlines() if "R0000" in line or " sms " in line]
    assert marked(rows) is exercise
    table = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert table[0][-1] == "訓練/exercise" and len(table) > 1, (st.stdout, table)
    assert marked([r[-1] for r in table[1:]]) is exercise
    # audit show: JSON field and every human row about the alert
    shown = run_cli(["audit", "show", "--alert", aid, "--json"], env)
    entries = shown.json()
    assert entries and all(e["exercise"] is exercise for e in entries)
    human_rows = [line for line in shown.stderr.splitlines() if "alert." in line]
    assert marked(human_rows) is exercise
    # followup: JSON field, CSV column, every HTML group heading and row, human rows
    html, fcsv = tmp_path / "f.html", tmp_path / "f.csv"
    fu = run_cli(["alert", "followup", aid, "--json", "--csv", str(fcsv), "--html", str(html)],
                 env)  # fmt: skip
    assert fu.exit_code == 0, fu.stderr
    assert fu.json()["exercise"] is exercise
    ftable = list(csv.reader(io.StringIO(fcsv.read_text(encoding="utf-8-sig"))))
    assert ftable[0][-1] == "訓練/exercise" and len(ftable) > 1
    assert marked([r[-1] for r in ftable[1:]]) is exercise
    page = html.read_text(encoding="utf-8")
    assert page.count(MARK) == (2 + page.count("<h2>") + page.count('<td class="box">')
                                if exercise else 0)  # fmt: skip
    _pdf_pages_marked(aid, env, tmp_path, exercise)
    fu_human = run_cli(["alert", "followup", aid], env)
    rows = [line for line in fu_human.stderr.splitlines() if "☐" in line]
    assert marked(rows) is exercise
    cancel = run_cli(["alert", "cancel", aid, "--reason", "訓練終了", "--json"], env)
    assert cancel.exit_code == 0, cancel.stderr
    # cap: status Exercise in the document, and the officer's line
    out = tmp_path / "a.xml"
    cap = run_cli(["alert", "cap", aid, "--out", str(out), "--json"], env)
    assert cap.exit_code == 0, cap.stderr
    assert (b"<status>Exercise</status>" in out.read_bytes()) is exercise
    assert cap.json()["exercise"] is exercise
    assert marked([line for line in cap.stderr.splitlines() if "CAP" in line]) is exercise
    # lalert: JSON field and the officer's line
    la = run_cli(["alert", "lalert", aid], env)
    assert la.json()["exercise"] is exercise
    assert all(r["exercise"] is exercise for r in la.json()["revisions"])
    assert marked([line for line in la.stderr.splitlines() if "Lアラート" in line]) is exercise


def _pdf_pages_marked(aid: str, env: dict[str, str], tmp_path: Path, exercise: bool) -> None:
    """Every page of the followup PDF carries the mark in its header line."""
    import shutil
    import subprocess

    from alertsvc.errors import ConfigError
    from alertsvc.reports.followup_pdf import find_japanese_font

    if shutil.which("pdftotext") is None:
        return  # poppler-utils missing: the PDF check is in test_followup_cli's skip too
    try:
        find_japanese_font()
    except ConfigError:
        return
    pdf = tmp_path / "f.pdf"
    res = run_cli(["alert", "followup", aid, "--pdf", str(pdf)], env)
    assert res.exit_code == 0, res.stderr
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    pages = [p for p in text.split("\f") if p.strip()]
    assert pages and all((MARK in p) is exercise for p in pages)
