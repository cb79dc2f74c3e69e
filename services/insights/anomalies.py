"""Anomaly rules on daily series: what a day should have been, how far off it may be, and which known cause the data
shows. Pure functions on pandas frames (one column per series, one row per UTC day, every day present).

The method, stated: a day's expected value is the median of the same weekday in the previous WEEKS weeks (podcast
listening has a strong weekly rhythm, and a median ignores one odd week); its scale is the median absolute
deviation of the previous SCALE_DAYS days' residuals (x 1.4826, a standard deviation for normal noise), floored
by counting noise. Counts are judged on a log scale (log 1 + count), shares as they are. A day is an anomaly when it is more than THRESHOLD scales off expected, at least MIN_CHANGE
off in relative terms, and big enough to matter (MIN_COUNT). Judging each day against its past only means a stored
anomaly does not move when later days arrive.

A show's downloads are judged on counts; in the LAUNCH_DAYS days from a release, a spike is judged against the
show's previous launches instead (the median of its last WEEKS releases on the same day after release): an anomaly
only past LAUNCH_FACTOR times that (a new episode is no anomaly; a launch far beyond the show's usual is). An app's
or a country's are judged on its share of the show's downloads, so a release lifting every app is not a spike,
and an app whose share collapses (a broken feed in one app) or a country that jumps stands out."""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

WEEKS = 4
SCALE_DAYS = 28
HISTORY_DAYS = WEEKS * 7 + SCALE_DAYS + 7  # days read before the first day judged
LAUNCH_DAYS = 7
LAUNCH_FACTOR = 2.5
LAUNCH_HISTORY_DAYS = 200  # a show's downloads and releases read before the first day judged: its last launches
MAD_TO_SD = 1.4826
THRESHOLD = 4.0
MIN_CHANGE = 0.3
MIN_COUNT = {"downloads": 20, "app": 15, "country": 15, "requests": 20, "bot_requests": 50}
BOT_MIN_CHANGE = 1.0  # bot-filtered requests vary a lot: only a doubling is a surge

# Known causes, stored as "<code>" or "<code>:<detail>".
IMPORT_GAP = "import_gap"
BOT_SURGE = "bot_surge"
APP_SHARE_COLLAPSE = "app_share_collapse"
COUNTRY_SPIKE = "country_spike"


@dataclass(frozen=True)
class Finding:
    """One anomalous day of one series (podcast_id 0: the whole network)."""

    day: date
    podcast_id: int
    dimension: str  # downloads | app:<name> | country:<XX> | requests | bot_requests
    value: float
    expected: float
    kind: str  # spike | drop | gap
    cause: str | None = None

    @property
    def key(self) -> tuple[int, str, date]:
        return self.podcast_id, self.dimension, self.day

    def as_dict(self) -> dict:
        return asdict(self)


def expected_values(frame: pd.DataFrame) -> pd.DataFrame:
    """The median of the same weekday in the previous WEEKS weeks; with fewer than two of them known (a show's launch
    weeks are left out), the median of the known days of the previous two weeks."""
    if frame.empty:  # no day at all (e.g. no per-day request counts recorded yet): nothing is expected
        return frame.astype(float)
    lagged = np.stack([frame.shift(7 * w).to_numpy(dtype=float) for w in range(1, WEEKS + 1)])
    counts = (~np.isnan(lagged)).sum(axis=0)
    with warnings.catch_warnings():  # a day without two earlier weeks is NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(np.where(counts >= 2, lagged, np.nan), axis=0) if lagged.size else lagged
    weekday = pd.DataFrame(median, index=frame.index, columns=frame.columns)
    recent = frame.shift(1).rolling(14, min_periods=4).median()
    return weekday.fillna(recent)


def robust_scale(frame: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """MAD of the previous SCALE_DAYS days' residuals, as a standard deviation."""
    residual = (frame - expected).abs()
    return residual.shift(1).rolling(SCALE_DAYS, min_periods=SCALE_DAYS // 4).median() * MAD_TO_SD


def flag_counts(frame: pd.DataFrame, min_count: float, min_change: float = MIN_CHANGE) -> pd.DataFrame:
    """Judge count series: columns value, expected, kind for each flagged (day, series), in day order.

    Judged on log(1 + count): listening varies by factors (a show between releases, a holiday), so a drop to a
    third is as unusual on a big show as on a small one, and a show whose level swings with its releases still
    shows a day at zero. Counting noise floors the scale at Poisson's 1/sqrt(expected) (and 0.05)."""
    logs = np.log1p(frame.clip(lower=0))
    expected = expected_values(logs)
    floor = np.maximum(1.0 / np.sqrt(np.expm1(expected).clip(lower=1.0)), 0.05)
    scale = np.maximum(robust_scale(logs, expected), floor)
    return _flagged(logs, expected, scale, frame, np.expm1(expected), min_count, min_change)


def flag_shares(counts: pd.DataFrame, totals: pd.Series, min_count: float) -> pd.DataFrame:
    """Judge each column's share of `totals`. Sampling noise floors the scale at sqrt(p(1-p)/total). A share moves
    when another part moves (one app collapsing lifts the others' shares), so a share anomaly counts only when the
    part's own count moved the same way by MIN_CHANGE against its usual (same-weekday median) count; value and
    expected come back as that count and that usual count."""
    total = totals.reindex(counts.index).astype(float)
    shares = counts.div(total.where(total > 0), axis=0)
    expected = expected_values(shares)
    n = total.clip(lower=1.0).to_numpy()[:, None]
    p = np.maximum(expected.to_numpy(), 1.0 / n)
    floor = pd.DataFrame(np.sqrt(p * (1 - np.minimum(p, 1.0)) / n), index=counts.index, columns=counts.columns)
    scale = np.maximum(robust_scale(shares, expected), floor)
    usual = expected_values(counts)
    with np.errstate(all="ignore"):
        moved = ((counts >= (1 + MIN_CHANGE) * usual) & (shares > expected)) | \
            ((counts <= (1 - MIN_CHANGE) * usual) & (shares < expected))
    return _flagged(shares, expected, scale, counts, usual, min_count, MIN_CHANGE, moved)


def _flagged(judged: pd.DataFrame, expected: pd.DataFrame, scale: pd.DataFrame, counts: pd.DataFrame,
             expected_counts: pd.DataFrame, min_count: float, min_change: float,
             also: pd.DataFrame | None = None) -> pd.DataFrame:
    off = judged - expected
    with np.errstate(all="ignore"):
        flagged = ((off.abs() > THRESHOLD * scale) & ((counts - expected_counts).abs() >= min_change * expected_counts)
                   & (np.maximum(counts, expected_counts) >= min_count) & expected.notna())
    if also is not None:
        flagged &= also
    hits = flagged.stack()
    hits = hits[hits]
    if hits.empty:
        return pd.DataFrame(columns=["day", "series", "value", "expected", "kind"])
    days, series = hits.index.get_level_values(0), hits.index.get_level_values(1)
    out = pd.DataFrame({"day": days, "series": series,
                        "value": [float(counts.at[d, c]) for d, c in zip(days, series)],
                        "expected": [float(expected_counts.at[d, c]) for d, c in zip(days, series)]})
    out["kind"] = np.where(out["value"] > out["expected"], "spike", "drop")
    return out.sort_values(["day", "series"], kind="stable").reset_index(drop=True)


def import_gaps(requests: pd.Series) -> list[date]:
    """Days with no raw request at all where the previous two weeks had some (a missing log, a stopped prefix)."""
    before = requests.shift(1).rolling(14, min_periods=3).median()
    gaps = requests[(requests == 0) & (before >= MIN_COUNT["requests"])]
    return [_day(d) for d in gaps.index]


def show_findings(podcast_id: int, downloads: pd.Series, releases: list[date], first: date) -> list[Finding]:
    """A show's unusual days from `first` on (`releases`: its release days, oldest first, back to its previous
    launches). Launch weeks are judged against the show's earlier launches (launch_expected): a spike only past
    LAUNCH_FACTOR times the usual launch, a drop below it by the same factor (a release day with no downloads).
    A show that releases less often than weekly has its launch weeks left out of the weekday rule altogether (its
    baseline and spread come from the days between launches), so its quiet days are judged as tightly as anyone's."""
    launch_days = _launch_days(releases, _day(downloads.index[0]), _day(downloads.index[-1])) if len(downloads) else []
    irregular = _irregular(releases)
    judged = downloads.where(~downloads.index.isin(pd.to_datetime(launch_days))) if irregular else downloads
    hits = flag_counts(judged.to_frame("downloads"), MIN_COUNT["downloads"])
    found = {}
    for row in hits.itertuples():
        day = _day(row.day)
        if day < first:
            continue
        launch = launch_expected(downloads, releases, day) if row.kind == "spike" else None
        if launch is not None and row.value <= LAUNCH_FACTOR * launch:
            continue
        found[day] = Finding(day, podcast_id, "downloads", row.value,
                             round(max(row.expected, launch or 0.0), 1), row.kind)
    for day in (d for d in launch_days if d >= first and d not in found):
        launch, value = launch_expected(downloads, releases, day), float(downloads[pd.Timestamp(day)])
        if not math.isfinite(launch) or max(launch, value) < MIN_COUNT["downloads"]:
            continue
        if value * LAUNCH_FACTOR < launch:
            found[day] = Finding(day, podcast_id, "downloads", value, round(launch, 1), "drop")
        elif irregular and value > LAUNCH_FACTOR * launch:
            found[day] = Finding(day, podcast_id, "downloads", value, round(launch, 1), "spike")
    return [found[day] for day in sorted(found)]


def _launch_days(releases: list[date], first: date, last: date) -> list[date]:
    days = {r + timedelta(days=k) for r in releases for k in range(LAUNCH_DAYS)}
    return sorted(d for d in days if first <= d <= last)


def _irregular(releases: list[date]) -> bool:
    """Releases less often than weekly (median gap of the last eight over 7 days): their launches do not fall on
    the same weekday each week, so the weekday rule cannot expect them."""
    gaps = [(b - a).days for a, b in zip(releases[-9:], releases[-8:])]
    return bool(gaps) and float(np.median(gaps)) > 7


def launch_expected(downloads: pd.Series, releases: list[date], day: date) -> float | None:
    """For a day within LAUNCH_DAYS of the latest release before it: the median of the show's downloads on the same
    day after each of its WEEKS previous releases; infinite without any (a first launch cannot be judged).
    None outside a launch week."""
    before = [r for r in releases if r <= day]
    if not before or (day - before[-1]).days >= LAUNCH_DAYS:
        return None
    offset = day - before[-1]
    previous = [pd.Timestamp(r + offset) for r in before[-1 - WEEKS:-1]]
    values = [float(downloads[t]) for t in previous if t in downloads.index]
    return float(np.median(values)) if values else math.inf


def breakdown_findings(podcast_id: int, counts: pd.DataFrame, totals: pd.Series, prefix: str,
                       first: date) -> list[Finding]:
    """Apps' (prefix "app") or countries' ("country") unusual shares of one show, from `first` on. Only series
    that reach MIN_COUNT on some day are judged."""
    counts = counts.loc[:, counts.max() >= MIN_COUNT[prefix]]
    if counts.empty:
        return []
    hits = flag_shares(counts, totals, MIN_COUNT[prefix])
    found = []
    for row in hits.itertuples():
        day = _day(row.day)
        if day < first:
            continue
        cause = None
        if prefix == "app" and row.kind == "drop":
            cause = f"{APP_SHARE_COLLAPSE}:{row.series}"
        elif prefix == "country" and row.kind == "spike":
            cause = f"{COUNTRY_SPIKE}:{row.series}"
        found.append(Finding(day, podcast_id, f"{prefix}:{row.series}", row.value, round(row.expected, 1), row.kind,
                             cause))
    return found


def network_findings(requests: pd.Series, bot_requests: pd.Series, first: date) -> list[Finding]:
    """The network's import gaps (requests) and bot surges (requests dropped as bots), from `first` on."""
    found = []
    for day in import_gaps(requests):
        if day >= first:
            expected = float(requests.shift(1).rolling(14, min_periods=3).median().loc[pd.Timestamp(day)])
            found.append(Finding(day, 0, "requests", 0.0, expected, "gap", IMPORT_GAP))
    hits = flag_counts(bot_requests.to_frame("bot_requests"), MIN_COUNT["bot_requests"], BOT_MIN_CHANGE)
    for row in hits.itertuples():
        if row.kind == "spike" and _day(row.day) >= first:
            found.append(Finding(_day(row.day), 0, "bot_requests", row.value, round(row.expected, 1), "spike",
                                 BOT_SURGE))
    return found


def explain(findings: list[Finding]) -> list[Finding]:
    """Name the known cause of each show-level anomaly the data shows that day: an import gap, else a bot surge
    (spikes), else one of its apps' share collapsing (drops) or one of its countries spiking (spikes)."""
    gaps = {f.day for f in findings if f.cause == IMPORT_GAP}
    surges = {f.day for f in findings if f.cause == BOT_SURGE}
    parts: dict[tuple[int, date, str], list[Finding]] = {}
    for f in findings:
        if f.cause and f.dimension != "downloads" and f.podcast_id:
            parts.setdefault((f.podcast_id, f.day, f.kind), []).append(f)
    out = []
    for f in findings:
        if f.dimension == "downloads" and f.cause is None:
            f = Finding(f.day, f.podcast_id, f.dimension, f.value, f.expected, f.kind,
                        _show_cause(f, gaps, surges, parts.get((f.podcast_id, f.day, f.kind), [])))
        out.append(f)
    return out


def _show_cause(f: Finding, gaps: set[date], surges: set[date], parts: list[Finding]) -> str | None:
    if f.kind == "drop" and f.day in gaps:
        return IMPORT_GAP
    if f.kind == "spike" and f.day in surges:
        return BOT_SURGE
    if parts:  # the biggest mover explains it
        return max(parts, key=lambda p: abs(p.value - p.expected)).cause
    return None


def _day(value) -> date:
    return pd.Timestamp(value).date()
