"""services.measurement.requests against the OP3 reference cases, plus our proxy and Range rules."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path

import pytest

from services.measurement.requests import (
    OPEN_ENDED_RANGE_BYTES,
    client_ip,
    estimate_range_bytes,
    expand_ipv6,
    is_probe_range,
    listener_ip,
    parse_pub_date,
    parse_range,
    trusted_proxy_networks,
)

CASES_DIR = Path(__file__).resolve().parents[2] / "data" / "op3-cases"
SUITES = json.loads((CASES_DIR / "op3_acceptance_cases.json").read_text(encoding="utf-8"))["suites"]

REQUEST_SUITES = frozenset({"parsePubdate", "tryParseRangeHeader", "tryExpandIpv6", "computeIpAddressForDownload",
                            "computeListenerIpAddress", "computeRawIpAddress"})
REQUEST_NOT_APPLICABLE: dict[str, str] = {}
NOT_RUN = object()  # a case whose input our signature cannot take


@dataclass(frozen=True)
class Deviation:
    reason: str
    ours: object


IP_FOR_DOWNLOAD_DEVIATIONS = {
    "::ffff:129.144.52.38": Deviation(
        "an IPv4-mapped IPv6 address is the IPv4 listener; OP3's /64 cut would put every such listener "
        "on one key", "129.144.52.38"),
}

# computeListenerIpAddress, adapted: a deployment behind Cloudflare's crosszone worker lists that worker
# as a trusted proxy; trust comes from the peer's network, never from the User-Agent or ASN.
CROSSZONE = (ip_network("2a06:98c0:3600::103/128"),)
LISTENER_IP_DEVIATIONS = {
    "None|None|None|None": Deviation("no peer address: the WSGI boundary always has one, client_ip takes a str",
                                     NOT_RUN),
    "1.2.3.4|2.3.4.5|174|Mozilla/5.0 (Cloud Phone; Nokia 110 4G) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.6261.111 Mobile Safari/537.36 Puffin/12.1.1.46653FP PodLP/1.0": Deviation(
        "OP3 trusts X-Forwarded-For from PodLP cloud phones on ASN 174; we trust only configured proxy "
        "networks (add the Puffin proxies to trusted_proxies to get OP3's answer)", "1.2.3.4"),
    "2a06:98c0:3600::103|2.3.4.5|123|User Agent/1.0": Deviation(
        "OP3 also needs a client-ip-hash marker in the User-Agent; we trust the crosszone peer by network alone",
        "2.3.4.5"),
}

# computeRawIpAddress, adapted: the header value arrives as X-Forwarded-For through one trusted proxy.
EDGE_PEER = "10.0.0.1"
EDGE = (ip_network("10.0.0.0/8"),)
RAW_IP_DEVIATIONS = {
    "2.2.2.2 , 3.3.3.3 ": Deviation("X-Forwarded-For is read right to left: the leftmost entry is whatever the "
                                    "client claimed, the rightmost untrusted one was seen by our proxy", "3.3.3.3"),
    ", 3.3.3.3, 4.4.4.4 ": Deviation("read right to left, as above", "4.4.4.4"),
    "": Deviation("an empty X-Forwarded-For leaves the peer address, never no address", EDGE_PEER),
}


def _listener_case_id(case: dict) -> str:
    return "|".join(str(case[name]) for name in ("rawIpAddress", "xForwardedFor", "asn", "userAgent"))


def _byte_range(op3_range: dict) -> tuple[int, int | None]:
    if "suffix" in op3_range:
        return -op3_range["suffix"], None
    return op3_range["start"], op3_range.get("end")


def _instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def test_listed_deviations_still_exist_in_the_cases():
    assert set(IP_FOR_DOWNLOAD_DEVIATIONS) <= set(SUITES["computeIpAddressForDownload"]["good"])
    assert set(LISTENER_IP_DEVIATIONS) <= {_listener_case_id(c) for c in SUITES["computeListenerIpAddress"]["cases"]}
    assert set(RAW_IP_DEVIATIONS) <= set(SUITES["computeRawIpAddress"]["cases"])


# --- tryParseRangeHeader, estimateByteRangeSize --------------------------------------------------

@pytest.mark.parametrize(("header", "expected"), SUITES["tryParseRangeHeader"]["good"].items())
def test_parse_range(header, expected):
    assert parse_range(header) == [_byte_range(r) for r in expected]


@pytest.mark.parametrize("header", SUITES["tryParseRangeHeader"]["bad_returns_undefined"])
def test_parse_range_rejects(header):
    assert parse_range(header) is None


@pytest.mark.parametrize(("op3_range", "expected"), SUITES["tryParseRangeHeader"]["estimateByteRangeSize"])
def test_estimate_range_bytes(op3_range, expected):
    if isinstance(expected, str):
        assert expected.startswith("Number.MAX_SAFE_INTEGER")
        expected = OPEN_ENDED_RANGE_BYTES
    assert estimate_range_bytes(_byte_range(op3_range)) == expected


def test_open_ended_is_max_safe_integer():
    assert OPEN_ENDED_RANGE_BYTES == 9007199254740991


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("bytes=", None), ("items=0-1", None), ("bytes=0-1,,2-3", None),
    (" Bytes=0-1 ", [(0, 1)]), ("bytes=0-1,20-30 , -5", [(0, 1), (20, 30), (-5, None)]),
    ("bytes=5-", [(5, None)]),
])
def test_parse_range_edges(header, expected):
    assert parse_range(header) == expected


@pytest.mark.parametrize(("byte_range", "content_length", "expected"), [
    ((0, 1), 1000, 2), ((990, 2000), 1000, 10), ((100, None), 1000, 900), ((-50, None), 1000, 50),
    ((-5000, None), 1000, 1000), ((2000, None), 1000, 0), ((2000, 3000), 1000, 0),
])
def test_estimate_range_bytes_with_content_length(byte_range, content_length, expected):
    assert estimate_range_bytes(byte_range, content_length) == expected


@pytest.mark.parametrize(("header", "probe"), [
    ("bytes=0-1", True), ("bytes=0-0", True), ("bytes=1-1", True), ("bytes=0-0, 1-1", True),
    ("bytes=0-1, 20-", False), ("bytes=0-2", False), ("bytes=0-", False), ("bytes=-1", False),
    ("bytes=100-101", False), (None, False), ("", False), ("byte=0-1", False),
])
def test_is_probe_range(header, probe):
    assert is_probe_range(header) is probe


# --- tryExpandIpv6, computeIpAddressForDownload ------------------------------------------------------

@pytest.mark.parametrize(("addr", "expected"), SUITES["tryExpandIpv6"]["good"].items())
def test_expand_ipv6(addr, expected):
    assert expand_ipv6(addr) == expected


@pytest.mark.parametrize("addr", SUITES["tryExpandIpv6"]["bad_returns_undefined"])
def test_expand_ipv6_rejects(addr):
    assert expand_ipv6(addr) is None


@pytest.mark.parametrize(("addr", "expected"), SUITES["computeIpAddressForDownload"]["good"].items())
def test_listener_ip_op3_cases(addr, expected):
    deviation = IP_FOR_DOWNLOAD_DEVIATIONS.get(addr)
    assert listener_ip(addr) == (expected if deviation is None else deviation.ours)


@pytest.mark.parametrize(("addr", "expected"), [
    ("1.2.3.4", "1.2.3.4"),
    (" 1.2.3.4 ", "1.2.3.4"),
    ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:0db8:85a3:08d3:0000:0000:0000:0000"),
    ("2001:DB8:85A3:8D3::1", "2001:0db8:85a3:08d3:0000:0000:0000:0000"),
    ("::ffff:10.1.2.3", "10.1.2.3"),
    ("not-an-ip", "not-an-ip"),
    ("", ""),
])
def test_listener_ip(addr, expected):
    assert listener_ip(addr) == expected


def test_listener_ip_same_64_same_listener():
    assert listener_ip("2001:db8:1:2::a") == listener_ip("2001:db8:1:2:ffff:eeee:dddd:cccc")
    assert listener_ip("2001:db8:1:2::a") != listener_ip("2001:db8:1:3::a")


# --- computeListenerIpAddress, computeRawIpAddress (adapted to client_ip) ------------------------------

@pytest.mark.parametrize("case", SUITES["computeListenerIpAddress"]["cases"], ids=_listener_case_id)
def test_client_ip_listener_cases(case):
    deviation = LISTENER_IP_DEVIATIONS.get(_listener_case_id(case))
    if deviation is not None and deviation.ours is NOT_RUN:
        assert case["rawIpAddress"] is None, deviation.reason
        return
    expected = case["expected"]["listenerIpAddress"] if deviation is None else deviation.ours
    assert client_ip(case["rawIpAddress"], case["xForwardedFor"], CROSSZONE) == expected


@pytest.mark.parametrize(("header", "expected"), SUITES["computeRawIpAddress"]["cases"].items())
def test_client_ip_raw_cases(header, expected):
    deviation = RAW_IP_DEVIATIONS.get(header)
    assert client_ip(EDGE_PEER, header, EDGE) == (expected if deviation is None else deviation.ours)


PROXIES = trusted_proxy_networks("10.0.0.0/8, 192.168.1.1 2001:db8:ffff::/48")


@pytest.mark.parametrize(("remote_addr", "forwarded_for", "expected"), [
    ("203.0.113.9", "1.1.1.1", "203.0.113.9"),  # untrusted peer: the header is ignored
    ("10.0.0.5", None, "10.0.0.5"),
    ("10.0.0.5", "1.1.1.1", "1.1.1.1"),
    ("10.0.0.5", "6.6.6.6, 1.1.1.1", "1.1.1.1"),  # 6.6.6.6 is what the client claimed
    ("10.0.0.5", "6.6.6.6, 1.1.1.1, 192.168.1.1, 10.9.9.9", "1.1.1.1"),  # past two trusted hops
    ("10.0.0.5", "10.1.1.1, 192.168.1.1", "10.1.1.1"),  # all trusted: the leftmost is the client
    ("10.0.0.5", "unknown, 10.1.1.1", "10.1.1.1"),  # unreadable: stop at the nearest trusted hop
    ("10.0.0.5", "1.1.1.1:5678", "1.1.1.1"),
    ("10.0.0.5", "[2001:db8::1]:443", "2001:db8::1"),
    ("10.0.0.5", '"2001:db8::1"', "2001:db8::1"),
    ("10.0.0.5", "2001:0db8:0000::0001", "2001:db8::1"),
    ("::ffff:10.0.0.5", "1.1.1.1", "1.1.1.1"),  # dual-stack socket: mapped peer matches the IPv4 network
    ("2001:db8:ffff:1::2", "::ffff:1.1.1.1", "1.1.1.1"),
    ("10.0.0.5", " , ", "10.0.0.5"),
    ("not-an-ip", "1.1.1.1", "not-an-ip"),
])
def test_client_ip(remote_addr, forwarded_for, expected):
    assert client_ip(remote_addr, forwarded_for, PROXIES) == expected


def test_client_ip_trusts_nothing_by_default():
    assert client_ip("10.0.0.5", "1.1.1.1") == "10.0.0.5"


def test_trusted_proxy_networks():
    assert trusted_proxy_networks("") == ()
    assert trusted_proxy_networks("127.0.0.1,::1") == (ip_network("127.0.0.1/32"), ip_network("::1/128"))
    with pytest.raises(ValueError, match="'nope'"):
        trusted_proxy_networks("10.0.0.0/8,nope")


# --- parsePubdate --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), SUITES["parsePubdate"]["good"].items())
def test_parse_pub_date(text, expected):
    parsed = parse_pub_date(text)
    assert parsed == _instant(expected)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", SUITES["parsePubdate"]["bad_must_throw"])
def test_parse_pub_date_bad_is_none(text):
    # OP3 throws; we return None for every unreadable date, so a bulk import never has to catch.
    assert parse_pub_date(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Tue, 09 Nov 21 17:08:12 GMT", "2021-11-09T17:08:12Z"),  # two-digit year
    ("Tue, 09 Nov 2021", "2021-11-09T00:00:00Z"),
    ("9 juillet 2021 10:00:00 +0200", "2021-07-09T08:00:00Z"),
    ("Di, 09 Mär 2021 10:00:00 MEZ", "2021-03-09T09:00:00Z"),
    ("Tue, 09 Nov 2021 17:08:12 XYZ", "2021-11-09T17:08:12Z"),  # unknown zone: UTC
    ("Tue, 09 Nov 2021 17:08:12 +0530", "2021-11-09T11:38:12Z"),
    ("2021-11-09T17:08:12.250Z", "2021-11-09T17:08:12.250Z"),
    ("Sun, 26 Mar 2023 01:30:00 CET", "2023-03-26T00:30:00Z"),  # EU summer time starts at 01:00 UTC
    ("Sun, 26 Mar 2023 03:30:00 CEST", "2023-03-26T01:30:00Z"),
])
def test_parse_pub_date_more(text, expected):
    assert parse_pub_date(text) == _instant(expected)


@pytest.mark.parametrize("text", [
    None, "   ", "Tue, 31 Feb 2021 10:00:00 GMT", "Tue, 09 Foo 2021 10:00:00 GMT",
    "Tue, 09 Nov 2021 25:00:00 GMT", "Tue, 09 Nov 2021 10:00:00 +2500", "yesterday",
])
def test_parse_pub_date_unreadable(text):
    assert parse_pub_date(text) is None
