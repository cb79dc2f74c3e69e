"""Listener keys: IP (IPv6 truncated to /64) + User-Agent, hashed with a random secret that rotates monthly.

The secret lives in `hash_secrets` and is deleted after raw-data retention, after which a key can no longer be
linked back to an address. Raw IPs are never stored."""
from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.models import HashSecret


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def month_secret(session: Session, month: str) -> bytes:
    """The secret for `month` (YYYY-MM), created on first use (safe when two workers race)."""
    secret = session.scalar(select(HashSecret.secret).where(HashSecret.month == month))
    if secret is None:
        candidate = secrets.token_hex(32)
        try:
            with session.begin_nested():
                session.add(HashSecret(month=month, secret=candidate))
            secret = candidate
        except IntegrityError:
            secret = session.scalar(select(HashSecret.secret).where(HashSecret.month == month))
    return bytes.fromhex(secret)


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


def listener_keys(secret: bytes, ips: pd.Series, user_agents: pd.Series) -> pd.Series:
    """Vectorised over distinct (IP, agent) pairs: a log has far fewer pairs than lines."""
    pairs = pd.DataFrame({"ip": ips.fillna("").astype(str).to_numpy(), "ua": user_agents.fillna("").astype(str).to_numpy()})
    codes, uniques = pd.MultiIndex.from_frame(pairs).factorize()
    keys = [listener_key(secret, ip, ua) for ip, ua in uniques]
    return pd.Series(pd.Index(keys).take(codes), index=ips.index)
