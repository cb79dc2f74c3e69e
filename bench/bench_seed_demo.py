"""Benchmark: seeding the Demo Network (issue target: at most 15 s), on SQLite and, when reachable, PostgreSQL.

Run: python bench/bench_seed_demo.py   (prints seconds per database and the baseline ratio)
"""
from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from services import demo, migrate  # noqa: E402
from services.db import Database  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def baseline() -> float:
    """A fixed CPU task timed in the same run, so a slow host shows as a slower baseline, not a slower seed."""
    start = time.perf_counter()
    sum(i * i for i in range(3_000_000))
    return time.perf_counter() - start


def seed(url: str) -> tuple[float, dict]:
    migrate.upgrade(url)
    db = Database(url, "podcast_app")
    start = time.perf_counter()
    result = demo.seed_demo(db, password="bench-password-1")
    elapsed = time.perf_counter() - start
    db.dispose()
    return elapsed, result


def main() -> None:
    base = baseline()
    print(f"baseline task: {base:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, result = seed(f"sqlite:///{tmp}/bench.db")
        print(f"sqlite: seeded {result['episodes']} episodes, {result['downloads']} downloads in {elapsed:.2f} s "
              f"({elapsed / base:.1f}x baseline)")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.Error as exc:
        print(f"postgresql: skipped ({exc})")
        return
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        elapsed, result = seed(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        print(f"postgresql: seeded {result['episodes']} episodes, {result['downloads']} downloads in {elapsed:.2f} s "
              f"({elapsed / base:.1f}x baseline)")
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
