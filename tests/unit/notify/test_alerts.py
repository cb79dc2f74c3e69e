"""Alert rules: each metric on constructed rollups with known answers, each condition, the state machine (trigger,
no re-notice before re-arm, re-notice after, muted, back to ok), the history, one event per run, and the under-pacing
notice once per campaign per day."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.errors import NotFound, PermissionDenied, ValidationError
from services.models import AlertEvaluation
from services.insights import anomaly_store
from services.insights.anomalies import Finding
from services.notify import alert_evaluation, alerts
from services.notify.alert_metrics import read_metric
from services.notify.alert_rules import (
    AnomalyVerdict, Reading, RuleState, check_condition, daily_mean, next_step,
)
from services.sponsorship import under_pacing
from tests.unit.notify.conftest import (
    NOW, count_rows, days, events, make_rule, put_campaign, put_episode_days, put_import, put_show_days,
)

JUNE = date(2026, 6, 1)


def _spec(net, rule_id):
    with net.db.session(net.tenant_id) as s:
        return alert_evaluation._spec(alert_evaluation._rule(s, net.tenant_id, rule_id))


def _read(net, rule_id, now=NOW) -> Reading:
    return read_metric(net.db, _spec(net, rule_id), now)


def _evaluate(net, run_id, now=NOW, provider=None):
    return {o.rule_id: o for o in alert_evaluation.evaluate_tenant(net.db, net.tenant_id, run_id, now, provider)}


# --- conditions (pure) ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("condition, threshold, reading, expected", [
    ("below", 150, Reading(100.0), (True, 100.0)),
    ("below", 50, Reading(100.0), (False, 100.0)),
    ("above", 50, Reading(100.0), (True, 100.0)),
    ("above", 150, Reading(100.0), (False, 100.0)),
    ("below", 150, Reading(None), (None, None)),
    ("change", -30, Reading(100.0, 200.0), (True, -50.0)),  # a drop of 50% is a drop of at least 30%
    ("change", -60, Reading(100.0, 200.0), (False, -50.0)),
    ("change", 30, Reading(100.0, 200.0), (False, -50.0)),
    ("change", 30, Reading(300.0, 200.0), (True, 50.0)),
    ("change", 30, Reading(300.0, 0.0), (None, None)),  # no previous period to compare with
])
def test_conditions(condition, threshold, reading, expected):
    verdict = check_condition(condition, threshold, reading)
    assert (verdict.breached, verdict.measured) == expected


def test_anomaly_condition_reads_no_data_without_a_forecast_and_the_providers_verdict_with_one():
    assert check_condition("anomaly", None, Reading(100.0), None).breached is None
    verdict = check_condition("anomaly", None, Reading(100.0), AnomalyVerdict(True, 100.0, expected=400.0))
    assert (verdict.breached, verdict.measured) == (True, 100.0)
    assert check_condition("anomaly", None, Reading(100.0), AnomalyVerdict(False, 100.0)).breached is False


def test_daily_mean_counts_missing_days_as_zero():
    assert daily_mean({JUNE: 70.0, JUNE + timedelta(days=9): 1000.0}, JUNE, JUNE + timedelta(days=6)) == 10.0


def test_state_machine_rearm_mute_and_recovery():
    rearm, t0 = timedelta(hours=24), NOW
    step = next_step(RuleState("ok"), True, t0, rearm)
    assert (step.state.state, step.notify) == ("triggered", True)
    later = next_step(step.state, True, t0 + timedelta(hours=23), rearm)
    assert (later.state.state, later.notify) == ("triggered", False)
    rearmed = next_step(later.state, True, t0 + timedelta(hours=24), rearm)
    assert (rearmed.state.state, rearmed.notify, rearmed.state.triggered_at) == ("triggered", True, t0)
    assert next_step(rearmed.state, None, t0 + timedelta(hours=25), rearm).state == rearmed.state  # no data: stays
    assert next_step(rearmed.state, False, t0 + timedelta(hours=26), rearm).state.state == "ok"
    muted = RuleState("muted", muted_until=t0 + timedelta(hours=2))
    assert next_step(muted, True, t0 + timedelta(hours=1), rearm) == next_step(muted, True, t0, rearm)
    assert not next_step(muted, True, t0 + timedelta(hours=1), rearm).notify
    expired = next_step(muted, True, t0 + timedelta(hours=2), rearm)
    assert (expired.state.state, expired.notify) == ("triggered", True)


# --- metrics on constructed rollups -----------------------------------------------------------------------------

def test_show_downloads_mean_a_day_and_previous_period(net):
    tech, biz = net.podcasts["tech"], net.podcasts["biz"]
    put_show_days(net, tech, {d: 100 for d in days(date(2026, 6, 8), date(2026, 6, 14))})
    put_show_days(net, tech, {d: 200 for d in days(date(2026, 6, 1), date(2026, 6, 7))})
    put_show_days(net, tech, {date(2026, 6, 15): 5000})  # today: not a complete day, not read
    put_show_days(net, biz, {d: 50 for d in days(date(2026, 6, 8), date(2026, 6, 14))})
    put_show_days(net, net.podcasts["other"], {d: 9999 for d in days(JUNE, date(2026, 6, 14))},
                  tenant_id=net.other_tenant_id)
    one = make_rule(net, metric="show_downloads", target_id=tech, condition="below", threshold=150)
    every = make_rule(net, metric="show_downloads", condition="above", threshold=120)
    assert (_read(net, one).value, _read(net, one).previous) == (100.0, 200.0)
    assert (_read(net, every).value, _read(net, every).previous) == (150.0, 200.0)  # both shows, not the other tenant


def test_episode_launch_first_days_against_the_episode_before(net):
    tech, eps = net.podcasts["tech"], net.episodes["tech"]  # weekly: the last published 2026-06-08, one 06-01
    put_episode_days(net, tech, eps[-1], {d: 10 for d in days(date(2026, 6, 8), date(2026, 6, 15))})
    put_episode_days(net, tech, eps[-2], {d: 20 for d in days(date(2026, 6, 1), date(2026, 6, 10))})
    rule = make_rule(net, metric="episode_launch", target_id=eps[-1], condition="change", threshold=-30)
    reading = _read(net, rule)
    assert (reading.value, reading.previous) == (70.0, 140.0)  # 7 days x 10, and x 20 for the one before
    assert check_condition("change", -30, reading).measured == -50.0
    longer = make_rule(net, metric="episode_launch", target_id=eps[-1], condition="below", threshold=1, window_days=8)
    assert _read(net, longer).value is None  # its first 8 days end today: not over yet


def test_campaign_pacing_percent_of_expected_now_and_a_window_ago(net):
    # Goal 30,000 over June: by June 8, 8,000 expected and 8,000 delivered (100%); by June 15, 15,000 expected and
    # still 8,000 delivered (53.33%).
    campaign = put_campaign(net, {d: 1000 for d in days(JUNE, date(2026, 6, 8))})
    rule = make_rule(net, metric="campaign_pacing", target_id=campaign, condition="below", threshold=80)
    reading = _read(net, rule)
    assert (reading.value, reading.previous) == (53.33, 100.0)
    assert check_condition("below", 80, reading).breached is True


def test_import_failures_in_the_window_and_before(net):
    for delta, status in ((1, "failed"), (3, "failed"), (1, "completed"), (10, "failed")):
        put_import(net, status, NOW - timedelta(days=delta))
    put_import(net, "failed", NOW - timedelta(days=1), tenant_id=net.other_tenant_id)
    rule = make_rule(net, metric="import_failures", condition="above", threshold=1)
    reading = _read(net, rule)
    assert (reading.value, reading.previous) == (2.0, 1.0)
    assert check_condition("change", 50, reading).measured == 100.0


def test_feed_errors_count_feeds_whose_last_fetch_failed(net):
    from services.models import Podcast
    with net.db.session(net.tenant_id) as s:
        s.get(Podcast, net.podcasts["tech"]).feed_error = "HTTP 500"
        s.commit()
    with net.db.session(net.other_tenant_id) as s:
        s.get(Podcast, net.podcasts["other"]).feed_error = "timed out"
        s.commit()
    every = make_rule(net, metric="feed_errors", condition="above", threshold=0)
    biz = make_rule(net, metric="feed_errors", target_id=net.podcasts["biz"], condition="above", threshold=0)
    assert (_read(net, every).value, _read(net, biz).value) == (1.0, 0.0)


# --- evaluation: state, history, events -------------------------------------------------------------------------

def _low_show_rule(net, **extra) -> int:
    put_show_days(net, net.podcasts["tech"], {d: 100 for d in days(date(2026, 6, 1), date(2026, 6, 30))})
    return make_rule(net, **{"name": "Tech below 150", "metric": "show_downloads", "target_id": net.podcasts["tech"],
                             "condition": "below", "threshold": 150, "rearm_hours": 24, **extra})


def test_trigger_stays_without_renotice_until_rearm_then_back_to_ok(net):
    rule = _low_show_rule(net, recipients=[])
    assert _evaluate(net, "r1")[rule].notified
    [payload] = events(net, "alert.triggered")
    assert payload["rule_id"] == rule and payload["name"] == "Tech below 150" and payload["value"] == 100.0
    assert payload["threshold"] == 150.0 and payload["channels"] == ["in_app"] and payload["metric"] == "show_downloads"
    assert payload["title"] == "Alert: Tech below 150" and payload["link"] == f"/alerts?rule={rule}"
    assert "Tech Talk" in payload["body"] and "user_ids" not in payload  # default: the owners and admins
    second = _evaluate(net, "r2", NOW + timedelta(hours=1))[rule]
    assert (second.state, second.notified) == ("triggered", False)
    assert len(events(net, "alert.triggered")) == 1
    third = _evaluate(net, "r3", NOW + timedelta(hours=24))[rule]
    assert (third.state, third.notified) == ("triggered", True)
    assert len(events(net, "alert.triggered")) == 2
    with net.db.session(net.tenant_id) as s:
        alert_evaluation._rule(s, net.tenant_id, rule).threshold = 50  # now under the value: it recovers
        s.commit()
    assert _evaluate(net, "r4", NOW + timedelta(hours=25))[rule].state == "ok"
    history = alerts.rule_history(net.db, net.ctx("viewer"), rule)
    assert [(h.state, h.notified) for h in history] == [("ok", False), ("triggered", True), ("triggered", False),
                                                        ("triggered", True)]
    assert history[-1].value == 100.0


def test_evaluating_twice_in_one_run_records_one_event_and_one_history_row(net):
    rule = _low_show_rule(net)
    assert _evaluate(net, "count:abc")[rule].notified
    assert _evaluate(net, "count:abc", NOW + timedelta(days=2)) == {}  # a retry of the same run: nothing
    assert len(events(net, "alert.triggered")) == 1
    assert count_rows(net, AlertEvaluation) == 1


def test_muted_rule_is_evaluated_but_silent_until_its_time(net):
    rule = _low_show_rule(net)
    alerts.mute_rule(net.db, net.ctx("editor"), rule, hours=2, now=NOW)
    muted = _evaluate(net, "r1", NOW + timedelta(hours=1))[rule]
    assert (muted.state, muted.notified, muted.value) == ("muted", False, 100.0)
    assert events(net, "alert.triggered") == []
    after = _evaluate(net, "r2", NOW + timedelta(hours=3))[rule]
    assert (after.state, after.notified) == ("triggered", True)
    assert len(events(net, "alert.triggered")) == 1


def test_named_recipients_go_in_the_payload(net):
    from services import accounts
    user, _ = accounts.create_user(net.db, "ed@net.test", "net", "editor", password="password-1")
    rule = _low_show_rule(net, recipients=[user.id], channels=["email"])
    _evaluate(net, "r1")
    [payload] = events(net, "alert.triggered")
    assert payload["user_ids"] == [user.id] and payload["channels"] == ["email"]
    assert alerts.get_rule(net.db, net.ctx(), rule).recipients == [user.id]


def test_anomaly_rule_has_no_data_until_a_provider_answers(net, monkeypatch):
    monkeypatch.setattr(alert_evaluation, "ANOMALY_PROVIDER", None)
    rule = _low_show_rule(net, condition="anomaly", threshold=None)
    quiet = _evaluate(net, "r1")[rule]
    assert (quiet.state, quiet.notified) == ("ok", False)
    asked = []

    def provider(_db, query):
        asked.append(query)
        return AnomalyVerdict(True, query.value, expected=400.0)

    loud = _evaluate(net, "r2", NOW + timedelta(hours=1), provider=provider)[rule]
    assert (loud.state, loud.notified) == ("triggered", True)
    assert asked[0].metric == "show_downloads" and asked[0].value == 100.0
    monkeypatch.setattr(alert_evaluation, "ANOMALY_PROVIDER", "tests.unit.notify.test_alerts:_never_anomalous")
    assert _evaluate(net, "r3", NOW + timedelta(hours=2))[rule].state == "ok"  # the configured provider answers


def _never_anomalous(_db, query):
    return AnomalyVerdict(False, query.value or 0.0)


def test_another_tenants_evaluation_never_touches_these_rules(net):
    rule = _low_show_rule(net)
    assert alert_evaluation.evaluate_tenant(net.db, net.other_tenant_id, "r1", NOW) == []
    assert alerts.get_rule(net.db, net.ctx(), rule).evaluated_at is None
    assert events(net, "alert.triggered") == [] and events(net, "alert.triggered", net.other_tenant_id) == []
    assert alert_evaluation.evaluate_rule(net.db, net.other_tenant_id, rule, "r2", NOW) is None


# --- rule management --------------------------------------------------------------------------------------------

def test_rule_form_names_each_bad_field(net):
    with pytest.raises(ValidationError) as caught:
        alerts.create_rule(net.db, net.ctx(), {"name": "", "metric": "episode_launch", "condition": "between",
                                               "threshold": "lots", "window_days": "0", "channels": ["sms"],
                                               "recipients": [987654]})
    assert set(caught.value.fields) == {"name", "condition", "threshold", "window_days", "channels", "target_id",
                                        "recipients"}
    with pytest.raises(ValidationError) as caught:
        alerts.create_rule(net.db, net.ctx(), {"name": "x", "metric": "show_downloads", "condition": "change",
                                               "threshold": "x", "target_id": net.podcasts["other"]})
    assert caught.value.fields == {"threshold": caught.value.fields["threshold"], "target_id": "no podcast "
                                   f"{net.podcasts['other']}"}  # another tenant's show is not a target here
    with pytest.raises(ValidationError, match="check"):
        alerts.create_rule(net.db, net.ctx(), {"name": "x", "metric": "feed_errors", "condition": "change",
                                               "threshold": 10})


def test_viewer_reads_but_cannot_change_and_sponsor_users_see_nothing(net):
    rule = _low_show_rule(net)
    assert [r.id for r in alerts.list_rules(net.db, net.ctx("viewer"))] == [rule]
    for change in (lambda c: alerts.create_rule(net.db, c, {"name": "x"}),
                   lambda c: alerts.mute_rule(net.db, c, rule, 2), lambda c: alerts.delete_rule(net.db, c, rule)):
        with pytest.raises(PermissionDenied):
            change(net.ctx("viewer"))
        with pytest.raises(PermissionDenied):
            change(net.ctx("sponsor", sponsor="coffee"))
    with pytest.raises(PermissionDenied):
        alerts.list_rules(net.db, net.ctx("sponsor", sponsor="coffee"))
    with pytest.raises(PermissionDenied):
        alerts.rule_history(net.db, net.ctx("sponsor", sponsor="coffee"), rule)


def test_editing_a_rule_revalidates_and_starts_again_from_ok(net):
    rule = _low_show_rule(net)
    assert _evaluate(net, "r1")[rule].state == "triggered"
    data = {"name": "Tech below 90", "metric": "show_downloads", "target_id": net.podcasts["tech"],
            "condition": "below", "threshold": 90}
    edited = alerts.update_rule(net.db, net.ctx("editor"), rule, data)
    assert (edited.name, edited.threshold, edited.state) == ("Tech below 90", 90.0, "ok")
    with pytest.raises(ValidationError):
        alerts.update_rule(net.db, net.ctx("editor"), rule, {**data, "window_days": 0})
    with pytest.raises(PermissionDenied):
        alerts.update_rule(net.db, net.ctx("viewer"), rule, data)
    with pytest.raises(NotFound):
        alerts.update_rule(net.db, net.other(), rule, data)


def test_one_failing_rule_does_not_stop_the_others(net, monkeypatch):
    broken = make_rule(net, metric="import_failures", condition="above", threshold=0)
    put_import(net, "failed", NOW - timedelta(days=1))
    working = make_rule(net, metric="import_failures", condition="above", threshold=0)
    real = alert_evaluation.read_metric

    def read(db, spec, now):
        if spec.id == broken:
            raise RuntimeError("rollup unreadable")
        return real(db, spec, now)

    monkeypatch.setattr(alert_evaluation, "read_metric", read)
    with pytest.raises(RuntimeError, match="rollup unreadable"):
        alert_evaluation.evaluate_tenant(net.db, net.tenant_id, "r1", NOW)
    assert [e["rule_id"] for e in events(net, "alert.triggered")] == [working]
    monkeypatch.setattr(alert_evaluation, "read_metric", real)
    assert list(_evaluate(net, "r1")) == [broken]  # the retried run evaluates only the rule it missed


def test_another_tenant_cannot_see_mute_or_delete_a_rule(net):
    rule = _low_show_rule(net)
    assert alerts.list_rules(net.db, net.other()) == []
    for action in (lambda: alerts.get_rule(net.db, net.other(), rule),
                   lambda: alerts.rule_history(net.db, net.other(), rule),
                   lambda: alerts.mute_rule(net.db, net.other(), rule, 2),
                   lambda: alerts.delete_rule(net.db, net.other(), rule)):
        with pytest.raises(NotFound):
            action()
    assert alerts.get_rule(net.db, net.ctx(), rule).state == "ok"


# --- the under-pacing notice ------------------------------------------------------------------------------------

def test_under_pacing_recorded_once_per_campaign_per_day(net):
    behind = put_campaign(net, {d: 1000 for d in days(JUNE, date(2026, 6, 8))})  # 53% of expected on June 15
    on_pace = put_campaign(net, {d: 1000 for d in days(JUNE, date(2026, 6, 15))}, name="On pace")
    paused = put_campaign(net, {}, status="paused", name="Paused")
    ids = [behind, on_pace, paused]
    assert under_pacing.record_under_pacing(net.db, net.tenant_id, ids, today=ANCHOR_DAY) == [behind]
    assert under_pacing.record_under_pacing(net.db, net.tenant_id, ids, today=ANCHOR_DAY) == []
    [payload] = events(net, "delivery.under_pacing")
    assert payload["campaign_id"] == behind and payload["name"] == "Morning Ritual"
    assert (payload["delivered"], payload["expected"], payload["shortfall"]) == (8000, 15000, 7000)
    assert isinstance(payload["makegoods"], str) and payload["makegoods"] in payload["body"]
    assert payload["title"] == "Morning Ritual is behind pacing" and "8,000 of the 15,000" in payload["body"]
    assert under_pacing.record_under_pacing(net.db, net.tenant_id, ids, today=ANCHOR_DAY + timedelta(days=1)) == \
        [behind]
    assert len(events(net, "delivery.under_pacing")) == 2
    assert under_pacing.record_under_pacing(net.db, net.other_tenant_id, ids, today=ANCHOR_DAY) == []
    assert events(net, "delivery.under_pacing", net.other_tenant_id) == []


ANCHOR_DAY = NOW.date()


def test_the_default_anomaly_provider_reads_the_anomalies_insights_stored(net):
    """An anomaly rule on a show triggers once the anomaly rules stored an anomaly of its daily downloads inside the
    rule's window (and the store recorded anomaly.detected once); an older anomaly, or another show's, does not."""
    rule = _low_show_rule(net, condition="anomaly", threshold=None, window_days=7)
    assert _evaluate(net, "r1")[rule].state == "ok"  # no anomaly stored: not anomalous
    finding = Finding(day=NOW.date() - timedelta(days=2), podcast_id=net.podcasts["tech"], dimension="downloads",
                      value=12.0, expected=100.0, kind="drop")
    stale = Finding(day=NOW.date() - timedelta(days=30), podcast_id=net.podcasts["tech"], dimension="downloads",
                    value=300.0, expected=100.0, kind="spike")
    with net.db.session(net.tenant_id) as s:
        for f in (finding, stale):
            assert anomaly_store.store_anomalies(s, net.tenant_id, f.day, f.day, [f]) == [f]
            assert anomaly_store.store_anomalies(s, net.tenant_id, f.day, f.day, [f]) == []  # stored once
        s.commit()
    assert [e["kind"] for e in events(net, "anomaly.detected")] == ["drop", "spike"]
    loud = _evaluate(net, "r2", NOW + timedelta(hours=1))[rule]
    assert (loud.state, loud.notified, loud.value) == ("triggered", True, 12.0)
