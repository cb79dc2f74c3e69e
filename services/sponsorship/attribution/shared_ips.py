"""Shared addresses: IPs of data-centre / hosting networks and of mobile carriers, where one address stands for
many households, so a match on it says nothing about who heard an ad.

Events from such addresses are stored with `ip_shared = True` and left out of deterministic household matching.
The network's owner comes from the ASN database that ships inside `geoip2fast` (derived from public registries;
nothing downloaded), which names each network's AS but gives no AS category, so the owner's name is matched
against the short keyword list below (upper case, substring). The list is deliberately small and explicit: a
false "shared" only loses a deterministic match, a false "household" could credit a stranger's exposure."""
from __future__ import annotations

import functools
import ipaddress
import logging
from pathlib import Path

from services.errors import ConfigError

logger = logging.getLogger(__name__)

ASN_DATA_FILE = "geoip2fast-asn-ipv6.dat.gz"  # bundled; covers IPv4 and IPv6 (geoip2fast-asn.dat.gz is IPv4 only)

# Hosting, cloud and CDN operators: traffic from them is servers, VPNs and relays (iCloud Private Relay egresses
# through Akamai, Cloudflare and Fastly), never one household.
HOSTING_KEYWORDS = (
    "AMAZON", "GOOGLE", "MICROSOFT", "AZURE", "ORACLE", "DIGITALOCEAN", "LINODE", "AKAMAI", "CLOUDFLARE",
    "FASTLY", "HETZNER", "OVH", "LEASEWEB", "SCALEWAY", "CONTABO", "VULTR", "CHOOPA", "ALIBABA", "TENCENT",
    "STRATO", "IONOS", "HOSTINGER", "M247", "DATACAMP", "HOSTING", "DATACENTER", "DATA CENTER", "COLOCATION",
    "SERVER", "CLOUD", "VPN",
)
# Mobile carriers: carrier-grade NAT puts thousands of phones behind one address.
MOBILE_KEYWORDS = ("MOBILE", "MOBILITY", "WIRELESS", "CELLULAR", "CELLCO", "MOVIL", "MOBILFUNK")


class SharedIpClassifier:
    """`is_shared(ip)`: whether the address belongs to a hosting or mobile network (see the module docstring)."""

    def __init__(self, lookup_asn):
        self._lookup_asn = lookup_asn  # ip -> AS owner name ("" when unknown)
        self._cache: dict[str, bool] = {}

    @classmethod
    def load(cls, data_file: str = ASN_DATA_FILE) -> "SharedIpClassifier":
        """The classifier over geoip2fast's bundled ASN data; ConfigError naming the file and the cause if it
        cannot be loaded."""
        path = check_available(data_file)
        from geoip2fast import GeoIP2Fast

        try:
            reader = GeoIP2Fast(verbose=False, geoip2fast_data_file=str(path))
        except Exception as exc:  # noqa: BLE001 - geoip2fast raises its own and plain errors alike
            raise ConfigError("ASN database", f"cannot load {path}: {exc}") from exc
        if not getattr(reader, "asn", False):
            raise ConfigError("ASN database", f"{path} carries no ASN data")
        logger.info("shared-IP classification from %s", path)
        return cls(lambda ip: reader.lookup(ip).asn_name or "")

    def is_shared(self, ip: str | None) -> bool:
        if not ip:
            return False
        shared = self._cache.get(ip)
        if shared is None:
            if len(self._cache) >= 100_000:
                self._cache.clear()
            shared = self._cache[ip] = is_shared_network(self._asn_name(ip))
        return shared

    def _asn_name(self, ip: str) -> str:
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return ""
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        return self._lookup_asn(str(address))


def is_shared_network(asn_name: str) -> bool:
    name = asn_name.upper()
    return any(word in name for word in HOSTING_KEYWORDS) or any(word in name for word in MOBILE_KEYWORDS)


@functools.cache
def default_classifier() -> SharedIpClassifier:
    """One classifier per process, loaded on first use (~0.5 s)."""
    return SharedIpClassifier.load()


def check_available(data_file: str = ASN_DATA_FILE) -> Path:
    """At start-up of the attribution inputs: the ASN file's path, or ConfigError saying why it is not usable
    (cheap: nothing is loaded)."""
    try:
        import geoip2fast
    except ImportError as exc:
        raise ConfigError("ASN database", f"the geoip2fast package is not installed ({exc})") from exc
    path = Path(geoip2fast.__file__).parent / data_file
    if not path.is_file():
        raise ConfigError("ASN database", f"{path} is missing: shared (hosting/mobile) IPs cannot be flagged; "
                                          f"reinstall geoip2fast")
    return path
