"""CLI: ``alertsvc registry check`` — the pre-season check (#10 item 6).

``registry check --exercise [--sample N [--seed S] | --resident ID] [--timeout S] [--json]``
sends a 【訓練】 message through every channel of every active resident (or a seeded
random sample, or one resident) to the addresses on ``exercise.allow_list``, runs a
worker in this process until every message is settled or the timeout passes, and reports
who could not be reached on which channel. ``--exercise`` is required: a check is always
an exercise, and the flag makes the officer say so (without it: exit 3, nothing sent).

Exit codes: 0 every resident checked was reached on some channel (or could not be
tried: off the allow-list); 1 at least one resident has no working channel or was not
reached on any channel tried, or the check did not settle within ``--timeout`` (or it
failed: database, configuration); 3 bad arguments, nothing sent.
``registry health`` shows the newest check again (``print_check``).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from alertsvc.audit import current_actor
from alertsvc.channels import Channel
from alertsvc.cli._common import AppState, emit_json, human, run_command, state_of
from alertsvc.db import session_scope
from alertsvc.errors import AlertsvcError, InputError
from alertsvc.models import ChannelName
from alertsvc.services.check_report import (
    FINDING_LABELS,
    ChannelResult,
    CheckReport,
    check_report,
)

__all__ = ["print_check", "register"]

# rows of the human table: the first problems, then "… and N more"
SHOWN = 20

STATUS_LABELS: dict[str, str] = {
    "reached": "到達 reached",
    "no_working_channel": "連絡手段なし no working channel",
    "not_reached": "未到達 not reached",
    "unknown": "不明 unknown",
    "in_progress": "送信中 in progress",
    "not_checked": "未点検 not checked",
}


_ORDER = ("no_working_channel", "not_reached", "unknown", "in_progress", "not_checked", "reached")


def register(app: typer.Typer) -> None:
    """Attach ``check`` to the ``registry`` group."""
    from alertsvc.cli.registry import app as registry_app

    registry_app.command("check")(check_cmd)


def _build(
    state: AppState, wanted: set[ChannelName]
) -> tuple[dict[ChannelName, Channel], dict[ChannelName, str]]:
    """Build each wanted channel on its own: one that cannot start is reported, not fatal."""
    built: dict[ChannelName, Channel] = {}
    why: dict[ChannelName, str] = {}
    for channel in sorted(wanted):
        try:
            got = dict(state.channels(state.settings, [channel]))
        except AlertsvcError as exc:
            why[channel] = exc.message[:200]
            continue
        if channel in got:
            built[channel] = got[channel]
            why[channel] = ""
        else:
            why[channel] = "not configured"
    return built, why


def check_cmd(
    ctx: typer.Context,
    exercise: bool = typer.Option(
        False, "--exercise", help="Required: the check sends 【訓練】 (exercise) messages only."
    ),
    sample: int | None = typer.Option(
        None, "--sample", help="Check a random sample of N active residents."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of the --sample (default: random; printed and stored)."
    ),
    resident: str | None = typer.Option(None, "--resident", help="Check one resident (名簿番号)."),
    timeout: float = typer.Option(
        600.0, "--timeout", min=1.0, help="Seconds to wait for the messages to settle."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """連絡先の点検 / pre-season check: a 【訓練】 message through every channel of every
    active resident (allow-listed addresses only); reports who could not be reached."""
    from alertsvc.registry.store import load_residents
    from alertsvc.services.check import (
        Selection,
        channels_needed,
        finish_check,
        plan_check,
        refusal_details,
        run_check,
        select_residents,
        start_check,
    )

    state = state_of(ctx)

    def body() -> None:
        if not exercise:
            raise InputError(
                "点検は訓練としてのみ送信します。--exercise を付けてください / a check sends "
                "exercise (【訓練】) messages only: add --exercise (nothing was sent)"
            )
        selection = Selection.from_options(sample=sample, seed=seed, resident_id=resident)
        settings = state.settings
        engine = state.engine
        allow = settings.exercise.allow_list
        with session_scope(engine) as s:
            chosen = select_residents(load_residents(s), selection)
            refusals = refusal_details(s, [r.id for r in chosen])
        channels, why = _build(state, channels_needed(chosen, allow))
        plan = plan_check(
            chosen,
            allow_list=allow,
            channels=why,
            municipality=settings.municipality.name,
            refusals=refusals,
        )
        actor = current_actor()
        with session_scope(engine) as s:
            check_id = start_check(s, plan, selection, allow_list=allow, actor=actor)
        seed_text = f", seed {selection.seed}" if selection.seed is not None else ""
        human.print(f"【訓練】点検を送信中 / exercise check {check_id} sending:", markup=False)
        human.print(
            f"  {len(chosen)} 人 residents · {len(plan.deliveries)} 通 messages · "
            f"{selection.mode}{seed_text}",
            markup=False,
        )
        try:
            run_check(engine, channels, settings, check_id, timeout=timeout)
        finally:
            with session_scope(engine) as s:
                finish_check(s, check_id, actor=actor)
        with session_scope(engine) as s:
            report = check_report(s, check_id)
        if json_out:
            emit_json(report.as_dict())
        print_check(report, settings.municipality.timezone)
        if report.failing or not report.complete:
            raise typer.Exit(1)

    run_command(json_out, body)


def print_check(report: CheckReport, timezone: str = "Asia/Tokyo") -> None:
    """The report for people (stderr), Japanese first, summarised for 80 columns."""
    from zoneinfo import ZoneInfo

    when = report.started_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    sel = report.selection
    who = {
        "all": "全員 / all active residents",
        "sample": f"抽出 / sample of {sel.get('sample')} (seed {sel.get('seed')})",
        "resident": f"1人 / one resident: {sel.get('resident_id')}",
    }.get(str(sel.get("mode")), "")
    human.print(f"[bold]【訓練】連絡先点検 / pre-season check {report.check_id}[/]")
    human.print(f"  {when} · {escape(who)}")
    c = report.counts
    labels = list(STATUS_LABELS)
    for part in (labels[:3], labels[3:]):
        human.print("  " + " · ".join(f"{STATUS_LABELS[k]} {c.get(k, 0)}" for k in part))
    human.print(
        f"  通数 messages {c.get('messages', 0)} — 確認 confirmed "
        f"{c.get('channels_confirmed', 0)} · 受付 accepted {c.get('channels_accepted', 0)}"
    )
    human.print(
        f"    失敗 failed {c.get('channels_failed', 0)} · 不明 unknown "
        f"{c.get('channels_unknown', 0)} · 未点検 not checked {c.get('channels_not_checked', 0)}"
    )
    if report.findings:
        human.print("  発見 / findings:")
        for k, n in report.findings.items():
            human.print(f"    - {FINDING_LABELS.get(k, k)}: {n}", markup=False)
    none = ChannelResult("—", "—", "not_checked", "no_contact", "")
    # the people nothing reaches first, then the rest; a reached resident's failures too
    rank = {status: n for n, status in enumerate(_ORDER)}
    problems = [
        (r.resident_id, r.status, ch)
        for r in sorted(report.residents, key=lambda r: rank.get(r.status, 0))
        for ch in (r.channels or (none,))
        if r.status != "reached" or ch.result in ("failed", "refused_before")
    ]
    if problems:
        table = Table(title="要対応 / needs attention", width=80)
        for col in ("名簿番号 id", "状態 status", "手段", "連絡先 contact", "結果 finding"):
            table.add_column(col, overflow="fold")
        for rid, status, ch in problems[:SHOWN]:
            table.add_row(
                escape(rid),
                STATUS_LABELS.get(status, status).split(" ")[0],
                ch.channel,
                escape(ch.address),
                escape(_finding_text(ch.result, ch.finding)),
            )
        human.print(table)
        if len(problems) > SHOWN:
            human.print(f"  … ほか {len(problems) - SHOWN} 件 / and {len(problems) - SHOWN} "
                        "more (--json for all)")  # fmt: skip
    failing = len(report.failing)
    if failing:
        human.print(
            f"[bold red]{failing} 人に届く手段がありません。直接連絡してください[/]\n"
            f"[bold red]{failing} not reachable on any channel: contact them directly[/]"
        )
    if not report.complete:
        human.print("[yellow]時間内に終わらなかった通知があります (--timeout)[/]")
        human.print("[yellow]some messages were not settled in time (--timeout)[/]")


def _finding_text(result: str, finding: str | None) -> str:
    label = FINDING_LABELS.get(finding or "", finding or "").split(" / ")[0]
    if result == "refused_before":
        return f"{label}(既知)" if label else "以前に拒否済み"
    if label:
        return label
    return {"unknown": "不明", "in_progress": "送信中", "not_checked": "未点検"}.get(result, result)


def check_doc(report: CheckReport | None) -> dict[str, Any] | None:
    """``registry health --json``'s ``last_check`` entry (None: there was no check)."""
    if report is None:
        return None
    return {"kind": "last_check", **report.as_dict()}
