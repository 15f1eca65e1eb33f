"""The demo's follow-up check: who must be listed, from what the simulators recorded."""

from __future__ import annotations

import datetime as dt
import random

from alertsvc.models import ContactInfo, ContactKind, ResidentInfo, SupporterInfo
from alertsvc.services.demo_script import DemoScript, demo_script, expected_followup
from alertsvc.testing.sim_actors import ActorRecord
from alertsvc.testing.sim_base import CallbackRecord
from alertsvc.testing.sim_script import Actor

AT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
A = "A1"


def _script() -> DemoScript:
    s = DemoScript()
    for rid, number in (("R1", "+81901"), ("R2", "+81902"), ("R3", "+81903"), ("R4", "+81904")):
        s.owners[number] = {rid}
    s.owners["+81505"] = {"R5"}  # a FAX number
    s.entries.update({"+81902": Actor("sms", "1"), "+81903": Actor("keypress", "2")})
    s.meaning.update({"+81902": "safe", "+81903": "need_help"})
    return s


def _delivered(to: str, key: str, status: int = 204) -> CallbackRecord:
    url = f"http://127.0.0.1:1/twilio/sms/status?key={key}"
    return CallbackRecord("twilio-sms", url, {"To": to, "MessageStatus": "delivered"}, status, AT)


def _act(
    address: str, via: str, answer: str, key: str, status: int = 200, person: str = ""
) -> ActorRecord:
    return ActorRecord(address, via, answer, status, "posted", AT, key, person)


def test_expected_is_unconfirmed_plus_help_plus_cannot_reach() -> None:
    callbacks = [
        _delivered("+81901", f"{A}:1"),  # R1: SMS delivered -> confirmed
        _delivered("+81904", "A0:9"),  # R4: delivered, but for another alert
    ]
    actions = [
        _act("+81902", "sms", "1", f"{A}:2"),  # R2 safe
        _act("+81903", "keypress", "2", f"{A}:3"),  # R3 need help
        _act("+81999", "page", "cannot_reach", f"{A}:7", person="R1"),  # supporter about R1
    ]
    check = expected_followup(
        A, ["R1", "R2", "R3", "R4", "R5", "R6"], _script(), callbacks, actions,
        [(f"{A}:5", "+81505")], actual={"R1", "R3", "R4", "R6"},
    )  # fmt: skip
    assert check.expected == {
        "R1": "cannot_reach",  # delivered, yet the supporter could not reach them
        "R3": "help",
        "R4": "not_confirmed",
        "R6": "not_confirmed",  # nothing at all (no channel, unlocated, ...)
    }
    assert check.ok and check.supporter_page


def test_refused_or_foreign_records_confirm_nobody_and_a_difference_is_named() -> None:
    callbacks = [_delivered("+81901", f"{A}:1", status=403)]  # our app refused it
    actions = [
        _act("+81902", "sms", "1", f"{A}:2", status=403),  # refused answer
        _act("+81903", "keypress", "2", "A0:3"),  # answered another alert
    ]
    check = expected_followup(
        A, ["R1", "R2", "R3"], _script(), callbacks, actions, [], actual={"R1", "R9"}
    )
    assert check.expected == dict.fromkeys(["R1", "R2", "R3"], "not_confirmed")
    assert not check.ok
    assert (check.missing, check.unexpected) == (["R2", "R3"], ["R9"])
    assert check.as_dict()["ok"] is False
    assert not check.supporter_page


def test_demo_script_never_scripts_a_shared_number_to_answer() -> None:
    shared = ContactInfo(ContactKind.MOBILE, "+819011112222")
    people = [
        ResidentInfo(f"R{i}", "n", "a", 33.7, 130.7, contacts=(shared,)) for i in range(2)
    ] + [
        ResidentInfo(
            f"S{i}", "n", "a", 33.7, 130.7,
            contacts=(ContactInfo(ContactKind.MOBILE, f"+8190333300{i:02d}"),),
            supporters=(SupporterInfo(i, "s", f"+8180444400{i:02d}", ContactKind.MOBILE),),
        )
        for i in range(40)
    ]  # fmt: skip
    for seed in range(20):
        script = demo_script(people, random.Random(seed), delay_s=1.0)
        assert shared.address not in script.meaning
        answering = [a for a, e in script.entries.items() if isinstance(e, Actor) and e.answer]
        assert set(answering) <= set(script.meaning)
        supporters = [e for e in script.entries.values() if isinstance(e, Actor) and e.people]
        assert len(supporters) == 3
        assert all(set(e.people.values()) == {"cannot_reach"} for e in supporters)


def test_the_demo_prints_the_difference() -> None:
    from alertsvc.cli.demo import followup_check_text

    check = expected_followup(A, ["R1", "R2"], _script(), [], [], [], actual={"R1", "R7"})
    text = followup_check_text(check)
    assert "does not match" in text
    assert "missing ['R2']" in text and "not expected ['R7']" in text
    good = expected_followup(A, ["R1"], _script(), [], [], [], actual={"R1"})
    assert "matches the script exactly: 1 people" in followup_check_text(good)


def test_records_about_any_member_of_the_family_count() -> None:
    """The demo follows an alert family: a level-3 alert A1, its level-4 expansion E1 and
    update notice U1. Receipts and answers about any member count; another alert's not."""
    callbacks = [
        _delivered("+81901", "E1:1"),  # R1: the expansion's SMS delivered -> confirmed
        _delivered("+81904", "A0:9"),  # R4: another alert
    ]
    actions = [
        _act("+81902", "sms", "1", "U1:2"),  # R2 safe, replying to the update notice
        _act("+81903", "keypress", "2", "E1:3"),  # R3 need help on the expansion's call
    ]
    check = expected_followup(
        A, ["R1", "R2", "R3", "R4"], _script(), callbacks, actions, [],
        actual={"R3", "R4"}, members=("A1", "U1", "E1"),
    )  # fmt: skip
    assert check.expected == {"R3": "help", "R4": "not_confirmed"}
    assert check.ok
    # the original alone (as before): the members' records are not its own
    alone = expected_followup(
        A, ["R1", "R2", "R3", "R4"], _script(), callbacks, actions, [], actual=set()
    )
    assert set(alone.expected) == {"R1", "R2", "R3", "R4"}
