"""The per-account sign-in backoff: the delay schedule, the in-memory counter (with a movable clock), and lockouts
written to the audit log and the locked user's notifications in their own tenant only."""
from sqlalchemy import select

from services import accounts, demo
from services.login_throttle import LOCKOUT_KIND, BackoffPolicy, Failure, MemoryFailureCounter, record_lockout
from services.models import AuditLog, Sponsor
from services.notify import inapp


def test_the_delay_starts_after_the_threshold_doubles_and_is_capped():
    policy = BackoffPolicy()
    assert [policy.delay(n) for n in (1, 9, 10, 11, 12, 15, 16, 17, 10_000)] == [0, 0, 60, 120, 240, 1920, 3600,
                                                                                   3600, 3600]


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_the_counter_locks_after_ten_failures_and_a_success_resets_it():
    clock = Clock()
    counter = MemoryFailureCounter(clock=clock)
    assert [counter.failed("A@x.test").locked_for for _ in range(10)] == [0] * 9 + [60]
    assert counter.locked_for("a@x.test") == 60  # the email is normalised
    assert counter.locked_for("b@x.test") == 0  # another account has its own run
    clock.now += 59.5
    assert counter.locked_for("a@x.test") == 1
    clock.now += 1
    assert counter.locked_for("a@x.test") == 0
    assert counter.failed("a@x.test") == Failure(11, 120)  # the run goes on: twice as long
    counter.succeeded("a@x.test")
    assert counter.locked_for("a@x.test") == 0 and counter.failed("a@x.test") == Failure(1, 0)


def test_a_run_left_alone_for_a_day_is_forgotten():
    clock = Clock()
    counter = MemoryFailureCounter(clock=clock)
    for _ in range(9):
        counter.failed("a@x.test")
    clock.now += 24 * 3600 + 1
    assert counter.failed("a@x.test") == Failure(1, 0)


def _other_tenant(db):
    accounts.create_tenant(db, "other", "Other Network")
    owner, _ = accounts.create_user(db, "owner@other.test", "other", "owner", password="password-1")
    return accounts.resolve_context(db, owner.id)


def test_a_lockout_reaches_only_the_account_in_its_own_tenant(db):
    other_owner = _other_tenant(db)
    demo_user = accounts.authenticate(db, demo.DEMO_EMAIL, "demo-password-123")
    demo_owner = accounts.resolve_context(db, demo_user.id)
    with db.session(demo_owner.tenant_id) as s:
        sponsor_id = s.scalar(select(Sponsor.id).where(Sponsor.tenant_id == demo_owner.tenant_id).limit(1))
    sponsor_user, _ = accounts.create_user(db, "buyer@sponsor.test", "demo", "sponsor", password="password-1",
                                           sponsor_id=sponsor_id)
    sponsor_ctx = accounts.resolve_context(db, sponsor_user.id)

    assert record_lockout(db, demo.DEMO_EMAIL.upper(), Failure(10, 60)) == 1

    mine = [n for n in inapp.list_notifications(db, demo_owner) if n.kind == LOCKOUT_KIND]
    assert len(mine) == 1 and "10 failed sign-in attempts" in mine[0].body and "1 minute" in mine[0].body
    assert not [n for n in inapp.list_notifications(db, other_owner) if n.kind == LOCKOUT_KIND]
    assert not [n for n in inapp.list_notifications(db, sponsor_ctx) if n.kind == LOCKOUT_KIND]
    with db.session(system=True) as s:
        rows = s.execute(select(AuditLog.tenant_id, AuditLog.user_id, AuditLog.detail)
                         .where(AuditLog.action == "login.locked")).all()
    assert rows == [(demo_owner.tenant_id, demo_user.id, {"failures": 10, "locked_seconds": 60})]


def test_a_lockout_of_an_unknown_email_is_only_logged(db, caplog):
    with caplog.at_level("WARNING", logger="services.login_throttle"):
        assert record_lockout(db, "nobody@nowhere.test", Failure(10, 60)) == 0
    assert any(r.message == "login locked" for r in caplog.records)
    with db.session(system=True) as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "login.locked")) is None
