"""Listener keys: IP (IPv6 truncated to /64) + User-Agent, hashed with a random secret that rotates monthly.

The secret lives in `hash_secrets` and is deleted after raw-data retention, after which a key can no longer be
linked back to an address. Raw IPs are never stored."""
from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import secrets
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.bulk import categorical_of
from services.models import HashSecret


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def stored_secret(session: Session, model, key_column: str, key) -> bytes:
    """The random secret `model` keeps for `key` (its `key_column`), created on first use: safe when two workers
    race, since the loser of the insert reads the winner's."""
    column = getattr(model, key_column)
    secret = session.scalar(select(model.secret).where(column == key))
    if secret is None:
        candidate = secrets.token_hex(32)
        try:
            with session.begin_nested():
                session.add(model(**{key_column: key, "secret": candidate}))
            secret = candidate
        except IntegrityError:
            secret = session.scalar(select(model.secret).where(column == key))
    return bytes.fromhex(secret)


def month_secret(session: Session, month: str) -> bytes:
    """The secret for `month` (YYYY-MM), created on first use (safe when two workers race)."""
    return stored_secret(session, HashSecret, "month", month)


def network_of(ip: str) -> str:
    """The part of an address that identifies a household: IPv4 as is, IPv6 truncated to its /64."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip.strip()
    if addr.version == 6:
        if addr.ipv4_mapped:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False).network_address)
    return str(addr)


def listener_key(secret: bytes, ip: str, user_agent: str | None) -> str:
    material = f"{network_of(ip)}\n{user_agent or ''}".encode()
    return hashlib.blake2b(material, key=secret, digest_size=16).hexdigest()


_PLAIN_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")


def is_plain_ipv4(ip: str) -> bool:
    """A dotted IPv4 address without leading zeros or spaces: valid, and its own network."""
    return _PLAIN_IPV4.fullmatch(ip) is not None


def networks_of(ips) -> list[str]:
    """network_of for each value; a plain dotted IPv4 address is its own network, so only the rest go through
    ipaddress. Remembered per address for the process: listeners' addresses recur across an import's chunks, and
    the listener and household keys of a chunk both ask."""
    return list(map(_network_of_cached, ips))


@functools.lru_cache(maxsize=1 << 17)
def _network_of_cached(ip: str) -> str:
    return ip if _PLAIN_IPV4.fullmatch(ip) else network_of(ip)


def listener_keys(secret: bytes, ips: pd.Series, user_agents: pd.Series, categorical: bool = False) -> pd.Series:
    """Vectorised: each distinct IP's network is worked out once, then each distinct (network, agent) pair is
    hashed once; a log has far fewer of either than lines. Missing values hash as "". `categorical`: as a
    Categorical (each key held once, so a COPY formats it once) instead of a string per row."""
    ip_codes, ip_values = _distinct(ips)
    net_codes, net_values = pd.factorize(np.asarray(networks_of(ip_values), dtype=object))
    return network_listener_keys(secret, net_codes[ip_codes], list(net_values), user_agents, categorical)


def network_listener_keys(secret: bytes, networks: np.ndarray, network_texts: list[str], user_agents: pd.Series,
                          categorical: bool = False) -> pd.Series:
    """listener_keys of rows whose networks are known already: each row's network as a code into `network_texts`
    (for an address that is missing, the code of ""), hashed once per distinct (network, agent) pair."""
    ua_codes, ua_values = _distinct(user_agents)
    pair = np.asarray(networks, dtype=np.int64) * len(ua_values) + ua_codes
    pair_codes, pair_values = pd.factorize(pair)
    nets, uas = np.divmod(pair_values, len(ua_values))
    blake2b = hashlib.blake2b
    keys = np.asarray([blake2b(f"{network_texts[n]}\n{ua_values[u]}".encode(), key=secret, digest_size=16).hexdigest()
                       for n, u in zip(nets.tolist(), uas.tolist())], dtype=object)
    if categorical:
        return pd.Series(categorical_of(keys, pair_codes), index=user_agents.index)
    return pd.Series(keys.take(pair_codes), index=user_agents.index)


def _distinct(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's code into the distinct values as strings, missing ones as "" (Categoricals by their codes)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes), [str(v) for v in uniques] + [""]
