"""services.measurement.urls against the OP3 reference cases, plus our /e/<podcast key>/... grammar."""
from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.measurement.urls import (
    PODCAST_KEY_MAX_LENGTH,
    PrefixRequest,
    PrefixRequestError,
    clean_url,
    enclosure_match_key,
    incoming_url,
    match_url,
    normalize_origin,
    parse_prefix_request,
    server_url,
    strip_client_params,
    strip_tracking_prefixes,
    try_enclosure_match_key,
)

CASES_DIR = Path(__file__).resolve().parents[2] / "data" / "op3-cases"
SUITES = json.loads((CASES_DIR / "op3_acceptance_cases.json").read_text(encoding="utf-8"))["suites"]
CHAINS = json.loads((CASES_DIR / "op3_chain_estimate_cases.json").read_text(encoding="utf-8"))

KEY = "abc123"
RAISES = object()  # a Deviation whose `ours` is RAISES expects PrefixRequestError


@dataclass(frozen=True)
class Deviation:
    reason: str
    ours: object


# Suites of op3_acceptance_cases.json that this module answers for, and those with no function here.
URL_SUITES = frozenset({"cleanUrl", "computeMatchUrl", "tryComputeIncomingUrl", "tryParseRedirectRequest",
                        "tryParseClientParams", "computeServerUrl", "tryParseUlid"})
URL_NOT_APPLICABLE = {
    "tryParsePrefixArguments": "OP3 prefix arguments (,pg=<guid>,hls=1,s=...) have no counterpart: "
                               "our prefix names the podcast by a path segment, /e/<podcast key>/",
    "tryParseRedirectRequest.computeRedirectResponse": "the 302 response and its headers belong to the /e/ "
                                                       "blueprint in api/, not to a pure parser",
    "chain.computeChainDestinationHostname_cases": "no hostname helper; strip_tracking_prefixes(url).destination "
                                                   "gives the destination URL",
}
# Suites owned by other modules: test_requests.py (REQUEST_SUITES) and test_op3_suites.py (the counting, hashing
# and bot suites it runs, and why the rest do not apply); listed so a new suite in the JSON fails
# test_every_op3_suite_is_accounted_for.
OTHER_MODULES = frozenset({
    "parsePubdate", "tryParseRangeHeader", "tryExpandIpv6", "computeIpAddressForDownload",
    "computeListenerIpAddress", "computeRawIpAddress", "packHashedIpAddress", "Banlist.isBanned",
    "parseApplePodcastsUserAgent", "packAppleVersion", "isBotIpHash", "computeBotType",
    "computeHourlyDownloads", "hashing",
})

_ARGS_REASON = "OP3 prefix arguments (/e,pg=.../ or /e/pg=.../) are not part of our grammar, where the segment " \
               "after /e/ is the podcast key; such a path is rejected"
REDIRECT_DEVIATIONS = {
    "https://example.org/e,pg=fe4fb16c-062a-4257-ba8d-9a9b923356c2/example.com/path/to/episode.mp3":
        Deviation(_ARGS_REASON, RAISES),
    "https://example.org/e,pg=fe4fb16c-062a-4257-ba8d-9a9b923356c2,hls=1/example.com/path/to/episode.mp3":
        Deviation(_ARGS_REASON, RAISES),
    "https://op3.dev/e/pg=fe4fb16c-062a-4257-ba8d-9a9b923356c2/example.com/path/to/episode.mp3":
        Deviation(_ARGS_REASON, RAISES),
    "https://example.org/e,/example.com/path/to/episode.mp3": Deviation(_ARGS_REASON, RAISES),
}


def _as_our_request(op3_url: str) -> tuple[str, str]:
    """An OP3 prefix URL as (path, query) for our route, with a podcast key after /e/."""
    m = re.fullmatch(r"https?://[^/]+(/[^?]*)?(?:\?(.*))?", op3_url, re.DOTALL)
    if not m:
        return op3_url, ""
    path, query = m[1] or "", m[2] or ""
    if path.startswith("/e/"):
        path = f"/e/{KEY}/{path[3:]}"
    return path, query


def test_every_op3_suite_is_accounted_for():
    from .test_requests import REQUEST_NOT_APPLICABLE, REQUEST_SUITES

    suite_names = {name.split(".")[0] for name in URL_NOT_APPLICABLE if not name.startswith("chain.")}
    assert REQUEST_SUITES | {name.split(".")[0] for name in REQUEST_NOT_APPLICABLE} <= OTHER_MODULES
    assert set(SUITES) == URL_SUITES | OTHER_MODULES | suite_names
    assert "computeRedirectResponse" in SUITES["tryParseRedirectRequest"]
    chain_parts = {name.removeprefix("chain.") for name in URL_NOT_APPLICABLE if name.startswith("chain.")}
    assert set(CHAINS) == {"source", "function", "cases", "normalizeOrigin_cases"} | chain_parts


def test_listed_deviations_still_exist_in_the_cases():
    assert set(REDIRECT_DEVIATIONS) <= set(SUITES["tryParseRedirectRequest"]["valid"])


# --- computeChainEstimate (89) and normalizeOrigin ------------------------------------------------

@pytest.mark.parametrize("case", CHAINS["cases"], ids=lambda c: c["input"][:80])
def test_chain_estimate(case):
    chain = strip_tracking_prefixes(case["input"])
    got = [{"kind": "prefix", "prefix": name, "url": url} for name, url in zip(chain.hops, chain.hop_urls, strict=True)]
    got.append({"kind": "destination", "url": chain.destination})
    assert got == case["expected_chain"]


def test_chain_case_count():
    assert len(CHAINS["cases"]) == 89


@pytest.mark.parametrize(("url", "expected"), CHAINS["normalizeOrigin_cases"].items())
def test_normalize_origin(url, expected):
    assert normalize_origin(url) == expected


def test_chain_stops_at_our_own_prefix_host_only_when_told():
    url = "https://ours.example/e/abc123/dts.podtrac.com/redirect.mp3/a.com/ep.mp3"
    assert strip_tracking_prefixes(url).hops == ()
    chain = strip_tracking_prefixes(url, own_hosts={"ours.example"})
    assert chain.hops == ("self", "podtrac")
    assert chain.destination == "https://a.com/ep.mp3"


def test_chain_treats_a_malformed_own_prefix_as_the_destination():
    url = "https://ours.example/e/abc123/localhost/ep.mp3"
    assert strip_tracking_prefixes(url, own_hosts={"ours.example"}).destination == url


# --- cleanUrl, computeMatchUrl, tryComputeIncomingUrl ----------------------------------------------

@pytest.mark.parametrize("url", SUITES["cleanUrl"]["already_clean"])
def test_clean_url_keeps_clean_urls(url):
    assert clean_url(url) == url


@pytest.mark.parametrize(("url", "expected"), SUITES["cleanUrl"]["cleaned"].items())
def test_clean_url(url, expected):
    assert clean_url(url) == expected


@pytest.mark.parametrize("url", SUITES["cleanUrl"]["bad_throws"])
def test_clean_url_rejects(url):
    with pytest.raises(ValueError):
        clean_url(url)


@pytest.mark.parametrize(("url", "expected"), SUITES["computeMatchUrl"]["good"].items())
def test_match_url(url, expected):
    assert match_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), SUITES["computeMatchUrl"]["queryless"].items())
def test_match_url_queryless(url, expected):
    assert match_url(url, queryless=True) == expected


@pytest.mark.parametrize(("url", "expected"), SUITES["tryComputeIncomingUrl"]["good"].items())
def test_incoming_url(url, expected):
    assert incoming_url(url) == expected


@pytest.mark.parametrize("url", SUITES["tryComputeIncomingUrl"]["bad_returns_undefined"])
def test_incoming_url_rejects(url):
    assert incoming_url(url) is None


def test_match_url_strips_client_params_and_unifies_percent_encoding():
    assert match_url("https://A.com/Show/a file.mp3?_from=app&x=1") == "a.com/show/a%20file.mp3?x=1"
    assert match_url("http://a.com/Show/a%20file.mp3?x=1") == "a.com/show/a%20file.mp3?x=1"
    assert match_url("https://a.com/%C3%A4.mp3") == match_url("https://a.com/\u00e4.mp3")


def test_clean_url_accepts_a_query_straight_after_the_host():
    assert clean_url("HTTPS://A.com?x=1") == "https://a.com?x=1"


# --- tryParseClientParams, computeServerUrl, tryParseUlid --------------------------------------------

@pytest.mark.parametrize("case", SUITES["tryParseClientParams"]["cases"], ids=lambda c: c["url"])
def test_strip_client_params(case):
    parsed = strip_client_params(case["url"])
    assert parsed is not None
    assert parsed.server_url == case["expected"]["serverUrl"]
    assert parsed.client_params == case["expected"]["clientParams"]


@pytest.mark.parametrize("url", SUITES["tryParseClientParams"]["none_returns_undefined"])
def test_strip_client_params_none(url):
    assert strip_client_params(url) is None


@pytest.mark.parametrize(("url", "expected"), SUITES["computeServerUrl"]["cases"].items())
def test_server_url(url, expected):
    assert server_url(url) == expected


@pytest.mark.parametrize("case", SUITES["tryParseUlid"]["cases"], ids=lambda c: c["url"])
def test_ulid_is_a_client_param(case):
    parsed = strip_client_params(case["url"])
    assert ((parsed.client_params.get("_ulid") or None) if parsed else None) == case["expected"]


def test_kept_params_stay_byte_for_byte():
    # OP3 re-serialises the query with URLSearchParams (a%2Fb+c -> a%2Fb+c, but "a b" -> a+b); we keep it.
    assert server_url("https://a.com/ep.mp3?x=a%2Fb+c&y=%20&_from=app&fbclid=1") == "https://a.com/ep.mp3?x=a%2Fb+c&y=%20"


def test_strip_client_params_ignores_other_schemes():
    assert strip_client_params("ftp://a.com/ep.mp3?_from=x") is None


# --- tryParseRedirectRequest on our grammar -----------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), SUITES["tryParseRedirectRequest"]["valid"].items())
def test_op3_valid_redirects(url, expected):
    path, query = _as_our_request(url)
    deviation = REDIRECT_DEVIATIONS.get(url)
    if deviation is not None:
        assert deviation.ours is RAISES, deviation.reason
        with pytest.raises(PrefixRequestError):
            parse_prefix_request(path, query)
        return
    assert parse_prefix_request(path, query) == PrefixRequest(KEY, expected["targetUrl"])


@pytest.mark.parametrize("url", SUITES["tryParseRedirectRequest"]["not_redirect_returns_undefined"])
def test_op3_not_redirects(url):
    path, query = _as_our_request(url)
    with pytest.raises(PrefixRequestError, match="not a prefix request"):
        parse_prefix_request(path, query)


@pytest.mark.parametrize("url", SUITES["tryParseRedirectRequest"]["invalid"])
def test_op3_invalid_redirects(url):
    path, query = _as_our_request(url)
    with pytest.raises(PrefixRequestError):
        parse_prefix_request(path, query)


# --- our grammar: /e/<podcast key>/<enclosure URL without scheme> ---------------------------------

def test_prefix_valid():
    assert parse_prefix_request("/e/abc123/cdn.example.com/show/ep1.mp3") == (
        "abc123", "https://cdn.example.com/show/ep1.mp3")


def test_prefix_result_is_named():
    request = parse_prefix_request("/e/demo1_a-B/cdn.example.com/ep.mp3", "")
    assert request.podcast_key == "demo1_a-B"
    assert request.destination == "https://cdn.example.com/ep.mp3"


@pytest.mark.parametrize("path", ["/e/", "/e//cdn.example.com/ep.mp3"])
def test_prefix_missing_key(path):
    with pytest.raises(PrefixRequestError, match="missing podcast key"):
        parse_prefix_request(path)


def test_prefix_without_key_reads_the_host_as_a_bad_key():
    with pytest.raises(PrefixRequestError, match="malformed podcast key 'cdn.example.com'"):
        parse_prefix_request("/e/cdn.example.com/ep.mp3")


def test_prefix_key_too_long():
    with pytest.raises(PrefixRequestError, match="malformed podcast key"):
        parse_prefix_request(f"/e/{'k' * (PODCAST_KEY_MAX_LENGTH + 1)}/cdn.example.com/ep.mp3")


@pytest.mark.parametrize("path", ["/e/abc123", "/e/abc123/"])
def test_prefix_empty_destination(path):
    with pytest.raises(PrefixRequestError, match="missing destination"):
        parse_prefix_request(path)


@pytest.mark.parametrize(("path", "reason"), [
    ("/e/abc123/cdn.example.com", "no path"),
    ("/e/abc123/cdn.example.com/", "no path"),
    ("/e/abc123/localhost/ep.mp3", "not a public hostname"),
    ("/e/abc123/intranet/ep.mp3", "not a public hostname"),
    ("/e/abc123/-a.com/ep.mp3", "not a public hostname"),
    ("/e/abc123/a..com/ep.mp3", "not a public hostname"),
    ("/e/abc123/user@a.com/ep.mp3", "not a hostname"),
    ("/e/abc123/a.com:0/ep.mp3", "port 0 is out of range"),
    ("/e/abc123/a.com:70000/ep.mp3", "out of range"),
    ("/e/abc123/https://https://a.com/ep.mp3", "repeats the scheme"),
])
def test_prefix_malformed_destination(path, reason):
    with pytest.raises(PrefixRequestError, match=reason):
        parse_prefix_request(path)


def test_prefix_errors_are_value_errors():
    with pytest.raises(ValueError):
        parse_prefix_request("/x")


def test_prefix_query_string_preserved():
    assert parse_prefix_request("/e/abc123/a.com/ep.mp3", "x=1&y=a%2Fb&_from=app&z=").destination == (
        "https://a.com/ep.mp3?x=1&y=a%2Fb&_from=app&z=")


def test_prefix_query_string_as_bytes():
    assert parse_prefix_request("/e/abc123/a.com/ep.mp3", b"t=%C3%A4&raw=\xe4").destination == (
        "https://a.com/ep.mp3?t=%C3%A4&raw=%E4")


def test_prefix_query_inline_in_path():
    assert parse_prefix_request("/e/abc123/a.com/ep.mp3?x=1").destination == "https://a.com/ep.mp3?x=1"


def test_prefix_empty_query_adds_nothing():
    assert parse_prefix_request("/e/abc123/a.com/ep.mp3", "").destination == "https://a.com/ep.mp3"


@pytest.mark.parametrize(("path", "destination"), [
    ("/e/abc123/a.com/my show/ep 1.mp3", "https://a.com/my%20show/ep%201.mp3"),  # decoded PATH_INFO
    ("/e/abc123/a.com/my%20show/ep%201.mp3", "https://a.com/my%20show/ep%201.mp3"),  # raw REQUEST_URI
    ("/e/abc123/a.com/\u00e4.mp3", "https://a.com/%C3%A4.mp3"),
    ("/e/abc123/a.com/%C3%A4.mp3", "https://a.com/%C3%A4.mp3"),
    ("/e/abc123/a.com%2Fshow%2Fep.mp3", "https://a.com/show/ep.mp3"),
    ("/e/abc123/https%3A%2F%2Fa.com%2Fep.mp3%3Fx%3D1", "https://a.com/ep.mp3?x=1"),
])
def test_prefix_percent_encoding(path, destination):
    assert parse_prefix_request(path).destination == destination


@pytest.mark.parametrize(("path", "destination"), [
    ("/e/abc123/http://a.com/ep.mp3", "http://a.com/ep.mp3"),
    ("/e/abc123/https://a.com/ep.mp3", "https://a.com/ep.mp3"),
    ("/e/abc123/https:/a.com/ep.mp3", "https://a.com/ep.mp3"),
    ("/e/abc123/HTTPS://A.com/Ep.mp3", "https://a.com/Ep.mp3"),
    ("/e/abc123//a.com/ep.mp3", "https://a.com/ep.mp3"),
    ("/e/abc123/a.com:8443/ep.mp3", "https://a.com:8443/ep.mp3"),
    ("/e/abc123/dts.podtrac.com/redirect.mp3/a.com/ep.mp3", "https://dts.podtrac.com/redirect.mp3/a.com/ep.mp3"),
])
def test_prefix_schemes_ports_and_chains(path, destination):
    assert parse_prefix_request(path).destination == destination


def test_prefix_takes_no_method():
    # HEAD vs GET is irrelevant to parsing: both redirect; the counting job filters methods later.
    assert list(inspect.signature(parse_prefix_request).parameters) == ["path", "query"]


# --- enclosure_match_key: feed side and request side meet ------------------------------------------

FEED_ENCLOSURE = "https://CDN.example.com/Show/Episode 1.mp3?token=abc"


@pytest.mark.parametrize("requested", [
    "https://cdn.example.com/Show/Episode%201.mp3?token=abc",
    "http://cdn.example.com:80/Show/Episode%201.mp3?token=abc&_from=com.app",
    "https://dts.podtrac.com/redirect.mp3/cdn.example.com/Show/Episode%201.mp3?token=abc",
    ("https://op3.dev/e,pg=fe4fb16c-062a-4257-ba8d-9a9b923356c2/chrt.fm/track/X1/cdn.example.com/Show/"
     "Episode%201.mp3?token=abc&DIST=TuneIn&TGT=TuneIn&maxServers=2"),
    "https://pdst.fm/e/cdn.example.com%2FShow%2FEpisode%201.mp3?token=abc",
])
def test_enclosure_match_key_maps_requests_to_the_feed(requested):
    assert enclosure_match_key(requested) == enclosure_match_key(FEED_ENCLOSURE) == (
        "cdn.example.com/show/episode%201.mp3?token=abc")


def test_enclosure_match_key_strips_our_own_prefix_on_both_sides():
    feed = "https://ours.example/e/abc123/cdn.example.com/ep.mp3"
    destination = parse_prefix_request("/e/abc123/cdn.example.com/ep.mp3").destination
    assert enclosure_match_key(feed, own_hosts={"ours.example"}) == enclosure_match_key(destination)


def test_enclosure_match_key_rejects_non_urls():
    with pytest.raises(ValueError):
        enclosure_match_key("asdf")
    assert try_enclosure_match_key("asdf") is None
    assert try_enclosure_match_key(None) is None
    assert try_enclosure_match_key(" https://a.com/ep.mp3 ") == "a.com/ep.mp3"
