"""The application factory: Flask server, Dash pages, blueprints, login protection. Wiring only."""
from __future__ import annotations

import logging
import sys
import threading

import dash
from flask import Flask

from api.account_links import init_account_links
from api.attribution import init_attribution
from api.auth import init_auth
from api.embed import init_embed
from api.exports import bp as api_exports
from api.framing import init_framing
from api.mfa import init_mfa
from api.cli import register_cli
from api.csrf import init_csrf
from api.observability import init_observability
from api.openapi import bp as api_docs
from api.privacy import init_privacy
from api.problems import init_problems
from api.ratelimit import init_rate_limits
from api.security_headers import init_security_headers
from api.sso import init_sso
from api.state import init_state, request_store
from api.tracking import init_tracking
from api.unavailable import init_unavailable
from api.v1 import bp as api_v1
from api.v1_attribution import bp as api_v1_attribution
from api.v1_campaigns import bp as api_v1_campaigns
from api.v1_matchmaking import bp as api_v1_matchmaking
from api.v1_webhooks import bp as api_v1_webhooks
from api.v1_embeds import bp as api_v1_embeds
from api.v1_insights_forecasts import bp as api_v1_insights_forecasts
from api.v1_insights import bp as api_v1_insights
from callbacks import register_all
from components.shell import INDEX_STRING, app_shell
from jobs import context
from jobs.events import watch as watch_events
from jobs.queues import get_redis, job_counts
from jobs.scheduler import run_in_process
from services import demo, migrate, tracing
from services.dashboards.cache import make_cache
from services.db import Database
from services.errors import ConfigError
from services.observability import configure_logging, make_metrics
from services.ops_metrics import read_ops
from services.settings import PROJECT_ROOT, Settings, load_settings
from jobs.attribution import RECORD_STORES

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, tracer_provider=None) -> Flask:
    """`tracer_provider` turns tracing on with that provider (tests); otherwise the OTEL_* settings decide."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    if settings.secret_key_generated:
        logger.warning("SECRET_KEY is not set: using a generated key kept in %s", settings.instance_path)
    server = Flask(__name__, instance_path=str(settings.instance_path))
    server.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
    )
    migrate.upgrade(settings.database_url, app_role=settings.db_app_role, worker_role=settings.db_worker_role)
    cache = make_cache(settings.dashboard_cache, settings.database_url,
                       get_redis(settings) if settings.redis_url else None)
    db = Database(settings.database_url, settings.db_app_role, worker_role=settings.db_worker_role,
                  read_url=settings.database_read_url, cache=cache, request_store=request_store)
    init_state(server, settings, db)
    context.set_settings(settings)  # jobs run in this process (no REDIS_URL) run as the workers would
    if db.is_postgres:  # as the worker role, like an RQ worker; the web's own commits still enqueue their events
        jobs_db = Database(settings.database_url, settings.db_worker_role, worker_role=settings.db_worker_role,
                           cache=cache)
        db.companions.append(jobs_db)
        context.set_db(jobs_db)
        watch_events(db.engine)
    else:
        context.set_db(db)
    ops = (lambda: read_ops(db, get_redis(settings))) if settings.redis_url else (lambda: read_ops(db))
    init_observability(server, metrics=make_metrics(lambda: job_counts(settings), ops),
                       readiness_checks=_readiness_checks(settings, db), metrics_token=settings.metrics_token)
    init_csrf(server)
    init_auth(server)
    init_mfa(server)
    server.register_blueprint(api_v1)
    server.register_blueprint(api_v1_campaigns)
    server.register_blueprint(api_v1_attribution)
    server.register_blueprint(api_v1_matchmaking)
    server.register_blueprint(api_v1_webhooks)
    server.register_blueprint(api_v1_insights_forecasts)
    server.register_blueprint(api_v1_insights)
    server.register_blueprint(api_docs)
    init_problems(server)
    init_unavailable(server)
    server.register_blueprint(api_v1_embeds)
    init_rate_limits(server, settings, [api_v1, api_v1_campaigns, api_v1_attribution, api_v1_matchmaking,
                                        api_v1_webhooks, api_v1_insights_forecasts, api_v1_insights, api_exports, api_docs,
                                        api_v1_embeds])
    server.register_blueprint(api_exports)
    init_embed(server)
    init_framing(server)
    init_tracking(server, record_stores=RECORD_STORES)
    init_attribution(server)
    init_privacy(server)
    init_account_links(server)
    init_sso(server)
    register_cli(server)

    dash.page_registry.clear()
    dash_app = dash.Dash(__name__, server=server, use_pages=True, pages_folder=str(PROJECT_ROOT / "pages"),
                         assets_folder=str(PROJECT_ROOT / "assets"), title="Podcast Analytics",
                         index_string=INDEX_STRING)
    dash_app.layout = lambda: app_shell(list(dash.page_registry.values()), dash.page_container)
    register_all(dash_app)
    server.extensions["podcast_dash"] = dash_app  # its registries: pages and callbacks
    init_security_headers(server, dash_app, settings.trusted_proxies)
    provider = tracing.configure(settings.traces_exporter, tracer_provider, database=db)
    if provider is not None:
        tracing.instrument_app(server, dash_app, provider)
    return server


def _readiness_checks(settings: Settings, db: Database) -> dict:
    def database() -> None:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    checks = {"database": database}
    if settings.redis_url:
        checks["redis"] = lambda: get_redis(settings).ping()
    return checks


def main() -> None:
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc.message}")
    server = create_app(settings)
    seeded = demo.seed_demo(context.get_db(), settings.demo_password)  # as the jobs do: the worker role
    password_file = settings.instance_path / "demo_password"
    if seeded["password"]:  # generated once: keep it beside the database so later starts can print it again
        password_file.write_text(seeded["password"])
        password_file.chmod(0o600)
    password = settings.demo_password or (password_file.read_text() if password_file.exists() else "(as first printed)")
    if settings.is_embedded:  # no Redis, no scheduler process: periodic jobs run in a thread of this one
        threading.Thread(target=run_in_process, args=(settings,), name="scheduler", daemon=True).start()
    print(f"Podcast Analytics running at {settings.public_base_url}/", flush=True)
    print(f"Log in as {seeded['email']} with password {password}", flush=True)
    server.run(host=settings.host, port=settings.port, debug=False)


if __name__ == "__main__":
    main()
