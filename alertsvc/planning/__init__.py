"""Planning: pure functions from (alert, targets, residents, shelters) to messages."""

from __future__ import annotations
