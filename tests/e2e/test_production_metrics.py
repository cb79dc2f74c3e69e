"""/metrics of the production stack (gunicorn with two workers and deploy/gunicorn.conf.py, PostgreSQL, Redis): the
prefix hits sent are all counted, whichever worker answered each hit and whichever answers the scrape, and the
journal's backlog gauge is exported from every worker."""
from __future__ import annotations

import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import psycopg
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_live import SHOW_QUERY, send_hits

HITS = 24


def _scrape(base: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_requests_total" and sample.labels.get("status") == "302" \
                    and sample.labels.get("route", "").startswith("/e/"):
                totals["prefix_302"] = totals.get("prefix_302", 0.0) + sample.value
            elif sample.name == "prefix_journal_pending_bytes":
                totals["journal_pending"] = sample.value
    return totals


def test_metrics_add_up_both_workers_on_the_production_stack(production):
    with psycopg.connect(production.database_url.split("?", 1)[0].replace("+psycopg", ""), connect_timeout=5) as conn:
        prefix_key, enclosure, _ = conn.execute(SHOW_QUERY).fetchone()
    before = _scrape(production.base).get("prefix_302", 0.0)
    with ThreadPoolExecutor(6) as pool:  # at once, so both sync workers take some
        list(pool.map(lambda _: send_hits(production.base, prefix_key, enclosure, HITS // 6), range(6)))
    for _ in range(8):
        reading = _scrape(production.base)
        assert reading.get("prefix_302", 0.0) - before == HITS
    deadline = time.monotonic() + 15  # each worker writes its backlog every 5 s, from its first request on
    while "journal_pending" not in _scrape(production.base):
        assert time.monotonic() < deadline, "prefix_journal_pending_bytes is not exported"
        time.sleep(0.5)
    assert _scrape(production.base)["journal_pending"] >= 0
