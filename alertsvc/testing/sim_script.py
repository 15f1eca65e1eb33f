"""Scripts for the provider simulator: what each phone number or push token does.

A script maps an address (an E.164 number or a push token) to either a provider
behaviour (a string of ``BEHAVIOURS``: ``"dead_token"``, ``"opted_out"``, ``"busy"``, …)
or an ``Actor``: a scripted resident or supporter who answers like a real one.

File format (JSON, or TOML for a ``.toml`` file), one entry per address::

    {
      "+819000000001": {"via": "sms", "answer": "1", "delay_s": 0.5},
      "+819000000002": {"via": "keypress", "answer": "2"},
      "+819000000003": {"via": "page", "answer": "safe"},
      "+819000000004": {"via": "never"},
      "+819000000005": {"via": "unreachable"},
      "+819000000006": {"via": "page", "people": {"NG00012": "cannot_reach"}},
      "token-abc": "dead_token"
    }

``via``:

* ``sms`` — after each SMS is delivered, reply with ``answer`` as the SMS body.
* ``keypress`` — answer each call and press ``answer`` (digits) at the ``<Gather>``.
* ``page`` — follow the first link in each SMS like a browser: GET it, and POST the
  ``<form method="post">`` whose submit button has the value ``answer``; with
  ``people`` (a supporter), post once per person, choosing the form whose hidden
  ``person`` field names them.
* ``never`` — messages arrive (SMS delivered, calls answered) but nobody answers.
* ``unreachable`` — SMS undelivered (30003), calls not answered.

``delay_s`` (default 0) is how long the actor waits after the message arrives. Unknown
fields, wrong types and impossible values raise ``ScriptError``, which names the file,
the entry and the field.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from alertsvc.testing.sim_base import check_behaviour

__all__ = [
    "MAX_DELAY_S",
    "VIAS",
    "Actor",
    "ScriptEntry",
    "ScriptError",
    "Via",
    "load_script",
    "parse_script",
]

Via = Literal["sms", "keypress", "page", "never", "unreachable"]
VIAS: tuple[Via, ...] = ("sms", "keypress", "page", "never", "unreachable")
MAX_DELAY_S = 3600.0
_FIELDS = frozenset({"via", "answer", "delay_s", "people"})
_DIGITS = re.compile(r"[0-9*#]{1,8}")
_MAX_TEXT = 1600  # Twilio's longest inbound SMS body


@dataclass(frozen=True)
class Actor:
    """A scripted resident or supporter (see the module docstring). Build it through
    ``parse_script`` or directly; ``__post_init__`` raises ``ValueError`` for an actor that
    cannot act (a ``keypress`` without digits, ``people`` on an SMS replier, …)."""

    via: Via
    answer: str = ""
    delay_s: float = 0.0
    people: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = _actor_problem(self)
        if problem:
            raise ValueError(problem[1])

    @property
    def behaviour(self) -> str:
        """The provider behaviour this actor implies ("" when the provider just delivers)."""
        return "unreachable" if self.via == "unreachable" else ""

    def as_dict(self) -> dict[str, Any]:
        """The file form of this actor (``parse_script`` reads it back)."""
        doc: dict[str, Any] = {"via": self.via}
        if self.answer:
            doc["answer"] = self.answer
        if self.delay_s:
            doc["delay_s"] = self.delay_s
        if self.people:
            doc["people"] = dict(self.people)
        return doc


ScriptEntry = str | Actor


class ScriptError(ValueError):
    """A script entry that cannot be used; the message names file, entry and field."""

    def __init__(self, source: str, entry: str, field_name: str, problem: str) -> None:
        where = source + (f": entry {entry!r}" if entry else "")
        where += f", field {field_name!r}" if field_name else ""
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.entry = entry
        self.field = field_name


def _actor_problem(actor: Actor) -> tuple[str, str] | None:
    """(field, problem) for an actor that cannot act, or None."""
    if actor.via not in VIAS:
        return "via", f"expected one of {', '.join(VIAS)}, got {actor.via!r}"
    if not isinstance(actor.delay_s, int | float) or isinstance(actor.delay_s, bool):
        return "delay_s", "expected a number of seconds"
    if not math.isfinite(actor.delay_s) or not 0 <= actor.delay_s <= MAX_DELAY_S:
        return "delay_s", f"expected 0 to {MAX_DELAY_S:g} seconds, got {actor.delay_s!r}"
    if not isinstance(actor.answer, str) or "\x00" in actor.answer:
        return "answer", "expected text without NUL characters"
    if actor.people and actor.via != "page":
        return "people", "only a 'page' actor answers per person"
    for person, value in actor.people.items():
        if not person or not isinstance(value, str) or not value:
            return "people", f"expected person -> answer (both text), got {person!r}: {value!r}"
    if actor.via in ("never", "unreachable"):
        if actor.answer:
            return "answer", f"a {actor.via!r} actor gives no answer"
        return None
    if actor.via == "page" and (actor.people or actor.answer):
        return None
    if not actor.answer:
        return "answer", f"a {actor.via!r} actor needs an answer"
    if actor.via == "keypress" and not _DIGITS.fullmatch(actor.answer):
        return "answer", f"keypress: expected 1-8 of 0-9 * #, got {actor.answer!r}"
    if len(actor.answer) > _MAX_TEXT:
        return "answer", f"longer than {_MAX_TEXT} characters"
    return None


def parse_script(raw: Any, source: str = "<script>") -> dict[str, ScriptEntry]:
    """Validate a decoded script document. Raises ``ScriptError`` (file, entry, field) for
    anything it cannot use; never another exception."""
    if not isinstance(raw, dict):
        raise ScriptError(source, "", "", "expected an object of address -> entry")
    out: dict[str, ScriptEntry] = {}
    for address, entry in raw.items():
        name = str(address)
        if not name or "\x00" in name:
            raise ScriptError(source, name, "", "an address must be non-empty text")
        if isinstance(entry, str):
            try:
                check_behaviour(entry)
            except ValueError as exc:
                raise ScriptError(source, name, "", str(exc)) from None
            out[name] = entry
        elif isinstance(entry, dict):
            out[name] = _parse_actor(entry, source, name)
        else:
            raise ScriptError(source, name, "", "expected a behaviour (text) or an actor (object)")
    return out


def _parse_actor(entry: dict[Any, Any], source: str, name: str) -> Actor:
    unknown = sorted(str(k) for k in set(entry) - _FIELDS)
    if unknown:
        known = ", ".join(sorted(_FIELDS))
        raise ScriptError(source, name, unknown[0], f"unknown field (known: {known})")
    via = entry.get("via")
    if via not in VIAS:
        raise ScriptError(source, name, "via", f"expected one of {', '.join(VIAS)}, got {via!r}")
    answer = entry.get("answer", "")
    if not isinstance(answer, str):
        raise ScriptError(source, name, "answer", "expected text")
    delay = entry.get("delay_s", 0.0)
    if isinstance(delay, bool) or not isinstance(delay, int | float):
        raise ScriptError(source, name, "delay_s", "expected a number of seconds")
    people = entry.get("people", {})
    if not isinstance(people, dict):
        raise ScriptError(source, name, "people", "expected an object of person -> answer")
    candidate = Actor.__new__(Actor)
    for key, value in (
        ("via", via),
        ("answer", answer),
        ("delay_s", float(delay)),
        ("people", {str(k): v for k, v in people.items()}),
    ):
        object.__setattr__(candidate, key, value)
    problem = _actor_problem(candidate)
    if problem:
        raise ScriptError(source, name, *problem)
    return Actor(cast(Via, via), answer, float(delay), dict(candidate.people))


def load_script(path: Path) -> dict[str, ScriptEntry]:
    """Read a script file (JSON, or TOML when the name ends in ``.toml``).

    Raises ``ScriptError`` (a ``ValueError``) naming the file, entry and field, also for a
    file that is not valid JSON/TOML; ``OSError`` when it cannot be read.
    """
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ScriptError(str(path), "", "", f"not valid {path.suffix or 'JSON'}: {exc}") from None
    return parse_script(raw, str(path))
