"""Settings: every environment variable the product reads, parsed and validated in one place."""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from services.errors import ConfigError

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    log_level: str = "INFO"
    public_base_url: str = "http://127.0.0.1:8050"
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8050
    instance_path: Path = PROJECT_ROOT / "instance"
    demo_password: str | None = None
    # Role the app's sessions run as on PostgreSQL; it has no BYPASSRLS, so row-level security holds.
    db_app_role: str = "podcast_app"
    db_worker_role: str = "podcast_worker"
    # A live campaign that has delivered under this share of its expected delivery to date is under pacing.
    alert_pacing_behind: float = 0.9
    # Webhooks: whether endpoints may resolve to loopback/private addresses (tests, closed networks), and how long
    # one delivery attempt may take.
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = 15.0
    # Outgoing email: smtp://[user:pass@]host[:port] (STARTTLS when offered) or smtps://; None writes .eml files
    # to instance/outbox/ instead.
    smtp_url: str | None = None
    mail_from: str = "Podcast Analytics <noreply@localhost>"
    # Chromium that kaleido drives to draw report charts; None: kaleido's own lookup (BROWSER_PATH, then PATH)
    chart_browser_path: str | None = None
    # Where counting's rules run: "local" (this process) or a Dask scheduler, "tcp://host:port".
    counting_engine: str = "local"
    # The optional language-model writer of summaries (unset base URL: the template writer only).
    llm_base_url: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = 10.0
    # OpenTelemetry tracing: "otlp" or "console" when the standard OTEL_* variables ask for it, else None (off).
    # The SDK itself reads the rest (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, ...).
    traces_exporter: str | None = None
    # /api rate limits (flask-limiter notation): per API key, and per client IP for requests without a key.
    api_rate_limit: str = "600/minute"
    api_anon_rate_limit: str = "60/minute"
    # Sign-in attempts (POST /login) per client IP, flask-limiter notation; per account a backoff applies as well.
    login_rate_limit_ip: str = "30/minute"
    # A signed-in session idle longer than this many minutes is signed out; 0 turns the idle timeout off.
    session_idle_minutes: int = 120
    # Keys that sign embed links, newest first, as (key id, secret): the first signs, all verify (rotation). Empty:
    # one key derived from SECRET_KEY (see `embed_keys`).
    embed_signing_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # A read replica of DATABASE_URL for dashboard and API reads (None: every read goes to the primary).
    database_read_url: str | None = field(default=None, repr=False)
    # The dashboards' answer cache: auto (Redis with REDIS_URL, memory without), off, memory or redis.
    dashboard_cache: str = "auto"
    # When set, /metrics answers only `Authorization: Bearer <this token>` (a scraper's credential); None: open.
    metrics_token: str | None = field(default=None, repr=False)
    # Single sign-on with an OpenID Connect provider: all None turns it off (no button, its routes answer 404).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    oidc_name: str = "SSO"
    oidc_timeout_seconds: float = 10.0
    # Days conversions (attribution events and their touchpoints) are kept where a tenant sets nothing; None: kept.
    conversion_retention_days: int | None = None
    secret_key_generated: bool = field(default=False, compare=False)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_embedded(self) -> bool:
        """Embedded mode: no Redis, jobs run in-process."""
        return self.redis_url is None

    @property
    def embed_keys(self) -> tuple[tuple[str, str], ...]:
        """EMBED_SIGNING_KEYS, or one key (id "s0") derived from SECRET_KEY, so embed links need no set-up."""
        if self.embed_signing_keys:
            return self.embed_signing_keys
        return (("s0", hashlib.sha256(b"embed-signing:" + self.secret_key.encode()).hexdigest()),)

    @property
    def sso_enabled(self) -> bool:
        return self.oidc_issuer is not None

    @property
    def session_cookie_secure(self) -> bool:
        return self.public_base_url.startswith("https://")


def _parse_database_url(value: str) -> str:
    scheme = value.split(":", 1)[0]
    if scheme not in ("sqlite", "postgresql", "postgresql+psycopg"):
        raise ConfigError("DATABASE_URL", f"unsupported scheme {scheme!r}; use sqlite:/// or postgresql+psycopg://")
    if scheme == "postgresql":  # the driver we ship is psycopg 3
        value = "postgresql+psycopg" + value[len("postgresql"):]
    return value


def _parse_read_url(value: str | None, database_url: str) -> str | None:
    if not value:
        return None
    value = _parse_database_url(value)
    if value.startswith("sqlite") != database_url.startswith("sqlite"):
        raise ConfigError("DATABASE_READ_URL", "must be the same kind of database as DATABASE_URL")
    return value


def _parse_dashboard_cache(value: str, redis_url: str | None) -> str:
    mode = (value or "auto").strip().lower()
    if mode not in ("auto", "off", "memory", "redis"):
        raise ConfigError("DASHBOARD_CACHE", f"expected auto, off, memory or redis, got {value!r}")
    if mode == "redis" and redis_url is None:
        raise ConfigError("DASHBOARD_CACHE", "redis needs REDIS_URL")
    if mode == "memory" and redis_url is not None:  # workers in other processes could not move its generations
        raise ConfigError("DASHBOARD_CACHE", "memory is for the embedded mode; with REDIS_URL use redis (or off)")
    return mode


def _parse_counting_engine(value: str) -> str:
    value = value.strip()
    if value.lower() == "local":
        return "local"
    parsed = urlparse(value)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != "tcp" or not parsed.hostname or not port or parsed.path not in ("", "/") \
            or parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise ConfigError("COUNTING_ENGINE", f"expected local or a Dask scheduler address tcp://host:port, "
                                             f"got {value!r}")
    return f"tcp://{parsed.netloc}"


def _parse_redis_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("redis", "rediss", "unix") or (parsed.scheme != "unix" and not parsed.hostname):
        raise ConfigError("REDIS_URL", f"expected redis://host:port/db, got {value!r}")
    return value


def _parse_smtp_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname:
        raise ConfigError("SMTP_URL", f"expected smtp://[user:pass@]host[:port] or smtps://..., got {parsed.scheme!r}"
                                      f" URL with host {parsed.hostname!r}")
    try:
        parsed.port
    except ValueError:
        raise ConfigError("SMTP_URL", "the port is not a number in 1-65535") from None
    return value


def _parse_mail_from(value: str) -> str:
    if "@" not in value or "\n" in value or "\r" in value:
        raise ConfigError("MAIL_FROM", f"expected an address such as 'Podcast Analytics <noreply@example.com>', "
                                       f"got {value!r}")
    return value


def _parse_browser_path(value: str | None) -> str | None:
    if not value:
        return None
    if not Path(value).is_file():
        raise ConfigError("CHART_BROWSER_PATH", f"no browser executable at {value!r}")
    return value


def _parse_base_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError("PUBLIC_BASE_URL", f"expected an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _parse_proxies(value: str) -> tuple:
    networks = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError("TRUSTED_PROXIES", f"{item!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def _parse_port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError("PORT", f"expected a number, got {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError("PORT", f"{port} is outside 1-65535")
    return port


def _parse_share(name: str, value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise ConfigError(name, f"expected a number between 0 and 1, got {value!r}") from None
    if not 0 < share <= 1:
        raise ConfigError(name, f"{share} is outside (0, 1]")
    return share


def _parse_bool(name: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"expected true or false, got {value!r}")


def _parse_seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(name, f"expected a number of seconds, got {value!r}") from None
    if not 0 < seconds <= 300:
        raise ConfigError(name, f"{seconds} is outside (0, 300] seconds")
    return seconds


def _parse_llm_base_url(value: str | None) -> str | None:
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError("LLM_BASE_URL", f"expected an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _parse_rate_limit(name: str, value: str) -> str:
    from limits import parse_many  # flask-limiter's own parser, so a value that loads here loads there

    try:
        if not parse_many(value):
            raise ValueError
    except ValueError:
        raise ConfigError(name, f"expected a rate such as '600/minute' or '10 per second', got {value!r}") from None
    return value


def _parse_minutes(name: str, value: str) -> int:
    try:
        minutes = int(value)
    except ValueError:
        raise ConfigError(name, f"expected a whole number of minutes (0 for off), got {value!r}") from None
    if not 0 <= minutes <= 60 * 24 * 30:
        raise ConfigError(name, f"{minutes} is outside 0-43200 minutes (30 days)")
    return minutes


def _parse_retention_days(name: str, value: str | None) -> int | None:
    if not value:
        return None
    try:
        days = int(value)
    except ValueError:
        raise ConfigError(name, f"expected a whole number of days (unset: kept), got {value!r}") from None
    if not 30 <= days <= 3650:
        raise ConfigError(name, f"{days} is outside 30-3650 days")
    return days


def _parse_embed_keys(value: str) -> tuple[tuple[str, str], ...]:
    """`id:secret,id:secret` newest first; ids are short words, secrets at least 16 characters."""
    keys: list[tuple[str, str]] = []
    for index, item in enumerate(filter(None, (part.strip() for part in value.split(",")))):
        kid, sep, secret = item.partition(":")
        if not sep or not kid or not secret:
            raise ConfigError("EMBED_SIGNING_KEYS", f"item {index + 1} is not id:secret")
        if not kid.replace("-", "").replace("_", "").isalnum() or len(kid) > 16:
            raise ConfigError("EMBED_SIGNING_KEYS", f"item {index + 1}: key id {kid!r} must be up to 16 letters, "
                                                    "digits, - or _")
        if len(secret) < 16:
            raise ConfigError("EMBED_SIGNING_KEYS", f"item {index + 1} (key {kid!r}): the secret must be at least 16 "
                                                    "characters")
        if kid in (k for k, _ in keys):
            raise ConfigError("EMBED_SIGNING_KEYS", f"key id {kid!r} appears twice")
        keys.append((kid, secret))
    return tuple(keys)


def _parse_metrics_token(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) < 16 or any(c.isspace() for c in value) or not value.isascii():
        raise ConfigError("METRICS_TOKEN", "must be at least 16 characters, ASCII, without spaces")
    return value


OIDC_VARIABLES = ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_NAME", "OIDC_TIMEOUT_SECONDS")


def _parse_oidc(env: Mapping[str, str]) -> dict:
    """OIDC_ISSUER turns single sign-on on and needs a client id and secret; the others alone are a mistake."""
    issuer = (env.get("OIDC_ISSUER") or "").strip()
    if not issuer:
        stray = next((name for name in OIDC_VARIABLES if env.get(name)), None)
        if stray:
            raise ConfigError("OIDC_ISSUER", f"{stray} is set but single sign-on is off without OIDC_ISSUER")
        return {}
    parsed = urlparse(issuer)
    loopback = parsed.hostname in ("localhost", "127.0.0.1", "::1")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback) or not parsed.hostname \
            or parsed.query or parsed.fragment:
        raise ConfigError("OIDC_ISSUER", f"expected the provider's https:// issuer URL (http:// only on this machine), "
                                         f"got {issuer!r}")
    client_id = (env.get("OIDC_CLIENT_ID") or "").strip()
    if not client_id:
        raise ConfigError("OIDC_CLIENT_ID", "required when OIDC_ISSUER is set")
    secret = env.get("OIDC_CLIENT_SECRET") or ""
    if not secret:
        raise ConfigError("OIDC_CLIENT_SECRET", "required when OIDC_ISSUER is set")
    name = (env.get("OIDC_NAME") or "SSO").strip()
    if not name or len(name) > 40 or any(not c.isprintable() for c in name):
        raise ConfigError("OIDC_NAME", "must be 1-40 printable characters (the sign-in button's label)")
    return {"oidc_issuer": issuer, "oidc_client_id": client_id, "oidc_client_secret": secret,
            "oidc_name": name,
            "oidc_timeout_seconds": _parse_seconds("OIDC_TIMEOUT_SECONDS", env.get("OIDC_TIMEOUT_SECONDS") or "10")}


def _secret_key(instance_path: Path, value: str | None) -> tuple[str, bool]:
    if value:
        if len(value) < 16:
            raise ConfigError("SECRET_KEY", "must be at least 16 characters")
        return value, False
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip(), True
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key, True


def _parse_role(name: str, role: str) -> str:
    if not role.replace("_", "").isalnum():
        raise ConfigError(name, f"{role!r} is not a plain SQL identifier")
    return role


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from the environment (or a given mapping); raise ConfigError naming a bad variable."""
    env = dict(os.environ if env is None else env)
    instance_path = Path(env.get("INSTANCE_PATH") or PROJECT_ROOT / "instance")
    database_url = _parse_database_url(env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'podcast.db'}")
    redis_url = _parse_redis_url(env["REDIS_URL"]) if env.get("REDIS_URL") else None
    log_level = (env.get("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    host = env.get("HOST") or "127.0.0.1"
    port = _parse_port(env.get("PORT") or "8050")
    public_base_url = _parse_base_url(env.get("PUBLIC_BASE_URL") or f"http://{host}:{port}")
    role = _parse_role("DB_APP_ROLE", env.get("DB_APP_ROLE") or "podcast_app")
    worker_role = _parse_role("DB_WORKER_ROLE", env.get("DB_WORKER_ROLE") or "podcast_worker")
    if worker_role == role:
        raise ConfigError("DB_WORKER_ROLE", f"must differ from DB_APP_ROLE ({role!r}): the web role may not do the "
                                            "workers' cross-tenant work")
    secret_key, generated = _secret_key(instance_path, env.get("SECRET_KEY"))
    if database_url.startswith("sqlite"):
        instance_path.mkdir(parents=True, exist_ok=True)
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        log_level=log_level,
        public_base_url=public_base_url,
        trusted_proxies=_parse_proxies(env.get("TRUSTED_PROXIES") or ""),
        host=host,
        port=port,
        instance_path=instance_path,
        demo_password=env.get("DEMO_PASSWORD") or None,
        db_app_role=role,
        db_worker_role=worker_role,
        alert_pacing_behind=_parse_share("ALERT_PACING_BEHIND", env.get("ALERT_PACING_BEHIND") or "0.9"),
        webhook_allow_private=_parse_bool("WEBHOOK_ALLOW_PRIVATE", env.get("WEBHOOK_ALLOW_PRIVATE") or ""),
        webhook_timeout_seconds=_parse_seconds("WEBHOOK_TIMEOUT_SECONDS", env.get("WEBHOOK_TIMEOUT_SECONDS") or "15"),
        smtp_url=_parse_smtp_url(env["SMTP_URL"]) if env.get("SMTP_URL") else None,
        mail_from=_parse_mail_from(env.get("MAIL_FROM") or Settings.mail_from),
        chart_browser_path=_parse_browser_path(env.get("CHART_BROWSER_PATH")),
        counting_engine=_parse_counting_engine(env.get("COUNTING_ENGINE") or "local"),
        llm_base_url=_parse_llm_base_url(env.get("LLM_BASE_URL")),
        llm_api_key=env.get("LLM_API_KEY") or None,
        llm_model=env.get("LLM_MODEL") or "gpt-4o-mini",
        llm_timeout_seconds=_parse_seconds("LLM_TIMEOUT_SECONDS", env.get("LLM_TIMEOUT_SECONDS") or "10"),
        traces_exporter=_parse_traces_exporter(env),
        api_rate_limit=_parse_rate_limit("API_RATE_LIMIT", env.get("API_RATE_LIMIT") or Settings.api_rate_limit),
        api_anon_rate_limit=_parse_rate_limit("API_ANON_RATE_LIMIT",
                                              env.get("API_ANON_RATE_LIMIT") or Settings.api_anon_rate_limit),
        login_rate_limit_ip=_parse_rate_limit("LOGIN_RATE_LIMIT_IP",
                                              env.get("LOGIN_RATE_LIMIT_IP") or Settings.login_rate_limit_ip),
        session_idle_minutes=_parse_minutes("SESSION_IDLE_MINUTES", env.get("SESSION_IDLE_MINUTES") or "120"),
        conversion_retention_days=_parse_retention_days("CONVERSION_RETENTION_DAYS",
                                                        env.get("CONVERSION_RETENTION_DAYS")),
        embed_signing_keys=_parse_embed_keys(env.get("EMBED_SIGNING_KEYS") or ""),
        database_read_url=_parse_read_url(env.get("DATABASE_READ_URL"), database_url),
        dashboard_cache=_parse_dashboard_cache(env.get("DASHBOARD_CACHE") or "auto", redis_url),
        metrics_token=_parse_metrics_token(env.get("METRICS_TOKEN")),
        **_parse_oidc(env),
        secret_key_generated=generated,
    )


def _parse_traces_exporter(env: Mapping[str, str]) -> str | None:
    """Tracing is on when OTEL_TRACES_EXPORTER names an exporter, or an OTLP endpoint is set (exporter "otlp"),
    unless OTEL_SDK_DISABLED is true."""
    if (env.get("OTEL_SDK_DISABLED") or "").strip().lower() == "true":
        return None
    exporter = (env.get("OTEL_TRACES_EXPORTER") or "").strip().lower()
    if not exporter:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        return "otlp" if endpoint else None
    if exporter == "none":
        return None
    if exporter not in ("otlp", "console"):
        raise ConfigError("OTEL_TRACES_EXPORTER", f"must be otlp, console or none, not {exporter!r}")
    return exporter
