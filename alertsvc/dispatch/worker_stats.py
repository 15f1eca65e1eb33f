"""What a worker did: the counters ``alertsvc worker --json`` reports."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["WorkerStats"]


@dataclass
class WorkerStats:
    """What a worker did; ``as_dict`` is the ``worker --json`` contract."""

    claimed: int = 0
    sent: int = 0  # accepted by the provider
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    refused: int = 0  # exercise rows to addresses off the allow-list
    released: int = 0  # escalation steps released
    recovered_claims: int = 0
    recovered_unknown: int = 0
    expired: int = 0  # failed by the max-age sweep: never handed to a provider in time
    db_errors: int = 0  # database errors survived (the loop backed off and went on)
    channel_errors: int = 0  # a channel that could not work (reported, isolated)

    def add(self, other: WorkerStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
