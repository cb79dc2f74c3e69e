"""Log import: lines become raw requests and downloads; bad lines are reported; a second import and a failed
import write nothing; another tenant's import cannot touch this tenant."""
import gzip

import pytest
from sqlalchemy import func, select, text

from services import accounts
from services.errors import PermissionDenied, ValidationError
from services.measurement import counting, log_import
from services.measurement.logs import file_fingerprint
from services.models import DownloadRequest, LogImport
from services.tenancy import TenantContext

AGENT = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"


@pytest.fixture
def demo(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    return TenantContext(tenant_id=tenant.id, role="editor", tenant_slug="demo")


def _line(ip, path, when="26/Nov/2026:06:15:00 +0000", status=200, size=2_000_000, agent=AGENT, method="GET"):
    return f'{ip} - - [{when}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"'


def _log(tmp_path, lines, name="access.log"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _imported(db, tenant_id):
    with db.session(tenant_id) as s:
        return s.scalar(select(func.count()).select_from(DownloadRequest).where(DownloadRequest.source == "log"))


def test_import_counts_and_reports_bad_lines(db, demo, tmp_path):
    ep = "/signal-and-noise/0070.mp3"
    path = _log(tmp_path, [
        _line("203.0.113.5", ep),
        _line("203.0.113.5", ep, when="26/Nov/2026:06:20:00 +0000"),  # same listener, same day: one download
        _line("2001:db8:1:2::7", ep, size=1000),  # under one minute of audio
        "this is not a log line",
        _line("203.0.113.6", "/nowhere/else.mp3"),
        _line("203.0.113.7", ep, method="HEAD"),
        _line("not-an-ip", ep),
    ])
    report = log_import.import_log(db, demo, path, "combined", host="media.example.com")
    assert (report.lines, report.imported, report.unmatched, report.rejected) == (7, 4, 1, 2)
    assert {e["line"] for e in report.errors} == {4, 7}
    assert all(e["reason"] for e in report.errors)
    counted = counting.count_downloads(db, demo.tenant_id, report.first_day, report.last_day)
    assert counted.dropped["under one minute of audio delivered"] == 1
    with db.session(demo.tenant_id) as s:
        mine = s.scalar(text("SELECT count(*) FROM downloads WHERE listener_key IN "
                             "(SELECT listener_key FROM download_requests WHERE source = 'log')"))
    assert mine == 1


def test_the_same_file_twice_never_double_counts(db, demo, tmp_path):
    path = _log(tmp_path, [_line(f"198.51.100.{i}", "/market-hours/0050.mp3") for i in range(1, 30)])
    first = log_import.import_log(db, demo, path, "combined", host="media.example.com")
    gz = tmp_path / "copy.log.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))  # the same content, compressed: the same file
    for again in (path, gz):
        second = log_import.import_log(db, demo, again, "combined", host="media.example.com")
        assert second.already_imported and second.imported == 0
    assert _imported(db, demo.tenant_id) == first.imported == 29


def test_a_failed_import_leaves_nothing(db, demo, tmp_path, monkeypatch):
    path = _log(tmp_path, [_line(f"198.51.100.{i}", "/market-hours/0050.mp3") for i in range(1, 10)])
    calls = {"n": 0}
    real = log_import.insert_frame

    def fail_after_first(*args, **kwargs):
        calls["n"] += 1
        real(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(log_import, "insert_frame", fail_after_first)
    with pytest.raises(RuntimeError):
        log_import.import_log(db, demo, path, "combined", host="media.example.com")
    assert calls["n"] == 1 and _imported(db, demo.tenant_id) == 0
    with db.session(demo.tenant_id) as s:
        record = s.scalar(select(LogImport))
    assert record.status == "failed" and "disk full" in record.message
    monkeypatch.undo()
    assert log_import.import_log(db, demo, path, "combined", host="media.example.com").imported == 9


def test_a_file_that_fails_in_its_first_chunk_is_recorded_as_failed_and_can_be_imported_once_fixed(db, demo, tmp_path):
    csv = tmp_path / "hits.csv"
    csv.write_text("timestamp,ip,url\n2026-11-26T07:00:00Z,192.0.2.10,https://media.example.com/market-hours/0050.mp3\n")
    with pytest.raises(ValidationError, match="user_agent, status"):
        log_import.import_log(db, demo, csv, "csv")
    with db.session(demo.tenant_id) as s:
        record = s.scalar(select(LogImport))
    assert record.status == "failed" and "user_agent, status" in record.message and _imported(db, demo.tenant_id) == 0
    csv.write_text("timestamp,ip,user_agent,url,status\n"
                   f"2026-11-26T07:00:00Z,192.0.2.10,{AGENT},https://media.example.com/market-hours/0050.mp3,200\n")
    assert log_import.import_log(db, demo, csv, "csv").imported == 1


def test_csv_and_validation(db, demo, tmp_path):
    csv = tmp_path / "hits.csv"
    csv.write_text("timestamp,ip,user_agent,referer,method,url,status,bytes,range\n"
                   f"2026-11-26T07:00:00Z,192.0.2.10,{AGENT},,GET,https://media.example.com/market-hours/0050.mp3,"
                   "206,500000,bytes=0-499999\n")
    assert log_import.import_log(db, demo, csv, "csv").imported == 1
    with pytest.raises(ValidationError, match="format"):
        log_import.import_log(db, demo, csv, "apache-xml")
    with pytest.raises(ValidationError, match="no such file"):
        log_import.import_log(db, demo, tmp_path / "missing.log", "combined")
    with pytest.raises(PermissionDenied):
        log_import.import_log(db, TenantContext(demo.tenant_id, "viewer"), csv, "csv")


def test_another_tenant_import_maps_to_its_own_episodes_only(db, tmp_path):
    acme = accounts.create_tenant(db, "acme", "Acme")
    ctx = TenantContext(tenant_id=acme.id, role="owner")
    path = _log(tmp_path, [_line("198.51.100.1", "/signal-and-noise/0070.mp3")])
    report = log_import.import_log(db, ctx, path, "combined", host="media.example.com")
    assert (report.imported, report.unmatched) == (0, 1)  # demo's episodes are not acme's
    assert log_import.list_imports(db, ctx)[0].lines_total == 1
    demo_tenant = accounts.get_tenant_by_slug(db, "demo")
    assert log_import.list_imports(db, TenantContext(demo_tenant.id, "viewer")) == []


def test_import_logs_command(app, tmp_path):
    path = _log(tmp_path, [_line("198.51.100.77", "/market-hours/0050.mp3"), "garbage"])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-logs", str(path), "--tenant", "demo", "--format", "combined",
                                 "--host", "media.example.com"])
    assert result.exit_code == 0, result.output
    assert "1 requests stored" in result.output and "line 2" in result.output and "counted" in result.output
    again = runner.invoke(args=["import-logs", str(path), "--tenant", "demo", "--format", "combined"])
    assert "already imported" in again.output
    bad = runner.invoke(args=["import-logs", str(tmp_path / "nope.log"), "--tenant", "demo", "--format", "combined"])
    assert bad.exit_code != 0 and "no such file" in bad.output


def test_listener_keys_vectorised_equal_the_per_row_rule():
    import pandas as pd

    from services.measurement import hashing

    secret = bytes(range(32))
    ips = pd.Series(["192.0.2.1", "192.0.2.1", " 192.0.2.1 ", "010.0.0.1", "255.255.255.255", "256.1.1.1", "0.0.0.0",
                     "2001:db8:1:2:3:4:5:6", "2001:db8:1:2:ffff::1", "2001:DB8:1:2::", "::ffff:198.51.100.7",
                     "not an ip", "", None, "1.2.3"])
    agents = pd.Series(["A", "B", "A", None, "", "A", "A", "A", "A", "A", "A", "A", "A", "A", "tab\tagent"])
    got = hashing.listener_keys(secret, ips, agents).tolist()
    expected = [hashing.listener_key(secret, ip, ua) for ip, ua in zip(ips.fillna(""), agents.fillna(""))]
    assert got == expected
    assert hashing.listener_keys(secret, ips.astype("category"), agents.astype("category")).tolist() == expected
    as_categories = hashing.listener_keys(secret, ips, agents, categorical=True)  # what the log import writes
    assert isinstance(as_categories.dtype, pd.CategoricalDtype) and as_categories.astype(object).tolist() == expected
    assert as_categories.index.equals(ips.index) and as_categories.cat.categories.is_unique
    assert got[0] == got[2] and got[0] != got[1]  # the same household and agent; another agent
    assert got[7] == got[8] == got[9]  # one IPv6 /64


def _tenant_sharing_demo_feeds(db, slug: str) -> TenantContext:
    """A second tenant whose feeds carry the demo's enclosure URLs (a network re-publishing shows, say)."""
    from services.models import Episode, Podcast

    tenant = accounts.create_tenant(db, slug, slug.title())
    demo_id = accounts.get_tenant_by_slug(db, "demo").id
    with db.session(system=True) as s:
        episodes = s.scalars(select(Episode).where(Episode.tenant_id == demo_id)).all()
        podcasts = {}
        for ep in episodes:
            if ep.podcast_id not in podcasts:
                podcasts[ep.podcast_id] = Podcast(tenant_id=tenant.id, title=f"Copy {ep.podcast_id}",
                                                  prefix_key=f"{slug}{ep.podcast_id}")
                s.add(podcasts[ep.podcast_id])
                s.flush()
            s.add(Episode(tenant_id=tenant.id, podcast_id=podcasts[ep.podcast_id].id, guid=ep.guid, title=ep.title,
                          enclosure_url=ep.enclosure_url, enclosure_length=ep.enclosure_length,
                          duration_seconds=ep.duration_seconds, match_key=ep.match_key))
        s.commit()
    return TenantContext(tenant_id=tenant.id, role="editor", tenant_slug=slug)


def test_one_log_imported_into_two_tenants_counts_in_each_and_never_twice(db, demo, tmp_path):
    path = _log(tmp_path, [_line(f"198.51.100.{i}", "/market-hours/0050.mp3") for i in range(1, 12)])
    acme = _tenant_sharing_demo_feeds(db, "acme")
    before = _imported(db, demo.tenant_id)
    assert log_import.import_log(db, demo, path, "combined", host="media.example.com").imported == 11
    other = log_import.import_log(db, acme, path, "combined", host="media.example.com")
    assert (other.imported, other.unmatched, other.already_imported) == (11, 0, False)
    for ctx in (demo, acme):  # re-importing into either tenant stays a no-op
        again = log_import.import_log(db, ctx, path, "combined", host="media.example.com")
        assert again.already_imported and again.imported == 0
    with db.session(system=True) as s:
        per_tenant = dict(s.execute(select(DownloadRequest.tenant_id, func.count()).where(
            DownloadRequest.source == "log").group_by(DownloadRequest.tenant_id)).all())
        uids = s.execute(select(DownloadRequest.tenant_id, DownloadRequest.request_uid).where(
            DownloadRequest.import_id.is_not(None))).all()
    assert per_tenant[acme.tenant_id] == 11 and per_tenant[demo.tenant_id] - before == 11
    assert not {u for t, u in uids if t == demo.tenant_id} & {u for t, u in uids if t == acme.tenant_id}
    counted = counting.count_downloads(db, acme.tenant_id, other.first_day, other.last_day)
    assert counted.downloads == 11


def test_an_imports_request_uids_rise_with_its_line_numbers(db, demo, tmp_path):
    """Line 9 before line 10 before line 100: the primary key's index takes an import's rows at its right-hand end."""
    lines = [_line(f"198.51.100.{i % 200 + 1}", "/market-hours/0050.mp3") for i in range(120)]
    report = log_import.import_log(db, demo, _log(tmp_path, lines), "combined", host="media.example.com")
    with db.session(demo.tenant_id) as s:
        uids = s.scalars(select(DownloadRequest.request_uid).where(
            DownloadRequest.import_id == report.import_id)).all()
    prefix = log_import.request_uid_prefix(demo.tenant_id, file_fingerprint(tmp_path / "access.log"))
    assert sorted(uids) == [f"{prefix}{n:010d}" for n in range(1, 121)]
    assert len(uids) == report.imported == 120


def _imported_by(db, tenant_id):
    """Log rows of one tenant (SQLite has no row-level security: the filter is the wall here)."""
    with db.session(tenant_id) as s:
        return s.scalar(select(func.count()).select_from(DownloadRequest).where(
            DownloadRequest.source == "log", DownloadRequest.tenant_id == tenant_id))


def test_a_failed_import_into_the_second_tenant_leaves_both_tenants_as_they_were(db, demo, tmp_path, monkeypatch):
    path = _log(tmp_path, [_line(f"198.51.100.{i}", "/market-hours/0050.mp3") for i in range(1, 8)])
    acme = _tenant_sharing_demo_feeds(db, "acme")
    assert log_import.import_log(db, demo, path, "combined", host="media.example.com").imported == 7
    demo_rows = _imported_by(db, demo.tenant_id)
    real = log_import.insert_frame

    def write_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("connection lost")

    monkeypatch.setattr(log_import, "insert_frame", write_then_fail)
    with pytest.raises(RuntimeError):
        log_import.import_log(db, acme, path, "combined", host="media.example.com")
    assert _imported_by(db, acme.tenant_id) == 0 and _imported_by(db, demo.tenant_id) == demo_rows
    monkeypatch.undo()
    assert log_import.import_log(db, acme, path, "combined", host="media.example.com").imported == 7  # the retry
    assert _imported_by(db, acme.tenant_id) == 7 and _imported_by(db, demo.tenant_id) == demo_rows


def test_request_uids_are_the_prefix_and_ten_digit_line_numbers():
    """Built by numpy as one Arrow array, they read as the formatted uids, and bulk writes them as a fixed width."""
    import numpy as np
    import pandas as pd

    from services import copy_formats

    lines = np.array([1, 7, 42, 123_456, 9_999_999_999])
    uids = log_import.request_uids("0a1b2c:", lines)
    assert list(uids) == [f"0a1b2c:{n:010d}" for n in lines]
    fields = copy_formats._fixed_fields(pd.Series(uids), "varchar", per_row=True)
    assert fields.shape == (5, 4 + 17) and bytes(fields[2]) == b"\x00\x00\x00\x11" + b"0a1b2c:0000000042"
    with pytest.raises(ValueError):
        log_import.request_uids("x:", np.array([10**10]))


def test_addresses_give_the_keys_and_places_of_the_one_chunk_functions(monkeypatch):
    """The import's per-address memory (numbers, networks, places, household keys across chunks) changes no key and
    no place: the same as hashing.listener_keys, households.household_keys_of and GeoLocator.lookup_many, also
    after it forgets."""
    import numpy as np
    import pandas as pd

    from services.measurement import hashing
    from services.measurement.geo import default_locator
    from services.sponsorship.attribution import households

    locator = default_locator()
    addresses = log_import._Addresses(locator)
    secret, epoch_secrets = b"s" * 32, {100: b"e" * 32, 101: None, 102: b"f" * 32}
    pool = ["8.8.8.8", "81.2.69.160", "10.0.0.1", "2001:4860:4860::8888", "2001:4860:4860::1", "::ffff:8.8.4.4",
            "1.1.1.1", "193.0.0.1"]
    rnd = np.random.default_rng(5)

    def strs(values) -> list:
        return [None if pd.isna(v) else str(v) for v in np.asarray(values, dtype=object)]

    for round_ in range(4):
        if round_ == 2:
            monkeypatch.setattr(log_import._Addresses, "MAX_ADDRESSES", 3)  # forgets at every chunk from here
        n = 200
        ips = pd.Series(pd.Categorical([pool[i] for i in rnd.integers(0, len(pool), n)] + [None]))
        agents = pd.Series(pd.Categorical(rnd.choice(["App/1", "App/2", None], n + 1)))
        epochs = rnd.choice([100, 101, 102], n + 1)
        numbers = addresses.numbers(ips)
        assert (numbers[-1], (numbers[:-1] >= 0).all()) == (-1, True)
        assert strs(addresses.listener_keys(secret, numbers, agents)) == \
            strs(hashing.listener_keys(secret, ips, agents))
        assert strs(addresses.household_keys(epoch_secrets, numbers, epochs)) == \
            strs(households.household_keys_of(epoch_secrets, ips, epochs))
        places, expected = addresses.places(numbers), locator.lookup_many(ips)
        for name in ("country", "region"):
            assert strs(places[name]) == strs(expected[name])
    assert strs(places["country"]).count("US") > 0
