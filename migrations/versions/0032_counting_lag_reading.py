"""counting lag in seconds: app_ops_reading() reports the oldest raw request that no count has seen yet (past each
tenant's last completed count, counting_state.updated_at) instead of the oldest counted-until mark, a day boundary
that could not show a lag within the day

Revision ID: 0032
Revises: 0031
"""
from alembic import context, op
from sqlalchemy import text

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

# As 0031: the function runs as the migrating owner with a fixed search_path, inside the policies' system clause for
# the length of its one query; PUBLIC may not call it, the two app roles may.
PREAMBLE = "VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp"
OPEN = "PERFORM set_config('app.system', 'on', true);"
CLOSE = "PERFORM set_config('app.system', was, true);"
SIGNATURE = "app_ops_reading()"

# Read at every /metrics scrape: one probe of ix_download_requests_tenant_ts per tenant (the first request after its
# last count), never a scan of the raw requests.
READING = """
CREATE OR REPLACE FUNCTION app_ops_reading() RETURNS TABLE(metric text, label text, value double precision)
LANGUAGE plpgsql {preamble} AS $$
DECLARE was text := coalesce(current_setting('app.system', true), '');
BEGIN
  -- Counts only, no tenant's data: when the oldest request no count has seen yet arrived, and deliveries by status.
  {open}
  RETURN QUERY
  SELECT 'oldest_uncounted_request'::text, NULL::text, extract(epoch FROM min(w.ts))::double precision
    FROM tenants t LEFT JOIN counting_state c ON c.tenant_id = t.id
    CROSS JOIN LATERAL (SELECT r.ts FROM download_requests r
                         WHERE r.tenant_id = t.id AND r.ts > coalesce(c.updated_at, '-infinity'::timestamptz)
                         ORDER BY r.ts LIMIT 1) w
    HAVING min(w.ts) IS NOT NULL
  UNION ALL SELECT 'webhook_deliveries'::text, d.status::text, count(*)::double precision
    FROM webhook_deliveries d GROUP BY d.status
  UNION ALL SELECT 'emails'::text, e.status::text, count(*)::double precision FROM email_log e GROUP BY e.status;
  {close}
END $$"""

# 0031's reading, restored on downgrade.
PREVIOUS = """
CREATE OR REPLACE FUNCTION app_ops_reading() RETURNS TABLE(metric text, label text, value double precision)
LANGUAGE plpgsql {preamble} AS $$
DECLARE was text := coalesce(current_setting('app.system', true), '');
BEGIN
  -- Counts only, no tenant's data: the oldest counting position, and deliveries by status.
  {open}
  RETURN QUERY
  SELECT 'oldest_counted_until'::text, NULL::text, extract(epoch FROM min(c.counted_until))::double precision
    FROM counting_state c HAVING min(c.counted_until) IS NOT NULL
  UNION ALL SELECT 'webhook_deliveries'::text, d.status::text, count(*)::double precision
    FROM webhook_deliveries d GROUP BY d.status
  UNION ALL SELECT 'emails'::text, e.status::text, count(*)::double precision FROM email_log e GROUP BY e.status;
  {close}
END $$"""


def _roles() -> tuple[str, str]:
    attrs = context.config.attributes
    return attrs.get("app_role", "podcast_app"), attrs.get("worker_role", "podcast_worker")


def _create(sql: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite has one process role: services.lookups runs the same reading as a plain query
    schema = bind.execute(text("SELECT quote_ident(current_schema())")).scalar()
    op.execute(sql.format(preamble=PREAMBLE.format(schema=schema), open=OPEN, close=CLOSE))
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    for role in _roles():
        op.execute(f'GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{role}"')


def upgrade() -> None:
    _create(READING)


def downgrade() -> None:
    _create(PREVIOUS)
