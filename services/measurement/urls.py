"""Request URLs to episode keys: tracking-prefix chains, client parameters and our /e/ prefix grammar.

Behaviour follows OP3 (skymethod/op3, MIT): computeChainEstimate, cleanUrl, computeMatchUrl,
tryParseClientParams, computeServerUrl, tryComputeIncomingUrl and tryParseRedirectRequest. Where we
deliberately differ, tests/unit/measurement/test_urls.py lists the case and the reason.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, unquote, unquote_plus

logger = logging.getLogger(__name__)

PODCAST_KEY_MAX_LENGTH = 32  # podcasts.prefix_key is String(32)
MAX_CHAIN_HOPS = 32  # every hop shortens the URL, so this only guards against pathological input

# Characters left as they are when a URL is re-encoded; '%' keeps existing escapes intact.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/%:@!$&'()*+,;=-._~?"
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


# --- tracking-prefix chains -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TrackingChain:
    """The prefixes a request URL passed through, outermost first, and where it finally points."""

    hops: tuple[str, ...]  # prefix service names, e.g. ("podtrac", "chartable")
    hop_urls: tuple[str, ...]  # the URL as seen by each hop (origin normalised)
    destination: str  # the enclosure URL once every known prefix is removed


@dataclass(frozen=True, slots=True)
class _PrefixRule:
    name: str
    pattern: re.Pattern[str]  # fullmatch on the normalised URL; groups: rest, optional scheme/sp/qs
    default_scheme: str = "https"  # "https", or "inherit" the scheme the prefix itself was called with
    honour_suffix_scheme: bool = True  # False where the service always forwards to https
    unescape_slashes: bool = False  # pdst.fm accepts %2F-encoded targets


_ANY = r"https?://"
_OUTER = r"(?P<scheme>https?)://"
_SP = r"(?:(?P<sp>https?):/+)?"  # an explicit scheme in front of the target ("https://", "https:/")


def _rule(name: str, hosts: str, pattern: str, **options: object) -> tuple[tuple[str, ...], _PrefixRule]:
    return tuple(hosts.split()), _PrefixRule(name, re.compile(pattern, re.ASCII | re.DOTALL), **options)


# One rule per service and URL shape, as in OP3's chain_estimate.ts, plus the services its newer cases
# name (soundstack, podcastplusplus, firstory, ausha). Rules are looked up by host, so only one or two
# patterns run per hop.
_RULES = (
    _rule("op3", "op3.dev ci.op3.dev staging.op3.dev",
          _ANY + r"(?:ci\.|staging\.)?op3\.dev/e(?:,[^/]*)?//?(?:[a-z]+(?:=|%3[dD])[^/]*/)?"
          r"(?:(?P<sp>(?i:https?)):/+)?(?P<rest>.+)"),
    _rule("podtrac", "dts.podtrac.com www.podtrac.com podtrac.com play.podtrac.com",
          _ANY + r"(?:dts\.podtrac\.com(?:/pts)?|www\.podtrac\.com/pts|podtrac\.com/pts|play\.podtrac\.com)"
          r"/(?:redirect\.[a-z0-9]+|[a-zA-Z0-9-]+)/" + _SP + r"(?P<rest>.*)"),
    _rule("podsights", "pdst.fm", _OUTER + r"pdst\.fm/e/" + _SP + r"(?P<rest>[^?]*)(?P<qs>\?.*)?",
          default_scheme="inherit", unescape_slashes=True),
    _rule("chartable", "chrt.fm chtbl.com podcast-rss-prefix.spotify.com",
          _OUTER + r"(?:chrt\.fm|chtbl\.com|podcast-rss-prefix\.spotify\.com)/track/[^/]+/"
          r"(?:(?P<sp>https?)(?::|%3[aA])//?)?(?P<rest>.*)", default_scheme="inherit"),
    _rule("veritonic", "pfx.veritonicmetrics.com", r"https://pfx\.veritonicmetrics\.com/[^/]+/(?P<rest>.*)",
          honour_suffix_scheme=False),
    _rule("artsai", "arttrk.com", _ANY + r"arttrk\.com/p/[^/]+/(?P<rest>.*)", honour_suffix_scheme=False),
    _rule("podcorn", "pdcn.co", _ANY + r"pdcn\.co/e/" + _SP + r"(?P<rest>.*)"),
    _rule("gumball", "2.gum.fm", _ANY + r"2\.gum\.fm/(?P<rest>.*)", honour_suffix_scheme=False),
    _rule("gumball", "s.gum.fm", r"https://s\.gum\.fm/(?:r1/|s-)[0-9a-f]+/(?P<rest>.*)", honour_suffix_scheme=False),
    _rule("podscribe", "verifi.podscribe.com pscrb.fm",
          r"https://(?:verifi\.podscribe\.com|pscrb\.fm)/rss/p/" + _SP + r"(?P<rest>.*)"),
    _rule("claritas", "claritaspod.com www.claritaspod.com clrtpod.com",
          _ANY + r"(?:(?:www\.)?claritaspod\.com/measure|clrtpod\.com/m)/(?P<rest>.*)", honour_suffix_scheme=False),
    _rule("podkite", "growx.podkite.com", _ANY + r"growx\.podkite\.com/(?P<sp>https?)/[A-Za-z0-9]+/(?P<rest>.*)"),
    _rule("blubrry", "media.blubrry.com", _OUTER + r"media\.blubrry\.com/\w+/(?:p/)?" + _SP + r"(?P<rest>.*)",
          default_scheme="inherit"),
    _rule("magellan", "mgln.ai", _ANY + r"mgln\.ai/(?:track|e/[a-z0-9]+)/" + _SP + r"(?P<rest>.*)"),
    _rule("podder", "p.podderapp.com", _ANY + r"p\.podderapp\.com/\d+/" + _SP + r"(?P<rest>.*)"),
    _rule("zencastr", "r.zen.ai r.zencastr.com", _ANY + r"r\.(?:zen\.ai|zencastr\.com)/r/" + _SP + r"(?P<rest>.*)",
          honour_suffix_scheme=False),
    _rule("glystn", "t.glystn.com", _ANY + r"t\.glystn\.com/v2/track/[^/]+/" + _SP + r"(?P<rest>.*)"),
    _rule("adbarker", "adbarker.com", _OUTER + r"adbarker\.com/stream/[^/]+/" + _SP + r"(?P<rest>.*)",
          default_scheme="inherit"),
    _rule("letscast", "letscast.fm", _ANY + r"letscast\.fm/track/(?P<sp>https?):/+(?P<rest>.*)"),
    _rule("vpixl", "pfx.vpixl.com", _ANY + r"pfx\.vpixl\.com/[^/]+/" + _SP + r"(?P<rest>.*)",
          honour_suffix_scheme=False),
    _rule("backtracks", "bktrks.co", _OUTER + r"bktrks\.co/t/[^/]+/" + _SP + r"(?P<rest>.*)",
          default_scheme="inherit"),
    _rule("podroll", "pdrl.fm rss.pdrl.fm",
          _OUTER + r"(?:rss\.)?pdrl\.fm/(?:r/[^/]+/[^/]+|[^/]+)/" + _SP + r"(?P<rest>.*)", default_scheme="inherit"),
    _rule("voxalyze", "a.pdcst.to", _ANY + r"a\.pdcst\.to/[^/]+/(?:https?(?::/)?/)?(?P<rest>.*)",
          honour_suffix_scheme=False),
    _rule("spotify", "prfx.byspotify.com", _ANY + r"prfx\.byspotify\.com/e/" + _SP + r"(?P<rest>.*)"),
    _rule("ipfspodcasting", "ipfspodcasting.net", _ANY + r"ipfspodcasting\.net/e/" + _SP + r"(?P<rest>.*)"),
    _rule("cohost", "cohst.app", _ANY + r"cohst\.app/pdcst/[^/]+/(?P<rest>.*)", honour_suffix_scheme=False),
    _rule("swapfm", "swap.fm tracking.swap.fm", _ANY + r"(?:tracking\.)?swap\.fm/track/[^/]+/(?P<rest>.*)",
          honour_suffix_scheme=False),
    _rule("podcards", "pdcds.co", _ANY + r"pdcds\.co/[^/]+/(?P<rest>.*)", honour_suffix_scheme=False),
    _rule("unitedpodcasters", "prefix.up.audio", _ANY + r"prefix\.up\.audio/s/(?P<rest>.*)",
          honour_suffix_scheme=False),
    _rule("pfxes", "m.pfxes.com", _ANY + r"m\.pfxes\.com/[^/]+/(?P<rest>.*)", honour_suffix_scheme=False),
    _rule("soundstack", "enrichment.soundstack.com",
          _ANY + r"enrichment\.soundstack\.com/[^/]+/" + _SP + r"(?P<rest>.*)"),
    _rule("podcastplusplus", "analytics.podcastplusplus.com",
          _ANY + r"analytics\.podcastplusplus\.com/e/" + _SP + r"(?P<rest>.*)"),
    _rule("firstory", "track.fstry.me", _ANY + r"track\.fstry\.me/p/[^/]+/" + _SP + r"(?P<rest>.*)"),
    _rule("ausha", "tr.ausha.co", _ANY + r"tr\.ausha\.co/[^/]+/" + _SP + r"(?P<rest>.*)"),
)
_RULES_BY_HOST: dict[str, tuple[_PrefixRule, ...]] = {}
for _hosts, _prefix_rule in _RULES:
    for _host in _hosts:
        _RULES_BY_HOST[_host] = _RULES_BY_HOST.get(_host, ()) + (_prefix_rule,)
del _hosts, _prefix_rule, _host

# Prefixes served from many hostnames, tried only when the host has no rule of its own.
_PATTERN_RULES = (
    _PrefixRule("ppprotect", re.compile(_ANY + r"pp\d*\.[a-z0-9.-]+/protect/[^/]+/(?P<rest>.*)", re.ASCII | re.DOTALL),
                honour_suffix_scheme=False),
)

_ORIGIN = re.compile(r"(https?)://([a-z0-9.-]+)(?::(\d+))?(/.*)?", re.IGNORECASE | re.ASCII | re.DOTALL)
_ENCODED_SLASH = re.compile(r"%2f", re.IGNORECASE)


def normalize_origin(url: str) -> str:
    """Lowercase scheme and host and drop a default port (OP3 normalizeOrigin); other input is returned as is."""
    m = _ORIGIN.fullmatch(url)
    if not m:
        return url
    scheme, host, port, path = m[1].lower(), m[2].lower(), m[3], m[4] or ""
    port_part = ""
    if port is not None:
        number = int(port)
        if not (scheme == "http" and number == 80 or scheme == "https" and number == 443):
            port_part = f":{number}"
    return f"{scheme}://{host}{port_part}{path}"


def strip_tracking_prefixes(url: str, *, own_hosts: Collection[str] = ()) -> TrackingChain:
    """Follow known tracking prefixes (podtrac, chartable, op3, ...) to the enclosure URL they wrap.

    ``own_hosts`` are the hostnames our own /e/ prefix is served from; a URL through them is a hop
    named "self". Nothing is fetched: the chain is read from the URL alone.
    """
    hops: list[str] = []
    hop_urls: list[str] = []
    current = normalize_origin(url)
    for _ in range(MAX_CHAIN_HOPS):
        step = _next_hop(current, own_hosts)
        if step is None:
            break
        hops.append(step[0])
        hop_urls.append(current)
        current = normalize_origin(step[1])
    return TrackingChain(tuple(hops), tuple(hop_urls), current)


def _next_hop(url: str, own_hosts: Collection[str]) -> tuple[str, str] | None:
    m = _ORIGIN.fullmatch(url)
    if not m:
        return None
    host = m[2]
    if host in own_hosts:
        path, _, query = (m[4] or "").partition("?")
        try:
            return "self", parse_prefix_request(path, query).destination
        except PrefixRequestError:
            return None
    for rule in _RULES_BY_HOST.get(host) or _PATTERN_RULES:
        hit = rule.pattern.fullmatch(url)
        if hit is not None:
            return rule.name, _target_url(rule, hit)
    return None


def _target_url(rule: _PrefixRule, hit: re.Match[str]) -> str:
    groups = hit.groupdict()
    suffix_scheme = groups.get("sp")
    if suffix_scheme and rule.honour_suffix_scheme:
        scheme = suffix_scheme.lower()
    elif rule.default_scheme == "inherit":
        scheme = groups["scheme"]
    else:
        scheme = "https"
    rest = groups["rest"]
    if rule.unescape_slashes:
        query = groups.get("qs") or ""
        rest = _ENCODED_SLASH.sub("/", rest) + ("" if query == "?" else query)
    return f"{scheme}://{rest}"


# --- client parameters ------------------------------------------------------------------------

class ClientParams(NamedTuple):
    """A request URL split into what the server needs and what the listening app appended."""

    server_url: str
    client_params: dict[str, str]


_HTTP_SCHEME = re.compile(r"https?://", re.IGNORECASE)
_REDUNDANT_PORT = re.compile(r"(https?)://([^/:]+):(443|80)(/.*)", re.DOTALL)
_TUNEIN = frozenset({"DIST", "TGT", "maxServers"})  # ?DIST=TuneIn&TGT=TuneIn&maxServers=2
_OTHER_CLIENT_PARAMS = frozenset({
    "played_on", "source", "client_source", "referrer", "ref", "from", "src", "acid", "av", "lo",
    "consumer_key", "country", "fbclid", "rss_browser", "rn",
})
_ADSWIZZ = frozenset({"companionAds", "calendar", "sdkiad"})


def strip_client_params(url: str) -> ClientParams | None:
    """Remove parameters apps add to enclosure URLs (OP3 tryParseClientParams).

    Returns None for a non-http(s) URL, or when the URL has no query and needs no change. Kept
    parameters stay byte for byte as they were (OP3 re-serialises them; see the tests).
    """
    if not _HTTP_SCHEME.match(url):
        return None
    canonical = _canonicalize(url)
    i = canonical.find("?")
    if i < 0:
        return None if canonical == url else ClientParams(canonical, {})
    prefix, query = canonical[:i], canonical[i + 1:]
    pairs = [pair for pair in query.split("&") if pair]
    decoded = [(unquote_plus(name), unquote_plus(value)) for name, _, value in (p.partition("=") for p in pairs)]
    tunein = _TUNEIN.issubset(name for name, _ in decoded)
    kept: list[str] = []
    params: dict[str, str] = {}
    for raw, (name, value) in zip(pairs, decoded, strict=True):
        if _is_client_param(name, value, tunein):
            params[name] = value
        else:
            kept.append(raw)
    if tunein and prefix.endswith("/;"):  # .mp3/;?DIST=TuneIn&TGT=TuneIn&maxServers=2
        prefix = prefix[:-2]
    return ClientParams(prefix + ("?" + "&".join(kept) if kept else ""), params)


def server_url(url: str) -> str:
    """The URL without client parameters (OP3 computeServerUrl)."""
    parsed = strip_client_params(url)
    return url if parsed is None else parsed.server_url


def _is_client_param(name: str, value: str, tunein: bool) -> bool:
    return (name.startswith(("_", "aw_")) or (tunein and name in _TUNEIN) or name in _OTHER_CLIENT_PARAMS
            or name in _ADSWIZZ or (name == "download" and value == "true")
            or (name in ("", "query") and value == ""))


def _canonicalize(url: str) -> str:
    if "%3F_from" in url and "?" not in url:  # an app that percent-encodes its own '?'
        url = url.replace("%3F_from", "?_from", 1)
    m = _REDUNDANT_PORT.fullmatch(url)
    if m and (m[1], m[3]) in (("https", "443"), ("http", "80")):
        url = f"{m[1]}://{m[2]}{m[4]}"
    return url


# --- cleaning and matching --------------------------------------------------------------------

_CLEAN = re.compile(r"(https?)://([^/:?#]+)(:\d+)?([/?][^#]*)?(#.*)?", re.IGNORECASE | re.DOTALL)


def clean_url(url: str) -> str:
    """Lowercase scheme and host, drop a default port and the fragment (OP3 cleanUrl).

    Raises ValueError unless the URL is http(s). Unlike OP3, a query straight after the host
    (``https://a.com?x=1``) is accepted.
    """
    m = _CLEAN.fullmatch(url.strip())
    if not m:
        raise ValueError(f"not an http(s) URL: {url!r}")
    scheme, host, port, rest = m[1].lower(), m[2].lower(), m[3] or "", m[4] or ""
    if (scheme, port) in (("http", ":80"), ("https", ":443")):
        port = ""
    return f"{scheme}://{host}{port}{rest}"


def match_url(url: str, *, queryless: bool = False) -> str:
    """The key an enclosure URL is matched on (OP3 computeMatchUrl, plus client parameters stripped).

    Scheme-less, lowercased, without fragment, default port, client parameters or trailing slashes,
    ``&amp;`` unescaped and unsafe characters percent-encoded. Raises ValueError for non-http(s) URLs.
    """
    key = server_url(clean_url(url).replace("&amp;", "&"))
    key = quote(key, safe=_URL_SAFE)
    if queryless:
        key = key.partition("?")[0]
    if "?" not in key:
        key = key.rstrip("/")
    return key.lower().partition("://")[2]


def enclosure_match_key(url: str, *, own_hosts: Collection[str] = ()) -> str:
    """The key that maps a requested URL and a feed's enclosure URL to the same episode.

    Client parameters and tracking-prefix chains are removed, then match_url applies. Raises
    ValueError when what is left is not an http(s) URL.
    """
    chain = strip_tracking_prefixes(server_url(url.strip()), own_hosts=own_hosts)
    return match_url(chain.destination)


def try_enclosure_match_key(url: str | None, *, own_hosts: Collection[str] = ()) -> str | None:
    """enclosure_match_key, or None for input that cannot name an episode (for bulk mapping)."""
    if not url:
        return None
    try:
        return enclosure_match_key(url, own_hosts=own_hosts)
    except ValueError:
        return None


_INCOMING = re.compile(r"(https?)://([^/?#:@\s]+)(?::(\d{1,5}))?([^?#]*)(\?[^#]*)?(#.*)?",
                       re.IGNORECASE | re.DOTALL)


def incoming_url(url: str) -> str | None:
    """An http(s) URL as a browser would send it: host lowercased, '/' for an empty path, spaces and
    non-ASCII percent-encoded (OP3 tryComputeIncomingUrl). None when it is not an http(s) URL."""
    m = _INCOMING.fullmatch(url)
    if not m:
        return None
    scheme, host, port, path, query, fragment = m.groups()
    host = _ascii_host(host)
    if host is None:
        return None
    scheme = scheme.lower()
    if port is not None:
        number = int(port)
        if not 0 < number <= 65535:
            return None
        port = "" if (scheme, number) in (("http", 80), ("https", 443)) else f":{number}"
    out = f"{scheme}://{host}{port or ''}{quote(path or '/', safe=_PATH_SAFE)}"
    if query is not None:
        out += "?" + quote(query[1:], safe=_QUERY_SAFE)
    if fragment is not None:
        out += "#" + quote(fragment[1:], safe=_QUERY_SAFE + "#")
    return out


def _ascii_host(host: str) -> str | None:
    if host.isascii():
        return host.lower()
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


# --- our prefix: /e/<podcast key>/<enclosure URL without scheme> ---------------------------------

class PrefixRequest(NamedTuple):
    podcast_key: str
    destination: str  # absolute http(s) URL to redirect to


class PrefixRequestError(ValueError):
    """A request to /e/... that cannot be redirected; the message says why."""


_PREFIX_PATH = re.compile(r"/e/([^/]*)(?:/(.*))?", re.DOTALL)
_PODCAST_KEY = re.compile(rf"[A-Za-z0-9_-]{{1,{PODCAST_KEY_MAX_LENGTH}}}")
_EXPLICIT_SCHEME = re.compile(r"(https?):/+", re.IGNORECASE)
_AUTHORITY = re.compile(r"([A-Za-z0-9.-]+)(?::(\d{1,5}))?")
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def parse_prefix_request(path: str, query: str | bytes = "") -> PrefixRequest:
    """Read a prefix request: ``/e/<podcast key>/<host>[:port]/<path>`` plus the query string.

    ``path`` is the request path, raw (REQUEST_URI) or decoded (PATH_INFO); ``query`` is the raw query
    string, kept on the destination as it came. The target may carry ``https://``/``http://``
    (``https:/`` too, as proxies merge slashes); without one it is https. A target whose slashes
    are all percent-encoded is decoded. Raises PrefixRequestError (a ValueError) saying what is wrong.
    """
    query_text = query.decode("utf-8", "surrogateescape") if isinstance(query, bytes) else (query or "")
    if "?" in path:
        path, _, inline_query = path.partition("?")
        query_text = query_text or inline_query
    m = _PREFIX_PATH.fullmatch(path)
    if not m:
        raise PrefixRequestError(f"not a prefix request: {path!r} does not start with /e/")
    key, rest = m[1], m[2]
    if not key:
        raise PrefixRequestError("missing podcast key: expected /e/<podcast key>/<enclosure URL without scheme>")
    if not _PODCAST_KEY.fullmatch(key):
        raise PrefixRequestError(f"malformed podcast key {key!r}: expected 1-{PODCAST_KEY_MAX_LENGTH} "
                                 "letters, digits, '-' or '_'")
    if not rest:
        raise PrefixRequestError("missing destination: nothing follows the podcast key")
    if "/" not in rest and "%2f" in rest.lower():  # the whole target percent-encoded, '?' included
        rest, _, encoded_query = unquote(rest).partition("?")
        query_text = "&".join(q for q in (encoded_query, query_text) if q)
    scheme = "https"
    explicit = _EXPLICIT_SCHEME.match(rest)
    if explicit:
        scheme, rest = explicit[1].lower(), rest[explicit.end():]
    rest = rest.lstrip("/")
    if _EXPLICIT_SCHEME.match(rest):
        raise PrefixRequestError("destination repeats the scheme")
    authority, slash, target_path = rest.partition("/")
    if not authority:
        raise PrefixRequestError("missing destination: nothing follows the podcast key")
    if not slash or not target_path:
        raise PrefixRequestError(f"destination {rest!r} has no path to an audio file after the host")
    host, port = _checked_authority(authority)
    destination = f"{scheme}://{host}{port}/{_encode(target_path, _PATH_SAFE)}"
    if query_text:
        destination += "?" + _encode(query_text, _QUERY_SAFE)
    return PrefixRequest(key, destination)


def _encode(text: str, safe: str) -> str:
    # surrogateescape round-trips raw non-UTF-8 bytes of a query string to the same escapes
    return quote(text, safe=safe, encoding="utf-8", errors="surrogateescape")


def _checked_authority(authority: str) -> tuple[str, str]:
    m = _AUTHORITY.fullmatch(authority)
    if not m:
        raise PrefixRequestError(f"destination host {authority!r} is not a hostname")
    host, port = m[1].lower(), m[2]
    labels = host.split(".")
    if host == "localhost" or len(labels) < 2 or len(host) > 253 or not all(map(_HOST_LABEL.fullmatch, labels)):
        raise PrefixRequestError(f"destination host {host!r} is not a public hostname")
    if port is None:
        return host, ""
    number = int(port)
    if not 0 < number <= 65535:
        raise PrefixRequestError(f"destination port {port} is out of range")
    return host, f":{number}"

