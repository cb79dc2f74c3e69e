"""The tracking prefix in embedded mode: 302 at once, the hit stored as a raw request (no raw IP), counted."""
import pytest
from sqlalchemy import select, text

from services import accounts
from services.measurement import counting, ingest, journal
from services.models import DownloadRequest, Episode, Podcast

APPLE = "Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0"


@pytest.fixture
def show(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        podcast = s.scalar(select(Podcast).order_by(Podcast.id))
        episode = s.scalar(select(Episode).where(Episode.podcast_id == podcast.id).order_by(Episode.id.desc()))
    return tenant.id, podcast, episode


def _flush(app):
    app.extensions["tracking"].sink.flush()


def _requests(db, tenant_id):
    with db.session(tenant_id) as s:
        return s.execute(select(DownloadRequest).where(DownloadRequest.source == "prefix",
                                                       DownloadRequest.user_agent == APPLE)).scalars().all()


def test_prefix_redirects_and_records(app, client, db, show):
    tenant_id, podcast, episode = show
    target = episode.enclosure_url.removeprefix("https://")
    before = len(_requests(db, tenant_id))
    response = client.get(f"/e/{podcast.prefix_key}/{target}?client=1", headers={"User-Agent": APPLE},
                          environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"https://{target}?client=1"
    assert client.head(f"/e/{podcast.prefix_key}/{target}", headers={"User-Agent": APPLE}).status_code == 302
    _flush(app)
    stored = _requests(db, tenant_id)
    assert len(stored) == before + 2
    new = stored[-1]
    assert new.podcast_id == podcast.id and len(new.listener_key) == 32
    with db.session(tenant_id) as s:
        columns = [c for c in s.execute(text("SELECT * FROM download_requests LIMIT 1")).keys()]
        raw_dump = str(s.execute(text("SELECT * FROM download_requests WHERE user_agent = :ua"), {"ua": APPLE}).all())
    assert "ip" not in columns and "203.0.113.9" not in raw_dump  # raw IPs are never stored


def test_prefix_refuses_unknown_keys_foreign_hosts_and_garbage(client, show):
    _, podcast, episode = show
    path = episode.enclosure_url.removeprefix("https://").split("/", 1)[1]
    assert client.get(f"/e/nosuchkey/media.example.com/{path}").status_code == 404
    response = client.get(f"/e/{podcast.prefix_key}/evil.example.net/{path}")
    assert response.status_code == 404 and b"never used that host" in response.data
    assert client.get(f"/e/{podcast.prefix_key}/").status_code == 404
    assert client.post(f"/e/{podcast.prefix_key}/media.example.com/{path}").status_code == 405


def test_forwarded_for_needs_a_trusted_proxy(app, client, db, show):
    tenant_id, podcast, episode = show
    target = episode.enclosure_url.removeprefix("https://")
    for forwarded in ("198.51.100.1", "198.51.100.2"):
        client.get(f"/e/{podcast.prefix_key}/{target}", headers={"User-Agent": APPLE, "X-Forwarded-For": forwarded},
                   environ_base={"REMOTE_ADDR": "203.0.113.10"})
    _flush(app)
    keys = {r.listener_key for r in _requests(db, tenant_id)[-2:]}
    assert len(keys) == 1  # the untrusted header was ignored: one address, one listener


def test_a_prefix_hit_becomes_a_download(app, client, db, show):
    tenant_id, podcast, episode = show
    target = episode.enclosure_url.removeprefix("https://")
    client.get(f"/e/{podcast.prefix_key}/{target}", headers={"User-Agent": APPLE, "Range": "bytes=0-"},
               environ_base={"REMOTE_ADDR": "192.0.2.77"})
    _flush(app)
    with db.session(tenant_id) as s:
        before = s.scalar(text("SELECT count(*) FROM downloads WHERE episode_id = :e"), {"e": episode.id})
    report = counting.count_downloads(db, tenant_id)
    with db.session(tenant_id) as s:
        after = s.scalar(text("SELECT count(*) FROM downloads WHERE episode_id = :e"), {"e": episode.id})
    assert after == before + 1 and report.downloads > 0, report
    counting.count_downloads(db, tenant_id, report.first_day, report.last_day)  # a recount changes nothing
    with db.session(tenant_id) as s:
        assert s.scalar(text("SELECT count(*) FROM downloads WHERE episode_id = :e"), {"e": episode.id}) == after


def test_replayed_hits_are_stored_once(db, show):
    _, podcast, episode = show
    hit = ingest.new_hit(podcast.prefix_key, "192.0.2.1", APPLE, None, None, "GET", episode.enclosure_url)
    assert ingest.store_hits(db, [hit]) == 1
    assert ingest.store_hits(db, [hit, hit]) == 0


def test_spool_keeps_what_could_not_be_pushed(tmp_path):
    spool = ingest.Spool(tmp_path)
    for i in range(5):
        spool.append({"uid": str(i)})
    pushed = []

    def flaky(lines):
        if pushed:
            raise ConnectionError("down again")
        pushed.extend(lines)

    with pytest.raises(ConnectionError):
        spool.replay(flaky, batch=2)
    assert len(pushed) == 2 and spool.has_pending()
    assert spool.replay(lambda lines: pushed.extend(lines), batch=2) == 3
    assert [p for p in pushed] == [f'{{"uid": "{i}"}}' for i in range(5)] and not spool.has_pending()


class FakeRedis:
    """Just enough of a Redis client for the journal shipper: RPUSH (pipelined or not) onto lists, and an
    on/off switch that makes every command fail like a Redis that is down."""

    def __init__(self):
        self.lists: dict[str, list[bytes]] = {}
        self.down = False

    def rpush(self, key, *values):
        if self.down:
            raise ConnectionError("redis down")
        self.lists.setdefault(key, []).extend(v if isinstance(v, bytes) else v.encode() for v in values)
        return len(self.lists[key])

    def pipeline(self, transaction=False):
        client, queued = self, []

        class Pipe:
            def rpush(self, key, *values):
                queued.append((key, values))

            def execute(self):
                if client.down:
                    raise ConnectionError("redis down")
                return [client.rpush(key, *values) for key, values in queued]

        return Pipe()

    def uids(self) -> list[str]:
        import json
        return [json.loads(line)["uid"] for line in self.lists.get(ingest.BUFFER_KEY, [])]


def _hits(n, start=0):
    return [{"uid": f"h{i}", "key": "k"} for i in range(start, start + n)]


def test_journal_ships_every_hit_once_in_order(tmp_path):
    fake = FakeRedis()
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=0.001, rotate_bytes=200)  # rotates often
    hits = _hits(300)
    for hit in hits:
        sink.record(hit)
    assert sink.flush(timeout=10)
    assert fake.uids() == [h["uid"] for h in hits]
    sink.close()
    assert list((tmp_path / "journal").iterdir()) == []  # all shipped: segments and lock removed


def test_a_short_journal_write_fails_the_hit_and_leaves_no_fragment(tmp_path, monkeypatch):
    fake = FakeRedis()
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=0.001)
    sink.record({"uid": "h0", "key": "k"})
    real_write = journal.os.write

    def disk_fills_mid_line(fd, data):
        return real_write(fd, data[:len(data) // 2] if fd == sink._fd else data)

    monkeypatch.setattr(journal.os, "write", disk_fills_mid_line)
    with pytest.raises(OSError):
        sink.record({"uid": "h1", "key": "k"})
    monkeypatch.undo()
    sink.record({"uid": "h2", "key": "k"})  # space again: the next line is whole, not glued to a fragment
    assert sink.flush(timeout=10)
    assert fake.uids() == ["h0", "h2"]
    sink.close()


def test_journal_keeps_hits_while_redis_is_down_and_ships_them_after(tmp_path):
    fake = FakeRedis()
    fake.down = True
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=0.001)
    for hit in _hits(50):
        sink.record(hit)
    assert not sink.flush(timeout=0.3) and fake.uids() == [] and sink.pending() > 0
    fake.down = False
    for hit in _hits(10, start=50):
        sink.record(hit)
    assert sink.flush(timeout=10)
    assert fake.uids() == [f"h{i}" for i in range(60)]
    sink.close()


def test_a_dead_workers_journal_is_adopted_by_another(tmp_path):
    """A worker that stops without shipping (Redis down at shutdown, or killed) leaves its journal on disk; the
    next shipper adopts it. Nothing is lost; a hit shipped twice is stored once (idempotent by uid)."""
    fake = FakeRedis()
    fake.down = True
    first = journal.JournalSink(fake, tmp_path / "journal", interval=0.001)
    for hit in _hits(40):
        first.record(hit)
    first.close(timeout=0.2)  # Redis down: the journal stays, its lock released
    assert any(p.suffix == ".jsonl" for p in (tmp_path / "journal").iterdir())
    fake.down = False
    second = journal.JournalSink(fake, tmp_path / "journal", interval=0.001)
    second.record({"uid": "new", "key": "k"})
    assert second.flush(timeout=10)
    deadline = __import__("time").monotonic() + 10
    while len(set(fake.uids())) < 41 and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.01)
    assert sorted(set(fake.uids())) == sorted([f"h{i}" for i in range(40)] + ["new"])
    second.close()
    assert list((tmp_path / "journal").iterdir()) == []


def test_a_live_workers_journal_is_not_adopted(tmp_path):
    fake = FakeRedis()
    fake.down = True
    live = journal.JournalSink(fake, tmp_path / "journal", interval=0.001)
    live.record({"uid": "mine", "key": "k"})
    fake.down = False
    other = journal.JournalSink(fake, tmp_path / "journal", interval=0.001)
    other.record({"uid": "theirs", "key": "k"})
    other.flush()
    assert other.adopt_orphans() == 0  # the owner holds its lock: its journal is its own to ship
    assert live.flush(timeout=10)
    assert sorted(fake.uids()) == ["mine", "theirs"]
    live.close()
    other.close()


def test_journal_is_shipped_on_close(tmp_path):
    fake = FakeRedis()
    sink = journal.JournalSink(fake, tmp_path / "journal", interval=5.0)  # the shipper would wait 5 s
    for hit in _hits(20):
        sink.record(hit)
    sink.close()
    assert fake.uids() == [f"h{i}" for i in range(20)]


def test_journal_adopts_the_legacy_spool(tmp_path):
    fake = FakeRedis()
    spool = ingest.Spool(tmp_path / "spool")
    spool.append({"uid": "old", "key": "k"})
    sink = journal.JournalSink(fake, tmp_path / "spool" / "journal", interval=0.001, legacy_spool=spool)
    sink.record({"uid": "new", "key": "k"})
    assert sink.flush(timeout=10)
    sink.close()
    assert sorted(fake.uids()) == ["new", "old"] and not spool.has_pending()


def test_a_prefix_hit_opens_no_session(app, demo_client, show, monkeypatch):
    """/e/ is anonymous: no cookie read, no user loaded, no cookie written, even for a logged-in browser."""
    from api import auth

    _, podcast, episode = show
    loaded = []
    real_loader = auth.login_manager._user_callback
    monkeypatch.setattr(auth.login_manager, "_user_callback", lambda uid: loaded.append(uid) or real_loader(uid))
    response = demo_client.get(f"/e/{podcast.prefix_key}/{episode.enclosure_url.removeprefix('https://')}",
                               headers={"User-Agent": APPLE})
    assert response.status_code == 302 and "Set-Cookie" not in response.headers and loaded == []
    assert demo_client.get("/").status_code == 200 and loaded  # a page loads the user from the same session


def test_a_sigkilled_workers_hits_are_shipped_by_the_next_one(tmp_path):
    """A worker killed with SIGKILL right after answering (its shipper never ran): every hit it wrote is on disk
    and the next process's shipper ships it."""
    import subprocess
    import sys
    import textwrap

    journal_dir = tmp_path / "journal"
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(__import__('pathlib').Path(ingest.__file__).resolve().parents[2])!r})
        from services.measurement import journal

        class NeverUp:
            def pipeline(self, transaction=False):
                raise ConnectionError("down")
            def rpush(self, *a):
                raise ConnectionError("down")

        sink = journal.JournalSink(NeverUp(), {str(journal_dir)!r}, interval=60.0)
        for i in range(500):
            sink.record({{"uid": f"k{{i}}", "key": "k"}})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == -9
    fake = FakeRedis()
    heir = journal.JournalSink(fake, journal_dir, interval=0.001)
    assert heir.adopt_orphans() == 500
    assert sorted(fake.uids()) == sorted(f"k{i}" for i in range(500))
    heir.close()
    assert list(journal_dir.iterdir()) == []


def test_prefix_hits_are_answered_ahead_of_flask_with_a_request_id_and_metrics(app, client, show):
    """AnonymousEndpoints answers /e/ without Flask's request machinery; the answer still carries X-Request-ID and
    is counted in /metrics under its route, as every Flask route is; HEAD has no body."""
    from api.tracking import AnonymousEndpoints

    _, podcast, episode = show
    assert isinstance(app.wsgi_app, AnonymousEndpoints)
    path = f"/e/{podcast.prefix_key}/{episode.enclosure_url.removeprefix('https://')}"
    given = client.get(path, headers={"User-Agent": APPLE, "X-Request-ID": "probe-1"})
    assert given.status_code == 302 and given.headers["X-Request-ID"] == "probe-1"
    head = client.head(path, headers={"User-Agent": APPLE, "X-Request-ID": "not a sane id"})
    assert head.status_code == 302 and len(head.headers["X-Request-ID"]) == 32 and head.data == b""
    assert client.get("/e/nosuchkey/media.example.com/x.mp3").status_code == 404
    metrics = client.get("/metrics").get_data(as_text=True)
    for method, status in (("GET", 302), ("HEAD", 302), ("GET", 404)):
        assert f'http_requests_total{{method="{method}",route="/e/<path:_rest>",status="{status}"}} 1.0' in metrics


def test_the_flask_view_answers_as_the_fast_path_does(app, show):
    """The /e/ view behind AnonymousEndpoints (reached when a request is passed on) gives the same answers."""
    from werkzeug.test import Client

    _, podcast, episode = show
    target = episode.enclosure_url.removeprefix("https://")
    fast, flask_only = Client(app.wsgi_app), Client(app.wsgi_app.wsgi_app)
    for path in (f"/e/{podcast.prefix_key}/{target}?a=%C3%A9&b=1", f"/e/{podcast.prefix_key}/evil.example.net/x.mp3",
                 "/e/nosuchkey/media.example.com/x.mp3", f"/e/{podcast.prefix_key}/", "/e/bad key!/a.b/c"):
        a, b = fast.get(path, headers={"User-Agent": APPLE}), flask_only.get(path, headers={"User-Agent": APPLE})
        assert (a.status_code, a.headers.get("Location"), a.headers["Content-Type"], a.data) == (
            b.status_code, b.headers.get("Location"), b.headers["Content-Type"], b.data), path
    assert fast.post(f"/e/{podcast.prefix_key}/{target}").status_code == 405  # other methods go on to Flask


def test_a_prefix_hit_that_cannot_be_journaled_answers_500_and_is_counted(app, client, show, monkeypatch, caplog):
    _, podcast, episode = show

    def broken(_hit):
        raise OSError("disk full")

    monkeypatch.setattr(app.extensions["tracking"].sink, "record", broken)
    response = client.get(f"/e/{podcast.prefix_key}/{episode.enclosure_url.removeprefix('https://')}")
    assert response.status_code == 500 and "Location" not in response.headers  # no 302 without the hit recorded
    assert "disk full" in caplog.text
    assert 'route="/e/<path:_rest>",status="500"} 1.0' in client.get("/metrics").get_data(as_text=True)


def test_the_prefix_answers_from_the_last_known_hosts_while_the_database_is_down(app, client, show, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import api.tracking

    _, podcast, episode = show
    path = f"/e/{podcast.prefix_key}/{episode.enclosure_url.removeprefix('https://')}"
    assert client.get(path).status_code == 302  # the hosts are now cached
    tracker = app.extensions["tracking"]

    def database_down(*_args):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(api.tracking, "destination_hosts", database_down)
    tracker._hosts = {key: (0.0, hosts) for key, (_, hosts) in tracker._hosts.items()}  # every entry expired
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == episode.enclosure_url
    assert tracker._hosts[podcast.prefix_key][0] > 0  # asked again after a short wait, not on every hit
    assert client.get("/e/neverseen/media.example.com/a.mp3").status_code == 500  # nothing known: no redirect


def test_a_hit_the_journal_could_not_write_answers_500_without_a_traceback_per_hit(app, client, show, monkeypatch,
                                                                                    caplog):
    _, podcast, episode = show

    def disk_full(_hit):
        raise journal.JournalWriteError(28, "hit journal: hit not recorded")

    monkeypatch.setattr(app.extensions["tracking"].sink, "record", disk_full)
    response = client.get(f"/e/{podcast.prefix_key}/{episode.enclosure_url.removeprefix('https://')}")
    assert response.status_code == 500 and "Location" not in response.headers
    assert response.data == b"hit not recorded\n"
    assert "Exception on" not in caplog.text  # the journal logged the run of failures once; no traceback per hit
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'route="/e/<path:_rest>",status="500"} 1.0' in metrics
    assert "# TYPE prefix_journal_write_failures_total counter" in metrics


def test_a_pixel_call_the_journal_could_not_write_still_gets_its_gif_without_a_traceback(app, client, monkeypatch,
                                                                                       caplog):
    def disk_full(_record):
        raise journal.JournalWriteError(28, "hit journal: hit not recorded")

    monkeypatch.setattr(app.extensions["tracking"].sink, "record", disk_full)
    response = client.get("/px.gif?s=anything")
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert "pixel call not recorded" not in caplog.text  # counted and logged once by the journal, not per call
