"""Matching conversions to households: a campaign's exposures, its sponsor's conversions, and the join between them.

The rules, as applied:
- An **exposure** is a counted download of an episode that carries one of the campaign's placements, inside the
  placement's flight (UTC days), and for a dynamically inserted ad from the campaign's target countries: exactly the
  rule delivery counts impressions by (services.sponsorship.delivery._carried). Two
  placements on one download are two exposures. A download without a household key (counted before keys existed,
  or from a request whose IP gave none) is unusable and left out.
- A **conversion** is an `attribution_events` row of the campaign's sponsor whose type is neither `pageview` nor
  `click` (those are visits: they count towards cost per visitor, never as conversions), not flagged `ip_shared`
  (a data centre or mobile carrier address says nothing of a household), with a household key.
- A conversion **matches** the exposures of its household: `exposure.household_key` is the event's key or the key
  of the epoch before (`household_key_prev`, so a rotation of the 90-day secret does not cut paths), and
  `event.ts - lookback_days <= exposure.ts <= event.ts`. An exposure after the conversion never counts, so a
  conversion before a household's first exposure is not attributed to it.
- **Prior customers** (campaign option `exclude_prior_customers`): a household with any conversion of the sponsor
  in the 60 days before its first exposure is dropped: its conversions are not attributed, and it is left out of
  the exposed households (and so of the lift).
- A **path** is a matched conversion's exposures in time order. Households exposed that did not convert are the
  non-converting paths (all their exposures, in time order); only the Markov model uses them.

The join is vectorised: exposures and conversions are merged on the household key (on PostgreSQL a 64-bit hash of
it, see `_match_key`), then filtered on time.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger, Column, MetaData, Table, and_, case, func, literal, null, or_, select, union_all,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from services import bulk
from services.sponsorship.delivery import _bounds, _carried
from services.models import AttributionEvent, Download

logger = logging.getLogger(__name__)

VISIT_TYPES = ("pageview", "click")
PRIOR_CUSTOMER_DAYS = 60
EXPOSURE_KINDS = {"key": "key", "ts": "ts", "placement_id": "int", "podcast_id": "int", "episode_id": "int"}
CONVERSION_KINDS = {"ts": "ts", "event_id": "str", "type": "str", "household_key": "str", "household_key_prev": "str",
                    "key": "key", "key_prev": "key", "ip_shared": "bool", "value": "float", "campaign_id": "int",
                    "promo_code": "str"}

_views = MetaData()
TENANT_DOWNLOADS = Table("tenant_downloads", _views, *[Column(c.name, c.type) for c in Download.__table__.c])
TENANT_EVENTS = Table("tenant_attribution_events", _views,
                      *[Column(c.name, c.type) for c in AttributionEvent.__table__.c])


def _match_key(s: Session, column):
    """What households are matched on: on PostgreSQL a 64-bit hash of the household key (read and joined as an
    integer, several times cheaper than a 32-character string; two of a million households collide with odds of
    about 3 in 100 million), elsewhere the key itself."""
    if s.get_bind().dialect.name == "postgresql":
        return func.hashtextextended(column, 0)
    return column


def _source(s: Session, table: Table, view: Table) -> Table:
    """The tenant view on PostgreSQL in a tenant session (the web role reads only those), else the table."""
    if s.get_bind().dialect.name == "postgresql" and not s.info.get("system"):
        return view
    return table


@dataclass(frozen=True)
class Window:
    """The campaign's time frame: its placements' flights, widened by the lookback for conversions."""

    first: datetime  # start of the first placement's flight (UTC)
    end: datetime  # end (exclusive) of the last placement's flight
    lookback: pd.Timedelta

    @classmethod
    def of(cls, placements: list, lookback_days: int) -> Window:
        first = min(p.start_date for p in placements)
        last = max(p.end_date for p in placements)
        start, end = _bounds(first, last)
        return cls(start, end, pd.Timedelta(days=lookback_days))

    @property
    def conversions_end(self) -> datetime:
        return self.end + self.lookback.to_pytimedelta()


def load_downloads(s: Session, tenant_id: int, placements: list, first: datetime, end: datetime,
                   target_countries=()) -> pd.DataFrame:
    """The campaign's exposures, and the other downloads with a household key of its shows in [first, end) (the
    lift's control candidates), in no particular order: `placement_id` is the placement a row exposes (a download
    on two placements is two rows), or 0 for a download that carries none.

    Each placement's condition is delivery's own (`_carried`). On PostgreSQL the downloads are read in one pass:
    each row lists the placements whose condition it meets (unnested into one row per placement), where a UNION of
    one index scan per placement would visit most of the table's pages once per placement."""
    if not placements:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EXPOSURE_KINDS})
    d = _source(s, Download.__table__, TENANT_DOWNLOADS).c
    # The placement's target first: a download fails the other placements' conditions on one comparison.
    carried = [and_(*reversed(_carried(d, tenant_id, p, target_countries))) for p in placements]
    shows = sorted({p.podcast_id for p in placements})
    key = _match_key(s, d.household_key).label("key")
    show_downloads = (d.tenant_id == tenant_id, d.podcast_id.in_(shows), d.household_key.is_not(None))
    if s.get_bind().dialect.name == "postgresql":
        listed = func.array_remove(array([case((cond, literal(p.id, BigInteger))) for cond, p in zip(carried, placements)]),
                                   null())
        which = func.unnest(case((or_(*carried), listed), else_=array([literal(0, BigInteger)])))
        stmt = select(key, d.ts, which.label("placement_id"), d.podcast_id, d.episode_id).where(
            *show_downloads, or_(and_(d.ts >= first, d.ts < end), *carried))
    else:
        parts = [select(key, d.ts, literal(p.id, BigInteger).label("placement_id"), d.podcast_id, d.episode_id)
                 .where(cond, d.household_key.is_not(None)) for cond, p in zip(carried, placements)]
        parts.append(select(key, d.ts, literal(0, BigInteger).label("placement_id"), d.podcast_id, d.episode_id)
                     .where(*show_downloads, d.ts >= first, d.ts < end, ~or_(*carried)))
        stmt = union_all(*parts)
    return read_frame(s, stmt, EXPOSURE_KINDS)


def load_sponsor_events(s: Session, tenant_id: int, sponsor_id: int, first: datetime, end: datetime) -> pd.DataFrame:
    """The sponsor's events (conversions and visits) in [first, end)."""
    e = _source(s, AttributionEvent.__table__, TENANT_EVENTS).c
    columns = {name: e[name] for name in CONVERSION_KINDS if name in e}
    columns["key"] = _match_key(s, e.household_key).label("key")
    columns["key_prev"] = _match_key(s, e.household_key_prev).label("key_prev")
    stmt = select(*[columns[name] for name in CONVERSION_KINDS]).where(
        e.tenant_id == tenant_id, e.sponsor_id == sponsor_id, e.ts >= first, e.ts < end)
    frame = read_frame(s, stmt, CONVERSION_KINDS)
    frame["value"] = frame["value"].fillna(0.0)
    return frame


def _frame(rows, columns) -> pd.DataFrame:
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)


def read_frame(s: Session, stmt, kinds: dict[str, str]) -> pd.DataFrame:
    """The rows of `stmt` as a DataFrame whose columns are `kinds` (name -> ts | int | key | str | float | bool; a key
    is what _match_key gives).

    On PostgreSQL one COPY ... TO STDOUT read by pandas' C parser (a million exposures in about a second, where
    building rows through the driver takes several); elsewhere plain rows. Timestamps come back as UTC."""
    names = list(kinds)
    postgres = s.get_bind().dialect.name == "postgresql"
    if not postgres:
        frame = _frame(s.execute(stmt).all(), names)
    else:
        compiled = stmt.compile(dialect=s.get_bind().dialect, compile_kwargs={"render_postcompile": True})
        cast = {"ts": "(extract(epoch FROM q.{c}) * 1000000)::int8", "bool": "q.{c}::int"}
        columns = ", ".join(cast.get(kinds[c], "q.{c}").format(c=c) for c in names)
        sql = f"COPY (SELECT {columns} FROM ({compiled}) AS q) TO STDOUT WITH (FORMAT csv)"
        raw = s.connection().connection.driver_connection
        with bulk.CopyOut(raw, sql, compiled.params) as stream:
            stream = io.BufferedReader(stream, buffer_size=1 << 20)
            if not stream.peek(1):
                frame = pd.DataFrame({c: pd.Series(dtype=object) for c in names})
            else:
                dtypes = {c: {"ts": "Int64", "int": "Int64", "key": "Int64", "bool": "Int64",
                              "float": "float64"}.get(k, object)
                          for c, k in kinds.items()}
                frame = pd.read_csv(stream, header=None, names=names, dtype=dtypes, keep_default_na=False,
                                    na_values={c: [""] for c in names}, low_memory=False)
        for c, k in kinds.items():
            if k == "ts":
                frame[c] = pd.to_datetime(frame[c].astype("float64"), unit="us", utc=True)
    for c, k in kinds.items():
        if k == "ts":
            frame[c] = pd.to_datetime(frame[c], utc=True)
        elif k == "int" or (k == "key" and postgres):
            frame[c] = frame[c].astype("Int64") if frame[c].isna().any() else frame[c].astype("int64")
        elif k == "float":
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
        elif k == "bool":
            frame[c] = frame[c].fillna(0).astype(bool)
        else:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    return frame


def is_conversion(events: pd.DataFrame) -> pd.Series:
    return ~events["type"].isin(VISIT_TYPES)


def usable(events: pd.DataFrame) -> pd.Series:
    """Events whose household key can be matched: present and not from a shared address."""
    return events["key"].notna() & ~events["ip_shared"].astype(bool)


def match(exposures: pd.DataFrame, events: pd.DataFrame, lookback: pd.Timedelta) -> pd.DataFrame:
    """Every (event, exposure) pair of one household with event.ts - lookback <= exposure.ts <= event.ts.

    `events` must be usable (see `usable`). Returns the event's columns plus `exposure_ts`, `placement_id`,
    `podcast_id`, `episode_id`, `exposure_key` (the household's match key on the exposure) and `matched_key` (the
    household key, as text, that matched: the event's own or its previous epoch's), sorted by event then exposure
    time (ties: placement, episode), which is each conversion's path."""
    keyed = events.reset_index(drop=True).assign(conversion=lambda f: np.arange(len(f)))
    by_key = keyed.assign(exposure_key=keyed["key"], matched_key=keyed["household_key"])
    prev = keyed[keyed["key_prev"].notna().to_numpy() & (keyed["key_prev"] != keyed["key"]).to_numpy()]
    by_prev = prev.assign(exposure_key=prev["key_prev"], matched_key=prev["household_key_prev"])
    both = pd.concat([by_key, by_prev], ignore_index=True)
    if len(both):
        both["exposure_key"] = both["exposure_key"].astype(exposures["key"].dtype)
    exp = exposures.rename(columns={"key": "exposure_key", "ts": "exposure_ts"})
    pairs = both.merge(exp, on="exposure_key", how="inner")
    keep = (pairs["exposure_ts"] <= pairs["ts"]) & (pairs["exposure_ts"] >= pairs["ts"] - lookback)
    pairs = pairs[keep.to_numpy()]
    return pairs.sort_values(["conversion", "exposure_ts", "placement_id", "episode_id"], kind="stable").reset_index(
        drop=True)


def prior_customers(exposures: pd.DataFrame, conversions: pd.DataFrame, days: int = PRIOR_CUSTOMER_DAYS) -> set:
    """Match keys of the exposed households with a usable conversion in the `days` before their first exposure."""
    if exposures.empty or conversions.empty:
        return set()
    first = exposures.groupby("key", sort=False)["ts"].min().rename("first_ts").reset_index()
    conv = conversions[(usable(conversions) & is_conversion(conversions)).to_numpy()]
    keyed = pd.concat([conv[["key", "ts"]], conv.loc[conv["key_prev"].notna().to_numpy(), ["key_prev", "ts"]]
                       .rename(columns={"key_prev": "key"})], ignore_index=True)
    if keyed.empty:
        return set()
    keyed["key"] = keyed["key"].astype(first["key"].dtype)
    joined = first.merge(keyed, on="key", how="inner")
    hit = (joined["ts"] < joined["first_ts"]) & (joined["ts"] >= joined["first_ts"] - pd.Timedelta(days=days))
    return set(joined.loc[hit.to_numpy(), "key"])
