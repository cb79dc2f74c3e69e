"""The deployment files (deploy/) against the code they deploy: the compose file parses and sets only documented
settings, the image's commands are the app's own entry points, and every metric the Grafana dashboard plots is
exported by /metrics. (No container runtime here: these are the checks that can run without one.)"""
from __future__ import annotations

import json
import re

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.observability import OPS_GAUGES, make_metrics
from services.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
APP_SERVICES = ("web", "worker", "scheduler")


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def settings_read() -> set[str]:
    """Every environment variable services/settings.py reads."""
    source = (PROJECT_ROOT / "services" / "settings.py").read_text()
    return set(re.findall(r'env(?:\.get\(|\[)"([A-Z][A-Z0-9_]+)"', source))


def settings_documented() -> set[str]:
    """Every variable in the README's configuration table."""
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", (PROJECT_ROOT / "README.md").read_text(), re.M))


def entrypoint_commands() -> dict[str, str]:
    """deploy/entrypoint.sh's case arms: command -> what it execs."""
    text = (DEPLOY / "entrypoint.sh").read_text()
    return {name: line for name, line in re.findall(r"^\s*([a-z]+)\)\s+exec (.+?) ;;$", text, re.M)}


def test_compose_names_the_services_and_the_monitoring_profile():
    services = compose()["services"]
    assert set(services) == {"web", "worker", "scheduler", "db", "redis", "prometheus", "grafana"}
    assert [services[name]["command"] for name in APP_SERVICES] == [["web"], ["worker"], ["scheduler"]]
    assert services["prometheus"]["profiles"] == ["monitoring"] and services["grafana"]["profiles"] == ["monitoring"]
    assert "timescaledb" in services["db"]["image"]
    assert {"--appendonly", "yes", "--appendfsync", "everysec"} <= set(services["redis"]["command"])


def test_compose_sets_only_settings_the_app_reads_and_documents():
    services = compose()["services"]
    read, documented = settings_read(), settings_documented()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= read  # the parser sees the settings module
    for name in APP_SERVICES:
        env = set(services[name]["environment"])
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PUBLIC_BASE_URL"} <= env
        assert env - read == set(), f"{name} sets variables the app never reads"
        assert env - documented == set(), f"{name} sets variables the README does not document"
    url = services["web"]["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
    assert services["web"]["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_prometheus_sends_the_metrics_token_compose_gives_the_web_process():
    services, configs = compose()["services"], compose()["configs"]
    assert {"METRICS_TOKEN"} <= settings_read() & settings_documented()
    for name in APP_SERVICES:
        assert services[name]["environment"]["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"
    mounted = {c["source"]: c["target"] for c in services["prometheus"]["configs"]}
    assert configs["metrics_token"]["content"] == "${METRICS_TOKEN:-}"
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"] == {"type": "Bearer", "credentials_file": mounted["metrics_token"]}


def test_the_image_runs_as_a_non_root_user_with_a_health_check():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", dockerfile, re.M)
    assert 'ENTRYPOINT ["deploy/entrypoint.sh"]' in dockerfile
    assert "pip install -r requirements.txt" in dockerfile


def test_the_image_commands_are_the_apps_entry_points():
    commands = entrypoint_commands()
    assert set(commands) == {"web", "worker", "scheduler", "migrate"}
    assert commands["web"].startswith("gunicorn --no-control-socket") and "'app:create_app()'" in commands["web"]
    assert commands["worker"] == 'python -m jobs.worker "$@"'
    assert commands["scheduler"] == 'python -m jobs.scheduler "$@"'
    assert commands["migrate"] == 'flask --app app db upgrade "$@"'
    # The e2e production-stack tier runs the same worker module, and the README documents the same commands.
    stack = (PROJECT_ROOT / "tests" / "e2e" / "stack.py").read_text()
    assert '"-m", "jobs.worker"' in stack
    readme = (PROJECT_ROOT / "README.md").read_text()
    for line in ("python -m jobs.worker", "python -m jobs.scheduler", "flask --app app db upgrade",
                 "gunicorn --no-control-socket"):
        assert line in readme


def test_the_image_commands_start(app):
    """`app:create_app()` is the factory the fixture app came from, and `db upgrade` is a command of it."""
    import app as app_module
    from jobs import scheduler, worker

    assert callable(app_module.create_app) and callable(worker.main) and callable(scheduler.main)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output


def expr_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    expr = re.sub(r'"[^"]*"', "", expr)  # label values
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without)\s*\([^)]*\)", "", expr)  # matchers, ranges, groupings
    return {t for t in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", expr) if not re.fullmatch(r"\d.*", t)}


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "podcast-analytics.json").read_text())
    return {name for panel in dashboard["panels"] for target in panel["targets"] for name in expr_metric_names(
        target["expr"])}


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"] for rule in group["rules"]]


def alert_metric_names() -> set[str]:
    return {name for rule in alert_rules() for name in expr_metric_names(rule["expr"])}


def exported_sample_names(text: str) -> set[str]:
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def full_exposition() -> set[str]:
    # Fake readings (a unit test): each gauge with one sample, so each is in the exposition; the journal's backlog
    # as in Redis mode.
    full = {name: {tuple("x" for _ in labels): 1.0} for name, (_, labels) in OPS_GAUGES.items()}
    metrics = make_metrics(lambda: {("measure", "queued"): 1, ("measure", "failed"): 0}, lambda: full)
    metrics.observe_request("GET", "/e/<path:_rest>", 302, 0.002)
    metrics.watch_journal(lambda: 0)
    text, _ = metrics.render()
    return exported_sample_names(text.decode())


def test_every_metric_the_dashboard_plots_is_exported():
    used = dashboard_metric_names()
    assert {"http_requests_total", "http_request_duration_seconds_bucket", "jobs", "ingest_buffer_hits",
            "counting_lag_seconds", "webhook_deliveries", "emails", "prefix_journal_write_failures_total",
            "prefix_journal_pending_bytes"} <= used
    assert used - full_exposition() == set()


def test_every_metric_the_alert_rules_read_is_exported():
    rules = alert_rules()
    assert all(rule["alert"] and rule["expr"] and rule["labels"]["severity"] in ("warning", "critical")
               for rule in rules)
    used = alert_metric_names()
    assert {"prefix_journal_write_failures_total", "prefix_journal_pending_bytes", "counting_lag_seconds"} <= used
    assert used - full_exposition() == set()


def test_prometheus_loads_the_alert_rules_compose_mounts():
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    volumes = dict(v.rsplit(":", 1)[0].split(":", 1) for v in compose()["services"]["prometheus"]["volumes"])
    assert volumes["./alerts.yml"] in prometheus["rule_files"]
    assert (DEPLOY / "alerts.yml").is_file()


def test_the_apps_metrics_carry_the_operations_gauges(demo_client):
    text = demo_client.get("/metrics").get_data(as_text=True)
    for name in ("counting_lag_seconds", "webhook_deliveries", "emails"):
        assert f"# TYPE {name} gauge" in text
    lag = [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == "counting_lag_seconds"]
    assert len(lag) == 1 and lag[0].value >= 0
    assert "ingest_buffer_hits" not in text  # embedded: no Redis buffer to measure


@pytest.mark.parametrize("gauge", sorted(OPS_GAUGES))
def test_a_failed_reading_leaves_the_gauges_out_not_the_scrape(gauge):
    def broken():
        raise ConnectionError("database down")

    metrics = make_metrics(lambda: {}, broken)
    text, _ = metrics.render()
    assert gauge not in text.decode() and "http_requests_total" in text.decode()
