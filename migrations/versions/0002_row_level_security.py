"""row-level security: an app role without BYPASSRLS and a forced tenant policy on every tenant-owned table

Revision ID: 0002
Revises: 0001
"""
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copy of the tenant-owned tables at this revision (later revisions add their own).
TABLES = (
    "tenants", "memberships", "sponsors", "podcasts", "episodes", "campaigns", "placements",
    "api_keys", "audit_log",
)
# A row is visible when it belongs to the transaction's tenant, or to a declared cross-tenant system task.
VISIBLE = (
    "(current_setting('app.system', true) = 'on' OR {col} = "
    "NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
)


def _role() -> str:
    return context.config.attributes.get("app_role", "podcast_app")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has only the service-layer wall
    role = _role()
    op.execute(f"""
        DO $$
        DECLARE me record;
        BEGIN
          SELECT rolsuper, rolcreaterole INTO me FROM pg_roles WHERE rolname = current_user;
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            IF me.rolsuper OR me.rolcreaterole THEN
              CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
          END IF;
          IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', '{role}');
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', '{role}');
            EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', '{role}');
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', '{role}');
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I', '{role}');
            -- Membership lets a BYPASSRLS login SET ROLE to the app role (services.db). On a shared cluster the
            -- role may predate this database and the owner may not be allowed to grant it: then it is skipped here
            -- (a plain owner runs under the forced policies itself); services.migrate names the GRANT when needed.
            IF NOT me.rolsuper AND current_user <> '{role}' AND NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
              BEGIN
                EXECUTE format('GRANT %I TO %I', '{role}', current_user);
              EXCEPTION WHEN insufficient_privilege THEN
                RAISE NOTICE 'role % not granted to %: no admin option on it', '{role}', current_user;
              END;
            END IF;
          END IF;
        END $$;
    """)
    for table in TABLES:
        col = "id" if table == "tenants" else "tenant_id"
        cond = VISIBLE.format(col=col)
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING {cond} WITH CHECK {cond}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
