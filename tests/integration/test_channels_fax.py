"""The FAX channel: the PDF it renders and its outcome table against the loopback
Telnyx fax simulator through the real httpx client."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from alertsvc.acks import SIMULATOR_ACK_SECRET, ack_token
from alertsvc.channels.fax import (
    FAX_FAILURES,
    MIN_POINTS,
    FaxChannel,
    fax_event_outcome,
    render_fax_pdf,
)
from alertsvc.config import Settings
from alertsvc.errors import ChannelMisconfigured, ConfigError
from alertsvc.models import ChannelName, Outcome, OutgoingMessage
from alertsvc.reports.fonts import find_japanese_font
from alertsvc.testing.reach_simulator import ReachSimulator

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed"
)

TITLE = "【レベル4 避難指示】直方市"
BODY = "すぐに避難してください。避難先: 直方市立第二中学校（体育館）。"


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "fax.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


def _pages(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
    line = next(x for x in info.stdout.splitlines() if x.startswith("Pages:"))
    return int(line.split()[1])


def _word_heights(pdf: bytes, tmp_path: Path) -> set[float]:
    path = tmp_path / "sizes.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    heights = set()
    for line in out.splitlines():
        if line.strip().startswith("<word "):
            ymin = float(line.split('yMin="')[1].split('"')[0])
            ymax = float(line.split('yMax="')[1].split('"')[0])
            heights.add(round(ymax - ymin, 1))
    return heights


def test_pdf_is_one_a4_page_with_japanese_text_in_large_type(tmp_path: Path) -> None:
    pdf = render_fax_pdf(title=TITLE, body=BODY, language="en", reply_to="+815000000001")
    text = _pdftotext(pdf, tmp_path).replace(" ", "").replace("\n", "")
    assert _pages(pdf, tmp_path) == 1
    assert "レベル4" in text and "避難指示" in text
    assert "直方市立第二中学校" in text
    assert "このFAXに返信" in text  # the Japanese instruction is always there
    assert "WriteSAFEorHELP" in text  # and the resident's own language beside it
    # every word box is at least as tall as the minimum type size (bbox height ~ size)
    assert min(_word_heights(pdf, tmp_path)) >= MIN_POINTS * 0.95


def test_pdf_stays_one_page_for_a_very_long_body(tmp_path: Path) -> None:
    pdf = render_fax_pdf(title=TITLE, body=BODY * 40, language="ja", reply_to="")
    assert _pages(pdf, tmp_path) == 1
    text = _pdftotext(pdf, tmp_path).replace(" ", "").replace("\n", "")
    assert "このFAXに返信" in text  # the instruction is never the part cut
    assert "…" in text


def test_no_japanese_font_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fonts-ipaexfont"):
        find_japanese_font(((tmp_path / "none.ttf", 0),))


def test_failure_table() -> None:
    assert fax_event_outcome("fax.failed", "user_busy") == ("busy", Outcome.DEFERRED)
    assert fax_event_outcome("fax.failed", "receiver_no_answer")[1] is Outcome.DEFERRED
    assert fax_event_outcome("fax.failed", "receiver_unallocated_number")[1] is Outcome.REJECTED
    assert fax_event_outcome("fax.failed", "something_new")[1] is Outcome.DEFERRED
    assert fax_event_outcome("fax.delivered") == ("delivered", Outcome.DELIVERED)
    assert fax_event_outcome("fax.sending.started") == ("sending", None)
    assert all(o in (Outcome.DEFERRED, Outcome.REJECTED) for o, _ in FAX_FAILURES.values())
    with pytest.raises(KeyError):
        fax_event_outcome("call.hangup")


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def hook() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def _settings(sim_url: str, public_url: str) -> Settings:
    s = Settings()
    return replace(
        s,
        fax=replace(s.fax, base_url=sim_url),
        webhooks=replace(s.webhooks, public_url=public_url),
    )


def _msg(to: str, key: str = "A1:1") -> OutgoingMessage:
    return OutgoingMessage(key, ChannelName.FAX, to, BODY, language="ja", title=TITLE)


def test_outcomes_against_the_simulator(
    hook: tuple[str, list[tuple[str, dict[str, Any]]]], tmp_path: Path
) -> None:
    public, received = hook
    with ReachSimulator() as sim:
        sim.script("+81949000002", "busy")
        sim.script("+81949000003", "no_answer")
        sim.script("+81949000004", "invalid")
        fax = FaxChannel.from_settings(_settings(sim.url, public), env={})
        results = fax.send_many(
            [
                _msg("+81949000001", "A1:1"),
                _msg("+81949000002", "A1:2"),
                _msg("+81949000003", "A1:3"),
                _msg("+81949000004", "A1:4"),
            ]
        )
        sim.wait_for_callbacks()
        requests = list(sim.requests)
    assert [r.outcome for r in results] == [
        Outcome.DELIVERED,
        Outcome.DELIVERED,
        Outcome.DELIVERED,
        Outcome.REJECTED,
    ]
    assert results[3].error_code == "invalid_number"
    assert all(r.provider_ref for r in results[:3])
    # the PDF the provider received is the rendered page, with the person's alert on it
    assert "避難指示" in _pdftotext(requests[0].payload, tmp_path).replace(" ", "")
    assert (
        requests[0].fields["webhook_url"].endswith(f"sig={ack_token(SIMULATOR_ACK_SECRET, 'A1:1')}")
    )
    # status callbacks: queued -> sending -> delivered / failed with the reason
    finals: dict[str, tuple[str, str]] = {}
    for path, doc in received:
        data = doc["data"]
        key = path.split("key=")[1].split("&")[0].replace("%3A", ":")
        finals[key] = (data["event_type"], data["payload"].get("failure_reason", ""))
    assert finals["A1:1"] == ("fax.delivered", "")
    assert fax_event_outcome(*finals["A1:2"])[1] is Outcome.DEFERRED  # busy
    assert fax_event_outcome(*finals["A1:3"])[1] is Outcome.DEFERRED  # no answer
    events = [doc["data"]["event_type"] for path, doc in received if "A1%3A1" in path]
    assert events == ["fax.queued", "fax.sending.started", "fax.delivered"]


def test_transport_failures_and_our_own_mistakes() -> None:
    # nothing listens on this port: connection refused -> DEFERRED, never raised
    client = httpx.Client(base_url="http://127.0.0.1:9", timeout=2)
    fax = FaxChannel(
        client,
        public_url="http://127.0.0.1:8766",
        connection_id="c",
        from_number="+815000000001",
        ack_secret=b"s",
    )
    assert fax.send(_msg("+81949000001")).outcome is Outcome.DEFERRED

    def answer(
        status: int, doc: dict[str, Any], headers: dict[str, str] | None = None
    ) -> FaxChannel:
        transport = httpx.MockTransport(
            lambda req: httpx.Response(status, json=doc, headers=headers)
        )
        return FaxChannel(
            httpx.Client(base_url="http://x", transport=transport),
            public_url="http://127.0.0.1:8766",
            connection_id="c",
            from_number="+815000000001",
            ack_secret=b"s",
        )

    deferred = answer(429, {}, {"Retry-After": "7"}).send(_msg("+81949000001"))
    assert (deferred.outcome, deferred.retry_after) == (Outcome.DEFERRED, 7.0)
    assert answer(503, {}).send(_msg("+81949000001")).outcome is Outcome.DEFERRED
    with pytest.raises(ChannelMisconfigured):
        answer(401, {"errors": []}).send(_msg("+81949000001"))
    bad_connection = {"errors": [{"source": {"pointer": "/connection_id"}}]}
    with pytest.raises(ChannelMisconfigured):
        answer(422, bad_connection).send(_msg("+81949000001"))


def test_api_key_required_off_loopback() -> None:
    s = Settings()
    s = replace(s, fax=replace(s.fax, base_url="https://api.telnyx.com"))
    with pytest.raises(ChannelMisconfigured, match="ALERTSVC_FAX_API_KEY"):
        FaxChannel.from_settings(s, env={})
