"""Run the CLI in-process and split stdout (JSON) from stderr (human)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from alertsvc.channels import Channel
from alertsvc.cli import _register_groups, app
from alertsvc.cli._common import AppState, ChannelBuilder
from alertsvc.config import Settings
from alertsvc.models import ChannelName


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    args: list[str],
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    channels: ChannelBuilder | None = None,
) -> CliResult:
    """Invoke the app as ``main()`` would; ``channels`` replaces the real adapters."""
    _register_groups()
    runner = CliRunner()
    state = AppState() if channels is None else AppState(channels=channels)
    result = runner.invoke(
        app, args, env=dict(env or {}), input=input, catch_exceptions=False, obj=state
    )
    return CliResult(result.exit_code, result.stdout, result.stderr)


def channels_from(chans: Mapping[ChannelName, Channel]) -> ChannelBuilder:
    """A channel builder handing the CLI these (fake) channels, as main() hands it the real
    adapters: only the channels a command asks for, and only those given."""

    def build(_settings: Settings, wanted: list[ChannelName]) -> dict[ChannelName, Channel]:
        return {c: chans[c] for c in wanted if c in chans}

    return build
