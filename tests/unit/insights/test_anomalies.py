"""The anomaly rules on hand-built series with known answers: drops and spikes found, a quiet series left alone,
launches judged against earlier launches, an app's share collapsing, a country spiking, import gaps, bot surges,
causes named on the show's anomaly; and the store: idempotent, returns only new anomalies."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from services import migrate
from services.db import Database
from services.insights import anomalies as rules
from services.insights.anomalies import Finding
from services.insights.anomaly_store import store_anomalies
from services.models import Anomaly, Tenant
from tests.unit.insights.series import day_of, split, weekly_series

FIRST_JUDGED = 70  # days 0..69 are history


def test_a_quiet_series_raises_no_alert():
    series = weekly_series(200)
    assert rules.show_findings(1, series, [], day_of(series, FIRST_JUDGED)) == []


@pytest.mark.parametrize("factor, kind", [(0.35, "drop"), (0.0, "drop"), (2.2, "spike")])
def test_an_injected_drop_or_spike_is_found_with_its_expected_value(factor, kind):
    series = weekly_series(120)
    at = 100
    normal = series.iloc[at]
    series.iloc[at] = round(normal * factor)
    found = rules.show_findings(1, series, [], day_of(series, FIRST_JUDGED))
    assert [(f.day, f.kind, f.dimension) for f in found] == [(day_of(series, at), kind, "downloads")]
    # expected: the median of the same weekday in the four weeks before, close to the day's usual level
    assert found[0].expected == pytest.approx(normal, rel=0.2)


def test_the_method_is_causal_later_days_do_not_move_an_earlier_finding():
    series = weekly_series(120)
    series.iloc[90] = 0
    short = rules.show_findings(1, series.iloc[:95], [], day_of(series, FIRST_JUDGED))
    long = rules.show_findings(1, series, [], day_of(series, FIRST_JUDGED))
    assert short == [f for f in long if f.day <= day_of(series, 94)]


def test_small_shows_are_not_alerted_on_counting_noise():
    series = weekly_series(120, level=6.0)
    series.iloc[100] = 0
    assert rules.show_findings(1, series, [], day_of(series, FIRST_JUDGED)) == []


def _with_launches(series: pd.Series, release_at: list[int], sizes: list[float]) -> pd.Series:
    series = series.copy()
    curve = [1.0, 0.6, 0.35, 0.2, 0.1]
    for at, size in zip(release_at, sizes):
        for k, share in enumerate(curve):
            series.iloc[at + k] += round(size * share)
    return series


def test_an_ordinary_launch_is_no_anomaly_but_a_launch_far_beyond_the_usual_is():
    releases = [5, 35, 65, 95, 125]
    base = weekly_series(160, level=30.0)
    usual = _with_launches(base, releases, [300] * 5)
    days = [day_of(base, i) for i in releases]
    assert rules.show_findings(1, usual, days, day_of(base, FIRST_JUDGED)) == []
    viral = _with_launches(base, releases, [300] * 4 + [1500])
    found = rules.show_findings(1, viral, days, day_of(base, FIRST_JUDGED))
    assert found and found[0].day == day_of(base, 125) and found[0].kind == "spike"
    assert found[0].expected >= 300  # judged against the earlier launches, not the quiet weekday


def test_a_launch_day_without_downloads_is_a_drop_though_its_weekday_is_quiet():
    releases = [5, 35, 65, 95, 125]
    base = weekly_series(160, level=10.0)
    series = _with_launches(base, releases, [300] * 5)
    series.iloc[126] = 0  # the day after the newest release: a broken enclosure
    found = rules.show_findings(1, series, [day_of(base, i) for i in releases], day_of(base, FIRST_JUDGED))
    assert [(f.day, f.kind) for f in found] == [(day_of(base, 126), "drop")]
    assert found[0].expected >= 150  # the usual second day of a launch


def test_an_apps_share_collapsing_is_found_and_named_on_the_shows_drop():
    total = weekly_series(120, level=400.0)
    apps = split(total, {"Apple Podcasts": 0.5, "Spotify": 0.35, "Overcast": 0.15})
    at = 100
    lost = apps.iloc[at]["Apple Podcasts"] * 0.9
    apps.iloc[at, 0] -= lost  # a broken feed in one app: its listeners are gone, the others are as usual
    total.iloc[at] -= lost
    first = day_of(total, FIRST_JUDGED)
    found = rules.breakdown_findings(7, apps, total, "app", first) + rules.show_findings(7, total, [], first)
    app = [f for f in found if f.dimension.startswith("app:")]
    assert [(f.dimension, f.kind, f.cause) for f in app] == [
        ("app:Apple Podcasts", "drop", "app_share_collapse:Apple Podcasts")]
    show = [f for f in rules.explain(found) if f.dimension == "downloads"]
    assert [(f.day, f.kind, f.cause) for f in show] == [(day_of(total, at), "drop", "app_share_collapse:Apple Podcasts")]


def test_a_country_spiking_is_found_and_named_on_the_shows_spike():
    total = weekly_series(120, level=300.0)
    countries = split(total, {"US": 0.6, "GB": 0.25, "BR": 0.15})
    at = 100
    countries.iloc[at, 2] += 500
    total.iloc[at] += 500
    first = day_of(total, FIRST_JUDGED)
    found = rules.explain(rules.breakdown_findings(7, countries, total, "country", first)
                          + rules.show_findings(7, total, [], first))
    assert {(f.dimension, f.kind, f.cause) for f in found} == {
        ("country:BR", "spike", "country_spike:BR"), ("downloads", "spike", "country_spike:BR")}
    # the others' shares fell that day, but their counts did not: those are not reported as drops of theirs
    assert not any(f.dimension in ("country:US", "country:GB") and f.kind == "drop" and f.cause for f in found)


def test_an_import_gap_is_found_and_named_on_the_shows_drop():
    requests = weekly_series(120, level=500.0)
    bots = weekly_series(120, level=30.0, seed=3)
    shows = weekly_series(120, level=200.0, seed=4)
    at = 100
    requests.iloc[at], bots.iloc[at], shows.iloc[at] = 0, 0, 0
    first = day_of(requests, FIRST_JUDGED)
    found = rules.explain(rules.network_findings(requests, bots, first) + rules.show_findings(3, shows, [], first))
    assert [(f.podcast_id, f.dimension, f.kind, f.cause) for f in found] == [
        (0, "requests", "gap", "import_gap"), (3, "downloads", "drop", "import_gap")]


def test_a_bot_surge_is_found_and_named_on_a_shows_spike_that_day():
    requests = weekly_series(120, level=500.0)
    bots = weekly_series(120, level=30.0, seed=3)
    shows = weekly_series(120, level=200.0, seed=4)
    at = 100
    bots.iloc[at] += 2000
    shows.iloc[at] += 300  # some of it slipped past the filters
    first = day_of(requests, FIRST_JUDGED)
    found = rules.explain(rules.network_findings(requests, bots, first) + rules.show_findings(3, shows, [], first))
    assert [(f.podcast_id, f.dimension, f.kind, f.cause) for f in found] == [
        (0, "bot_requests", "spike", "bot_surge"), (3, "downloads", "spike", "bot_surge")]


def test_a_bot_series_that_only_wobbles_is_no_surge():
    requests = weekly_series(120, level=500.0)
    bots = weekly_series(120, level=30.0, seed=3)
    bots.iloc[100] *= 1.6
    assert rules.network_findings(requests, bots, day_of(requests, FIRST_JUDGED)) == []


@pytest.fixture
def sqlite_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'insights.db'}"
    migrate.upgrade(url)
    db = Database(url)
    with db.session(system=True) as s:
        s.add_all([Tenant(slug="a", name="A"), Tenant(slug="b", name="B")])
        s.commit()
    yield db
    db.dispose()


def test_storing_is_idempotent_returns_only_new_anomalies_and_forgets_what_a_recount_removed(sqlite_db):
    day = weekly_series(10).index[5].date()
    drop = Finding(day, 1, "downloads", 10.0, 100.0, "drop")
    spike = Finding(day + timedelta(days=1), 1, "country:BR", 90.0, 5.0, "spike", "country_spike:BR")
    with sqlite_db.session(1) as s:
        assert store_anomalies(s, 1, day, day + timedelta(days=2), [drop, spike]) == [drop, spike]
        s.commit()
    with sqlite_db.session(1) as s:
        assert store_anomalies(s, 1, day, day + timedelta(days=2), [drop, spike]) == []
        s.commit()
    with sqlite_db.session(2) as s:  # another tenant's same series and day is its own row
        assert store_anomalies(s, 2, day, day, [drop]) == [drop]
        s.commit()
    with sqlite_db.session(1) as s:
        assert store_anomalies(s, 1, day, day + timedelta(days=2), [spike]) == []
        s.commit()
        rows = s.execute(select(Anomaly.tenant_id, Anomaly.dimension).order_by(Anomaly.tenant_id)).all()
    assert rows == [(1, "country:BR"), (2, "downloads")]


def test_no_recorded_days_flag_nothing():
    """A network whose per-day request counts were never recorded (downloads loaded before counting kept them)."""
    empty = pd.Series([], dtype=float, index=pd.DatetimeIndex([]))
    assert rules.network_findings(empty, empty, date(2026, 6, 1)) == []
    assert rules.flag_counts(pd.DataFrame(index=pd.DatetimeIndex([]), columns=["x"], dtype=float), 20).empty
