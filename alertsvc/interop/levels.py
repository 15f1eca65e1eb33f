"""The one table: 警戒レベル -> CAP 1.2 terms and the Lアラート 発令区分.

Why these values (CAP 1.2 section 3.2.2 enumerations):

- urgency: level 3 asks people who need support to move *now* and everyone else to
  prepare; the order itself is in force, so ``Immediate`` for 4 and 5, ``Expected`` for
  3 (the danger is expected within hours, not yet present).
- severity: 3 ``Moderate`` (significant threat for people who need support),
  4 ``Severe`` (significant threat to life), 5 ``Extreme`` (disaster occurring or
  imminent: 緊急安全確保).
- certainty: 3 and 4 ``Likely`` (a forecast or river reading past a threshold),
  5 ``Observed`` (flooding under way or certain).
- responseType: 3 and 4 ``Evacuate``; 5 ``Shelter`` — at level 5 it may be too late to
  leave, and the instruction is to take the safest place now (upstairs, nearby high
  building). An all-clear is ``AllClear``; a cancellation ``None``.
- Lアラート 発令区分 (post-2021 names; 避難勧告 was abolished and never appears).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LEVELS", "LevelTerms", "terms_for"]


@dataclass(frozen=True, slots=True)
class LevelTerms:
    level: int
    label_ja: str  # the order's official name
    label_en: str
    urgency: str
    severity: str
    certainty: str
    response: str
    lalert_sort: str  # Lアラート 発令区分 (issue); its lifting is "<sort>解除"


LEVELS: dict[int, LevelTerms] = {
    3: LevelTerms(3, "高齢者等避難", "Evacuate if elderly or needing support",
                  "Expected", "Moderate", "Likely", "Evacuate", "高齢者等避難"),
    4: LevelTerms(4, "避難指示", "Evacuation order",
                  "Immediate", "Severe", "Likely", "Evacuate", "避難指示"),
    5: LevelTerms(5, "緊急安全確保", "Emergency: secure your safety now",
                  "Immediate", "Extreme", "Observed", "Shelter", "緊急安全確保"),
}  # fmt: skip


def terms_for(level: int) -> LevelTerms:
    """The terms for ``level``; ``KeyError`` for a level alertsvc never sends."""
    return LEVELS[level]
