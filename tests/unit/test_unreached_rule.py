"""Who is on the follow-up list: every unconfirmed person, whatever their rows say (#7 item 15).

Exhaustive over every combination of up to two of a person's own rows (channel x state).
"""

from __future__ import annotations

import itertools

import pytest

from alertsvc.dispatch.states import DeliveryState
from alertsvc.dispatch.status import confirms, unreached_reason

CHANNELS = ("push", "sms", "voice")
ROWS = [(c, s.value) for c in CHANNELS for s in DeliveryState]
COMBOS = [set(x) for n in (1, 2) for x in itertools.combinations(ROWS, n)]


@pytest.mark.parametrize("acknowledged", [False, True])
def test_a_person_is_listed_exactly_when_nothing_confirms_them(acknowledged: bool) -> None:
    for rows in COMBOS:
        reason = unreached_reason(True, acknowledged, rows)
        confirmed = acknowledged or any(confirms(c, s) for c, s in rows)
        assert (reason is None) == confirmed, rows
        if reason is not None and "unknown" in {s for _c, s in rows}:
            # an unknown row is never hidden behind a reason that sounds settled
            assert reason in ("unknown", "in_progress"), rows


def test_only_answers_and_sms_receipts_confirm() -> None:
    confirming = {(c, s) for c, s in ROWS if confirms(c, s)}
    assert confirming == {(c, "acknowledged") for c in CHANNELS} | {("sms", "delivered")}


def test_unlocated_and_no_channel_people_are_listed() -> None:
    assert unreached_reason(False, False, set()) == "unlocated"
    assert unreached_reason(True, False, set()) == "no_channel"
    assert unreached_reason(True, False, {("sms", "unknown"), ("push", "sent")}) == "unknown"
