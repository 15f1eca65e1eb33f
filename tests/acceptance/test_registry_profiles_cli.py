"""`alertsvc registry import PATH --profile NAME|FILE` end to end (issue 11 item 6)."""

from __future__ import annotations

from pathlib import Path

from tests.clirun import run_cli

DATA = Path(__file__).resolve().parents[1] / "data" / "jp_register"


def test_ishinomaki_dummy_export_imports_through_the_shipped_profile(
    cli_env: dict[str, str],
) -> None:
    path = DATA / "lgdpm_juki_import_dummy_test.csv"
    result = run_cli(
        ["registry", "import", str(path), "--profile", "lgdpm-juki", "--json"], cli_env
    )
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["added"] == 100 and doc["errors"] == [] and doc["written"] is True
    # every row accounted for: imported, and flagged where it has no coordinates/contact
    flagged = {w["line"] for w in doc["warnings"] if "no working channel" in w["message"]}
    assert flagged == set(range(1, 101))  # the export's own physical lines (no header)
    listed = run_cli(["registry", "list", "--json", "--unmasked"], cli_env).json()
    first = next(r for r in listed if r["id"] == "000000000000001")
    assert first["name"] == "今居 厚"
    assert first["address"] == "東京都千代田区一ツ橋一丁目ビル１"


def test_another_layout_is_refused_row_by_row_with_lines(cli_env: dict[str, str]) -> None:
    path = DATA / "lgdpm_juki_import_dummy_layout_err.csv"
    result = run_cli(
        [
            "registry",
            "import",
            str(path),
            "--profile",
            "lgdpm-juki",
            "--encoding",
            "utf-8",
            "--json",
        ],
        cli_env,
    )
    assert result.exit_code == 3
    doc = result.json()
    assert [e["line"] for e in doc["errors"]] == list(range(1, 101))
    assert "expects 32 columns" in doc["errors"][0]["message"]
    assert run_cli(["registry", "list", "--json"], cli_env).json() == []


def test_a_profile_file_with_codes_flags_and_kept_characters(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    profile = tmp_path / "city.toml"
    profile.write_text(
        """
name = "city"
encoding = "utf-8"
[fields]
id = "番号"
name = { column = ["姓", "名"], sep = " " }
address = "住所"
landline = "電話"
fax = "ＦＡＸ"
needs = { column = "障害種別", codes = { "03" = "聴覚", "04" = "視覚" } }
[flags]
"寝たきり" = "bedridden"
""",
        encoding="utf-8",
    )
    export = tmp_path / "export.csv"
    export.write_text(
        "番号,姓,名,住所,電話,ＦＡＸ,障害種別,寝たきり\n"
        "7,髙﨑,花子,直方市殿町①-1,0949-22-1111,0949-22-1112,03,1\n",
        encoding="utf-8",
    )
    result = run_cli(
        ["registry", "import", str(export), "--profile", str(profile), "--json"], cli_env
    )
    assert result.exit_code == 0, result.stderr
    (person,) = run_cli(["registry", "list", "--json", "--unmasked"], cli_env).json()
    assert (person["name"], person["address"]) == ("髙﨑 花子", "直方市殿町①-1")
    assert sorted(person["needs"]) == ["bedridden", "hearing"]
    assert {c["kind"] for c in person["contacts"]} == {"landline", "fax"}


def test_unknown_profile_and_bad_profile_are_exit_3(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = DATA / "lgdpm_juki_import_dummy_test.csv"
    missing = run_cli(["registry", "import", str(path), "--profile", "nosuch", "--json"], cli_env)
    assert missing.exit_code == 3 and "lgdpm-juki" in missing.stdout + missing.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[fields]\nshoe_size = "x"\n', encoding="utf-8")
    wrong = run_cli(["registry", "import", str(path), "--profile", str(bad), "--json"], cli_env)
    assert wrong.exit_code == 3 and "shoe_size" in wrong.stdout + wrong.stderr
