"""CLI ``alert followup``: the door-knock sheet of one alert (terminal, JSON, CSV, HTML, PDF).

Mobility needs (要配慮事由) are shown only with ``--show-needs``, and every such use is
written to the audit log with the officer's identity: the sheet then carries health data.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from alertsvc import audit
from alertsvc.cli._common import emit_json, human, run_command, state_of
from alertsvc.db import session_scope
from alertsvc.errors import InputError
from alertsvc.reports.followup import (
    REASON_LABELS,
    FollowupSheet,
    GroupBy,
    attempt_line,
    build_followup,
    write_csv,
    write_html,
)

__all__ = ["followup", "register"]

_GROUPINGS: tuple[GroupBy, ...] = ("district", "supporter")


def register(app: typer.Typer) -> None:
    """Attach ``followup`` to the alert group."""
    from alertsvc.cli.alert import app as alert_app

    alert_app.command("followup")(followup)


def followup(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="Alert id (A…)."),
    json_out: bool = typer.Option(False, "--json", help="Print the sheet as JSON on stdout."),
    csv_file: Path | None = typer.Option(None, "--csv", help="Write the sheet as CSV."),
    html_file: Path | None = typer.Option(None, "--html", help="Write a printable HTML sheet."),
    pdf_file: Path | None = typer.Option(None, "--pdf", help="Write an A4 PDF sheet."),
    by: str = typer.Option("district", "--by", help="Group by: district | supporter."),
    show_needs: bool = typer.Option(
        False,
        "--show-needs",
        help="Include mobility needs (authorised officers only; written to the audit log).",
    ),
) -> None:
    """Door-knock sheet: everyone not confirmed safe, need-help first, grouped for teams."""
    state = state_of(ctx)

    def body() -> None:
        if by not in _GROUPINGS:
            raise InputError(f"--by: expected district or supporter, got {by!r}")
        for opt, path in (("--csv", csv_file), ("--html", html_file), ("--pdf", pdf_file)):
            if path is not None and not path.parent.is_dir():
                raise InputError(f"{opt}: folder {path.parent} does not exist")
        engine = state.engine
        with session_scope(engine) as s:
            sheet = build_followup(s, alert_id, by=by, show_needs=show_needs)
            if show_needs:
                audit.record(
                    s,
                    "alert.followup.show_needs",
                    {"alert_id": alert_id, "by": by},
                    {"people": len(sheet.people)},
                )
        written: list[str] = []
        if csv_file is not None:
            write_csv(sheet, csv_file)
            written.append(str(csv_file))
        if html_file is not None:
            write_html(sheet, html_file)
            written.append(str(html_file))
        if pdf_file is not None:
            from alertsvc.reports.followup_pdf import write_pdf

            pages = write_pdf(sheet, pdf_file)
            written.append(f"{pdf_file} ({pages} pages)")
        if json_out:
            emit_json(sheet.as_dict())
        else:
            _render(sheet)
        for w in written:
            human.print(f"書き出しました / written: {w}", markup=False)

    run_command(json_out, body)


def _render(sheet: FollowupSheet) -> None:
    head = "【訓練】" if sheet.exercise else ""
    human.print(
        f"{head}戸別訪問リスト / door-knock sheet {sheet.heading}: {len(sheet.people)} 人 / people",
        markup=False,
    )
    for g in sheet.groups:
        table = Table(title=f"{head}{g.title} ({len(g.people)})")
        for col in ("✓", "理由 / reason", "氏名 / name", "住所 / address", "階", "記録 / attempts"):
            table.add_column(col)
        for p in g.people:
            bell = "🔔 " if p.reason == "need_help" else ""
            table.add_row(
                "☐",
                head + bell + REASON_LABELS.get(p.reason, p.reason),
                p.name,
                p.address,
                "" if p.floor is None else str(p.floor),
                "\n".join(attempt_line(a) for a in p.attempts),
            )
        human.print(table)
