"""Sign-in backoff per account: after a run of failed sign-ins an account refuses further attempts for a delay that
doubles with each further failure (capped), until a sign-in succeeds. Counters are kept per submitted email, known
or not, so a refusal says nothing about whether the account exists; a lockout of a real account is written to the
audit log and shown to the account's user in their notifications."""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from services import audit, lookups
from services.db import Database
from services.models import User
from services.notify import inapp
from services.notify.recipients import Recipient
from services.tenancy import TenantContext

logger = logging.getLogger(__name__)

LOCKOUT_KIND = "security.login_locked"
# A failure run left alone this long is forgotten (longer than the longest lockout, so backoff keeps growing).
FORGET_AFTER_SECONDS = 24 * 3600


@dataclass(frozen=True)
class BackoffPolicy:
    threshold: int = 10  # consecutive failures before the first lockout
    first_delay: int = 60  # seconds; doubled by each further failure
    max_delay: int = 3600

    def delay(self, failures: int) -> int:
        """Seconds an account is refused after its `failures`-th consecutive failure (0: not locked)."""
        if failures < self.threshold:
            return 0
        steps = min(failures - self.threshold, 32)  # 2**32 minutes is past any cap
        return min(self.first_delay * 2 ** steps, self.max_delay)


@dataclass(frozen=True)
class Failure:
    failures: int  # consecutive failures, this one included
    locked_for: int  # seconds the account is now refused (0: not locked)


def account_key(email: str) -> str:
    """The counter's key: a hash of the normalised email, so stores never hold the address itself."""
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:40]


class FailureCounter(Protocol):
    def locked_for(self, email: str) -> int: ...

    def failed(self, email: str) -> Failure: ...

    def succeeded(self, email: str) -> None: ...


class MemoryFailureCounter:
    """One process's counters (embedded mode). `clock` is replaceable so tests can move time."""

    def __init__(self, policy: BackoffPolicy | None = None, clock: Callable[[], float] = time.time):
        self.policy = policy or BackoffPolicy()
        self.clock = clock
        self._runs: dict[str, tuple[int, float, float]] = {}  # key -> (failures, locked until, last failure)
        self._lock = threading.Lock()

    def _run(self, key: str, now: float) -> tuple[int, float, float]:
        run = self._runs.get(key, (0, 0.0, 0.0))
        if run[0] and now - run[2] > FORGET_AFTER_SECONDS:
            return 0, 0.0, 0.0
        return run

    def locked_for(self, email: str) -> int:
        now = self.clock()
        with self._lock:
            _, until, _ = self._run(account_key(email), now)
        return max(0, int(-(-(until - now) // 1)))  # whole seconds, rounded up

    def failed(self, email: str) -> Failure:
        key, now = account_key(email), self.clock()
        with self._lock:
            failures = self._run(key, now)[0] + 1
            delay = self.policy.delay(failures)
            self._runs[key] = (failures, now + delay if delay else 0.0, now)
        return Failure(failures, delay)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._runs.pop(account_key(email), None)


# One round trip, atomic: count the failure, keep the run for a day, and set the lockout when the run is long enough.
_FAIL_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
local threshold, first, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if n < threshold then return {n, 0} end
local delay = math.min(first * 2 ^ math.min(n - threshold, 32), cap)
redis.call('SET', KEYS[2], n, 'EX', delay)
return {n, delay}
"""


class RedisFailureCounter:
    """Counters in Redis, shared by every web process."""

    def __init__(self, client, policy: BackoffPolicy | None = None, prefix: str = "login"):
        self.client = client
        self.policy = policy or BackoffPolicy()
        self.prefix = prefix
        self._fail = client.register_script(_FAIL_SCRIPT)

    def _keys(self, email: str) -> list[str]:
        key = account_key(email)
        return [f"{self.prefix}:failures:{key}", f"{self.prefix}:locked:{key}"]

    def locked_for(self, email: str) -> int:
        ms = self.client.pttl(self._keys(email)[1])
        return max(0, -(-ms // 1000)) if ms and ms > 0 else 0

    def failed(self, email: str) -> Failure:
        p = self.policy
        failures, delay = self._fail(keys=self._keys(email),
                                     args=[p.threshold, p.first_delay, p.max_delay, FORGET_AFTER_SECONDS])
        return Failure(int(failures), int(delay))

    def succeeded(self, email: str) -> None:
        self.client.delete(*self._keys(email))


def record_lockout(db: Database, email: str, failure: Failure) -> int:
    """Log a lockout; for a real account also write it to the audit log and the user's notifications in each tenant
    they belong to (only that user, in that tenant, sees it). Returns how many tenants were told."""
    email = (email or "").strip().lower()
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email))
        memberships = [] if user is None else [(m.tenant_id, m.role, m.sponsor_id)
                                               for m in lookups.user_memberships(s, user.id)]
    logger.warning("login locked", extra={"login_user_id": user.id if user else None,
                                          "account": account_key(email)[:12], "failures": failure.failures,
                                          "locked_seconds": failure.locked_for})
    if user is None:
        return 0
    minutes = max(1, failure.locked_for // 60)
    body = (f"After {failure.failures} failed sign-in attempts in a row, sign-in to {user.email} is paused for "
            f"{minutes} minute{'s' if minutes != 1 else ''}. If this was not you, change your password and use "
            "'Sign out everywhere'.")
    for tenant_id, role, sponsor_id in memberships:
        ctx = TenantContext(tenant_id=tenant_id, role=role, user_id=user.id, sponsor_id=sponsor_id)
        with db.session(tenant_id) as s:
            audit.record(s, ctx, "login.locked", "user", user.id,
                         {"failures": failure.failures, "locked_seconds": failure.locked_for})
            inapp.add(s, tenant_id, [Recipient(user.id, user.email, sponsor_id if role == "sponsor" else None)],
                      LOCKOUT_KIND, "Sign-in paused after repeated failed attempts", body)
            s.commit()
    return len(memberships)
