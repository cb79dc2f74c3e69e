"""database roles: a worker role for ingestion, counting, rollups and cross-tenant work; the web role loses every
privilege on the base time-series tables (it reads them through the tenant views) and its `app.system` no longer
opens any policy

Revision ID: 0030
Revises: 0029
"""
from alembic import context, op
from sqlalchemy import text

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

SYSTEM = "(current_setting('app.system'::text, true) = 'on'::text)"  # as PostgreSQL prints 0002's condition
# Appends only: the conversions API and the pixel record conversions as the web role; reading them back is the view's.
WEB_APPENDS = ("attribution_events",)


def _roles() -> tuple[str, str]:
    attrs = context.config.attributes
    return attrs.get("app_role", "podcast_app"), attrs.get("worker_role", "podcast_worker")


def _worker_only(condition: str, worker: str) -> str:
    return condition.replace(SYSTEM, f"({SYSTEM} AND pg_has_role('{worker}'::name, 'MEMBER'::text))")


def _rewrite_policies(bind, transform) -> None:
    """Every policy that reads `app.system`, with `transform` applied to its USING and WITH CHECK conditions."""
    policies = bind.execute(text(
        "SELECT tablename, policyname, qual, with_check FROM pg_policies WHERE schemaname = current_schema() "
        "AND (qual LIKE '%app.system%' OR with_check LIKE '%app.system%')")).all()
    for table, name, qual, check in policies:
        clauses = f" USING ({transform(qual)})" if qual else ""
        clauses += f" WITH CHECK ({transform(check)})" if check else ""
        op.execute(f'ALTER POLICY "{name}" ON "{table}"{clauses}')


def _series(bind) -> list[str]:
    """The time-series relations: those with a `tenant_<name>` view (hypertables, rollups, continuous aggregates)."""
    return [row[0] for row in bind.execute(text(
        "SELECT substr(v.viewname, 8) FROM pg_views v WHERE v.schemaname = current_schema() "
        "AND v.viewname LIKE 'tenant\\_%' AND (EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = "
        "c.relnamespace WHERE n.nspname = current_schema() AND c.relname = substr(v.viewname, 8))) "
        "ORDER BY 1"))]


def _exists(bind, role: str) -> bool:
    return bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is not None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite has one process role and the service-layer wall
    app, worker = _roles()
    op.execute(f"""
        DO $$
        DECLARE me record;
        BEGIN
          SELECT rolsuper, rolcreaterole INTO me FROM pg_roles WHERE rolname = current_user;
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{worker}') AND (me.rolsuper OR me.rolcreaterole) THEN
            CREATE ROLE "{worker}" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          END IF;
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{worker}') THEN
            RAISE EXCEPTION 'role {worker} does not exist and % may not create it', current_user;
          END IF;
          IF NOT me.rolsuper AND current_user <> '{worker}' AND NOT pg_has_role(current_user, '{worker}', 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', '{worker}', current_user);  -- services.migrate checked it may
          END IF;
        END $$;
    """)
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{worker}"')
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{worker}"')
    op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{worker}"')
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{worker}"')
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "{worker}"')
    # TimescaleDB's own catalog: refreshing continuous aggregates and reading chunk metadata as the worker.
    if bind.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = '_timescaledb_internal'")).first():
        for schema in ("_timescaledb_internal", "_timescaledb_catalog", "_timescaledb_functions", "timescaledb_information"):
            if bind.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first():
                op.execute(f'GRANT USAGE ON SCHEMA {schema} TO "{worker}"')
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA _timescaledb_internal TO "{worker}"')

    _rewrite_policies(bind, lambda condition: _worker_only(condition, worker))

    if _exists(bind, app):
        for relation in _series(bind):
            op.execute(f'REVOKE ALL ON "{relation}" FROM "{app}"')
            if relation in WEB_APPENDS:
                op.execute(f'GRANT INSERT ON "{relation}" TO "{app}"')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    app, worker = _roles()
    _rewrite_policies(bind, lambda condition: condition.replace(_worker_only(SYSTEM, worker), SYSTEM))
    if _exists(bind, app):
        for relation in _series(bind):
            op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{relation}" TO "{app}"')
