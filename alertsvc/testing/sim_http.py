"""The simulator's HTTP front door: routes each request to its provider module."""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from alertsvc.testing.sim_base import Reply
from alertsvc.testing.sim_fcm import FCM_PATH, handle_fcm, handle_token
from alertsvc.testing.sim_twilio import TWILIO_PATH, handle_twilio

if TYPE_CHECKING:
    from alertsvc.testing.simulator import ProviderSimulator

__all__ = ["make_handler"]

log = logging.getLogger("alertsvc.testing.simulator")


def make_handler(sim: ProviderSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "alertsvc-provider-simulator"
        protocol_version = "HTTP/1.1"
        # headers and body are separate writes: without this, delayed ACK stalls each reply 40 ms
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the simulator keeps its own structured log

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(Reply(200, {"ok": True}))
            else:
                self._send(Reply(404, {"error": "not found"}))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = urlparse(self.path).path
            try:
                if path == "/token":
                    reply = handle_token(sim, raw)
                elif m := TWILIO_PATH.match(path):
                    reply = handle_twilio(sim, self, m["sid"], m["kind"], raw)
                elif m := FCM_PATH.match(path):
                    reply = handle_fcm(sim, self, m["project"], raw)
                else:
                    reply = Reply(404, {"error": f"no such endpoint {path}"})
            except Exception as exc:  # a simulator bug must answer, not hang the client
                log.exception("simulator error on %s", path)
                reply = Reply(500, {"error": f"simulator error: {type(exc).__name__}"})
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            data = json.dumps(reply.body, ensure_ascii=False).encode()
            if reply.after is not None:
                # scheduled before answering, so wait_for_callbacks() after the client
                # got its answer always sees them; they still start callback_delay_s later
                reply.after()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (injected timeout): nothing to answer

    return Handler
