"""Shelter import into the database (SQLite and PostgreSQL) and loading for planning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from alertsvc.db import session_scope
from alertsvc.db.tables import AuditEntry, Shelter
from alertsvc.errors import ShelterDataError
from alertsvc.geo.shelter_import import import_shelters
from alertsvc.geo.shelter_store import load_shelters, load_stored_shelters

GSI = (
    "nogata_402044_evacuation_shelters.geojson",
    "nogata_402044_emergency_evacuation_sites.geojson",
)


def _gsi(data_dir: Path) -> list[Path]:
    return [data_dir / "shelters" / name for name in GSI]


def test_real_gsi_import_and_load(engine: Engine, data_dir: Path) -> None:
    with session_scope(engine) as session:
        report = import_shelters(session, _gsi(data_dir), actor="tester")
    assert (report.added, report.changed, report.removed, report.unchanged) == (48, 0, 0, 0)
    assert report.written and not report.errors

    with session_scope(engine) as session:
        shelters = load_shelters(session)
    assert len(shelters) == 48
    mizube = next(s for s in shelters if s.name == "遠賀川水辺館")
    assert mizube.kinds == {"指定避難所", "指定緊急避難場所"}
    assert "flood" in mizube.hazards

    # coordinates, names and addresses come back exactly as in the 指定避難所 file
    raw = json.loads(_gsi(data_dir)[0].read_text(encoding="utf-8"))["features"]
    by_id = {s.id: s for s in shelters}
    for feature in raw:
        props = feature["properties"]
        stored = by_id[props["共通ID"]]
        lon, lat = feature["geometry"]["coordinates"]
        assert (round(stored.lon, 6), round(stored.lat, 6)) == (round(lon, 6), round(lat, 6))
        assert (stored.name, stored.address) == (props["施設・場所名"], props["住所"])

    with session_scope(engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "shelters.import")
        ).one()
    assert entry.actor == "tester" and entry.result["added"] == 48


def test_reimport_counts_and_removal(engine: Engine, data_dir: Path, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        import_shelters(session, [*_gsi(data_dir), data_dir / "shelters" / "welfare_sample.csv"])
    with session_scope(engine) as session:
        again = import_shelters(
            session, [*_gsi(data_dir), data_dir / "shelters" / "welfare_sample.csv"]
        )
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 49)

    # without the CSV: TW-001 goes away, 遠賀川水辺館 loses its 福祉避難所 role
    with session_scope(engine) as session:
        report = import_shelters(session, _gsi(data_dir))
    assert (report.added, report.changed, report.removed, report.unchanged) == (0, 1, 1, 47)
    with session_scope(engine) as session:
        stored = {s.info.id: s for s in load_stored_shelters(session)}
    assert "TW-001" not in stored
    assert stored["E4020400001111"].source_ids == ("E4020400001111", "E4020400001201")
    assert stored["E4020400001111"].info.wheelchair is None


def test_dry_run_writes_no_shelter(engine: Engine, data_dir: Path) -> None:
    with session_scope(engine) as session:
        report = import_shelters(session, _gsi(data_dir), dry_run=True)
    assert report.added == 48 and report.dry_run and not report.written
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Shelter)) == 0


def test_bad_input_leaves_existing_shelters_untouched(
    engine: Engine, data_dir: Path, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        import_shelters(session, _gsi(data_dir))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,address,lat,lon,kind\nA,a,b,33.7,999,指定避難所\n", encoding="utf-8")
    with pytest.raises(ShelterDataError), session_scope(engine) as session:
        import_shelters(session, [*_gsi(data_dir), bad])
    with session_scope(engine) as session:
        assert len(load_shelters(session)) == 48
        audits = session.scalar(select(func.count()).select_from(AuditEntry))
    assert audits == 1


def test_injection_strings_round_trip(engine: Engine, tmp_path: Path) -> None:
    name = "Robert'); DROP TABLE shelters;--"
    path = tmp_path / "inj.csv"
    path.write_text(
        f'id,name,address,lat,lon,kind\n"=1+1","{name}","@SUM(A1)",33.7,130.7,指定避難所\n',
        encoding="utf-8",
    )
    with session_scope(engine) as session:
        import_shelters(session, [path])
    with session_scope(engine) as session:
        (s,) = load_shelters(session)
    assert (s.id, s.name, s.address) == ("=1+1", name, "@SUM(A1)")
