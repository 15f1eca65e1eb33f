"""CLI top-level command ``alertsvc serve``: the webhook and acknowledgement server."""

from __future__ import annotations

import typer

from alertsvc.cli._common import emit_json, human, run_command, state_of
from alertsvc.errors import AlertsvcError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Attach ``serve`` to ``app``."""
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Bind address (webhooks.host)."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Port, 0 = any free port (webhooks.port)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the bound URLs as JSON."),
) -> None:
    """Serve Twilio callbacks, keypresses, SMS replies and app acks until Ctrl-C/SIGTERM.

    Also runs the scheduler: the river watcher poll, dispatcher wake-ups and escalation
    checks (on PostgreSQL only in the leading `serve`; the others wait as followers).

    Prints where it listens (with --json one document {"url", "public_url"}) once the
    port is bound, then blocks. Exit 1 when the port is taken or a secret is missing.
    """
    from alertsvc.web.server import WebhookServer

    state = state_of(ctx)

    def body() -> None:
        server = WebhookServer.from_settings(state.engine, state.settings, host=host, port=port)
        try:
            server.bind()
        except OSError as exc:
            raise AlertsvcError(
                f"ポートを開けません / cannot listen on {server.host}:{server.port}: "
                f"{exc.strerror or exc}"
            ) from exc
        if json_out:
            emit_json({"url": server.url, "public_url": server.public_url})
        human.print(
            f"Webhook 受付中 / webhooks listening on {server.url} "
            f"(公開URL / public URL {server.public_url}); Ctrl-C で停止 / to stop"
        )
        # the scheduler (watcher poll, dispatcher wake-ups, escalations; one leader on
        # PostgreSQL) runs alongside the webhooks and stops with them
        from alertsvc.cli.watch import start_scheduler

        scheduler = start_scheduler(state.engine, state.settings)
        try:
            server.run()
        finally:
            scheduler.stop()
        human.print("Webhook 停止 / webhooks stopped")

    run_command(json_out, body)
