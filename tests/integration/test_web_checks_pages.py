"""The web check tests of the resident and supporter pages (``/r``, ``/s``): each fails
when its check is neutralised (see ``tests/WEB_CHECKS.md``); the page forms are fuzzed.
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch import cancel_alert
from alertsvc.web.pages import page_token
from alertsvc.web.supporter_page import supporter_token
from tests.integration.web_checks_support import (
    SECRET,
    World,
    asgi_post,
    open_world,
)


@pytest.fixture
def world(engine: Engine, settings: Settings) -> Iterator[World]:
    with open_world(engine, settings) as w:
        yield w


# --------------------------------------------------------------------------- the pages


def test_each_page_token_has_its_own_purpose(world: World) -> None:
    resident, digest = world.keys["R1/sms"], world.keys["digest"]
    assert page_token(SECRET, digest) != supporter_token(SECRET, digest)
    # the other page's token for the same key opens nothing
    assert world.client.get(f"/s/{digest}/{page_token(SECRET, digest)}").status_code == 403
    assert world.client.get(f"/r/{resident}/{supporter_token(SECRET, resident)}").status_code == 403


@pytest.mark.parametrize("page", ["r", "s"])
def test_an_overlong_key_is_403_even_when_signed(world: World, page: str) -> None:
    key = "A" * 65
    token = page_token(SECRET, key) if page == "r" else supporter_token(SECRET, key)
    assert world.client.get(f"/{page}/{key}/{token}").status_code == 403


def test_resident_page_refuses_an_oversized_post(world: World) -> None:
    key = world.keys["R1/sms"]
    res = world.client.post(
        f"/r/{key}/{page_token(SECRET, key)}", data={"answer": "safe", "x": "y" * 2000}
    )
    assert res.status_code == 413
    assert world.acks() == []


@pytest.mark.parametrize("page", ["r", "s"])
def test_a_page_reads_no_more_than_its_limit(world: World, page: str) -> None:
    """Regression: the pages read the whole body into memory before checking its size."""
    key = world.keys["R1/sms" if page == "r" else "digest"]
    token = page_token(SECRET, key) if page == "r" else supporter_token(SECRET, key)
    chunks = [b"answer=safe&x=" + b"y" * 1024] + [b"y" * 1024] * 100
    status, asked = asgi_post(world.client.app, f"/{page}/{key}/{token}", chunks, [])
    assert status == 413 and asked <= 2
    headers = [(b"content-length", b"1000000")]
    status, asked = asgi_post(world.client.app, f"/{page}/{key}/{token}", chunks, headers)
    assert (status, asked) == (413, 0)
    assert world.acks() == []


def test_resident_page_is_for_a_residents_own_message_only(world: World) -> None:
    digest = world.keys["digest"]
    path = f"/r/{digest}/{page_token(SECRET, digest)}"
    assert world.client.get(path).status_code == 404
    assert world.client.post(path, data={"answer": "need_help"}).status_code == 404
    alert_id = world.keys["R1/sms"].split(":")[0]
    with session_scope(world.engine) as s:
        cancel_alert(s, alert_id, reason="誤報", actor="t", render=lambda _c, _l: ("取消", "取消"))
        notice = s.scalars(
            # one 取消し per person, on the row that reached them last (SMS or push)
            select(Delivery.key).where(
                Delivery.is_cancellation.is_(True), Delivery.resident_id == "R1"
            )
        ).first()
    assert notice is not None
    path = f"/r/{notice}/{page_token(SECRET, notice)}"
    assert world.client.get(path).status_code == 404
    assert world.client.post(path, data={"answer": "need_help"}).status_code == 404
    assert world.acks() == []


@pytest.mark.parametrize("person", ["R" * 65, "R1\x00", ""])
def test_supporter_page_refuses_a_malformed_person(world: World, person: str) -> None:
    key = world.keys["digest"]
    res = world.client.post(
        f"/s/{key}/{supporter_token(SECRET, key)}", data={"person": person, "answer": "safe"}
    )
    assert res.status_code == 422
    assert world.acks() == []


def test_supporter_page_same_answer_twice_is_one_row(world: World) -> None:
    key = world.keys["digest"]
    path = f"/s/{key}/{supporter_token(SECRET, key)}"
    for _ in range(2):
        res = world.client.post(path, data={"person": "R1", "answer": "cannot_reach"})
        assert res.status_code == 200
    assert world.acks() == [("R1", "cannot_reach", "web")]
    assert world.duty() == ["R1"]


# --------------------------------------------------------------------------- fuzzing

_FUZZ = hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_text = st.text(max_size=30)
_form = st.lists(
    st.tuples(st.sampled_from(["answer", "person"]) | _text,
              st.sampled_from(["safe", "need_help", "cannot_reach", "helping", "R1"]) | _text),
    max_size=4,
)  # fmt: skip


@_FUZZ
@given(form=_form, raw=st.binary(max_size=60), page=st.sampled_from(["r", "s"]))
def test_fuzz_page_posts_never_500(
    world: World, form: list[tuple[str, str]], raw: bytes, page: str
) -> None:
    key = world.keys["R1/sms" if page == "r" else "digest"]
    token = page_token(SECRET, key) if page == "r" else supporter_token(SECRET, key)
    for body in (urlencode(form).encode(), raw):
        res = world.client.post(
            f"/{page}/{key}/{token}",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert res.status_code < 500, res.text
        assert "Traceback" not in res.text
