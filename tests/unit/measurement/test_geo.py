"""IP geolocation: bundled geoip2fast country data by default, a MaxMind .mmdb (with regions) when configured."""
from __future__ import annotations

import pandas as pd
import pytest

from services.errors import ValidationError
from services.measurement.geo import Geo, GeoLocator, default_locator, public_address

PRIVATE_OR_RESERVED = ["10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "100.64.0.1", "169.254.1.1", "0.0.0.0",
                       "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.51.100.7", "203.0.113.5", "::1", "::",
                       "fe80::1", "fe80::1%eth0", "fd00::1", "2001:db8::1", "ff02::1", "::ffff:10.0.0.1"]
GARBAGE = ["", "   ", "garbage", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "12345::1::2", None, float("nan"), 42]


@pytest.fixture(scope="module")
def bundled() -> GeoLocator:
    return default_locator()


@pytest.mark.parametrize("ip, country", [
    ("8.8.8.8", "US"), ("9.9.9.9", "US"),
    ("1.1.1.1", "AU"),  # what the bundled GeoLite2-derived data says (APNIC's range, registered in Australia)
    ("81.2.69.160", "GB"),  # MaxMind's own test address
    ("193.0.0.1", "NL"),  # RIPE NCC
    ("2001:4860:4860::8888", "US"), ("2a00:1450:4001:81b::200e", "DE"),
    ("::ffff:8.8.8.8", "US"),  # IPv4-mapped IPv6 is the IPv4 address
])
def test_bundled_database_knows_public_addresses(bundled, ip, country):
    assert bundled.lookup(ip) == Geo(country, None)


@pytest.mark.parametrize("ip", PRIVATE_OR_RESERVED + GARBAGE)
def test_private_reserved_and_garbage_addresses_have_no_place(bundled, ip):
    assert bundled.lookup(ip) == Geo(None, None)


def test_public_address_normalises_and_filters():
    assert public_address(" 8.8.8.8 ") == "8.8.8.8"
    assert public_address("2001:4860:4860:0:0:0:0:8888") == "2001:4860:4860::8888"
    assert public_address("::ffff:8.8.4.4") == "8.8.4.4"
    assert [public_address(ip) for ip in PRIVATE_OR_RESERVED + GARBAGE] == [None] * len(PRIVATE_OR_RESERVED + GARBAGE)


def test_lookup_many_equals_lookup_and_keeps_the_index(bundled):
    ips = pd.Series(["8.8.8.8", "10.0.0.1", None, "2a00:1450:4001:81b::200e", "8.8.8.8", "garbage", "1.1.1.1"],
                    index=[10, 11, 12, 13, 14, 15, 16], dtype="str")
    frame = bundled.lookup_many(ips)

    assert list(frame.columns) == ["country", "region"] and frame.index.equals(ips.index)
    expected = [bundled.lookup(ip if isinstance(ip, str) else None) for ip in ips]
    assert [Geo(c if isinstance(c, str) else None, r if isinstance(r, str) else None)
            for c, r in frame.itertuples(index=False)] == expected
    assert frame["country"].tolist()[:2] == ["US", None] or pd.isna(frame["country"].iloc[1])
    assert bundled.lookup_many(pd.Series([], dtype="str")).empty
    as_categories = bundled.lookup_many(ips, categorical=True)  # what the log import writes: the same values
    assert as_categories.index.equals(ips.index) and all(isinstance(t, pd.CategoricalDtype) for t in as_categories.dtypes)
    for name in ("country", "region"):
        assert [None if pd.isna(v) else v for v in as_categories[name].astype(object)] == \
            [None if pd.isna(v) else v for v in frame[name].astype(object)]
    assert bundled.lookup_many(pd.Series([], dtype="str"), categorical=True).empty


def test_batch_lookups_answer_as_the_bundled_lookup_does():
    """The IPv4 networks copied into numpy arrays give what GeoIP2Fast.lookup gives: at random addresses, at each
    side of network edges, and for the addresses it leaves to the one-by-one lookup (IPv6, garbage)."""
    import ipaddress
    import random

    locator = GeoLocator()  # a fresh one: nothing remembered
    table = locator._v4_table
    assert table is not None and len(table.firsts) > 100_000  # the batch path is in use with the bundled package
    rnd = random.Random(7)
    numbers = [rnd.getrandbits(32) for _ in range(20_000)]
    for i in rnd.sample(range(len(table.firsts)), 2_000):
        first, last = int(table.firsts[i]), int(table.lasts[i])
        numbers += [n for n in (first - 1, first, last, last + 1) if 0 <= n <= 0xFFFFFFFF]
    ips = [str(ipaddress.IPv4Address(n)) for n in numbers] + PRIVATE_OR_RESERVED + \
        [g for g in GARBAGE if isinstance(g, str)] + [" 8.8.8.8 ", "2001:4860:4860::8888", "::ffff:8.8.8.8"]

    batch = locator._find_many(ips)
    assert batch == [locator._find(ip) for ip in ips]
    assert sum(g.country is not None for g in batch) > 10_000  # most random addresses are somewhere
    assert locator.lookup_list(ips[:50] + [None, 42]) == batch[:50] + [Geo(None, None)] * 2


def test_lookup_many_asks_once_per_distinct_ip():
    reader = FakeReader({"8.8.8.8": {"country": {"iso_code": "US"}}})
    locator = GeoLocator(reader=reader)
    frame = locator.lookup_many(pd.Series(["8.8.8.8"] * 1000 + ["8.8.4.4"] * 500))
    assert sorted(reader.asked) == ["8.8.4.4", "8.8.8.8"]
    assert frame["country"].iloc[0] == "US" and pd.isna(frame["country"].iloc[-1])


def test_default_locator_is_cached():
    assert default_locator() is default_locator()
    assert "geoip2fast" in default_locator().source


# -- a MaxMind database overrides the bundled data -------------------------------------------------------------

class FakeReader:
    """Stands in for maxminddb.Reader: records by exact address, and a log of what was asked."""

    def __init__(self, records):
        self.records, self.asked = records, []

    def get(self, ip):
        self.asked.append(ip)
        return self.records.get(ip)


def test_injected_reader_gives_country_and_first_subdivision():
    reader = FakeReader({
        "81.2.69.160": {"country": {"iso_code": "GB"}, "subdivisions": [{"iso_code": "ENG"}, {"iso_code": "WSM"}]},
        "8.8.8.8": {"country": {"iso_code": "us"}},
        "2a02:db8::1": {"registered_country": {"iso_code": "DE"}},  # no located country: unknown
        "9.9.9.9": {"country_code": "CH"},  # flat layouts (some vendors) work too
    })
    locator = GeoLocator(reader=reader)
    assert locator.lookup("81.2.69.160") == Geo("GB", "GB-ENG")
    assert locator.lookup("8.8.8.8") == Geo("US", None)
    assert locator.lookup("2a02:db8::1") == Geo(None, None)
    assert locator.lookup("9.9.9.9") == Geo("CH", None)
    assert locator.lookup("1.0.0.1") == Geo(None, None)
    assert locator.lookup("192.168.0.1") == Geo(None, None)
    assert "192.168.0.1" not in reader.asked  # private addresses never reach the database


def test_mmdb_file_overrides_the_bundled_data(tmp_path):
    import mmdb_writer  # a dev requirement: a missing package fails, it does not skip
    from netaddr import IPSet

    writer = mmdb_writer.MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City",
                                    languages=["en"], description="test city database")
    writer.insert_network(IPSet(["81.2.69.0/24"]), {
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}]})
    writer.insert_network(IPSet(["8.8.8.0/24"]), {"country": {"iso_code": "FR"}})  # disagrees with the bundled data
    writer.insert_network(IPSet(["2a02:db8::/32"]), {
        "country": {"iso_code": "DE"}, "subdivisions": [{"iso_code": "BE", "names": {"en": "Berlin"}}]})
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))

    locator = GeoLocator(str(path))
    assert locator.lookup("81.2.69.160") == Geo("GB", "GB-ENG")
    assert locator.lookup("8.8.8.8") == Geo("FR", None)
    assert locator.lookup("::ffff:8.8.8.8") == Geo("FR", None)
    assert locator.lookup("2a02:db8:1::5") == Geo("DE", "DE-BE")
    assert locator.lookup("1.1.1.1") == Geo(None, None)
    assert locator.lookup("10.0.0.1") == Geo(None, None)
    assert "GeoIP2-City" in locator.source
    frame = locator.lookup_many(pd.Series(["81.2.69.160", "8.8.8.8", "10.0.0.1"]))
    assert frame["region"].tolist()[0] == "GB-ENG" and frame["country"].tolist()[:2] == ["GB", "FR"]
    assert default_locator(str(path)) is default_locator(str(path)) is not default_locator()
    locator.close()


def test_unreadable_mmdb_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError):
        GeoLocator(str(tmp_path / "missing.mmdb"))
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database")
    with pytest.raises(ValidationError):
        GeoLocator(str(junk))
