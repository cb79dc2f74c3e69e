"""Counting against the database: every request a download or a reason, idempotent recounts across dedupe
windows, and slabs planned by days and rows."""
from services.measurement import counting


def test_every_request_is_a_download_or_a_reason(db):
    from datetime import date, timedelta

    from services import accounts

    tenant = accounts.get_tenant_by_slug(db, "demo")
    report = counting.count_downloads(db, tenant.id, date.today() - timedelta(days=20), date.today())
    assert report.requests == report.downloads + sum(report.dropped.values()) > 0
    assert report.dropped["duplicate within the dedupe window"] > 0 and report.dropped["bytes=0-1 probe only"] > 0


def test_changing_the_window_and_recounting(db):
    from datetime import date, timedelta

    from sqlalchemy import text

    from services import accounts

    tenant = accounts.get_tenant_by_slug(db, "demo")
    first, last = date.today() - timedelta(days=30), date.today()

    def total():
        with db.session(tenant.id) as s:
            return s.scalar(text("SELECT sum(downloads) FROM tenant_podcast_daily_metrics WHERE day >= :d"),
                            {"d": first.isoformat()})

    results = {}
    for window in ("calendar", "first-touch", "last-touch", "calendar"):
        accounts.configure_tenant(db, "demo", dedupe_window=window)
        counting.count_downloads(db, tenant.id, first, last)
        results.setdefault(window, []).append(total())
    assert results["calendar"][0] == results["calendar"][1]  # back to the same numbers: recounts are idempotent
    assert results["last-touch"][0] <= results["first-touch"][0] <= results["calendar"][0]


def test_slabs_split_by_days_and_rows():
    from datetime import date, timedelta

    first = date(2026, 1, 1)
    days = [first + timedelta(days=i) for i in range(10)]
    per_day = {d: 100 for d in days}
    per_day[days[4]] = 1000  # a busy day alone exceeds the row bound: a slab of its own
    slabs = counting.plan_slabs(per_day, days[0], days[-1], max_rows=250, max_days=3)
    assert slabs == [(days[0], days[1]), (days[2], days[3]), (days[4], days[4]), (days[5], days[6]),
                     (days[7], days[8]), (days[9], days[9])]
    assert counting.plan_slabs({}, days[0], days[-1], max_rows=250, max_days=4) == [
        (days[0], days[3]), (days[4], days[7]), (days[8], days[9])]
    assert counting.plan_slabs(per_day, days[3], days[3]) == [(days[3], days[3])]


def test_the_first_slab_is_found_as_plan_slabs_finds_it(db, monkeypatch):
    """The first slab, found from the time of the request that would overfill it, is plan_slabs' first slab (its
    ramp included) over every day's requests, for row bounds small and large and day bounds that cut it short."""
    from datetime import date, timedelta

    from services import accounts

    tenant = accounts.get_tenant_by_slug(db, "demo")
    first, last = date.today() - timedelta(days=40), date.today()
    with db.session(tenant.id) as s:
        per_day = counting._requests_per_day(s, tenant.id, first, last)
        assert len(per_day) > 20 and min(per_day.values()) > 0  # the demo's traffic: days enough to split
        for rows in (1, 50, 400, 3_000, 10**9):
            for days in (1, 5, 31):
                monkeypatch.setattr(counting, "SLAB_ROWS", rows)
                monkeypatch.setattr(counting, "SLAB_DAYS", days)
                expected = counting.plan_slabs(per_day, first, last, ramp=counting.RAMP_SLABS)[0]
                assert counting._first_slab(s, tenant.id, first, last) == expected, (rows, days)
