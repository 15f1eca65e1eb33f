"""``alertsvc demo``: the whole path on the embedded default, with a live status display."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table

from alertsvc.cli._common import emit_json, human, run_command, state_of
from alertsvc.cli.delivery import verification_renderable
from alertsvc.dispatch.status import REASON_LABELS as REASONS
from alertsvc.dispatch.status import follow_up_order

if TYPE_CHECKING:
    from alertsvc.dispatch.status import AlertStatus
    from alertsvc.models import ResidentInfo
    from alertsvc.services.demo_script import FollowupCheck

STATE_LABELS = {
    "queued": "待機 queued",
    "sending": "送信中 sending",
    "sent": "送信済 sent",
    "delivered": "配信済 delivered",
    "failed": "失敗 failed",
    "unknown": "不明 unknown",
    "acknowledged": "応答あり acknowledged",
}


def status_table(status: AlertStatus) -> Table:
    """Per-channel counts (of the alert family, as the demo passes them in)."""
    members = len(status.family.members) if status.family is not None else 1
    whole = f" (+{members - 1} 更新・追加対象など / alerts under it)" if members > 1 else ""
    table = Table(title=f"アラート / alert {status.alert_id}{whole} — {status.state}")
    table.add_column("手段 / channel")
    for key in STATE_LABELS:
        table.add_column(STATE_LABELS[key], justify="right")
    for channel, counts in sorted(status.by_channel.items()):
        table.add_row(channel, *(str(counts.get(k, 0)) for k in STATE_LABELS))
    table.add_row(
        "[bold]計 / total[/]", *(f"[bold]{status.counts.get(k, 0)}[/]" for k in STATE_LABELS)
    )
    return table


def follow_up_table(status: AlertStatus, residents: dict[str, ResidentInfo]) -> Table:
    """The door-knock list (``AlertStatus.follow_up``), most urgent first."""
    reasons = status.follow_up()
    table = Table(title=f"[bold red]戸別訪問リスト / follow-up list ({len(reasons)})[/]")
    for col in (
        "優先度 / priority",
        "名簿番号 / id",
        "氏名 / name",
        "住所 / address",
        "理由 / reason",
    ):
        table.add_column(col)
    for rid in sorted(reasons, key=lambda r: follow_up_order(*reasons[r], r)):
        reason, priority = reasons[rid]
        r = residents.get(rid)
        table.add_row(
            f"{priority:g}",
            rid,
            r.name if r else "?",
            r.address if r else "?",
            REASONS.get(reason, reason),
        )
    return table


def live_view(status: AlertStatus) -> Group:
    """The live display: the counts, and answers, help and the follow-up list as they come."""
    helped = {h["resident_id"] for h in status.needs_help}
    follow = len(status.follow_up())
    line = (
        f"応答 / answers {status.counts.get('acknowledged', 0)} · "
        f"[bold red]助けが必要 / need help {len(helped)}[/] (当番に通知 / duty desk told) · "
        f"戸別訪問リスト / follow-up list {follow}"
    )
    return Group(status_table(status), line)


def followup_check_text(check: FollowupCheck) -> str:
    """The demo's last word: the follow-up list against the one the script calls for."""
    doc = check.as_dict()
    why = ", ".join(f"{k} {n}" for k, n in doc["why"].items())
    if check.ok:
        return (
            f"✓ 戸別訪問リストは台本どおり / the follow-up list matches the script exactly: "
            f"{doc['actual']} people ({why})"
        )
    return (
        f"✗ 戸別訪問リストが台本と違います / the follow-up list does not match the script: "
        f"expected {doc['expected']} ({why}), listed {doc['actual']}; "
        f"missing {check.missing}; not expected {check.unexpected}"
    )


def register(app: typer.Typer) -> None:
    """Attach ``demo`` to ``app``."""

    @app.command("demo")
    def demo(
        ctx: typer.Context,
        json_out: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
        ack_wait: float = typer.Option(
            4.0, "--ack-wait", help="Seconds without an answer before the next channel."
        ),
        speed: float = typer.Option(10.0, "--speed", help="Multiply provider rates by this."),
        error_rate: float = typer.Option(
            0.1, "--error-rate", help="Fraction of provider requests answered 429/5xx."
        ),
        seed: int = typer.Option(7, "--seed", help="Seed of the scripted provider behaviour."),
        out: Path = typer.Option(
            Path("demo-out"), "--out", help="Folder for the follow-up sheets (HTML, PDF)."
        ),
    ) -> None:
        """Import the demo data, let the river watcher raise the alerts, show the outcome."""
        from alertsvc.services.demo import DemoOptions, run_demo

        state = state_of(ctx)

        def body() -> None:
            if ack_wait < 0 or speed <= 0 or not 0 <= error_rate < 1:
                raise typer.BadParameter("--ack-wait >= 0, --speed > 0, 0 <= --error-rate < 1")
            human.rule("[bold]alertsvc デモ / demo — 直方市・遠賀川 (synthetic zones)[/]")
            human.print(
                "河川監視が遠賀川の合成水位データを読み、避難判断水位の前に警戒レベル3を推奨し、"
                "担当者の承認 (模擬) で送信、氾濫危険水位で警戒レベル4への更新、"
                "水位低下で解除を提案します / "
                "the river watcher reads a synthetic 遠賀川 series: level 3 recommended ahead "
                "of 避難判断水位, the officer's approval simulated, the alert updated to level 4 "
                "at 氾濫危険水位, the river falls, an all-clear is proposed."
            )
            options = DemoOptions(
                ack_wait_seconds=ack_wait,
                speed=speed,
                error_rate=error_rate,
                seed=seed,
                out_dir=out,
            )
            live = Live(console=human, refresh_per_second=4, transient=True)
            with live:
                result = run_demo(
                    state.settings,
                    state.engine,
                    options=options,
                    step=lambda text: human.print(f"[green]✓[/] {text}"),
                    on_status=lambda s: live.update(live_view(s)),
                )
            counts: dict[str, Any] = result.preview_counts
            human.print(
                f"対象 / targets {counts['targets']} 人 · 要直接連絡 / contact directly "
                f"{counts['unreachable'] + counts['unlocated']} 人 · 支援者 / supporter notices "
                f"{counts['supporters']}"
            )
            human.print(status_table(result.status))
            if result.status.needs_help:
                help_table = Table(title="[bold red]助けが必要 / need help[/]")
                help_table.add_column("名簿番号 / id")
                help_table.add_column("氏名 / name")
                help_table.add_column("住所 / address")
                for item in result.status.needs_help:
                    r = result.residents.get(item["resident_id"])
                    help_table.add_row(
                        item["resident_id"], r.name if r else "?", r.address if r else "?"
                    )
                human.print(help_table)
            human.print(follow_up_table(result.status, result.residents))
            if result.history:
                sizes = [int(h["follow_up"]) for h in result.history]
                shrink = [n for i, n in enumerate(sizes) if i == 0 or n != sizes[i - 1]]
                human.print(
                    "戸別訪問リストの推移 / follow-up list over time: "
                    + " → ".join(str(n) for n in shrink)
                    + f" · 当番への通知 / duty desk notified: {result.duty_notices} SMS"
                )
            human.print(
                "プロバイダ要求 / provider requests (HTTP status: count): "
                + "; ".join(f"{p} {c}" for p, c in result.provider_requests.items())
            )
            check = result.followup
            if check is not None:
                human.print(followup_check_text(check), markup=False)
            human.print(f"最後に検証 / finally: alertsvc alert verify {result.alert_id}")
            if result.verification is not None:
                human.print(verification_renderable(result.verification))
            human.print(
                f"次の操作 / next: alertsvc alert status {result.alert_id} · "
                f"alertsvc alert cancel {result.alert_id} --reason ..."
            )
            if json_out:
                emit_json(
                    {
                        "alert_id": result.alert_id,
                        "status": result.status.as_dict(),
                        "preview_counts": counts,
                        "provider_requests": result.provider_requests,
                        "scripted": result.scripted,
                        "watcher": result.watcher,
                        "verify": result.verification.as_dict()
                        if result.verification is not None
                        else None,
                        "followup_check": check.as_dict() if check is not None else None,
                        "sheets": result.sheets,
                        "history": result.history,
                        "duty_notices": result.duty_notices,
                    }
                )
            if result.verification is not None and not result.verification.ok:
                raise typer.Exit(1)  # the demo must hold its own invariants
            if check is not None and not check.ok:
                raise typer.Exit(1)  # the follow-up list is not the one the script calls for

        run_command(json_out, body)
