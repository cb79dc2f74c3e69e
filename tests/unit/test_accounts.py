"""Tenants, users, memberships and password login."""
import pytest

from services import accounts, migrate
from services.db import Database
from services.errors import AuthenticationFailed, Conflict, NotFound, ValidationError


@pytest.fixture
def empty_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate.upgrade(url)
    db = Database(url)
    yield db
    db.dispose()


def test_create_tenant_and_user_then_login(empty_db):
    tenant = accounts.create_tenant(empty_db, "acme", "Acme Audio")
    user, generated = accounts.create_user(empty_db, "Owner@Acme.test", "acme", "owner", password="s3cret-pass")
    assert generated is None and user.email == "owner@acme.test"
    assert user.password_hash.startswith("$argon2")
    logged_in = accounts.authenticate(empty_db, "owner@acme.test", "s3cret-pass")
    ctx = accounts.resolve_context(empty_db, logged_in.id)
    assert (ctx.tenant_id, ctx.role, ctx.tenant_slug, ctx.tenant_name) == (tenant.id, "owner", "acme", "Acme Audio")


def test_generated_password_works(empty_db):
    accounts.create_tenant(empty_db, "acme", "Acme")
    _, generated = accounts.create_user(empty_db, "v@acme.test", "acme", "viewer")
    assert generated and accounts.authenticate(empty_db, "v@acme.test", generated)


def test_wrong_password_and_unknown_email_fail_alike(empty_db):
    accounts.create_tenant(empty_db, "acme", "Acme")
    accounts.create_user(empty_db, "o@acme.test", "acme", "owner", password="right-password")
    for email, password in [("o@acme.test", "wrong-password"), ("nobody@acme.test", "right-password")]:
        with pytest.raises(AuthenticationFailed, match="wrong email or password"):
            accounts.authenticate(empty_db, email, password)


@pytest.mark.parametrize("slug,name", [("Bad Slug", "x"), ("-x", "x"), ("", "x"), ("ok", "  ")])
def test_bad_tenant_input(empty_db, slug, name):
    with pytest.raises(ValidationError):
        accounts.create_tenant(empty_db, slug, name)


def test_duplicates_conflict(empty_db):
    accounts.create_tenant(empty_db, "acme", "Acme")
    with pytest.raises(Conflict):
        accounts.create_tenant(empty_db, "acme", "Acme again")
    accounts.create_user(empty_db, "o@acme.test", "acme", "owner", password="password-1")
    with pytest.raises(Conflict):
        accounts.create_user(empty_db, "o@acme.test", "acme", "viewer", password="password-1")


def test_bad_user_input(empty_db):
    accounts.create_tenant(empty_db, "acme", "Acme")
    with pytest.raises(ValidationError):
        accounts.create_user(empty_db, "not-an-email", "acme", "owner")
    with pytest.raises(ValidationError):
        accounts.create_user(empty_db, "a@acme.test", "acme", "emperor")
    with pytest.raises(ValidationError):
        accounts.create_user(empty_db, "a@acme.test", "acme", "sponsor")  # sponsor users need a sponsor
    with pytest.raises(ValidationError):
        accounts.create_user(empty_db, "a@acme.test", "acme", "owner", password="short")
    with pytest.raises(NotFound):
        accounts.create_user(empty_db, "a@acme.test", "nope", "owner")


def test_user_in_two_tenants_picks_the_one_asked(empty_db):
    a = accounts.create_tenant(empty_db, "a", "Alpha")
    b = accounts.create_tenant(empty_db, "b", "Beta")
    user, _ = accounts.create_user(empty_db, "u@x.test", "a", "viewer", password="password-1")
    accounts.create_user(empty_db, "u@x.test", "b", "admin")
    assert accounts.resolve_context(empty_db, user.id, b.id).role == "admin"
    assert accounts.resolve_context(empty_db, user.id, a.id).role == "viewer"
    assert accounts.resolve_context(empty_db, user.id, 999).tenant_id == a.id  # not a member: first tenant
