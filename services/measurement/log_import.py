"""Log import: a server or CDN access log into raw requests, in one transaction (a failed import writes nothing),
once per file (its fingerprint makes a second import a no-op), with bad lines reported by number and reason."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import select

from services import audit
from services.bulk import categorical_of, insert_frame
from services.db import Database
from services.events import outbox
from services.errors import ServiceError, ValidationError
from services.measurement import hashing
from services.measurement.counting_rules import EpisodeIndex
from services.measurement.geo import Geo, default_locator
from services.measurement.logs import FORMATS, fingerprint_and_lines, iter_log_chunks
from services.models import DownloadRequest, LogImport
from services.models.base import utcnow
from services.sponsorship.attribution import households
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 1000  # the import keeps counting past this; it stops listing
_PER_ROW = ("request_uid",)  # one value per row: services.bulk formats it without looking for repeats


@dataclass
class ImportReport:
    import_id: int | None
    filename: str
    lines: int = 0
    imported: int = 0
    rejected: int = 0
    unmatched: int = 0
    already_imported: bool = False
    first_day: object = None
    last_day: object = None
    errors: list[dict] = field(default_factory=list)


def import_log(db: Database, ctx: TenantContext, path: str | Path, fmt: str, host: str | None = None,
               filename: str | None = None, progress: Callable[[float, str], None] | None = None) -> ImportReport:
    """Import one log file for the tenant. Raises ValidationError for an unusable file; bad lines are reported."""
    require_role(ctx, "editor")
    if fmt not in FORMATS:
        raise ValidationError(f"format must be one of {', '.join(FORMATS)}", {"format": "unknown format"})
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{path}: no such file", {"path": "no such file"})
    progress = progress or (lambda _f, _m: None)
    name = filename or path.name
    fingerprint, total_lines = fingerprint_and_lines(path)
    total_lines = max(total_lines, 1)
    with db.session(ctx.tenant_id) as s:
        done = s.scalar(select(LogImport).where(LogImport.tenant_id == ctx.tenant_id,
                                                LogImport.fingerprint == fingerprint, LogImport.status == "completed"))
        if done is not None:
            return ImportReport(done.id, done.filename, done.lines_total, 0, done.lines_rejected, 0, True)
    try:
        with db.session(ctx.tenant_id, worker=True) as s:
            report = _import(s, ctx, path, fmt, host, name, fingerprint, total_lines, progress)
            outbox.record(s, ctx.tenant_id, "import.completed",
                          {"source": "log", "import_id": report.import_id, "filename": name, "lines": report.lines,
                           "imported": report.imported, "rejected": report.rejected})
            s.commit()
    except ServiceError as exc:
        _record_failure(db, ctx, name, fingerprint, fmt, exc.message)
        raise
    except Exception as exc:
        _record_failure(db, ctx, name, fingerprint, fmt, f"import failed: {exc}")
        raise
    logger.info("log imported", extra={"tenant_id": ctx.tenant_id, "file": name, "lines": report.lines,
                                        "imported": report.imported, "rejected": report.rejected})
    return report


def _import(s, ctx: TenantContext, path: Path, fmt: str, host: str | None, name: str, fingerprint: str, total_lines: int,
            progress) -> ImportReport:
    record = LogImport(tenant_id=ctx.tenant_id, filename=name, fingerprint=fingerprint, format=fmt)
    s.query(LogImport).filter(LogImport.tenant_id == ctx.tenant_id, LogImport.fingerprint == fingerprint).delete()
    s.add(record)
    s.flush()
    report = ImportReport(record.id, name)
    episodes = EpisodeIndex.load(s, ctx.tenant_id)
    addresses = _Addresses(default_locator())
    secrets: dict[str, bytes] = {}
    household_secrets: dict[int, bytes | None] = {}
    # On PostgreSQL each chunk's rows are written (mostly the server ingesting them) by a writer thread while this
    # one parses the next chunk. The session passes between them, never shared: whatever uses it here (a month's
    # hash secret, an epoch's household secret, the record below) waits for the writer first. SQLite connections
    # stay on their thread.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-import-writer") \
        if s.get_bind().dialect.name == "postgresql" else None
    writing: list[Future] = []

    def settle() -> None:
        while writing:
            report.imported += writing.pop().result()

    try:
        for chunk in iter_log_chunks(path, fmt, host=host, ramp=writer is not None):
            rows = chunk.rows
            report.lines = chunk.last_line
            report.rejected += len(chunk.errors)
            room = MAX_REPORTED_ERRORS - len(report.errors)
            report.errors += [{"line": e.line_no, "reason": e.reason, "text": e.text_excerpt}
                              for e in chunk.errors[:room]]
            if rows.empty:
                continue
            episode_id = episodes.episode_ids(rows["url"])
            matched = episode_id >= 0
            report.unmatched += int((~matched).sum())
            rows, episode_id = rows[matched], episode_id[matched]
            if rows.empty:
                continue
            missing = [m for m in _months(rows["ts"]).unique() if m not in secrets]
            if missing:
                settle()
                for month in missing:
                    secrets[month] = hashing.month_secret(s, month)
            epochs = households.epochs_of(rows["ts"])
            if any(e not in household_secrets for e in np.unique(epochs).tolist()):
                settle()
                households.epoch_secrets(s, epochs, household_secrets)
            numbers = addresses.numbers(rows["ip"])
            frame = _request_frame(s, ctx.tenant_id, rows, episode_id, episodes, fingerprint, record.id, addresses,
                                   numbers, secrets)
            frame["household_key"] = addresses.household_keys(household_secrets, numbers, epochs)
            first, last = frame["ts"].min().date(), frame["ts"].max().date()  # the days of the extreme times
            report.first_day = min(filter(None, [report.first_day, first]))
            report.last_day = max(filter(None, [report.last_day, last]))
            settle()
            if writer is None:
                report.imported += insert_frame(s, DownloadRequest.__table__, frame, per_row=_PER_ROW)
            else:
                writing.append(writer.submit(insert_frame, s, DownloadRequest.__table__, frame, per_row=_PER_ROW))
            del frame
            progress(min(chunk.last_line / total_lines, 1.0) * 0.99, f"{report.lines} of {total_lines} lines read")
        settle()
    finally:
        if writer is not None:
            writer.shutdown(wait=True)
    record.status, record.finished_at = "completed", utcnow()
    record.lines_total, record.lines_imported, record.lines_rejected = report.lines, report.imported, report.rejected
    record.errors = report.errors
    record.message = f"{report.unmatched} lines matched no episode" if report.unmatched else None
    audit.record(s, ctx, "log.imported", "log_import", record.id,
                 {"file": name, "lines": report.lines, "imported": report.imported, "rejected": report.rejected})
    progress(1.0, "imported")
    return report


def _months(ts: pd.Series) -> pd.Series:
    """Each request's month as YYYY-MM (the hash secret's key), formatted once per distinct month."""
    month_number = (ts.dt.year * 100 + ts.dt.month).to_numpy()
    return pd.Series(month_number, index=ts.index).map(
        {m: f"{m // 100:04d}-{m % 100:02d}" for m in np.unique(month_number).tolist()})


def _request_frame(s, tenant_id: int, rows: pd.DataFrame, episode_id: np.ndarray, episodes: EpisodeIndex,
                   fingerprint: str, import_id: int, addresses: _Addresses, numbers: np.ndarray,
                   secrets: dict) -> pd.DataFrame:
    ts = rows["ts"]
    listener = pd.Series("", index=rows.index, dtype=object)
    months = _months(ts)
    distinct_months = months.unique()
    for month in distinct_months:
        if month not in secrets:
            secrets[month] = hashing.month_secret(s, month)
        if len(distinct_months) == 1:
            listener = addresses.listener_keys(secrets[month], numbers, rows["user_agent"])
        else:
            idx = (months == month).to_numpy()
            listener[idx] = addresses.listener_keys(secrets[month], numbers[idx], rows.loc[idx, "user_agent"])
    geo = addresses.places(numbers)
    # Columns keep their dtypes (text as Categoricals): services.bulk formats each distinct value once.
    uid_prefix = request_uid_prefix(tenant_id, fingerprint)
    return pd.DataFrame({
        "request_uid": request_uids(uid_prefix, rows["line_no"].to_numpy()),
        "ts": ts, "tenant_id": tenant_id,
        "podcast_id": episodes.episodes["podcast_id"].reindex(episode_id).to_numpy(),
        "source": pd.Categorical.from_codes(np.zeros(len(rows), dtype=np.int8), categories=_LOG_SOURCE),
        "import_id": import_id, "method": rows["method"],
        "status": rows["status"], "bytes": rows["bytes"],
        "range": rows["range"], "url": rows["url"],
        "user_agent": rows["user_agent"], "referer": rows["referer"],
        "listener_key": listener, "country": geo["country"].array, "region": geo["region"].array,
    })


_LOG_SOURCE = pd.Index(["log"], dtype=object)


class _Addresses:
    """The client addresses an import has met, each numbered once, with its network (what the listener and
    household keys hash: hashing.network_of) and its place: a chunk works out only the addresses it brings new, and
    a row's network, place and household key are then found by its number. Forgets everything past MAX_ADDRESSES
    (numbers are only compared within a chunk)."""

    MAX_ADDRESSES = 1_000_000

    def __init__(self, locator):
        self._locator = locator
        self._forget()

    def _forget(self) -> None:
        self._numbers: dict[str, int] = {}
        self._network_of: list[int] = []  # by address number
        self._networks: dict[str, int] = {}
        self._network_texts: list[str] = []
        self._place_of: list[int] = []  # by address number
        self._places: dict[Geo, int] = {}
        self._place_list: list[Geo] = []
        self._households: dict[tuple[int, int], str | None] = {}  # (network, epoch) -> key

    def numbers(self, ips: pd.Series) -> np.ndarray:
        """Each row's address number; -1 where the address is missing."""
        codes, uniques = pd.factorize(ips, use_na_sentinel=True)
        if len(self._numbers) + len(uniques) > self.MAX_ADDRESSES:
            self._forget()
        uniques = [str(v) for v in uniques]
        known = self._numbers.get
        found = [known(ip, -1) for ip in uniques]
        new = [i for i, number in enumerate(found) if number < 0]
        if new:
            new_ips = [uniques[i] for i in new]
            networks, place_numbers = self._networks, self._places
            for i, ip, network, geo in zip(new, new_ips, hashing.networks_of(new_ips),
                                           self._locator.lookup_list(new_ips)):
                found[i] = self._numbers[ip] = len(self._network_of)
                if network not in networks:
                    networks[network] = len(self._network_texts)
                    self._network_texts.append(network)
                self._network_of.append(networks[network])
                if geo not in place_numbers:
                    place_numbers[geo] = len(self._place_list)
                    self._place_list.append(geo)
                self._place_of.append(place_numbers[geo])
        return np.append(np.asarray(found, dtype=np.int64), -1)[codes]

    def _networks_of(self, numbers: np.ndarray) -> np.ndarray:
        """Each row's network number; a missing address has the last one, ""."""
        return np.append(np.asarray(self._network_of, dtype=np.int64), len(self._network_texts))[numbers]

    def listener_keys(self, secret: bytes, numbers: np.ndarray, user_agents: pd.Series) -> pd.Series:
        """hashing.listener_keys of the rows (as a Categorical), from the networks of their address numbers."""
        return hashing.network_listener_keys(secret, self._networks_of(numbers), self._network_texts + [""],
                                             user_agents, categorical=True)

    def household_keys(self, secrets_by_epoch: dict[int, bytes | None], numbers: np.ndarray,
                       epochs: np.ndarray) -> pd.Categorical:
        """households.household_keys_of of the rows: each (network, epoch) hashed once per import."""
        networks = np.where(numbers < 0, -1, self._networks_of(numbers))
        epoch_index, epoch_values = pd.factorize(np.asarray(epochs, dtype=np.int64))
        pair = np.where(networks < 0, -1, networks * len(epoch_values) + epoch_index)
        pair_codes, pairs = pd.factorize(pair)
        nets, eps = np.divmod(pairs, len(epoch_values))
        memo, texts, blake2b, epoch_list = self._households, self._network_texts, hashlib.blake2b, epoch_values.tolist()
        keys = []
        for n, e, p in zip(nets.tolist(), eps.tolist(), pairs.tolist()):
            epoch = epoch_list[e]
            key = memo.get((n, epoch), memo)  # (the dict itself: not yet known)
            if key is memo:
                secret = secrets_by_epoch.get(epoch) if p >= 0 else None
                key = blake2b(texts[n].encode(), key=secret, digest_size=16).hexdigest() if secret else None
                if p >= 0:
                    memo[(n, epoch)] = key
            keys.append(key)
        return categorical_of(keys, pair_codes)

    def places(self, numbers: np.ndarray) -> pd.DataFrame:
        """Each row's country and region as Categoricals (a missing address has neither)."""
        place = np.append(np.asarray(self._place_of, dtype=np.int64), -1)[numbers]
        return pd.DataFrame({name: categorical_of([getattr(g, name) for g in self._place_list] + [None], place)
                             for name in ("country", "region")})


def request_uids(prefix: str, line_no: np.ndarray) -> pd.arrays.ArrowStringArray:
    """Each line's request_uid (the prefix, then its number zero-padded to ten digits), written by numpy into one
    Arrow string array rather than formatted a line at a time."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    n, width = len(line_no), len(head) + 10
    chars = np.empty((n, width), dtype=np.uint8)
    chars[:, :len(head)] = head
    rest = np.asarray(line_no, dtype=np.int64)  # (divmod below makes new arrays: the caller's stay)
    if n and (rest.min() < 0 or rest.max() >= 10**10):
        raise ValueError("line numbers must have at most ten digits")
    for k in range(1, 11):
        rest, digit = np.divmod(rest, 10)
        chars[:, width - k] = 48 + digit
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pd.arrays.ArrowStringArray(pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars)))


def request_uid_prefix(tenant_id: int, fingerprint: str) -> str:
    """The request_uid of a log line, less its line number: the same line of the same file imported for the same
    tenant has the same uid (a replay is a no-op), while another tenant importing that file gets its own uids.

    The line number follows zero-padded to ten digits, so an import's uids rise with its lines and each lands at the
    right-hand end of the primary key's index (PostgreSQL's fast path for ascending keys) instead of all over it."""
    return hashlib.blake2b(f"{tenant_id}:{fingerprint}".encode(), digest_size=12).hexdigest() + ":"


def _record_failure(db: Database, ctx: TenantContext, name: str, fingerprint: str, fmt: str, message: str) -> None:
    """Remember that the import failed (the rows it read were rolled back) so the page can say why."""
    with db.session(ctx.tenant_id) as s:
        s.query(LogImport).filter(LogImport.tenant_id == ctx.tenant_id, LogImport.fingerprint == fingerprint).delete()
        s.add(LogImport(tenant_id=ctx.tenant_id, filename=name, fingerprint=fingerprint, format=fmt, status="failed",
                        message=message[:2000], finished_at=utcnow()))
        outbox.record(s, ctx.tenant_id, "import.failed",
                      {"source": "log", "filename": name, "format": fmt, "error": message[:2000]})
        s.commit()


def list_imports(db: Database, ctx: TenantContext, limit: int = 50) -> list[LogImport]:
    require_role(ctx, "viewer")
    with db.session(ctx.tenant_id) as s:
        return list(s.scalars(select(LogImport).where(LogImport.tenant_id == ctx.tenant_id)
                              .order_by(LogImport.id.desc()).limit(limit)))
