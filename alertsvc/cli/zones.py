"""CLI group ``zones``: import flood-zone files and list what is stored."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo as TimeZone

import typer
from rich.table import Table

from alertsvc.audit import current_actor
from alertsvc.cli._common import (
    AppState,
    emit_json,
    human,
    import_error_doc,
    run_command,
    state_of,
)
from alertsvc.db import session_scope
from alertsvc.errors import NotFound
from alertsvc.geo.zone_store import list_zone_sets, list_zones
from alertsvc.models import ImportReport, ZoneKind

app = typer.Typer(no_args_is_help=True, help="Flood zones / 浸水想定区域.")

_TOKYO = TimeZone("Asia/Tokyo")


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    path: Path = typer.Argument(
        ..., help="GeoJSON, GeoPackage, zipped Shapefile (.zip) or PLATEAU CityGML (.gml)."
    ),
    set_name: str = typer.Option(..., "--set", help="Zone set name; re-importing replaces it."),
    depth_field: str | None = typer.Option(
        None,
        "--depth-field",
        help="Depth attribute (default: first of A31a_205, 浸水ランク, depth_rank, depth_m). "
        "A field named depth_m or ending in _m holds metres; any other holds ranks 1–6.",
    ),
    kind: ZoneKind = typer.Option(ZoneKind.INUNDATION, "--kind", help="Zone kind."),
    crs: str | None = typer.Option(
        None, "--crs", help="CRS for a file that has none, e.g. EPSG:6670. Never overrides."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count; write nothing."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
) -> None:
    """Import a flood-zone file as zone set NAME (one transaction; all errors or nothing)."""
    state = state_of(ctx)

    def body() -> None:
        # geopandas/pyogrio load in ~0.5 s: only the import command pays for them
        from alertsvc.geo.zone_import import import_zones

        report = import_zones(
            state.engine,
            path,
            set_name,
            kind=kind,
            depth_field=depth_field,
            crs=crs,
            dry_run=dry_run,
            actor=current_actor(),
        )
        if not dry_run:
            _store_grown(state, set_name)
        if json_out:
            emit_json(report.as_dict())
        _render_report(report, set_name)

    run_command(json_out, body, on_error_json=import_error_doc)


def _store_grown(state: AppState, set_name: str) -> None:
    """Grow the imported zones by the edge tolerance now, so previews need not (a cache:
    a failure here is reported, and previews then grow the zones themselves)."""
    from alertsvc.geo.grown_store import store_grown_zones

    settings = state.settings
    try:
        with session_scope(state.engine) as session:
            store_grown_zones(
                session,
                set_name,
                tolerance_m=settings.targeting.edge_tolerance_m,
                metric_crs=settings.municipality.metric_crs,
            )
    except Exception as exc:  # a cache must never fail an import that is written
        human.print(
            f"[yellow]区域の拡張を保存できません / grown zones not stored: {type(exc).__name__}[/]"
        )


def _render_report(report: ImportReport, set_name: str) -> None:
    table = Table(title=f"区域セット / zone set {set_name}")
    for col in ("追加 added", "変更 changed", "削除 removed", "変更なし unchanged"):
        table.add_column(col, justify="right")
    table.add_row(
        str(report.added), str(report.changed), str(report.removed), str(report.unchanged)
    )
    human.print(table)
    for warning in report.warnings:
        human.print(f"[yellow]警告 / warning:[/] {warning}")
    if report.dry_run:
        human.print("試行のみ・書き込みなし / dry run: nothing written")
    else:
        human.print("取り込み完了 / imported")


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    set_names: list[str] | None = typer.Option(None, "--set", help="Only these sets."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
) -> None:
    """List zone sets and their zones (JSON: an array of zones)."""
    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            sets = list_zone_sets(session)
            unknown = [n for n in set_names or () if n not in {s.name for s in sets}]
            if unknown:
                raise NotFound(
                    "区域セットがありません / unknown zone set(s): " + ", ".join(unknown)
                )
            zones = list_zones(session, set_names or ())
        if json_out:
            emit_json(
                [
                    {
                        "id": z.id,
                        "set": z.set_name,
                        "kind": z.kind.value,
                        "depth_rank": z.depth_rank,
                        "depth_m": z.depth_m,
                        "name": z.name,
                        "bbox": list(z.bbox),
                    }
                    for z in zones
                ]
            )
        if not sets:
            human.print("区域はまだありません / no zones imported yet")
            return
        st = Table(title="区域セット / zone sets")
        for col in ("名前 name", "種別 kind", "区域数 features", "取込日時 imported (JST)", "CRS"):
            st.add_column(col)
        for s in sets:
            if set_names and s.name not in set_names:
                continue
            st.add_row(
                s.name,
                s.kind.value,
                str(s.feature_count),
                s.imported_at.astimezone(_TOKYO).strftime("%Y-%m-%d %H:%M"),
                s.source_crs,
            )
        human.print(st)
        zt = Table(title="区域 / zones")
        zt.add_column("ID", no_wrap=True)
        zt.add_column("種別 kind", no_wrap=True)
        zt.add_column("ランク rank", justify="right")
        zt.add_column("名称 name", max_width=30, overflow="ellipsis")
        zt.add_column("bbox (lon/lat)", overflow="fold")
        for z in zones:
            zt.add_row(
                z.id,
                z.kind.value,
                "" if z.depth_rank is None else str(z.depth_rank),
                z.name,
                " ".join(f"{v:.3f}" for v in z.bbox),
            )
        human.print(zt)

    run_command(json_out, body)
