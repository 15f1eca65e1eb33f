"""The life of an alert after it is sent: update to a higher level, correction (訂正),
all-clear (解除), quiet fix of a shelter. Each is one transaction with its audit entry.

Who gets what (the rule of each, in one place):

- **update** to level N (``update``): everyone the family (the original and earlier
  updates) reached gets the level-N message on the channels and addresses that reached
  them (kind ``update``, a notice: claimed ahead of other messages, no escalation).
  Everyone else in the new plan — newly in scope, or targeted but not reached yet — gets
  the full level-N alert with escalation (kind ``expansion``, replies match it); their
  unsent rows of the earlier alerts are stopped, so nobody gets two messages for one
  level. N must be higher than the family's level; an exercise stays an exercise.
- **the family**: correction, all-clear and cancel (``services.cap_notices``) act on the
  original alert and everything under it (update notices, expansions, earlier notices;
  never a duty-desk notice), whichever member's id they are given. Each person the family
  reached gets the notice once, on the row that reached them most recently, in its
  language (``dispatch.reach``).
- **correction** (``notices``): unsent rows of the family are stopped at once; the
  correction goes once to each person the family reached (kind ``correction``, a
  notice); the people whose rows were stopped get their original messages again with the
  correction appended (kind ``reissue``), so nobody is dropped.
- **all-clear** (``notices``): unsent rows are stopped (no escalation), 解除 goes once to
  each person reached or maybe reached (``states.may_have_reached``: a push waiting to
  retry an attempt that may have gone out counts), in each person's language; the alert
  is closed (state ``cleared``) and its follow-up list is frozen into the audit entry as
  the final report.
- **rows in flight** (state 'sending' at the moment of an update, correction or clear)
  are owed their notice: it is written as a ``NoticeWait`` and sent once the row settles
  as reached (sent, delivered, acknowledged, unknown), never if it fails or is withdrawn
  — that person is then unreached and handled as such (``dispatch.maintenance``).
- **quiet fix** (``quiet_fix``): a shelter's name or address changes in the register, in
  unsent messages and owed notices, and on the resident page; nobody is messaged again.

Correction and all-clear texts are the prepared templates ``templates/<lang>/correction.j2``
and ``clear.j2`` (per level, every language, 【訓練】 first on exercises).
"""

from __future__ import annotations

from alertsvc.services.lifecycle._family import LifecycleResult, stop_unsent
from alertsvc.services.lifecycle.notices import (
    NoticePlan,
    clear_alert,
    correct_alert,
    notice_text,
    plan_notices,
)
from alertsvc.services.lifecycle.quiet_fix import QuietFix, quiet_fix_shelter, shelter_fixes
from alertsvc.services.lifecycle.update import update_alert

__all__ = [
    "LifecycleResult",
    "NoticePlan",
    "QuietFix",
    "clear_alert",
    "correct_alert",
    "notice_text",
    "plan_notices",
    "quiet_fix_shelter",
    "shelter_fixes",
    "stop_unsent",
    "update_alert",
]
