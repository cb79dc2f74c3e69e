"""Household keys: one /64 is one household, epochs rotate the key, a conversion's previous-epoch key meets the key
an exposure of the previous epoch got; expired secrets go and are never made again."""
from datetime import date, datetime, timedelta, timezone

from services.models import HouseholdSecret
from services.sponsorship.attribution import households as hh

TODAY = date(2026, 6, 15)


def test_same_slash_64_same_key_other_epoch_other_key(db):
    with db.session(system=True) as s:
        at = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
        a = hh.household_key(s, "2001:db8:1:2:aaaa::1", at, TODAY)
        b = hh.household_key(s, "2001:db8:1:2:ffff:1:2:3", at, TODAY)
        other_net = hh.household_key(s, "2001:db8:1:3::1", at, TODAY)
        later = at + timedelta(days=hh.EPOCH_DAYS)
        next_epoch = hh.household_key(s, "2001:db8:1:2:aaaa::1", later, later.date())
        s.commit()
    assert a == b and a != other_net and len(a) == 32
    assert next_epoch != a


def test_previous_epoch_key_equals_the_key_of_an_exposure_last_epoch(db):
    exposure_at = datetime(2026, 5, 20, 9, tzinfo=timezone.utc)
    conversion_at = exposure_at + timedelta(days=30)
    assert hh.epoch_of(conversion_at) == hh.epoch_of(exposure_at) + 1  # the two straddle a rotation
    with db.session(system=True) as s:
        exposure_key = hh.household_key(s, "203.0.113.50", exposure_at, TODAY)
        keys = hh.HouseholdHasher(s, TODAY).keys("203.0.113.50", conversion_at)
    assert keys.previous == exposure_key and keys.current != exposure_key


def test_expired_secrets_are_purged_and_not_recreated(db):
    today = date(2026, 6, 15)
    old_epoch = hh.epoch_of(today) - 3
    with db.session(system=True) as s:
        s.add(HouseholdSecret(epoch=old_epoch, secret="00" * 32))
        s.commit()
        assert hh.is_expired(old_epoch, today) and not hh.is_expired(hh.epoch_of(today) - 1, today)
        assert hh.epoch_secret(s, hh.epoch_of(today) - 1, today) is not None
        assert hh.purge_expired_secrets(s, today) == 1
        assert hh.epoch_secret(s, old_epoch, today) is None
        assert s.get(HouseholdSecret, old_epoch) is None


def test_the_daily_retention_job_purges_expired_household_secrets(app, db):
    from jobs.measure import purge_expired

    with db.session(system=True) as s:
        s.add(HouseholdSecret(epoch=1, secret="00" * 32))  # 1970: long expired
        s.commit()
    assert purge_expired()["household_secrets"] == 1
    with db.session(system=True) as s:
        assert s.get(HouseholdSecret, 1) is None
