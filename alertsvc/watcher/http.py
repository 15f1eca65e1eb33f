"""Fetching source documents: httpx with explicit timeouts, connection retries, conditional GET.

``file://`` URLs are read from disk (replays and tests). Every failure becomes
``GaugeUnavailable`` naming the URL, so one broken source never stops the others.
The client is built at the composition root (``build_client``) and injected; tests pass
an ``httpx.Client`` over ``httpx.MockTransport``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from alertsvc import __version__
from alertsvc.errors import GaugeUnavailable

__all__ = ["USER_AGENT", "FetchResult", "Fetcher", "build_client"]

USER_AGENT = f"alertsvc-watcher/{__version__} (municipal flood alerts)"


def build_client(
    *,
    connect_timeout: float,
    read_timeout: float,
    retries: int,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for gauge sources.

    ``HTTPTransport(retries=n)`` retries only on connection errors (ConnectError,
    ConnectTimeout): a read timeout or a 5xx is not retried, because the next poll comes
    soon anyway and a retry storm on a struggling source helps nobody.
    """
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )
    return httpx.Client(
        transport=transport or httpx.HTTPTransport(retries=retries),
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
    )


@dataclass(frozen=True)
class FetchResult:
    """The body, or None with ``not_modified`` when the source answered 304."""

    content: bytes | None
    not_modified: bool = False


@dataclass
class Fetcher:
    """Fetches URLs with conditional GET (ETag / Last-Modified remembered per URL)."""

    client: httpx.Client
    _validators: dict[str, dict[str, str]] = field(default_factory=dict)

    def fetch(self, url: str) -> FetchResult:
        """GET ``url``; GaugeUnavailable on any network error, timeout or non-2xx/304."""
        if url.startswith("file://"):
            path = Path(unquote(urlparse(url).path))
            try:
                return FetchResult(path.read_bytes())
            except OSError as exc:
                raise GaugeUnavailable(f"{url}: cannot read: {exc.strerror or exc}") from exc
        headers: dict[str, str] = {}
        known = self._validators.get(url, {})
        if "etag" in known:
            headers["If-None-Match"] = known["etag"]
        if "last-modified" in known:
            headers["If-Modified-Since"] = known["last-modified"]
        try:
            response = self.client.get(url, headers=headers)
        except httpx.TimeoutException as exc:
            raise GaugeUnavailable(f"{url}: timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise GaugeUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 304:
            return FetchResult(None, not_modified=True)
        if not response.is_success:
            raise GaugeUnavailable(f"{url}: HTTP {response.status_code}")
        self._validators[url] = {
            k: response.headers[k] for k in ("etag", "last-modified") if k in response.headers
        }
        return FetchResult(response.content)
