"""FCM push adapter (real firebase-admin) against the provider simulator.

The request bodies firebase-admin really sends are checked against the Message schema
of the FCM v1 discovery document.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertsvc.channels.fcm import ANDROID_CHANNEL_ID, FcmPush
from alertsvc.config import Settings
from alertsvc.models import ChannelName, Outcome, OutgoingMessage
from alertsvc.testing.simulator import ProviderSimulator

DISCOVERY = Path(__file__).parents[1] / "data" / "providers" / "fcm.v1.discovery.json"


@pytest.fixture
def sim() -> Iterator[ProviderSimulator]:
    with ProviderSimulator() as s:
        yield s


def settings_for(base_url: str) -> Settings:
    s = Settings()
    return dataclasses.replace(s, fcm=dataclasses.replace(s.fcm, base_url=base_url))


@pytest.fixture
def push(sim: ProviderSimulator) -> Iterator[FcmPush]:
    channel = FcmPush.from_settings(settings_for(sim.url), timeout=5.0, env={})
    yield channel
    channel.close()


def msg(key: str, token: str, **kw: Any) -> OutgoingMessage:
    return OutgoingMessage(
        key,
        ChannelName.PUSH,
        token,
        "洪水の危険。避難所: 直方市中央公民館",
        title="【警戒レベル3】高齢者等避難",
        data=(("alert_id", "17"), ("level", "3")),
        collapse_key="alert-17",
        **kw,
    )


TOKEN = "fcm-token-" + "x" * 40

PUSH_TABLE: list[tuple[str | None, Outcome]] = [
    (None, Outcome.DELIVERED),
    ("dead_token", Outcome.REJECTED),
    ("invalid", Outcome.REJECTED),
    # firebase-admin itself retries 503 up to 4 times: 2 failures are absorbed
    ("fail_first:2", Outcome.DELIVERED),
    ("fail_first:10", Outcome.DEFERRED),
]


@pytest.mark.parametrize(("behaviour", "outcome"), PUSH_TABLE)
def test_push_outcome_table(
    sim: ProviderSimulator, push: FcmPush, behaviour: str | None, outcome: Outcome
) -> None:
    sim.script(TOKEN, behaviour)
    [result] = push.send_many([msg("k-1", TOKEN)])
    assert result.outcome is outcome
    assert result.channel == ChannelName.PUSH
    assert TOKEN not in result.detail
    if outcome is Outcome.DELIVERED:
        assert result.provider_ref is not None
        assert re.fullmatch(r"projects/alertsvc-demo/messages/\w+", result.provider_ref)


def test_mixed_batch_keeps_order(sim: ProviderSimulator, push: FcmPush) -> None:
    sim.script("dead-" + TOKEN, "dead_token")
    results = push.send_many(
        [msg("a", TOKEN), msg("b", "dead-" + TOKEN), msg("c", ""), msg("d", "z" + TOKEN)]
    )
    assert [r.outcome for r in results] == [
        Outcome.DELIVERED,
        Outcome.REJECTED,
        Outcome.REJECTED,  # empty token: firebase-admin refuses to encode it
        Outcome.DELIVERED,
    ]
    assert "UNREGISTERED" in results[1].detail


def test_quota_exceeded_is_deferred_with_retry_after(sim: ProviderSimulator, push: FcmPush) -> None:
    sim.set_faults("fcm", error_rate=1.0, error_statuses=(429,), retry_after_seconds=42)
    [result] = push.send_many([msg("k", TOKEN)])
    assert result.outcome is Outcome.DEFERRED
    assert result.retry_after == 42.0
    # firebase-admin does not retry 429: exactly one request reached the provider
    assert len(sim.requests) == 1


def test_read_timeout_is_unknown(sim: ProviderSimulator) -> None:
    sim.set_faults("fcm", timeout_rate=1.0, timeout_seconds=5.0)
    channel = FcmPush.from_settings(settings_for(sim.url), timeout=0.3, env={})
    try:
        [result] = channel.send_many([msg("k", TOKEN)])
    finally:
        channel.close()
    assert result.outcome is Outcome.UNKNOWN
    # processed once and never re-sent by the client: a true "may have gone out"
    [req] = sim.requests
    assert req.fault == "timeout" and req.status == 200


def test_connection_refused_is_deferred() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the token exchange itself cannot reach the provider: still a DEFERRED per message
    channel = FcmPush.from_settings(settings_for(f"http://127.0.0.1:{port}"), timeout=2.0, env={})
    try:
        results = channel.send_many([msg("k", TOKEN)])
    finally:
        channel.close()
    assert [r.outcome for r in results] == [Outcome.DEFERRED]


def test_more_than_500_messages_go_in_chunks(sim: ProviderSimulator, push: FcmPush) -> None:
    messages = [msg(f"k-{i}", f"{TOKEN}-{i}") for i in range(501)]
    results = push.send_many(messages)
    assert len(results) == 501
    assert all(r.outcome is Outcome.DELIVERED for r in results)
    assert sorted(r.to for r in sim.requests) == sorted(m.address for m in messages)


# --------------------------------------------------------------------------- schema


def _schema() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DISCOVERY.read_text(encoding="utf-8"))
    return doc


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _check(value: Any, spec: dict[str, Any], schemas: dict[str, Any], where: str) -> list[str]:
    """Problems of ``value`` against a discovery-document schema (proto JSON rules)."""
    if "$ref" in spec:
        spec = schemas[spec["$ref"]]
    kind = spec.get("type")
    problems: list[str] = []
    if kind == "object" and "properties" in spec:
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        for key, sub in value.items():
            # protobuf JSON accepts the original snake_case names as well as lowerCamel
            name = _camel(key)
            if name not in spec["properties"]:
                problems.append(f"{where}.{key}: not in the schema")
                continue
            problems += _check(sub, spec["properties"][name], schemas, f"{where}.{key}")
    elif kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        extra = spec.get("additionalProperties")
        if extra:
            for key, sub in value.items():
                problems += _check(sub, extra, schemas, f"{where}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {value!r}")
        elif "enum" in spec and value.upper() not in spec["enum"]:
            problems.append(f"{where}: {value!r} not in {spec['enum']}")
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(f"{where}: expected a boolean")
    elif kind == "integer" and not isinstance(value, int):
        problems.append(f"{where}: expected an integer")
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        for i, item in enumerate(value):
            problems += _check(item, spec["items"], schemas, f"{where}[{i}]")
    return problems


def test_firebase_admin_request_matches_the_discovery_schema(
    sim: ProviderSimulator, push: FcmPush
) -> None:
    push.send_many([msg("k-9", TOKEN)])
    [req] = sim.requests
    doc = _schema()
    schemas = doc["schemas"]
    body = dict(req.body)
    message = dict(body["message"])
    # firebase-admin 7.x addresses by ``fid`` (``token`` is deprecated); the 2020
    # discovery revision predates it, so it is checked here and removed before the schema
    assert message.pop("fid") == TOKEN
    body["message"] = message
    assert _check(body, schemas["SendMessageRequest"], schemas, "request") == []
    assert message["notification"] == {
        "title": "【警戒レベル3】高齢者等避難",
        "body": "洪水の危険。避難所: 直方市中央公民館",
    }
    assert message["data"].pop("token")  # the app's ack token (checked below)
    assert message["data"] == {"alert_id": "17", "level": "3", "key": "k-9"}
    android = message["android"]
    assert android["priority"] == "high"
    assert android["collapse_key"] == "alert-17"
    assert android["notification"]["channel_id"] == ANDROID_CHANNEL_ID
    apns = message["apns"]
    assert apns["headers"]["apns-collapse-id"] == "alert-17"
    assert apns["headers"]["apns-priority"] == "10"
    aps = apns["payload"]["aps"]
    assert aps["sound"] == "default"
    assert aps["interruption-level"] == "time-sensitive"


def test_schema_checker_catches_a_bad_body() -> None:
    schemas = _schema()["schemas"]
    bad = {"message": {"token": "t", "data": {"n": 1}, "android": {"priority": "urgent"}}}
    problems = _check(bad, schemas["SendMessageRequest"], schemas, "request")
    assert len(problems) == 2


def test_push_data_carries_a_token_the_ack_endpoint_accepts(
    sim: ProviderSimulator, push: FcmPush
) -> None:
    from alertsvc.acks import ack_secret, verify_ack_token

    [result] = push.send_many([msg("A1:7", "tok-" + "a" * 40)])
    assert result.outcome == Outcome.DELIVERED
    data = sim.requests[-1].body["message"]["data"]
    secret = ack_secret(settings_for(sim.url), env={})
    assert data["key"] == "A1:7"
    assert verify_ack_token(secret, "A1:7", data["token"])
    assert not verify_ack_token(secret, "A1:8", data["token"])


def test_a_simulator_run_resolves_no_host_off_this_machine(
    sim: ProviderSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """google-auth must not look anything up at Google (regional access boundary)."""
    import socket
    import threading

    looked_up: list[str] = []
    real = socket.getaddrinfo

    def spy(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    channel = FcmPush.from_settings(settings_for(sim.url), timeout=5.0, env={})
    try:
        for i in range(3):
            [result] = channel.send_many([msg(f"k-{i}", TOKEN)])
            assert result.outcome == Outcome.DELIVERED
        # the boundary lookup runs in a background thread: let any such thread finish
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join(timeout=2)
    finally:
        channel.close()
    assert looked_up and set(looked_up) <= {"127.0.0.1", "localhost", "::1"}, looked_up


@pytest.mark.parametrize("concurrency", [1, 32])
def test_concurrent_sends_keep_one_mapped_result_per_message(
    sim: ProviderSimulator, concurrency: int
) -> None:
    """The bounded pool (#12) answers each message with its own outcome, in order: every
    accepted request is DELIVERED with the name the provider gave it, every 429 DEFERRED
    with its Retry-After, every dead token REJECTED, whatever order the replies came in."""
    sim.set_faults("fcm", error_rate=0.3, error_statuses=(429,), retry_after_seconds=7)
    messages = [msg(f"k-{i}", f"{TOKEN}-{i}") for i in range(120)]
    for i in range(0, 120, 9):
        sim.script(f"{TOKEN}-{i}", "dead_token")
    channel = FcmPush(push_app(sim), base_url=sim.url, ttl_seconds=600, concurrency=concurrency)
    try:
        results = channel.send_many(messages)
    finally:
        channel.close()
    assert len(results) == len(messages)
    by_token = {r.to: r for r in sim.requests}  # 429s are not retried: one request each
    assert len(sim.requests) == len(messages)
    for m, result in zip(messages, results, strict=True):
        req = by_token[m.address]
        if req.status == 200:
            assert result.outcome is Outcome.DELIVERED and result.provider_ref == req.sid
        elif req.status == 429:
            assert result.outcome is Outcome.DEFERRED and result.retry_after == 7.0
        else:
            assert req.fault == "script:dead_token"
            assert result.outcome is Outcome.REJECTED and result.error_code == "UNREGISTERED"
    assert {r.outcome for r in results} == {Outcome.DELIVERED, Outcome.DEFERRED, Outcome.REJECTED}


def test_concurrency_must_be_positive(sim: ProviderSimulator) -> None:
    app = push_app(sim)
    try:
        with pytest.raises(ValueError, match="concurrency"):
            FcmPush(app, base_url=sim.url, ttl_seconds=600, concurrency=0)
    finally:
        import firebase_admin

        firebase_admin.delete_app(app)


def push_app(sim: ProviderSimulator) -> Any:
    """A firebase App whose credential exchanges its token at the simulator."""
    import uuid

    import firebase_admin
    from firebase_admin import credentials

    from alertsvc.channels.fcm import _skip_access_boundary_lookup, simulator_service_account

    cred = credentials.Certificate(simulator_service_account(sim.url, "alertsvc-demo"))
    _skip_access_boundary_lookup(cred)  # as from_settings does: nothing leaves this machine
    return firebase_admin.initialize_app(
        cred, {"projectId": "alertsvc-demo"}, name=f"test-{uuid.uuid4().hex}"
    )
