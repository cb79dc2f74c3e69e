"""Two-factor sign-in service: enrolment, the ±1 step window, replay refusal, single-use recovery codes, lockout,
turning it off, the tenant requirement, and the audit trail."""
import pyotp
import pytest
from sqlalchemy import select

from services import accounts, mfa
from services.demo import DEMO_EMAIL
from services.errors import AuthenticationFailed, Conflict, PermissionDenied, ValidationError
from services.models import AuditLog, MfaRecoveryCode, User
from services.tenancy import TenantContext

T0 = 1_800_000_015.0  # a fixed instant inside one 30 s step


def _user_id(db, email=DEMO_EMAIL):
    with db.session(system=True) as s:
        return s.scalar(select(User.id).where(User.email == email))


def enrol(db, user_id, at=T0):
    enrolment = mfa.start_enrolment(db, user_id)
    codes = mfa.confirm_enrolment(db, user_id, pyotp.TOTP(enrolment.secret).at(at), at=at)
    return enrolment.secret, codes


def _actions(db, user_id):
    with db.session(system=True) as s:
        return [a for a in s.scalars(select(AuditLog.action).where(AuditLog.user_id == user_id).order_by(AuditLog.id))
                if a.startswith("mfa.")]


def test_enrolment_shows_a_qr_code_and_keeps_the_secret_until_a_code_confirms_it(db):
    uid = _user_id(db)
    first = mfa.start_enrolment(db, uid)
    assert first.qr_data_uri.startswith("data:image/svg+xml") and first.uri.startswith("otpauth://totp/")
    assert "issuer=Podcast%20Analytics" in first.uri and len(first.secret) == 32
    assert mfa.start_enrolment(db, uid).secret == first.secret  # a reload shows the same code
    assert not mfa.is_enabled(db, uid)
    with pytest.raises(ValidationError, match="does not match"):
        mfa.confirm_enrolment(db, uid, pyotp.TOTP(first.secret).at(T0 - 300), at=T0)
    with pytest.raises(ValidationError, match="6-digit"):
        mfa.confirm_enrolment(db, uid, "12ab", at=T0)
    codes = mfa.confirm_enrolment(db, uid, pyotp.TOTP(first.secret).at(T0), at=T0)
    assert len(codes) == 10 == len(set(codes)) and mfa.status(db, uid).recovery_codes_left == 10
    assert mfa.is_enabled(db, uid) and _actions(db, uid) == ["mfa.enabled"]
    with db.session(system=True) as s:
        stored = list(s.scalars(select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.user_id == uid)))
    assert len(stored) == 10 and not set(codes) & set(stored)  # only hashes are kept
    with pytest.raises(Conflict):
        mfa.start_enrolment(db, uid)


def test_codes_of_the_neighbouring_steps_count_once_each_and_never_again(db):
    uid = _user_id(db)
    secret, _ = enrol(db, uid, at=T0 - 60)
    totp = pyotp.TOTP(secret)
    with pytest.raises(AuthenticationFailed):
        mfa.verify(db, uid, totp.at(T0 - 60), at=T0)  # two steps old
    assert mfa.verify(db, uid, totp.at(T0 - 30), at=T0) == "totp"  # one step early: accepted
    with pytest.raises(AuthenticationFailed, match="already used"):
        mfa.verify(db, uid, totp.at(T0 - 30), at=T0)  # the same code again: a replay
    assert mfa.verify(db, uid, totp.at(T0 + 30), at=T0) == "totp"  # one step ahead (clock drift)
    with pytest.raises(AuthenticationFailed):
        mfa.verify(db, uid, totp.at(T0), at=T0)  # an earlier step than the last accepted one
    with pytest.raises(AuthenticationFailed):
        mfa.verify(db, uid, totp.at(T0 + 90), at=T0)  # too far ahead


def test_enrolment_code_cannot_be_replayed_at_sign_in(db):
    uid = _user_id(db)
    secret, _ = enrol(db, uid)
    with pytest.raises(AuthenticationFailed):
        mfa.verify(db, uid, pyotp.TOTP(secret).at(T0), at=T0)


def test_a_recovery_code_signs_in_once(db):
    uid = _user_id(db)
    _, codes = enrol(db, uid)
    assert mfa.verify(db, uid, codes[0].upper().replace("-", " "), at=T0) == "recovery"  # typed loosely
    with pytest.raises(AuthenticationFailed):
        mfa.verify(db, uid, codes[0], at=T0)
    assert mfa.status(db, uid).recovery_codes_left == 9
    assert _actions(db, uid) == ["mfa.enabled", "mfa.recovery_code_used", "mfa.failed"]


def test_another_users_recovery_code_does_not_work(db):
    a, _ = _user_id(db), accounts.create_user(db, "b@demo.test", "demo", "viewer", password="password-1")
    b = _user_id(db, "b@demo.test")
    _, codes_a = enrol(db, a)
    enrol(db, b)
    with pytest.raises(AuthenticationFailed):
        mfa.verify(db, b, codes_a[0], at=T0)
    assert mfa.status(db, a).recovery_codes_left == 10


def test_wrong_codes_are_audited_and_lock_the_second_factor_for_a_while(db):
    uid = _user_id(db)
    secret, _ = enrol(db, uid)
    for _ in range(mfa.MAX_FAILURES):
        with pytest.raises(AuthenticationFailed, match="wrong"):
            mfa.verify(db, uid, "000000" if pyotp.TOTP(secret).at(T0 + 30) != "000000" else "111111", at=T0)
    with pytest.raises(AuthenticationFailed, match="too many"):
        mfa.verify(db, uid, pyotp.TOTP(secret).at(T0 + 30), at=T0)  # even the right code, while locked
    with db.session(system=True) as s:
        details = [d for d in s.scalars(select(AuditLog.detail).where(AuditLog.action == "mfa.failed"))]
    assert len(details) == mfa.MAX_FAILURES + 1 and details[-1] == {"reason": "locked"}


def test_turning_off_needs_a_code_or_the_password_and_changes_the_device_binding(db):
    uid = _user_id(db)
    secret, codes = enrol(db, uid)
    binding = mfa.device_binding(db, uid)
    assert binding is not None
    with pytest.raises(ValidationError, match="code or your password"):
        mfa.disable(db, uid)
    with pytest.raises(AuthenticationFailed, match="wrong password"):
        mfa.disable(db, uid, password="not-the-password")
    mfa.disable(db, uid, password="demo-password-123")
    assert not mfa.is_enabled(db, uid) and mfa.device_binding(db, uid) is None
    with db.session(system=True) as s:
        assert s.scalar(select(MfaRecoveryCode.id).where(MfaRecoveryCode.user_id == uid)) is None
    enrol(db, uid, at=T0 + 300)
    assert mfa.device_binding(db, uid) not in (None, binding)  # a device remembered before stays forgotten
    assert _actions(db, uid) == ["mfa.enabled", "mfa.failed", "mfa.disabled", "mfa.enabled"]


def test_new_recovery_codes_replace_the_old_ones(db):
    uid = _user_id(db)
    secret, old = enrol(db, uid)
    new = mfa.regenerate_recovery_codes(db, uid, code=pyotp.TOTP(secret).at(T0 + 30), at=T0)
    assert len(new) == 10 and not set(new) & set(old)
    with pytest.raises(AuthenticationFailed):
        mfa.verify(db, uid, old[1], at=T0)
    assert mfa.verify(db, uid, new[1], at=T0) == "recovery"


def _ctx(db, email, tenant="demo"):
    return accounts.resolve_context(db, _user_id(db, email), accounts.get_tenant_by_slug(db, tenant).id)


def test_only_an_owner_with_mfa_requires_it_and_only_for_their_tenant(db):
    demo_id = accounts.get_tenant_by_slug(db, "demo").id
    accounts.create_user(db, "admin@demo.test", "demo", "admin", password="password-1")
    accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "owner@acme.test", "acme", "owner", password="password-1")
    with pytest.raises(PermissionDenied):
        mfa.set_tenant_requirement(db, _ctx(db, "admin@demo.test"), True)
    with pytest.raises(ValidationError, match="your own account first"):
        mfa.set_tenant_requirement(db, _ctx(db, DEMO_EMAIL), True)
    enrol(db, _user_id(db, DEMO_EMAIL))
    assert mfa.set_tenant_requirement(db, _ctx(db, DEMO_EMAIL), True) is True
    viewer = accounts.create_user(db, "v@demo.test", "demo", "viewer", password="password-1")[0].id
    assert mfa.enrolment_required(db, viewer, demo_id) and not mfa.enrolment_required(db, _user_id(db), demo_id)
    acme_ctx = _ctx(db, "owner@acme.test", "acme")
    assert mfa.tenant_requirement(db, acme_ctx) is False  # acme sees its own setting, not demo's
    enrol(db, acme_ctx.user_id)
    mfa.set_tenant_requirement(db, acme_ctx, False)
    assert mfa.tenant_requirement(db, _ctx(db, DEMO_EMAIL)) is True  # acme's owner changed only acme
    forged = TenantContext(tenant_id=demo_id, role="viewer", user_id=acme_ctx.user_id)
    with pytest.raises(PermissionDenied):
        mfa.set_tenant_requirement(db, forged, False)
    with db.session(system=True) as s:
        rows = s.execute(select(AuditLog.tenant_id, AuditLog.detail).where(AuditLog.action == "tenant.mfa_required")).all()
    assert [(r.tenant_id, r.detail) for r in rows] == [(demo_id, {"required": True})]


def test_operators_reset_a_users_mfa_from_the_command_line(app, db):
    uid = _user_id(db)
    enrol(db, uid)
    binding = mfa.device_binding(db, uid)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reset-mfa", DEMO_EMAIL.upper()])
    assert result.exit_code == 0 and "off for demo@example.com" in result.output
    assert not mfa.is_enabled(db, uid) and mfa.status(db, uid).recovery_codes_left == 0 and binding
    assert _actions(db, uid) == ["mfa.enabled", "mfa.reset"]
    for args, message in ((["reset-mfa", DEMO_EMAIL], "not on"), (["reset-mfa", "nobody@x.test"], "no user")):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and message in result.output
