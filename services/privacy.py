"""Privacy: a tenant's export (a zip of everything it owns, one CSV per table) behind an expiring link, and the
tenant's deletion (every row of every table, time series included, and the users who belonged to it alone)."""
from __future__ import annotations

import json
import logging
import secrets
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pandas as pd
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Table, delete, exists, inspect, select, text

from services import audit
from services.db import Database
from services.errors import Gone, NotFound, ValidationError
from services.models import Base, Membership, Tenant, User
from services.settings import Settings
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

EXPORT_LINK_SECONDS = 24 * 60 * 60
CHUNK_ROWS = 50_000
Progress = Callable[[float, str], None]


def tenant_tables() -> list[Table]:
    """Every table that holds rows of one tenant (a tenant_id column), parents before children."""
    return [t for t in Base.metadata.sorted_tables if "tenant_id" in t.c]


def _continuous_aggregates(db: Database) -> set[str]:
    """On TimescaleDB the rollups are continuous aggregates (views): they are refreshed, never deleted from."""
    if db.engine.dialect.name != "postgresql":
        return set()
    with db.engine.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first():
            return set()
        return set(conn.execute(text("SELECT view_name FROM timescaledb_information.continuous_aggregates"))
                   .scalars())


def _stored_tables(db: Database, aggregates: set[str]) -> list[Table]:
    """The tenant tables this database holds: its tables, and on TimescaleDB the continuous aggregates (views)."""
    present = set(inspect(db.engine).get_table_names()) | aggregates
    return [t for t in tenant_tables() if t.name in present]


# -- export -------------------------------------------------------------------------------------------------------

def export_tenant(db: Database, tenant_id: int, out_dir: Path, progress: Progress | None = None) -> Path:
    """Write <out_dir>/<slug>-<time>-<random>.zip: tenant.json (the tenant and its members) and one CSV per table
    with the tenant's rows (all columns). Written to a temporary name first, so a failed export leaves no file."""
    report = progress or (lambda _f, _m: None)
    with db.session(system=True) as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id}")
        members = s.execute(select(User.email, User.name, Membership.role, Membership.sponsor_id)
                            .join(Membership, Membership.user_id == User.id)
                            .where(Membership.tenant_id == tenant_id).order_by(User.email)).all()
        about = {"id": tenant.id, "slug": tenant.slug, "name": tenant.name,
                 "exported_at": datetime.now(timezone.utc).isoformat(),
                 "members": [dict(m._mapping) for m in members]}
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{about['slug']}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.zip"
    partial = out_dir / (name + ".partial")
    tables = _stored_tables(db, _continuous_aggregates(db))
    counts = {}
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for done, table in enumerate(tables):
                report(done / (len(tables) + 1), f"exporting {table.name}")
                counts[table.name] = _table_csv(db, archive, table, tenant_id)
            archive.writestr("tenant.json", json.dumps({**about, "rows": counts}, indent=2, default=str))
        partial.rename(out_dir / name)
    finally:
        partial.unlink(missing_ok=True)
    report(1.0, "export ready")
    return out_dir / name


def _table_csv(db: Database, archive: zipfile.ZipFile, table: Table, tenant_id: int) -> int:
    rows = 0
    query = select(table).where(table.c.tenant_id == tenant_id)
    with db.session(system=True) as session, archive.open(f"{table.name}.csv", "w") as out:
        result = session.connection().execution_options(stream_results=True).execute(query)
        header = True
        while chunk := result.fetchmany(CHUNK_ROWS):
            frame = pd.DataFrame(chunk, columns=list(result.keys()))
            out.write(frame.to_csv(index=False, header=header).encode())
            header, rows = False, rows + len(frame)
        if header:
            out.write((",".join(result.keys()) + "\n").encode())
    return rows


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="tenant-export")


def export_link_token(settings: Settings, tenant_id: int, filename: str) -> str:
    return _serializer(settings).dumps({"t": tenant_id, "f": filename})


def open_export(settings: Settings, ctx: TenantContext, token: str) -> Path:
    """The export file a link names, for an owner or admin of its tenant while the link is young enough."""
    require_role(ctx, "admin")
    try:
        payload = _serializer(settings).loads(token, max_age=EXPORT_LINK_SECONDS)
    except SignatureExpired:
        raise Gone("this export link has expired; start a new export") from None
    except BadSignature:
        raise NotFound("no such export") from None
    filename = str(payload.get("f", ""))
    path = exports_dir(settings) / filename
    if payload.get("t") != ctx.tenant_id or "/" in filename or not path.is_file():
        raise NotFound("no such export")
    return path


def exports_dir(settings: Settings) -> Path:
    return Path(settings.instance_path) / "exports"


# -- deletion -----------------------------------------------------------------------------------------------------

def check_deletion(db: Database, ctx: TenantContext, typed_slug: str) -> Tenant:
    """Owners only, confirmed by typing the tenant's slug exactly; audited before the job removes everything."""
    require_role(ctx, "owner")
    with db.session(ctx.tenant_id) as s:
        tenant = s.get(Tenant, ctx.tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        if (typed_slug or "").strip() != tenant.slug:
            raise ValidationError(f"type the network's slug ({tenant.slug}) to confirm", {"slug": "does not match"})
        audit.record(s, ctx, "tenant.deletion_requested", "tenant", tenant.id)
        s.commit()
        s.expunge(tenant)
        return tenant


def _time_window(s, tenant_id: int) -> tuple[datetime, datetime] | None:
    """The span of the tenant's rows in every hypertable (whole days), which its continuous aggregates cover."""
    spans = []
    for table, column in s.execute(text("SELECT hypertable_name, column_name FROM timescaledb_information.dimensions "
                                        "WHERE dimension_type = 'Time'")).all():
        if table in {t.name for t in tenant_tables()}:
            spans.append(s.execute(text(f'SELECT min("{column}"), max("{column}") FROM {table} WHERE tenant_id = :t'),
                                   {"t": tenant_id}).one())
    firsts, lasts = [a for a, _ in spans if a is not None], [b for _, b in spans if b is not None]
    if not firsts:
        return None
    day = timedelta(days=1)
    first = datetime.combine(min(firsts).date(), datetime.min.time(), tzinfo=timezone.utc) - day
    return first, datetime.combine(max(lasts).date(), datetime.min.time(), tzinfo=timezone.utc) + 2 * day


def purge_tenant(db: Database, tenant_id: int, progress: Progress | None = None) -> dict[str, int]:
    """Delete every row the tenant owns in one transaction (children first), then the users who belonged to it
    alone, then the tenant; refresh TimescaleDB's continuous aggregates afterwards. Returns rows deleted per table."""
    report = progress or (lambda _f, _m: None)
    aggregates = _continuous_aggregates(db)
    tables = [t for t in reversed(_stored_tables(db, aggregates)) if t.name not in aggregates]
    deleted: dict[str, int] = {}
    with db.session(system=True) as s:
        if s.get(Tenant, tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        window = _time_window(s, tenant_id) if aggregates else None
        members = set(s.scalars(select(Membership.user_id).where(Membership.tenant_id == tenant_id)))
        for done, table in enumerate(tables):
            report(done / (len(tables) + 2), f"deleting {table.name}")
            deleted[table.name] = s.execute(delete(table).where(table.c.tenant_id == tenant_id)).rowcount or 0
        alone = [u for u in members
                 if not s.scalar(select(exists().where(Membership.user_id == u)))]
        if alone:
            deleted["users"] = s.execute(delete(User).where(User.id.in_(alone))).rowcount or 0
        deleted["tenants"] = s.execute(delete(Tenant).where(Tenant.id == tenant_id)).rowcount or 0
        s.commit()
    if window:
        report(0.95, "refreshing rollups")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in sorted(aggregates):
                conn.execute(text(f"CALL refresh_continuous_aggregate('{name}', :first, :last)"),
                             {"first": window[0], "last": window[1]})
    logger.info("tenant deleted", extra={"tenant_id": tenant_id, "rows": sum(deleted.values())})
    report(1.0, "deleted")
    return deleted
