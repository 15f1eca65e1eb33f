"""Webhooks and acknowledgements: Twilio callbacks, keypresses, SMS replies, app acks.

``create_app`` builds the Starlette app; ``WebhookServer`` runs it with uvicorn in a
background thread (worker, demo, tests); ``ack_token`` signs the app's acknowledgements.
"""

from __future__ import annotations

from alertsvc.acks import ack_secret, ack_token, verify_ack_token
from alertsvc.web.app import create_app
from alertsvc.web.server import WebhookServer

__all__ = ["WebhookServer", "ack_secret", "ack_token", "create_app", "verify_ack_token"]
