"""The officer CLI (Typer). Thin: parses options, calls services, renders with Rich.

Each command group lives in its own module and is registered here.
"""

from __future__ import annotations

from pathlib import Path

import typer

from alertsvc.cli._common import AppState, emit_json, human, run_command, state_of
from alertsvc.db import current_revision

__all__ = ["app", "main"]

app = typer.Typer(
    name="alertsvc",
    help="alertsvc: targeted flood alerts for residents needing evacuation support.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="TOML config file (else $ALERTSVC_CONFIG, else ./alertsvc.toml)."
    ),
    operator: str | None = typer.Option(
        None,
        "--operator",
        help="The officer's name in the audit log (else $ALERTSVC_OPERATOR, else the OS user).",
    ),
) -> None:
    if operator:
        import os

        # the composition root hands the identity to every audited call through the
        # one documented carrier, $ALERTSVC_OPERATOR (alertsvc.audit.current_actor)
        os.environ["ALERTSVC_OPERATOR"] = operator
    # the composition root (main(), or a test) may hand in a prepared state
    state = ctx.obj if isinstance(ctx.obj, AppState) else AppState()
    state.config_path = config
    ctx.obj = state
    ctx.call_on_close(state.close)


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Create or upgrade the database schema to the newest revision."""
    state = state_of(ctx)

    def body() -> None:
        rev = current_revision(state.engine)
        if json_out:
            emit_json({"revision": rev, "url": _masked_url(state.settings.database.url)})
        human.print(f"データベースは最新です / schema at revision {rev}")

    run_command(json_out, body)


def _masked_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


_registered: set[str] = set()


def _register(module_name: str, attr: str, name: str) -> None:
    import importlib

    if module_name in _registered:
        return
    _registered.add(module_name)
    module = importlib.import_module(f"alertsvc.cli.{module_name}")
    sub = getattr(module, attr)
    if name:
        app.add_typer(sub, name=name)
    else:
        module.register(app)


def _register_groups() -> None:
    """Attach every command group to ``app`` (idempotent)."""
    for module_name, attr, name in _GROUPS:
        _register(module_name, attr, name)


# root options that take a value (``--config PATH``), skipped when reading the command words
_VALUED_ROOT_OPTIONS = frozenset({"--config", "--operator"})


def _register_for(argv: list[str]) -> None:
    """Attach only the group a command line needs when its own module defines the command
    (``alert preview`` needs cli/alert.py, not the importers, workers and web server:
    about 40 % of the CLI's start-up); anything else gets every group, help included."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUED_ROOT_OPTIONS:
            skip = True
        elif arg.startswith("-"):
            if words:
                break  # the command's own options follow
        else:
            words.append(arg)
            if len(words) == 2:
                break
    if len(words) == 2:
        for module_name, attr, name in _GROUPS:
            if name and name == words[0]:
                import importlib

                sub = getattr(importlib.import_module(f"alertsvc.cli.{module_name}"), attr)
                own = {info.name for info in sub.registered_commands}
                if words[1] in own:
                    _register(module_name, attr, name)
                    return
    _register_groups()


# (module, attribute, group name or "" for top-level commands registered by register(app))
_GROUPS: list[tuple[str, str, str]] = [
    ("zones", "app", "zones"),
    ("shelters", "app", "shelters"),
    ("registry", "app", "registry"),
    ("alert", "app", "alert"),
    ("watch", "app", "watch"),
    ("audit", "app", "audit"),
    # more `alert` subcommands (kept apart from cli/alert.py): CAP, Atom, Lアラート
    ("interop", "register", ""),
    ("lifecycle", "register", ""),
    ("providers", "register", ""),
    ("delivery", "register", ""),
    ("followup", "register", ""),
    ("web", "register", ""),
    ("demo", "register", ""),
    # `registry check` (the pre-season check), kept apart from cli/registry.py
    ("registry_check", "register", ""),
]


def main(state: AppState | None = None) -> None:
    """The composition root: builds the application state (real channels by default)."""
    import sys

    _register_for(sys.argv[1:])
    app(obj=state or AppState())
