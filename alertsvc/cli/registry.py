"""CLI group: registry — import and list the 避難行動要支援者名簿 (support register).

``alertsvc registry import PATH [--dry-run] [--encoding auto|utf-8|cp932] [--skip-invalid]
[--allow-removals] [--profile NAME|FILE]`` prints ``RegisterReport.as_dict()`` with
``--json``. Exit 3 (nothing written) on any invalid row unless ``--skip-invalid``; then
every row with a usable id, name and address is written (bad optional cells cleared, the
resident flagged needs_review), the rejected rows recorded, and the exit code is 0. Exit 3
too when more than ``registry.max_removal_share`` of the active residents would be
deactivated, unless ``--allow-removals``. ``alertsvc registry list`` shows residents with
contacts masked; ``registry health`` lists refused contacts, residents needing review,
rejected rows and the newest pre-season check (``registry check``, cli/registry_check.py).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from alertsvc import audit
from alertsvc.cli._common import emit_json, human, import_error_doc, run_command, state_of
from alertsvc.db import session_scope
from alertsvc.errors import AlertsvcError
from alertsvc.models import ContactKind, ImportReport
from alertsvc.planning.channel_order import channel_order
from alertsvc.registry import (
    RegisterEntry,
    RegisterImportFailed,
    RegisterReport,
    import_register,
    list_register,
    mask_phone,
    mask_token,
)
from alertsvc.registry.profiles import load_profile

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="避難行動要支援者名簿 / the support register.")


class Encoding(enum.StrEnum):
    AUTO = "auto"
    UTF8 = "utf-8"
    CP932 = "cp932"


def _error_report(exc: AlertsvcError) -> dict[str, object]:
    if isinstance(exc, RegisterImportFailed):
        if isinstance(exc.report, RegisterReport):
            _print_lists(exc.report)
        return exc.report.as_dict()
    return import_error_doc(exc)


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="Register CSV (UTF-8, UTF-8 with BOM or CP932)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count; write nothing."),
    encoding: Encoding = typer.Option(Encoding.AUTO, "--encoding", help="File encoding."),
    skip_invalid: bool = typer.Option(
        False,
        "--skip-invalid",
        help="Write every row with a usable id, name and address (bad optional cells "
        "cleared, resident flagged for review); record and report the others.",
    ),
    allow_removals: bool = typer.Option(
        False,
        "--allow-removals",
        help="Allow deactivating more than registry.max_removal_share of active residents.",
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        help="Mapping profile for a municipality's own export: a shipped name "
        "(lgdpm-juki) or a .toml file (README: Mapping profiles).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Import (upsert) a register CSV; residents missing from it are deactivated."""
    state = state_of(ctx)

    def body() -> None:
        mapping = load_profile(profile) if profile else None
        report = import_register(
            state.engine,
            path,
            encoding=encoding.value,
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            allow_removals=allow_removals,
            max_removal_share=state.settings.registry.max_removal_share,
            actor=audit.current_actor(),
            profile=mapping,
        )
        if json_out:
            emit_json(report.as_dict())
        _print_report(report)

    run_command(json_out, body, on_error_json=_error_report)


def _print_lists(report: RegisterReport) -> None:
    """Who would be deactivated, who needs review, which rows were rejected (stderr)."""
    if report.removed_ids:
        verb = "無効化 / deactivated" if report.written else "無効化予定 / would be deactivated"
        shown = ", ".join(report.removed_ids[:200])
        more = f" … (+{len(report.removed_ids) - 200})" if len(report.removed_ids) > 200 else ""
        human.print(f"{verb} ({len(report.removed_ids)}): {shown}{more}", markup=False)
    for record in report.needs_review:
        human.print(
            f"  要確認 / needs review: {record.id} (line {record.line}): "
            + "; ".join(record.review),
            markup=False,
        )
    for rejected in report.rejected:
        human.print(
            f"  取り込めない行 / rejected row: line {rejected.line} "
            f"(名簿番号 {rejected.resident_id!r}): " + "; ".join(rejected.reasons),
            markup=False,
        )


def _print_report(report: ImportReport) -> None:
    counts = (
        f"追加 added {report.added}, 変更 changed {report.changed}, "
        f"無効化 removed {report.removed}, 変更なし unchanged {report.unchanged}"
    )
    if report.dry_run:
        human.print(f"検証のみ（書き込みなし） / dry run, nothing written: {counts}")
    else:
        human.print(f"取り込み完了 / imported: {counts}")
    for warning in report.warnings[:50]:
        human.print(f"  [yellow]注意 / warning[/] {warning}", markup=True)
    if len(report.warnings) > 50:
        human.print(f"  … and {len(report.warnings) - 50} more warnings")
    if report.errors:
        human.print(
            f"[bold red]{len(report.errors)} 件の不正な行を除外 / invalid rows skipped:[/]",
            markup=True,
        )
        for error in report.errors:
            human.print(f"  - {error}", markup=False)
    if isinstance(report, RegisterReport):
        _print_lists(report)


def _contact_doc(kind: ContactKind, address: str, healthy: bool, unmasked: bool) -> dict[str, Any]:
    if unmasked:
        shown = address
    else:
        shown = mask_token(address) if kind == ContactKind.PUSH else mask_phone(address)
    return {"kind": kind.value, "address": shown, "healthy": healthy}


def _entry_doc(entry: RegisterEntry, unmasked: bool) -> dict[str, Any]:
    r = entry.resident
    order = channel_order(r.needs, r.contacts, r.channel_pref)
    return {
        "id": r.id,
        "name": r.name,
        "address": r.address,
        "located": r.located,
        "lat": r.lat,
        "lon": r.lon,
        "floor": r.floor,
        "language": r.language,
        "needs": sorted(n.value for n in r.needs),
        "channels": [c.value for c in order.channels],
        "no_working_channel": entry.no_working_channel,
        "unreachable_reason": order.unreachable_reason,
        "needs_review": bool(r.review_reasons),
        "review_reasons": list(r.review_reasons),
        "contacts": [_contact_doc(c.kind, c.address, c.healthy, unmasked) for c in r.contacts],
        "supporters": [
            {
                "name": s.name,
                "phone": (s.phone if unmasked else mask_phone(s.phone)) if s.phone else None,
            }
            for s in r.supporters
        ],
        "consent": r.consent,
        "active": entry.active,
        "deactivated_at": entry.deactivated_at.isoformat() if entry.deactivated_at else None,
    }


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    active_only: bool = typer.Option(False, "--active-only", help="Hide deactivated residents."),
    unmasked: bool = typer.Option(
        False, "--unmasked", help="Show full phone numbers and tokens (authorised officers)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List residents: location or 位置不明, channels, active; contacts masked by default."""
    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            entries = list_register(session, active_only=active_only)
        docs = [_entry_doc(e, unmasked) for e in entries]
        if json_out:
            emit_json(docs)
        _print_table(docs)

    run_command(json_out, body)


def _print_table(docs: list[dict[str, Any]]) -> None:
    table = Table(title="避難行動要支援者名簿 / support register")
    for column in (
        "名簿番号 id",
        "氏名 name",
        "位置 location",
        "連絡手段 channels",
        "連絡先 contacts",
    ):
        table.add_column(column)
    table.add_column("状態 state")
    unlocated = unreachable = inactive = review = 0
    for doc in docs:
        if doc["located"]:
            where = f"{doc['lat']:.5f}, {doc['lon']:.5f}"
        else:
            where = "[bold yellow]位置不明 / unlocated[/]"
            unlocated += 1
        if doc["no_working_channel"]:
            channels = "[bold red]連絡手段なし / no working channel[/]"
            unreachable += 1
        else:
            channels = ", ".join(doc["channels"])
        contacts = " ".join(f"{c['kind']}:{c['address']}" for c in doc["contacts"]) or "—"
        state = "有効 active" if doc["active"] else "[dim]無効 inactive[/]"
        inactive += 0 if doc["active"] else 1
        if doc["needs_review"]:
            state += " [bold yellow]要確認 needs review[/]"
            review += 1
        table.add_row(doc["id"], _escape(doc["name"]), where, channels, contacts, state)
    human.print(table)
    human.print(
        f"{len(docs)} 人 / residents; 位置不明 unlocated {unlocated}; "
        f"連絡手段なし no working channel {unreachable}; 無効 inactive {inactive}; "
        f"要確認 needs review {review}"
    )


def _escape(text: str) -> str:
    # names are data: a "[" in a name must not be read as Rich markup
    from rich.markup import escape

    return escape(text)


@app.command("health")
def health_cmd(
    ctx: typer.Context,
    unmasked: bool = typer.Option(False, "--unmasked", help="Show full numbers and tokens."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Register health: contacts a provider refused, who lost their last channel, residents
    flagged for review on import, and rows the last import could not store.

    ``--json`` prints one list; review and rejected-row entries have ``kind``
    ``needs_review`` / ``rejected_row`` and the reasons in ``detail``; the newest
    pre-season check (``registry check``) is the last entry, ``kind`` ``last_check``.
    """
    from alertsvc.cli.registry_check import check_doc, print_check
    from alertsvc.redact import mask_address
    from alertsvc.registry.store import contact_health, rejected_rows, review_list
    from alertsvc.services.check import latest_check_id
    from alertsvc.services.check_report import check_report

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            items = contact_health(session)
            review = review_list(session)
            rejected = rejected_rows(session)
            check_id = latest_check_id(session)
            last = check_report(session, check_id, unmasked=unmasked) if check_id else None
        docs = [
            {
                "resident_id": h.resident_id,
                "kind": h.kind,
                "address": h.address if unmasked else mask_address(h.address),
                "healthy": h.healthy,
                "blocked": list(h.blocked),
                "detail": h.detail,
                "changed_at": h.changed_at.isoformat() if h.changed_at else None,
                "resident_reachable": h.resident_reachable,
            }
            for h in items
        ]
        extra = _review_docs(review, rejected)
        last_doc = check_doc(last)
        if json_out:
            emit_json(docs + extra + ([last_doc] if last_doc else []))
        table = Table(title=f"連絡先の状態 / contact health ({len(docs)})")
        for col in (
            "名簿番号 / id",
            "氏名 / name",
            "種別 / kind",
            "連絡先 / contact",
            "停止 / blocked",
            "理由 / detail",
            "到達可能 / reachable",
        ):
            table.add_column(col)
        for h, doc in zip(items, docs, strict=True):
            table.add_row(
                h.resident_id,
                _escape(h.resident_name),
                h.kind,
                str(doc["address"]),
                "全て / all" if not h.healthy else ", ".join(h.blocked),
                _escape(h.detail),
                "はい / yes" if h.resident_reachable else "[bold red]いいえ / NO[/]",
            )
        human.print(table)
        _print_review(extra)
        lost = sum(1 for h in items if not h.resident_reachable)
        if lost:
            human.print(
                f"[bold red]{lost} 件は連絡手段が残っていません。直接連絡してください / "
                f"{lost} contacts belong to residents with no working channel left: contact "
                "them directly[/]"
            )
        if last is None:
            human.print(
                "連絡先点検は未実施です / no pre-season check yet: "
                "alertsvc registry check --exercise"
            )
        else:
            print_check(last, state.settings.municipality.timezone)

    run_command(json_out, body)


def _review_docs(review: list[Any], rejected: list[Any]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {
            "resident_id": r.id,
            "kind": "needs_review",
            "name": r.name,
            "detail": "; ".join(r.review_reasons),
            "reasons": list(r.review_reasons),
            "contact": "直接連絡 / contact directly",
        }
        for r in review
    ]
    docs.extend(
        {
            "resident_id": row.resident_id,
            "kind": "rejected_row",
            "source": row.source,
            "line": row.line,
            "detail": "; ".join(row.reasons),
            "reasons": list(row.reasons),
            "recorded_at": row.recorded_at.isoformat(),
        }
        for row in rejected
    )
    return docs


def _print_review(docs: list[dict[str, Any]]) -> None:
    review = [d for d in docs if d["kind"] == "needs_review"]
    rejected = [d for d in docs if d["kind"] == "rejected_row"]
    if review:
        table = Table(title=f"[bold yellow]要確認 / needs review ({len(review)})[/]")
        for col in ("名簿番号 / id", "氏名 / name", "理由 / reason"):
            table.add_column(col)
        for d in review:
            table.add_row(d["resident_id"], _escape(d["name"]), _escape(d["detail"]))
        human.print(table)
    if rejected:
        table = Table(title=f"[bold red]取り込めなかった行 / rejected rows ({len(rejected)})[/]")
        for col in ("ファイル / file", "行 / line", "名簿番号 / id", "理由 / reason"):
            table.add_column(col)
        for d in rejected:
            table.add_row(
                _escape(d["source"]),
                str(d["line"]),
                _escape(repr(d["resident_id"])),
                _escape(d["detail"]),
            )
        human.print(table)
