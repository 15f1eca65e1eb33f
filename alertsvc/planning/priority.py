"""Priority score: who dispatch should try to reach first (pure, additive, documented).

===============================================  ======
factor                                           points
===============================================  ======
depth rank (1-6) x 10; unknown rank              +10 x rank; +15
inside (or near) a house-collapse zone           +25
bedridden                                        +25
wheelchair                                       +20
cognitive, sight, hearing (each)                 +10
lives alone                                      +10
no working mobile phone (push/landline only)     +10
only near a zone (edge tolerance), not inside    -5
警戒レベル5 (applies to everybody; keeps scores    +50
comparable across alerts)
===============================================  ======

Higher means more urgent. The same input always gives the same score.
"""

from __future__ import annotations

from alertsvc.models import ContactKind, Level, Need, Target

__all__ = ["NEED_POINTS", "priority_score"]

UNKNOWN_RANK_POINTS = 15.0
NEED_POINTS: dict[Need, float] = {
    Need.BEDRIDDEN: 25.0,
    Need.WHEELCHAIR: 20.0,
    Need.COGNITIVE: 10.0,
    Need.SIGHT: 10.0,
    Need.HEARING: 10.0,
    Need.LIVES_ALONE: 10.0,
}


def priority_score(target: Target, level: Level) -> float:
    """The additive risk score of the table above; never raises."""
    resident = target.resident
    score = UNKNOWN_RANK_POINTS if target.depth_rank is None else 10.0 * target.depth_rank
    if target.house_collapse:
        score += 25.0
    score += sum(NEED_POINTS.get(need, 0.0) for need in resident.needs)
    has_mobile = any(c.kind is ContactKind.MOBILE and c.healthy for c in resident.contacts)
    if not has_mobile:
        score += 10.0
    if target.edge_only:
        score -= 5.0
    if level >= Level.EMERGENCY:
        score += 50.0
    return score
