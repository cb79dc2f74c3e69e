"""Operator commands under `flask --app app ...`: schema, tenants, users, API keys, demo data."""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from api.state import app_state
from jobs import context as job_context
from services import accounts, api_keys, demo, mfa, migrate
from services.catalog import podcasts
from services.catalog.prefix import own_hosts
from services.measurement import counting, engines, log_import
from services.errors import ServiceError
from services.sponsorship.attribution import results as attribution_results
from services.tenancy import TenantContext

db_cli = AppGroup("db", help="Database schema migrations.")


def _fail(exc: ServiceError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(1)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the schema up to REVISION (default: head)."""
    settings = app_state().settings
    migrate.upgrade(settings.database_url, revision, settings.db_app_role, settings.db_worker_role)
    click.echo(f"database at revision {migrate.current_revision(settings.database_url)}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the schema down to REVISION ('base' removes everything)."""
    settings = app_state().settings
    migrate.downgrade(settings.database_url, revision, settings.db_app_role, settings.db_worker_role)
    click.echo(f"database at revision {migrate.current_revision(settings.database_url)}")


@db_cli.command("current")
def db_current() -> None:
    """Print the schema revision."""
    click.echo(migrate.current_revision(app_state().settings.database_url) or "empty")


def operator_db():
    """Operator commands do the workers' work (imports, counting, seeding, cross-tenant lookups): on PostgreSQL as
    the worker role, through the database this process's jobs use."""
    return job_context.get_db()


@click.command("create-tenant")
@with_appcontext
@click.argument("slug")
@click.argument("name")
def create_tenant(slug: str, name: str) -> None:
    """Create a tenant (a podcast network) with a URL-safe SLUG and a display NAME."""
    try:
        tenant = accounts.create_tenant(operator_db(), slug, name)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"created tenant {tenant.slug} (id {tenant.id})")


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--tenant", "tenant_slug", required=True, help="Slug of the tenant to join.")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES), help="Role inside the tenant.")
@click.option("--password", default=None, help="Password (generated and printed when omitted).")
@click.option("--sponsor-id", type=int, default=None, help="For role sponsor: the sponsor this user represents.")
def create_user(email: str, tenant_slug: str, role: str, password: str | None, sponsor_id: int | None) -> None:
    """Create a user (or add an existing one) to a tenant with a role."""
    try:
        user, generated = accounts.create_user(operator_db(), email, tenant_slug, role, password, sponsor_id)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"user {user.email} is {role} in {tenant_slug}")
    if generated:
        click.echo(f"password: {generated}")


@click.command("create-api-key")
@with_appcontext
@click.option("--tenant", "tenant_slug", required=True, help="Slug of the tenant the key acts for.")
@click.option("--name", default="", help="A label to recognise the key by.")
@click.option("--scope", "scopes", multiple=True, default=("read",), show_default=True,
              type=click.Choice(api_keys.SCOPES), help="Repeat for several scopes.")
def create_api_key(tenant_slug: str, name: str, scopes: tuple[str, ...]) -> None:
    """Create an API key and print it; it is shown this once and stored only hashed."""
    db = operator_db()
    try:
        tenant = accounts.get_tenant_by_slug(db, tenant_slug)
        operator = TenantContext(tenant_id=tenant.id, role="owner", tenant_slug=tenant.slug)
        info, plaintext = api_keys.create_api_key(db, operator, name, tuple(scopes))
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"API key {info.id} for {tenant_slug} (scopes: {', '.join(info.scopes)}):")
    click.echo(plaintext)


@click.command("revoke-api-key")
@with_appcontext
@click.option("--tenant", "tenant_slug", required=True)
@click.argument("key_id", type=int)
def revoke_api_key(tenant_slug: str, key_id: int) -> None:
    """Revoke an API key by id."""
    db = operator_db()
    try:
        tenant = accounts.get_tenant_by_slug(db, tenant_slug)
        api_keys.revoke_api_key(db, TenantContext(tenant_id=tenant.id, role="owner"), key_id)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"revoked API key {key_id}")


@click.command("configure-tenant")
@with_appcontext
@click.argument("slug")
@click.option("--dedupe-window", type=click.Choice(accounts.DEDUPE_WINDOWS), default=None,
              help="How repeat requests of one episode by one listener are merged (IAB v2.3).")
@click.option("--timezone", default=None, help="IANA time zone for the tenant's dashboards, e.g. Europe/Berlin.")
def configure_tenant(slug: str, dedupe_window: str | None, timezone: str | None) -> None:
    """Change a tenant's measurement settings."""
    try:
        tenant = accounts.configure_tenant(operator_db(), slug, dedupe_window, timezone)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{tenant.slug}: dedupe window {tenant.dedupe_window}, time zone {tenant.timezone}")
    if dedupe_window:
        click.echo("recount to apply it to past days: flask --app app count-downloads --tenant "
                   f"{tenant.slug} --from YYYY-MM-DD")


@click.command("count-downloads")
@with_appcontext
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First UTC day to (re)count.")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last UTC day to (re)count.")
def count_downloads_command(tenant_slug: str, first, last) -> None:
    """Count raw requests into downloads and rollups (default: since the last count). Safe to repeat."""
    db = operator_db()
    try:
        tenant = accounts.get_tenant_by_slug(db, tenant_slug)
        with engines.open_engine(app_state().settings.counting_engine) as engine:
            report = counting.count_downloads(db, tenant.id, first and first.date(), last and last.date(),
                                              engine=engine)
    except ServiceError as exc:
        _fail(exc)
    if report.first_day is None:
        click.echo("no raw requests to count")
        return
    click.echo(f"{tenant_slug}: {report.requests} requests on {report.first_day}..{report.last_day} -> "
               f"{report.downloads} downloads")
    for reason, count in sorted(report.dropped.items(), key=lambda kv: -kv[1]):
        click.echo(f"  dropped {count}: {reason}")


@click.command("attribute")
@with_appcontext
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--campaign", "campaign_id", type=int, default=None, help="One campaign (default: every campaign with "
              "placements).")
def attribute_command(tenant_slug: str, campaign_id: int | None) -> None:
    """Match conversions to exposed households and credit them under every model, now. Safe to repeat."""
    db = operator_db()
    try:
        tenant = accounts.get_tenant_by_slug(db, tenant_slug)
        ids = [campaign_id] if campaign_id is not None else attribution_results.campaigns_to_attribute(db, tenant.id)
        if not ids:
            click.echo(f"{tenant_slug}: no campaign with placements to attribute")
        for cid in ids:
            c = attribution_results.attribute_campaign(db, tenant.id, cid).counts
            lift = c["lift"]
            click.echo(f"{tenant_slug}: campaign {cid}: {c['conversions']} conversions matched "
                       f"({c['households_reached']} households reached, {c['exposures']} exposures), revenue "
                       f"{c['revenue']:.2f}; promo-code conversions {c['promo_code_conversions']} "
                       f"({c['promo_code_only_conversions']} not matched); usable IP share "
                       + ("n/a" if c["usable_ip_share"] is None else f"{c['usable_ip_share']:.0%}")
                       + (" (warning: below 20%)" if c["usable_ip_warning"] else ""))
            click.echo(f"  lift: {lift['message']}")
    except ServiceError as exc:
        _fail(exc)


@click.command("import-feed")
@with_appcontext
@click.argument("source")
@click.option("--tenant", "tenant_slug", required=True)
def import_feed_command(source: str, tenant_slug: str) -> None:
    """Import a podcast feed (an http(s) URL or a file) into a tenant's catalog; run again to update it."""
    state = app_state()
    try:
        tenant = accounts.get_tenant_by_slug(operator_db(), tenant_slug)
        operator = TenantContext(tenant_id=tenant.id, role="owner", tenant_slug=tenant.slug)
        result = podcasts.import_feed(operator_db(), operator, source, own_hosts=own_hosts(state.settings))
    except ServiceError as exc:
        _fail(exc)
    verb = "created" if result.new_podcast else "updated"
    click.echo(f"{verb} podcast {result.podcast_id} “{result.title}”: {result.created} new episodes, "
               f"{result.updated} updated, {result.unchanged} unchanged")
    for warning in result.warnings:
        click.echo(f"  warning: {warning}")


@click.command("import-logs")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--format", "fmt", required=True, type=click.Choice(["combined", "cloudfront", "csv"]))
@click.option("--host", default=None, help="Media host for log lines whose URL has none (e.g. media.example.com).")
@click.option("--no-count", is_flag=True, help="Only store the requests; count later.")
def import_logs_command(path: str, tenant_slug: str, fmt: str, host: str | None, no_count: bool) -> None:
    """Import an access log into raw requests (once per file), then count the days it covers."""
    db = operator_db()
    try:
        tenant = accounts.get_tenant_by_slug(db, tenant_slug)
        operator = TenantContext(tenant_id=tenant.id, role="owner", tenant_slug=tenant.slug)
        report = log_import.import_log(db, operator, path, fmt, host)
    except ServiceError as exc:
        _fail(exc)
    if report.already_imported:
        click.echo(f"{report.filename} was already imported (import {report.import_id}); nothing counted twice")
        return
    click.echo(f"{report.filename}: {report.lines} lines, {report.imported} requests stored, "
               f"{report.unmatched} matched no episode, {report.rejected} bad lines")
    for error in report.errors[:20]:
        click.echo(f"  line {error['line']}: {error['reason']}: {error['text']}")
    if report.rejected > 20:
        click.echo(f"  ... and {report.rejected - 20} more bad lines")
    if report.imported and not no_count:
        counted = counting.count_downloads(db, tenant.id, report.first_day, report.last_day)
        click.echo(f"counted {counted.downloads} downloads on {counted.first_day}..{counted.last_day}")


@click.command("seed-demo")
@with_appcontext
@click.option("--password", default=None, help="Demo password (default: DEMO_PASSWORD, else generated).")
def seed_demo(password: str | None) -> None:
    """Create the Demo Network tenant and its data (does nothing if it exists)."""
    state = app_state()
    result = demo.seed_demo(operator_db(), password or state.settings.demo_password)
    if not result["created"]:
        click.echo("demo tenant already exists")
        return
    click.echo(f"seeded demo tenant: {result['episodes']} episodes, {result['downloads']} downloads")
    click.echo(f"login: {result['email']}" + (f" / {result['password']}" if result["password"] else ""))


@click.command("reset-mfa")
@with_appcontext
@click.argument("email")
def reset_mfa(email: str) -> None:
    """Turn two-factor sign-in off for a user who lost their device and recovery codes (they sign in with the
    password alone, or set it up again; a network that requires it sends them to set-up)."""
    try:
        mfa.reset(operator_db(), email)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"two-factor sign-in is off for {email.strip().lower()}")


def register_cli(server: Flask) -> None:
    server.cli.add_command(db_cli)
    for command in (create_tenant, create_user, create_api_key, revoke_api_key, seed_demo, configure_tenant,
                    count_downloads_command, import_feed_command, import_logs_command, attribute_command, reset_mfa):
        server.cli.add_command(command)
