"""Episodes grid, launch curves, episode and audience breakdowns, the heatmap and the streamed CSV equal an
independent pandas computation over the counted downloads."""
import io
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from services.dashboards import audience, episodes, exports
from services.dashboards.periods import ViewState, resolve_period

FILL = {"app": "unknown", "device": "unknown", "os": "unknown", "referrer": "unknown", "country": "ZZ", "region": ""}


def _in(frame, first, last, column="day"):
    return frame[(frame[column] >= first) & (frame[column] <= last)]


@pytest.mark.parametrize("query", ["?range=all", "?range=90d", "?range=12m&podcast=2"])
def test_episode_grid_matches_downloads(demo_db, demo_ctx, downloads, episodes_frame, today, query):
    state = ViewState.from_query(query)
    grid = episodes.episode_grid(demo_db, demo_ctx, state, today=today).set_index("episode_id")
    period = resolve_period(state, today, min(downloads.day))
    listed = episodes_frame if state.range == "all" else _in(episodes_frame, period.first, period.last, "released")
    if state.podcast:
        listed = listed[listed.podcast_id == state.podcast]
    assert set(grid.index) == set(listed["episode_id"]) and len(listed) > 5
    assert list(grid["released"]) == sorted(grid["released"], reverse=True)  # newest first
    checked = 0
    for e in listed.itertuples():
        mine = downloads[downloads.episode_id == e.episode_id]
        row = grid.loc[e.episode_id]
        assert row["downloads_all_time"] == len(mine)
        assert row["listeners_all_time"] == mine.groupby("day").listener_key.nunique().sum()
        assert row["downloads_in_range"] == len(_in(mine, period.first, period.last))
        for n in (1, 3, 7, 30):
            if e.released + timedelta(days=n) > today:
                assert pd.isna(row[f"downloads_{n}d"])
            else:
                assert row[f"downloads_{n}d"] == ((mine.day >= e.released) & (mine.day < e.released + timedelta(days=n))).sum()
        launch = mine[(mine.day >= e.released) & (mine.day < e.released + timedelta(days=7))]
        apps = launch["app"].fillna("unknown").value_counts()
        if len(apps):
            top = sorted(apps[apps == apps.max()].index)[0]
            assert row["top_app"] == top
            checked += 1
        assert row["episode"] == e.title and row["podcast"] == e.podcast and row["released"] == e.released
    assert checked > 5


def test_launch_curves_match_downloads(demo_db, demo_ctx, downloads, episodes_frame, today):
    latest = episodes_frame.sort_values("published_at").iloc[-5]
    other_show = episodes_frame[episodes_frame.podcast_id != latest.podcast_id].iloc[0]
    frame = episodes.launch_curves(demo_db, demo_ctx, int(latest.episode_id), (int(other_show.episode_id),), today=today)

    def curve(e) -> pd.Series:
        mine = downloads[downloads.episode_id == e.episode_id]
        age = min((today - e.released).days + 1, 60)
        days = [(d - e.released).days + 1 for d in mine.day]
        counts = pd.Series(days).value_counts().reindex(range(1, 61), fill_value=0).cumsum().astype(float)
        return counts.where(counts.index <= age)

    for e in (latest, other_show):
        got = frame[(frame.kind == "episode") & (frame.episode_id == e.episode_id)].set_index("day")["downloads"]
        expected = curve(e).dropna()
        assert got.to_dict() == expected.to_dict() and len(got) > 0
    show = episodes_frame[(episodes_frame.podcast_id == latest.podcast_id)]
    curves = pd.DataFrame({e.episode_id: curve(e) for e in show.itertuples()}).T
    median = frame[frame.kind == "median"].set_index("day")["downloads"]
    average = frame[frame.kind == "average"].set_index("day")["downloads"]
    assert np.allclose(median.to_numpy(), curves.median(skipna=True).round(1).to_numpy())
    assert np.allclose(average.to_numpy(), curves.mean(skipna=True).round(1).to_numpy())
    best = frame[frame.kind == "best"]
    best_id = curves.ffill(axis=1).iloc[:, -1].idxmax()
    assert set(best["episode_id"]) == {best_id}
    assert best.set_index("day")["downloads"].to_dict() == curves.loc[best_id].dropna().to_dict()


@pytest.mark.parametrize("dimension", ["app", "device", "country"])
def test_episode_breakdown_matches_downloads(demo_db, demo_ctx, downloads, today, dimension):
    episode_id = int(downloads.groupby("episode_id").size().idxmax())
    state = ViewState(range="all")
    frame = episodes.episode_breakdown(demo_db, demo_ctx, episode_id, dimension, state, today=today)
    mine = downloads[downloads.episode_id == episode_id].assign(k=lambda f: f[dimension].fillna(FILL[dimension]))
    assert dict(zip(frame[dimension], frame["downloads"])) == mine.groupby("k").size().to_dict()
    listeners = mine.groupby(["day", "k"]).listener_key.nunique().groupby("k").sum()
    assert dict(zip(frame[dimension], frame["listeners"])) == listeners.to_dict()
    assert list(frame["downloads"]) == sorted(frame["downloads"], reverse=True)


@pytest.mark.parametrize("dimension", ["country", "app", "device", "os", "referrer"])
def test_audience_breakdowns_match_downloads(demo_db, demo_ctx, downloads, today, dimension):
    state = ViewState(range="90d", podcast=1)
    period = resolve_period(state, today)
    window = _in(downloads[downloads.podcast_id == 1], period.first, period.last)
    frame = audience.breakdown(demo_db, demo_ctx, state, dimension, today=today)
    expected = window[dimension].fillna(FILL[dimension]).value_counts()
    assert dict(zip(frame[dimension], frame["downloads"])) == expected.to_dict()


def test_regions_of_one_country(demo_db, demo_ctx, downloads, today):
    state = ViewState(range="90d", country="US")
    period = resolve_period(state, today)
    window = _in(downloads, period.first, period.last)
    frame = audience.breakdown(demo_db, demo_ctx, state, "region", today=today)
    expected = window[window.country == "US"]["region"].fillna("").value_counts()
    assert dict(zip(frame["region"], frame["downloads"])) == expected.to_dict() and len(frame) > 3


def test_weekday_hour_matches_downloads(demo_db, demo_ctx, downloads, today):
    state = ViewState(range="30d")
    period = resolve_period(state, today)
    frame = audience.weekday_hour(demo_db, demo_ctx, state, today=today)
    assert len(frame) == 168 and frame.attrs["timezone"] == "UTC"
    window = _in(downloads, period.first, period.last)
    expected = window.groupby([window.ts.dt.day_of_week, window.ts.dt.hour]).size()
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    got = {(names.index(r.weekday), r.hour): r.downloads for r in frame.itertuples() if r.downloads}
    assert got == expected.to_dict()


def test_streamed_episode_days_csv_matches_downloads(demo_db, demo_ctx, downloads, today):
    state = ViewState(range="all")
    chunks = list(exports.episode_days_csv(demo_db, demo_ctx, state, today=today, chunk_rows=500))
    assert len(chunks) > 3  # header + several chunks: streamed, not one string
    frame = pd.read_csv(io.StringIO("".join(chunks)))
    assert list(frame.columns) == exports.EPISODE_DAY_COLUMNS
    expected = downloads.groupby(["day", "episode_id"]).size()
    got = frame.assign(day=pd.to_datetime(frame["day"]).dt.date).set_index(["day", "episode_id"])["downloads"]
    assert got.to_dict() == expected.to_dict()


def test_streamed_grid_csv_is_the_grid(demo_db, demo_ctx, today):
    state = ViewState(range="30d")
    text = "".join(exports.episode_grid_csv(demo_db, demo_ctx, state, today=today, chunk_rows=40))
    grid = episodes.episode_grid(demo_db, demo_ctx, state, today=today)
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(text)), pd.read_csv(io.StringIO(grid.to_csv(index=False))))
