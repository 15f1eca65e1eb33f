"""The durable outbox and the dispatcher: states, retry policy, rate limits, workers.

The outbox, by audience: ``alerts`` creates and cancels alerts (officers), ``status``
reads progress and the follow-up list, ``inbound`` applies provider callbacks and
answers (webhooks). The dispatcher: ``sender`` claims due rows and calls the channels,
``maintenance`` recovers leases and releases escalations, ``runner`` runs the worker
threads. ``states`` is the state machine as data; ``retry`` and ``ratelimit`` are small
value objects. See the README, "Delivery".
"""

from __future__ import annotations

from alertsvc.dispatch.alerts import PlannedDelivery, PlannedTarget, create_alert
from alertsvc.dispatch.cancel import CancelResult, cancel_alert
from alertsvc.dispatch.inbound import record_acknowledgement, record_provider_status
from alertsvc.dispatch.ratelimit import TokenBucket
from alertsvc.dispatch.retry import RetryPolicy, policy_for
from alertsvc.dispatch.runner import run_worker
from alertsvc.dispatch.sender import Dispatcher, WorkerStats
from alertsvc.dispatch.states import DeliveryState, Event, transition
from alertsvc.dispatch.status import AlertStatus, alert_status

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
