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

import numpy as np
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
_V4_STARTS_ARRAY = np.array(_V4_STARTS, dtype=np.int64)
_V4_ENDS_ARRAY = np.array([end for _, end in _V4_RANGES], dtype=np.int64)


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
        self._v4_table = None if self._fast is None else _V4Table.from_geoip2fast()
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

    def lookup_list(self, ips: list) -> list[Geo]:
        """lookup of each IP; the ones not remembered yet are found together (see _find_many)."""
        cache = self._cache
        found = [cache.get(ip) if isinstance(ip, str) else _NOWHERE for ip in ips]
        missing = [i for i, geo in enumerate(found) if geo is None]
        if missing:
            if len(cache) + len(missing) > CACHE_SIZE:
                cache.clear()
            for i, geo in zip(missing, self._find_many([ips[i] for i in missing])):
                found[i] = cache[ips[i]] = geo
        return found

    def _find_many(self, ips: list[str]) -> list[Geo]:
        """_find of each address. With the bundled data, IPv4 addresses are looked up all at once by numpy in a
        copy of its IPv4 networks (see _V4Table); the rest (IPv6, or any address with a MaxMind database) one by
        one."""
        if self._v4_table is None:
            return [self._find(ip) for ip in ips]
        numbers = np.fromiter(map(_ipv4_number, ips), dtype=np.int64, count=len(ips))
        found = self._v4_table.lookup(numbers)
        return [geo if number >= 0 else self._find(ip) for geo, number, ip in zip(found, numbers.tolist(), ips)]

    def lookup_many(self, ips: pd.Series, categorical: bool = False) -> pd.DataFrame:
        """Country and region for each IP, aligned with `ips`; each distinct IP is looked up once. `categorical`:
        as Categoricals (each value held once) instead of strings."""
        codes, uniques = pd.factorize(ips, use_na_sentinel=True)
        found = self.lookup_list(list(uniques))
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


def _ipv4_number(ip: str) -> int:
    """A dotted IPv4 address (spaces around it allowed, as public_address allows) as an integer; -1 otherwise."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, ip.strip()), "big")
    except OSError:
        return -1


class _V4Table:
    """The bundled database's IPv4 networks as numpy arrays (first address, last address, country), so many
    addresses are found with one searchsorted instead of a Python call each: the same answers as
    GeoIP2Fast.lookup (a test compares them), read from the lists that package keeps in its module."""

    def __init__(self, firsts: np.ndarray, lasts: np.ndarray, countries: np.ndarray, geos: list[Geo]):
        self.firsts, self.lasts, self.countries, self.geos = firsts, lasts, countries, geos

    @classmethod
    def from_geoip2fast(cls) -> _V4Table | None:
        """The table, or None (each address then goes through GeoIP2Fast.lookup) if the package's lists are not
        the shape this expects."""
        try:
            from geoip2fast import geoip2fast as module

            firsts: list[int] = []
            lengths: list[int] = []
            countries: list[int] = []
            for chunk_firsts, chunk_lengths, chunk_countries in zip(
                    module.mainListFirstIP, module.mainListNetlength, module.mainListIDCountryCodes):
                n = bisect.bisect_right(chunk_firsts, 0xFFFFFFFF)  # the IPv4 networks come first
                firsts += chunk_firsts[:n]
                lengths += chunk_lengths[:n]
                countries += chunk_countries[:n]
                if n < len(chunk_firsts):
                    break
            first = np.array(firsts, dtype=np.int64)
            length = np.array(lengths, dtype=np.int64)
            country = np.array(countries, dtype=np.int64)
            names = list(module.mainListNamesCountry)
            if not len(first) or (np.diff(first) <= 0).any() or length.min() < 0 or length.max() > 32 \
                    or country.min() < 0 or country.max() >= len(names):
                raise ValueError("unexpected IPv4 network lists")
        except Exception as exc:  # another version of the package: fall back to its own lookup
            logger.warning("geoip2fast lists not usable for batch lookups (%s); looking up one by one", exc)
            return None
        geos = []
        for index, name in enumerate(names):
            code = str(name).split(":", 1)[0]
            private = index < 16  # what GeoIP2Fast.lookup reports as is_private (reserved ranges, not found)
            geos.append(_NOWHERE if private or len(code) != 2 or not code.isalpha() else _country_only(code.upper()))
        return cls(first, first + np.left_shift(1, 32 - length) - 1, country, geos + [_NOWHERE])

    def lookup(self, numbers: np.ndarray) -> list[Geo]:
        """Geo of each IPv4 address given as an integer (anything negative: _NOWHERE), as GeoLocator._find."""
        special = np.searchsorted(_V4_STARTS_ARRAY, numbers, side="right") - 1
        special_clip = np.maximum(special, 0)
        public = (numbers >= 0) & ~((special >= 0) & (numbers <= _V4_ENDS_ARRAY[special_clip]))
        at = np.searchsorted(self.firsts, numbers, side="right") - 1
        at_clip = np.maximum(at, 0)
        found = public & (at >= 0) & (numbers <= self.lasts[at_clip])
        country = np.where(found, self.countries[at_clip], -1)  # -1: the _NOWHERE appended last
        geos = self.geos
        return [geos[c] for c in country.tolist()]


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
