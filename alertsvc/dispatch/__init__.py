"""The durable outbox and the dispatcher: states, retry policy, rate limits, workers.

``outbox`` writes and reads delivery rows (create, cancel, status, callbacks, answers);
``worker`` claims due rows and calls the channels; ``states`` is the state machine as
data; ``retry`` and ``ratelimit`` are small value objects. See the README, "Delivery".
"""

from __future__ import annotations

from alertsvc.dispatch.outbox import (
    AlertStatus,
    CancelResult,
    PlannedDelivery,
    PlannedTarget,
    alert_status,
    cancel_alert,
    create_alert,
    record_acknowledgement,
    record_provider_status,
)
from alertsvc.dispatch.ratelimit import TokenBucket
from alertsvc.dispatch.retry import RetryPolicy, policy_for
from alertsvc.dispatch.states import DeliveryState, Event, transition
from alertsvc.dispatch.worker import Dispatcher, WorkerStats, run_worker

__all__ = [
    "AlertStatus",
    "CancelResult",
    "DeliveryState",
    "Dispatcher",
    "Event",
    "PlannedDelivery",
    "PlannedTarget",
    "RetryPolicy",
    "TokenBucket",
    "WorkerStats",
    "alert_status",
    "cancel_alert",
    "create_alert",
    "policy_for",
    "record_acknowledgement",
    "record_provider_status",
    "run_worker",
    "transition",
]
