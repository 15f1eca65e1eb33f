"""``alert approve`` (two-person rule) and the later life of an alert: ``update``,
``correct``, ``clear``. Registered on the ``alert`` group (kept out of cli/alert.py).

Every command takes ``--operator`` (else ``$ALERTSVC_OPERATOR``, else the OS user): the
name written to the audit log and checked by the two-person rule.
"""

from __future__ import annotations

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


def register(_root: typer.Typer) -> None:
    """Attach the lifecycle commands to the ``alert`` group."""
    from alertsvc.cli.alert import app as alert_app

    alert_app.command("approve")(approve_cmd)
