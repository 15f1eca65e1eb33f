"""What scripted residents and supporters do, and the record of what they did.

* ``click_page`` is the page-click: it follows a link like a browser without JavaScript
  (GET, parse every ``<form>`` with ``html.parser``, POST the one whose submit button
  carries the scripted answer — and, for a supporter answering per person, whose hidden
  ``person`` field names that person). It works on any page built from plain forms: the
  resident page ``/r/…`` and the supporter page ``/s/…``.
* ``post_form`` POSTs form-encoded fields, signed with ``X-Twilio-Signature`` when an auth
  token is given: inbound SMS and keypresses reach our app exactly as Twilio posts them.
* ``Clock`` runs delayed actions on one timer thread, so hundreds of actors waiting for
  their ``delay_s`` do not hold hundreds of threads.

Only loopback URLs are ever followed or posted to.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

from alertsvc.channels.twilio_common import SIGNATURE_HEADER, is_loopback_url, twilio_signature

__all__ = [
    "ActorRecord",
    "Clock",
    "Form",
    "click_page",
    "first_link",
    "key_of",
    "parse_forms",
    "post_form",
]

_LINK = re.compile(r"https?://[^\s<>\"']+")
_USER_AGENT = "Mozilla/5.0 (Linux; Android 14) alertsvc-simulator"


@dataclass(frozen=True)
class ActorRecord:
    """One thing a scripted actor did (or could not do).

    ``outcome``: ``posted`` (our app answered ``status``), ``no_link`` (the SMS carried no
    link to follow), ``no_form`` (no form on the page offers ``answer`` for ``person``),
    ``error`` (the request failed: ``detail``). ``in_reply_to`` is the delivery key of the
    message the actor was answering (the ``key`` of its status callback, gather action or
    page link), "" when unknown.
    """

    address: str
    via: str  # sms | keypress | page
    answer: str
    status: int
    outcome: str
    at: dt.datetime
    in_reply_to: str = ""
    person: str = ""
    path: str = ""
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome == "posted" and 200 <= self.status < 300


@dataclass
class Form:
    """One ``<form>`` of a page: where it posts, its hidden/preset fields, its buttons."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._open)
        elif self._open is None or "disabled" in a:
            return
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self._open.buttons.append((a.get("name", ""), a.get("value", "")))
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self._open.buttons.append((a.get("name", ""), a.get("value", "")))
            elif kind in ("hidden", "text") and a.get("name"):
                self._open.fields.append((a["name"], a.get("value", "")))
            elif kind in ("checkbox", "radio") and a.get("name") and "checked" in a:
                self._open.fields.append((a["name"], a.get("value", "on")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def parse_forms(html: str) -> list[Form]:
    """Every form of ``html`` as a browser would submit it; never raises."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def first_link(text: str) -> str:
    """The first http(s) URL in ``text`` ("" when none)."""
    m = _LINK.search(text)
    return m.group(0).rstrip(".,)") if m else ""


def key_of(url: str) -> str:
    """The delivery key a URL names: its ``key`` query parameter, or the ``{key}`` of a
    page path ``/r/{key}/{token}`` or ``/s/{key}/{token}``; "" when none."""
    parsed = urlparse(url)
    if found := parse_qs(parsed.query).get("key"):
        return found[0]
    parts = parsed.path.strip("/").split("/")
    return parts[1] if len(parts) == 3 and parts[0] in ("r", "s") else ""


def post_form(
    url: str, fields: list[tuple[str, str]], *, auth_token: str = "", timeout: float = 5.0
) -> tuple[int, str, str]:
    """POST ``fields`` form-encoded to a loopback ``url``; with ``auth_token``, signed as
    Twilio signs. Returns (HTTP status or 0, response text, error); never raises."""
    if not is_loopback_url(url):
        return 0, "", "refused: not a loopback URL"
    req = urllib.request.Request(url, data=urlencode(fields).encode(), method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if auth_token:
        req.add_header(SIGNATURE_HEADER, twilio_signature(auth_token, url, fields))
        req.add_header("User-Agent", "TwilioProxy/1.1 (alertsvc simulator)")
    else:
        req.add_header("User-Agent", _USER_AGENT)
    return _open(req, timeout)


def _open(req: urllib.request.Request, timeout: float) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), resp.read().decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace"), f"http {exc.code}"
    except (OSError, ValueError) as exc:  # refused, timed out, bad URL
        return 0, "", f"{type(exc).__name__}: {exc}"


def click_page(
    url: str, answer: str, *, person: str = "", timeout: float = 5.0
) -> tuple[int, str, str, str]:
    """Open ``url`` and submit the form offering ``answer`` (for ``person`` when given).

    Returns (status of the POST or 0, outcome, path posted to, detail) with outcome
    ``posted``, ``no_form`` or ``error``; never raises.
    """
    if not is_loopback_url(url):
        return 0, "error", "", "refused: not a loopback URL"
    req = urllib.request.Request(url, method="GET")
    req.add_header("User-Agent", _USER_AGENT)
    status, html, error = _open(req, timeout)
    if status != 200:
        return status, "error", urlparse(url).path, error or f"GET answered {status}"
    for form in parse_forms(html):
        if form.method != "post":
            continue
        button = next((b for b in form.buttons if b[1] == answer), None)
        if button is None or (person and ("person", person) not in form.fields):
            continue
        target = urljoin(url, form.action or url)
        fields = [*form.fields, button] if button[0] else list(form.fields)
        status, _text, error = post_form(target, fields, timeout=timeout)
        return status, "posted" if status else "error", urlparse(target).path, error
    what = f"answer {answer!r}" + (f" for person {person!r}" if person else "")
    return 0, "no_form", urlparse(url).path, f"no form offers {what}"


class Clock:
    """Runs callables after a delay, on one timer thread, through ``submit`` (a pool).

    ``call_later`` returns False once the clock is stopped; ``stop`` drops what is still
    waiting and returns how many were dropped.
    """

    def __init__(self, submit: Callable[[Callable[[], None]], None]) -> None:
        self._submit = submit
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="sim-clock", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn: Callable[[], None]) -> bool:
        with self._cond:
            if self._stopped:
                return False
            heapq.heappush(self._heap, (time.monotonic() + max(delay, 0.0), next(self._seq), fn))
            self._cond.notify()
            return True

    def stop(self) -> int:
        with self._cond:
            self._stopped = True
            dropped = len(self._heap)
            self._heap.clear()
            self._cond.notify()
        self._thread.join(timeout=5)
        return dropped

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopped:
                    return
                _due, _seq, fn = heapq.heappop(self._heap)
            self._submit(fn)
