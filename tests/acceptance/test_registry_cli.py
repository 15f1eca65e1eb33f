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
    assert doc["added"] == 1
    assert [(e["line"], e["column"]) for e in doc["errors"]] == [(3, "緯度")]
    assert [i["id"] for i in _list(cli_env)] == ["A1"]


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
