"""CAP Update/Cancel references (property-based): a reference resolves only to an alert
of ours — by our exported identifier or by the agency identity kept when it was sent —
and anything else is refused with nothing resolved."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Alert
from alertsvc.errors import ScopeError
from alertsvc.interop.cap_export import cap_identifier
from alertsvc.interop.cap_import import CapAlert, CapReference
from alertsvc.services.cap_notices import cap_notice

T0 = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
# CAP 1.2: identifier and sender contain no spaces, commas or '<' '&'
TOKEN = st.from_regex(r"[A-Za-z0-9._@:\-]{1,40}", fullmatch=True)


def _doc(msg_type: str, refs: list[CapReference], severity: str = "Severe") -> CapAlert:
    return CapAlert(identifier="N1", sender="x@example.org", sent="2026-07-01T09:00:00+09:00",
                    status="Actual", msg_type=msg_type, references=tuple(refs),
                    severities=(severity,), headlines=(), area=None)  # fmt: skip


@pytest.fixture
def stored(engine: Engine) -> Engine:
    with session_scope(engine) as s:
        s.add(Alert(id="A1", kind="alert", level=3, scope={"zone_sets": ["flood"],
                    "cap": [{"sender": "pref@example.jp", "identifier": "PREF-1",
                             "sent": "2026-07-01T08:00:00+09:00"}]},
                    exercise=False, state="active", created_by="t", created_at=T0))  # fmt: skip
        s.add(Alert(id="A2", kind="update", parent_id="A1", level=4, scope={},
                    exercise=False, state="active", created_by="t",
                    created_at=T0 + dt.timedelta(minutes=1)))  # fmt: skip
    return engine


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sender=st.one_of(TOKEN, st.just("pref@example.jp")),
    identifier=st.one_of(
        TOKEN,
        st.sampled_from([cap_identifier(Settings(), a) for a in ("A1", "A2", "A3")] + ["PREF-1"]),
    ),
    msg_type=st.sampled_from(["Update", "Cancel"]),
)
def test_a_reference_resolves_only_to_our_alerts(
    stored: Engine, sender: str, identifier: str, msg_type: str
) -> None:
    config = Settings()
    ours = {cap_identifier(config, "A1"), cap_identifier(config, "A2")}
    agency = sender == "pref@example.jp" and identifier == "PREF-1"
    ref = CapReference(sender, identifier, "2026-07-01T08:00:00+09:00")
    with session_scope(stored) as s:
        if identifier in ours or agency:
            notice = cap_notice(s, config, "doc", [_doc(msg_type, [ref])], None)
            assert notice is not None and notice.alert_id == "A1"  # always the original
        else:
            with pytest.raises(ScopeError, match="no alert of ours"):
                cap_notice(s, config, "doc", [_doc(msg_type, [ref])], None)


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [("A1", "A1"), ("A2", "A1"), ("A0000", None)],
)
def test_our_identifiers_resolve_to_the_original(
    stored: Engine, identifier: str, expected: str | None
) -> None:
    config = Settings()
    ref = CapReference("alertsvc@x", cap_identifier(config, identifier), "t")
    with session_scope(stored) as s:
        if expected is None:
            with pytest.raises(ScopeError):
                cap_notice(s, config, "doc", [_doc("Update", [ref])], None)
        else:
            notice = cap_notice(s, config, "doc", [_doc("Update", [ref])], None)
            assert notice is not None and (notice.alert_id, notice.level) == (expected, 4)


def test_an_alert_is_not_a_notice(stored: Engine) -> None:
    with session_scope(stored) as s:
        assert cap_notice(s, Settings(), "doc", [_doc("Alert", [])], None) is None
