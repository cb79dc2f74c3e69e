"""Fetching a feed with a conditional GET (ETag / Last-Modified), standard library only."""
from __future__ import annotations

import gzip
import logging
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.errors import ServiceError

logger = logging.getLogger(__name__)

USER_AGENT = "PodcastAnalytics-Catalog/1.0 (feed fetcher)"
# Large real feeds are a few MB; anything past this is not a feed we want in memory.
MAX_FEED_BYTES = 64 * 1024 * 1024
_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


class FeedFetchError(ServiceError):
    """The feed could not be fetched (bad URL, network failure, too large)."""

    status = 502

    def __init__(self, url: str, problem: str):
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


@dataclass
class FetchResult:
    status: int  # the HTTP status; 304 means "not modified" and content is None
    content: bytes | None
    etag: str | None
    last_modified: str | None
    final_url: str  # after redirects


def _body(response) -> bytes:
    data = response.read(MAX_FEED_BYTES + 1)
    if len(data) > MAX_FEED_BYTES:
        raise ValueError(f"larger than {MAX_FEED_BYTES} bytes")
    encoding = (response.headers.get("Content-Encoding") or "").strip().lower()
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    return data


def fetch_feed(url: str, etag: str | None = None, last_modified: str | None = None,
               timeout: float = 20) -> FetchResult:
    """GET `url`, sending If-None-Match / If-Modified-Since when validators are known.

    HTTP error statuses (404, 410, 5xx) come back as a FetchResult with content None so the caller
    can act on them; only failures without a status raise FeedFetchError.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise FeedFetchError(url, "only http and https feed URLs can be fetched")
    headers = {"User-Agent": USER_AGENT, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return FetchResult(
                status=response.status,
                content=_body(response),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                final_url=response.geturl(),
            )
    except urllib.error.HTTPError as error:  # urllib raises for 304 and every 4xx/5xx
        with error:
            return FetchResult(
                status=error.code,
                content=None,
                etag=error.headers.get("ETag") or (etag if error.code == 304 else None),
                last_modified=error.headers.get("Last-Modified") or (last_modified if error.code == 304 else None),
                final_url=error.geturl() or url,
            )
    except (urllib.error.URLError, OSError, ValueError, EOFError, zlib.error) as error:
        reason = getattr(error, "reason", None) or error
        logger.info("feed fetch failed for %s: %s", url, reason)
        raise FeedFetchError(url, f"could not be fetched ({reason})") from error
