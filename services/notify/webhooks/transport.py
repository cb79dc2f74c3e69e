"""One HTTP POST to a checked webhook target: the connection goes to the checked address, with the URL's host name
in the Host header and (for https) in TLS SNI and certificate checks; redirects are not followed."""
from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from services.notify.webhooks.guard import Target

EXCERPT_BYTES = 1024
USER_AGENT = "PodcastAnalytics-Webhooks/1"


@dataclass(frozen=True)
class Reply:
    status: int
    retry_after: str | None
    excerpt: str
    latency_ms: int


class DeliveryFailed(Exception):
    """No HTTP reply: refused, reset, timed out, TLS error, or an address the guard refused."""


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext | None = None):
        super().__init__(target.host, target.port, timeout=timeout, context=context or ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def post(target: Target, body: str, headers: dict[str, str], timeout: float,
         tls: ssl.SSLContext | None = None) -> Reply:
    """POST `body` to `target`; the reply's status, Retry-After and first EXCERPT_BYTES bytes, or DeliveryFailed.

    `tls` replaces the system's certificate authorities (tests); the certificate must name the URL's host."""
    if target.scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPSConnection(target, timeout, tls)
    else:
        connection = _PinnedHTTPConnection(target, timeout)
    started = time.monotonic()
    try:
        connection.request("POST", target.path, body=body.encode(), headers={"user-agent": USER_AGENT, **headers})
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        return Reply(status=response.status, retry_after=response.getheader("Retry-After"), excerpt=excerpt,
                     latency_ms=round((time.monotonic() - started) * 1000))
    except (OSError, http.client.HTTPException) as exc:  # socket.timeout and ssl errors are OSErrors
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
    finally:
        connection.close()
