"""Alert jobs in embedded mode (in-process): the delivery refresh that follows counting records the under-pacing
notice and evaluates the tenant's rules; the hourly run evaluates every tenant with rules once per hour."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jobs import context
from jobs.alerts import evaluate_all_alerts, hourly_run_id
from jobs.campaigns import refresh_tenant_delivery
from jobs.queues import enqueue
from services.errors import ConfigError
from services.models import AlertEvaluation
from services.settings import load_settings
from tests.unit.jobs.conftest import embedded_settings
from tests.unit.notify.conftest import count_rows, days, events, make_rule, put_campaign, put_show_days


@pytest.fixture
def jobs_on(net, tmp_path):
    context.set_settings(embedded_settings(tmp_path))
    context.set_db(net.db)
    yield net
    context.reset()


def _today():
    return datetime.now(timezone.utc).date()


def _low_rule(net) -> int:
    today = _today()
    put_show_days(net, net.podcasts["tech"], {d: 100 for d in days(today - timedelta(days=20), today)})
    return make_rule(net, metric="show_downloads", target_id=net.podcasts["tech"], condition="below", threshold=150)


def test_refresh_after_counting_notes_under_pacing_and_evaluates_rules(jobs_on):
    net, today = jobs_on, _today()
    rule = _low_rule(net)
    campaign = put_campaign(net, {}, start=today - timedelta(days=10), end=today + timedelta(days=19))
    handle = enqueue(refresh_tenant_delivery, net.tenant_id, (today - timedelta(days=1)).isoformat(), queue="measure")
    assert handle.status == "finished" and handle.result == [campaign]
    [notice] = events(net, "delivery.under_pacing")
    assert notice["campaign_id"] == campaign and notice["delivered"] == 0 and notice["expected"] > 0
    [alert] = events(net, "alert.triggered")
    assert alert["rule_id"] == rule and alert["value"] == 100.0
    enqueue(refresh_tenant_delivery, net.tenant_id, None, queue="measure")  # a second count the same day
    assert len(events(net, "delivery.under_pacing")) == 1  # once a day
    assert len(events(net, "alert.triggered")) == 1  # still triggered, not re-armed yet
    assert count_rows(net, AlertEvaluation) == 2  # each counting run is its own evaluation


def test_hourly_run_evaluates_each_tenant_with_rules_once_an_hour(jobs_on):
    net = jobs_on
    rule = _low_rule(net)
    first = enqueue(evaluate_all_alerts, queue="measure")
    assert first.status == "finished" and len(first.result) == 1  # one tenant has rules
    enqueue(evaluate_all_alerts, queue="measure")  # the same hour again (a retry): nothing new
    assert count_rows(net, AlertEvaluation) == 1
    assert [e["rule_id"] for e in events(net, "alert.triggered")] == [rule]
    assert hourly_run_id(datetime(2026, 6, 15, 12, 59, tzinfo=timezone.utc)) == "hour:2026-06-15T12"


@pytest.mark.parametrize("value", ["0", "1.5", "most"])
def test_pacing_share_setting_is_checked(tmp_path, value):
    with pytest.raises(ConfigError, match="ALERT_PACING_BEHIND"):
        load_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s" * 32, "ALERT_PACING_BEHIND": value})
    assert load_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s" * 32,
                          "ALERT_PACING_BEHIND": "0.75"}).alert_pacing_behind == 0.75
