"""CLI group ``alert``: preview and send (status/cancel live in cli/delivery.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from alertsvc.audit import record
from alertsvc.cli._common import (
    emit_json,
    emit_json_stream,
    human,
    paused_gc,
    run_command,
    state_of,
)
from alertsvc.db import session_scope
from alertsvc.errors import ScopeError
from alertsvc.models import Level

if TYPE_CHECKING:
    # imported lazily at run time: the CLI must start even while a room is broken
    from alertsvc.services.preview import Preview

app = typer.Typer(help="Alerts: preview, send, status, cancel.", no_args_is_help=True)

LEVEL_HELP = "警戒レベル: 3 高齢者等避難, 4 避難指示, 5 緊急安全確保"


def parse_level(value: int) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise ScopeError(f"--level must be 3, 4 or 5 ({LEVEL_HELP}); got {value}") from None


def render_preview_human(preview: Preview, *, show_contacts: bool) -> None:
    """The officer's summary on stderr."""
    from alertsvc.services.preview import human_duration

    counts = preview.counts()
    head = f"警戒レベル{int(preview.level)} {preview.level.label_ja}"
    if preview.exercise:
        head = "【訓練】" + head
    human.rule(f"[bold]{head} — プレビュー / preview[/]")
    human.print(
        f"対象 / targets: [bold]{counts['targets']}[/] 人 "
        f"(縁のみ / edge only {counts['edge_only']}, 家屋倒壊 / house collapse "
        f"{counts['house_collapse']}) · 支援者への通知 / supporter notices {counts['supporters']}"
    )
    table = Table(title="内訳 / breakdown", show_lines=False)
    table.add_column("項目 / item")
    table.add_column("件数 / count", justify="right")
    for label, key in (
        ("浸水ランク / depth rank", "by_depth_rank"),
        ("行動 / action", "by_action"),
        ("最初の連絡手段 / first channel", "by_first_channel"),
        ("言語 / language", "by_language"),
    ):
        for value, n in counts[key].items():
            table.add_row(f"{label}: {value}", str(n))
    human.print(table)
    est = counts["estimate_seconds"]
    if est:
        parts = ", ".join(
            f"{ch} {counts['first_messages'][ch]}件 ≈ {human_duration(sec)}"
            for ch, sec in est.items()
        )
        human.print(f"送信所要時間の目安 / time to hand over first messages: {parts}")
        voice_n = counts["first_messages"].get("voice", 0)
        if voice_n:
            human.print(
                f"[yellow]音声通話は毎秒{preview.rates[_voice()]:g}件のため、{voice_n}件の発信に"
                f"{human_duration(est['voice'])}かかります / calls are placed at "
                f"{preview.rates[_voice()]:g} per second: {voice_n} calls take "
                f"{human_duration(est['voice'])}[/]"
            )
    render_contact_directly(preview, human)
    if not show_contacts:
        human.print("連絡先は伏せ字です (--show-contacts で表示) / contacts masked")
    samples = Table(title="文例 / sample messages", show_lines=True)
    for col in ("手段 / channel", "言語 / lang", "本文 / text", "分割 / segments"):
        samples.add_column(col)
    for sample in preview.samples():
        text = f"{sample['title']}\n{sample['body']}" if sample["title"] else sample["body"]
        samples.add_row(sample["channel"], sample["language"], text, str(sample["segments"] or ""))
    human.print(samples)


# rows of the contact-directly list shown on the terminal; the files hold every row
DIRECT_ROWS_SHOWN = 20


def render_contact_directly(preview: Preview, out: Console) -> None:
    """The first people to contact directly, in an 80-column table, and how many in all.

    Thousands of table rows help nobody at a terminal: the whole list (with addresses)
    is in the ``--csv`` file and on the ``--map`` page.
    """
    rows = [
        (p.target.resident.id, p.target.resident.name, p.unreachable_reason or "")
        for p in preview.unreachable
    ]
    rows += [(r.id, r.name, "位置不明 / unlocated") for r in preview.unlocated]
    rows += [
        (r.id, r.name, "要確認 / needs review: " + "; ".join(r.review_reasons))
        for r in preview.needs_review
    ]
    direct = Table(title=f"[bold red]要直接連絡 / contact directly: {len(rows)} 人[/]")
    direct.add_column("名簿番号 / id", no_wrap=True, max_width=14)
    direct.add_column("氏名 / name", no_wrap=True, max_width=16)
    direct.add_column("理由 / reason", overflow="ellipsis", no_wrap=True, max_width=38)
    for row in rows[:DIRECT_ROWS_SHOWN]:
        direct.add_row(*row)
    out.print(direct)
    if len(rows) > DIRECT_ROWS_SHOWN:
        out.print(
            f"ほか{len(rows) - DIRECT_ROWS_SHOWN}人: 全員と住所は --csv / --map に / "
            f"{len(rows) - DIRECT_ROWS_SHOWN} more: the full list with addresses is in the "
            "--csv file and the --map page"
        )


def _voice() -> Any:
    from alertsvc.models import ChannelName

    return ChannelName.VOICE


def load_scope_and_preview(
    state: Any,
    *,
    level: int | None,
    zone_sets: list[str],
    zone_ids: list[str],
    area: Path | None,
    exercise: bool,
    draft_id: str | None = None,
    cap: str | None = None,
    cap_alerts: list[Any] | None = None,
) -> Preview:
    """Resolve the scope (from options, an open draft or a CAP alert) and plan the alert."""
    from alertsvc.errors import InputError
    from alertsvc.services.drafts import load_draft
    from alertsvc.services.preview import build_preview
    from alertsvc.services.scope import resolve_scope, scope_from_dict

    with session_scope(state.engine) as session:
        if cap is not None:
            from alertsvc.interop.cap_scope import cap_scope

            if draft_id is not None or zone_sets or zone_ids or area is not None:
                raise ScopeError(
                    "--cap cannot be combined with --draft, --zone-set, --zone, --area"
                )
            found = cap_scope(session, state.settings, cap, level, cap_alerts)
            if found.exercise and not exercise:
                human.print("CAP の status が Actual ではないため訓練として扱います / "
                            "CAP status is not Actual: planned as an exercise")  # fmt: skip
            if found.references:
                human.print(f"参照先 / references: {', '.join(found.references)}")
            lvl, scope = parse_level(found.level), found.scope
            exercise = exercise or found.exercise
            return build_preview(session, state.settings, level=lvl, scope=scope,
                                 exercise=exercise)  # fmt: skip
        if draft_id is not None:
            if level is not None or zone_sets or zone_ids or area is not None:
                raise ScopeError(
                    "--draft の範囲とレベルは下書きのものです / --draft cannot be combined "
                    "with --level, --zone-set, --zone or --area"
                )
            draft = load_draft(session, draft_id)
            if draft.state != "open":
                raise InputError(
                    f"下書きは送信済みまたは破棄済みです / draft {draft_id} is {draft.state}"
                    + (f" (alert {draft.alert_id})" if draft.alert_id else "")
                )
            if exercise and not draft.exercise:
                raise ScopeError(f"draft {draft_id} is not an exercise; drop --exercise")
            lvl = parse_level(draft.level)
            scope = scope_from_dict(session, draft.scope)
            exercise = draft.exercise
        else:
            if level is None:
                raise ScopeError(f"--level is required ({LEVEL_HELP}), or --draft ID")
            lvl = parse_level(level)
            scope = resolve_scope(session, zone_sets, zone_ids, area)
        return build_preview(session, state.settings, level=lvl, scope=scope, exercise=exercise)


@app.command("preview")
def preview_cmd(
    ctx: typer.Context,
    level: int | None = typer.Option(None, "--level", help=LEVEL_HELP),
    zone_set: list[str] = typer.Option([], "--zone-set", help="Zone set name (repeatable)."),
    zone: list[str] = typer.Option([], "--zone", help="Zone id (repeatable)."),
    area: Path | None = typer.Option(None, "--area", help="Area polygon file (GeoJSON…)."),
    exercise: bool = typer.Option(False, "--exercise", help="【訓練】 exercise wording."),
    json_out: bool = typer.Option(False, "--json", help="Print the preview as JSON on stdout."),
    map_file: Path | None = typer.Option(None, "--map", help="Write a self-contained HTML map."),
    csv_file: Path | None = typer.Option(None, "--csv", help="Write the officer's target list."),
    show_contacts: bool = typer.Option(
        False, "--show-contacts", help="Show full phone numbers and tokens (audited)."
    ),
    draft: str | None = typer.Option(None, "--draft", help="Preview a saved draft."),
    cap: str | None = typer.Option(None, "--cap", help="Scope from a CAP 1.2 file or URL."),
    save_draft: bool = typer.Option(
        False, "--save-draft", help="Save this level and scope as a draft to send later."
    ),
) -> None:
    """Show who would be alerted, with which action, shelter, language and channel."""
    state = state_of(ctx)

    def body() -> None:
        from alertsvc.cli.interop import notice_instead

        # a CAP Update/Cancel acts on the alert it references: no new alert
        handled, cap_alerts = notice_instead(state, cap, None, level, send=False, yes=False,
            json_out=json_out, combined=bool(zone_set or zone or area or draft or exercise
                                             or save_draft))  # fmt: skip
        if handled:
            return
        preview = load_scope_and_preview(
            state,
            level=level,
            zone_sets=zone_set,
            zone_ids=zone,
            area=area,
            exercise=exercise,
            draft_id=draft,
            cap=cap,
            cap_alerts=cap_alerts,
        )
        draft_id: str | None = None
        if save_draft:
            from alertsvc.services.drafts import save_draft as store_draft

            with session_scope(state.engine) as session:
                draft_id = store_draft(session, preview)
        if map_file is not None:
            from alertsvc.reports.map_html import write_map

            write_map(preview, map_file)
        if csv_file is not None:
            from alertsvc.reports.target_csv import write_target_csv

            write_target_csv(preview, csv_file, show_contacts=show_contacts)
        if show_contacts:
            # disclosing full contacts is recorded, with what was disclosed and where
            with session_scope(state.engine) as session:
                record(
                    session,
                    "alert.preview.show_contacts",
                    {
                        "level": level,
                        "scope": preview.scope.as_dict(),
                        "csv": str(csv_file) if csv_file else None,
                        "json": json_out,
                    },
                    {"targets": len(preview.plans)},
                )
        if json_out:
            # streamed a row at a time: a city's document is never held whole
            sections = preview.json_sections(show_contacts=show_contacts)
            if draft_id is not None:
                sections.append(("draft_id", draft_id))
            emit_json_stream(sections)
        else:
            # the JSON document is the answer: a human table of thousands of rows is not
            render_preview_human(preview, show_contacts=show_contacts)
        if draft_id is not None:
            human.print(
                f"[bold]下書きを保存しました / draft saved: {draft_id}[/] — "
                f"alertsvc alert send --draft {draft_id}"
            )
        if map_file is not None:
            human.print(f"地図を書き出しました / map written: {map_file}")
        if csv_file is not None:
            human.print(f"対象者一覧を書き出しました / target list written: {csv_file}")

    with paused_gc():
        run_command(json_out, body)


def confirmation_phrase(level: Level, exercise: bool) -> str:
    """What the officer must type to send (unless --yes)."""
    return f"{'訓練' if exercise else '送信'} レベル{int(level)}"


def _accepted(typed: str, level: Level, exercise: bool) -> bool:
    import unicodedata

    norm = " ".join(unicodedata.normalize("NFKC", typed).split()).lower()
    english = f"{'exercise' if exercise else 'send'} level {int(level)}"
    return norm in (confirmation_phrase(level, exercise), english)


@app.command("send")
def send_cmd(
    ctx: typer.Context,
    level: int | None = typer.Option(None, "--level", help=LEVEL_HELP),
    zone_set: list[str] = typer.Option([], "--zone-set", help="Zone set name (repeatable)."),
    zone: list[str] = typer.Option([], "--zone", help="Zone id (repeatable)."),
    area: Path | None = typer.Option(None, "--area", help="Area polygon file (GeoJSON…)."),
    exercise: bool = typer.Option(
        False, "--exercise", help="【訓練】: only addresses on the exercise allow-list."
    ),
    yes: bool = typer.Option(False, "--yes", help="Skip the typed confirmation."),
    json_out: bool = typer.Option(False, "--json", help="Print {alert_id, deliveries}."),
    draft: str | None = typer.Option(
        None, "--draft", help="Send a saved draft (its level and scope; re-planned now)."
    ),
    cap: str | None = typer.Option(None, "--cap", help="Scope from a CAP 1.2 file or URL."),
) -> None:
    """Send an alert: preview, typed confirmation, then one outbox row per message.

    Exit 1 when the confirmation is not given (nothing is written).
    """
    state = state_of(ctx)

    def body() -> None:
        from alertsvc.cli.interop import notice_instead
        from alertsvc.services.send import send_preview

        # a CAP Update/Cancel, or a draft updating a live alert (the watcher's escalation)
        handled, cap_alerts = notice_instead(state, cap, draft, level, send=True, yes=yes,
            json_out=json_out, combined=bool(zone_set or zone or area or exercise
                                             or (draft and cap)))  # fmt: skip
        if handled:
            return
        preview = load_scope_and_preview(
            state,
            level=level,
            zone_sets=zone_set,
            zone_ids=zone,
            area=area,
            exercise=exercise,
            draft_id=draft,
            cap=cap,
            cap_alerts=cap_alerts,
        )
        render_preview_human(preview, show_contacts=False)
        if _held_for_approval(state, preview, draft, json_out):
            return
        if not yes and not _confirmed(preview):
            if json_out:
                emit_json({"error": "not confirmed", "alert_id": None, "deliveries": 0})
            human.print("[red]確認されなかったため送信しません / not confirmed: nothing sent[/]")
            raise typer.Exit(1)
        with session_scope(state.engine) as session:
            result = send_preview(session, state.settings, preview)
            if cap_alerts:
                from alertsvc.services.cap_notices import remember_cap

                # a later CAP Update/Cancel from the same sender finds this alert
                remember_cap(session, result.alert_id, cap_alerts)
            if draft is not None:
                from alertsvc.services.drafts import claim_draft

                # same transaction: a draft is sent exactly once
                claim_draft(session, draft, result.alert_id)
        if json_out:
            emit_json({"alert_id": result.alert_id, "deliveries": result.deliveries})
        human.print(
            f"[bold green]送信を受け付けました / alert queued:[/] {result.alert_id} "
            f"({result.deliveries} 件 / deliveries, {result.targets} 人 / people). "
            "`alertsvc worker` が送信します / `alertsvc worker` sends them."
        )

    run_command(json_out, body)


def _held_for_approval(state: Any, preview: Preview, draft: str | None, json_out: bool) -> bool:
    """Two-person rule: save (or keep) the alert as a draft awaiting approval.

    True when it was held: the command then prints {"draft_id", "needs_approval": true}
    and exits 0. Whatever the flags, an alert that needs approval is never sent before a
    different officer approved it (``alert approve``).
    """
    from alertsvc.services.approval import hold_for_approval, is_approved
    from alertsvc.services.drafts import load_draft

    needs = state.settings.approval.needs_approval(
        int(preview.level), len(preview.plans), preview.exercise
    )
    if not needs:
        return False
    with session_scope(state.engine) as session:
        if draft is not None and is_approved(load_draft(session, draft)):
            return False
        draft_id = hold_for_approval(session, preview, draft_id=draft)
    if json_out:
        emit_json({"draft_id": draft_id, "needs_approval": True})
    human.print(
        f"[bold yellow]承認が必要です / needs approval:[/] 下書き / draft {draft_id}. "
        f"別の担当者が / another officer runs: alertsvc alert approve {draft_id}; then "
        f"alertsvc alert send --draft {draft_id}"
    )
    return True


def _confirmed(preview: Preview) -> bool:
    """Exercise: the typed phrase. Live: a one-time code, at a terminal only."""
    import sys

    if preview.exercise:
        phrase = confirmation_phrase(preview.level, preview.exercise)
        human.print(
            f"[bold]送信するには「{phrase}」と入力してください / to send, type "
            f"'exercise level {int(preview.level)}':[/]"
        )
        try:
            return _accepted(input("> "), preview.level, preview.exercise)
        except EOFError:
            return False
    if not sys.stdin.isatty():
        human.print(
            "本番送信の確認は端末で行います (スクリプトは --yes) / a live send is confirmed "
            "at a terminal (scripts use --yes)"
        )
        return False
    from alertsvc.services.approval import confirm_with_code, one_time_code

    def ask(prompt: str) -> str:
        # the prompt goes to stderr with the rest of the human text; stdout stays JSON
        human.print(prompt, end="", markup=False)
        try:
            return input()
        except EOFError:
            return ""

    return confirm_with_code(
        level=int(preview.level),
        recipients=len(preview.plans),
        code=one_time_code(),
        say=lambda text: human.print(text, markup=False),
        ask=ask,
    )


@app.command("drafts")
def drafts_cmd(
    ctx: typer.Context,
    all_states: bool = typer.Option(False, "--all", help="Include sent and discarded drafts."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List alert drafts (open ones by default)."""
    from zoneinfo import ZoneInfo

    from alertsvc.services.drafts import list_drafts

    state = state_of(ctx)

    def body() -> None:
        tz = ZoneInfo(state.settings.municipality.timezone)
        with session_scope(state.engine) as session:
            drafts = list_drafts(session, open_only=not all_states)
            docs: list[dict[str, Any]] = [
                {
                    "draft_id": d.id,
                    "level": d.level,
                    "state": d.state,
                    "exercise": d.exercise,
                    "source": d.source,
                    "scope": {k: v for k, v in d.scope.items() if k != "area_wkt"},
                    "created_by": d.created_by,
                    "created_at": d.created_at.isoformat(),
                    "alert_id": d.alert_id,
                }
                for d in drafts
            ]
            local = [d.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") for d in drafts]
        if json_out:
            emit_json(docs)
        table = Table(title=f"下書き / drafts ({len(docs)})")
        for col in ("id", "レベル / level", "状態 / state", "範囲 / scope", "作成 / created"):
            table.add_column(col)
        for doc, when in zip(docs, local, strict=True):
            scope: dict[str, Any] = doc["scope"]
            table.add_row(
                str(doc["draft_id"]),
                str(doc["level"]) + (" 【訓練】" if doc["exercise"] else ""),
                str(doc["state"]),
                ", ".join([*scope.get("zone_sets", []), *scope.get("zone_ids", [])])
                + (" +area" if scope.get("area_file") else ""),
                f"{when} {doc['created_by']}",
            )
        human.print(table)

    run_command(json_out, body)
