"""The provider simulator against the providers' published formats.

Twilio responses are checked against the OpenAPI schemas (declared properties, status
enums); FCM errors against the documented Google error shape; callbacks against
Twilio's signature scheme; the JSON-lines log against the issue's format.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from alertsvc.testing.simulator import Faults, ProviderSimulator, load_script

DATA = Path(__file__).parents[1] / "data" / "providers"
SID = "AC" + "0" * 32
TOKEN = "sim-test-token"


def spec() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (DATA / "twilio_api_v2010_messages_calls.json").read_text(encoding="utf-8")
    )
    return doc


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ProviderSimulator]:
    with ProviderSimulator(
        auth_token=TOKEN, log_path=tmp_path / "sim.jsonl", log_unmasked=True
    ) as s:
        yield s


def post_twilio(
    sim: ProviderSimulator, kind: str, data: dict[str, str], token: str = TOKEN
) -> requests.Response:
    url = f"{sim.url}/2010-04-01/Accounts/{SID}/{kind}.json"
    return requests.post(url, data=data, auth=(SID, token), timeout=5)


def check_against(body: dict[str, Any], schema_name: str) -> None:
    schemas = spec()["components"]["schemas"]
    schema = schemas[schema_name]
    declared = set(schema["properties"])
    assert set(body) <= declared, set(body) - declared
    # every property the schema declares is present (nullable ones as null)
    assert declared == set(body), declared ^ set(body)
    for name, prop in schema["properties"].items():
        value = body.get(name)
        if "$ref" in prop:
            enum = schemas[prop["$ref"].split("/")[-1]].get("enum")
            if enum is not None and value is not None:
                assert value in enum, (name, value)
        elif value is not None and prop.get("type") == "string":
            assert isinstance(value, str), (name, value)


def test_message_create_response_matches_openapi(sim: ProviderSimulator) -> None:
    resp = post_twilio(
        sim, "Messages", {"To": "+819012345678", "From": "+815000000000", "Body": "避難"}
    )
    op = spec()["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"]
    assert str(resp.status_code) in op["responses"]
    assert resp.status_code == 201
    body = resp.json()
    check_against(body, "api.v2010.account.message")
    assert body["status"] == "queued"
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert body["to"] == "+819012345678"
    dt.datetime.strptime(body["date_created"], "%a, %d %b %Y %H:%M:%S %z")  # RFC 2822


def test_call_create_response_matches_openapi(sim: ProviderSimulator) -> None:
    resp = post_twilio(
        sim,
        "Calls",
        {
            "To": "+819012345678",
            "From": "+815000000000",
            "Twiml": "<Response><Say>x</Say></Response>",
        },
    )
    assert resp.status_code == 201
    body = resp.json()
    check_against(body, "api.v2010.account.call")
    assert body["status"] == "queued"
    assert body["sid"].startswith("CA") and len(body["sid"]) == 34


def test_request_parameters_are_declared_in_openapi(sim: ProviderSimulator) -> None:
    """What our adapters send is what the spec accepts (names taken from the recording)."""
    for kind in ("Messages", "Calls"):
        op = spec()["paths"][f"/2010-04-01/Accounts/{{AccountSid}}/{kind}.json"]["post"]
        form = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        for name in form.get("required", []):
            assert name in {"To", "From"}
        declared = set(form["properties"])
        assert {"To", "StatusCallback"} <= declared
        if kind == "Messages":
            assert {"Body", "ValidityPeriod", "MessagingServiceSid", "From"} <= declared
        else:
            assert {"Twiml", "StatusCallbackEvent", "StatusCallbackMethod"} <= declared


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [("opted_out", 400, 21610), ("landline", 400, 21614), ("invalid", 400, 21211)],
)
def test_twilio_error_bodies(
    sim: ProviderSimulator, behaviour: str, status: int, code: int
) -> None:
    sim.script("+819000000001", behaviour)
    resp = post_twilio(
        sim, "Messages", {"To": "+819000000001", "From": "+815000000000", "Body": "x"}
    )
    assert resp.status_code == status
    body = resp.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == code and body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"


def test_wrong_credentials_get_401_20003(sim: ProviderSimulator) -> None:
    resp = post_twilio(sim, "Messages", {"To": "+819000000002", "Body": "x"}, token="nope")
    assert resp.status_code == 401
    assert resp.json()["code"] == 20003


def test_missing_sender_is_a_400(sim: ProviderSimulator) -> None:
    resp = post_twilio(sim, "Messages", {"To": "+819000000003", "Body": "x"})
    assert resp.status_code == 400
    assert resp.json()["code"] == 21603


def test_injected_429_has_retry_after(sim: ProviderSimulator) -> None:
    sim.set_faults("twilio-sms", error_rate=1.0, error_statuses=(429,), retry_after_seconds=9)
    resp = post_twilio(
        sim, "Messages", {"To": "+819000000004", "From": "+815000000000", "Body": "x"}
    )
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "9"
    assert resp.json()["code"] == 20429


def test_faults_are_reproducible_with_a_seed() -> None:
    def run(seed: int) -> list[int]:
        with ProviderSimulator(auth_token=TOKEN, error_rate=0.5, seed=seed) as s:
            data = {"To": "+819000000005", "From": "+815000000000", "Body": "x"}
            return [post_twilio(s, "Messages", data).status_code for _ in range(12)]

    first = run(7)
    assert first == run(7)
    assert {201} < set(first)  # a mix of successes and injected errors


def test_faults_validate_rates() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError, match="unknown behaviour"):
        ProviderSimulator(script={"+81": "explode"})


def test_log_file_has_one_line_per_request(sim: ProviderSimulator, tmp_path: Path) -> None:
    sim.script("+819000000007", "opted_out")
    post_twilio(sim, "Messages", {"To": "+819000000006", "From": "+815000000000", "Body": "x"})
    post_twilio(sim, "Messages", {"To": "+819000000007", "From": "+815000000000", "Body": "x"})
    lines = [json.loads(x) for x in (tmp_path / "sim.jsonl").read_text().splitlines()]
    assert [(x["provider"], x["to"], x["status"]) for x in lines] == [
        ("twilio-sms", "+819000000006", 201),
        ("twilio-sms", "+819000000007", 400),
    ]
    for x in lines:
        assert set(x) == {"provider", "to", "status", "at"}
        assert dt.datetime.fromisoformat(x["at"]).tzinfo is not None


def test_load_script(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"+819000000008": "busy", "tok": "fail_first:3"}))
    assert load_script(path) == {"+819000000008": "busy", "tok": "fail_first:3"}
    path.write_text(json.dumps({"+81": "fail_first:x"}))
    with pytest.raises(ValueError, match="whole number"):
        load_script(path)


def test_callbacks_only_go_to_loopback(sim: ProviderSimulator) -> None:
    resp = post_twilio(
        sim,
        "Messages",
        {
            "To": "+819000000009",
            "From": "+815000000000",
            "Body": "x",
            "StatusCallback": "https://example.com/twilio/sms/status",
        },
    )
    assert resp.status_code == 201
    assert sim.wait_for_callbacks(5)
    assert sim.callbacks == []


def test_callback_failure_is_recorded_not_fatal(sim: ProviderSimulator) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/twilio/sms/status"
    data = {"To": "+819000000010", "From": "+815000000000", "Body": "x", "StatusCallback": dead}
    assert post_twilio(sim, "Messages", data).status_code == 201
    assert sim.wait_for_callbacks(10)
    assert sim.callbacks and all(c.status == 0 and c.error for c in sim.callbacks)
    # still serving
    assert post_twilio(sim, "Messages", data).status_code == 201


# --------------------------------------------------------------------------- FCM


def _token(sim: ProviderSimulator) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"iss": "sa@x"}).encode()).decode().rstrip("=")
    resp = requests.post(
        f"{sim.url}/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": f"e30.{claims}.sig",
        },
        timeout=5,
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    return str(body["access_token"])


def test_token_exchange_rejects_other_grants(sim: ProviderSimulator) -> None:
    resp = requests.post(f"{sim.url}/token", data={"grant_type": "password"}, timeout=5)
    assert resp.status_code == 400


def send_fcm(
    sim: ProviderSimulator, message: dict[str, Any], token: str | None
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{sim.url}/v1/projects/p1/messages:send",
        json={"message": message},
        headers=headers,
        timeout=5,
    )


def test_fcm_send_requires_a_bearer_token(sim: ProviderSimulator) -> None:
    resp = send_fcm(sim, {"token": "t"}, None)
    assert resp.status_code == 401
    assert resp.json()["error"]["status"] == "UNAUTHENTICATED"


def test_fcm_send_success_and_documented_errors(sim: ProviderSimulator) -> None:
    examples = json.loads((DATA / "fcm_v1_error_examples.json").read_text(encoding="utf-8"))
    token = _token(sim)
    ok = send_fcm(sim, {"token": "good", "data": {"a": "1"}}, token)
    assert ok.status_code == 200
    assert ok.json()["name"].startswith("projects/p1/messages/")

    sim.script("dead", "dead_token")
    dead = send_fcm(sim, {"token": "dead"}, token)
    assert dead.status_code == examples["error_codes"]["UNREGISTERED"]["http"]
    err = dead.json()["error"]
    shape = examples["example_invalid_token"]["error"]
    assert set(err) == set(shape)
    assert err["details"][0]["@type"] == shape["details"][0]["@type"]
    assert err["details"][0]["errorCode"] == "UNREGISTERED"

    bad = send_fcm(sim, {"token": "good", "data": {"n": 12}}, token)
    assert bad.status_code == 400
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    two = send_fcm(sim, {"token": "a", "topic": "b"}, token)
    assert two.status_code == 400
    unknown = send_fcm(sim, {"token": "a", "priority": "high"}, token)
    assert unknown.status_code == 400


@pytest.mark.parametrize(
    ("status", "code"), [(429, "QUOTA_EXCEEDED"), (500, "INTERNAL"), (503, "UNAVAILABLE")]
)
def test_fcm_injected_errors(sim: ProviderSimulator, status: int, code: str) -> None:
    examples = json.loads((DATA / "fcm_v1_error_examples.json").read_text(encoding="utf-8"))
    token = _token(sim)
    sim.set_faults("fcm", error_rate=1.0, error_statuses=(status,))
    resp = send_fcm(sim, {"token": "t"}, token)
    assert resp.status_code == status == examples["error_codes"][code]["http"]
    assert resp.json()["error"]["details"][0]["errorCode"] == code
    assert ("Retry-After" in resp.headers) == (status == 429)
