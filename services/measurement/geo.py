"""Listener geography: country (and region where the data has it) of an IP from an offline database.

The default is the country database that ships inside the `geoip2fast` package (derived from MaxMind
GeoLite2, IPv4 and IPv6), so nothing is downloaded. A MaxMind-format .mmdb file (GeoLite2/GeoIP2 Country
or City, DB-IP lite, ...) overrides it and adds the region (first subdivision) where it has one.
Addresses that are not globally routable (private, loopback, link-local, documentation, CGNAT...) are None."""
from __future__ import annotations

import bisect
import functools
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from services.bulk import categorical_of
from services.errors import ValidationError

logger = logging.getLogger(__name__)

GEOIP2FAST_DATA_FILE = "geoip2fast-ipv6.dat.gz"  # the bundled file that covers IPv6 as well as IPv4
CACHE_SIZE = 262_144  # distinct IPs remembered per locator (a few tens of MB at most)

# IPv4 ranges that are never a listener's public address (IANA special-purpose registry, plus multicast and
# the reserved 240/4). Checked with a bisect on integers: ipaddress.is_global costs more than the lookup.
_NON_GLOBAL_V4 = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                  "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
                  "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4")
_V4_RANGES = sorted((int(n.network_address), int(n.broadcast_address))
                    for n in map(ipaddress.IPv4Network, _NON_GLOBAL_V4))
_V4_STARTS = [start for start, _ in _V4_RANGES]


@dataclass(frozen=True)
class Geo:
    country: str | None  # ISO 3166-1 alpha-2, e.g. "US"
    region: str | None  # ISO 3166-2, e.g. "US-CA"; None where the database has no subdivisions


class RecordReader(Protocol):
    """What a MaxMind DB reader offers: the record (a dict) of the network holding `ip`, or None."""

    def get(self, ip: str) -> dict[str, Any] | None: ...


class GeoLocator:
    """Looks up IPs in a MaxMind-format database (a path, or any RecordReader) or else the bundled one."""

    def __init__(self, mmdb_path: str | None = None, reader: RecordReader | None = None):
        if reader is None and mmdb_path:
            reader = _open_mmdb(mmdb_path)
        self._reader = reader
        self._fast = None if reader is not None else _load_geoip2fast()
        self.source = _describe(mmdb_path, reader)
        self._cache: dict[str, Geo] = {}  # listeners' IPs recur across the chunks of an import

    def lookup(self, ip: str | None) -> Geo:
        if not isinstance(ip, str):
            return _NOWHERE
        geo = self._cache.get(ip)
        if geo is None:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            geo = self._cache[ip] = self._find(ip)
        return geo

    def _find(self, ip: str) -> Geo:
        address = public_address(ip)
        if address is None:
            return _NOWHERE
        if self._reader is not None:
            return _from_record(self._reader.get(address))
        result = self._fast.lookup(address)
        country = result.country_code
        if result.is_private or len(country) != 2 or not country.isalpha():  # "--" not found, "" invalid
            return _NOWHERE
        return _country_only(country.upper())

    def lookup_many(self, ips: pd.Series, categorical: bool = False) -> pd.DataFrame:
        """Country and region for each IP, aligned with `ips`; each distinct IP is looked up once. `categorical`:
        as Categoricals (each value held once) instead of strings."""
        codes, uniques = pd.factorize(ips, use_na_sentinel=True)
        found = [self.lookup(ip) for ip in uniques]
        if categorical:  # a missing IP's code, -1, picks the None appended last
            return pd.DataFrame({name: categorical_of([getattr(g, name) for g in found] + [None], codes)
                                 for name in ("country", "region")}, index=ips.index)
        countries = pd.array([g.country for g in found] + [None], dtype="str")
        regions = pd.array([g.region for g in found] + [None], dtype="str")
        return pd.DataFrame({"country": countries.take(codes), "region": regions.take(codes)}, index=ips.index)

    def close(self) -> None:
        close = getattr(self._reader, "close", None)
        if close:
            close()


_NOWHERE = Geo(None, None)


@functools.cache
def _country_only(country: str) -> Geo:
    return Geo(country, None)  # one shared instance per country keeps the cache small


@functools.lru_cache(maxsize=4)
def default_locator(mmdb_path: str | None = None) -> GeoLocator:
    """One locator per database for the process: loading costs ~0.1 s and ~50 MB for the bundled data."""
    locator = GeoLocator(mmdb_path)
    logger.info("geolocation from %s", locator.source)
    return locator


def public_address(ip: str | None) -> str | None:
    """The canonical text of a globally routable address (IPv4-mapped IPv6 unwrapped), else None."""
    if not isinstance(ip, str):
        return None
    text = ip.strip()
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except OSError:
        return _public_v6(text)
    value = int.from_bytes(packed, "big")
    i = bisect.bisect_right(_V4_STARTS, value) - 1
    if i >= 0 and value <= _V4_RANGES[i][1]:
        return None
    return socket.inet_ntop(socket.AF_INET, packed)


def _public_v6(text: str) -> str | None:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if address.ipv4_mapped is not None:
        return public_address(str(address.ipv4_mapped))
    return str(address) if address.is_global and not address.is_multicast else None


def _from_record(record: dict[str, Any] | None) -> Geo:
    if not record:
        return Geo(None, None)
    country = record.get("country")
    code = country.get("iso_code") if isinstance(country, dict) else record.get("country_code") or country
    if not isinstance(code, str) or len(code) != 2:
        return Geo(None, None)
    code = code.upper()
    subdivisions = record.get("subdivisions") or []
    sub = subdivisions[0].get("iso_code") if subdivisions and isinstance(subdivisions[0], dict) else None
    return Geo(code, f"{code}-{sub.upper()}" if isinstance(sub, str) and sub else None)


def _open_mmdb(path: str) -> RecordReader:
    import maxminddb

    try:
        return maxminddb.open_database(path)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise ValidationError(f"cannot read the MaxMind database {path}: {exc}", {"mmdb_path": str(exc)}) from exc


def _load_geoip2fast():
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(verbose=False, geoip2fast_data_file=GEOIP2FAST_DATA_FILE)


def _describe(mmdb_path: str | None, reader: RecordReader | None) -> str:
    if reader is None:
        from geoip2fast import __version__

        return f"geoip2fast {__version__} bundled country data ({GEOIP2FAST_DATA_FILE})"
    metadata = getattr(reader, "metadata", None)
    if callable(metadata):
        meta = metadata()
        return f"{mmdb_path or 'MaxMind DB'} ({meta.database_type}, built {meta.build_epoch})"
    return f"{type(reader).__name__} reader"
