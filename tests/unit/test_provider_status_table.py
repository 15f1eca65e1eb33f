"""One Twilio status -> outcome table (#7 item 10): the inbound one, checked against the
provider's documented enums; the adapters' dead copy is gone."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import alertsvc
import alertsvc.channels.twilio_common as twilio_common
from alertsvc.dispatch import inbound
from alertsvc.dispatch.states import Event

SPEC = Path(__file__).parents[1] / "data" / "providers" / "twilio_api_v2010_messages_calls.json"
# statuses that say the message or call is still on its way
PROGRESS = {"queued", "ringing", "in-progress", "sending", "sent", "receiving", "received",
            "accepted", "scheduled", "partially_delivered"}  # fmt: skip


def test_every_documented_final_status_has_one_meaning() -> None:
    schemas = json.loads(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]
    documented = set(schemas["call_enum_status"]["enum"]) | set(
        schemas["message_enum_status"]["enum"]
    )
    table = inbound._PROVIDER_STATUS
    assert documented - PROGRESS == set(table)


def test_busy_no_answer_and_cancelled_calls_fail_the_row_so_escalation_proceeds() -> None:
    # not a refusal of the number (contact health only reacts to listed error codes)
    for status in ("busy", "no-answer", "canceled", "undelivered"):
        assert inbound._PROVIDER_STATUS[status] is Event.STATUS_FAILED


def _assignments(name: str) -> list[str]:
    found = []
    for path in Path(alertsvc.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) else []
            )  # fmt: skip
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                found.append(str(path))
    return found


def test_one_exercise_prefix_and_no_second_status_table() -> None:
    assert len(_assignments("EXERCISE_PREFIX")) == 1
    for dead in ("CALL_STATUS_OUTCOMES", "SMS_CALLBACK_ERRORS", "callback_outcome"):
        assert not hasattr(twilio_common, dead)
