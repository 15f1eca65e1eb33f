"""CLI top-level commands: delivery (being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this module's top-level commands to app."""
