"""The demo network is deterministic and believable: release spikes, weekday rhythm, a mix of apps."""
from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import func, select, text

from services import accounts, demo
from services.models import Campaign, Episode, Placement, Podcast, Sponsor


def test_catalog_is_deterministic():
    a = demo.generate_catalog(date(2026, 1, 1))
    b = demo.generate_catalog(date(2026, 1, 1))
    pd.testing.assert_frame_equal(a, b)
    assert 140 <= len(a) <= 160


def test_demo_tenant_shape(db):
    tenant = accounts.get_tenant_by_slug(db, demo.DEMO_SLUG)
    assert tenant.name == "Demo Network"
    with db.session(tenant.id) as s:
        assert s.scalar(select(func.count(Podcast.id))) == 3
        assert 140 <= s.scalar(select(func.count(Episode.id))) <= 160
        assert s.scalar(select(func.count(Sponsor.id))) == 2
        assert s.scalar(select(func.count(Campaign.id))) == 3
        assert s.scalar(select(func.count(Placement.id))) >= 3
        first = s.scalar(select(func.min(Episode.published_at)))
        span = datetime.now(timezone.utc) - first.replace(tzinfo=timezone.utc)
        assert 700 <= span.days <= 731
        rows = s.execute(text("SELECT d.ts, e.published_at, d.app, d.country FROM downloads d "
                              "JOIN episodes e ON e.id = d.episode_id")).all()
    frame = pd.DataFrame(rows, columns=["ts", "published", "app", "country"])
    ts = pd.to_datetime(frame.ts, utc=True, format="mixed")
    age_days = (ts - pd.to_datetime(frame.published, utc=True, format="mixed")).dt.days
    assert (age_days >= 0).all()
    assert (age_days < 7).mean() > 0.4  # release spike
    weekday = ts.dt.day_of_week.value_counts(normalize=True)
    assert weekday[[0, 1, 2]].mean() > weekday[[5, 6]].mean()  # weekday rhythm
    assert frame.app.nunique() >= 8 and frame.country.nunique() >= 10
    assert frame.app.value_counts(normalize=True).iloc[0] < 0.6


def test_seeding_twice_changes_nothing(db):
    result = demo.seed_demo(db)
    assert result["created"] is False


def _conversion_frames(s):
    events = pd.DataFrame(s.execute(text(
        "SELECT ts, sponsor_id, campaign_id, source, type, household_key, household_key_prev, value, promo_code "
        "FROM attribution_events")).all(), columns=["ts", "sponsor_id", "campaign_id", "source", "type",
                                                    "household_key", "household_key_prev", "value", "promo_code"])
    exposures = pd.DataFrame(s.execute(text(
        "SELECT d.household_key, d.ts, c.sponsor_id FROM downloads d JOIN placements p ON p.podcast_id = d.podcast_id "
        "JOIN campaigns c ON c.id = p.campaign_id WHERE d.household_key IS NOT NULL "
        "AND date(d.ts) >= p.start_date AND date(d.ts) <= p.end_date")).all(),
        columns=["household_key", "ts", "sponsor_id"])
    for frame in (events, exposures):
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="mixed")
    return events, exposures


def test_demo_sponsors_have_conversions_of_exposed_and_unexposed_households(db):
    tenant = accounts.get_tenant_by_slug(db, demo.DEMO_SLUG)
    with db.session(tenant.id) as s:
        events, exposures = _conversion_frames(s)
        ledger = s.scalar(text("SELECT count(*) FROM attribution_event_ids WHERE tenant_id = :t"), {"t": tenant.id})
        codes = dict(s.execute(select(Campaign.id, Campaign.promo_code)).all())
        links = s.scalar(text("SELECT count(*) FROM tracking_links"))
    conversions = events[events["type"] != "click"]
    assert len(conversions) >= 200 and ledger == len(events)  # stored through the inputs' ledger
    assert set(conversions["type"]) == {"purchase", "signup", "lead"}
    assert (conversions["type"] == "purchase").mean() > 0.6
    purchases = conversions[conversions["type"] == "purchase"]
    assert purchases["value"].notna().all() and (purchases["value"].astype(float) > 0).all()
    assert conversions["household_key"].notna().all()

    first_exposure = exposures.groupby(["household_key", "sponsor_id"])["ts"].min()
    lags = []
    for row in conversions.itertuples():
        seen = [first_exposure.get((key, row.sponsor_id)) for key in (row.household_key, row.household_key_prev)]
        seen = [t for t in seen if t is not None and t <= row.ts]
        lags.append((row.ts - min(seen)).total_seconds() / 86400 if seen else None)
    lags = pd.Series(lags, dtype=float)
    exposed = lags.notna()
    assert 0.55 < exposed.mean() < 0.9  # most converters heard the ad; some never did (the control's converters)
    assert (lags[exposed] >= 0).all() and lags[exposed].median() < 10  # a decaying lag after exposure

    promo = conversions[conversions["promo_code"].notna()]
    assert len(promo) >= 5
    assert all(code == codes[campaign] for code, campaign in zip(promo["promo_code"], promo["campaign_id"]))
    clicks = events[events["source"] == "link"]
    assert links >= 1 and len(clicks) >= 20 and clicks["campaign_id"].notna().all()
    assert (clicks["type"] == "click").all()


def test_demo_downloads_carry_the_household_key_of_their_listeners_address(db):
    """A demo listener's address gives, under the secret of its download's epoch, the key its download carries:
    the key its household's conversions carry."""
    from services.demo_traffic import listener_profiles
    from services.sponsorship.attribution import households

    tenant = accounts.get_tenant_by_slug(db, demo.DEMO_SLUG)
    profile = listener_profiles(0, demo.SHOWS[0].audience).set_index("listener_key")
    with db.session(tenant.id) as s:
        podcast_id = s.scalar(select(Podcast.id).order_by(Podcast.id))
        rows = s.execute(text("SELECT listener_key, ts, household_key FROM downloads WHERE podcast_id = :p "
                              "AND household_key IS NOT NULL ORDER BY ts DESC LIMIT 200"), {"p": podcast_id}).all()
    with db.session(system=True) as s:
        for key, ts, household in rows:
            at = pd.Timestamp(ts, tz="UTC").to_pydatetime() if pd.Timestamp(ts).tz is None else ts
            assert households.household_key(s, profile.loc[key, "ip"], at) == household
    assert len(rows) == 200 and len({r.household_key for r in rows}) > 50
    assert any(":" in ip for ip in profile["ip"]) and any("." in ip for ip in profile["ip"])


def test_the_demo_is_attributed_on_first_start_with_a_measurable_lift(db):
    """The seed attributes its campaigns, and its first campaign's exposed households convert measurably above the
    unexposed listeners of the same shows, so the Attribution section shows a lift with an interval, not a shrug."""
    from services.sponsorship.attribution import report
    from services.tenancy import TenantContext

    tenant = accounts.get_tenant_by_slug(db, demo.DEMO_SLUG)
    with db.session(tenant.id) as s:
        first = s.scalar(text("SELECT min(campaign_id) FROM attribution_runs WHERE status = 'finished'"))
    summary = report.attribution_report(db, TenantContext(tenant.id, "owner"), first).summary
    lift = summary["lift"]
    assert summary["conversions"] > 100 and summary["roas"] > 0
    assert lift["enough_data"] and lift["control_converters"] >= 5
    assert 0 < lift["ci_low"] < lift["lift"] < lift["ci_high"]
