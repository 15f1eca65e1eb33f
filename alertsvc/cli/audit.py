"""CLI group ``audit``: verify the hash chain, show entries."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select

from alertsvc.cli._common import emit_json, human, run_command, state_of
from alertsvc.db import session_scope

app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print {ok, entries, head_hash, broken}."),
) -> None:
    """Check every link of the audit chain. Exit 1 naming the first broken link."""
    from alertsvc.audit import verify_chain

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            report = verify_chain(session)
        if json_out:
            emit_json(report.as_dict())
        if report.broken is not None:
            human.print(
                "[bold red]監査ログが改ざんされています / audit chain broken:[/] "
                f"{report.broken.reason}",
                markup=True,
            )
            raise typer.Exit(1)
        human.print(
            f"監査ログは正常です / audit chain intact: {report.entries} 件 / entries, "
            f"head {report.head_hash}"
        )

    run_command(json_out, body)


_ALERT_KEYS = (
    "alert_id",
    "parent_id",
    "original_alert_id",
    "notice_alert_id",
    "followup_alert_id",
    "cancellation_alert_id",
)


def _mentions(doc: dict[str, Any], alert_id: str) -> bool:
    return any(doc.get(key) == alert_id for key in ("alert_id", "parent_id", "original_alert_id"))


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    alert: str | None = typer.Option(None, "--alert", help="Only entries about this alert."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list of entries."),
) -> None:
    """List audit entries, oldest first (exercise entries are marked 【訓練】)."""
    from zoneinfo import ZoneInfo

    from alertsvc.db.tables import Alert, AuditEntry

    state = state_of(ctx)

    def body() -> None:
        tz = ZoneInfo(state.settings.municipality.timezone)
        with session_scope(state.engine) as session:
            exercise_ids = set(session.scalars(select(Alert.id).where(Alert.exercise)))
            docs: list[dict[str, Any]] = []
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
                if alert is not None and not (
                    _mentions(e.args, alert) or _mentions(e.result, alert)
                ):
                    continue
                # any alert the entry is about: itself, its parent, the notices it made
                ids = {
                    doc.get(key)
                    for doc in (e.args, e.result)
                    for key in _ALERT_KEYS
                    if isinstance(doc.get(key), str)
                }
                docs.append(
                    {
                        "id": e.id,
                        "at": e.at.isoformat(),
                        "actor": e.actor,
                        "action": e.action,
                        "exercise": bool(e.args.get("exercise")) or bool(ids & exercise_ids),
                        "args": e.args,
                        "result": e.result,
                        "hash": e.hash,
                    }
                )
        if json_out:
            emit_json(docs)
        table = Table(title=f"監査ログ / audit log ({len(docs)})")
        for col in ("#", "時刻 / at", "担当 / operator", "操作 / action", "内容 / args"):
            table.add_column(col)
        for d in docs:
            import datetime as dt

            when = dt.datetime.fromisoformat(d["at"]).astimezone(tz).strftime("%m-%d %H:%M:%S")
            mark = "【訓練】" if d["exercise"] else ""
            table.add_row(str(d["id"]), when, d["actor"], mark + d["action"], _short(d["args"]))
        human.print(table)

    run_command(json_out, body)


def _short(args: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in args.items() if k != "scope")
    return text if len(text) <= 80 else text[:79] + "…"
