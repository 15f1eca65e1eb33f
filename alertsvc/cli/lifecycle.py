"""``alert approve`` (two-person rule) and the later life of an alert: ``update``,
``correct``, ``clear``. Registered on the ``alert`` group (kept out of cli/alert.py).

Every command takes ``--operator`` (else ``$ALERTSVC_OPERATOR``, else the OS user): the
name written to the audit log and checked by the two-person rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from alertsvc.cli._common import emit_json, human, run_command, state_of
from alertsvc.db import session_scope

__all__ = ["register"]

OPERATOR_HELP = "Officer name for the audit log (else $ALERTSVC_OPERATOR, else the OS user)."


def _actor(operator: str | None) -> str:
    from alertsvc.audit import current_actor

    return operator or current_actor()


def approve_cmd(
    ctx: typer.Context,
    draft_id: str = typer.Argument(..., help="The draft that `alert send` held for approval."),
    operator: str | None = typer.Option(None, "--operator", help=OPERATOR_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print {draft_id, approved_by}."),
) -> None:
    """Approve a held alert (two-person rule). Exit 1 if you wrote it: nothing changes."""
    from alertsvc.services.approval import approve_draft

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            draft = approve_draft(session, draft_id, actor=_actor(operator))
            doc = {
                "draft_id": draft.id,
                "approved_by": draft.approved_by,
                "author": draft.created_by,
                "level": draft.level,
            }
        if json_out:
            emit_json(doc)
        human.print(
            f"[bold green]承認しました / approved:[/] {draft_id} — alertsvc alert send "
            f"--draft {draft_id}"
        )

    run_command(json_out, body)


def _print_result(doc: dict[str, object], json_out: bool, what: str) -> None:
    if json_out:
        emit_json(doc)
    human.print(
        f"[bold green]{what}:[/] {doc['alert_id']} — 停止 / stopped {doc['stopped']}, "
        f"通知 / notices {doc['notified']}"
        + (
            f", 追加 / new messages {doc['followup_deliveries']}"
            if doc["followup_deliveries"]
            else ""
        )
        + (
            f", 送信中の結果待ち / awaiting in-flight sends {doc['awaiting_outcome']}"
            if doc.get("awaiting_outcome")
            else ""
        )
        + ". `alertsvc worker` が送信します / `alertsvc worker` sends them."
    )


def update_cmd(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="The original alert."),
    level: int = typer.Option(..., "--level", help="The new, higher 警戒レベル (4 or 5)."),
    zone_set: list[str] = typer.Option([], "--zone-set", help="Zone set (default: as sent)."),
    zone: list[str] = typer.Option([], "--zone", help="Zone id (repeatable)."),
    area: Path | None = typer.Option(None, "--area", help="Area polygon file."),
    operator: str | None = typer.Option(None, "--operator", help=OPERATOR_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Raise an alert's level: the reached get the new message, the newly in scope the alert."""
    from alertsvc.cli.alert import parse_level
    from alertsvc.dispatch.alerts import load_alert
    from alertsvc.services.lifecycle import update_alert
    from alertsvc.services.preview import build_preview
    from alertsvc.services.scope import resolve_scope, scope_from_dict

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            root = load_alert(session, alert_id)
            if zone_set or zone or area is not None:
                scope = resolve_scope(session, zone_set, zone, area)
            else:
                scope = scope_from_dict(session, root.scope)
            preview = build_preview(
                session, state.settings, level=parse_level(level), scope=scope,
                exercise=root.exercise,
            )  # fmt: skip
            result = update_alert(
                session, state.settings, alert_id, preview, actor=_actor(operator)
            )
        _print_result(result.as_dict(), json_out, "更新しました / updated")

    run_command(json_out, body)


def correct_cmd(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="The original alert."),
    text: str | None = typer.Option(None, "--text", help="The correction, as residents read it."),
    shelter: str | None = typer.Option(None, "--shelter", help="Shelter id: the right shelter."),
    operator: str | None = typer.Option(None, "--operator", help=OPERATOR_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """訂正: a correction to exactly the people the alert reached."""
    from alertsvc.db.tables import Shelter
    from alertsvc.errors import InputError, NotFound
    from alertsvc.services.lifecycle import correct_alert

    state = state_of(ctx)

    def body() -> None:
        if (text is None) == (shelter is None):
            raise InputError(
                "--text か --shelter のどちらか一つ / give exactly one of --text, --shelter"
            )
        with session_scope(state.engine) as session:
            wording = text or ""
            if shelter is not None:
                row = session.get(Shelter, shelter)
                if row is None:
                    raise NotFound(f"避難所がありません / no such shelter: {shelter}")
                wording = f"避難先 / Shelter: {row.name}" + (
                    f"（{row.address}）" if row.address else ""
                )
        from alertsvc.services.lifecycle import stop_unsent

        # two transactions: the stop commits at once (within a second for any size),
        # then the correction and the reissued messages are written
        with session_scope(state.engine) as session:
            stopped = stop_unsent(session, alert_id, actor=_actor(operator))
        with session_scope(state.engine) as session:
            result = correct_alert(
                session, state.settings, alert_id, actor=_actor(operator), text=wording,
                stopped=stopped,
            )  # fmt: skip
        _print_result(result.as_dict(), json_out, "訂正しました / corrected")

    run_command(json_out, body)


def clear_cmd(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="The original alert."),
    operator: str | None = typer.Option(None, "--operator", help=OPERATOR_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """解除: tell everyone alerted that the order is lifted, close the alert."""
    from alertsvc.services.lifecycle import clear_alert

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            result = clear_alert(session, state.settings, alert_id, actor=_actor(operator))
        _print_result(result.as_dict(), json_out, "解除しました / all clear")

    run_command(json_out, body)


def fix_shelter_cmd(
    ctx: typer.Context,
    shelter_id: str = typer.Argument(..., help="Shelter id."),
    name: str | None = typer.Option(None, "--name", help="The corrected name."),
    address: str | None = typer.Option(None, "--address", help="The corrected address."),
    operator: str | None = typer.Option(None, "--operator", help=OPERATOR_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print {shelter_id, rewritten}."),
) -> None:
    """Quiet fix: correct a shelter's name/address in unsent messages, re-notifying nobody."""
    from alertsvc.services.lifecycle import quiet_fix_shelter

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            result = quiet_fix_shelter(
                session, shelter_id, actor=_actor(operator), name=name, address=address
            )
        if json_out:
            emit_json(result.as_dict())
        human.print(
            f"避難所を修正しました (再通知なし) / shelter fixed quietly: {shelter_id}, "
            f"{result.rewritten} 件の未送信メッセージ / unsent messages rewritten"
        )

    run_command(json_out, body)


def send_update_draft(state: Any, draft_id: str, *, yes: bool, json_out: bool) -> bool:
    """``alert send --draft ID`` for a draft that updates a live alert (the watcher's
    escalation): the same path as ``alert update``. False when the draft is an ordinary
    one (the caller sends it as a new alert). Exit 1 when not confirmed."""
    from alertsvc.cli.interop import confirm_notice
    from alertsvc.errors import InputError
    from alertsvc.services.drafts import apply_update_draft, load_draft

    with session_scope(state.engine) as session:
        draft = load_draft(session, draft_id)
        root_id = (draft.scope or {}).get("updates")
        if not root_id:
            return False
        if draft.state != "open":
            raise InputError(f"下書きは送信済みまたは破棄済みです / draft {draft_id} is "
                             f"{draft.state}")  # fmt: skip
    human.print(f"下書き {draft_id} はアラート {root_id} の更新です / draft {draft_id} updates "
                f"alert {root_id}: alertsvc alert update {root_id}")  # fmt: skip
    if not yes and not confirm_notice(str(root_id)):
        if json_out:
            emit_json({"error": "not confirmed", "alert_id": None, "deliveries": 0})
        human.print("[red]確認されなかったため送信しません / not confirmed: nothing sent[/]")
        raise typer.Exit(1)
    with session_scope(state.engine) as session:
        result = apply_update_draft(session, state.settings, draft_id, actor=_actor(None))
    assert result is not None
    _print_result({**result.as_dict(), "draft_id": draft_id}, json_out, "更新しました / updated")
    return True


def register(_root: typer.Typer) -> None:
    """Attach the lifecycle commands to the ``alert`` group."""
    from alertsvc.cli.alert import app as alert_app

    alert_app.command("approve")(approve_cmd)
    alert_app.command("update")(update_cmd)
    alert_app.command("correct")(correct_cmd)
    alert_app.command("clear")(clear_cmd)
    alert_app.command("fix-shelter")(fix_shelter_cmd)
