"""Issue 11 end to end: a deaf resident with only a landline and a FAX, a LINE follower
and an e-mail subscriber in the flood zone are reached by those channels in `alert
preview` (counts, time estimate, samples), and nobody of them is on the door-knock list."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.acceptance.demo_data import REGISTER, import_demo
from tests.clirun import run_cli

SCOPE = ["--zone-set", "flood", "--zone-set", "collapse"]
LINE_ID = "U" + "4f" * 16


def _register_with_new_channels(tmp_path: Path, env: dict[str, str]) -> Path:
    rows = list(csv.reader(io.StringIO(REGISTER.read_text(encoding="utf-8"))))
    extra = [c for c in ("FAX番号", "LINEユーザーID", "メールアドレス") if c not in rows[0]]
    header = [*rows[0], *extra]
    body = [[*r, *([""] * len(extra))] for r in rows[1:]]
    # place the new residents where a demo resident inside the zones lives
    import_demo(env)
    doc = run_cli(["alert", "preview", "--level", "4", *SCOPE, "--json"], env=env).json()
    inside = {t["resident_id"] for t in doc["targets"]}
    base = next(r for r in body if r[0] in inside)
    col = {name: i for i, name in enumerate(header)}

    def person(rid: str, **cells: str) -> list[str]:
        row = [""] * len(header)
        for key in ("住所", "緯度", "経度"):
            row[col[key]] = base[col[key]]
        row[col["名簿番号"]], row[col["氏名"]] = rid, f"試験 {rid}"
        for key, value in cells.items():
            row[col[key]] = value
        return row

    body += [
        person("FAX1", 電話番号="0949-22-3001", FAX番号="0949-22-3002", 要配慮事由="聴覚"),
        person("LINE1", LINEユーザーID=LINE_ID),
        person("MAIL1", メールアドレス="mail1@example.jp", 言語="en"),
    ]
    path = tmp_path / "register.csv"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_fax_line_and_email_residents_in_preview(cli_env: dict[str, str], tmp_path: Path) -> None:
    register = _register_with_new_channels(tmp_path, cli_env)
    imported = run_cli(["registry", "import", str(register), "--json"], cli_env)
    assert imported.exit_code == 0, imported.stderr
    res = run_cli(["alert", "preview", "--level", "4", *SCOPE, "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    channels = {t["resident_id"]: t["channels"] for t in doc["targets"]}
    assert channels["FAX1"] == ["fax", "voice"]  # deaf: FAX first, voice only behind it
    assert channels["LINE1"] == ["line"]
    assert channels["MAIL1"] == ["email"]
    assert not {"FAX1", "LINE1", "MAIL1"} & {u["resident_id"] for u in doc["unreachable"]}
    counts = doc["counts"]
    assert {"fax", "line", "email"} <= set(counts["estimate_seconds"])
    assert {"fax", "line", "email"} <= set(counts["by_first_channel"])
    samples = {(s["channel"], s["language"]): s for s in doc["samples"]}
    assert "避難" in samples[("fax", "ja")]["title"] + samples[("fax", "ja")]["body"]
    assert ("email", "en") in samples and ("line", "ja") in samples
