"""The HTTP side of a download: urllib3 pools shared by the worker threads, and the two
kinds of failure a request ends in."""

import urllib.request
from collections.abc import Mapping
from typing import Any

import httpx
import urllib3

_TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)


class Retry(Exception):
    """A failure another attempt may cure: the network, a 5xx, an expired URL."""


class Refused(Exception):
    """A failure no retry cures, such as the gateway's refusal."""


def describe(response: urllib3.BaseHTTPResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        detail = body.get("detail")
        return f"{response.status} {body['error']}" + (f": {detail}" if detail else "")
    return f"{response.status} {response.reason}"


class Http:
    """Connection pools for the gateway and the object store, shared by the worker threads.

    Certificates are trusted as httpx trusts them (certifi, or SSL_CERT_FILE or SSL_CERT_DIR),
    and a request goes through the proxy that HTTP_PROXY or HTTPS_PROXY names for its scheme
    unless NO_PROXY exempts its host, as with httpx and boto3.
    """

    def __init__(self, size: int) -> None:
        options: dict[str, Any] = {
            "maxsize": size,
            "ssl_context": httpx.create_ssl_context(),
            "timeout": _TIMEOUT,
            "retries": False,
        }
        self._direct = urllib3.PoolManager(**options)
        self._proxies = {
            scheme: urllib3.ProxyManager(url if "://" in url else f"http://{url}", **options)
            for scheme, url in urllib.request.getproxies().items()
            if scheme in ("http", "https") and url
        }

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: object = None,
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """One request, redirects not followed. A streamed body must be read to its end or
        the response closed, or its connection would hand its rest to the next request."""
        manager = self._direct
        if self._proxies:
            parsed = urllib3.util.parse_url(url)
            proxy = self._proxies.get(parsed.scheme or "")
            if proxy is not None and not urllib.request.proxy_bypass(parsed.netloc or ""):
                manager = proxy
        return manager.request(
            method,
            url,
            headers=headers,
            json=json,
            redirect=False,
            preload_content=not stream,
            # The bytes as stored are what the manifest hashes.
            decode_content=False,
        )

    def clear(self) -> None:
        for manager in (self._direct, *self._proxies.values()):
            manager.clear()
