"""``alert cap``, ``alert feed``, ``alert lalert``: CAP 1.2, Atom and Lアラート exports.

Registered on the ``alert`` group by ``register`` (kept out of cli/alert.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from alertsvc.cli._common import emit_json, human, run_command, state_of
from alertsvc.db import session_scope

__all__ = ["confirm_notice", "handle_cap_notice", "notice_instead", "register"]


def confirm_notice(alert_id: str) -> bool:
    """At a terminal: type the alert id the CAP document acts on (scripts: --yes)."""
    import sys

    if not sys.stdin.isatty():
        human.print(
            "CAP の適用は端末で確認します (スクリプトは --yes) / applying a CAP update or "
            "cancel is confirmed at a terminal (scripts use --yes)"
        )
        return False
    human.print(f"適用するにはアラート番号 {alert_id} を入力 / to apply, type {alert_id}: ",
                end="", markup=False)  # fmt: skip
    try:
        return input().strip() == alert_id
    except EOFError:
        return False


def notice_instead(
    state: Any,
    cap: str | None,
    draft: str | None,
    level: int | None,
    *,
    send: bool,
    yes: bool,
    json_out: bool,
    combined: bool,
) -> tuple[bool, list[Any] | None]:
    """``alert preview|send``: act on an existing alert instead of planning a new one —
    a CAP Update/Cancel (``handle_cap_notice``), or (send) a draft that updates a live
    alert (``cli.lifecycle.send_update_draft``). Returns (handled, the CAP alerts read)."""
    if send and draft is not None and cap is None and level is None and not combined:
        from alertsvc.cli.lifecycle import send_update_draft

        if send_update_draft(state, draft, yes=yes, json_out=json_out):
            return True, None
    if cap is None:
        return False, None
    return handle_cap_notice(state, cap, level, send=send, yes=yes, json_out=json_out,
                             combined=combined or draft is not None)  # fmt: skip


def handle_cap_notice(
    state: Any,
    cap: str,
    level: int | None,
    *,
    send: bool,
    yes: bool,
    json_out: bool,
    combined: bool = False,
) -> tuple[bool, list[Any]]:
    """``alert preview|send --cap``: carry out (or, for preview, describe) a CAP Update
    or Cancel on the alert it references.

    Returns ``(True, alerts)`` when the document was an Update/Cancel and was handled
    here, ``(False, alerts)`` for a new alert (the caller plans it from ``alerts``).
    ScopeError (exit 3, nothing written) for a reference to no alert of ours; exit 1
    when a send is not confirmed.
    """
    from alertsvc.cli.lifecycle import _actor
    from alertsvc.services.cap_notices import (
        apply_cap_notice,
        cap_notice,
        check_status,
        read_cap_source,
        update_scope,
    )

    alerts = read_cap_source(cap)
    with session_scope(state.engine) as session:
        notice = cap_notice(session, state.settings, cap, alerts, level)
        if notice is None:
            return False, alerts
        if combined:
            from alertsvc.errors import ScopeError

            raise ScopeError(
                "--cap cannot be combined with --draft, --zone-set, --zone, --area, --exercise"
            )
        what = {
            "update": f"alertsvc alert update {notice.alert_id} --level {notice.level}",
            "clear": f"alertsvc alert clear {notice.alert_id}",
            "cancel": f"alertsvc alert cancel {notice.alert_id}",
        }[notice.action]
        human.print(
            f"CAP {notice.msg_type}: アラート {notice.alert_id} への通知 / a notice to alert "
            f"{notice.alert_id} — {what}"
        )
        # refused already at preview when it could never be applied
        check_status(session, notice)
        if not send:
            doc: dict[str, Any] = {"cap": notice.as_dict()}
            if notice.action == "update":
                from alertsvc.cli.alert import parse_level, render_preview_human
                from alertsvc.services.preview import build_preview

                assert notice.level is not None
                preview = build_preview(
                    session, state.settings, level=parse_level(notice.level),
                    scope=update_scope(session, notice), exercise=notice.exercise,
                )  # fmt: skip
                doc = {**preview.as_json(), **doc}
                if not json_out:
                    render_preview_human(preview, show_contacts=False)
            if json_out:
                emit_json(doc)
            return True, alerts
    if not yes and not confirm_notice(notice.alert_id):
        if json_out:
            emit_json({"error": "not confirmed", "alert_id": None, "deliveries": 0})
        human.print("[red]確認されなかったため適用しません / not confirmed: nothing changed[/]")
        raise typer.Exit(1)
    with session_scope(state.engine) as session:
        # resolved again in the writing transaction: the alert may have changed meanwhile
        notice = cap_notice(session, state.settings, cap, alerts, level)
        assert notice is not None
        result = apply_cap_notice(session, state.settings, notice, actor=_actor(None))
    if json_out:
        emit_json(result)
    human.print(
        f"[bold green]CAP {notice.msg_type} を適用しました / applied:[/] {what}. "
        "`alertsvc worker` が送信します / `alertsvc worker` sends the notices."
    )
    return True, alerts


def cap_cmd(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="Alert id (the original or any later notice)."),
    out: Path | None = typer.Option(None, "--out", help="Write the document here, not stdout."),
    json_out: bool = typer.Option(False, "--json", help="Print {alert_id, identifier, ...}."),
) -> None:
    """Write the CAP 1.2 document of an alert (validated against the OASIS schema)."""
    from alertsvc.interop.cap_export import alert_family, cap_document

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            family = alert_family(session, alert_id)
            alert = next(a for a in family if a.id == alert_id)
            doc = cap_document(session, state.settings, alert, family)
            members = [{"alert_id": a.id, "kind": a.kind} for a in family]
            exercise = alert.exercise
        mark = "【訓練】 EXERCISE " if exercise else ""
        if out is not None:
            out.write_bytes(doc.xml)
            human.print(f"{mark}CAP 1.2 を書き出しました / CAP written: {out}", markup=False)
        elif not json_out:
            typer.echo(doc.xml.decode("utf-8"))
        if json_out:
            emit_json(
                {
                    "alert_id": doc.alert_id,
                    "identifier": doc.identifier,
                    "msgType": doc.msg_type,
                    "file": str(out) if out else None,
                    "xml": None if out else doc.xml.decode("utf-8"),
                    "family": members,
                    "exercise": exercise,
                }
            )
        if len(members) > 1:
            human.print(
                mark
                + "同じアラートの通知 / notices of this alert: "
                + ", ".join(f"{m['alert_id']} ({m['kind']})" for m in members)
            )

    run_command(json_out, body)


def feed_cmd(
    ctx: typer.Context,
    base_url: str = typer.Option(
        "http://localhost:8080/cap", "--base-url", help="Where the CAP documents are served."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the feed here, not stdout."),
) -> None:
    """Write an Atom feed of the current (active) alerts; registry check runs and
    duty-desk notices are not alerts to the public and never appear."""
    from alertsvc.interop.atom import atom_feed, current_alerts

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            current = current_alerts(session)
            xml = atom_feed(state.settings, current, base_url)
        if out is not None:
            out.write_bytes(xml)
            human.print(f"Atom を書き出しました / feed written: {out} ({len(current)})")
        else:
            typer.echo(xml.decode("utf-8"))

    run_command(False, body)


def lalert_cmd(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="Alert id (the original or any later notice)."),
) -> None:
    """Print the Lアラート entry (発令区分, 発令/解除, areas) for an alert as JSON."""
    from alertsvc.interop.cap_export import alert_family
    from alertsvc.interop.lalert import lalert_document

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            family = alert_family(session, alert_id)
            scope = family[0].scope or {}
            areas = [*scope.get("zone_sets", []), *scope.get("zone_ids", [])]
            if scope.get("area_wkt"):
                areas.append(str(scope.get("area_file") or "区域指定 / drawn area"))
            doc = lalert_document(state.settings, family, areas)
        emit_json(doc)
        mark = "【訓練】 EXERCISE " if doc["exercise"] else ""
        human.print(
            f"{mark}Lアラート: {doc['label']} ({len(doc['revisions'])} 版 / revisions)",
            markup=False,
        )

    run_command(True, body)


def register(_root: typer.Typer) -> None:
    """Attach the export commands to the ``alert`` group."""
    from alertsvc.cli.alert import app as alert_app

    alert_app.command("cap")(cap_cmd)
    alert_app.command("feed")(feed_cmd)
    alert_app.command("lalert")(lalert_cmd)
