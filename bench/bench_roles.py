"""Benchmark: what the database roles (migration 0030) and the security headers cost the web, in the same run.

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
  4. headers: on the migrated database, times --requests GETs of the REST API (`/api/v1/downloads`, 90 days by
     day; an API key of the same tenant) and of the sign-in page through Flask's test client, with the security
     headers hook on and off, alternating in batches of 20, and prints requests per second and the ratio;
  5. drops both databases (unless --keep-db).
The apps start without migrating (the clone must stay at 0029); everything runs on 127.0.0.1.
"""
from __future__ import annotations

import argparse
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
    return clone


def time_headers(name: str, requests: int, batch: int = 20) -> dict[str, tuple[float, float]]:
    """{route: (requests/s with headers, requests/s without)} through Flask's test client, alternating batches."""
    from sqlalchemy import text

    from api.security_headers import _add_headers
    from app import create_app
    from services import api_keys
    from services.settings import load_settings
    from services.tenancy import TenantContext

    with tempfile.TemporaryDirectory() as instance:
        settings = load_settings({"INSTANCE_PATH": instance, "SECRET_KEY": "bench-secret-key-0123456789",
                                  "LOG_LEVEL": "WARNING", "DATABASE_URL": dashboards.APP_URL.format(name=name),
                                  "DASHBOARD_CACHE": "off", "API_RATE_LIMIT": "1000000/minute"})
        servers = []
        for headers_on in (True, False):
            server = create_app(settings)
            if not headers_on:
                funcs = server.after_request_funcs.get(None, [])
                assert _add_headers in funcs
                funcs.remove(_add_headers)
            servers.append(server)
        db = servers[0].extensions["podcast_platform"].db
        with db.session(system=True) as s:
            tenant_id = s.execute(text("SELECT id FROM tenants WHERE slug = 'bench0'")).scalar()
        _, key = api_keys.create_api_key(db, TenantContext(tenant_id, "owner"), "bench", ("read",))
        last = datetime.now(UTC).date()
        api = f"/api/v1/downloads?from={last - timedelta(days=89)}&to={last}&group_by=day"
        routes = {"GET /api/v1/downloads (90 days by day)": (api, {"Authorization": f"Bearer {key}"}),
                  "GET /login (page)": ("/login", {})}
        results = {}
        for label, (path, headers) in routes.items():
            clients = [server.test_client() for server in servers]
            seconds = [0.0, 0.0]
            for client in clients:  # warm-up
                for _ in range(5):
                    assert client.get(path, headers=headers).status_code == 200
            for _ in range(max(1, requests // batch)):
                for which, client in enumerate(clients):
                    t = time.perf_counter()
                    for _ in range(batch):
                        response = client.get(path, headers=headers)
                        assert response.status_code == 200, response.status_code
                    seconds[which] += time.perf_counter() - t
            sent = max(1, requests // batch) * batch
            results[label] = (sent / seconds[0], sent / seconds[1])
            with servers[0].test_client() as client:
                assert "Content-Security-Policy" in client.get(path, headers=headers).headers
        for server in servers:
            server.extensions["podcast_platform"].db.dispose()
    return results


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
        before = clone_before_roles(name)
        created.append(before)
        app_module.migrate.upgrade = lambda *_a, **_k: None  # the clone stays at 0029
        after_calls, before_calls = dashboards.time_callbacks([name, before], args.calls)
        headers = time_headers(name, args.requests)
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
    print(f"\nSecurity headers, requests per second through Flask's test client ({args.requests} requests each, "
          f"batches of 20 alternating)")
    for label, (on, off) in headers.items():
        print(f"{label:45} with headers {on:8.1f}/s   without {off:8.1f}/s   cost {100 * (1 - on / off):+.1f}%")


if __name__ == "__main__":
    main()
