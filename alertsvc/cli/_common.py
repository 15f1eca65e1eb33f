"""Shared CLI plumbing: the lazily built application state and the output contract.

Output contract: with ``--json`` a command prints exactly one JSON document on stdout;
everything meant for a person goes to stderr. Exit codes: 0 ok, 1 failure, 2 usage,
3 invalid input (nothing written).
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine

from alertsvc.config import Settings, load_settings
from alertsvc.db import ensure_schema, make_engine
from alertsvc.errors import AlertsvcError, InputError

if TYPE_CHECKING:
    from alertsvc.channels import Channel
    from alertsvc.models import ChannelName

__all__ = [
    "AppState",
    "ChannelBuilder",
    "emit_json",
    "emit_json_stream",
    "fail",
    "human",
    "import_error_doc",
    "paused_gc",
    "run_command",
    "state_of",
]

# Human output goes to stderr so that stdout stays machine-readable.
human = Console(stderr=True, highlight=False)

T = TypeVar("T")


# Builds the channels a worker serves: (settings, wanted channels) -> adapters. The
# composition root (``alertsvc.cli.main``) passes the real one; tests construct the
# application state with their own.
ChannelBuilder = Callable[["Settings", "list[ChannelName]"], "Mapping[ChannelName, Channel]"]


def real_channels(settings: Settings, wanted: list[ChannelName]) -> Mapping[ChannelName, Channel]:
    """The real adapters (``alertsvc.channels.build_channels``)."""
    from alertsvc.channels import build_channels

    return build_channels(settings, only=wanted)


@dataclass
class AppState:
    """What every command shares; built once per invocation by the composition root.

    ``channels`` builds the provider adapters for ``worker`` (the real ones unless the
    caller — a test, an embedding program — passes another builder).
    """

    config_path: Path | None = None
    channels: ChannelBuilder = field(default=real_channels, repr=False)
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def engine(self) -> Engine:
        """The database engine, with the schema upgraded on first use."""
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url)
            ensure_schema(self._engine)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def state_of(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppState):
        obj = AppState()
        ctx.find_root().obj = obj
    return obj


def import_error_doc(exc: AlertsvcError) -> dict[str, object]:
    """The import JSON contract for a failed import: zero counts, every error, the message.

    A file-level problem (empty, truncated, no CRS) still gives one ``errors`` entry, so
    scripts that only read ``errors`` see it.
    """
    from alertsvc.errors import RowError
    from alertsvc.models import ImportReport

    errors = list(exc.errors) if isinstance(exc, InputError) else []
    report = ImportReport(errors=errors or [RowError(-1, "", exc.message)])
    doc = report.as_dict()
    doc["error"] = exc.message
    return doc


def emit_json(doc: Any, *, compact: bool = False) -> None:
    """Print one JSON document on stdout.

    ``compact``: one line without indentation, for documents of city size (the preview of a
    register): ``json`` encodes those in C, about ten times faster than indented.
    """
    if compact:
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = json.dumps(doc, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def emit_json_stream(sections: Iterable[tuple[str, Any]]) -> None:
    """Print one compact JSON object on stdout from its (key, value) pairs, in order.

    A value that is an ``Iterator`` is written as a JSON array, a row at a time: the same
    bytes ``emit_json(dict(...), compact=True)`` prints, without holding the document.
    """
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
    out = sys.stdout
    out.write("{")
    for k, (key, value) in enumerate(sections):
        out.write(("," if k else "") + encode(key) + ":")
        if not isinstance(value, Iterator):
            out.write(encode(value))
            continue
        out.write("[")
        chunk: list[str] = []
        first = True
        for row in value:
            chunk.append(encode(row))
            if len(chunk) >= 2048:
                out.write(("" if first else ",") + ",".join(chunk))
                first, chunk = False, []
        if chunk:
            out.write(("" if first else ",") + ",".join(chunk))
        out.write("]")
    out.write("}\n")
    out.flush()


def fail(message: str, code: int = 1) -> NoReturn:
    human.print(f"[bold red]エラー / error:[/] {message}")
    raise typer.Exit(code)


def run_command(
    json_out: bool,
    body: Callable[[], T],
    on_error_json: Callable[[AlertsvcError], Any] | None = None,
) -> T:
    """Run ``body``; turn an ``AlertsvcError`` into a clear message and its exit code.

    In JSON mode the error is also printed on stdout as a JSON document, so scripts
    always get one document: ``on_error_json`` shapes it (import commands print their
    counts with the row errors), else ``{"error": ..., "errors": [...]}``.
    """
    try:
        return body()
    except AlertsvcError as exc:
        rows = exc.errors if isinstance(exc, InputError) else []
        if json_out:
            emit_json(
                on_error_json(exc)
                if on_error_json
                else {"error": exc.message, "errors": [r.as_dict() for r in rows]}
            )
        human.print(f"[bold red]エラー / error:[/] {exc.message}", markup=True)
        for row in rows[:200]:
            human.print(f"  - {row}", markup=False)
        if len(rows) > 200:
            human.print(f"  … and {len(rows) - 200} more")
        raise typer.Exit(exc.exit_code) from exc


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a command builds a city's worth of records.

    A preview of 100k residents creates millions of small acyclic objects (records,
    plans, JSON rows); each collection walks every live one, which cost 40 % of the
    preview. Reference counting still frees everything; cycles wait until the end.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def closing_state(state: AppState) -> Iterator[AppState]:
    try:
        yield state
    finally:
        state.close()
