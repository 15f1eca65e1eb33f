"""Fetching gauge documents: User-Agent, conditional GET, errors, a source that hangs."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alertsvc.errors import GaugeUnavailable
from alertsvc.watcher.http import USER_AGENT, Fetcher, build_client


def test_conditional_get_and_user_agent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, content=b'{"obss": []}', headers={"ETag": '"v1"'})

    client = build_client(
        connect_timeout=1, read_timeout=1, retries=0, transport=httpx.MockTransport(handler)
    )
    fetcher = Fetcher(client)
    first = fetcher.fetch("https://gauges.example/area/40000.json")
    second = fetcher.fetch("https://gauges.example/area/40000.json")
    assert first.content == b'{"obss": []}' and not first.not_modified
    assert second.content is None and second.not_modified
    assert all(r.headers["user-agent"] == USER_AGENT for r in seen)
    assert "if-none-match" not in seen[0].headers


@pytest.mark.parametrize("status", [404, 500, 503])
def test_http_errors_are_unavailable(status: int) -> None:
    client = build_client(
        connect_timeout=1,
        read_timeout=1,
        retries=0,
        transport=httpx.MockTransport(lambda r: httpx.Response(status)),
    )
    with pytest.raises(GaugeUnavailable, match=f"HTTP {status}"):
        Fetcher(client).fetch("https://gauges.example/x.json")


def test_file_urls_are_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    path.write_bytes(b"{}")
    fetcher = Fetcher(build_client(connect_timeout=1, read_timeout=1, retries=0))
    assert fetcher.fetch(path.as_uri()).content == b"{}"
    with pytest.raises(GaugeUnavailable, match="cannot read"):
        fetcher.fetch((tmp_path / "none.json").as_uri())


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/feed.json"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_source_that_hangs_times_out(hanging_server: str) -> None:
    fetcher = Fetcher(build_client(connect_timeout=0.5, read_timeout=0.3, retries=1))
    with pytest.raises(GaugeUnavailable, match="timed out"):
        fetcher.fetch(hanging_server)


def test_connection_refused_is_unavailable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    fetcher = Fetcher(build_client(connect_timeout=0.5, read_timeout=0.5, retries=2))
    with pytest.raises(GaugeUnavailable, match="ConnectError"):
        fetcher.fetch(f"http://127.0.0.1:{port}/x")


def test_one_hanging_source_does_not_stop_the_others(hanging_server: str, tmp_path: Path) -> None:
    from alertsvc.config import StationSettings
    from alertsvc.watcher.gather import gather

    good = tmp_path / "area.json"
    # synthetic upstream area-feed document with one gauge
    good.write_text(
        '{"obss": [{"code": "4020400001", "obsTime": "2026-07-01T02:10:00+09:00",'
        ' "level": 5.2, "startLevel": 4.0, "warnLevel": 5.0, "fladLevel": 6.0}]}'
    )
    stations = [
        StationSettings(id="hang", source="area_feed", url=hanging_server, code="4020400009"),
        StationSettings(id="ok", source="area_feed", url=good.as_uri(), code="4020400001"),
    ]
    fetcher = Fetcher(build_client(connect_timeout=0.5, read_timeout=0.3, retries=0))
    inputs, _warnings = gather(stations, fetcher, timezone="Asia/Tokyo")
    by_id = {i.station.id: i for i in inputs}
    assert by_id["hang"].error is not None and "timed out" in by_id["hang"].error
    assert by_id["ok"].error is None and [r.level_m for r in by_id["ok"].readings] == [5.2]
