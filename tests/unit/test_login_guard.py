"""POST /login throttling: a limit per client IP and a backoff per account, both answered 429 with Retry-After (the
HTML page says so, the JSON login answers JSON), the same for unknown emails; a success resets the account."""
import shutil

import pytest

from api.login_guard import EXTENSION
from app import create_app
from jobs import context as job_context
from services import demo
from tests.conftest import DEMO_PASSWORD, make_settings

JSON = {"Accept": "application/json"}


@pytest.fixture
def guarded_app(tmp_path, seeded_sqlite):
    shutil.copy(seeded_sqlite, tmp_path / "podcast.db")
    server = create_app(make_settings(tmp_path, LOGIN_RATE_LIMIT_IP="3/minute"))
    server.config["TESTING"] = True
    yield server
    server.extensions["podcast_platform"].db.dispose()
    job_context.reset()


class Clock:
    def __init__(self):
        self.now = 2_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app):
    """Moves the account counters' time (the app fixture's IP limit is the default, 30/minute)."""
    ticking = Clock()
    app.extensions[EXTENSION].clock = ticking
    return ticking


def _attempt(client, email, password, ip, **kwargs):
    return client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip},
                       **kwargs)


def _fail(client, email, times, first_ip=1):
    """Failed attempts from different addresses, so only the account's backoff can refuse them."""
    return [_attempt(client, email, "wrong-password", f"192.0.2.{first_ip + i}").status_code for i in range(times)]


def test_attempts_over_the_ip_limit_get_429_with_retry_after(guarded_app):
    client = guarded_app.test_client()
    statuses = [_attempt(client, demo.DEMO_EMAIL, "nope", "198.51.100.1").status_code for _ in range(3)]
    over = _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "198.51.100.1")
    assert statuses == [401, 401, 401] and over.status_code == 429
    assert 0 < int(over.headers["Retry-After"]) <= 60
    assert b"Too many sign-in attempts" in over.data and b'role="alert"' in over.data
    assert client.get("/_dash-layout").status_code == 401  # the right password did not get through
    as_json = _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "198.51.100.1", headers=JSON)
    assert as_json.status_code == 429 and "Too many sign-in attempts" in as_json.get_json()["error"]
    elsewhere = _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "198.51.100.2")
    assert elsewhere.status_code == 302  # another address has its own budget


def test_an_account_backs_off_after_ten_failures_then_doubles(client, clock):
    assert _fail(client, demo.DEMO_EMAIL, 10) == [401] * 10
    locked = _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "203.0.113.9")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "60"
    assert b"Please wait 1 minute" in locked.data and b"wrong email or password" not in locked.data
    clock.now += 61
    assert _fail(client, demo.DEMO_EMAIL, 1) == [401]  # the 11th failure: locked again, twice as long
    again = _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "203.0.113.9", headers=JSON)
    assert again.status_code == 429 and again.headers["Retry-After"] == "120"
    assert again.get_json() == {"error": "Too many sign-in attempts. Please wait 2 minutes and try again."}
    assert _attempt(client, "someone.else@example.com", "x", "203.0.113.9").status_code == 401  # other accounts pass


def test_an_unknown_email_gets_the_same_answers(client, clock):
    known, unknown = demo.DEMO_EMAIL, "no-such-user@example.com"
    assert _fail(client, known, 10) == _fail(client, unknown, 10, first_ip=50) == [401] * 10
    answers = [_attempt(client, email, "wrong-password", "203.0.113.9") for email in (known, unknown)]
    assert [a.status_code for a in answers] == [429, 429]
    assert answers[0].headers["Retry-After"] == answers[1].headers["Retry-After"]
    assert answers[0].data.replace(known.encode(), b"EMAIL") == answers[1].data.replace(unknown.encode(), b"EMAIL")


def test_a_success_resets_the_run(client, clock):
    assert _fail(client, demo.DEMO_EMAIL, 9) == [401] * 9
    assert _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "203.0.113.9").status_code == 302
    client.post("/logout")
    assert _fail(client, demo.DEMO_EMAIL, 9) == [401] * 9  # counted from zero again: not locked at the 10th
    assert _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "203.0.113.9").status_code == 302


def test_the_lock_ends_after_its_delay(client, clock):
    _fail(client, demo.DEMO_EMAIL, 10)
    assert _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "203.0.113.9").status_code == 429
    clock.now += 60
    assert _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "203.0.113.9").status_code == 302


def test_the_lockout_shows_in_the_owners_notifications(client, db, clock):
    from services import accounts
    from services.login_throttle import LOCKOUT_KIND
    from services.notify import inapp

    _fail(client, demo.DEMO_EMAIL, 10)
    user = accounts.authenticate(db, demo.DEMO_EMAIL, DEMO_PASSWORD)
    notes = inapp.list_notifications(db, accounts.resolve_context(db, user.id))
    assert [n.kind for n in notes if n.kind == LOCKOUT_KIND] == [LOCKOUT_KIND]


def test_sign_in_still_works_when_redis_is_unreachable(tmp_path, seeded_sqlite, caplog):
    shutil.copy(seeded_sqlite, tmp_path / "podcast.db")
    server = create_app(make_settings(tmp_path, REDIS_URL="redis://127.0.0.1:1/0?socket_connect_timeout=1"))
    try:
        client = server.test_client()
        with caplog.at_level("WARNING", logger="api.login_guard"):
            assert _attempt(client, demo.DEMO_EMAIL, "wrong-password", "127.0.0.1").status_code == 401
            assert _attempt(client, demo.DEMO_EMAIL, DEMO_PASSWORD, "127.0.0.1").status_code == 302
        assert any("login throttling unavailable" in r.getMessage() for r in caplog.records)
        assert any("login failure not counted" in r.getMessage() for r in caplog.records)
    finally:
        server.extensions["podcast_platform"].db.dispose()
        job_context.reset()
