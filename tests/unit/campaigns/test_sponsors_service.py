"""Sponsors: create, edit and archive with per-field validation; invite a sponsor's user who then sees only that
sponsor; who may do what."""
import pytest

from services import accounts
from services.sponsorship import sponsors
from services.errors import Conflict, NotFound, PermissionDenied, ValidationError


def test_create_edit_archive_restore(network):
    editor = network.ctx("editor")
    row = sponsors.create_sponsor(network.db, editor, {"name": " Blue Bottle ", "industry": "Food & Beverage",
                                                       "website": "https://bluebottle.example", "contact_email": ""})
    assert (row.name, row.website, row.contact_email, row.archived) == ("Blue Bottle", "https://bluebottle.example",
                                                                         None, False)
    row = sponsors.update_sponsor(network.db, editor, row.id, {"industry": "Coffee", "contact_name": "Ana"})
    assert (row.industry, row.contact_name, row.name) == ("Coffee", "Ana", "Blue Bottle")
    assert sponsors.archive_sponsor(network.db, editor, row.id).archived
    assert row.id not in [s.id for s in sponsors.list_sponsors(network.db, editor, include_archived=False)]
    assert not sponsors.archive_sponsor(network.db, editor, row.id, archived=False).archived


@pytest.mark.parametrize("data,field,message", [
    ({"name": ""}, "name", "required"),
    ({"name": "x" * 201}, "name", "at most 200"),
    ({"name": "Ok", "website": "ftp://x.example"}, "website", "http"),
    ({"name": "Ok", "contact_email": "not-an-email"}, "contact_email", "not an email"),
    ({"name": "Ok", "industry": ["a"]}, "industry", "text"),
    ({"name": "Ok", "logo": "x"}, "logo", "unknown field"),
    ({"name": "acme tea"}, "name", "another sponsor has this name"),
])
def test_bad_sponsor_fields_are_named(network, data, field, message):
    with pytest.raises(ValidationError) as caught:
        sponsors.create_sponsor(network.db, network.ctx("editor"), data)
    assert message in caught.value.fields[field]


@pytest.mark.parametrize("role,sponsor", [("viewer", None), ("sponsor", "coffee")])
def test_viewers_and_sponsors_manage_nothing(network, role, sponsor):
    ctx = network.ctx(role, sponsor)
    with pytest.raises(PermissionDenied):
        sponsors.create_sponsor(network.db, ctx, {"name": "New"})
    with pytest.raises(PermissionDenied):
        sponsors.update_sponsor(network.db, ctx, network.sponsors["coffee"], {"name": "Renamed"})
    with pytest.raises(PermissionDenied):
        sponsors.archive_sponsor(network.db, ctx, network.sponsors["coffee"])
    with pytest.raises(PermissionDenied):
        sponsors.invite_sponsor_user(network.db, ctx, network.sponsors["coffee"], "x@y.test")


def test_sponsor_user_sees_only_its_own_sponsor_and_no_directory(network):
    mine = sponsors.list_sponsors(network.db, network.ctx("sponsor", "coffee"))
    assert [s.name for s in mine] == ["Northwind Coffee"]
    with pytest.raises(NotFound):
        sponsors.get_sponsor(network.db, network.ctx("sponsor", "coffee"), network.sponsors["tea"])
    with pytest.raises(PermissionDenied):
        sponsors.sponsor_directory(network.db, network.ctx("sponsor", "coffee"))
    with pytest.raises(NotFound):
        sponsors.update_sponsor(network.db, network.other("owner"), network.sponsors["tea"], {"name": "x"})


def test_invite_creates_a_sponsor_login_once(network):
    admin = network.ctx("admin")
    with pytest.raises(PermissionDenied):
        sponsors.invite_sponsor_user(network.db, network.ctx("editor"), network.sponsors["tea"], "buyer@tea.test")
    invitation = sponsors.invite_sponsor_user(network.db, admin, network.sponsors["tea"], " Buyer@Tea.test ")
    assert invitation.email == "buyer@tea.test" and len(invitation.password) >= 12
    user = accounts.authenticate(network.db, "buyer@tea.test", invitation.password)
    ctx = accounts.resolve_context(network.db, user.id)
    assert ctx.role == "sponsor" and ctx.sponsor_id == network.sponsors["tea"]
    with pytest.raises(Conflict):
        sponsors.invite_sponsor_user(network.db, admin, network.sponsors["tea"], "buyer@tea.test")
    entry = next(e for e in sponsors.sponsor_directory(network.db, admin) if e.sponsor.id == network.sponsors["tea"])
    assert entry.users == ["buyer@tea.test"]


def test_invite_an_existing_user_shows_no_password_and_bad_input_is_named(network):
    accounts.create_user(network.db, "known@x.test", "other", "viewer", password="password-1")
    invitation = sponsors.invite_sponsor_user(network.db, network.ctx("owner"), network.sponsors["vpn"], "known@x.test")
    assert invitation.password is None
    with pytest.raises(ValidationError) as caught:
        sponsors.invite_sponsor_user(network.db, network.ctx("owner"), network.sponsors["vpn"], "nope")
    assert caught.value.fields == {"email": "not an email address"}
    sponsors.archive_sponsor(network.db, network.ctx("owner"), network.sponsors["vpn"])
    with pytest.raises(ValidationError):
        sponsors.invite_sponsor_user(network.db, network.ctx("owner"), network.sponsors["vpn"], "late@x.test")
