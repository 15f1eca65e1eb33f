"""CLI top-level command ``simulate-providers``: run the loopback provider simulator.

The simulator speaks the Twilio and FCM HTTP APIs on 127.0.0.1 so that the real
clients (pointed at it through ``twilio.base_url`` / ``fcm.base_url`` or
``$ALERTSVC_TWILIO_BASE_URL`` / ``$ALERTSVC_FCM_BASE_URL``) can be exercised without
reaching anyone. It runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType

import typer

from alertsvc.cli._common import emit_json, human, run_command, state_of
from alertsvc.errors import AlertsvcError, InputError, RowError

__all__ = ["register"]


class SimulatorStartError(AlertsvcError):
    """The provider simulator could not start."""


def register(app: typer.Typer) -> None:
    """Attach this module's top-level commands to app."""
    app.command("simulate-providers")(simulate_providers)


def simulate_providers(
    ctx: typer.Context,
    port: int = typer.Option(
        8765, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: pick a free one)."
    ),
    log: Path | None = typer.Option(
        None,
        "--log",
        help="Append one JSON line per request received to this file (numbers and tokens masked).",
    ),
    log_unmasked: bool = typer.Option(
        False, "--log-unmasked", help="Write full numbers and tokens to --log (tests only)."
    ),
    latency_ms: float = typer.Option(0.0, "--latency-ms", min=0.0, help="Added latency."),
    error_rate: float = typer.Option(
        0.0, "--error-rate", min=0.0, max=1.0, help="Fraction answered 429/500/503."
    ),
    timeout_rate: float = typer.Option(
        0.0, "--timeout-rate", min=0.0, max=1.0, help="Fraction held past the client timeout."
    ),
    script: Path | None = typer.Option(
        None,
        "--script",
        help="JSON or TOML script: per number or token a behaviour, or a scripted resident "
        'or supporter, e.g. {"+8190…": {"via": "sms", "answer": "1", "delay_s": 2}}; '
        "see the README.",
    ),
    auth_token: str | None = typer.Option(
        None,
        "--auth-token",
        help="Twilio auth token for Basic auth and X-Twilio-Signature "
        "(default: the configured token, else the simulator's).",
    ),
    callback_url: str | None = typer.Option(
        None,
        "--callback-url",
        help="Webhook base URL when a request names no StatusCallback; scripted residents' "
        "SMS replies go to its /twilio/sms/inbound.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for injected faults (reproducible runs)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run the loopback Twilio + FCM simulator until Ctrl-C / SIGTERM.

    With --json, one document {"url", "port", ...} is printed once the server listens.
    """
    from alertsvc.channels.twilio_common import twilio_auth_token
    from alertsvc.testing.sim_script import ScriptEntry
    from alertsvc.testing.simulator import ProviderSimulator, load_script

    state = state_of(ctx)

    def body() -> None:
        scripted: dict[str, ScriptEntry] = {}
        if script is not None:
            try:
                scripted = load_script(script)
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"スクリプトを読めません / cannot read script {script}",
                    [RowError(-1, "", str(exc))],
                ) from exc
        token = auth_token or twilio_auth_token(state.settings)
        try:
            sim = ProviderSimulator(
                port=port,
                auth_token=token,
                latency_ms=latency_ms,
                error_rate=error_rate,
                timeout_rate=timeout_rate,
                script=scripted,
                seed=seed,
                log_path=log,
                log_unmasked=log_unmasked,
                callback_url=callback_url,
            ).start()
        except ValueError as exc:
            raise InputError(str(exc), [RowError(-1, "", str(exc))]) from exc
        except OSError as exc:
            raise SimulatorStartError(
                f"シミュレータを起動できません / cannot listen on 127.0.0.1:{port}: {exc}"
            ) from exc
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        # signal handlers can only be installed from the main thread
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, on_signal) if in_main else None
        try:
            if json_out:
                emit_json(
                    {
                        "url": sim.url,
                        "port": sim.port,
                        "log": str(log) if log else None,
                        "scripted": len(scripted),
                        "latency_ms": latency_ms,
                        "error_rate": error_rate,
                        "timeout_rate": timeout_rate,
                    }
                )
            human.print(
                f"プロバイダ・シミュレータ起動 / provider simulator listening on {sim.url} "
                "(Ctrl-C で停止 / to stop)"
            )
            human.print(
                f"  ALERTSVC_TWILIO_BASE_URL={sim.url} ALERTSVC_FCM_BASE_URL={sim.url}",
                markup=False,
            )
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
            sim.stop()
        counts: dict[str, int] = {}
        for record in sim.requests:
            counts[record.provider] = counts.get(record.provider, 0) + 1
        human.print(
            f"シミュレータ停止 / simulator stopped: {json.dumps(counts, ensure_ascii=False)}"
        )

    run_command(json_out, body)
