"""Alert rules' pure logic: what a metric reads as over a window, whether a condition holds, and the rule's state
machine (ok -> triggered -> re-notified after re-arm; muted until a time). No I/O: tested on constructed values."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

METRIC_LABELS = {
    "show_downloads": "Show downloads a day",
    "episode_launch": "Episode downloads in its first days",
    "campaign_pacing": "Campaign pacing (% of expected delivery)",
    "import_failures": "Failed log imports",
    "feed_errors": "Feeds whose last fetch failed",
}
CONDITION_LABELS = {
    "below": "is below",
    "above": "is above",
    "change": "changes by X% against the previous period",
    "anomaly": "is an anomaly against the forecast",
}
# Which conditions make sense per metric: the catalog keeps only each feed's last fetch (no previous period), and
# forecasts exist for the download and delivery series only.
CONDITIONS_FOR = {
    "show_downloads": ("below", "above", "change", "anomaly"),
    "episode_launch": ("below", "above", "change", "anomaly"),
    "campaign_pacing": ("below", "above", "change", "anomaly"),
    "import_failures": ("below", "above", "change"),
    "feed_errors": ("below", "above"),
}
TARGET_KIND = {"show_downloads": "podcast", "episode_launch": "episode", "campaign_pacing": "campaign",
               "import_failures": None, "feed_errors": "podcast"}
TARGET_REQUIRED = ("episode_launch", "campaign_pacing")


@dataclass(frozen=True)
class Reading:
    """A metric's value now and over the previous period; `value` None means no data (the state stays)."""

    value: float | None
    previous: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class AnomalyVerdict:
    """What a forecast says of the latest value: an insights provider returns it (None: no forecast yet)."""

    anomalous: bool
    value: float
    expected: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Verdict:
    """Whether the condition holds (None: no data) and the number compared with the threshold."""

    breached: bool | None
    measured: float | None


def last_complete_day(now: datetime) -> date:
    """Rules over daily rollups read whole UTC days: the day before `now`'s."""
    return now.date() - timedelta(days=1)


def window(last: date, days: int) -> tuple[date, date]:
    """The `days` days ending on `last`, inclusive."""
    return last - timedelta(days=days - 1), last


def daily_mean(daily: Mapping[date, float], first: date, last: date) -> float:
    """Mean per day over first..last; a day without a row counts 0."""
    days = (last - first).days + 1
    return sum(v for d, v in daily.items() if first <= d <= last) / days if days > 0 else 0.0


def total(daily: Mapping[date, float], first: date, last: date) -> float:
    return float(sum(v for d, v in daily.items() if first <= d <= last))


def change_pct(value: float | None, previous: float | None) -> float | None:
    """Percent change against the previous period; None when either is missing or the previous is 0."""
    if value is None or not previous:
        return None
    return (value - previous) / previous * 100.0


def check_condition(condition: str, threshold: float | None, reading: Reading,
                    anomaly: AnomalyVerdict | None = None) -> Verdict:
    """below / above: the value against the threshold. change: a negative threshold is a drop of at least that many
    percent, a positive one a rise of at least that many. anomaly: the forecast provider's verdict."""
    if condition == "anomaly":
        if anomaly is None:
            return Verdict(None, reading.value)
        return Verdict(anomaly.anomalous, anomaly.value)
    if condition == "change":
        pct = change_pct(reading.value, reading.previous)
        if pct is None or threshold is None:
            return Verdict(None, pct)
        return Verdict(pct <= threshold if threshold < 0 else pct >= threshold, round(pct, 2))
    if reading.value is None or threshold is None:
        return Verdict(None, reading.value)
    breached = reading.value < threshold if condition == "below" else reading.value > threshold
    return Verdict(breached, reading.value)


@dataclass(frozen=True)
class RuleState:
    state: str  # ok | triggered | muted
    muted_until: datetime | None = None
    triggered_at: datetime | None = None
    notified_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    """The state after an evaluation, and whether it notifies."""

    state: RuleState
    notify: bool


def next_step(current: RuleState, breached: bool | None, now: datetime, rearm: timedelta) -> Step:
    """ok + breach -> triggered (notify); triggered + breach -> stays, notifies again once `rearm` has passed since
    the last notice; no breach -> ok; no data -> unchanged. Muted: silent until `muted_until`, then as ok."""
    if current.state == "muted":
        if current.muted_until is not None and now < current.muted_until:
            return Step(current, notify=False)
        current = RuleState("ok")
    if breached is None:
        return Step(current, notify=False)
    if not breached:
        return Step(RuleState("ok"), notify=False)
    if current.state == "ok":
        return Step(RuleState("triggered", triggered_at=now, notified_at=now), notify=True)
    if current.notified_at is None or now >= current.notified_at + rearm:
        return Step(RuleState("triggered", triggered_at=current.triggered_at, notified_at=now), notify=True)
    return Step(current, notify=False)


def format_number(value: float | None) -> str:
    """1234.5 -> '1,234.5'; None -> '—'."""
    return "—" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def threshold_text(condition: str, threshold: float | None) -> str:
    if condition == "anomaly":
        return "an anomaly against the forecast"
    if condition == "change":
        sign = "+" if (threshold or 0) > 0 else ""
        return f"a change of {sign}{format_number(threshold)}% against the previous period"
    return f"{CONDITION_LABELS[condition]} {format_number(threshold)}"


def describe(metric: str, target: str | None, condition: str, threshold: float | None, measured: float | None,
             window_days: int) -> str:
    """The notice's body: what was measured, over which window, against which condition."""
    subject = METRIC_LABELS[metric] + (f" of {target}" if target else "")
    shown = "no data" if measured is None else format_number(measured)
    unit = "%" if condition == "change" else ""
    return f"{subject} over {window_days} days: {shown}{unit} ({threshold_text(condition, threshold)})."
