"""`alertsvc shelters import/list` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.clirun import run_cli

GSI = (
    "nogata_402044_evacuation_shelters.geojson",
    "nogata_402044_emergency_evacuation_sites.geojson",
)
ZONES_SHELTERS = Path(__file__).resolve().parents[2] / "zones" / "shelters"


def test_import_both_gsi_files_then_list(cli_env: dict[str, str], data_dir: Path) -> None:
    paths = [str(data_dir / "shelters" / name) for name in GSI]
    result = run_cli(["shelters", "import", *paths, "--json"], cli_env)
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert {k: doc[k] for k in ("added", "changed", "removed", "unchanged")} == {
        "added": 48,
        "changed": 0,
        "removed": 0,
        "unchanged": 0,
    }
    assert doc["errors"] == []
    assert "取り込み完了 / imported" in result.stderr

    listed = run_cli(["shelters", "list", "--json"], cli_env)
    assert listed.exit_code == 0, listed.stderr
    items = listed.json()
    assert len(items) == 48
    mizube = next(i for i in items if i["name"] == "遠賀川水辺館")
    assert mizube["id"] == "E4020400001111"
    assert mizube["kinds"] == ["指定避難所", "指定緊急避難場所"]
    assert "flood" in mizube["hazards"]
    assert (mizube["lat"], mizube["lon"]) == (33.74124, 130.731601)
    assert mizube["source_ids"] == ["E4020400001111", "E4020400001201"]
    assert {"address", "wheelchair", "capacity", "floors"} <= mizube.keys()


def test_import_the_data_folder_with_the_demo_welfare_csv(cli_env: dict[str, str]) -> None:
    result = run_cli(["shelters", "import", str(ZONES_SHELTERS), "--json"], cli_env)
    assert result.exit_code == 0, result.stderr
    assert result.json()["added"] == 51
    items = run_cli(["shelters", "list", "--json"], cli_env).json()
    welfare = [i for i in items if "福祉避難所" in i["kinds"]]
    assert len(welfare) == 3
    for item in welfare:
        assert item["wheelchair"] is True and "flood" in item["hazards"]
        assert 130.70 <= item["lon"] <= 130.77 and 33.72 <= item["lat"] <= 33.78
        assert item["name"].startswith("（架空）")  # fictional, and says so


def test_bad_file_exits_3_with_all_errors_and_writes_nothing(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,name,address,lat,lon,kind\nA,a,b,33.7,999,指定避難所\nA,c,d,33.7,130.7,shelterx\n",
        encoding="utf-8",
    )
    result = run_cli(["shelters", "import", str(bad), "--json"], cli_env)
    assert result.exit_code == 3
    doc = result.json()
    assert doc["added"] == 0 and doc["written"] is False
    assert {(e["line"], e["column"]) for e in doc["errors"]} == {(2, "location"), (3, "kind")}
    assert all(e["message"].startswith("bad.csv:") for e in doc["errors"])
    assert run_cli(["shelters", "list", "--json"], cli_env).json() == []


def test_human_list_shows_markup_looking_names_verbatim(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "rich.csv"
    path.write_text(
        "id,name,address,lat,lon,kind,wheelchair\nR1,[red]避難所[/red],x,33.7,130.7,福祉避難所,はい\n",
        encoding="utf-8",
    )
    assert run_cli(["shelters", "import", str(path)], cli_env).exit_code == 0
    result = run_cli(["shelters", "list"], cli_env)
    assert result.exit_code == 0
    assert "[red]避難所[/red]" in result.stderr
    assert result.stdout == ""
