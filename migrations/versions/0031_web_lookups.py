"""web lookups: the few questions the web must answer before it knows the tenant (whose API key, embed, prefix,
tracking link, pixel or account link is this; which tenants is this user in, or hold traces of a user being erased;
the operators' gauges) answered by
narrow SECURITY DEFINER functions, so the web login needs no membership of the worker role and no cross-tenant mode

Revision ID: 0031
Revises: 0030
"""
from alembic import context, op
from sqlalchemy import text

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

# Each function runs as the migrating owner with a fixed search_path, inside the policies' system clause for the
# length of its one query (the owner holds the worker role: 0030 granted it; a function's own SET clause for a custom
# setting would need a superuser to create it); PUBLIC may not call them, the two app roles may.
PREAMBLE = "VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp"
OPEN = "PERFORM set_config('app.system', 'on', true);"
CLOSE = "PERFORM set_config('app.system', was, true);"

FUNCTIONS = {
    "app_tenant_of(text, text)": """
CREATE FUNCTION app_tenant_of(p_kind text, p_key text) RETURNS bigint
LANGUAGE plpgsql {preamble} AS $$
DECLARE
  was text := coalesce(current_setting('app.system', true), '');
  found bigint;
BEGIN
  -- One tenant id for one secret or public key; nothing else of the row.
  IF p_kind NOT IN ('api_key', 'embed', 'prefix', 'link', 'pixel', 'account_token', 'invite_email') THEN
    RAISE EXCEPTION 'unknown lookup kind %', p_kind USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_key IS NULL OR (p_kind = 'embed' AND p_key !~ '^[0-9]{{1,18}}$') THEN
    RETURN NULL;
  END IF;
  {open}
  IF p_kind = 'api_key' THEN
    found := (SELECT tenant_id FROM api_keys WHERE key_hash = p_key);
  ELSIF p_kind = 'embed' THEN
    found := (SELECT tenant_id FROM embeds WHERE id = p_key::bigint);
  ELSIF p_kind = 'prefix' THEN
    found := (SELECT tenant_id FROM podcasts WHERE prefix_key = p_key);
  ELSIF p_kind = 'link' THEN
    found := (SELECT tenant_id FROM tracking_links WHERE code = p_key);
  ELSIF p_kind = 'pixel' THEN
    found := (SELECT tenant_id FROM sponsors WHERE pixel_key = p_key);
  ELSIF p_kind = 'account_token' THEN
    found := (SELECT tenant_id FROM account_tokens WHERE token_hash = p_key);
  ELSE  -- invite_email: the newest pending, unexpired invitation of that address
    found := (SELECT tenant_id FROM account_tokens WHERE email = p_key AND purpose = 'invite' AND used_at IS NULL
              AND expires_at > now() ORDER BY id DESC LIMIT 1);
  END IF;
  {close}
  RETURN found;
END $$""",
    "app_user_memberships(bigint)": """
CREATE FUNCTION app_user_memberships(p_user bigint)
RETURNS TABLE(membership_id bigint, tenant_id bigint, slug text, name text, role text, sponsor_id bigint)
LANGUAGE plpgsql {preamble} AS $$
DECLARE was text := coalesce(current_setting('app.system', true), '');
BEGIN
  {open}
  RETURN QUERY SELECT m.id, m.tenant_id, t.slug::text, t.name::text, m.role::text, m.sponsor_id
    FROM memberships m JOIN tenants t ON t.id = m.tenant_id
    WHERE m.user_id = p_user ORDER BY t.name, m.id;
  {close}
END $$""",
    "app_user_traces(bigint, text)": """
CREATE FUNCTION app_user_traces(p_user bigint, p_email text) RETURNS SETOF bigint
LANGUAGE plpgsql {preamble} AS $$
DECLARE was text := coalesce(current_setting('app.system', true), '');
BEGIN
  -- The tenants holding anything of a user being erased (services.user_deletion's tables), so the web erases
  -- tenant by tenant under each one's policy: ids only.
  {open}
  RETURN QUERY
  SELECT m.tenant_id FROM memberships m WHERE m.user_id = p_user
  UNION SELECT a.tenant_id FROM audit_log a WHERE a.user_id = p_user OR (a.entity_type = 'user' AND a.entity_id = p_user)
    OR strpos(lower(a.detail::text), p_email) > 0
  UNION SELECT n.tenant_id FROM notifications n WHERE n.user_id = p_user OR strpos(lower(n.title), p_email) > 0
    OR strpos(lower(n.body), p_email) > 0
  UNION SELECT p.tenant_id FROM notification_preferences p WHERE p.user_id = p_user
  UNION SELECT r.tenant_id FROM report_runs r WHERE r.user_id = p_user
  UNION SELECT r.tenant_id FROM report_subscriptions r WHERE r.user_id = p_user
  UNION SELECT t.tenant_id FROM account_tokens t WHERE t.user_id = p_user OR t.created_by_user_id = p_user
    OR lower(t.email) = p_email
  UNION SELECT k.tenant_id FROM api_keys k WHERE k.created_by_user_id = p_user
  UNION SELECT e.tenant_id FROM embeds e WHERE e.created_by_user_id = p_user
  UNION SELECT w.tenant_id FROM webhook_endpoints w WHERE w.created_by_user_id = p_user
  UNION SELECT r.tenant_id FROM alert_rules r WHERE r.created_by_user_id = p_user
    OR r.recipients::jsonb @> to_jsonb(p_user)
  UNION SELECT e.tenant_id FROM email_log e WHERE lower(e.to_address) = p_email OR strpos(lower(e.subject), p_email) > 0
    OR strpos(lower(e.text_body), p_email) > 0 OR strpos(lower(e.html_body), p_email) > 0
  UNION SELECT s.tenant_id FROM sponsors s WHERE lower(s.contact_email) = p_email;
  {close}
END $$""",
    "app_ops_reading()": """
CREATE FUNCTION app_ops_reading() RETURNS TABLE(metric text, label text, value double precision)
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
END $$""",
}


def _roles() -> tuple[str, str]:
    attrs = context.config.attributes
    return attrs.get("app_role", "podcast_app"), attrs.get("worker_role", "podcast_worker")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite has one process role: the services run the same lookups as plain queries
    schema = bind.execute(text("SELECT quote_ident(current_schema())")).scalar()
    preamble = PREAMBLE.format(schema=schema)
    for signature, sql in FUNCTIONS.items():
        op.execute(sql.format(preamble=preamble, open=OPEN, close=CLOSE))
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        for role in _roles():
            op.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{role}"')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
