"""A loopback simulator of the Telnyx fax REST API and the LINE Messaging API.

Kept beside ``alertsvc.testing.simulator`` (Twilio, FCM) as its own small server so
that the real clients (``httpx`` for Telnyx, ``line-bot-sdk`` for LINE) can be pointed at
it by ``fax.base_url`` / ``line.base_url`` alone:

* Telnyx ``POST /v2/faxes`` (multipart: ``connection_id``, ``to``, ``from``,
  ``webhook_url``, file ``contents``; ``Authorization: Bearer``) answers 202
  ``{"data": {"id", "status": "queued", ...}}`` and then POSTs the JSON webhook events
  ``fax.queued``, ``fax.sending.started`` and ``fax.delivered`` or ``fax.failed`` (with
  ``failure_reason``) to ``webhook_url``. Invalid numbers get 422 with
  ``source.pointer = "/to"``.
* LINE ``POST /v2/bot/message/push`` (JSON, ``Authorization: Bearer``) answers 200
  ``{"sentMessages": [...]}``; a repeated ``X-Line-Retry-Key`` answers 409 with the
  ``x-line-accepted-request-id`` header and is NOT delivered again, as LINE documents.
  An unfollowed user id answers 400.
* ``line_postback(webhook_url, user_id, data)`` POSTs a webhook event signed with
  ``X-Line-Signature`` (base64 HMAC-SHA256 of the body with the channel secret).

Per-address scripts (``script(address, behaviour)``): ``busy``, ``no_answer``,
``invalid`` (fax); ``unfollowed``, ``rate_limited``, ``server_error`` (LINE).
Delivered LINE messages are kept in ``line_delivered``; every request in ``requests``;
every FAX webhook event posted in ``fax_events`` (url, event, number, answer status).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["ReachSimulator", "line_signature"]

FAX_BEHAVIOURS = ("busy", "no_answer", "invalid")
LINE_BEHAVIOURS = ("unfollowed", "rate_limited", "server_error")
_FAX_FAILURE = {"busy": "user_busy", "no_answer": "receiver_no_answer"}


def line_signature(secret: str, body: bytes) -> str:
    """The ``X-Line-Signature`` value LINE sends with ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class ReachRequest:
    provider: str  # "fax" | "line"
    to: str
    status: int
    fields: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    payload: bytes = b""


class ReachSimulator:
    """Fax and LINE endpoints on 127.0.0.1 (port 0: a free one). Use as a context manager."""

    def __init__(self, *, channel_secret: str = "line-secret", port: int = 0) -> None:
        self.channel_secret = channel_secret
        self._lock = threading.Lock()
        self._scripts: dict[str, str] = {}
        self._retry_keys: dict[str, str] = {}
        self.requests: list[ReachRequest] = []
        self.line_delivered: list[dict[str, Any]] = []
        self.callbacks: list[tuple[str, dict[str, Any], int]] = []
        # (webhook url, event type, fax number, our app's HTTP status) per FAX event posted
        self.fax_events: list[tuple[str, str, str, int]] = []
        self._threads: list[threading.Thread] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ReachSimulator:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wait_for_callbacks()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, address: str, behaviour: str) -> None:
        """Make ``address`` (fax number or LINE user id) behave as ``behaviour``."""
        if behaviour not in FAX_BEHAVIOURS + LINE_BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        with self._lock:
            self._scripts[address] = behaviour

    def behaviour(self, address: str) -> str:
        with self._lock:
            return self._scripts.get(address, "")

    def wait_for_callbacks(self, timeout: float = 10.0) -> None:
        """Wait until every status callback started so far has been posted."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def line_postback(self, webhook_url: str, user_id: str, data: str) -> int:
        """POST a signed postback event to ``webhook_url``; returns the HTTP status."""
        body = json.dumps(
            {
                "destination": "U" + "0" * 32,
                "events": [
                    {
                        "type": "postback",
                        "mode": "active",
                        "timestamp": int(time.time() * 1000),
                        "webhookEventId": uuid.uuid4().hex.upper(),
                        "deliveryContext": {"isRedelivery": False},
                        "replyToken": uuid.uuid4().hex,
                        "source": {"type": "user", "userId": user_id},
                        "postback": {"data": data},
                    }
                ],
            }
        ).encode("utf-8")
        return _post(
            webhook_url,
            body,
            {"X-Line-Signature": line_signature(self.channel_secret, body)},
        )

    def _fax_callbacks(self, url: str, fax_id: str, to: str, behaviour: str) -> None:
        events = ["fax.queued", "fax.sending.started"]
        final = "fax.failed" if behaviour in _FAX_FAILURE else "fax.delivered"
        for event in [*events, final]:
            payload: dict[str, Any] = {"fax_id": fax_id, "to": to, "status": event[4:]}
            if event == "fax.failed":
                payload["failure_reason"] = _FAX_FAILURE[behaviour]
            doc = {"data": {"event_type": event, "id": str(uuid.uuid4()), "payload": payload}}
            status = _post(url, json.dumps(doc).encode(), {})
            with self._lock:
                self.callbacks.append((event, doc, status))
                self.fax_events.append((url, event, to, status))

    def _start_callbacks(self, url: str, fax_id: str, to: str, behaviour: str) -> None:
        thread = threading.Thread(
            target=self._fax_callbacks, args=(url, fax_id, to, behaviour), daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def _make_handler(sim: ReachSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                self._reply(401, {"errors": [{"code": "10009", "title": "Authentication"}]})
            elif self.path == "/v2/faxes":
                self._fax(raw)
            elif self.path == "/v2/bot/message/push":
                self._line(raw)
            else:
                self._reply(404, {"message": "Not found"})

        def _reply(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(doc).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _fax(self, raw: bytes) -> None:
            head = f"Content-Type: {self.headers.get('Content-Type', '')}\r\n\r\n".encode()
            parsed = BytesParser(policy=HTTP).parsebytes(head + raw)
            fields: dict[str, str] = {}
            pdf = b""
            for part in parsed.iter_parts():
                name = part.get_param("name", header="content-disposition")
                content = part.get_payload(decode=True)
                if not isinstance(name, str) or not isinstance(content, bytes):
                    continue
                if name == "contents":
                    pdf = content
                else:
                    fields[name] = content.decode("utf-8")
            to = fields.get("to", "")
            behaviour = sim.behaviour(to)
            missing = [f for f in ("connection_id", "to", "from") if not fields.get(f)]
            if missing or not pdf.startswith(b"%PDF"):
                status = 422
                doc: dict[str, Any] = {
                    "errors": [
                        {
                            "code": "10015",
                            "title": "Invalid request",
                            "source": {"pointer": f"/{(missing or ['contents'])[0]}"},
                        }
                    ]
                }
            elif behaviour == "invalid" or not to.startswith("+"):
                status = 422
                doc = {
                    "errors": [
                        {
                            "code": "10016",
                            "title": "Invalid phone number",
                            "source": {"pointer": "/to"},
                        }
                    ]
                }
            else:
                status = 202
                fax_id = str(uuid.uuid4())
                doc = {
                    "data": {
                        "id": fax_id,
                        "record_type": "fax",
                        "status": "queued",
                        "direction": "outbound",
                        "to": to,
                        "from": fields["from"],
                        "connection_id": fields["connection_id"],
                    }
                }
                if fields.get("webhook_url"):
                    sim._start_callbacks(fields["webhook_url"], fax_id, to, behaviour)
            with sim._lock:
                sim.requests.append(ReachRequest("fax", to, status, fields, {}, pdf))
            self._reply(status, doc)

        def _line(self, raw: bytes) -> None:
            try:
                doc = json.loads(raw)
            except ValueError:
                self._reply(400, {"message": "The request body has 1 error(s)"})
                return
            to = str(doc.get("to", "")) if isinstance(doc, dict) else ""
            retry_key = self.headers.get("X-Line-Retry-Key") or ""
            headers = {"X-Line-Retry-Key": retry_key}
            behaviour = sim.behaviour(to)
            reply_headers: dict[str, str] = {"x-line-request-id": str(uuid.uuid4())}
            with sim._lock:
                accepted = sim._retry_keys.get(retry_key) if retry_key else None
            answer: dict[str, Any]
            if accepted is not None:
                status, answer = (
                    409,
                    {"message": "The retry key is already accepted", "sentMessages": []},
                )
                reply_headers["x-line-accepted-request-id"] = accepted
            elif behaviour == "rate_limited":
                status, answer = 429, {"message": "Too Many Requests"}
            elif behaviour == "server_error":
                status, answer = 500, {"message": "Internal error"}
            elif behaviour == "unfollowed" or not to.startswith("U"):
                status, answer = 400, {"message": "Failed to send messages"}
            else:
                status = 200
                answer = {
                    "sentMessages": [
                        {"id": str(uuid.uuid4().int)[:18]} for _ in doc.get("messages", [])
                    ]
                }
                with sim._lock:
                    if retry_key:
                        sim._retry_keys[retry_key] = reply_headers["x-line-request-id"]
                    sim.line_delivered.append(doc)
            with sim._lock:
                sim.requests.append(ReachRequest("line", to, status, {}, headers, raw))
            self._reply(status, answer, reply_headers)

    return Handler
