"""Benchmark: what the database roles (migrations 0030 and 0031: the worker role, the web's lookups) and the security
headers cost the web, in the same run.

Run from the project root:
    python bench/bench_roles.py [--rows 1000000] [--calls 20] [--requests 300] [--keep-db] [--reuse DB]

Issue target: the new roles and headers cost no more than 5% of throughput.

What it does:
  1. builds one database as bench_dashboards.py does (5 tenants, --rows counted downloads over a year, rollups);
  2. clones it (CREATE DATABASE ... TEMPLATE) and takes the clone back to migration 0029, the schema before the
     roles: there the policies' `app.system` opens rows to any role and the web role may read the base tables;
  3. roles: times every dashboard callback (bench_dashboards.time_callbacks: 90 days, one tenant's owner, the answer
     cache off) on both databases, alternating call by call, and prints p50/p95 per callback and the ratio of the
     sums of the p50s (after / before);
  4. requests: times --requests GETs of the REST API (`/api/v1/downloads`, 90 days by day, and `/api/v1/me`, whose
     work is mostly the key's lookup; an API key of the same tenant, made before the clone) and of the sign-in page
     through Flask's test client, alternating in batches of 10 (each round's order swapped; the median of the
     rounds' ratios is printed beside the totals): roles (the migrated database against the clone,
     headers on in both), then headers (the security headers hook on and off, on the migrated database), then an A/A
     control (two identical apps on the migrated database: the noise floor of both comparisons); prints
     requests per second and the cost (the clone is given 0031's lookup functions, which today's code calls, so
     the two databases differ by the roles alone);
  4b. the lookups' own cost (the clone has them too): the API key check and a signed-in user's memberships as they
     are now against the same questions as one system session answered them before, alternating, in ms a call;
     and an API key check's SQL alone as the web role on raw connections, on the two databases, alternating;
  5. drops both databases (unless --keep-db).
The apps start without migrating (the clone must stay at 0029); everything runs on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402

import bench_dashboards as dashboards  # noqa: E402

BEFORE = "0029"  # the revision before the roles


def clone_before_roles(name: str) -> str:
    """A copy of `name` taken back to the schema before migration 0030."""
    from services import migrate

    clone = f"{name}_before"
    with psycopg.connect(dashboards.PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{clone}" TEMPLATE "{name}"')
    migrate.downgrade(dashboards.APP_URL.format(name=clone), BEFORE)
    # Today's code asks 0031's lookup functions; the clone gets them, as they would run before the roles (there the
    # system switch opens rows to any role), so the two differ by the roles alone. Their own cost: time_lookups.
    lookups = importlib.import_module("migrations.versions.0031_web_lookups")
    with psycopg.connect(dashboards.PG_ADMIN.rsplit("/", 1)[0] + f"/{clone}", autocommit=True) as conn:
        preamble = lookups.PREAMBLE.format(schema="public")
        for signature, sql in lookups.FUNCTIONS.items():
            conn.execute(sql.format(preamble=preamble, open=lookups.OPEN, close=lookups.CLOSE))
            conn.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO podcast_app")
    return clone


def time_lookups(name: str, key: str, calls: int) -> dict[str, tuple[list[float], list[float]]]:
    """ms per call of the two lookups on every request, alternating call by call on the migrated database, each
    against the same question as one system session answered it before the lookups (the worker role reading
    every tenant's rows): an API key check (the key's tenant from the lookup, then the key read as that tenant),
    and a signed-in user's memberships (each dashboard request resolves its tenant context from them)."""
    from sqlalchemy import select, text

    from services import accounts, api_keys
    from services.db import Database
    from services.models import ApiKey, Membership, Tenant
    from services.models.base import utcnow

    def key_before(db, plaintext):
        with db.session(system=True, bookkeeping=True) as s:
            row = s.execute(select(ApiKey, Tenant).join(Tenant, Tenant.id == ApiKey.tenant_id)
                            .where(ApiKey.key_hash == api_keys._hash(plaintext))).first()
            row.ApiKey.last_used_at = utcnow()
            s.commit()

    def memberships_before(db, user_id):
        with db.session(system=True) as s:
            return s.execute(select(Membership.tenant_id, Tenant.slug, Tenant.name, Membership.role,
                                    Membership.sponsor_id).join(Tenant, Tenant.id == Membership.tenant_id)
                             .where(Membership.user_id == user_id).order_by(Tenant.name)).all()

    db = Database(dashboards.APP_URL.format(name=name), "podcast_app")
    with db.session() as s:
        user_id = s.execute(text("SELECT id FROM users WHERE email = 'owner0@bench.test'")).scalar()
    pairs = {"API key check": ((api_keys.authenticate_api_key, key_before), key),
             "a user's memberships": ((accounts.memberships_for_user, memberships_before), user_id)}
    samples = {label: ([], []) for label in pairs}
    try:
        for i in range(calls + 5):
            for label, (checks, arg) in pairs.items():
                for which, check in enumerate(checks):
                    t = time.perf_counter()
                    check(db, arg)
                    if i >= 5:  # warm-up
                        samples[label][which].append((time.perf_counter() - t) * 1000)
    finally:
        db.dispose()
    return samples


def time_key_sql(name: str, before: str, key: str, rounds: int = 60, batch: int = 50) -> tuple[float, float, float]:
    """The SQL of an API key check alone (scope, lookup, the key read as its tenant, its last use), as the web role
    on raw connections: ms per check on the migrated database and on the clone, and the median of the per-round
    ratios (each round's order swapped), without the app around it."""
    from services import api_keys

    key_hash = api_keys._hash(key)
    conns = [psycopg.connect(dashboards.PG_ADMIN.rsplit("/", 1)[0] + f"/{db}") for db in (name, before)]
    try:
        for conn in conns:
            conn.execute("SET ROLE podcast_app")
            conn.commit()

        def check(conn):
            conn.execute("SELECT set_config('app.tenant_id', '', true), set_config('app.system', 'off', true)")
            tenant = conn.execute("SELECT set_config('app.tenant_id', coalesce(app_tenant_of('api_key', %s)::text, "
                                  "''), true)", (key_hash,)).fetchone()[0]
            assert conn.execute("SELECT * FROM api_keys JOIN tenants ON tenants.id = api_keys.tenant_id WHERE "
                                "api_keys.key_hash = %s AND api_keys.tenant_id = %s", (key_hash, int(tenant))).fetchall()
            conn.execute("UPDATE api_keys SET last_used_at = now() WHERE key_hash = %s", (key_hash,))
            conn.commit()

        seconds, ratios = [0.0, 0.0], []
        for round_ in range(rounds):
            took = [0.0, 0.0]
            for which in ((0, 1) if round_ % 2 == 0 else (1, 0)):
                t = time.perf_counter()
                for _ in range(batch):
                    check(conns[which])
                took[which] = time.perf_counter() - t
                seconds[which] += took[which]
            ratios.append(took[1] / took[0])
    finally:
        for conn in conns:
            conn.close()
    checks = rounds * batch
    return 1000 * seconds[0] / checks, 1000 * seconds[1] / checks, statistics.median(ratios)


def make_servers(names_and_headers: list[tuple[str, bool]], instance: str) -> list:
    """One app per (database, security headers on) pair; none migrates (the clone must stay at 0029)."""
    from api.security_headers import _add_headers
    from app import create_app
    from services.settings import load_settings

    servers = []
    for name, headers_on in names_and_headers:
        settings = load_settings({"INSTANCE_PATH": instance, "SECRET_KEY": "bench-secret-key-0123456789",
                                  "LOG_LEVEL": "WARNING", "DATABASE_URL": dashboards.APP_URL.format(name=name),
                                  "DASHBOARD_CACHE": "off", "API_RATE_LIMIT": "1000000/minute"})
        server = create_app(settings)
        if not headers_on:
            funcs = server.after_request_funcs.get(None, [])
            assert _add_headers in funcs
            funcs.remove(_add_headers)
        servers.append(server)
    return servers


def bench_key(name: str) -> str:
    """A read API key of the first tenant, made before the clone so both databases hold it."""
    from sqlalchemy import text

    from services import api_keys
    from services.db import Database
    from services.tenancy import TenantContext

    db = Database(dashboards.APP_URL.format(name=name), "podcast_app")
    try:
        with db.session(system=True, worker=True) as s:
            tenant_id = s.execute(text("SELECT id FROM tenants WHERE slug = 'bench0'")).scalar()
        return api_keys.create_api_key(db, TenantContext(tenant_id, "owner"), "bench", ("read",))[1]
    finally:
        db.dispose()


def routes(key: str) -> dict[str, tuple[str, dict]]:
    last = datetime.now(UTC).date()
    api = f"/api/v1/downloads?from={last - timedelta(days=89)}&to={last}&group_by=day"
    return {"GET /api/v1/downloads (90 days by day)": (api, {"Authorization": f"Bearer {key}"}),
            "GET /api/v1/me (the key's lookup alone)": ("/api/v1/me", {"Authorization": f"Bearer {key}"}),
            "GET /login (page)": ("/login", {})}


def time_routes(servers: list, key: str, requests: int, batch: int = 10) -> dict[str, tuple[float, float, float]]:
    """{route: (requests/s on servers[0], on servers[1], median of the per-round ratios 0/1)} through Flask's test
    client. Each round times one batch on each, in alternating order; the median of the rounds' ratios is what a
    burst of load from elsewhere on the machine moves least."""
    results = {}
    for label, (path, headers) in routes(key).items():
        clients = [server.test_client() for server in servers]
        for client in clients:  # warm-up
            for _ in range(5):
                assert client.get(path, headers=headers).status_code == 200
        seconds, ratios = [0.0, 0.0], []
        for round_ in range(max(1, requests // batch)):
            took = [0.0, 0.0]
            for which in ((0, 1) if round_ % 2 == 0 else (1, 0)):
                t = time.perf_counter()
                for _ in range(batch):
                    response = clients[which].get(path, headers=headers)
                    assert response.status_code == 200, response.status_code
                took[which] = time.perf_counter() - t
                seconds[which] += took[which]
            ratios.append(took[1] / took[0])  # throughput of 0 relative to 1
        sent = max(1, requests // batch) * batch
        results[label] = (sent / seconds[0], sent / seconds[1], statistics.median(ratios))
    return results


def time_requests(name: str, before: str, key: str, requests: int) -> tuple[dict, dict, dict]:
    """(roles: head against the clone at 0029, headers on both; headers: on against off, at head; control: two
    identical apps on the same database, the noise floor of the two comparisons)."""
    with tempfile.TemporaryDirectory() as instance:
        servers = make_servers([(name, True), (before, True), (name, False), (name, True)], instance)
        try:
            roles = time_routes(servers[:2], key, requests)
            headers = time_routes([servers[0], servers[2]], key, requests)
            control = time_routes([servers[0], servers[3]], key, requests)  # A/A: what noise alone shows
            with servers[0].test_client() as client:
                assert "Content-Security-Policy" in client.get("/login").headers
        finally:
            for server in servers:
                server.extensions["podcast_platform"].db.dispose()
    return roles, headers, control


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse", metavar="DB", help="a database a --keep-db run of this bench or bench_dashboards left")
    args = parser.parse_args()

    import app as app_module

    created = []
    try:
        name = args.reuse or dashboards.build(args.rows, datetime.now(UTC).date())[0]
        if not args.reuse:
            created.append(name)
        key = bench_key(name)
        before = clone_before_roles(name)
        created.append(before)
        app_module.migrate.upgrade = lambda *_a, **_k: None  # the clone stays at 0029
        after_calls, before_calls = dashboards.time_callbacks([name, before], args.calls)
        roles, headers, control = time_requests(name, before, key, args.requests)
        lookups = time_lookups(name, key, max(50, args.requests))
        key_sql = time_key_sql(name, before, key)
    finally:
        if not args.keep_db:
            for db_name in created:
                dashboards.drop_database(db_name)
    print(f"\nDashboard callbacks, server time in ms over {args.calls} calls ({args.rows:,} downloads, 90 days, one "
          f"tenant of 5; the two databases alternate call by call)")
    head = f"{'callback':40} {'roles p50':>10} {'roles p95':>10} {'before p50':>11} {'before p95':>11} {'p50 ratio':>10}"
    print(head)
    print("-" * len(head))
    for label in after_calls:
        (a50, a95), (b50, b95) = after_calls[label], before_calls[label]
        print(f"{label:40} {a50:10.1f} {a95:10.1f} {b50:11.1f} {b95:11.1f} {a50 / b50:10.2f}")
    total_after = sum(v[0] for v in after_calls.values())
    total_before = sum(v[0] for v in before_calls.values())
    ratios = sorted(after_calls[k][0] / before_calls[k][0] for k in after_calls)
    print(f"sum of p50s: with the roles {total_after:.1f} ms, before them {total_before:.1f} ms: ratio "
          f"{total_after / total_before:.3f} (throughput cost {100 * (total_after / total_before - 1):+.1f}%; "
          f"median per-callback ratio {statistics.median(ratios):.3f}; target cost <= 5%)")
    print(f"\nRoles, requests per second through Flask's test client ({args.requests} requests each, batches of 10 "
          f"alternating; headers on in both)")
    for label, (after, prior, ratio) in roles.items():
        print(f"{label:45} with the roles {after:8.1f}/s   before {prior:8.1f}/s   cost {100 * (1 - after / prior):+.1f}% "
              f"(median of per-round ratios: cost {100 * (1 - ratio):+.1f}%)")
    print("\nThe lookups alone, ms p50, alternating with the same question as one system session before them:")
    for label, (after, prior) in lookups.items():
        a50, b50 = statistics.median(after), statistics.median(prior)
        print(f"{label:25} with the lookup {a50:.2f}   before {b50:.2f}   {a50 - b50:+.2f} ms a request "
              f"({len(after)} calls each)")
        for route, (rps, _prior, _ratio) in roles.items():
            if label == "API key check" and route.startswith("GET /api"):
                print(f"  that is {100 * (a50 - b50) / (1000 / rps):+.1f}% of {route} ({1000 / rps:.1f} ms a request)")
    after_ms, before_ms, ratio = key_sql
    print(f"An API key check's SQL alone, as the web role on raw connections: with the roles {after_ms:.3f} ms, "
          f"before them {before_ms:.3f} ms (median of per-round ratios: cost {100 * (1 - ratio):+.1f}%)")
    print(f"\nSecurity headers, requests per second through Flask's test client ({args.requests} requests each, "
          f"batches of 10 alternating; at the latest revision)")
    for label, (on, off, ratio) in headers.items():
        print(f"{label:45} with headers {on:8.1f}/s   without {off:8.1f}/s   cost {100 * (1 - on / off):+.1f}% "
              f"(median of per-round ratios: cost {100 * (1 - ratio):+.1f}%)")
    print("\nControl (A/A): two identical apps on the same database, timed the same way; their 'cost' is noise")
    for label, (one, other, ratio) in control.items():
        print(f"{label:45} app 1 {one:8.1f}/s   app 2 {other:8.1f}/s   'cost' {100 * (1 - one / other):+.1f}% "
              f"(median of per-round ratios: {100 * (1 - ratio):+.1f}%)")


if __name__ == "__main__":
    main()
