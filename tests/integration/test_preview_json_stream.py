"""`alert preview --json` streams its document a row at a time (#12): the bytes equal the
whole document encoded at once, --save-draft still adds its id, and zones import stores
the grown zones that the preview then loads instead of growing them."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.config import Settings
from alertsvc.db import make_engine
from alertsvc.db.tables import GrownZoneCache
from alertsvc.geo import grown_zones as gz
from alertsvc.geo.grown_store import load_grown_zones
from alertsvc.models import Level
from alertsvc.services.preview import build_preview
from alertsvc.services.scope import resolve_scope
from tests.acceptance.demo_data import FLOOD, import_demo
from tests.clirun import run_cli


def test_streamed_json_is_the_whole_document(
    cli_env: dict[str, str], db_url: str, settings: Settings
) -> None:
    import_demo(cli_env)
    res = run_cli(
        ["alert", "preview", "--level", "4", "--zone-set", "flood", "--json"], env=cli_env
    )
    assert res.exit_code == 0, res.stderr
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            scope = resolve_scope(session, ["flood"])
            preview = build_preview(session, settings, level=Level.EVACUATE, scope=scope)
    finally:
        engine.dispose()
    doc = preview.as_json()
    assert len(doc["targets"]) > 100 and doc["supporters"]
    whole = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
    assert res.stdout == whole + "\n"

    saved = run_cli(
        ["alert", "preview", "--level", "4", "--zone-set", "flood", "--json", "--save-draft"],
        env=cli_env,
    )
    assert saved.exit_code == 0, saved.stderr
    got = saved.json()
    assert list(got)[-1] == "draft_id" and got["draft_id"]
    assert {k: v for k, v in got.items() if k != "draft_id"} == json.loads(whole)


def test_zones_import_stores_grown_zones_the_preview_loads(
    cli_env: dict[str, str], db_url: str, settings: Settings
) -> None:
    import_demo(cli_env)
    engine = make_engine(db_url)
    tol = settings.targeting.edge_tolerance_m
    crs = settings.municipality.metric_crs
    try:
        with Session(engine) as session:
            sets = session.execute(select(GrownZoneCache.set_name)).scalars().all()
            assert sorted(sets) == ["collapse", "flood"]
            zones = [z.geometry for z in resolve_scope(session, ["flood"]).zones]
            gz._GROWN_CACHE.clear()
            assert load_grown_zones(session, zones, tolerance_m=tol, metric_crs=crs)
            assert len(gz._GROWN_CACHE) == 1
            # another tolerance is another key: nothing stored for it
            assert not load_grown_zones(session, zones, tolerance_m=tol + 1, metric_crs=crs)
            keys = set(session.execute(select(GrownZoneCache.key)).scalars())
        # a re-import replaces the set's row (same content: same key, one row per set)
        res = run_cli(["zones", "import", str(FLOOD), "--set", "flood", "--json"], env=cli_env)
        assert res.exit_code == 0, res.stderr
        with Session(engine) as session:
            assert set(session.execute(select(GrownZoneCache.key)).scalars()) == keys
            # deleting the set's zones drops its rows with it (ON DELETE CASCADE)
            from alertsvc.db.tables import ZoneSet

            session.delete(session.get(ZoneSet, "collapse"))
            session.commit()
            left = session.execute(select(GrownZoneCache.set_name)).scalars().all()
            assert left == ["flood"]
    finally:
        engine.dispose()
