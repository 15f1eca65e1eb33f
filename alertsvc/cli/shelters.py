"""CLI group ``shelters``: import the GSI/CSV shelter files, list what is stored."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from alertsvc.cli._common import emit_json, human, import_error_doc, run_command, state_of
from alertsvc.db import session_scope
from alertsvc.geo.shelter_import import import_shelters
from alertsvc.geo.shelter_store import (
    StoredShelter,
    load_stored_shelters,
    sorted_hazards,
    sorted_kinds,
)
from alertsvc.models import ImportReport

app = typer.Typer(help="避難所 / shelters.", no_args_is_help=True)


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        ..., help="GSI .geojson and/or .csv files, or directories holding them."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count; write nothing."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Replace all shelters with the merged content of PATHS, in one transaction.

    The same facility in the 指定避難所 and the 指定緊急避難場所 file (same name and
    address) becomes one shelter with both roles. Any invalid row: nothing is written.
    """
    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            report = import_shelters(session, paths, dry_run=dry_run)
        if json_out:
            emit_json(report.as_dict())
        _render_report(report)

    run_command(json_out, body, on_error_json=import_error_doc)


def _render_report(report: ImportReport) -> None:
    table = Table(title="避難所の取り込み / shelter import")
    for col in ("追加 added", "変更 changed", "削除 removed", "変更なし unchanged"):
        table.add_column(col, justify="right")
    table.add_row(
        str(report.added), str(report.changed), str(report.removed), str(report.unchanged)
    )
    human.print(table)
    for w in report.warnings:
        human.print(f"  注意 / warning: {w}", markup=False)
    if report.dry_run:
        human.print("試行のみ、書き込みなし / dry run, nothing written")
    else:
        human.print("取り込み完了 / imported")


def _as_json(s: StoredShelter) -> dict[str, object]:
    i = s.info
    return {
        "id": i.id,
        "name": i.name,
        "name_kana": i.name_kana,
        "address": i.address,
        "lat": i.lat,
        "lon": i.lon,
        "kinds": sorted_kinds(i.kinds),
        "hazards": sorted_hazards(i.hazards),
        "wheelchair": i.wheelchair,
        "capacity": i.capacity,
        "floors": i.floors,
        "source_ids": list(s.source_ids),
    }


def _yes_no(value: bool | None) -> str:
    return "不明 unknown" if value is None else "○ yes" if value else "× no"


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List stored shelters: id, name, kinds, flood suitability, wheelchair access."""
    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            shelters = load_stored_shelters(session)
        if json_out:
            emit_json([_as_json(s) for s in shelters])
        table = Table(title=f"避難所 / shelters ({len(shelters)})")
        for col in ("ID", "名称 name", "種別 kinds", "洪水 flood", "車いす wheelchair"):
            table.add_column(col, overflow="fold")
        for s in shelters:
            # names come from input files: escape them so Rich never reads them as markup
            table.add_row(
                escape(s.info.id),
                escape(s.info.name),
                escape("・".join(sorted_kinds(s.info.kinds))),
                "○" if "flood" in s.info.hazards else "×",
                _yes_no(s.info.wheelchair),
            )
        human.print(table)
        if not shelters:
            human.print("避難所が登録されていません / no shelters stored")

    run_command(json_out, body)
