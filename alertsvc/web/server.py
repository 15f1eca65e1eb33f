"""Run the webhook app with uvicorn in a background thread.

The socket is bound before uvicorn starts, so ``port=0`` (ephemeral) works and ``url``
is known at once; a port already in use raises ``OSError`` from ``start()`` itself.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette

from alertsvc.acks import ack_secret as settings_ack_secret
from alertsvc.acks import webhook_auth_token
from alertsvc.channels.line import line_channel_secret
from alertsvc.config import Settings
from alertsvc.registry.store import record_refusal
from alertsvc.web.app import create_app

__all__ = ["WebhookServer"]


class WebhookServer:
    """The webhook app served by uvicorn on ``host:port`` (``port=0``: any free port).

    Use ``start()``/``stop()`` or a ``with`` block (background daemon thread), or
    ``run()`` to block until SIGINT/SIGTERM (``alertsvc serve``).
    When the app's public URL is empty, it becomes this server's bound ``url``.
    """

    def __init__(
        self,
        app: Starlette,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @classmethod
    def from_settings(
        cls,
        engine: Engine,
        settings: Settings,
        *,
        host: str | None = None,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> WebhookServer:
        """Build the app from settings: Twilio token and ack secret from the environment.

        The built-in (published) secrets are accepted only when the listening host, the
        public URL and every provider URL are loopback; otherwise ``ConfigError`` names
        ``webhooks.ack_secret_env`` (or ``twilio.auth_token_env``) before anything binds.
        """
        listen = settings.webhooks.host if host is None else host
        # the ack secret first: a forged "safe" is the worse failure, name it first
        secret = settings_ack_secret(settings, env, listen_hosts=[listen])
        token = webhook_auth_token(settings, env, listen_hosts=[listen])
        app = create_app(
            engine,
            settings,
            auth_token=token,
            ack_secret=secret,
            on_refused=record_refusal,
            line_channel_secret=line_channel_secret(settings, env, listen_hosts=[listen]),
        )
        return cls(
            app,
            host=listen,
            port=settings.webhooks.port if port is None else port,
        )

    # ------------------------------------------------------------------ addresses

    @property
    def bound_port(self) -> int:
        """The port actually bound; raises ``RuntimeError`` before ``start()``/``bind()``."""
        if self._sock is None:
            raise RuntimeError("WebhookServer is not bound")
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        """``http://host:port`` of the bound socket (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.bound_port}"

    @property
    def public_url(self) -> str:
        """The base URL Twilio signatures are checked against."""
        return str(self.app.state.public_url or self.url)

    # ------------------------------------------------------------------ lifecycle

    def bind(self) -> WebhookServer:
        """Bind the listening socket (idempotent). Raises ``OSError`` if the port is taken."""
        if self._sock is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        if not self.app.state.public_url:
            self.app.state.public_url = self.url
        return self

    def _make_server(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        return self._server

    def start(self) -> WebhookServer:
        """Serve in a daemon thread; returns once requests are accepted.

        Raises ``OSError`` if the port is taken and ``RuntimeError`` if uvicorn does not
        come up within ``startup_timeout`` seconds.
        """
        if self._thread is not None:
            return self
        self.bind()
        assert self._sock is not None
        server = self._make_server()
        sock = self._sock

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported by start(), not lost in the thread
                self._error = exc

        self._thread = threading.Thread(target=serve, name="alertsvc-webhooks", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        # uvicorn offers no startup event to wait on across threads; poll its flag
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"webhook server did not start: {self._error!r}")
            time.sleep(0.01)
        return self

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Serve until SIGINT/SIGTERM (or ``stop_event``), then stop cleanly and return.

        Our own handlers, not uvicorn's: uvicorn re-raises the signal after shutting down,
        which would kill the CLI instead of letting it report and exit 0. Raises
        ``RuntimeError`` if the server thread dies on its own.
        """
        stop = stop_event or threading.Event()
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda _sig, _frame: stop.set())
        try:
            self.start()
            while not stop.wait(0.2):
                if self._thread is None or not self._thread.is_alive():
                    raise RuntimeError(f"webhook server stopped unexpectedly: {self._error!r}")
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice or before ``start()``."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout=5)
        self._thread = None
        self._server = None
        self._close_socket()

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
