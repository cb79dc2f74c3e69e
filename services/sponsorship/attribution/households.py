"""Household keys: the household part of an IP (IPv4 as is, IPv6 /64) hashed with a secret per 90-day epoch.

Matching a conversion to the exposures of the same household needs both sides hashed with the same secret. An
epoch is `days since 1970-01-01 // 90`; its secret (`household_secrets`) is random and created on first use. A
conversion stores its key under the epoch of its own time (`household_key`) AND under the epoch before
(`household_key_prev`): matching looks back at most 60 days (campaigns.lookback_days <= 60 < 90), so an exposure
lies in the conversion's epoch or the one before, and one of the two keys meets the exposure's key.

Rotation and retention: a new secret begins every 90 days. A secret stays while a conversion may still need it as
its previous epoch (60 days after its epoch ends) plus the raw-data retention (RAW_RETENTION_DAYS, during which
late events may still be stored), and is then deleted (purge_expired_secrets); after that a key of that epoch can
no longer be linked back to any address. No secret is created for an epoch already past that point. Raw IPs are
never stored."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.bulk import categorical_of
from services.measurement.hashing import network_of, networks_of, stored_secret
from services.measurement.methodology import RAW_RETENTION_DAYS
from services.models import HouseholdSecret

EPOCH_DAYS = 90
MAX_LOOKBACK_DAYS = 60  # campaigns.lookback_days upper bound; must stay below EPOCH_DAYS
SECRET_KEPT_DAYS = MAX_LOOKBACK_DAYS + RAW_RETENTION_DAYS  # after the end of its epoch
_DAY0 = date(1970, 1, 1)


def epoch_of(moment: datetime | date) -> int:
    day = moment.astimezone(timezone.utc).date() if isinstance(moment, datetime) else moment
    return (day - _DAY0).days // EPOCH_DAYS


def epoch_end(epoch: int) -> date:
    """The first day after the epoch."""
    return _DAY0 + timedelta(days=(epoch + 1) * EPOCH_DAYS)


def is_expired(epoch: int, today: date) -> bool:
    return today >= epoch_end(epoch) + timedelta(days=SECRET_KEPT_DAYS)


def epoch_secret(session: Session, epoch: int, today: date | None = None) -> bytes | None:
    """The epoch's secret, created on first use (safe when two writers race); None once the epoch is expired."""
    today = today or datetime.now(timezone.utc).date()
    if is_expired(epoch, today):
        return None
    return stored_secret(session, HouseholdSecret, "epoch", epoch)


def hash_household(secret: bytes, ip: str) -> str:
    return hashlib.blake2b(network_of(ip).encode(), key=secret, digest_size=16).hexdigest()


def household_key(session: Session, ip: str, at: datetime, today: date | None = None) -> str | None:
    """The household key of `ip` at time `at` (under the secret of at's epoch): what an exposure stores."""
    secret = epoch_secret(session, epoch_of(at), today)
    return hash_household(secret, ip) if secret is not None else None


def epochs_of(ts: pd.Series) -> np.ndarray:
    """Vectorised epoch_of: each time's epoch (int64); naive times are taken as UTC."""
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    days = ts.to_numpy().astype("datetime64[D]").astype(np.int64)
    return days // EPOCH_DAYS


def epoch_secrets(session: Session, epochs, known: dict[int, bytes | None] | None = None,
                  today: date | None = None) -> dict[int, bytes | None]:
    """`known` (a cache kept across batches) with the secret of every epoch of `epochs` added."""
    known = {} if known is None else known
    for epoch in np.unique(np.asarray(epochs)).tolist():
        if epoch not in known:
            known[epoch] = epoch_secret(session, epoch, today)
    return known


def household_keys_of(secrets_by_epoch: Mapping[int, bytes | None], ips: pd.Series, epochs: np.ndarray) -> pd.Series:
    """Vectorised household_key: each request's key (a Categorical), hashed once per distinct (network, epoch)
    pair, as hash_household would; missing where the IP is missing or its epoch has no secret (expired). A
    Categorical `ips` is read by its codes; a log has far fewer networks than lines."""
    if len(ips) == 0:
        return pd.Series(pd.Categorical([], categories=pd.Index([], dtype=object)), index=ips.index)
    codes, uniques = pd.factorize(ips, use_na_sentinel=True)
    networks = np.asarray(networks_of([str(v) for v in uniques]), dtype=object)
    net_codes, net_values = pd.factorize(networks)
    epoch_values, epoch_index = np.unique(np.asarray(epochs, dtype=np.int64), return_inverse=True)
    row_net = np.append(net_codes, -1).astype(np.int64)[codes]  # code -1 (no IP) takes the appended -1
    pair = np.where(row_net < 0, -1, row_net * len(epoch_values) + epoch_index.reshape(-1))
    pair_codes, pair_values = pd.factorize(pair)
    nets, eps = np.divmod(pair_values, len(epoch_values))
    blake2b = hashlib.blake2b
    keys = []
    for n, e, p in zip(nets.tolist(), eps.tolist(), pair_values.tolist()):
        secret = secrets_by_epoch.get(int(epoch_values[e])) if p >= 0 else None
        keys.append(blake2b(net_values[n].encode(), key=secret, digest_size=16).hexdigest() if secret else None)
    return pd.Series(categorical_of(keys, pair_codes), index=ips.index)


def household_keys(session: Session, ips: pd.Series, ts: pd.Series, today: date | None = None) -> pd.Series:
    """household_key for many requests at once (see household_keys_of): each epoch's secret read once."""
    epochs = epochs_of(ts)
    return household_keys_of(epoch_secrets(session, epochs, today=today), ips, epochs)


@dataclass(frozen=True)
class HouseholdKeys:
    current: str | None  # under the epoch of the event
    previous: str | None  # under the epoch before


class HouseholdHasher:
    """Household keys for many events in one session; each epoch's secret is read once."""

    def __init__(self, session: Session, today: date | None = None):
        self.session = session
        self.today = today or datetime.now(timezone.utc).date()
        self._secrets: dict[int, bytes | None] = {}

    def _secret(self, epoch: int) -> bytes | None:
        if epoch not in self._secrets:
            self._secrets[epoch] = epoch_secret(self.session, epoch, self.today)
        return self._secrets[epoch]

    def keys(self, ip: str | None, at: datetime) -> HouseholdKeys:
        if not ip:
            return HouseholdKeys(None, None)
        epoch = epoch_of(at)
        current, previous = self._secret(epoch), self._secret(epoch - 1)
        return HouseholdKeys(hash_household(current, ip) if current else None,
                             hash_household(previous, ip) if previous else None)


def purge_expired_secrets(session: Session, today: date | None = None) -> int:
    """Delete the secrets of expired epochs (see the module docstring); returns how many."""
    today = today or datetime.now(timezone.utc).date()
    # The newest expired epoch: its end + SECRET_KEPT_DAYS <= today.
    newest_expired = ((today - timedelta(days=SECRET_KEPT_DAYS)) - _DAY0).days // EPOCH_DAYS - 1
    return session.execute(delete(HouseholdSecret).where(HouseholdSecret.epoch <= newest_expired)).rowcount
