"""Sign-in throttling for POST /login: a limit per client IP (flask-limiter, in the app limiter's storage) and a
backoff per account (services/login_throttle.py; in Redis when REDIS_URL is set). A refusal is the same for known and
unknown emails."""
from __future__ import annotations

import logging
import math
import time

from flask import Flask, current_app
from limits import parse_many
from redis import RedisError

from api.ratelimit import limiter, request_ip
from api.state import EXTENSION as STATE_EXTENSION, app_state, current_db
from services.errors import AuthenticationFailed
from services.login_throttle import FailureCounter, MemoryFailureCounter, RedisFailureCounter, record_lockout

logger = logging.getLogger(__name__)

EXTENSION = "podcast_login_guard"


class LoginThrottled(AuthenticationFailed):
    """Too many sign-in attempts: answered 429 with Retry-After."""

    status = 429

    def __init__(self, retry_after: int):
        retry_after = max(1, int(retry_after))
        minutes = math.ceil(retry_after / 60)
        wait = f"{retry_after} seconds" if retry_after < 60 else f"{minutes} minute{'s' if minutes != 1 else ''}"
        super().__init__(f"Too many sign-in attempts. Please wait {wait} and try again.")
        self.retry_after = retry_after


def init_login_guard(server: Flask) -> FailureCounter:
    """The account failure counter of this app: in Redis when REDIS_URL is set, in this process's memory otherwise."""
    settings = server.extensions[STATE_EXTENSION].settings
    if settings.redis_url:
        from jobs.queues import get_redis

        counter: FailureCounter = RedisFailureCounter(get_redis(settings))
    else:
        counter = MemoryFailureCounter()
    server.extensions[EXTENSION] = counter
    return counter


def failure_counter() -> FailureCounter:
    return current_app.extensions[EXTENSION]


def check(email: str) -> None:
    """Count this attempt against the client IP's limit; raise LoginThrottled over it or while the account is locked.
    With Redis unreachable the attempt goes on unthrottled (the password is still checked) and a warning is logged."""
    try:
        _check(email)
    except RedisError as exc:
        logger.warning("login throttling unavailable: %s", exc)


def _check(email: str) -> None:
    limits = limiter().limiter
    ip = request_ip()
    for item in parse_many(app_state().settings.login_rate_limit_ip):
        if not limits.hit(item, "ratelimit", "login-ip", ip):
            reset = limits.get_window_stats(item, "ratelimit", "login-ip", ip).reset_time
            raise LoginThrottled(math.ceil(reset - time.time()))
    locked = failure_counter().locked_for(email)
    if locked:
        raise LoginThrottled(locked)


def record(email: str, error: AuthenticationFailed | None = None) -> None:
    """After an attempt: a success resets the account's run; a wrong password extends it (and may lock it)."""
    if isinstance(error, LoginThrottled):
        return  # refused before any password was checked
    counter = failure_counter()
    try:
        if error is None:
            counter.succeeded(email)
            return
        failure = counter.failed(email)
    except RedisError as exc:
        logger.warning("login failure not counted: %s", exc)
        return
    if failure.locked_for:
        record_lockout(current_db(), email, failure)


def answer_headers(error: AuthenticationFailed) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if isinstance(error, LoginThrottled) else {}
