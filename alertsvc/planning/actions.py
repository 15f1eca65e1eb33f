"""The action rule table: evacuate, move upstairs (屋内安全確保) or secure safety now (pure).

The table is data (``RULES``): the first row whose condition holds decides. Rows, in order:

=====================  ==================================================  ==========
rule                   condition                                           action
=====================  ==================================================  ==========
level5                 警戒レベル5 緊急安全確保, for everybody                 SECURE_NOW
house_collapse         inside (or near) a 家屋倒壊等氾濫想定区域                   EVACUATE
depth_unknown          no depth rank for the person's zones                EVACUATE
floor_unknown          the register gives no floor                         EVACUATE
depth_unbounded        rank 6 (>= 20 m): no floor is high enough           EVACUATE
cannot_move_up         bedridden, or a wheelchair (no lift data)           EVACUATE
floor_not_above_depth  (floor - 1) x metres_per_storey <= rank's upper m   EVACUATE
upstairs_safe          otherwise                                           MOVE_UP
=====================  ==================================================  ==========

An ``edge_only`` target (caught by the edge tolerance) is treated like the zone it is near:
targeting already gives it that zone's depth rank and house-collapse flag.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from alertsvc.models import DEPTH_RANK_METRES, Level, Need

__all__ = ["RULES", "Action", "ActionFacts", "ActionRule", "decide_action"]


class Action(enum.StrEnum):
    """What the person is told to do."""

    EVACUATE = "evacuate"  # go to the shelter (立退き避難)
    MOVE_UP = "move_up"  # 屋内安全確保: stay, go to an upper floor
    SECURE_NOW = "secure_now"  # 緊急安全確保: it may be too late to go out; highest safe place now


# needs that make "go upstairs" impossible to do alone (no data on lifts)
IMMOBILE_NEEDS = frozenset({Need.BEDRIDDEN, Need.WHEELCHAIR})


@dataclass(frozen=True, slots=True)
class ActionFacts:
    """Everything the rule table looks at, for one person."""

    level: Level
    house_collapse: bool
    depth_rank: int | None
    floor: int | None
    needs: frozenset[Need]
    metres_per_storey: float = 3.0

    @property
    def depth_upper_m(self) -> float | None:
        """Upper bound of the rank's depth in metres; None when unknown or unbounded."""
        if self.depth_rank is None or self.depth_rank not in DEPTH_RANK_METRES:
            return None
        return DEPTH_RANK_METRES[self.depth_rank][1]

    @property
    def floor_height_m(self) -> float | None:
        """Height of the person's floor above ground (floor 1 = ground level)."""
        if self.floor is None:
            return None
        return (self.floor - 1) * self.metres_per_storey


@dataclass(frozen=True, slots=True)
class ActionRule:
    name: str
    applies: Callable[[ActionFacts], bool]
    action: Action


def _floor_not_above(f: ActionFacts) -> bool:
    upper, height = f.depth_upper_m, f.floor_height_m
    # the earlier rows guarantee both are known here; stay on the safe side anyway
    return upper is None or height is None or height <= upper


RULES: tuple[ActionRule, ...] = (
    ActionRule("level5", lambda f: f.level >= Level.EMERGENCY, Action.SECURE_NOW),
    ActionRule("house_collapse", lambda f: f.house_collapse, Action.EVACUATE),
    ActionRule(
        "depth_unknown",
        lambda f: f.depth_rank is None or f.depth_rank not in DEPTH_RANK_METRES,
        Action.EVACUATE,
    ),
    ActionRule("floor_unknown", lambda f: f.floor is None, Action.EVACUATE),
    ActionRule("depth_unbounded", lambda f: f.depth_upper_m is None, Action.EVACUATE),
    ActionRule("cannot_move_up", lambda f: bool(f.needs & IMMOBILE_NEEDS), Action.EVACUATE),
    ActionRule("floor_not_above_depth", _floor_not_above, Action.EVACUATE),
    ActionRule("upstairs_safe", lambda f: True, Action.MOVE_UP),
)


def decide_action(facts: ActionFacts) -> tuple[Action, str]:
    """(action, name of the deciding rule) from the first row of ``RULES`` that applies.

    Never raises; the last row always applies.
    """
    for rule in RULES:
        if rule.applies(facts):
            return rule.action, rule.name
    raise AssertionError("unreachable: the last rule always applies")  # pragma: no cover
