"""`alertsvc registry import/list` end to end (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from tests.clirun import run_cli

HEAD = "名簿番号,氏名,住所,緯度,経度,電話番号,携帯電話,要配慮事由"


def _write(tmp_path: Path, name: str, *rows: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join([HEAD, *rows]) + "\r\n").encode(encoding))
    return path


def _list(env: dict[str, str]) -> list[dict[str, object]]:
    result = run_cli(["registry", "list", "--json"], env)
    assert result.exit_code == 0, result.stderr
    docs: list[dict[str, object]] = result.json()
    return docs


def test_cp932_import_then_list_masked(cli_env: dict[str, str], data_dir: Path) -> None:
    path = data_dir / "registry" / "small_cp932.csv"
    result = run_cli(["registry", "import", str(path), "--json"], cli_env)
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert {k: doc[k] for k in ("added", "changed", "removed", "unchanged", "errors")} == {
        "added": 3,
        "changed": 0,
        "removed": 0,
        "unchanged": 0,
        "errors": [],
    }
    assert doc["written"] is True
    assert "取り込み完了 / imported" in result.stderr

    listed = run_cli(["registry", "list", "--json"], cli_env)
    items = listed.json()
    assert [(i["id"], i["located"], i["active"]) for i in items] == [
        ("T01", True, True),
        ("T02", True, True),
        ("T03", False, True),
    ]
    assert items[0]["name"] == "直方 花子"
    assert items[0]["contacts"] == [{"kind": "landline", "address": "+81…1234", "healthy": True}]
    assert items[1]["channels"] == ["sms", "voice"]
    assert items[1]["language"] == "ja-easy"
    # masked by default: no full number anywhere in the output
    assert "+81949001234" not in listed.stdout
    assert "+819012345678" not in listed.stdout
    unmasked = run_cli(["registry", "list", "--json", "--unmasked"], cli_env)
    assert "+81949001234" in unmasked.stdout


def test_one_bad_row_exit_3_and_nothing_written(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "bad.csv",
        "A1,直方 太郎,直方市殿町1,33.74,130.73,0949-00-1111,,",
        "A2,古賀 茂,直方市新町2,33.74,130.73,,0949-00-2222,",
        "A3,花田 キヨ,直方市感田3,,,0949-00-3333,,寝たきり",
    )
    result = run_cli(["registry", "import", str(path), "--json"], cli_env)
    assert result.exit_code == 3
    doc = result.json()
    assert doc["written"] is False
    assert (doc["added"], doc["changed"], doc["removed"]) == (0, 0, 0)
    (err,) = doc["errors"]
    assert (err["line"], err["column"]) == (3, "携帯電話")
    assert "not a mobile number" in err["message"]
    assert "line 3, column 携帯電話" in result.stderr
    assert _list(cli_env) == []


def test_skip_invalid_writes_good_rows(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "mixed.csv",
        "A1,直方 太郎,直方市殿町1,33.74,130.73,0949-00-1111,,",
        "A2,古賀 茂,直方市新町2,91,130.73,0949-00-2222,,",
    )
    result = run_cli(["registry", "import", str(path), "--skip-invalid", "--json"], cli_env)
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    # A2's latitude is unusable: A2 is stored unlocated and flagged, never dropped
    assert doc["added"] == 2
    assert [(e["line"], e["column"]) for e in doc["errors"]] == [(3, "緯度")]
    assert [(i["id"], i["needs_review"], i["located"]) for i in _list(cli_env)] == [
        ("A1", False, True),
        ("A2", True, False),
    ]


def test_dry_run_reports_counts_and_writes_nothing(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = _write(tmp_path, "ok.csv", "A1,直方 太郎,直方市殿町1,,,0949-00-1111,,")
    result = run_cli(["registry", "import", str(path), "--dry-run", "--json"], cli_env)
    assert result.exit_code == 0, result.stderr
    assert (result.json()["added"], result.json()["dry_run"]) == (1, True)
    assert _list(cli_env) == []


def test_forced_wrong_encoding_names_the_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = _write(
        tmp_path, "sjis.csv", "A1,直方 太郎,直方市殿町1,,,0949-00-1111,,", encoding="cp932"
    )
    result = run_cli(["registry", "import", str(path), "--encoding", "utf-8", "--json"], cli_env)
    assert result.exit_code == 3
    (err,) = result.json()["errors"]
    assert "cannot decode as UTF-8" in err["message"]
    assert "line 1" in err["message"]
    auto = run_cli(["registry", "import", str(path), "--json"], cli_env)
    assert auto.exit_code == 0, auto.stderr
    assert auto.json()["added"] == 1


def test_missing_file_is_invalid_input(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["registry", "import", str(tmp_path / "nope.csv"), "--json"], cli_env)
    assert result.exit_code == 3
    assert "cannot read" in result.json()["errors"][0]["message"]


def test_human_list_goes_to_stderr_and_flags_problems(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        "flags.csv",
        "A1,直方 太郎,直方市殿町1,,,0949-00-1111,,",
        "A2,古賀 茂,直方市新町2,33.74,130.73,0949-00-2222,,聴覚",
    )
    assert run_cli(["registry", "import", str(path)], cli_env).exit_code == 0
    result = run_cli(["registry", "list"], cli_env)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "位置不明" in result.stderr
    assert "no working channel" in result.stderr
    items = _list(cli_env)
    assert [(i["id"], i["no_working_channel"]) for i in items] == [("A1", False), ("A2", True)]


def test_review_and_rejected_rows_in_list_and_health(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """#7 item 6: flagged residents and rejected rows stay visible to officers."""
    path = _write(
        tmp_path,
        "review.csv",
        "A1,直方 太郎,直方市殿町1,33.74,130.73,0949-00-1111,,",
        "A2,古賀 茂,直方市新町2,33.74,130.73,0949-22-11,090-1111-2222,",
        ",花田 キヨ,直方市感田3,,,0949-00-3333,,",
    )
    result = run_cli(["registry", "import", str(path), "--skip-invalid", "--json"], cli_env)
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert [r["id"] for r in doc["needs_review"]] == ["A2"]
    assert [(r["line"], r["id"]) for r in doc["rejected"]] == [(4, "")]
    listed = {i["id"]: i for i in _list(cli_env)}
    assert listed["A2"]["needs_review"] is True
    assert listed["A2"]["review_reasons"][0].startswith("電話番号: ")
    assert listed["A1"]["needs_review"] is False
    health = run_cli(["registry", "health", "--json"], cli_env)
    assert health.exit_code == 0, health.stderr
    kinds = [(d["kind"], d["resident_id"]) for d in health.json()]
    assert kinds == [("needs_review", "A2"), ("rejected_row", "")]
    assert "0949-22-11" not in health.stdout  # the bad number stays masked
    human = run_cli(["registry", "health"], cli_env)
    assert "要確認 / needs review" in human.stderr
    assert "rejected rows (1)" in human.stderr


def test_partial_register_is_refused_unless_allowed(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """#7 item 16: a 1-row file does not silently deactivate everyone else."""
    rows = [f"A{i},住民 {i},直方市殿町{i},33.74,130.73,0949-00-{1000 + i},," for i in range(5)]
    assert run_cli(["registry", "import", str(_write(tmp_path, "all.csv", *rows))], cli_env)
    one = _write(tmp_path, "one.csv", rows[0])
    dry = run_cli(["registry", "import", str(one), "--dry-run", "--json"], cli_env)
    assert dry.exit_code == 3
    assert dry.json()["removed_ids"] == ["A1", "A2", "A3", "A4"]
    assert "would deactivate 4 of 5" in " ".join(dry.stderr.split())
    assert "A1, A2, A3, A4" in dry.stderr
    refused = run_cli(["registry", "import", str(one), "--json"], cli_env)
    assert (refused.exit_code, refused.json()["written"]) == (3, False)
    assert len([i for i in _list(cli_env) if i["active"]]) == 5
    allowed = run_cli(["registry", "import", str(one), "--allow-removals", "--json"], cli_env)
    assert allowed.exit_code == 0, allowed.stderr
    assert allowed.json()["removed"] == 4
