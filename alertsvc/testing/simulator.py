"""A loopback simulator of the Twilio and FCM HTTP APIs, with fault injection.

It speaks the providers' documented wire formats so that the REAL ``twilio`` and
``firebase_admin`` clients can be pointed at it by configuration alone:

Twilio ``Messages.json`` / ``Calls.json`` (``sim_twilio``: status callbacks and keypresses
are POSTed afterwards, signed with ``X-Twilio-Signature``) and FCM v1 ``messages:send``
behind the OAuth2 JWT-bearer exchange ``POST /token`` (``sim_fcm``).

Fault injection per provider (``"fcm"``, ``"twilio-sms"``, ``"twilio-voice"``):
``latency_ms``, ``error_rate`` (429 with Retry-After, 500 or 503, chosen at random),
``timeout_rate`` (the request is processed and logged, then the answer is held longer
than any sane client timeout). Randomness comes from one seeded generator, so a run
with the same seed and request order is reproducible.

Per-address scripts (``script(address, entry)``, ``script=`` or ``simulate-providers
--script FILE``): a provider behaviour (``unreachable``, ``opted_out``, ``landline``,
``invalid``, ``dead_token``, ``answers:1``, ``answers:2``, ``busy``, ``fail_first:N``) or
an ``Actor``, a scripted resident or supporter who answers by SMS reply, keypress or page
click after a delay, never answers, or cannot be reached (``alertsvc.testing.sim_script``
has the file format). Inbound SMS go to ``sms_url`` (default ``callback_url`` +
``/twilio/sms/inbound``), form-encoded and signed as Twilio posts them; page clicks POST
the page's own form. What each actor did is kept in ``actions`` (``ActorRecord``).

Every request received is kept in ``requests`` (thread-safe) and, with ``log_path``,
appended as one JSON line ``{"provider", "to", "status", "at"}`` where ``to`` is masked
(``+8190****0001``, ``abcd…wxyz``) unless ``log_unmasked=True`` (tests that match
numbers). Callback attempts, including failed ones, are kept in ``callbacks`` and never
crash the server.

Records live in ``sim_base``, scripts in ``sim_script``, the actors in ``sim_actors`` and
``sim_people``, routing in ``sim_http``; this module keeps the server and re-exports the
public names.

Usage::

    with ProviderSimulator(auth_token="t") as sim:
        settings = replace(settings, twilio=replace(settings.twilio, base_url=sim.url))
        ...
        sim.wait_for_callbacks(timeout=5)
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

from alertsvc.channels.twilio_common import SIMULATOR_AUTH_TOKEN, is_loopback_url
from alertsvc.testing.sim_actors import (
    ActorRecord,
    Clock,
    key_of,
    post_form,
)
from alertsvc.testing.sim_base import (
    BEHAVIOURS,
    PROVIDERS,
    CallbackRecord,
    Faults,
    RequestRecord,
    Step,
    check_behaviour,
    describe,
    now,
)
from alertsvc.testing.sim_http import make_handler
from alertsvc.testing.sim_people import keypress, sms_follow_up
from alertsvc.testing.sim_script import Actor, ScriptEntry, ScriptError, load_script, parse_script

__all__ = [
    "BEHAVIOURS",
    "PROVIDERS",
    "Actor",
    "ActorRecord",
    "CallbackRecord",
    "Faults",
    "ProviderSimulator",
    "RequestRecord",
    "ScriptError",
    "describe",
    "load_script",
    "parse_script",
]

log = logging.getLogger(__name__)

# a chain of (delay in seconds, action): run one after another in the background
Actions = list[tuple[float, Callable[[], object]]]


@dataclass
class _State:
    faults: dict[str, Faults]
    script: dict[str, ScriptEntry]
    fail_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    requests: list[RequestRecord] = field(default_factory=list)
    callbacks: list[CallbackRecord] = field(default_factory=list)
    actions: list[ActorRecord] = field(default_factory=list)
    # the delivery key of the latest message accepted per address (what a reply answers)
    last_key: dict[str, str] = field(default_factory=dict)


class ProviderSimulator:
    """The loopback Twilio + FCM simulator. Start with ``start()`` or a ``with`` block.

    ``port=0`` picks a free ephemeral port; the server binds 127.0.0.1 only and runs in
    a daemon thread, so it never outlives the process. ``stop()`` is idempotent and
    releases any injected timeout that is still holding a request.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        auth_token: str = SIMULATOR_AUTH_TOKEN,
        latency_ms: float = 0.0,
        error_rate: float = 0.0,
        timeout_rate: float = 0.0,
        timeout_seconds: float = 5.0,
        faults: Mapping[str, Faults] | None = None,
        script: Mapping[str, ScriptEntry] | None = None,
        seed: int = 0,
        log_path: Path | None = None,
        log_unmasked: bool = False,
        callback_url: str | None = None,
        callback_delay_s: float = 0.05,
        sms_url: str | None = None,
    ) -> None:
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the simulator only binds a loopback address")
        default = Faults(latency_ms, error_rate, timeout_rate, timeout_seconds)
        all_faults = dict.fromkeys(PROVIDERS, default)
        for provider, f in (faults or {}).items():
            if provider not in PROVIDERS:
                raise ValueError(f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})")
            all_faults[provider] = f
        for entry in (script or {}).values():
            if isinstance(entry, str):
                check_behaviour(entry)
        for name, url in (("callback_url", callback_url), ("sms_url", sms_url)):
            if url is not None and not is_loopback_url(url):
                raise ValueError(f"{name} must be a 127.0.0.1/localhost URL")
        self._host = host
        self._port = port
        self.auth_token = auth_token
        self.log_path = log_path
        # phone numbers and tokens are personal data: the log masks them unless a test asks
        self.log_unmasked = log_unmasked
        self.callback_url = callback_url.rstrip("/") if callback_url else None
        self.callback_delay_s = callback_delay_s
        # where a resident's SMS reply is posted: the number's "a message comes in" webhook
        self.sms_url = sms_url or (
            f"{self.callback_url}/twilio/sms/inbound" if self.callback_url else None
        )
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending_callbacks = 0
        self._rng = random.Random(seed)
        self._state = _State(faults=all_faults, script=dict(script or {}))
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._clock: Clock | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ProviderSimulator:
        """Bind and serve in a background thread. Raises ``OSError`` if the port is taken."""
        if self._server is not None:
            return self
        handler = make_handler(self)
        server = ThreadingHTTPServer((self._host, self._port), handler)
        server.daemon_threads = True
        self._server = server
        self._stopping.clear()
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sim-callback")
        self._pool = pool
        self._clock = Clock(self._submit)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; pending callbacks are abandoned. Safe to call twice."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._clock is not None:
            self._clock.stop()
            self._clock = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ProviderSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for both ``twilio.base_url`` and ``fcm.base_url``."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ scripting

    def script(self, address: str, entry: ScriptEntry | None) -> None:
        """Script ``address`` (E.164 number or push token) with a behaviour or an ``Actor``;
        ``None`` clears it. Raises ``ValueError`` for an unknown behaviour."""
        with self._lock:
            if entry is None:
                self._state.script.pop(address, None)
            else:
                if isinstance(entry, str):
                    check_behaviour(entry)
                self._state.script[address] = entry
            self._state.fail_counts = {
                k: v for k, v in self._state.fail_counts.items() if k[1] != address
            }

    def set_faults(self, provider: str, **changes: Any) -> None:
        """Change fault injection for one provider, e.g. ``set_faults("fcm", error_rate=1)``."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        with self._lock:
            self._state.faults[provider] = replace(self._state.faults[provider], **changes)

    def faults(self, provider: str) -> Faults:
        with self._lock:
            return self._state.faults[provider]

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of every provider request received so far, in arrival order."""
        with self._lock:
            return list(self._state.requests)

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """A copy of every callback attempt so far (failed ones have status 0)."""
        with self._lock:
            return list(self._state.callbacks)

    @property
    def actions(self) -> list[ActorRecord]:
        """A copy of what the scripted actors did so far (keypresses, replies, clicks)."""
        with self._lock:
            return list(self._state.actions)

    def wait_for_callbacks(self, timeout: float = 10.0) -> bool:
        """Block until no callback or actor action is pending (delays included); False if
        ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending_callbacks == 0, timeout=timeout)

    # ------------------------------------------------------------------ internals

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._state.requests.append(record)
            if self.log_path is not None:
                # one JSON line per request, appended under the lock so lines never interleave
                with self.log_path.open("a", encoding="utf-8") as fh:
                    line = record.as_log_line(masked=not self.log_unmasked)
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _actor(self, address: str) -> Actor | None:
        with self._lock:
            entry = self._state.script.get(address)
        return entry if isinstance(entry, Actor) else None

    def _behaviour(self, provider: str, address: str) -> str:
        with self._lock:
            entry = self._state.script.get(address, "")
            if isinstance(entry, Actor):
                if entry.via == "keypress":
                    return f"answers:{entry.answer}"
                return entry.behaviour
            if entry.startswith("fail_first:"):
                limit = int(entry.split(":", 1)[1])
                seen = self._state.fail_counts.get((provider, address), 0)
                self._state.fail_counts[(provider, address)] = seen + 1
                return "fail" if seen < limit else ""
            return entry

    def _accepted(self, address: str, callback_url: str) -> None:
        """A message to ``address`` was accepted: a reply now answers its delivery key."""
        key = key_of(callback_url)
        if key:
            with self._lock:
                self._state.last_key[address] = key

    def _roll(self, provider: str) -> tuple[str, int]:
        """Decide an injected fault: ("error", status) / ("timeout", 0) / ("", 0)."""
        with self._lock:
            f = self._state.faults[provider]
            if f.error_rate and self._rng.random() < f.error_rate:
                return "error", self._rng.choice(f.error_statuses)
            if f.timeout_rate and self._rng.random() < f.timeout_rate:
                return "timeout", 0
            return "", 0

    def _sleep(self, seconds: float) -> None:
        # interruptible, so stop() never waits for an injected timeout to run out
        if seconds > 0:
            self._stopping.wait(seconds)

    def _new_access_token(self) -> str:
        token = "ya29.sim-" + secrets.token_hex(16)
        with self._lock:
            self._state.tokens.add(token)
        return token

    def _token_known(self, token: str) -> bool:
        with self._lock:
            return token in self._state.tokens

    # ------------------------------------------------------------------ background work

    def _schedule(self, provider: str, steps: list[Step], follow: Actions | None = None) -> None:
        """POST ``steps`` (url, params) in order in the background, each ``callback_delay_s``
        after the last (a keypress after its actor's ``delay_s`` too), then run ``follow``."""
        actions: Actions = []
        for url, params in steps:
            if not url or not is_loopback_url(url):
                continue
            if "Digits" in params:
                actor = self._actor(params.get("To", ""))
                delay = self.callback_delay_s + (actor.delay_s if actor else 0.0)
                actions.append((delay, partial(keypress, self, url, params)))
            else:
                actions.append(
                    (self.callback_delay_s, partial(self._post_signed, provider, url, params))
                )
        self._chain([*actions, *(follow or [])])

    def _chain(self, actions: Actions) -> None:
        if not actions or self._clock is None or self._stopping.is_set():
            return
        with self._lock:
            self._pending_callbacks += 1
        self._next(actions, 0)

    def _next(self, actions: Actions, index: int) -> None:
        clock = self._clock
        if index >= len(actions) or clock is None or self._stopping.is_set():
            self._callback_done()
            return
        delay, action = actions[index]

        def run() -> None:
            try:
                action()
            except Exception:  # an actor's bug must not stall wait_for_callbacks
                log.exception("simulator background action failed")
            self._next(actions, index + 1)

        if not clock.call_later(delay, run):
            self._callback_done()

    def _submit(self, fn: Callable[[], None]) -> None:
        pool = self._pool
        try:
            if pool is None:
                raise RuntimeError("stopped")
            pool.submit(fn)
        except RuntimeError:  # pool shut down: the chain ends here
            self._callback_done()

    def _callback_done(self) -> None:
        with self._idle:
            self._pending_callbacks -= 1
            self._idle.notify_all()

    def _post_signed(self, provider: str, url: str, params: dict[str, str]) -> int:
        status, _text, error = post_form(url, list(params.items()), auth_token=self.auth_token)
        with self._lock:
            self._state.callbacks.append(
                CallbackRecord(provider, url, dict(params), status, now(), error)
            )
        if error:
            log.info("simulator callback to %s failed: %s", urlparse(url).path, error)
        return status

    def _act(self, record: ActorRecord) -> None:
        with self._lock:
            self._state.actions.append(record)

    def _answering(self, address: str) -> str:
        """The delivery key a reply from ``address`` answers now (its latest message)."""
        with self._lock:
            return self._state.last_key.get(address, "")

    def _sms_follow_up(self, account: str, form: Mapping[str, str]) -> Actions:
        return sms_follow_up(self, account, form)
