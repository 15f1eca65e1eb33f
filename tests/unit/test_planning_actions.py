"""The action rule table, row by row (alertsvc.planning.actions.RULES)."""

from __future__ import annotations

import pytest

from alertsvc.models import Level, Need
from alertsvc.planning.actions import RULES, Action, ActionFacts, decide_action

L3, L4, L5 = Level.ELDERLY_EVACUATE, Level.EVACUATE, Level.EMERGENCY
NONE: frozenset[Need] = frozenset()


def facts(
    level: Level = L4,
    *,
    collapse: bool = False,
    rank: int | None = 2,
    floor: int | None = 3,
    needs: frozenset[Need] = NONE,
    storey: float = 3.0,
) -> ActionFacts:
    return ActionFacts(level, collapse, rank, floor, needs, storey)


@pytest.mark.parametrize(
    ("case", "f", "action", "rule"),
    [
        # level 5: everybody secures safety now, whatever else holds
        ("l5 evac-case", facts(L5, collapse=True), Action.SECURE_NOW, "level5"),
        ("l5 upstairs-case", facts(L5, rank=1, floor=5), Action.SECURE_NOW, "level5"),
        ("l5 bedridden", facts(L5, needs=frozenset({Need.BEDRIDDEN})), Action.SECURE_NOW, "level5"),
        # house collapse: never stay upstairs, even on a high floor
        ("collapse", facts(collapse=True, rank=1, floor=10), Action.EVACUATE, "house_collapse"),
        ("unknown depth", facts(rank=None, floor=10), Action.EVACUATE, "depth_unknown"),
        ("bad rank", facts(rank=9, floor=10), Action.EVACUATE, "depth_unknown"),
        ("unknown floor", facts(rank=1, floor=None), Action.EVACUATE, "floor_unknown"),
        # rank 6 (>= 20 m): no floor is high enough
        ("rank 6", facts(rank=6, floor=30), Action.EVACUATE, "depth_unbounded"),
        (
            "bedridden",
            facts(rank=1, floor=5, needs=frozenset({Need.BEDRIDDEN})),
            Action.EVACUATE,
            "cannot_move_up",
        ),
        (
            "wheelchair",
            facts(rank=1, floor=5, needs=frozenset({Need.WHEELCHAIR})),
            Action.EVACUATE,
            "cannot_move_up",
        ),
        # rank 2 is up to 3.0 m: floor 2 stands at 3.0 m, not above -> evacuate
        ("rank2 floor2 boundary", facts(rank=2, floor=2), Action.EVACUATE, "floor_not_above_depth"),
        ("rank1 floor1", facts(rank=1, floor=1), Action.EVACUATE, "floor_not_above_depth"),
        ("rank4 floor4", facts(rank=4, floor=4), Action.EVACUATE, "floor_not_above_depth"),
        # above the depth: stay upstairs
        ("rank1 floor2", facts(rank=1, floor=2), Action.MOVE_UP, "upstairs_safe"),
        ("rank2 floor3", facts(rank=2, floor=3), Action.MOVE_UP, "upstairs_safe"),
        ("rank3 floor3", facts(rank=3, floor=3), Action.MOVE_UP, "upstairs_safe"),
        ("rank4 floor5", facts(rank=4, floor=5), Action.MOVE_UP, "upstairs_safe"),
        ("rank5 floor8", facts(rank=5, floor=8), Action.MOVE_UP, "upstairs_safe"),
        ("rank5 floor7", facts(rank=5, floor=7), Action.EVACUATE, "floor_not_above_depth"),
        # needs that do not stop moving upstairs
        (
            "hearing",
            facts(rank=1, floor=2, needs=frozenset({Need.HEARING, Need.LIVES_ALONE})),
            Action.MOVE_UP,
            "upstairs_safe",
        ),
        ("level 3 too", facts(L3, rank=2, floor=3), Action.MOVE_UP, "upstairs_safe"),
        # metres per storey comes from settings: 2.5 m storeys put floor 3 at 5.0 m
        (
            "rank3 floor3 short storeys",
            facts(rank=3, floor=3, storey=2.5),
            Action.EVACUATE,
            "floor_not_above_depth",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_rule_rows(case: str, f: ActionFacts, action: Action, rule: str) -> None:
    assert decide_action(f) == (action, rule), case


def test_every_rule_is_reachable_and_named_once() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert names[0] == "level5" and names[-1] == "upstairs_safe"
