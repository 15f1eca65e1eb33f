"""``alert cap``, ``alert feed``, ``alert lalert``: CAP 1.2, Atom and Lアラート exports.

Registered on the ``alert`` group by ``register`` (kept out of cli/alert.py).
"""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import select

from alertsvc.cli._common import emit_json, human, run_command, state_of
from alertsvc.db import session_scope

__all__ = ["register"]


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
        if out is not None:
            out.write_bytes(doc.xml)
            human.print(f"CAP 1.2 を書き出しました / CAP written: {out}")
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
                }
            )
        if len(members) > 1:
            human.print(
                "同じアラートの通知 / notices of this alert: "
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
    """Write an Atom feed of the current (active) alerts."""
    from alertsvc.db.tables import Alert
    from alertsvc.interop.atom import atom_feed

    state = state_of(ctx)

    def body() -> None:
        with session_scope(state.engine) as session:
            current = list(
                session.scalars(
                    select(Alert)
                    .where(Alert.state == "active", Alert.parent_id.is_(None))
                    .order_by(Alert.created_at.desc())
                )
            )
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
        human.print(f"Lアラート: {doc['label']} ({len(doc['revisions'])} 版 / revisions)")

    run_command(True, body)


def register(_root: typer.Typer) -> None:
    """Attach the export commands to the ``alert`` group."""
    from alertsvc.cli.alert import app as alert_app

    alert_app.command("cap")(cap_cmd)
    alert_app.command("feed")(feed_cmd)
    alert_app.command("lalert")(lalert_cmd)
