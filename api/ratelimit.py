"""Rate limits (flask-limiter): /api answers per API key when a bearer key is sent and per client IP otherwise, in
Redis when REDIS_URL is set (shared by every web process), in memory when embedded. `limit_by_ip` is the hook other
routes (the login form) reuse."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from functools import wraps

from flask import Blueprint, Flask, current_app, request
from flask_limiter import HeaderNames, Limiter

from api.state import app_state
from services.measurement.requests import client_ip
from services.settings import Settings

logger = logging.getLogger(__name__)

EXTENSION = "podcast_rate_limiter"
HEADERS = {HeaderNames.LIMIT: "RateLimit-Limit", HeaderNames.REMAINING: "RateLimit-Remaining",
           HeaderNames.RESET: "RateLimit-Reset", HeaderNames.RETRY_AFTER: "Retry-After"}


def request_ip() -> str:
    """The client's address, through the trusted proxies only (X-Forwarded-For from others is ignored)."""
    return client_ip(request.remote_addr or "", request.headers.get("X-Forwarded-For"),
                     app_state().settings.trusted_proxies) or "unknown"


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def api_client_key() -> str:
    """One bucket per API key (a hash: the key itself never reaches the store), else one per client IP."""
    token = _bearer()
    if token:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "ip:" + request_ip()


def api_limit() -> str:
    settings = app_state().settings
    return settings.api_rate_limit if _bearer() else settings.api_anon_rate_limit


def limiter() -> Limiter:
    return current_app.extensions[EXTENSION]


def init_rate_limits(server: Flask, settings: Settings, api_blueprints: Iterable[Blueprint]) -> Limiter:
    """A limiter for this app (its own storage), with the API limit shared across every /api blueprint."""
    storage = settings.redis_url or "memory://"
    options = {"socket_connect_timeout": 5, "socket_timeout": 5} if settings.redis_url else {}
    limits = Limiter(api_client_key, app=server, storage_uri=storage, storage_options=options, headers_enabled=True,
                     header_name_mapping=HEADERS, strategy="moving-window", key_prefix="ratelimit",
                     in_memory_fallback_enabled=bool(settings.redis_url))
    shared = limits.shared_limit(api_limit, scope="api", key_func=api_client_key)
    for blueprint in api_blueprints:
        shared(blueprint)
    server.extensions[EXTENSION] = limits
    return limits


def limit_by_ip(limit_value: str | Callable[[], str]) -> Callable:
    """Decorator for an unauthenticated route (e.g. the login form): `limit_value` (a string such as "10/minute", or
    a callable giving one) per client IP; over it the route answers 429 with Retry-After."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            with limiter().limit(limit_value, key_func=lambda: "ip:" + request_ip(), scope=f"ip:{view.__name__}"):
                return view(*args, **kwargs)

        return wrapper

    return decorator
