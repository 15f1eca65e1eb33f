"""Zone sets in the database (SQLite and PostgreSQL): atomic replace, counts, audit,
nothing written on bad input, hostile strings stored verbatim, loading for targeting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import Engine, func, select

from alertsvc.db import session_scope
from alertsvc.db.tables import AuditEntry, Zone, ZoneSet
from alertsvc.errors import ScopeError, ZoneDataError
from alertsvc.geo.zone_import import import_zones, read_zones
from alertsvc.geo.zone_store import list_zone_sets, list_zones, load_zones
from alertsvc.models import ZoneKind

REPO = Path(__file__).resolve().parents[2]
DEMO_FLOOD = REPO / "zones" / "nogata_flood_synthetic.geojson"
DEMO_COLLAPSE = REPO / "zones" / "nogata_house_collapse_synthetic.geojson"


def _snapshot(engine: Engine) -> list[tuple[Any, ...]]:
    with session_scope(engine) as s:
        zones = s.execute(
            select(Zone.id, Zone.kind, Zone.depth_rank, Zone.name, Zone.geom_wkb).order_by(Zone.id)
        ).all()
        sets = s.execute(select(ZoneSet.name, ZoneSet.feature_count, ZoneSet.imported_at)).all()
        audits = s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    return [*map(tuple, zones), *map(tuple, sets), (audits,)]


def _write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def _demo_features() -> list[dict[str, Any]]:
    return list(json.loads(DEMO_FLOOD.read_text(encoding="utf-8"))["features"])


def test_import_then_reimport_counts_and_audit(engine: Engine, tmp_path: Path) -> None:
    first = import_zones(engine, DEMO_FLOOD, "nogata-flood", actor="officer-a")
    n = len(_demo_features())
    assert (first.added, first.changed, first.removed, first.unchanged) == (n, 0, 0, 0)
    assert first.written and not first.errors

    again = import_zones(engine, DEMO_FLOOD, "nogata-flood", actor="officer-a")
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, n)

    # change one depth, one geometry, drop the last two features
    feats = _demo_features()
    feats[0]["properties"]["depth_rank"] = 1 if feats[0]["properties"]["depth_rank"] != 1 else 2
    shifted = shapely.affinity.translate(shapely.geometry.shape(feats[1]["geometry"]), 0.0001)
    feats[1]["geometry"] = shapely.geometry.mapping(shifted)
    edited = _write_geojson(tmp_path / "edited.geojson", feats[:-2])
    third = import_zones(engine, edited, "nogata-flood", actor="officer-b")
    assert (third.added, third.changed, third.removed, third.unchanged) == (0, 2, 2, n - 4)

    with session_scope(engine) as s:
        ids = set(s.execute(select(Zone.id)).scalars())
        assert ids == {f"nogata-flood/{i}" for i in range(n - 2)}
        zset = s.get(ZoneSet, "nogata-flood")
        assert zset is not None and zset.feature_count == n - 2 and zset.source == str(edited)
        audits = s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    assert [a.action for a in audits] == ["zones.import"] * 3
    assert audits[-1].actor == "officer-b"
    assert audits[-1].args["set"] == "nogata-flood" and audits[-1].args["path"] == str(edited)
    assert audits[-1].result["changed"] == 2 and audits[-1].result["removed"] == 2


def test_stored_rows_match_the_file(engine: Engine) -> None:
    import_zones(engine, DEMO_FLOOD, "nogata-flood")
    expected = read_zones(DEMO_FLOOD).features
    with session_scope(engine) as s:
        rows = {z.id: z for z in s.execute(select(Zone)).scalars()}
        for f in expected:
            row = rows[f"nogata-flood/{f.index}"]
            assert row.kind == "inundation" and row.depth_rank == f.depth_rank
            assert row.name == f.name and row.properties == f.properties
            geom = shapely.from_wkb(row.geom_wkb)
            assert shapely.equals_exact(geom, f.geometry, tolerance=0)
            assert (row.min_lon, row.min_lat, row.max_lon, row.max_lat) == geom.bounds


def test_bad_file_leaves_the_database_unchanged(engine: Engine, tmp_path: Path) -> None:
    import_zones(engine, DEMO_FLOOD, "nogata-flood")
    before = _snapshot(engine)
    feats = _demo_features()
    feats[3]["geometry"] = None
    feats[5]["properties"]["depth_rank"] = "deep"
    bad = _write_geojson(tmp_path / "bad.geojson", feats)
    with pytest.raises(ZoneDataError) as exc:
        import_zones(engine, bad, "nogata-flood")
    assert [(e.line, e.column) for e in exc.value.errors] == [(3, "geometry"), (5, "depth_rank")]
    assert _snapshot(engine) == before


def test_dry_run_counts_but_writes_nothing(engine: Engine) -> None:
    report = import_zones(engine, DEMO_FLOOD, "nogata-flood", dry_run=True)
    assert report.dry_run and not report.written and report.added == len(_demo_features())
    assert _snapshot(engine) == [(0,)]


def test_hostile_strings_are_stored_verbatim(engine: Engine, tmp_path: Path) -> None:
    hostile = [
        "'); DROP TABLE zones; --",
        '=HYPERLINK("http://example.invalid","x")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "Robert'); DELETE FROM zone_sets WHERE ('1'='1",
    ]
    feats = [
        {
            "type": "Feature",
            "properties": {"name": text, "depth_rank": 2, "note": text},
            "geometry": shapely.geometry.mapping(
                shapely.box(130.72 + i * 0.002, 33.74, 130.721 + i * 0.002, 33.741)
            ),
        }
        for i, text in enumerate(hostile)
    ]
    path = _write_geojson(tmp_path / "hostile.geojson", feats)
    import_zones(engine, path, "x'; DROP TABLE zones; --")
    with session_scope(engine) as s:
        rows = s.execute(select(Zone).order_by(Zone.id)).scalars().all()
        assert [r.name for r in rows] == hostile
        assert [r.properties["note"] for r in rows] == hostile
        assert {r.set_name for r in rows} == {"x'; DROP TABLE zones; --"}


def test_load_zones_for_targeting(engine: Engine) -> None:
    import_zones(engine, DEMO_FLOOD, "flood")
    import_zones(engine, DEMO_COLLAPSE, "collapse", kind=ZoneKind.HOUSE_COLLAPSE)
    n_flood = len(_demo_features())
    with session_scope(engine) as s:
        everything = load_zones(s)
        flood = load_zones(s, ["flood"])
        picked = load_zones(s, zone_ids=["flood/10", "collapse/1", "flood/2"])
        both = load_zones(s, ["collapse"], ["flood/0", "collapse/0"])
    assert len(flood) == n_flood
    # numeric order of the feature index, not string order
    assert [z.id for z in flood][:12] == [f"flood/{i}" for i in range(12)]
    assert [z.id for z in picked] == ["collapse/1", "flood/2", "flood/10"]
    assert {z.kind for z in everything} == {ZoneKind.INUNDATION, ZoneKind.HOUSE_COLLAPSE}
    assert all(z.depth_rank is None for z in everything if z.set_name == "collapse")
    assert next(z.id for z in both) == "collapse/0" and "flood/0" in {z.id for z in both}
    assert len(both) == len({z.id for z in both})
    assert all(z.geometry.is_valid and z.geometry.geom_type == "Polygon" for z in flood)


def test_load_zones_names_every_unknown_set_and_zone(engine: Engine) -> None:
    import_zones(engine, DEMO_FLOOD, "flood")
    with session_scope(engine) as s, pytest.raises(ScopeError) as exc:
        load_zones(s, ["flood", "nope"], ["flood/0", "flood/999", "ghost/1"])
    msg = exc.value.message
    assert "'nope'" in msg and "'flood/999'" in msg and "'ghost/1'" in msg
    assert "'flood/0'" not in msg


def test_list_zone_sets_and_zones(engine: Engine) -> None:
    import_zones(engine, DEMO_FLOOD, "flood")
    import_zones(engine, DEMO_COLLAPSE, "collapse", kind=ZoneKind.HOUSE_COLLAPSE)
    with session_scope(engine) as s:
        sets = list_zone_sets(s)
        zones = list_zones(s, ["collapse"])
    assert [x.name for x in sets] == ["collapse", "flood"]
    flood = sets[1]
    assert flood.kind is ZoneKind.INUNDATION and flood.feature_count == len(_demo_features())
    assert flood.depth_field == "depth_rank" and flood.source_crs == "EPSG:4326"
    assert flood.imported_at.tzinfo is not None
    assert flood.bbox is not None
    union = shapely.union_all([f.geometry for f in read_zones(DEMO_FLOOD).features])
    assert flood.bbox == pytest.approx(union.bounds)
    assert {z.set_name for z in zones} == {"collapse"} and zones[0].depth_rank is None
