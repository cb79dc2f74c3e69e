"""HTTP request details for download counting: Range headers, client and listener IPs, RSS pubDates.

Behaviour follows OP3 (skymethod/op3, MIT): tryParseRangeHeader, estimateByteRangeSize, tryExpandIpv6,
computeIpAddressForDownload and parsePubdate. Where we deliberately differ, the tests under
tests/unit/measurement/test_requests.py list the case and the reason.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

logger = logging.getLogger(__name__)

ByteRange = tuple[int, int | None]
"""(start, end) with an inclusive end; (start, None) is open-ended ``bytes=N-``; (-n, None) is the
suffix ``bytes=-n`` (the last n bytes), like the Python slice ``data[-n:]``."""

IpNetwork = IPv4Network | IPv6Network

OPEN_ENDED_RANGE_BYTES = 2**53 - 1  # OP3's Number.MAX_SAFE_INTEGER: "the rest of the file", size unknown
PROBE_RANGE_LAST_BYTE = 1  # IAB: a request for bytes 0-1 alone is a probe, not a download
PLAIN_PROBES = frozenset({"bytes=0-0", "bytes=0-1", "bytes=1-1"})  # the probes as players spell them


# --- Range header -----------------------------------------------------------------------------

_RANGE_SPEC = r"(?:\d{1,20}-\d{0,20}|-\d{1,20})"
_RANGE_HEADER = re.compile(rf"bytes=({_RANGE_SPEC}(?:\s*,\s*{_RANGE_SPEC})*)", re.IGNORECASE | re.ASCII)


def parse_range(header: str | None) -> list[ByteRange] | None:
    """The byte ranges of a Range header (OP3 tryParseRangeHeader); None when absent or unsupported.

    Unsupported: another unit, an empty or trailing range, end before start, ``bytes=-0``.
    """
    if not header:
        return None
    m = _RANGE_HEADER.fullmatch(header.strip())
    if not m:
        return None
    ranges: list[ByteRange] = []
    for spec in m[1].split(","):
        start_text, _, end_text = spec.strip().partition("-")
        if not start_text:
            suffix = int(end_text)
            if suffix < 1:
                return None
            ranges.append((-suffix, None))
        elif not end_text:
            ranges.append((int(start_text), None))
        else:
            start, end = int(start_text), int(end_text)
            if end < start:
                return None
            ranges.append((start, end))
    return ranges


def estimate_range_bytes(byte_range: ByteRange, content_length: int | None = None) -> int:
    """How many bytes a range asks for (OP3 estimateByteRangeSize).

    Without ``content_length`` an open-ended range counts as OPEN_ENDED_RANGE_BYTES; with it, the
    answer is what the server would actually send.
    """
    start, end = byte_range
    if start < 0:
        size = -start
        return size if content_length is None else min(size, content_length)
    if end is None:
        return OPEN_ENDED_RANGE_BYTES if content_length is None else max(0, content_length - start)
    if content_length is not None:
        end = min(end, content_length - 1)
    return max(0, end + 1 - start)


def is_probe_range(header: str | None) -> bool:
    """True when a Range header asks only for bytes within the first two (``bytes=0-1``, ``bytes=0-0``).

    IAB v2.3: such a request alone is not a download. A missing or unparseable header is not a probe.
    """
    ranges = parse_range(header)
    return bool(ranges) and all(start >= 0 and end is not None and end <= PROBE_RANGE_LAST_BYTE
                                for start, end in ranges)


# --- IP addresses -----------------------------------------------------------------------------

def expand_ipv6(addr: str) -> str | None:
    """The full 8-group form of an IPv6 address (OP3 tryExpandIpv6); None for anything else."""
    if not addr or ":" not in addr or "%" in addr:
        return None
    try:
        return IPv6Address(addr).exploded
    except ValueError:
        return None


def listener_ip(addr: str) -> str:
    """The address a listener is keyed on: IPv6 truncated to its /64, IPv4 as is.

    IPv6 comes back in full 8-group form with the last four groups zero (as OP3
    computeIpAddressForDownload); an IPv4-mapped IPv6 address becomes its IPv4 address. Input that is
    not an IP address is returned stripped but otherwise unchanged, so a hit is never dropped here.
    """
    text = addr.strip()
    ip = _parse_ip(text)
    if ip is None:
        return text
    if ip.version == 4:
        return str(ip)
    return ip.exploded[:19] + ":0000:0000:0000:0000"


def client_ip(remote_addr: str, x_forwarded_for: str | None, trusted_proxies: Iterable[IpNetwork] = ()) -> str:
    """The address of whoever made the request.

    X-Forwarded-For counts only when the direct peer is in ``trusted_proxies``; it is then read right
    to left past trusted hops, and the first untrusted address is the client (addresses further left
    are whatever the client claimed). An unreadable entry stops the walk at the nearest trusted hop.
    Addresses come back canonical (IPv4-mapped IPv6 as IPv4); a peer that is not an IP address is
    returned unchanged.
    """
    peer = _parse_ip(remote_addr.strip())
    if peer is None:
        return remote_addr.strip()
    networks = tuple(trusted_proxies)
    if not x_forwarded_for or not _is_trusted(peer, networks):
        return str(peer)
    nearest = peer
    for hop in reversed(x_forwarded_for.split(",")):
        hop = hop.strip()
        if not hop:
            continue
        ip = _parse_ip(_without_port(hop))
        if ip is None:
            break
        if not _is_trusted(ip, networks):
            return str(ip)
        nearest = ip
    return str(nearest)


def trusted_proxy_networks(text: str) -> tuple[IpNetwork, ...]:
    """Parse a comma- or space-separated list of addresses or CIDR networks (e.g. a setting).

    Raises ValueError naming the first entry that is not an address or network.
    """
    networks: list[IpNetwork] = []
    for entry in re.split(r"[\s,]+", text.strip()):
        if entry:
            try:
                networks.append(ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(f"not an IP address or network: {entry!r}") from exc
    return tuple(networks)


def _parse_ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        if ":" not in text:
            return IPv4Address(text)
        ip = IPv6Address(text)
    except ValueError:
        return None
    return ip if ip.ipv4_mapped is None else ip.ipv4_mapped


def _without_port(hop: str) -> str:
    # "[2001:db8::1]:443" -> "2001:db8::1"; "1.2.3.4:5678" -> "1.2.3.4"; a bare IPv6 address is left alone
    hop = hop.strip('"')
    if hop.startswith("["):
        return hop[1:hop.find("]")] if "]" in hop else hop
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop


def _is_trusted(ip: IPv4Address | IPv6Address, networks: tuple[IpNetwork, ...]) -> bool:
    return any(ip in network for network in networks)


# --- RSS pubDate ------------------------------------------------------------------------------

_TIME = r"(?:[\sT,]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?:[:,](?P<second>\d{2})(?P<fraction>\.\d+)?)?)?"
_ZONE = r"\s*,?\s*(?P<zone>(?:(?:GMT|UTC|UT)\s*)?[+-]\d{1,2}(?::?\d{2})?|[A-Z]{1,5}(?![A-Z]))?"
_ISO_DATE = re.compile(r"\s*(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})" + _TIME + _ZONE,
                       re.IGNORECASE | re.ASCII)
_US_DATE = re.compile(r"\s*(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})" + _TIME + _ZONE,
                      re.IGNORECASE | re.ASCII)
_RFC_DATE = re.compile(
    r"\s*(?:[^\W\d_]+\.?\s*,?\s*)?"  # weekday, in any language
    r"(?P<day>\d{1,2})[\s-]+(?P<month>[^\W_]{3,}?)\.?[\s-]+(?P<year>\d{4}|\d{2})(?![\d])" + _TIME + _ZONE,
    re.IGNORECASE)
_NUMERIC_ZONE = re.compile(r"(?:GMT|UTC|UT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE | re.ASCII)

# First letters of month names (en, es, de, fr, it, pt, nl) after accents are dropped.
_MONTH_PREFIXES = {
    "juin": 6, "juil": 7,
    "jan": 1, "ene": 1, "gen": 1, "feb": 2, "fev": 2, "mar": 3, "mrz": 3, "maa": 3, "mrt": 3,
    "apr": 4, "abr": 4, "avr": 4, "may": 5, "mai": 5, "mag": 5, "mei": 5, "jun": 6, "giu": 6,
    "jul": 7, "lug": 7, "aug": 8, "ago": 8, "aou": 8, "sep": 9, "set": 9, "oct": 10, "okt": 10,
    "ott": 10, "out": 10, "nov": 11, "dec": 12, "dez": 12, "dic": 12,
}
_ACCENTS = str.maketrans("áàâäãéèêëíìîïóòôöõúùûüç", "aaaaaeeeeiiiiooooouuuuc")
_MONTH_TYPOS = str.maketrans("10", "lo")  # "Ju1" is July

_ZONE_HOURS = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 1, "WEST": 1, "EET": 2, "EEST": 3, "MSK": 3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "AST": -4, "ADT": -3, "NST": -3.5, "NDT": -2.5,
    "SGT": 8, "HKT": 8, "AWST": 8, "JST": 9, "KST": 9, "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11,
    "NZST": 12, "NZDT": 13,
}
# Feeds write CET and CEST with little regard to the season, so both mean Central European civil time.
_CENTRAL_EUROPEAN = frozenset({"CET", "CEST", "MET", "MEST", "MEZ", "MESZ"})


def parse_pub_date(text: str | None) -> datetime | None:
    """An RSS pubDate as an aware UTC datetime, or None when it cannot be read (never raises).

    Reads RFC 822 dates with the usual feed damage (any weekday, English/Spanish/German/French/
    Italian/Portuguese/Dutch month abbreviations, "Ju1", "00:00,00", a missing space before the zone,
    "GMT+3", trailing junk), ISO 8601 dates and datetimes, and US "MM/DD/YYYY hh:mm:ss". No zone
    means UTC; an unknown zone abbreviation is read as UTC; CET/CEST mean Central European time on
    that date.
    """
    if not text:
        return None
    m = _ISO_DATE.match(text) or _US_DATE.match(text)
    if m:
        month: int | None = int(m["month"])
    else:
        m = _RFC_DATE.match(text)
        if not m:
            return None
        month = _month_number(m["month"])
        if month is None:
            return None
    year = int(m["year"])
    if len(m["year"]) == 2:
        year += 2000 if year < 50 else 1900
    try:
        local = datetime(year, month, int(m["day"]), int(m["hour"] or 0), int(m["minute"] or 0),
                         min(int(m["second"] or 0), 59), int(float(m["fraction"] or 0) * 1_000_000))
        offset = _zone_offset(m["zone"], local)
        if offset is None:
            return None
        return (local - offset).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _month_number(token: str) -> int | None:
    word = token.lower().translate(_ACCENTS).translate(_MONTH_TYPOS)
    if not word.isalpha():
        return None
    return _MONTH_PREFIXES.get(word[:4]) or _MONTH_PREFIXES.get(word[:3])


def _zone_offset(zone: str | None, local: datetime) -> timedelta | None:
    if not zone:
        return timedelta(0)
    numeric = _NUMERIC_ZONE.fullmatch(zone)
    if numeric:
        sign, hours, minutes = numeric.groups()
        if int(hours) > 23 or int(minutes or 0) > 59:
            return None
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return -offset if sign == "-" else offset
    name = zone.upper()
    if name in _CENTRAL_EUROPEAN:
        return _central_european_offset(local)
    return timedelta(hours=_ZONE_HOURS.get(name, 0))


def _central_european_offset(local: datetime) -> timedelta:
    # EU summer time: from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October
    def last_sunday(month: int) -> datetime:
        last = date(local.year, month, 31)
        return datetime(local.year, month, 31 - (last.weekday() + 1) % 7, 1)

    as_utc = local - timedelta(hours=1)
    return timedelta(hours=2 if last_sunday(3) <= as_utc < last_sunday(10) else 1)
