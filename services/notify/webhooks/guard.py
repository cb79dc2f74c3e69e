"""The SSRF guard: a webhook URL must be http(s) and resolve only to public addresses (unless allowed); the caller
then connects to the very address checked here, so a second DNS answer cannot point it elsewhere."""
from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
DNS_TIMEOUT = 5.0  # seconds a lookup may take; getaddrinfo has no timeout of its own

Resolver = Callable[[str, int], list[str]]


class UnsafeUrl(ValueError):
    """The URL is malformed, does not resolve, or resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class Target:
    """Where to connect: the checked `address`, with the URL's `host` for the Host header and TLS SNI."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, via the system resolver, within DNS_TIMEOUT seconds (an IP address is
    itself, with no lookup)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    found: dict = {}

    def lookup() -> None:
        try:
            found["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc

    thread = threading.Thread(target=lookup, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(DNS_TIMEOUT)
    if thread.is_alive():
        raise UnsafeUrl(f"{host}: the name did not resolve within {DNS_TIMEOUT:g} s")
    if "error" in found:
        raise UnsafeUrl(f"{host}: the name does not resolve ({found['error']})")
    return list(dict.fromkeys(info[4][0] for info in found["infos"]))


def refusal(address: str) -> str | None:
    """Why webhooks may not reach `address` (loopback, private ...), or None for a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
              ("multicast", ip.is_multicast), ("reserved", ip.is_reserved), ("private", ip.is_private))
    for name, hit in checks:
        if hit:
            return name
    return None if ip.is_global else "not public"


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; UnsafeUrl says what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeUrl("a URL is required")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("the URL must start with http:// or https://")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("the URL's port is not a number between 1 and 65535") from None
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host name")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL may not carry a user name or password")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def check_url(url: str, allow_private: bool, resolver: Resolver = system_resolver) -> Target:
    """Resolve `url`'s host and check every address; the Target connects to the first. Raises UnsafeUrl."""
    scheme, host, port, path = parse_url(url)
    addresses = resolver(host, port)
    if not addresses:
        raise UnsafeUrl(f"{host}: the name resolves to no address")
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise UnsafeUrl(f"{host} resolves to {address}, a {reason} address; webhooks only reach public "
                                "addresses")
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path)
