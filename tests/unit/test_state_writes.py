"""The state machine the code declares is the one it enforces (issue #7, item 11).

Walks every module of the package: a delivery's state may only be written by
``alertsvc.dispatch.moves`` (which takes the target from ``states.TRANSITIONS``), and every
``move``/``move_each``/``move_returning_ids`` call must name an event, and a narrowing,
that the table allows with a single target.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import alertsvc
from alertsvc.dispatch.moves import edge
from alertsvc.dispatch.states import TRANSITIONS, DeliveryState, Event, InvalidTransition

PACKAGE = Path(alertsvc.__file__).parent
MOVES = PACKAGE / "dispatch" / "moves.py"
# tables whose own 'state' column is not a delivery's (alerts, drafts, …)
OTHER_TABLES = {"Alert", "AlertDraft"}
MOVE_FUNCS = {"move", "move_each", "move_returning_ids"}
_STATE_NAMES = {"S", "DeliveryState"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _update_target(node: ast.AST) -> str | None:
    """The table an UPDATE chain ends on: ``update(X)…`` -> "X", ``t.update()`` -> "t"."""
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id == "update" and node.args:
                arg = node.args[0]
                return arg.id if isinstance(arg, ast.Name) else ast.unparse(arg)
            if isinstance(f, ast.Attribute) and f.attr == "update" and not node.args:
                return ast.unparse(f.value)
            node = f
        else:
            node = node.value
    return None


def _sets_state(call: ast.Call) -> bool:
    for kw in call.keywords:
        if kw.arg == "state":
            return True
        if (
            kw.arg is None
            and isinstance(kw.value, ast.Dict)
            and any(isinstance(k, ast.Constant) and k.value == "state" for k in kw.value.keys)
        ):
            return True
    return any(
        isinstance(a, ast.Dict)
        and any(isinstance(k, ast.Constant) and k.value == "state" for k in a.keys)
        for a in call.args
    )


def _direct_state_writes(path: Path, source: str | None = None) -> list[str]:
    found: list[str] = []
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
            and _sets_state(node)
        ):
            target = _update_target(node.func.value)
            if target is not None and target not in OTHER_TABLES:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} UPDATE {target}")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.search(r"update\s+deliveries", node.value, re.IGNORECASE)
        ):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} raw SQL")
        if isinstance(node, ast.Assign):
            for t in node.targets:
                # ORM writes: <row>.state = … on anything that is not an alert or a draft
                if isinstance(t, ast.Attribute) and t.attr == "state":
                    owner = ast.unparse(t.value)
                    if not re.search(r"alert|draft|app", owner, re.IGNORECASE):
                        found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {owner}")
    return found


def test_no_delivery_state_is_written_outside_moves() -> None:
    offenders = [w for p in _modules() if p != MOVES for w in _direct_state_writes(p)]
    assert offenders == [], "state written without the transition table:\n" + "\n".join(offenders)


def test_the_walker_finds_a_direct_write() -> None:
    # the walker itself must not be blind: a copy of the pre-#7 code is found
    src = (
        "update(Delivery).where(Delivery.state == 'queued').values(state='claimed')\n"
        "t.update().where(x).values(state=bindparam('state'))\n"
        "row.state = 'sent'\n"
    )
    assert len(_direct_state_writes(PACKAGE / "probe.py", src)) == 3


def _event_literals(node: ast.AST) -> set[Event]:
    return {
        Event[n.attr]
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id in {"Event", "E"}
        and n.attr in Event.__members__
    }


def _move_calls() -> list[tuple[str, Event, frozenset[DeliveryState] | None]]:
    """Every move call with each event it can apply: the literal ``Event.X``, or, for an
    event held in a variable, every ``Event.X`` its function (else its module) names."""
    calls: list[tuple[str, Event, frozenset[DeliveryState] | None]] = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in MOVE_FUNCS
            ):
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            only: frozenset[DeliveryState] | None = None
            for kw in node.keywords:
                if kw.arg == "only":
                    assert isinstance(kw.value, ast.Set), f"{where}: only= must be a set literal"
                    names = []
                    for elt in kw.value.elts:
                        assert isinstance(elt, ast.Attribute)
                        assert ast.unparse(elt.value) in _STATE_NAMES, where
                        names.append(elt.attr)
                    only = frozenset(DeliveryState[n] for n in names)
            event_arg = node.args[1]
            if isinstance(event_arg, ast.Attribute):
                events = _event_literals(event_arg)
            else:
                assert isinstance(event_arg, ast.Name), f"{where}: event must be Event.X or a name"
                enclosing = [f for f in functions if f.lineno <= node.lineno <= (f.end_lineno or 0)]
                events = _event_literals(enclosing[-1]) if enclosing else set()
                events = events or _event_literals(tree)
            assert events, f"{where}: cannot tell which event this move applies"
            calls.extend((where, e, only) for e in events)
    return calls


def test_every_move_names_an_edge_of_the_table() -> None:
    calls = _move_calls()
    assert len(calls) >= 10  # the dispatcher, maintenance, cancel and the webhooks
    for where, event, only in calls:
        try:
            edge(event, only)
        except InvalidTransition as exc:
            pytest.fail(f"{where}: {exc}")


def test_edge_refuses_a_state_the_event_does_not_apply_in() -> None:
    with pytest.raises(InvalidTransition):
        edge(Event.CLAIM, {DeliveryState.SENT})
    with pytest.raises(InvalidTransition):
        edge(Event.LEASE_EXPIRED)  # claimed -> queued but sending -> unknown
    guard, target = edge(Event.LEASE_EXPIRED, {DeliveryState.SENDING})
    assert (guard, target) == (["sending"], DeliveryState.UNKNOWN)


def test_every_event_is_used_by_the_code() -> None:
    used = {event for _w, event, _o in _move_calls()}
    declared = {e for (_s, e) in TRANSITIONS}
    assert declared <= used, f"edges nobody applies: {sorted(e.value for e in declared - used)}"
