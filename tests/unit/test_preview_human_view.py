"""The officer's terminal view of a large preview: a summary, not thousands of rows (#12)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console

from alertsvc.cli import alert as alert_cli
from alertsvc.models import Level, ResidentInfo, Target
from alertsvc.planning import PlanOptions, plan_alert
from alertsvc.services.preview import Preview
from alertsvc.services.scope import Scope


def _preview(n_unreachable: int) -> Preview:
    targets = [
        Target(
            ResidentInfo(
                f"R{k:05d}", "長い名前の要支援者さん" * 2, "直方市新町1-2-3 " * 4, 33.74, 130.74
            ),
            ("Z1",),
            3,
            False,
            False,
        )
        for k in range(n_unreachable)
    ]
    plans = plan_alert(
        targets,
        level=Level.EVACUATE,
        shelters=[],
        active_zones=[],
        options=PlanOptions(),
        alert_ref="preview",
    )
    return Preview(Level.EVACUATE, Scope(), False, plans, (), (), {})


def _render(preview: Preview) -> str:
    console = Console(width=80, force_terminal=False)
    with console.capture() as cap:
        alert_cli.render_contact_directly(preview, console)
    return cap.get()


def test_a_long_contact_directly_list_is_summarised_in_80_columns() -> None:
    preview = _preview(300)
    text = _render(preview)
    shown = [line for line in text.splitlines() if "R0" in line]
    assert len(shown) == alert_cli.DIRECT_ROWS_SHOWN
    assert "300" in text and f"{300 - alert_cli.DIRECT_ROWS_SHOWN} more" in text
    assert "--csv" in text
    # one line per person: no name or reason wraps onto a second line
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    assert "直方市新町" not in text  # addresses are in the files, not the terminal


def test_a_short_list_is_shown_whole() -> None:
    text = _render(_preview(3))
    assert sum(1 for line in text.splitlines() if "R0" in line) == 3
    assert "more" not in text
